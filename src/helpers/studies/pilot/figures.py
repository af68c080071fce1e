"""Seaborn figures for the pilot readout page.

Each function takes results from :mod:`helpers.studies.pilot.analysis` and returns a matplotlib
``Figure`` (never calls ``plt.show``); notebooks display them with
:func:`helpers.report.figures.show`. Titles, axis labels and legends are in the page language
(``helpers/locales/<language>/pilot.yaml``); ``plotting.set_style`` registers a Chinese font.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter
from scipy import stats

from helpers.report.figures import ACTUAL_COLOUR, FIGSIZE, MODEL_COLOUR, set_style
from helpers.report.i18n import is_chinese, text
from helpers.studies.pilot.analysis import (
    BootstrapResult,
    Effect,
    SegmentEffects,
    segment_label,
)

RAW_COLOUR = "#8c8c8c"
CUPED_COLOUR = ACTUAL_COLOUR
TRUTH_COLOUR = "#2a9d4b"
WORTHWHILE_COLOUR = MODEL_COLOUR


def _figure(height: float | None = None) -> tuple[Figure, plt.Axes]:
    set_style()
    size = FIGSIZE if height is None else (FIGSIZE[0], height)
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def _unit(currency: str, language: str = "en") -> str:
    if not currency:
        return ""
    return f"（{currency}）" if is_chinese(language) else f" ({currency})"


def _level(alpha: float) -> str:
    return f"{1 - alpha:.0%}"


def effect_intervals(
    raw: Effect,
    adjusted: Effect,
    *,
    minimum_worthwhile: float | None = None,
    true_effect: float | None = None,
    currency: str = "",
    language: str = "en",
) -> Figure:
    """Two horizontal intervals: the raw difference and the CUPED-adjusted one."""
    lang = language
    fig, ax = _figure(3.2)
    rows = [
        (text("pilot.figure.raw", lang), raw, RAW_COLOUR),
        (text("pilot.figure.cuped", lang), adjusted, CUPED_COLOUR),
    ]
    for y, (name, eff, colour) in enumerate(rows):
        ax.errorbar(
            eff.difference, y, xerr=[[eff.difference - eff.ci_low], [eff.ci_high - eff.difference]],
            fmt="o", color=colour, ecolor=colour, elinewidth=5, capsize=0, markersize=9,
        )
        ax.annotate(f"{eff.difference:+,.2f}", (eff.difference, y), xytext=(0, 10), textcoords="offset points",
                    ha="center", fontsize=9, color=colour, bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})
    ax.axvline(0, color="black", lw=1)
    if minimum_worthwhile is not None and np.isfinite(minimum_worthwhile):
        ax.axvline(minimum_worthwhile, color=WORTHWHILE_COLOUR, ls="--", lw=1.5,
                   label=text("pilot.figure.worthwhile", lang))
    if true_effect is not None:
        ax.axvline(true_effect, color=TRUTH_COLOUR, ls=":", lw=2, label=text("pilot.figure.truth", lang))
    ax.set_yticks(range(len(rows)), [name for name, _, _ in rows])
    ax.set_ylim(-0.7, len(rows) - 0.3)
    ax.set(
        title=text("pilot.figure.effect_title", lang, level=_level(adjusted.alpha)),
        xlabel=text("pilot.figure.effect_x", lang, unit=_unit(currency, lang)), ylabel="",
    )
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.3), ncol=2, frameon=False, fontsize=9)
    return fig


def bootstrap_distribution(
    boot: BootstrapResult, analytic: Effect, *, currency: str = "", language: str = "en"
) -> Figure:
    """Histogram of bootstrap differences with the percentile and the t intervals."""
    lang = language
    fig, ax = _figure()
    sns.histplot(boot.draws, bins=50, stat="density", ax=ax, color=ACTUAL_COLOUR, alpha=0.45, edgecolor="white",
                 label=text("pilot.figure.resamples", lang, count=f"{boot.n_resamples:,}"))
    grid = np.linspace(boot.draws.min(), boot.draws.max(), 200)
    ax.plot(grid, stats.t.pdf(grid, analytic.df, loc=analytic.difference, scale=analytic.se),
            color=MODEL_COLOUR, lw=2, label=text("pilot.figure.t_approximation", lang))
    level = _level(boot.alpha)
    for i, value in enumerate((boot.ci_low, boot.ci_high)):
        ax.axvline(value, color=ACTUAL_COLOUR, lw=1.5,
                   label=text("pilot.figure.bootstrap_interval", lang, level=level) if i == 0 else None)
    for i, value in enumerate((analytic.ci_low, analytic.ci_high)):
        ax.axvline(value, color=MODEL_COLOUR, lw=1.5, ls="--",
                   label=text("pilot.figure.t_interval", lang, level=level) if i == 0 else None)
    ax.axvline(0, color="black", lw=1)
    ax.set(
        title=text("pilot.figure.bootstrap_title", lang),
        xlabel=text("pilot.figure.bootstrap_x", lang, unit=_unit(currency, lang)),
        ylabel=text("pilot.figure.density", lang),
    )
    ax.legend(fontsize=9)
    return fig


def segment_forest(
    segments: SegmentEffects, overall: Effect, *, currency: str = "", language: str = "en"
) -> Figure:
    """Forest plot: the effect in each segment (thin line: simultaneous interval) and overall."""
    lang = language
    table = segments.table
    n = len(table)
    fig, ax = _figure(max(2.8, 0.55 * (n + 1) + 1.4))
    ys = np.arange(n)[::-1] + 1
    ax.hlines(ys, table["ci_low_simultaneous"], table["ci_high_simultaneous"], color=RAW_COLOUR, lw=1.5,
              label=text("pilot.figure.simultaneous", lang))
    ax.hlines(ys, table["ci_low"], table["ci_high"], color=CUPED_COLOUR, lw=5,
              label=text("pilot.figure.interval", lang, level=_level(segments.alpha)))
    ax.plot(table["difference"], ys, "o", color=CUPED_COLOUR, markersize=8)
    ax.hlines([0], [overall.ci_low], [overall.ci_high], color=MODEL_COLOUR, lw=5)
    ax.plot([overall.difference], [0], "D", color=MODEL_COLOUR, markersize=9,
            label=text("pilot.figure.all_customers", lang))
    labels = [
        text("pilot.figure.segment_n", lang, segment=segment_label(s, lang), n=f"{c + t:,}")
        for s, c, t in zip(table["segment"], table["n_control"], table["n_treatment"])
    ]
    everyone = text("pilot.figure.all_customers_n", lang, n=f"{overall.n_control + overall.n_treatment:,}")
    ax.set_yticks(list(ys) + [0], labels + [everyone])
    ax.axvline(0, color="black", lw=1)
    method = text(f"pilot.method.{segments.method.lower()}", lang)
    ax.set(
        title=text("pilot.figure.forest_title", lang),
        xlabel=text("pilot.figure.forest_x", lang, method=method, unit=_unit(currency, lang)), ylabel="",
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
    language: str = "en",
) -> Figure:
    """Power to detect the smallest worthwhile effect against pilot size, raw and with CUPED."""
    lang = language
    fig, ax = _figure()
    ax.plot(curve["n_total"], curve["power_raw"], color=RAW_COLOUR, lw=2.5,
            label=text("pilot.figure.without_cuped", lang))
    ax.plot(curve["n_total"], curve["power_cuped"], color=CUPED_COLOUR, lw=2.5,
            label=text("pilot.figure.with_cuped", lang))
    ax.axhline(target_power, color="grey", ls=":", lw=1.5)
    ax.axvline(current_n, color=MODEL_COLOUR, ls="--", lw=1.5,
               label=text("pilot.figure.this_pilot", lang, n=f"{current_n:,}"))
    for needed, colour in ((needed_raw, RAW_COLOUR), (needed_cuped, CUPED_COLOUR)):
        if needed is not None and needed <= curve["n_total"].max():
            ax.plot([needed], [target_power], "o", color=colour, markersize=7)
            ax.annotate(f"{needed:,}", (needed, target_power), xytext=(4, -14), textcoords="offset points",
                        fontsize=9, color=colour)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    what = (text("pilot.figure.lift", lang, lift=f"{mde:+.0%}") if mde is not None
            else text("pilot.figure.worthwhile_effect", lang))
    ax.set(
        ylim=(0, 1.02), title=text("pilot.figure.power_title", lang, what=what),
        xlabel=text("pilot.figure.power_x", lang), ylabel=text("pilot.figure.power_y", lang),
    )
    ax.legend(loc="lower right", fontsize=9)
    return fig
