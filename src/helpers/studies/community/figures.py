"""Figures of the community page."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from helpers.report.figures import ACTUAL_COLOUR, MODEL_COLOUR, set_style
from helpers.report.i18n import text
from helpers.studies.community.analysis import CommunityStudy
from helpers.studies.community.narrative import group_name, segment_name


def activity(s: CommunityStudy, language: str = "en") -> Figure:
    """Activity rate by group type (95% interval) against the benchmark."""
    set_style()
    a = s.activity
    fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
    x = np.arange(len(a))
    ax.bar(x, a["activity_rate"], color=ACTUAL_COLOUR, yerr=1.96 * a["activity_se"], capsize=4)
    ax.axhline(s.benchmark, color=MODEL_COLOUR, ls="--", lw=2, label=text("community.figure.benchmark", language, value=f"{s.benchmark:.0%}"))
    ax.set_xticks(x, [group_name(g, language) for g in a.index])
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1)
    ax.set_ylabel(text("community.figure.activity_axis", language))
    ax.set_title(text("community.figure.activity_title", language))
    ax.legend(fontsize=8)
    return fig


def reach(s: CommunityStudy, language: str = "en") -> Figure:
    """Share of each segment that is a WeChat contact, and reachable (contact and consented)."""
    set_style()
    r = s.reach
    fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
    x = np.arange(len(r))
    ax.bar(x - 0.2, r["contact_share"], 0.4, color="#9ecae1", label=text("community.table.contact_share", language))
    ax.bar(x + 0.2, r["reach_share"], 0.4, color=ACTUAL_COLOUR, label=text("community.table.reach_share", language))
    ax.set_xticks(x, [segment_name(g, language) for g in r.index], fontsize=8, rotation=12)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1)
    ax.set_title(text("community.figure.reach_title", language))
    ax.legend(fontsize=8)
    return fig
