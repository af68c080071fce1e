"""The figure of the model-check page."""

from __future__ import annotations

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from helpers.report.figures import ACTUAL_COLOUR, set_style
from helpers.report.i18n import text
from helpers.studies.model_check.analysis import (
    MODEL_NAMES,
    ModelCheck,
    parameter_label,
)


def differences(check: ModelCheck, language: str = "en") -> Figure:
    """Our value minus the published one, in units of the last decimal the paper reports;
    inside the band (±0.5) ours rounds to the published number."""
    set_style()
    t = check.table
    labels = [
        f"{MODEL_NAMES[m]} · {parameter_label(p, language)}"
        for m, p in zip(t["model"], t["parameter"])
    ]
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(t) + 1.4))
    y = range(len(t))[::-1]
    ax.axvspan(-0.5, 0.5, color="#d9e7d0", zorder=0, label=text("model_check.figure.band", language))
    ax.barh(list(y), t["in_last_digits"], color=ACTUAL_COLOUR, height=0.55, zorder=2)
    ax.set_yticks(list(y), labels)
    ax.axvline(0, color="#555555", lw=0.8)
    ax.set_xlim(-1, 1)
    ax.set_xlabel(text("model_check.figure.x", language))
    ax.set_title(text("model_check.figure.title", language))
    ax.legend(loc="lower right", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig
