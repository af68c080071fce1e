"""Seaborn figures for the playbook pages.

Each function takes a table produced by :mod:`helpers.clv` and returns a matplotlib
``Figure`` (never calls ``plt.show``), so notebooks display it and tests can inspect it.
lifetimes' own plotting helpers are not used: several fail on matplotlib 3.8+.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import Image, display
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

ACTUAL_COLOUR = "#1f4e79"
MODEL_COLOUR = "#e07b39"
FIGSIZE = (7.5, 4.2)
DPI = 110


def set_style() -> None:
    """House style: white grid, readable sizes, fonts that can show Chinese when installed."""
    sns.set_theme(style="whitegrid", context="notebook")
    plt.rcParams.update(
        {
            "figure.dpi": DPI,
            "savefig.dpi": DPI,
            "axes.titleweight": "bold",
            "axes.titlesize": 12,
            "font.sans-serif": [
                "Noto Sans CJK SC", "WenQuanYi Zen Hei", "PingFang SC", "Microsoft YaHei", "DejaVu Sans",
            ],
            "axes.unicode_minus": False,
        }
    )


def _figure() -> tuple[Figure, plt.Axes]:
    set_style()
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    return fig, ax


def period_transactions(table: pd.DataFrame) -> Figure:
    """Bars: customers by repeat purchases in calibration, actual vs model."""
    fig, ax = _figure()
    long = table.melt("repeat_purchases", ["actual", "model"], var_name="source", value_name="customers")
    sns.barplot(
        long, x="repeat_purchases", y="customers", hue="source", ax=ax,
        palette={"actual": ACTUAL_COLOUR, "model": MODEL_COLOUR},
    )
    ax.set(
        title="How many repeat purchases customers made (calibration period)",
        xlabel="Repeat purchases", ylabel="Customers",
    )
    ax.legend(title="")
    return fig


def cumulative_transactions(table: pd.DataFrame, calibration_end: object, unit_label: str) -> Figure:
    """Lines: cumulative repeat purchases of the calibration cohort, actual vs model."""
    fig, ax = _figure()
    ax.plot(table["date"], table["actual"], color=ACTUAL_COLOUR, lw=2, label="actual")
    ax.plot(table["date"], table["predicted"], color=MODEL_COLOUR, lw=2, ls="--", label="model")
    ax.axvline(pd.Timestamp(calibration_end), color="grey", ls=":", lw=1.5)
    ax.annotate(
        "end of calibration", (pd.Timestamp(calibration_end), ax.get_ylim()[1] * 0.95),
        ha="right", va="top", fontsize=9, color="grey", rotation=90,
    )
    ax.set(
        title="Cumulative repeat purchases: model vs what happened",
        xlabel=f"Date ({unit_label} steps)", ylabel="Repeat purchases (cumulative)",
    )
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.legend()
    return fig


def conditional_expectations(table: pd.DataFrame) -> Figure:
    """Lines: mean holdout purchases by calibration purchases, actual vs predicted."""
    fig, ax = _figure()
    x = table["calibration_purchases"]
    ax.plot(x, table["actual"], marker="o", color=ACTUAL_COLOUR, lw=2, label="actual")
    ax.plot(x, table["predicted"], marker="s", color=MODEL_COLOUR, lw=2, ls="--", label="model")
    ax.set(
        title="Holdout purchases by how often customers bought before",
        xlabel="Repeat purchases in calibration", ylabel="Mean purchases in holdout",
    )
    ax.legend()
    return fig


def holdout_errors(actual: np.ndarray, predicted: np.ndarray) -> Figure:
    """Histogram of per-customer prediction error in the holdout."""
    fig, ax = _figure()
    error = np.asarray(predicted) - np.asarray(actual)
    low, high = np.percentile(error, [0.5, 99.5])
    sns.histplot(np.clip(error, low, high), bins=40, ax=ax, color=ACTUAL_COLOUR)
    ax.axvline(0, color="black", lw=1)
    ax.set(
        title="Per-customer error: predicted minus actual holdout purchases",
        xlabel="Error (purchases; extreme 1% clipped)", ylabel="Customers",
    )
    return fig


def model_comparison(table: pd.DataFrame) -> Figure:
    """Bars: total holdout purchases predicted by each model against the actual total."""
    fig, ax = _figure()
    ok = table.dropna(subset=["holdout_predicted"])
    sns.barplot(ok, x="model", y="holdout_predicted", ax=ax, color=MODEL_COLOUR)
    if len(ok):
        ax.axhline(ok["holdout_actual"].iloc[0], color=ACTUAL_COLOUR, lw=2, label="actual")
        ax.legend()
    ax.set(title="Holdout purchases predicted by each model", xlabel="", ylabel="Repeat purchases in holdout")
    return fig


def value_concentration(curve: pd.DataFrame) -> Figure:
    """Lorenz-style curve of predicted CLV across customers."""
    fig, ax = _figure()
    ax.plot(curve["share_of_customers"], curve["share_of_value"], color=ACTUAL_COLOUR, lw=2.5)
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label="value spread evenly")
    for top in (0.1, 0.2):
        idx = max(int(np.ceil(top * len(curve))) - 1, 0)
        share = curve["share_of_value"].iloc[idx]
        ax.scatter([top], [share], color=MODEL_COLOUR, zorder=3)
        ax.annotate(f"top {top:.0%} hold {share:.0%}", (top, share), xytext=(8, -14), textcoords="offset points")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(
        title="How concentrated future value is",
        xlabel="Customers, ranked by predicted CLV", ylabel="Share of total predicted CLV",
    )
    ax.legend(loc="lower right")
    return fig


def p_alive_distribution(p_alive: np.ndarray) -> Figure:
    """Histogram of P(alive) across customers."""
    fig, ax = _figure()
    sns.histplot(np.asarray(p_alive), bins=np.linspace(0, 1, 21), ax=ax, color=ACTUAL_COLOUR)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(
        title="Probability each customer is still active",
        xlabel="P(alive) at the end of the data", ylabel="Customers",
    )
    return fig


def spend_vs_frequency(summary: pd.DataFrame) -> Figure:
    """Scatter of average repeat spend against repeat purchases (Gamma-Gamma check)."""
    fig, ax = _figure()
    buyers = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    sns.scatterplot(buyers, x="frequency", y="monetary_value", ax=ax, s=12, alpha=0.35, color=ACTUAL_COLOUR, lw=0)
    ax.set(
        xscale="log", yscale="log",
        title="Do frequent buyers spend more per purchase?",
        xlabel="Repeat purchases (log scale)", ylabel="Average spend per repeat purchase (log scale)",
    )
    return fig


def to_png(fig: Figure) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def show(fig: Figure, name: str, folder: str | Path | None = None) -> bytes:
    """Display a figure as an embedded PNG (same in JupyterLab, papermill and pages).

    With ``folder`` the PNG is also saved there as ``<name>.png`` for the study outputs.
    The figure is closed afterwards so long notebooks do not accumulate memory.
    """
    png = to_png(fig)
    plt.close(fig)
    if folder is not None:
        target = Path(folder)
        target.mkdir(parents=True, exist_ok=True)
        (target / f"{name}.png").write_bytes(png)
    display(Image(data=png, format="png"))
    return png
