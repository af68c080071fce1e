"""Seaborn figures for the pilot readout page.

Each function takes results from :mod:`helpers.experiments` and returns a matplotlib
``Figure`` (never calls ``plt.show``); notebooks display them with
:func:`helpers.plotting.show`.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter
from scipy import stats

from .experiments import BootstrapResult, Effect, SegmentEffects
from .plotting import ACTUAL_COLOUR, FIGSIZE, MODEL_COLOUR, set_style

RAW_COLOUR = "#8c8c8c"
CUPED_COLOUR = ACTUAL_COLOUR
TRUTH_COLOUR = "#2a9d4b"
WORTHWHILE_COLOUR = MODEL_COLOUR


def _figure(height: float | None = None) -> tuple[Figure, plt.Axes]:
    set_style()
    size = FIGSIZE if height is None else (FIGSIZE[0], height)
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def _unit(currency: str) -> str:
    return f" ({currency})" if currency else ""


def _level(alpha: float) -> str:
    return f"{1 - alpha:.0%}"


def effect_intervals(
    raw: Effect,
    adjusted: Effect,
    *,
    minimum_worthwhile: float | None = None,
    true_effect: float | None = None,
    currency: str = "",
) -> Figure:
    """Two horizontal intervals: the raw difference and the CUPED-adjusted one."""
    fig, ax = _figure(3.2)
    rows = [("Raw difference", raw, RAW_COLOUR), ("CUPED-adjusted", adjusted, CUPED_COLOUR)]
    for y, (name, eff, colour) in enumerate(rows):
        ax.errorbar(
            eff.difference, y, xerr=[[eff.difference - eff.ci_low], [eff.ci_high - eff.difference]],
            fmt="o", color=colour, ecolor=colour, elinewidth=5, capsize=0, markersize=9,
        )
        ax.annotate(f"{eff.difference:+,.2f}", (eff.difference, y), xytext=(0, 10), textcoords="offset points",
                    ha="center", fontsize=9, color=colour, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})
    ax.axvline(0, color="black", lw=1)
    if minimum_worthwhile is not None and np.isfinite(minimum_worthwhile):
        ax.axvline(minimum_worthwhile, color=WORTHWHILE_COLOUR, ls="--", lw=1.5, label="smallest effect worth having")
    if true_effect is not None:
        ax.axvline(true_effect, color=TRUTH_COLOUR, ls=":", lw=2, label="known true effect")
    ax.set_yticks(range(len(rows)), [name for name, _, _ in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set(
        title=f"Effect per customer with {_level(adjusted.alpha)} interval",
        xlabel=f"Treatment minus control{_unit(currency)}", ylabel="",
    )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False, fontsize=9)
    return fig


def bootstrap_distribution(boot: BootstrapResult, analytic: Effect, *, currency: str = "") -> Figure:
    """Histogram of bootstrap differences with the percentile and the t intervals."""
    fig, ax = _figure()
    sns.histplot(boot.draws, bins=50, stat="density", ax=ax, color=ACTUAL_COLOUR, alpha=0.45, edgecolor="white",
                 label=f"{boot.n_resamples:,} bootstrap resamples")
    grid = np.linspace(boot.draws.min(), boot.draws.max(), 200)
    ax.plot(grid, stats.t.pdf(grid, analytic.df, loc=analytic.difference, scale=analytic.se),
            color=MODEL_COLOUR, lw=2, label="t approximation")
    level = _level(boot.alpha)
    for i, value in enumerate((boot.ci_low, boot.ci_high)):
        ax.axvline(value, color=ACTUAL_COLOUR, lw=1.5, label=f"bootstrap {level} interval" if i == 0 else None)
    for i, value in enumerate((analytic.ci_low, analytic.ci_high)):
        ax.axvline(value, color=MODEL_COLOUR, lw=1.5, ls="--", label=f"t {level} interval" if i == 0 else None)
    ax.axvline(0, color="black", lw=1)
    ax.set(
        title="Difference in mean outcome: bootstrap vs t interval",
        xlabel=f"Treatment minus control, raw{_unit(currency)}", ylabel="Density",
    )
    ax.legend(fontsize=9)
    return fig


def segment_forest(segments: SegmentEffects, overall: Effect, *, currency: str = "") -> Figure:
    """Forest plot: the effect in each segment (thin line: simultaneous interval) and overall."""
    table = segments.table
    n = len(table)
    fig, ax = _figure(max(2.8, 0.55 * (n + 1) + 1.4))
    ys = np.arange(n)[::-1] + 1
    ax.hlines(ys, table["ci_low_simultaneous"], table["ci_high_simultaneous"], color=RAW_COLOUR, lw=1.5,
              label="simultaneous interval (all segments together)")
    ax.hlines(ys, table["ci_low"], table["ci_high"], color=CUPED_COLOUR, lw=5, label=f"{_level(segments.alpha)} interval")
    ax.plot(table["difference"], ys, "o", color=CUPED_COLOUR, markersize=8)
    ax.hlines([0], [overall.ci_low], [overall.ci_high], color=MODEL_COLOUR, lw=5)
    ax.plot([overall.difference], [0], "D", color=MODEL_COLOUR, markersize=9, label="all customers")
    labels = [f"{s} (n={c + t:,})" for s, c, t in zip(table["segment"], table["n_control"], table["n_treatment"])]
    ax.set_yticks(list(ys) + [0], labels + [f"All customers (n={overall.n_control + overall.n_treatment:,})"])
    ax.axvline(0, color="black", lw=1)
    ax.set(
        title="Effect per customer by segment",
        xlabel=f"Treatment minus control, {segments.method}{_unit(currency)}", ylabel="",
    )
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3, frameon=False, fontsize=9)
    return fig


def power_curve(
    curve: pd.DataFrame,
    *,
    target_power: float,
    current_n: int,
    needed_raw: int | None = None,
    needed_cuped: int | None = None,
    mde: float | None = None,
) -> Figure:
    """Power to detect the smallest worthwhile effect against pilot size, raw and with CUPED."""
    fig, ax = _figure()
    ax.plot(curve["n_total"], curve["power_raw"], color=RAW_COLOUR, lw=2.5, label="without CUPED")
    ax.plot(curve["n_total"], curve["power_cuped"], color=CUPED_COLOUR, lw=2.5, label="with CUPED")
    ax.axhline(target_power, color="grey", ls=":", lw=1.5)
    ax.axvline(current_n, color=MODEL_COLOUR, ls="--", lw=1.5, label=f"this pilot ({current_n:,})")
    for needed, colour in ((needed_raw, RAW_COLOUR), (needed_cuped, CUPED_COLOUR)):
        if needed is not None and needed <= curve["n_total"].max():
            ax.plot([needed], [target_power], "o", color=colour, markersize=7)
            ax.annotate(f"{needed:,}", (needed, target_power), xytext=(4, -14), textcoords="offset points",
                        fontsize=9, color=colour)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    what = f"a {mde:+.0%} lift" if mde is not None else "the smallest worthwhile effect"
    ax.set(
        ylim=(0, 1.02), title=f"Chance a pilot detects {what}",
        xlabel="Customers in the pilot (both groups)", ylabel="Power",
    )
    ax.legend(loc="lower right", fontsize=9)
    return fig
