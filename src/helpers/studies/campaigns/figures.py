"""Figures of the campaign readout page (labels from the page language's catalog)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from helpers.report.figures import ACTUAL_COLOUR, FIGSIZE, MODEL_COLOUR, set_style
from helpers.report.i18n import text
from helpers.studies.campaigns.analysis import CampaignStudy
from helpers.studies.campaigns.narrative import name


def uplift_by_segment(study: CampaignStudy, language: str = "en") -> Figure:
    """Uplift per segment: point, 95% interval (thin), simultaneous interval (thick band)."""
    set_style()
    t = study.segments.table.sort_values("difference")
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    y = np.arange(len(t))
    ax.hlines(y, t["ci_low_simultaneous"] * 100, t["ci_high_simultaneous"] * 100, color=ACTUAL_COLOUR, lw=6, alpha=0.3)
    ax.hlines(y, t["ci_low"] * 100, t["ci_high"] * 100, color=ACTUAL_COLOUR, lw=1.5)
    ax.plot(t["difference"] * 100, y, "o", color=ACTUAL_COLOUR)
    ax.axvline(0, color="grey", lw=1)
    ax.set_yticks(y, [name("segment", s, language) for s in t["segment"]])
    ax.set_xlabel(text("campaigns.figure.uplift_axis", language))
    ax.set_title(text("campaigns.figure.uplift_title", language))
    return fig


def qini(study: CampaignStudy, language: str = "en") -> Figure:
    set_style()
    c = study.model.curve
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    ax.plot(c["share"], c["qini"], color=ACTUAL_COLOUR, lw=2, label=text("campaigns.figure.model", language))
    ax.plot(c["share"], c["random"], color=MODEL_COLOUR, lw=1.5, ls="--", label=text("campaigns.figure.random", language))
    ax.fill_between(c["share"], c["random"], c["qini"], color=ACTUAL_COLOUR, alpha=0.12)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(text("campaigns.figure.qini_x", language))
    ax.set_ylabel(text("campaigns.figure.qini_y", language))
    ax.set_title(text("campaigns.figure.qini_title", language))
    ax.legend(loc="upper left")
    return fig


def messages(study: CampaignStudy, language: str = "en") -> Figure:
    set_style()
    m = study.messages
    fig, ax = plt.subplots(figsize=FIGSIZE, layout="constrained")
    x = np.arange(len(m))
    w = 0.38
    for offset, col, colour in ((-w / 2, "personalised", ACTUAL_COLOUR), (w / 2, "broadcast", MODEL_COLOUR)):
        ax.bar(x + offset, m[col], w, color=colour, label=text(f"campaigns.table.{col}", language))
    ax.set_xticks(x, [name("metric", v, language) for v in m["metric"]])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel(text("campaigns.figure.rate", language))
    ax.set_title(text("campaigns.figure.messages_title", language))
    ax.legend()
    return fig
