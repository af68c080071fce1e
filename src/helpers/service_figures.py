"""Figures of the service page (tables from :mod:`helpers.service`)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from .labels import label, labels
from .plotting import ACTUAL_COLOUR, FIGSIZE, MODEL_COLOUR, set_style
from .service import Promise
from .tables_io import CONTACT_CHANNEL, SEVERITY

ALT_COLOUR = "#8c564b"


def _hours(v: float, _=None) -> str:
    if v < 1:
        return f"{v * 60:.0f} min"
    if v < 72:
        return f"{v:.0f} h"
    return f"{v / 24:.0f} d"


def response_resolution(flagged: pd.DataFrame, promise: Promise, alternative: Promise) -> Figure:
    """Share of tickets answered / resolved within x hours (log scale), with both promises marked."""
    set_style()
    fig, axes = plt.subplots(1, 2, figsize=(7.5, 3.8), layout="constrained", sharey=True)
    for ax, col, title, p_main, p_alt in (
        (axes[0], "response_hours", "First response", promise.response_hours, alternative.response_hours),
        (axes[1], "resolution_hours", "Resolution", promise.resolution_hours, alternative.resolution_hours),
    ):
        values = np.sort(flagged[col].dropna().to_numpy(dtype=float))
        total = len(flagged)
        if len(values):
            shown = np.clip(values, 1 / 60, None)
            ax.step(shown, np.arange(1, len(values) + 1) / total, where="post", color=ACTUAL_COLOUR, lw=2)
            ax.set_xscale("log")
        ax.axvline(p_main, color=MODEL_COLOUR, lw=2, label=f"promise {_hours(p_main)}")
        ax.axvline(p_alt, color=ALT_COLOUR, lw=1.5, ls="--", label=f"alternative {_hours(p_alt)}")
        ax.xaxis.set_major_formatter(FuncFormatter(_hours))
        ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        ax.set_ylim(0, 1.02)
        ax.set(title=title, xlabel="")
        ax.legend(fontsize=8, loc="lower right")
    axes[0].set_ylabel("Share of tickets done by then")
    fig.supxlabel("Time after the ticket was opened (log scale)", fontsize=11)
    return fig


def breach_heatmap(by_channel_severity: pd.DataFrame, kind: str = "either") -> Figure:
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
                                                             "label": "Tickets breaching a promise"})
    ax.grid(False)
    ax.set_yticks(np.arange(len(rate)) + 0.5, labels(rate.index), rotation=0)
    ax.set_xticks(np.arange(len(order)) + 0.5, labels(order))
    ax.set(title="Share of tickets that broke a promise", xlabel="Severity tier", ylabel="Contact channel")
    return fig


def issue_bars(issues: pd.DataFrame) -> Figure:
    """Tickets by issue type, most frequent first, with each issue's breach rate."""
    set_style()
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    y = np.arange(len(issues))
    bars = ax.barh(y, issues["tickets"], color=ACTUAL_COLOUR)
    for bar, n, r in zip(bars, issues["tickets"], issues["breach_rate"]):
        text = f"{n:,}" + (f"  ({r:.0%} breached)" if np.isfinite(r) else "")
        ax.annotate(text, (bar.get_width(), bar.get_y() + bar.get_height() / 2), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8)
    ax.set_yticks(y, labels(issues["issue_type"]))
    ax.invert_yaxis()
    ax.margins(x=0.25)
    ax.set(title="Tickets by issue type", xlabel="Tickets", ylabel="")
    return fig


def issue_trend(monthly: pd.DataFrame, top: int = 5) -> Figure:
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
        ax.bar(data.index, data[col].to_numpy(), width=width, bottom=bottom, color=colour, label=label(col))
        bottom += data[col].to_numpy()
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.set(title="Tickets per month by issue type", xlabel="",
           ylabel="Tickets per 1,000 orders" if per_orders else "Tickets")
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return fig


def after_ticket(after: dict) -> Figure:
    """Share who bought again within the follow-up window after their first ticket, breached vs met, with 95% intervals."""
    set_style()
    fig, ax = plt.subplots(figsize=(7.5, 3.4), layout="constrained")
    groups = after["groups"]
    keys = ["met", "breached"]
    names = [f"Promises kept (n={groups['met']['customers']:,})", f"A promise broken (n={groups['breached']['customers']:,})"]
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
    ax.set(title=f"Bought again within {after['followup_days']} days of their first ticket",
           xlabel="Share of customers (bars: 95% interval)", ylabel="")
    return fig
