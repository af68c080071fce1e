"""Figures of the customer-base page (tables from :mod:`helpers.customer_base`).

Each function returns a matplotlib ``Figure``; notebooks show it with
:func:`helpers.plotting.show`. Titles and axis labels are reader-facing text.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from .labels import labels
from .plotting import ACTUAL_COLOUR, FIGSIZE, MODEL_COLOUR, set_style


def _figure(size: tuple[float, float] = FIGSIZE) -> tuple[Figure, plt.Axes]:
    set_style()
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def cohort_heatmap(curves: pd.DataFrame, months: tuple[int, ...] = (1, 2, 3, 6, 9, 12)) -> Figure:
    """Join month x months since the first purchase: share who bought again by then."""
    monthly = curves[curves["cohort"] != "all"]
    wide = monthly.pivot(index="cohort", columns="month", values="share")
    shown = [m for m in months if m in wide.columns]
    wide = wide[shown]
    height = max(3.0, 0.26 * len(wide) + 1.4)
    fig, ax = _figure((7.5, height))
    sns.heatmap(
        wide, ax=ax, cmap="Blues", vmin=0, vmax=1, annot=True, fmt=".0%", annot_kws={"fontsize": 7},
        cbar_kws={"format": PercentFormatter(1.0), "label": "Bought again"}, linewidths=0.5, linecolor="white",
    )
    ax.grid(False)
    ax.set(
        title="Share of each join month's customers who bought again",
        xlabel="Months after the first purchase", ylabel="Join month",
    )
    return fig


def repeat_curves(curves: pd.DataFrame, quarterly: pd.DataFrame) -> Figure:
    """Cumulative repeat share by months since the first purchase: all customers and join quarters."""
    fig, ax = _figure()
    quarters = sorted(quarterly["quarter"].unique()) if len(quarterly) else []
    palette = sns.color_palette("crest", n_colors=max(len(quarters), 1))
    for colour, quarter in zip(palette, quarters):
        part = quarterly[quarterly["quarter"] == quarter]
        ax.plot(part["month"], part["share"], color=colour, lw=1.2, alpha=0.8, label=quarter)
    overall = curves[curves["cohort"] == "all"]
    ax.plot(overall["month"], overall["share"], color=MODEL_COLOUR, lw=3, label="all customers")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, 1)
    ax.set(
        title="How fast customers come back",
        xlabel="Months after the first purchase", ylabel="Bought again by then",
    )
    ax.legend(title="Join quarter", fontsize=7, ncol=2, loc="lower right")
    return fig


def stage_bars(stages: pd.DataFrame) -> Figure:
    """Share of customers and share of spend in each lifecycle stage."""
    fig, ax = _figure()
    names = labels(stages["stage"])
    y = np.arange(len(stages))
    ax.barh(y - 0.2, stages["customer_share"], height=0.4, color=ACTUAL_COLOUR, label="share of customers")
    ax.barh(y + 0.2, stages["spend_share"], height=0.4, color=MODEL_COLOUR, label="share of spend (whole period)")
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set(title="Customers and spend by lifecycle stage", xlabel="Share", ylabel="")
    ax.legend(loc="upper right")
    return fig


def spend_histogram(per_customer: pd.Series, currency: str, window_days: int) -> Figure:
    """Histogram of spend per customer in the window (log scale), with median and mean."""
    fig, ax = _figure()
    values = per_customer[per_customer > 0].to_numpy()
    if len(values):
        bins = np.logspace(np.log10(values.min()), np.log10(values.max()), 40) if values.max() > values.min() else 10
        ax.hist(values, bins=bins, color=ACTUAL_COLOUR, alpha=0.85)
        median, mean = np.median(values), values.mean()
        ax.axvline(median, color=MODEL_COLOUR, lw=2, label=f"median {median:,.0f}")
        ax.axvline(mean, color="black", lw=1.5, ls="--", label=f"mean {mean:,.0f}")
        ax.legend()
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set(
        title=f"Spend per customer in the last {window_days} days",
        xlabel=f"Spend ({currency}, log scale)", ylabel="Customers",
    )
    return fig
