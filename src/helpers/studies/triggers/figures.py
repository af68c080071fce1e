"""Figures of the triggers page (labels from the page language's catalog)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from helpers.report.figures import ACTUAL_COLOUR, FIGSIZE, date_formats, set_style
from helpers.report.i18n import text
from helpers.studies.triggers.analysis import TriggerStudy


def weekly_audience(study: TriggerStudy, language: str = "en") -> Figure:
    """Customers triggered per week, one line per rule (rule names are plain text in a figure)."""
    set_style()
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    weekly = study.backtest.weekly
    for rule in study.config.rules:  # a few rules
        w = weekly[weekly["rule"] == rule.id]
        ax.plot(w["week"], w["audience"], marker="o", ms=3, label=rule.name(language))
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, **date_formats(language)))
    ax.set_ylabel(text("triggers.figure.audience_axis", language))
    ax.set_title(text("triggers.figure.audience_title", language))
    ax.legend(fontsize=8, ncols=2)
    return fig


def hit_rates(study: TriggerStudy, language: str = "en") -> Figure:
    set_style()
    s = study.backtest.summary
    names = {r.id: r.name(language) for r in study.config.rules}
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    y = np.arange(len(s))
    rate = s["hit_rate"].fillna(0).to_numpy()
    err = np.vstack([rate - s["hit_rate_low"].fillna(0).to_numpy(), s["hit_rate_high"].fillna(0).to_numpy() - rate])
    ax.barh(y, rate, color=ACTUAL_COLOUR, alpha=0.8)
    ax.errorbar(rate, y, xerr=err, fmt="none", color="black", lw=1, capsize=3)
    ax.set_yticks(y, [names[i] for i in s["rule"]])
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(text("triggers.figure.hit_axis", language))
    ax.set_title(text("triggers.figure.hit_title", language))
    return fig
