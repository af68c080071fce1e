"""Figures of the segments overview and the per-segment pages.

Each function returns a matplotlib ``Figure`` (never calls ``plt.show``); the notebook
shows them with :func:`helpers.report.figures.show`, the segment pages embed
:func:`helpers.report.figures.to_png` as a data URI. Titles, axis labels and legends are in the
page language (``segments`` catalog); :func:`helpers.report.figures.set_style` registers a font
that shows Chinese.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import ListedColormap, to_hex
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from helpers.report.figures import ACTUAL_COLOUR, FIGSIZE, MODEL_COLOUR, set_style
from helpers.report.i18n import DEFAULT_LANGUAGE, text
from helpers.studies.segments.analysis import N_SCORES, SegmentMap, migration_labels

GREY = "#d0d7de"


def _palette(n: int) -> list:
    return sns.color_palette("tab20" if n > 10 else "tab10", n)


def score_cell_counts(customers: pd.DataFrame, rows: str, cols: str) -> pd.DataFrame:
    """Customers per (row score, column score) cell, scores 1..5 on both axes (a crosstab
    counted with one bincount over the million rows)."""
    r = customers[f"{rows.lower()}_score"].to_numpy(dtype="int64")
    c = customers[f"{cols.lower()}_score"].to_numpy(dtype="int64")
    ok = (r >= 1) & (r <= N_SCORES) & (c >= 1) & (c <= N_SCORES)
    flat = np.bincount((r[ok] - 1) * N_SCORES + (c[ok] - 1), minlength=N_SCORES * N_SCORES)
    scores = range(1, N_SCORES + 1)
    return pd.DataFrame(flat.reshape(N_SCORES, N_SCORES), index=scores, columns=scores)


def segment_grid(segment_map: SegmentMap, customers: pd.DataFrame, highlight: str | None = None,
                 *, small: bool = False, language: str = DEFAULT_LANGUAGE) -> Figure | None:
    """The two-axis score grid, cells coloured by segment with customer counts.

    With ``highlight`` the other segments are grey and only its name is shown. Returns None
    for maps that do not have exactly two axes (a 3-axis map has no flat grid to draw).
    """
    if len(segment_map.axes) != 2:
        return None
    set_style()
    segment_map = segment_map.localised(language)
    rows, cols = segment_map.axes
    colours = _palette(len(segment_map.keys))
    if highlight is not None:
        mine = segment_map.keys.index(highlight)
        colours = [colour if i == mine else GREY for i, colour in enumerate(colours)]
    fig, ax = plt.subplots(figsize=(4.6, 3.6) if small else (7.5, 5.2), layout="constrained")
    ax.imshow(segment_map.lookup[::-1, :],  # [row score - 1, col score - 1]; best row score at the top
              cmap=ListedColormap(colours), vmin=-0.5, vmax=len(colours) - 0.5, aspect="auto")
    counts = score_cell_counts(customers, rows, cols)
    for i in range(N_SCORES):
        for j in range(N_SCORES):
            ax.text(j, i, f"{counts.loc[N_SCORES - i, j + 1]:,}", ha="center", va="center",
                    fontsize=8 if small else 9, color="black")
    for seg in segment_map.segments:  # each segment named once, at its central cell
        if highlight is None or seg.key == highlight:
            row_score, col_score = label_cell(seg.cells)
            ax.text(col_score - 1, N_SCORES - row_score - 0.3, seg.label, ha="center", va="center",
                    fontsize=7 if small else 8, weight="bold", color="black", wrap=True)
    ax.set_xticks(range(N_SCORES), [str(s) for s in range(1, N_SCORES + 1)])
    ax.set_yticks(range(N_SCORES), [str(s) for s in range(N_SCORES, 0, -1)])
    ax.set(xlabel=text("segments.figure.score_axis", language, axis=cols),
           ylabel=text("segments.figure.score_axis", language, axis=rows))
    ax.grid(False)
    ax.set_title(text("segments.figure.grid_title", language) if highlight is None
                 else text("segments.figure.grid_title_segment", language, segment=segment_map.labels[highlight]))
    return fig


def segment_colours(segment_map: SegmentMap) -> list[str]:
    """Each segment's colour in the score grid (hex, in the map's segment order)."""
    return [to_hex(c) for c in _palette(len(segment_map.keys))]


def label_cell(cells: tuple[tuple[int, ...], ...]) -> tuple[int, ...]:
    """The cell (scores) where the grid names a segment: of its cells, the one nearest
    their centre (the first of equals)."""
    points = np.array(cells)
    centre = points.mean(axis=0)
    return tuple(int(v) for v in points[np.argmin(((points - centre) ** 2).sum(axis=1))])


def segment_shares(summary: pd.DataFrame, language: str = DEFAULT_LANGUAGE, *,
                   segment_map: SegmentMap | None = None) -> Figure:
    """Horizontal bars: each segment's share of customers, past revenue and predicted CLV.

    Segment names are the summary's ``label`` column, or ``segment_map``'s in ``language``."""
    set_style()
    labels = (
        summary["label"].to_numpy() if segment_map is None
        else np.array([segment_map.localised(language).labels[k] for k in summary.index], dtype=object)
    )
    measures = [text(f"segments.figure.measure_{m}", language) for m in ("customers", "revenue", "clv")]
    long = pd.DataFrame(
        {
            "segment": np.repeat(labels, 3),
            "measure": np.tile(measures, len(summary)),
            "share": summary[["customer_share", "revenue_share", "clv_share"]].to_numpy().ravel(),
        }
    )
    height = max(FIGSIZE[1], 0.45 * len(summary) + 1.2)
    fig, ax = plt.subplots(figsize=(FIGSIZE[0], height), layout="constrained")
    sns.barplot(long, y="segment", x="share", hue="measure", ax=ax, orient="h",
                palette=[GREY, ACTUAL_COLOUR, MODEL_COLOUR])
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(title=text("segments.figure.shares_title", language),
           xlabel=text("segments.figure.share_of_total", language), ylabel="")
    ax.legend(title="", loc="lower right")
    return fig


def migration_heatmap(matrix: pd.DataFrame, segment_map: SegmentMap, *, migration_from: str, as_of: str,
                      language: str = DEFAULT_LANGUAGE) -> Figure:
    """Row shares of the migration matrix, annotated with counts."""
    set_style()
    labels = {**segment_map.localised(language).labels, **migration_labels(language)}
    totals = matrix.sum(axis=1)
    shares = matrix.div(totals.where(totals > 0), axis=0).fillna(0.0)
    annot = np.array([[f"{c:,}" if c else "" for c in row] for row in matrix.to_numpy()])
    fig, ax = plt.subplots(figsize=(8.5, 6.2), layout="constrained")
    sns.heatmap(
        shares.rename(index=labels, columns=labels), annot=annot, fmt="", cmap="Blues", vmin=0, vmax=1, ax=ax,
        cbar_kws={"format": PercentFormatter(1.0), "label": text("segments.figure.row_share", language)},
        linewidths=0.5, linecolor="white",
        annot_kws={"fontsize": 8},
    )
    ax.set(title=text("segments.figure.migration_title", language, start=migration_from, end=as_of),
           xlabel=text("segments.figure.segment_on", language, date=as_of),
           ylabel=text("segments.figure.segment_on", language, date=migration_from))
    ax.tick_params(axis="x", rotation=40)
    plt.setp(ax.get_xticklabels(), ha="right")
    return fig
