"""Figures of the CLV page (holdout checks, model comparison, value concentration)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from helpers.report.figures import ACTUAL_COLOUR, MODEL_COLOUR, date_formats, new_figure
from helpers.report.i18n import text


def period_transactions(table: pd.DataFrame, language: str = "en") -> Figure:
    """Bars: customers by repeat purchases in calibration, actual vs model."""
    fig, ax = new_figure()
    labels = {"actual": text("common.actual", language), "model": text("common.model", language)}
    long = table.rename(columns=labels).melt(
        "repeat_purchases", list(labels.values()), var_name="source", value_name="customers"
    )
    sns.barplot(
        long, x="repeat_purchases", y="customers", hue="source", ax=ax,
        palette={labels["actual"]: ACTUAL_COLOUR, labels["model"]: MODEL_COLOUR},
    )
    ax.set(
        title=text("clv.figure.period_title", language),
        xlabel=text("clv.figure.repeat_purchases", language), ylabel=text("clv.figure.customers", language),
    )
    ax.legend(title="")
    return fig


def cumulative_transactions(
    table: pd.DataFrame, calibration_end: object, time_unit: str, language: str = "en"
) -> Figure:
    """Lines: cumulative repeat purchases of the calibration cohort, actual vs model."""
    fig, ax = new_figure()
    ax.plot(table["date"], table["actual"], color=ACTUAL_COLOUR, lw=2, label=text("common.actual", language))
    ax.plot(
        table["date"], table["predicted"], color=MODEL_COLOUR, lw=2, ls="--", label=text("common.model", language)
    )
    ax.axvline(pd.Timestamp(calibration_end), color="grey", ls=":", lw=1.5)
    ax.annotate(
        text("clv.figure.end_of_calibration", language), (pd.Timestamp(calibration_end), ax.get_ylim()[1] * 0.95),
        ha="right", va="top", fontsize=9, color="grey", rotation=90,
    )
    ax.set(
        title=text("clv.figure.cumulative_title", language),
        xlabel=text("clv.figure.date_steps", language, steps=text(f"common.steps.{time_unit}", language)),
        ylabel=text("clv.figure.cumulative_y", language),
    )
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, **date_formats(language)))
    ax.legend()
    return fig


def conditional_expectations(table: pd.DataFrame, language: str = "en") -> Figure:
    """Lines: mean holdout purchases by calibration purchases, actual vs predicted."""
    fig, ax = new_figure()
    x = table["calibration_purchases"]
    ax.plot(x, table["actual"], marker="o", color=ACTUAL_COLOUR, lw=2, label=text("common.actual", language))
    ax.plot(
        x, table["predicted"], marker="s", color=MODEL_COLOUR, lw=2, ls="--", label=text("common.model", language)
    )
    ax.set(
        title=text("clv.figure.conditional_title", language),
        xlabel=text("clv.figure.calibration_purchases", language), ylabel=text("clv.figure.holdout_mean", language),
    )
    ax.legend()
    return fig


def holdout_errors(actual: np.ndarray, predicted: np.ndarray, language: str = "en") -> Figure:
    """Histogram of per-customer prediction error in the holdout."""
    fig, ax = new_figure()
    error = np.asarray(predicted) - np.asarray(actual)
    low, high = np.percentile(error, [0.5, 99.5])
    sns.histplot(np.clip(error, low, high), bins=40, ax=ax, color=ACTUAL_COLOUR)
    ax.axvline(0, color="black", lw=1)
    ax.set(
        title=text("clv.figure.errors_title", language),
        xlabel=text("clv.figure.errors_x", language), ylabel=text("clv.figure.customers", language),
    )
    return fig


def holdout_spend(deciles: pd.DataFrame, currency: str = "$", language: str = "en") -> Figure:
    """Calibration plot in money: mean predicted vs mean actual holdout spend per decile of prediction."""
    fig, ax = new_figure()
    ax.plot(deciles["predicted_mean"], deciles["actual_mean"], marker="o", color=ACTUAL_COLOUR, lw=2,
            label=text("clv.figure.spend_deciles", language))
    top = float(max(deciles["predicted_mean"].max(), deciles["actual_mean"].max(), 1e-9)) * 1.05
    ax.plot([0, top], [0, top], color=MODEL_COLOUR, ls="--", lw=1.5, label=text("clv.figure.spend_perfect", language))
    ax.set(
        title=text("clv.figure.spend_calibration_title", language),
        xlabel=text("clv.figure.spend_predicted", language, currency=currency),
        ylabel=text("clv.figure.spend_actual", language, currency=currency),
        xlim=(0, top), ylim=(0, top),
    )
    ax.legend()
    return fig


def model_comparison(table: pd.DataFrame, language: str = "en") -> Figure:
    """Bars: total holdout purchases predicted by each model against the actual total."""
    fig, ax = new_figure()
    ok = table.dropna(subset=["holdout_predicted"])
    sns.barplot(ok, x="model", y="holdout_predicted", ax=ax, color=MODEL_COLOUR)
    if len(ok):
        ax.axhline(ok["holdout_actual"].iloc[0], color=ACTUAL_COLOUR, lw=2, label=text("common.actual", language))
        ax.legend()
    ax.set(
        title=text("clv.figure.comparison_title", language), xlabel="",
        ylabel=text("clv.figure.comparison_y", language),
    )
    return fig


def value_concentration(curve: pd.DataFrame, language: str = "en") -> Figure:
    """Lorenz-style curve of predicted CLV across customers."""
    fig, ax = new_figure()
    ax.plot(curve["share_of_customers"], curve["share_of_value"], color=ACTUAL_COLOUR, lw=2.5)
    ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1, label=text("clv.figure.even", language))
    for top in (0.1, 0.2):
        idx = max(int(np.ceil(top * len(curve))) - 1, 0)
        share = curve["share_of_value"].iloc[idx]
        ax.scatter([top], [share], color=MODEL_COLOUR, zorder=3)
        label = text("clv.figure.top_hold", language, top=f"{top:.0%}", share=f"{share:.0%}")
        ax.annotate(label, (top, share), xytext=(8, -14), textcoords="offset points")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(
        title=text("clv.figure.concentration_title", language),
        xlabel=text("clv.figure.ranked", language), ylabel=text("clv.figure.share_value", language),
    )
    ax.legend(loc="lower right")
    return fig


def p_alive_distribution(p_alive: np.ndarray, language: str = "en") -> Figure:
    """Histogram of P(alive) across customers."""
    fig, ax = new_figure()
    sns.histplot(np.asarray(p_alive), bins=np.linspace(0, 1, 21), ax=ax, color=ACTUAL_COLOUR)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(
        title=text("clv.figure.p_alive_title", language),
        xlabel=text("clv.figure.p_alive_x", language), ylabel=text("clv.figure.customers", language),
    )
    return fig


#: Most customers a scatter plot draws; larger data is shown as a seeded random sample.
SCATTER_POINTS = 20_000


def spend_vs_frequency(summary: pd.DataFrame, language: str = "en") -> Figure:
    """Scatter of average repeat spend against repeat purchases (Gamma-Gamma check)."""
    fig, ax = new_figure()
    buyers = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    total = len(buyers)
    if total > SCATTER_POINTS:  # more points only cover each other; the sample is said on the figure
        buyers = buyers.sample(SCATTER_POINTS, random_state=0)
        ax.text(0.99, 0.01, text("clv.figure.spend_sample", language, shown=f"{SCATTER_POINTS:,}", total=f"{total:,}"),
                transform=ax.transAxes, ha="right", va="bottom", fontsize="small", color="0.35")
    sns.scatterplot(buyers, x="frequency", y="monetary_value", ax=ax, s=12, alpha=0.35, color=ACTUAL_COLOUR, lw=0)
    ax.set(
        xscale="log", yscale="log",
        title=text("clv.figure.spend_title", language),
        xlabel=text("clv.figure.spend_x", language), ylabel=text("clv.figure.spend_y", language),
    )
    return fig
