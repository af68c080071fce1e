"""Reader-facing tables of the segments overview (built on :func:`helpers.tables.styled`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from .actions import ActionLibrary, Guardrail
from .segments import (
    GONE_CUSTOMERS,
    GONE_CUSTOMERS_LABEL,
    NEW_CUSTOMERS,
    NEW_CUSTOMERS_LABEL,
    SegmentMap,
    score_text,
)
from .tables import styled


def _left(styler: Styler, columns: list[str]) -> Styler:
    """Text columns read better left-aligned (the page aligns table cells right for numbers)."""
    return styler.set_properties(subset=columns, **{"text-align": "left"})


def _depth(g: Guardrail) -> float:
    return g.max_depth if np.isfinite(g.max_depth) else np.nan


def overview(summary: pd.DataFrame, guardrails: dict[str, Guardrail], currency: str = "$") -> Styler:
    """One row per segment: size, value shares, CLV, RFM averages and the discount cap."""
    view = pd.DataFrame(
        {
            "Segment": summary["label"],
            "Customers": summary["customers"],
            "% customers": summary["customer_share"],
            "% past revenue": summary["revenue_share"],
            "% predicted CLV": summary["clv_share"],
            f"CLV per customer ({currency})": summary["clv_per_customer"],
            f"CLV at risk ({currency})": summary["clv_at_risk"],
            "Days since last purchase": summary["recency_days"],
            "Purchase days": summary["purchase_days"],
            f"Order value ({currency})": summary["order_value"],
            "Max discount": [_depth(guardrails[k]) for k in summary.index],
        }
    )
    return _left(styled(
        view,
        {
            "Customers": "{:,.0f}", "% customers": "{:.1%}", "% past revenue": "{:.1%}", "% predicted CLV": "{:.1%}",
            f"CLV per customer ({currency})": "{:,.2f}", f"CLV at risk ({currency})": "{:,.0f}",
            "Days since last purchase": "{:,.0f}", "Purchase days": "{:.1f}", f"Order value ({currency})": "{:,.2f}",
            "Max discount": "{:.1%}",
        },
    ), ["Segment"])


def migration(matrix: pd.DataFrame, segment_map: SegmentMap) -> Styler:
    """The migration matrix with segment labels (counts)."""
    labels = {**segment_map.labels, NEW_CUSTOMERS: NEW_CUSTOMERS_LABEL, GONE_CUSTOMERS: GONE_CUSTOMERS_LABEL}
    view = matrix.rename(index=labels, columns=labels)
    view.insert(0, "From \\ to", view.index)
    view["Total"] = matrix.sum(axis=1).to_numpy()
    return _left(styled(view.reset_index(drop=True), {c: "{:,.0f}" for c in view.columns if c != "From \\ to"}),
                 ["From \\ to"])


def tiers(summary: pd.DataFrame, library: ActionLibrary, view_name: str, currency: str = "$") -> Styler:
    """One row per tier of a view, with the library's objective when it has one."""
    plays = library.tiers.get(view_name, {})
    view = pd.DataFrame(
        {
            "Tier": summary["label"],
            "Customers": summary["customers"],
            "% customers": summary["customer_share"],
            "% past revenue": summary["revenue_share"],
            "% predicted CLV": summary["clv_share"],
            f"CLV per customer ({currency})": summary["clv_per_customer"],
        }
    )
    if plays:
        view["What to do"] = [plays[k].objective + " " + "; ".join(plays[k].actions) + "." for k in summary.index]
    styler = styled(
        view,
        {"Customers": "{:,.0f}", "% customers": "{:.1%}", "% past revenue": "{:.1%}", "% predicted CLV": "{:.1%}",
         f"CLV per customer ({currency})": "{:,.2f}"},
    )
    styler = _left(styler, ["Tier"])
    if plays:
        styler = styler.set_properties(subset=["What to do"], **{"white-space": "normal", "text-align": "left",
                                                                 "min-width": "18em"})
    return styler


def segment_map_table(segment_map: SegmentMap) -> Styler:
    """The segment map as a reader sees it: scores per axis and the definition."""
    rows = []
    for seg in segment_map.segments:
        row = {"Segment": seg.label}
        if seg.scores:
            for axis in segment_map.axes:
                row[axis] = score_text(seg.scores[axis])
        else:
            row["Cells"] = segment_map.describe_scores(seg.key)
        row["Definition"] = seg.definition
        rows.append(row)
    frame = pd.DataFrame(rows).fillna("")
    styler = _left(styled(frame), [c for c in frame.columns if c != "Definition"])
    return styler.set_properties(subset=["Definition"], **{"white-space": "normal", "text-align": "left"})


def category_pairs(pairs: pd.DataFrame, n: int = 10) -> Styler:
    """The strongest usable category pairs (one direction of each pair: the higher confidence)."""
    usable = pairs[pairs["usable"]].copy()
    key = usable[["antecedent", "consequent"]].apply(lambda s: s.astype(str))
    usable["pair"] = np.where(key["antecedent"] < key["consequent"], key["antecedent"] + "|" + key["consequent"],
                              key["consequent"] + "|" + key["antecedent"])
    usable = usable.sort_values(["lift", "confidence"], ascending=False, kind="stable").drop_duplicates("pair")
    view = usable.head(n).rename(
        columns={"antecedent": "Bought", "consequent": "Suggest", "customers_both": "Customers buying both",
                 "confidence": "Confidence", "lift": "Lift"}
    )[["Bought", "Suggest", "Customers buying both", "Confidence", "Lift"]]
    return _left(styled(view, {"Customers buying both": "{:,.0f}", "Confidence": "{:.0%}", "Lift": "{:.2f}"}),
                 ["Bought", "Suggest"])


def activation_files(summary: pd.DataFrame, folder: str) -> Styler:
    """Which file holds which segment's list."""
    view = pd.DataFrame(
        {
            "Segment": summary["label"],
            "Customers": summary["customers"],
            "File": [f"{folder.rstrip('/')}/{k}.csv" for k in summary.index],
        }
    )
    return _left(styled(view, {"Customers": "{:,.0f}"}), ["Segment", "File"])
