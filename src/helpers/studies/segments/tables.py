"""Reader-facing tables of the segments overview (built on :func:`helpers.report.tables.styled`).

Headers come from the ``segments`` catalog in the page language; segment and tier
names from the segment map and the ``segments`` catalog in that language.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.i18n import DEFAULT_LANGUAGE, is_chinese, text
from helpers.report.tables import column_table, styled
from helpers.studies.segments.actions import ActionLibrary, Guardrail
from helpers.studies.segments.analysis import (
    SegmentMap,
    migration_labels,
    score_text,
    tier_labels,
)


def _left(styler: Styler, columns: list[str]) -> Styler:
    """Text columns read better left-aligned (the page aligns table cells right for numbers)."""
    return styler.set_properties(subset=columns, **{"text-align": "left"})


def _depth(g: Guardrail) -> float:
    return g.max_depth if np.isfinite(g.max_depth) else np.nan


def _header(name: str, language: str, **values: str) -> str:
    return text(f"segments.table.{name}", language, **values)


def _segment_labels(summary: pd.DataFrame, segment_map: SegmentMap | None, language: str) -> pd.Series:
    """The segment names of a summary's rows: from the map in ``language`` when given,
    else the summary's own ``label`` column."""
    if segment_map is None:
        return summary["label"]
    labels = segment_map.localised(language).labels
    return pd.Series([labels[k] for k in summary.index], index=summary.index)


def _share_columns(summary: pd.DataFrame) -> list[tuple[str, object, str]]:
    """The size and value-share columns the segment and tier tables both show."""
    return [
        ("customers", summary["customers"], "{:,.0f}"), ("customer_share", summary["customer_share"], "{:.1%}"),
        ("revenue_share", summary["revenue_share"], "{:.1%}"), ("clv_share", summary["clv_share"], "{:.1%}"),
        ("clv_per_customer", summary["clv_per_customer"], "{:,.2f}"),
    ]


def overview(summary: pd.DataFrame, guardrails: dict[str, Guardrail], currency: str = "$", *,
             segment_map: SegmentMap | None = None, language: str = DEFAULT_LANGUAGE) -> Styler:
    """One row per segment: size, value shares, CLV, RFM averages and the discount cap.

    Segment names are the summary's ``label`` column, or ``segment_map``'s in ``language``."""
    def header(name: str) -> str:
        return _header(name, language, currency=currency)

    columns = [
        ("segment", _segment_labels(summary, segment_map, language), None),
        *_share_columns(summary),
        ("clv_at_risk", summary["clv_at_risk"], "{:,.0f}"),
        ("recency", summary["recency_days"], "{:,.0f}"),
        ("purchase_days", summary["purchase_days"], "{:.1f}"),
        ("order_value", summary["order_value"], "{:,.2f}"),
        ("max_discount", [_depth(guardrails[k]) for k in summary.index], "{:.1%}"),
    ]
    return _left(column_table(columns, header), [header("segment")])


def migration(matrix: pd.DataFrame, segment_map: SegmentMap, language: str = DEFAULT_LANGUAGE) -> Styler:
    """The migration matrix with segment labels (counts)."""
    labels = {**segment_map.localised(language).labels, **migration_labels(language)}
    corner, total = _header("from_to", language), _header("total", language)
    view = matrix.rename(index=labels, columns=labels)
    view.insert(0, corner, view.index)
    view[total] = matrix.sum(axis=1).to_numpy()
    return _left(styled(view.reset_index(drop=True), {c: "{:,.0f}" for c in view.columns if c != corner}), [corner])


def _tier_play(objective: str, actions: tuple[str, ...], language: str) -> str:
    """A tier's objective and actions in one cell: "Objective. Action; action."."""
    if is_chinese(language):
        return objective + "；".join(actions) + "。"
    return objective + " " + "; ".join(actions) + "."


def tiers(summary: pd.DataFrame, library: ActionLibrary, view_name: str, currency: str = "$",
          language: str = DEFAULT_LANGUAGE) -> Styler:
    """One row per tier of a view, with the library's objective when it has one."""
    plays = library.localised(language).tiers.get(view_name, {})

    def header(name: str) -> str:
        return _header(name, language, currency=currency)

    names = tier_labels(view_name, language)
    columns = [("tier", [names.get(k, label) for k, label in summary["label"].items()], None), *_share_columns(summary)]
    if plays:
        columns.append(
            ("what_to_do", [_tier_play(plays[k].objective, plays[k].actions, language) for k in summary.index], None)
        )
    styler = _left(column_table(columns, header), [header("tier")])
    if plays:
        styler = styler.set_properties(subset=[header("what_to_do")], **{"white-space": "normal", "text-align": "left",
                                                                         "min-width": "18em"})
    return styler


def segment_map_table(segment_map: SegmentMap, language: str | None = None) -> Styler:
    """The segment map as a reader sees it: scores per axis and the definition
    (``language``: default the map's)."""
    lang = language or segment_map.language
    segment_map = segment_map.localised(lang)
    segment, cells, definition = (_header(name, lang) for name in ("segment", "cells", "definition"))
    rows = []
    for seg in segment_map.segments:
        row = {segment: seg.label}
        if seg.scores:
            for axis in segment_map.axes:
                row[axis] = score_text(seg.scores[axis], lang)
        else:
            row[cells] = segment_map.describe_scores(seg.key, lang)
        row[definition] = seg.definition
        rows.append(row)
    frame = pd.DataFrame(rows).fillna("")
    styler = _left(styled(frame), [c for c in frame.columns if c != definition])
    return styler.set_properties(subset=[definition], **{"white-space": "normal", "text-align": "left"})


def category_pairs(pairs: pd.DataFrame, n: int = 10, language: str = DEFAULT_LANGUAGE) -> Styler:
    """The strongest usable category pairs (one direction of each pair: the higher confidence)."""
    usable = pairs[pairs["usable"]].copy()
    key = usable[["antecedent", "consequent"]].apply(lambda s: s.astype(str))
    usable["pair"] = np.where(key["antecedent"] < key["consequent"], key["antecedent"] + "|" + key["consequent"],
                              key["consequent"] + "|" + key["antecedent"])
    usable = usable.sort_values(["lift", "confidence"], ascending=False, kind="stable").drop_duplicates("pair")
    h = {column: _header(name, language) for column, name in (
        ("antecedent", "bought"), ("consequent", "suggest"), ("customers_both", "both"), ("confidence", "confidence"),
        ("lift", "lift"),
    )}
    view = usable.head(n).rename(columns=h)[list(h.values())]
    return _left(styled(view, {h["customers_both"]: "{:,.0f}", h["confidence"]: "{:.0%}", h["lift"]: "{:.2f}"}),
                 [h["antecedent"], h["consequent"]])


def activation_files(summary: pd.DataFrame, folder: str, *, segment_map: SegmentMap | None = None,
                     language: str = DEFAULT_LANGUAGE) -> Styler:
    """Which file holds which segment's list."""
    segment, customers, file = (_header(name, language) for name in ("segment", "customers", "file"))
    view = pd.DataFrame(
        {
            segment: _segment_labels(summary, segment_map, language),
            customers: summary["customers"],
            file: [f"{folder.rstrip('/')}/{k}.csv" for k in summary.index],
        }
    )
    return _left(styled(view, {customers: "{:,.0f}"}), [segment, file])
