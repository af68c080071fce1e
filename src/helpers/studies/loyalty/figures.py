"""Figures of the loyalty lab pages: each takes a results table and returns a Figure.

Style and display come from :mod:`helpers.plotting` (``set_style``, ``show``; its font
shows Chinese too); nothing here calls ``plt.show``. Titles, axis labels and legends are
in the page language (``language``, catalog ``loyalty.figure``); money axes use k/M in
English and 万/亿 in Chinese.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from helpers.report.figures import ACTUAL_COLOUR, FIGSIZE, MODEL_COLOUR, set_style
from helpers.report.i18n import is_chinese, text
from helpers.studies.loyalty import assumptions as A
from helpers.studies.loyalty.base import segment_label

GAIN_COLOUR = "#2e7d32"
LOSS_COLOUR = "#c62828"
NEUTRAL_COLOUR = "#9e9e9e"
TIER_COLOURS = ["#b0866b", "#9aa5b1", "#d4a017", "#5c6bc0", "#26a69a", "#8d6e63"]
#: Cost types stacked in the cost chart, in order, with their English labels (catalog ``loyalty.cost``).
COST_LABELS = {
    key: text(f"loyalty.cost.{key}")
    for key in ("reward_cost", "discount_cost", "shipping_cost", "returns_cost", "tier_service_cost", "trigger_cost",
                "member_cost", "fixed_cost", "liability_cost")
}


COST_COLOURS = {
    "reward_cost": "#1f77b4",
    "discount_cost": "#ff7f0e",
    "shipping_cost": "#9467bd",
    "returns_cost": "#d62728",
    "tier_service_cost": "#e377c2",
    "trigger_cost": "#8c564b",
    "member_cost": "#17becf",
    "fixed_cost": "#7f7f7f",
    "liability_cost": "#bcbd22",
}


def _figure(height: float | None = None) -> tuple[Figure, plt.Axes]:
    set_style()
    size = (FIGSIZE[0], height or FIGSIZE[1])
    return plt.subplots(figsize=size, layout="constrained")


def _t(key: str, language: str, **values) -> str:
    return text(f"loyalty.figure.{key}", language, **values)


def _money_axis(axis, currency: str, language: str = "en") -> None:
    sizes = ((1e8, "亿"), (1e4, "万")) if is_chinese(language) else ((1e9, "B"), (1e6, "M"), (1e3, "k"))

    def fmt(value, _pos):
        sign = "-" if value < 0 else ""
        value = abs(value)
        for size, suffix in sizes:
            if value >= size:
                return f"{sign}{currency}{value / size:,.0f}{suffix}" if value / size >= 10 else (
                    f"{sign}{currency}{value / size:,.1f}{suffix}"
                )
        return f"{sign}{currency}{value:,.0f}"

    axis.set_major_formatter(FuncFormatter(fmt))


def roi_comparison(comparison: pd.DataFrame, language: str = "en") -> Figure:
    """Horizontal bars: expected ROI of each design with its interval across runs
    (``comparison``: :meth:`Lab.comparison_in` the page language, for the designs' names)."""
    fig, ax = _figure(max(2.4, 1.0 + 0.7 * len(comparison)))
    y = np.arange(len(comparison))[::-1]
    colours = [GAIN_COLOUR if v > 0 else LOSS_COLOUR for v in comparison["roi"]]
    ax.barh(y, comparison["roi"], color=colours, alpha=0.85, height=0.55)
    err = np.vstack([comparison["roi"] - comparison["roi_low"], comparison["roi_high"] - comparison["roi"]])
    ax.errorbar(comparison["roi"], y, xerr=np.clip(err, 0, None), fmt="none", ecolor="black", capsize=4, lw=1.2)
    ax.axvline(0, color="black", lw=1)
    ax.set_yticks(y, comparison["design"])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(title=_t("roi_title", language), xlabel=_t("roi_x", language), ylabel="")
    return fig


def lift_needed(comparison: pd.DataFrame, language: str = "en") -> Figure:
    """Paired bars: the lift each design is expected to create vs the lift it needs to pay."""
    fig, ax = _figure(max(2.4, 1.0 + 0.8 * len(comparison)))
    y = np.arange(len(comparison))[::-1]
    need = comparison["break_even_lift"].to_numpy(dtype="float64")
    ax.barh(y + 0.18, comparison["effective_lift"], height=0.34, color=ACTUAL_COLOUR,
            label=_t("lift_expected", language))
    ax.barh(y - 0.18, np.nan_to_num(need, nan=0.0), height=0.34, color=MODEL_COLOUR,
            label=_t("lift_needed", language))
    for yi, value in zip(y, need):
        if not np.isfinite(value):
            ax.annotate(_t("never_pays", language), (0, yi - 0.18), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=9)
    ax.set_yticks(y, comparison["design"])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(title=_t("lift_title", language), xlabel=_t("lift_x", language), ylabel="")
    ax.legend(loc="lower right", fontsize=9)
    return fig


def cost_breakdown(results: list, currency: str = "$", language: str = "en") -> Figure:
    """Stacked bars per design: incremental margin against the programme's costs by type."""
    fig, ax = _figure(max(2.8, 1.2 + 0.9 * len(results)))
    names = [r.design.display_name(language) for r in results]
    y = np.arange(len(results))[::-1]
    left = np.zeros(len(results))
    for key in COST_LABELS:
        values = np.array([r.metric(key) for r in results])
        if not values.any():
            continue
        ax.barh(y - 0.2, values, left=left, height=0.36, color=COST_COLOURS[key],
                label=text(f"loyalty.cost.{key}", language))
        left += values
    margin = np.array([r.metric("incremental_margin") for r in results])
    ax.barh(y + 0.2, margin, height=0.36, color=GAIN_COLOUR, label=_t("incremental_margin", language))
    ax.set_yticks(y, names)
    _money_axis(ax.xaxis, currency, language)
    ax.set(title=_t("costs_title", language), xlabel=_t("expected_over_horizon", language, currency=currency))
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    return fig


def tornado(sens: pd.DataFrame, design_name: str = "", language: str = "en") -> Figure:
    """Tornado chart: ROI when each assumption is at its low and its high value."""
    rows = sens.iloc[::-1]
    fig, ax = _figure(max(2.6, 0.9 + 0.42 * len(rows)))
    centre = float(sens["roi_central"].iloc[0])
    y = np.arange(len(rows))
    for yi, (_, row) in zip(y, rows.iterrows()):
        for side, colour in (("low", "#64b5f6"), ("high", "#1565c0")):
            value = row[f"roi_{side}"]
            ax.barh(yi, value - centre, left=centre, color=colour, height=0.6,
                    label=_t(f"at_{side}", language) if yi == y[-1] else None)
    left, right = ("（", "）") if is_chinese(language) else (" (", ")")
    labels = [
        f"{A.label(r['parameter'], language)}{left}{_short(r['low_value'], r['parameter'])} – "
        f"{_short(r['high_value'], r['parameter'])}{right}"
        for _, r in rows.iterrows()
    ]
    ax.set_yticks(y, labels, fontsize=9)
    ax.axvline(centre, color="black", lw=1)
    ax.axvline(0, color=LOSS_COLOUR, lw=1, ls=":")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    title = _t("tornado_title_design", language, name=design_name) if design_name else _t("tornado_title", language)
    ax.set(title=title, xlabel=_t("tornado_x", language))
    ax.legend(fontsize=8, loc="lower right")
    return fig


def _short(value: float, parameter: str = "") -> str:
    """An assumption value as shown in a tornado label: factors as x1.5, the rest as percentages."""
    if parameter == "activity_scale":
        return f"x{value:g}"
    return f"{value:.0%}"


def tier_distribution(tiers: pd.DataFrame, language: str = "en", design=None) -> Figure:
    """Stacked areas: members in each level at the end of every month (level names from
    ``design`` in ``language`` when given)."""
    from helpers.studies.loyalty.design import level_label

    fig, ax = _figure()
    levels = [c for c in tiers.columns if c != "month"]
    names = [design.level_label(c, language) if design is not None else level_label(c, language) for c in levels]
    ax.stackplot(tiers["month"], *[tiers[c] for c in levels], labels=names,
                 colors=TIER_COLOURS[: len(levels)], alpha=0.9)
    ax.set(title=_t("tiers_title", language), xlabel=_t("month", language), ylabel=_t("members_expected", language))
    ax.set_xticks(tiers["month"])
    ax.legend(loc="upper left", fontsize=9)
    return fig


def points_flow(monthly: pd.DataFrame, point_value: float, currency: str = "$", language: str = "en") -> Figure:
    """Points earned, redeemed and expired each month, and the value still outstanding."""
    fig, ax = _figure()
    m = monthly["month"]
    width = 0.28
    lang = language
    ax.bar(m - width, monthly["points_earned"] * point_value, width, color=ACTUAL_COLOUR, label=_t("earned", lang))
    ax.bar(m, monthly["points_redeemed"] * point_value, width, color=GAIN_COLOUR, label=_t("redeemed", lang))
    ax.bar(m + width, monthly["points_expired"] * point_value, width, color=NEUTRAL_COLOUR, label=_t("expired", lang))
    ax2 = ax.twinx()
    ax2.plot(m, monthly["points_outstanding"] * point_value, color=MODEL_COLOUR, lw=2.2, marker="o",
             label=_t("outstanding", lang))
    ax2.grid(False)
    ax2.set_ylim(bottom=0)
    _money_axis(ax.yaxis, currency, lang)
    _money_axis(ax2.yaxis, currency, lang)
    ax.set_xticks(m)
    ax.set(title=_t("points_title", lang), xlabel=_t("month", lang),
           ylabel=_t("value_per_month", lang, currency=currency))
    ax2.set_ylabel(_t("outstanding_axis", lang, currency=currency))
    lines = ax.get_legend_handles_labels()
    more = ax2.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper left")
    return fig


def segment_contribution(segments: pd.DataFrame, currency: str = "$", language: str = "en") -> Figure:
    """Bars by value segment: incremental margin, variable cost and contribution."""
    lang = language
    fig, ax = _figure()
    x = np.arange(len(segments))
    width = 0.27
    ax.bar(x - width, segments["incremental_margin"], width, color=GAIN_COLOUR, label=_t("segment_margin", lang))
    ax.bar(x, segments["variable_cost"], width, color=LOSS_COLOUR, label=_t("segment_cost", lang))
    colours = [GAIN_COLOUR if v > 0 else LOSS_COLOUR for v in segments["contribution"]]
    ax.bar(x + width, segments["contribution"], width, color=colours, alpha=0.5, edgecolor="black",
           label=_t("segment_contribution", lang))
    ax.axhline(0, color="black", lw=1)
    ax.set_xticks(x, [segment_label(s, lang) for s in segments["segment"]], fontsize=9)
    _money_axis(ax.yaxis, currency, lang)
    ax.set(title=_t("segments_title", lang), xlabel=_t("segments_x", lang),
           ylabel=_t("expected_over_horizon", lang, currency=currency))
    ax.legend(fontsize=8)
    return fig


def profit_distribution(runs_by_design: dict, currency: str = "$", language: str = "en") -> Figure:
    """Spread of profit across simulation runs per design: 95% range, middle half and median
    (``runs_by_design``: the designs' names on the page -> their per-run results)."""
    fig, ax = _figure(max(2.4, 1.0 + 0.7 * len(runs_by_design)))
    names = list(runs_by_design)
    y = np.arange(len(names))[::-1]
    for yi, name in zip(y, names):
        p = np.percentile(runs_by_design[name]["profit"].to_numpy(), [2.5, 25, 50, 75, 97.5])
        colour = GAIN_COLOUR if p[2] > 0 else LOSS_COLOUR
        ax.hlines(yi, p[0], p[4], color=colour, lw=1.5)
        ax.barh(yi, p[3] - p[1], left=p[1], height=0.4, color=colour, alpha=0.6)
        ax.vlines(p[2], yi - 0.2, yi + 0.2, color="black", lw=2)
    ax.axvline(0, color="black", lw=1, ls=":")
    ax.set_yticks(y, names)
    _money_axis(ax.xaxis, currency, language)
    ax.set(title=_t("profit_title", language), xlabel=_t("profit_x", language, currency=currency))
    return fig
