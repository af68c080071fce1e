"""Figures of the omnichannel page (tables from :mod:`helpers.studies.omnichannel.analysis`).

Titles, axis labels and legends come from the page language's catalog
(``helpers/locales/<language>/omnichannel.yaml``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from helpers.report.figures import ACTUAL_COLOUR, FIGSIZE, MODEL_COLOUR, date_formats, set_style
from helpers.report.i18n import text
from helpers.report.labels import label, labels
from helpers.studies.omnichannel.analysis import Migration

SINGLE_COLOUR = "#9db4c8"
THIRD_COLOUR = "#6a9f58"


def _figure(size: tuple[float, float] = FIGSIZE, ncols: int = 1):
    set_style()
    return plt.subplots(1, ncols, figsize=size, layout="constrained")


def channel_mix(mix: pd.DataFrame, language: str = "en") -> Figure:
    """Share of orders, revenue and customers by channel."""
    fig, ax = _figure()
    y = np.arange(len(mix))
    for offset, col, colour, name in (
        (-0.27, "order_share", ACTUAL_COLOUR, "share_orders"),
        (0.0, "revenue_share", MODEL_COLOUR, "share_revenue"),
        (0.27, "customer_share", THIRD_COLOUR, "share_customers"),
    ):
        ax.barh(y + offset, mix[col], height=0.27, color=colour, label=text(f"omnichannel.figure.{name}", language))
    ax.set_yticks(y, labels(mix["channel"], language))
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set(title=text("omnichannel.figure.mix_title", language), xlabel=text("omnichannel.figure.share", language), ylabel="")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def monthly_share(share: pd.DataFrame, language: str = "en") -> Figure:
    """Revenue share of each channel by month (stacked)."""
    fig, ax = _figure()
    order = share.sum().sort_values(ascending=False).index
    ax.stackplot(share.index, *[share[c].fillna(0).to_numpy() for c in order], labels=labels(order, language),
                 colors=sns.color_palette("deep", len(order)), alpha=0.9)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, 1)
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, **date_formats(language)))
    ax.set(title=text("omnichannel.figure.monthly_title", language), xlabel="",
           ylabel=text("omnichannel.figure.revenue_share", language))
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
    return fig


def single_vs_multi(groups: pd.DataFrame, currency: str, language: str = "en") -> Figure:
    """Repeat buyers: purchase days a year, spend per purchase day and CLV, single vs multi."""
    repeat = groups[groups["population"] == "repeat"].set_index("group").reindex(["single", "multi"])
    def t(key: str) -> str:
        return text(f"omnichannel.figure.{key}", language, currency=currency)

    panels = [("purchase_days_per_year", t("days_per_year"), "{:.1f}"),
              ("spend_per_purchase_day", t("spend_per_day"), "{:,.0f}")]
    if "clv_mean" in repeat and repeat["clv_mean"].notna().any():
        panels.append(("clv_mean", t("clv_mean"), "{:,.0f}"))
    fig, axes = _figure((7.5, 3.6), ncols=len(panels))
    axes = np.atleast_1d(axes)
    for ax, (col, title, fmt) in zip(axes, panels):
        values = repeat[col].to_numpy(dtype=float)
        bars = ax.bar(labels(repeat.index, language), values, color=[SINGLE_COLOUR, ACTUAL_COLOUR])
        for bar, v in zip(bars, values):
            if np.isfinite(v):
                ax.annotate(fmt.format(v), (bar.get_x() + bar.get_width() / 2, v), ha="center", va="bottom", fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.tick_params(axis="x", labelsize=8)
        ax.margins(y=0.15)
    fig.suptitle(t("groups_title"), fontweight="bold")
    return fig


def migration_heatmap(migration: Migration, language: str = "en") -> Figure:
    """First channel (rows) -> later channels (columns): share of the row's repeat buyers."""
    shares = migration.shares
    fig, ax = _figure((7.5, 4.4))
    view = shares.copy()
    view.index = [f"{label(c, language)} (n={migration.repeat.get(c, 0):,})" for c in view.index]
    view.columns = labels(view.columns, language)
    sns.heatmap(view, ax=ax, cmap="Blues", vmin=0, vmax=1, annot=True, fmt=".0%", linewidths=0.5, linecolor="white",
                cbar_kws={"format": PercentFormatter(1.0, decimals=0), "label": text("omnichannel.figure.repeat_share", language)})
    ax.grid(False)
    ax.set(title=text("omnichannel.figure.migration_title", language),
           xlabel=text("omnichannel.figure.later_channel", language),
           ylabel=text("omnichannel.figure.first_channel", language))
    ax.tick_params(axis="x", rotation=0, labelsize=8)
    return fig


def online_offline(crossing: pd.DataFrame, language: str = "en") -> Figure:
    """Share of repeat buyers who later bought in the other mode, by first mode."""
    fig, ax = _figure((7.5, 3.4))
    names = [
        text(f"omnichannel.figure.{'offline' if m == 'offline' else 'online'}_first", language, mode=label(m, language))
        for m in crossing["first_mode"]
    ]
    values = crossing["crossed_share"].to_numpy(dtype=float)
    bars = ax.barh(names, values, color=[ACTUAL_COLOUR, MODEL_COLOUR][: len(values)])
    for bar, v, n in zip(bars, values, crossing["repeat_buyers"]):
        if np.isfinite(v):
            note = text("omnichannel.figure.of_customers", language, share=f"{v:.0%}", customers=f"{n:,}")
            ax.annotate(note, (v, bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=9)
    ax.set_xlim(0, max(1.0, np.nanmax(values) * 1.2) if len(values) else 1.0)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.invert_yaxis()
    ax.set(title=text("omnichannel.figure.crossing_title", language),
           xlabel=text("omnichannel.figure.repeat_share", language), ylabel="")
    return fig
