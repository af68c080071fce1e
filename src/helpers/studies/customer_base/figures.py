"""Figures of the customer-base page (tables from :mod:`helpers.studies.customer_base.analysis`).

Each function returns a matplotlib ``Figure``; notebooks show it with
:func:`helpers.report.figures.show`. Titles, axis labels and legends come from the page
language's catalog (``helpers/locales/<language>/base.yaml``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from helpers.report.figures import ACTUAL_COLOUR, FIGSIZE, MODEL_COLOUR, set_style
from helpers.report.i18n import text
from helpers.report.labels import labels


def _figure(size: tuple[float, float] = FIGSIZE) -> tuple[Figure, plt.Axes]:
    set_style()
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def cohort_heatmap(
    curves: pd.DataFrame, months: tuple[int, ...] = (1, 2, 3, 6, 9, 12), language: str = "en"
) -> Figure:
    """Join month x months since the first purchase: share who bought again by then."""
    monthly = curves[curves["cohort"] != "all"]
    wide = monthly.pivot(index="cohort", columns="month", values="share")
    shown = [m for m in months if m in wide.columns]
    wide = wide[shown]
    height = max(3.0, 0.26 * len(wide) + 1.4)
    fig, ax = _figure((7.5, height))
    sns.heatmap(
        wide, ax=ax, cmap="Blues", vmin=0, vmax=1, annot=True, fmt=".0%", annot_kws={"fontsize": 7},
        cbar_kws={"format": PercentFormatter(1.0), "label": text("base.figure.bought_again", language)}, linewidths=0.5, linecolor="white",
    )
    ax.grid(False)
    ax.set(
        title=text("base.figure.cohort_title", language),
        xlabel=text("base.figure.months_after", language), ylabel=text("base.figure.join_month", language),
    )
    return fig


def repeat_curves(curves: pd.DataFrame, quarterly: pd.DataFrame, language: str = "en") -> Figure:
    """Cumulative repeat share by months since the first purchase: all customers and join quarters."""
    fig, ax = _figure()
    quarters = sorted(quarterly["quarter"].unique()) if len(quarterly) else []
    palette = sns.color_palette("crest", n_colors=max(len(quarters), 1))
    for colour, quarter in zip(palette, quarters):
        part = quarterly[quarterly["quarter"] == quarter]
        ax.plot(part["month"], part["share"], color=colour, lw=1.2, alpha=0.8, label=quarter)
    overall = curves[curves["cohort"] == "all"]
    ax.plot(overall["month"], overall["share"], color=MODEL_COLOUR, lw=3, label=text("base.figure.all_customers", language))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, 1)
    ax.set(
        title=text("base.figure.repeat_title", language),
        xlabel=text("base.figure.months_after", language), ylabel=text("base.figure.bought_by_then", language),
    )
    ax.legend(title=text("base.figure.join_quarter", language), fontsize=7, ncol=2, loc="lower right")
    return fig


def stage_bars(stages: pd.DataFrame, language: str = "en") -> Figure:
    """Share of customers and share of spend in each lifecycle stage."""
    fig, ax = _figure()
    names = labels(stages["stage"], language)
    y = np.arange(len(stages))
    ax.barh(y - 0.2, stages["customer_share"], height=0.4, color=ACTUAL_COLOUR, label=text("base.figure.share_customers", language))
    ax.barh(y + 0.2, stages["spend_share"], height=0.4, color=MODEL_COLOUR, label=text("base.figure.share_spend", language))
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set(title=text("base.figure.stage_title", language), xlabel=text("base.figure.share", language), ylabel="")
    ax.legend(loc="upper right")
    return fig


def spend_histogram(per_customer: pd.Series, currency: str, window_days: int, language: str = "en") -> Figure:
    """Histogram of spend per customer in the window (log scale), with median and mean."""
    fig, ax = _figure()
    values = per_customer[per_customer > 0].to_numpy()
    if len(values):
        bins = np.logspace(np.log10(values.min()), np.log10(values.max()), 40) if values.max() > values.min() else 10
        ax.hist(values, bins=bins, color=ACTUAL_COLOUR, alpha=0.85)
        median, mean = np.median(values), values.mean()
        ax.axvline(median, color=MODEL_COLOUR, lw=2, label=text("base.figure.median", language, value=f"{median:,.0f}"))
        ax.axvline(mean, color="black", lw=1.5, ls="--", label=text("base.figure.mean", language, value=f"{mean:,.0f}"))
        ax.legend()
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set(
        title=text("base.figure.spend_title", language, days=window_days),
        xlabel=text("base.figure.spend_x", language, currency=currency), ylabel=text("base.figure.customers", language),
    )
    return fig
