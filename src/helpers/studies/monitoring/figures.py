"""Figures of the monitoring page."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from helpers.report.figures import ACTUAL_COLOUR, MODEL_COLOUR, set_style
from helpers.report.i18n import text
from helpers.studies.monitoring.analysis import MonitoringStudy


def points_flows(s: MonitoringStudy, language: str = "en") -> Figure:
    """Points issued, redeemed and expired per month (bars) and outstanding at month end (line)."""
    set_style()
    m = s.monthly
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    x = np.arange(len(m))
    ax.bar(x - 0.27, m["issued"], 0.27, color=ACTUAL_COLOUR, label=text("monitoring.table.issued", language))
    ax.bar(x, m["redeemed"], 0.27, color="#2ca02c", label=text("monitoring.table.redeemed", language))
    ax.bar(x + 0.27, m["expired"], 0.27, color="#d62728", label=text("monitoring.table.expired", language))
    ax2 = ax.twinx()
    ax2.plot(x, m["outstanding"], color=MODEL_COLOUR, lw=2, label=text("monitoring.table.outstanding", language))
    ax2.grid(False)
    step = max(1, len(m) // 8)
    ax.set_xticks(x[::step], [str(p) for p in m.index[::step]])
    ax.set_ylabel(text("monitoring.figure.points_month", language))
    ax2.set_ylabel(text("monitoring.figure.points_outstanding", language))
    ax.set_title(text("monitoring.figure.flows_title", language))
    for axis in (ax, ax2):
        axis.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8)
    return fig


TIER_COLOURS = {"bronze": "#b87333", "silver": "#a8a9ad", "gold": "#d4af37"}


def tier_flows(s: MonitoringStudy, language: str = "en") -> Figure:
    """Sankey-style: members by tier at the start (left) and the end (right), bands for each move."""
    set_style()
    f = s.flows.astype(float)
    total = f.values.sum()
    fig, ax = plt.subplots(figsize=(6.5, 3.8), layout="constrained")
    if total <= 0:
        ax.axis("off")
        return fig
    tiers = list(f.index)
    gap = 0.02
    left_top, right_top = {}, {}
    y = 1.0
    for t in tiers:  # three tiers: stack the start column
        left_top[t] = y
        y -= f.loc[t].sum() / total + gap
    y = 1.0
    for t in tiers:  # and the end column
        right_top[t] = y
        y -= f[t].sum() / total + gap
    out_used = {t: 0.0 for t in tiers}
    in_used = {t: 0.0 for t in tiers}
    xs = np.linspace(0.1, 0.9, 50)
    ease = (1 - np.cos(np.pi * (xs - 0.1) / 0.8)) / 2
    for a in tiers:  # bands, one per (start, end) pair
        for b in tiers:
            h = f.loc[a, b] / total
            if h <= 0:
                continue
            y0 = left_top[a] - out_used[a]
            y1 = right_top[b] - in_used[b]
            top = y0 + (y1 - y0) * ease
            ax.fill_between(xs, top - h, top, color=TIER_COLOURS.get(b, "#888"), alpha=0.45, lw=0)
            out_used[a] += h
            in_used[b] += h
    for t in tiers:  # the two columns of bars with labels
        name = text(f"monitoring.tier.{t}", language) if t in TIER_COLOURS else str(t)
        hl, hr = f.loc[t].sum() / total, f[t].sum() / total
        ax.bar(0.05, hl, 0.1, bottom=left_top[t] - hl, color=TIER_COLOURS.get(t, "#888"))
        ax.bar(0.95, hr, 0.1, bottom=right_top[t] - hr, color=TIER_COLOURS.get(t, "#888"))
        ax.text(-0.02, left_top[t] - hl / 2, f"{name} {f.loc[t].sum():,.0f}", ha="right", va="center", fontsize=8)
        ax.text(1.02, right_top[t] - hr / 2, f"{name} {f[t].sum():,.0f}", ha="left", va="center", fontsize=8)
    ax.set_xlim(-0.35, 1.35)
    ax.axis("off")
    ax.set_title(text("monitoring.figure.flows_tiers", language, start=str(s.flow_dates[0].date()),
                      end=str((s.flow_dates[1] - np.timedelta64(1, "D")).date())))
    return fig
