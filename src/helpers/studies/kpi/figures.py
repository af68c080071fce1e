"""Figures of the KPI page."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from helpers.report.figures import ACTUAL_COLOUR, MODEL_COLOUR, set_style
from helpers.report.i18n import text
from helpers.studies.kpi.analysis import KPIS, KpiStudy
from helpers.studies.kpi.narrative import name

LIGHT_COLOURS = {"green": "#2ca02c", "amber": "#ffbf00", "red": "#d62728", "none": "#999999"}


def trends(s: KpiStudy, language: str = "en") -> Figure:
    """Each KPI per month with its target (dashed) and the month's light."""
    set_style()
    fig, axes = plt.subplots(2, 4, figsize=(10, 4.8), layout="constrained")
    m = s.monthly
    x = np.arange(len(m))
    for ax, k in zip(axes.flat, KPIS):
        ax.plot(x, m[k].to_numpy(dtype=float), color=ACTUAL_COLOUR, lw=1.8)
        t = s.scorecard.loc[k, "target"]
        if np.isfinite(t):
            ax.axhline(t, color=MODEL_COLOUR, ls="--", lw=1.2)
        ax.scatter([x[-1]], [m[k].iloc[-1]], color=LIGHT_COLOURS[s.scorecard.loc[k, "light"]], s=50, zorder=3)
        ax.set_title(name(k, language), fontsize=9)
        step = max(1, len(m) // 3)
        ax.set_xticks(x[::step], [str(p) for p in m.index[::step]], fontsize=7)
        ax.tick_params(axis="y", labelsize=7)
    axes.flat[-1].axis("off")
    fig.suptitle(text("kpi.figure.trends_title", language), fontsize=11, fontweight="bold")
    return fig


def drivers(s: KpiStudy, language: str = "en") -> Figure:
    """Change in revenue split into customers, orders per customer and order value (MoM, YoY)."""
    set_style()
    fig, ax = plt.subplots(figsize=(7, 3.4), layout="constrained")
    keys = ("customers", "orders_per_customer", "order_value")
    labels = [text(f"kpi.figure.{k}", language) for k in keys]
    kinds = [k for k in ("mom", "yoy") if k in s.changes.index]
    width = 0.8 / max(len(kinds), 1)
    for i, kind in enumerate(kinds):
        vals = [float(s.changes.loc[kind, k]) for k in keys]
        ax.barh(np.arange(3) + i * width, vals, width, label=text(f"kpi.figure.{kind}", language),
                color=[ACTUAL_COLOUR, MODEL_COLOUR][i])
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(np.arange(3) + width * (len(kinds) - 1) / 2, labels)
    ax.set_xlabel(text("kpi.figure.contribution", language))
    ax.set_title(text("kpi.figure.drivers_title", language))
    ax.legend(fontsize=8)
    return fig
