"""Reader tables of the tags page (:func:`helpers.report.tables.styled`, which HTML-escapes
every cell and header)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.formatting import money
from helpers.report.i18n import text
from helpers.report.tables import styled
from helpers.studies.tags.analysis import MIN_LIFT_CUSTOMERS, TagStudy
from helpers.studies.tags.narrative import CURRENCY, name


def _e(value: object) -> str:
    # styled() escapes every cell and header; the text goes in as it is
    return str(value)


def _h(key: str, language: str) -> str:
    return text(f"tags.table.{key}", language)


def library_table(study: TagStudy, language: str = "en") -> Styler:
    """Every tag of the library: group, kind, definition, customers and share (per-category
    tags summed as "any category")."""
    rows = []
    n = len(study.flags)
    for t in study.library.tags:  # loop over tags
        if t.id in study.base:
            k = int(study.base[t.id].sum())
        else:  # per-value tags: customers with any value
            parts = [c for c in study.flags.columns if c.startswith(f"{t.id}:")]
            k = int(study.flags[parts].any(axis=1).sum()) if parts else 0
        rows.append({
            _h("tag", language): _e(t.name[language]),
            _h("group", language): _e(study.library.groups.get(t.group, {}).get(language, t.group)),
            _h("kind", language): _e(text(f"tags.kinds.{t.kind}", language)),
            _h("definition", language): _e(t.definition[language]),
            _h("customers", language): k,
            _h("share", language): k / n if n else np.nan,
        })
    frame = pd.DataFrame(rows)
    return styled(frame, {_h("customers", language): "{:,.0f}", _h("share", language): "{:.1%}"})


def value_lift_table(study: TagStudy, language: str = "en", segment_labels: dict | None = None) -> Styler:
    """Per tag: customers, mean predicted CLV, repeat rate, next-quarter purchase rate and lift."""
    v = study.value[study.value["tag"] != "_all"].set_index("tag")
    lf = study.lift.set_index("tag")
    frame = pd.DataFrame({
        _h("tag", language): [_e(name(study, t, language, segment_labels)) for t in v.index],
        _h("customers", language): v["customers"].to_numpy(),
        _h("mean_clv", language): [money(x, CURRENCY, language, markdown=False) if np.isfinite(x) else "–" for x in v["mean_clv"]],
        _h("repeat_rate", language): v["repeat_rate"].to_numpy(),
        _h("rate", language): lf["rate"].reindex(v.index).to_numpy(),
        _h("lift", language): lf["lift"].reindex(v.index).to_numpy(),
        _h("interval", language): [
            f"{lo:.2f}–{hi:.2f}" if np.isfinite(lo) else "–"
            for lo, hi in zip(lf["lift_low"].reindex(v.index), lf["lift_high"].reindex(v.index))
        ],
    })
    frame = frame.sort_values(_h("lift", language), ascending=False, na_position="last", kind="stable")
    return styled(frame, {_h("customers", language): "{:,.0f}", _h("repeat_rate", language): "{:.0%}",
                          _h("rate", language): "{:.0%}", _h("lift", language): "{:.2f}"})


def segment_table(study: TagStudy, language: str = "en", segment_labels: dict | None = None, top: int = 12) -> Styler:
    """Share of each segment with the ``top`` most common tags (segment tags left out)."""
    table = study.by_segment.drop(columns=[c for c in study.by_segment.columns if c == "segment"], errors="ignore")
    cols = study.base.drop(columns=["segment"], errors="ignore").mean().sort_values(ascending=False).index[:top]
    table = table[[c for c in cols if c in table.columns]]
    frame = table.copy()
    frame.columns = [_e(name(study, c, language)) for c in frame.columns]
    frame.insert(0, _h("segment", language), [_e((segment_labels or {}).get(s, s)) for s in frame.index])
    return styled(frame.reset_index(drop=True), {c: "{:.0%}" for c in frame.columns[1:]})


def promotion_table(study: TagStudy, language: str = "en") -> Styler:
    """Big-promotion-only, promotion-sensitive and full-price customers compared."""
    rows = []
    for key, g in study.promotion["groups"].items():
        rows.append({
            _h("group_name", language): _e(text(f"tags.groups.{key}", language)),
            _h("customers", language): g["customers"],
            _h("mean_clv", language): money(g["mean_clv"], CURRENCY, language, markdown=False) if np.isfinite(g["mean_clv"]) else "–",
            _h("repeat_rate", language): g["repeat_rate"],
            _h("p_alive", language): g["p_alive_repeat"],
            _h("active", language): g["active_share"],
        })
    frame = pd.DataFrame(rows)
    return styled(frame, {_h("customers", language): "{:,.0f}", _h("repeat_rate", language): "{:.0%}",
                          _h("p_alive", language): "{:.2f}", _h("active", language): "{:.0%}"})


def guardrail_table(study: TagStudy, language: str = "en") -> Styler | None:
    g = study.guardrail
    if g is None:
        return None
    summary = g.groupby("discount_rule").agg(customers=("max_discount", "size"), total=("max_discount", "sum"))
    frame = pd.DataFrame({
        _h("rule", language): [_e(text(f"tags.rules.{r}", language)) for r in summary.index],
        _h("customers", language): summary["customers"].to_numpy(),
        _h("max_discount", language): [money(x, CURRENCY, language, markdown=False) for x in summary["total"]],
    })
    return styled(frame, {_h("customers", language): "{:,.0f}"})


__all__ = ["MIN_LIFT_CUSTOMERS", "guardrail_table", "library_table", "promotion_table", "segment_table", "value_lift_table"]
