"""Figures of the service page (tables from :mod:`helpers.studies.service.analysis`).

Titles, axis labels and legends come from the page language's catalog
(``helpers/locales/<language>/service.yaml``).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from helpers.data.tables_io import CONTACT_CHANNEL, SEVERITY
from helpers.report.figures import ACTUAL_COLOUR, FIGSIZE, MODEL_COLOUR, date_formats, set_style
from helpers.report.i18n import text
from helpers.report.labels import label, labels
from helpers.studies.service.analysis import Promise

ALT_COLOUR = "#8c564b"


def _hours(v: float, _=None, language: str = "en") -> str:
    if v < 1:
        return text("service.hours.minutes", language, value=f"{v * 60:.0f}")
    if v < 72:
        return text("service.hours.hours", language, value=f"{v:.0f}")
    return text("service.hours.days_short", language, value=f"{v / 24:.0f}")


def response_resolution(
    flagged: pd.DataFrame, promise: Promise, alternative: Promise, language: str = "en"
) -> Figure:
    """Share of tickets answered / resolved within x hours (log scale), with both promises marked."""
    set_style()
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.8), layout="constrained", sharey=True)
    for ax, col, title, p_main, p_alt in (
        (axes[0], "response_hours", text("service.figure.first_response", language), promise.response_hours,
         alternative.response_hours),
        (axes[1], "resolution_hours", text("service.figure.resolution", language), promise.resolution_hours,
         alternative.resolution_hours),
    ):
        values = np.sort(flagged[col].dropna().to_numpy(dtype=float))
        total = len(flagged)
        if len(values):
            shown = np.clip(values, 1 / 60, None)
            ax.step(shown, np.arange(1, len(values) + 1) / total, where="post", color=ACTUAL_COLOUR, lw=2)
            ax.set_xscale("log")
        main_label = text("service.figure.promise", language, hours=_hours(p_main, language=language))
        alt_label = text("service.figure.alternative", language, hours=_hours(p_alt, language=language))
        ax.axvline(p_main, color=MODEL_COLOUR, lw=2, label=main_label)
        ax.axvline(p_alt, color=ALT_COLOUR, lw=1.5, ls="--", label=alt_label)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: _hours(v, language=language)))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylim(0, 1.02)
        ax.set(title=title, xlabel="")
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel(text("service.figure.share_done", language))
    fig.supxlabel(text("service.figure.time_opened", language), fontsize=11)
    return fig


def breach_heatmap(by_channel_severity: pd.DataFrame, kind: str = "either", language: str = "en") -> Figure:
    """Breach rate by contact channel (rows) and severity tier (columns), with ticket counts."""
    table = by_channel_severity
    rate = table.pivot(index=CONTACT_CHANNEL, columns=SEVERITY, values=f"{kind}_breach_rate")
    n = table.pivot(index=CONTACT_CHANNEL, columns=SEVERITY, values="tickets").fillna(0).astype(int)
    order = [c for c in ("ordinary", "complex", "major") if c in rate.columns] + [
        c for c in rate.columns if c not in ("ordinary", "complex", "major")
    ]
    rate, n = rate[order], n[order]
    annot = np.where(
        rate.notna().to_numpy(),
        [[f"{r:.0%}\n(n={k})" if np.isfinite(r) else "" for r, k in zip(rr, kk)] for rr, kk in zip(rate.to_numpy(), n.to_numpy())],
        "",
    )
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, max(3.2, 0.55 * len(rate) + 1.5)), layout="constrained")
    sns.heatmap(rate, ax=ax, cmap="Reds", vmin=0, vmax=1, annot=annot, fmt="", annot_kws={"fontsize": 8},
                linewidths=0.5, linecolor="white", cbar_kws={"format": PercentFormatter(1.0, decimals=0),
                                                             "label": text("service.figure.breaching", language)})
    ax.grid(False)
    ax.set_yticks(np.arange(len(rate)) + 0.5, labels(rate.index, language), rotation=0)
    ax.set_xticks(np.arange(len(order)) + 0.5, labels(order, language))
    ax.set(title=text("service.figure.breach_title", language), xlabel=text("service.figure.severity", language),
           ylabel=text("service.figure.contact_channel", language))
    return fig


def issue_bars(issues: pd.DataFrame, language: str = "en") -> Figure:
    """Tickets by issue type, most frequent first, with each issue's breach rate."""
    set_style()
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    y = np.arange(len(issues))
    bars = ax.barh(y, issues["tickets"], color=ACTUAL_COLOUR)
    for bar, n, r in zip(bars, issues["tickets"], issues["breach_rate"]):
        note = f"{n:,}" + (text("service.figure.breached", language, share=f"{r:.0%}") if np.isfinite(r) else "")
        ax.annotate(note, (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(y, labels(issues["issue_type"], language))
    ax.invert_yaxis()
    ax.margins(x=0.25)
    ax.set(title=text("service.figure.issue_title", language), xlabel=text("service.figure.tickets", language), ylabel="")
    return fig


def issue_trend(monthly: pd.DataFrame, top: int = 5, language: str = "en") -> Figure:
    """Tickets per month by issue type (top issues; the rest pooled), per 1,000 orders when known."""
    set_style()
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    issues = [c for c in monthly.columns if c != "orders"]
    ranked = monthly[issues].sum().sort_values(ascending=False).index
    shown = list(ranked[:top])
    data = monthly[shown].copy()
    if len(ranked) > top:
        data["other issues"] = monthly[list(ranked[top:])].sum(axis=1)
    per_orders = "orders" in monthly and (monthly["orders"] > 0).all()
    if per_orders:
        data = data.div(monthly["orders"], axis=0) * 1000
    palette = sns.color_palette("deep", len(data.columns))
    bottom = np.zeros(len(data))
    width = 25  # days
    for colour, col in zip(palette, data.columns):
        ax.bar(data.index, data[col].to_numpy(), width=width, bottom=bottom, color=colour, label=label(col, language))
        bottom += data[col].to_numpy()
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, **date_formats(language)))
    ax.set(title=text("service.figure.trend_title", language), xlabel="",
           ylabel=text("service.figure.per_1000_orders" if per_orders else "service.figure.tickets", language))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def after_ticket(after: dict, language: str = "en") -> Figure:
    """Share who bought again within the follow-up window after their first ticket, breached vs met, with 95% intervals."""
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, 3.4), layout="constrained")
    groups = after["groups"]
    keys = ["met", "breached"]
    names = [text("service.figure.kept_n", language, customers=f"{groups['met']['customers']:,}"),
             text("service.figure.broken_n", language, customers=f"{groups['breached']['customers']:,}")]
    rates = np.array([groups[k]["repeat_rate"] for k in keys], dtype=float)
    low = np.array([groups[k]["repeat_low"] for k in keys], dtype=float)
    high = np.array([groups[k]["repeat_high"] for k in keys], dtype=float)
    err = np.vstack([rates - low, high - rates])
    ax.barh(names, rates, color=[ACTUAL_COLOUR, MODEL_COLOUR], xerr=np.nan_to_num(err), capsize=6, error_kw={"lw": 1.5})
    for i, r in enumerate(rates):
        if np.isfinite(r):
            ax.annotate(f"{r:.0%}", (r, i), xytext=(6, 10), textcoords="offset points", fontsize=10)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.invert_yaxis()
    ax.set(title=text("service.figure.after_title", language, days=after["followup_days"]),
           xlabel=text("service.figure.after_x", language), ylabel="")
    return fig
