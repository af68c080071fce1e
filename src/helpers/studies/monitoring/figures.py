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
