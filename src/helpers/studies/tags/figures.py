"""Figures of the tags page; titles and labels from the page language's catalog."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from helpers.report.figures import ACTUAL_COLOUR, MODEL_COLOUR, set_style
from helpers.report.i18n import text
from helpers.report.labels import label
from helpers.studies.tags.analysis import TagStudy
from helpers.studies.tags.narrative import name

#: Tags shown in the movement chart (the ones that moved most).
MOVEMENT_TAGS = 6


def coverage(study: TagStudy, language: str = "en") -> Figure:
    """Share of customers with each tag (per-category tags as "any category")."""
    set_style()
    share = study.base.mean().sort_values()
    fig, ax = plt.subplots(figsize=(7.5, max(3.0, 0.22 * len(share))), layout="constrained")
    ax.barh([name(study, t, language) for t in share.index], share.to_numpy(), color=ACTUAL_COLOUR)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_xlabel(text("tags.figure.share_axis", language))
    ax.set_title(text("tags.figure.coverage", language))
    return fig


def overlap(study: TagStudy, language: str = "en") -> Figure:
    set_style()
    m = study.overlap
    names = [name(study, t, language) for t in m.index]
    fig, ax = plt.subplots(figsize=(8.5, 7.5), layout="constrained")
    im = ax.imshow(m.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=90, fontsize=7)
    ax.set_yticks(range(len(names)), names, fontsize=7)
    fig.colorbar(im, ax=ax, format=PercentFormatter(1.0), shrink=0.7)
    ax.set_title(text("tags.figure.overlap", language), fontsize=10)
    ax.grid(False)
    return fig


def movement(study: TagStudy, language: str = "en") -> Figure:
    set_style()
    mv = study.movement
    wide = mv.pivot(index="date", columns="tag", values="share")
    change = (wide.iloc[-1] - wide.iloc[0]).abs().sort_values(ascending=False)
    fig, ax = plt.subplots(figsize=(7.5, 4.0), layout="constrained")
    for tag in change.index[:MOVEMENT_TAGS]:  # a few lines
        ax.plot(wide.index, wide[tag].to_numpy(), marker="o", ms=3, label=name(study, tag, language))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_title(text("tags.figure.movement", language))
    ax.legend(fontsize=8, loc="best")
    fig.autofmt_xdate()
    return fig


def lift(study: TagStudy, language: str = "en", segment_labels: dict | None = None) -> Figure:
    set_style()
    lf = study.lift.sort_values("lift")
    fig, ax = plt.subplots(figsize=(7.5, max(3.0, 0.25 * len(lf))), layout="constrained")
    y = np.arange(len(lf))
    ax.errorbar(lf["lift"], y, xerr=[lf["lift"] - lf["lift_low"], lf["lift_high"] - lf["lift"]], fmt="o",
                color=ACTUAL_COLOUR, ecolor="#999999", capsize=2)
    ax.axvline(1.0, color=MODEL_COLOUR, lw=1.5)
    ax.set_yticks(y, [name(study, t, language, segment_labels) for t in lf["tag"]])
    ax.set_xlabel(text("tags.figure.lift_axis", language))
    ax.set_title(text("tags.figure.lift", language, days=study.lift_info["holdout_days"]))
    return fig


def portrait_channels(study: TagStudy, language: str = "en", segment_labels: dict | None = None) -> Figure:
    set_style()
    facet = study.portraits["facets"].get("channel")
    fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    if facet is None:
        return fig
    rows = [(segment_labels or {}).get(s, text("tags.table.all", language) if s == "_all" else s) for s in facet.index]
    im = ax.imshow(facet.to_numpy(dtype=float), cmap="Greens", vmin=0, aspect="auto")
    ax.set_xticks(range(facet.shape[1]), [label(c, language) for c in facet.columns], rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    for i in range(facet.shape[0]):  # small grid of annotations
        for j in range(facet.shape[1]):
            ax.text(j, i, f"{facet.iat[i, j]:.0%}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, format=PercentFormatter(1.0))
    ax.set_title(text("tags.figure.portrait_channel", language))
    ax.grid(False)
    return fig


def promotion_score(study: TagStudy, language: str = "en", segment_labels: dict | None = None) -> Figure:
    """Distribution of the promotion-dependence score by segment (box plot)."""
    set_style()
    seg = study.models["segment"].reindex(study.price.index)
    order = [s for s in study.segment_order if (seg == s).any()]
    data = [study.price.loc[seg == s, "promotion_score"].dropna().to_numpy() for s in order]
    fig, ax = plt.subplots(figsize=(7.5, 4.0), layout="constrained")
    ax.boxplot(data, vert=False, showfliers=False)
    ax.set_yticks(range(1, len(order) + 1), [(segment_labels or {}).get(s, s) for s in order])
    ax.axvline(0.5, color=MODEL_COLOUR, lw=1.5, ls="--")
    ax.set_xlabel(text("tags.figure.score_axis", language))
    ax.set_title(text("tags.figure.score", language))
    return fig


__all__ = ["coverage", "lift", "movement", "overlap", "portrait_channels", "promotion_score", "pd"]
