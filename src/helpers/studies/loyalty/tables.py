"""Reader-facing tables of the loyalty lab (styled with :func:`helpers.report.tables.styled`).

Headers and labels are in the page language (catalog ``loyalty.table``); numbers are
formatted the same way in every language.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.i18n import text
from helpers.report.tables import column_table, styled
from helpers.studies.loyalty import assumptions as A
from helpers.studies.loyalty.base import segment_label
from helpers.studies.loyalty.design import activity_label
from helpers.studies.loyalty.results import DesignResult, Lab

#: Rows of a design's results table: metric (its label is ``loyalty.table.result.<metric>``) and
#: kind ("money", "pct", "count").
RESULT_ROWS = (
    ("revenue_base", "money"),
    ("incremental_revenue", "money"),
    ("incremental_margin", "money"),
    ("reward_cost", "money"),
    ("benefit_cost", "money"),
    ("trigger_cost", "money"),
    ("member_cost", "money"),
    ("fixed_cost", "money"),
    ("liability_cost", "money"),
    ("total_cost", "money"),
    ("profit", "money"),
    ("roi", "pct"),
    ("members", "count"),
    ("effective_lift", "pct"),
    ("points_earned", "count"),
    ("points_redeemed", "count"),
    ("points_expired", "count"),
    ("breakage_rate", "pct"),
    ("liability_face", "money"),
)


#: Long text columns (what an assumption means, where it comes from) wrap instead of running off the page.
_WRAP = {"white-space": "normal", "text-align": "left", "min-width": "16em"}


def _wrapped(styler: Styler, columns: list[str]) -> Styler:
    return styler.set_properties(subset=columns, **_WRAP)


def _t(key: str, language: str, **values) -> str:
    return text(f"loyalty.table.{key}", language, **values)


def _fmt(kind: str, currency: str):
    def money(v):
        return "–" if not np.isfinite(v) else f"{currency}{v:,.0f}" if v >= 0 else f"-{currency}{-v:,.0f}"

    return {
        "money": money,
        "pct": lambda v: "–" if not np.isfinite(v) else f"{v:+.1%}" if v < 0 else f"{v:.1%}",
        "count": lambda v: "–" if not np.isfinite(v) else f"{v:,.0f}",
    }[kind]


def comparison(lab: Lab, currency: str = "$", language: str = "en") -> Styler:
    """The headline table across designs."""
    table = lab.comparison_in(language)
    intervals = [
        text("loyalty.interval", language, low=f"{lo:+.0%}", high=f"{hi:+.0%}")
        for lo, hi in zip(table["roi_low"], table["roi_high"])
    ]
    return column_table([
        ("design", table["design"], None), ("expected_roi", table["roi"], "{:+.0%}"), ("roi_range", intervals, None),
        ("expected_profit", table["profit"], "{:,.0f}"), ("runs_with_profit", table["probability_profit"], "{:.0%}"),
        ("lift_expected", table["effective_lift"], "{:.1%}"), ("break_even_lift", table["break_even_lift"], "{:.1%}"),
        ("liability", table["liability_face"], "{:,.0f}"), ("breakage", table["breakage_rate"], "{:.0%}"),
        ("members", table["members"], "{:,.0f}"),
    ], lambda key: _t(key, language, currency=currency))


def results(r: DesignResult, currency: str = "$", language: str = "en") -> Styler:
    """A design's results with their intervals across runs."""
    lang = language
    expected, low, high = _t("expected", lang), _t("low", lang), _t("high", lang)
    rows = []
    for key, kind in RESULT_ROWS:
        if key not in r.summary.index:
            continue
        mean, lo, hi = (r.summary.loc[key, c] for c in ("mean", "low", "high"))
        fmt = _fmt(kind, currency)
        rows.append({"": _t(f"result.{key}", lang), expected: fmt(mean), low: fmt(lo), high: fmt(hi)})
    return styled(pd.DataFrame(rows))


def segments(r: DesignResult, currency: str = "$", language: str = "en") -> Styler:
    """A design's results by value segment."""
    lang = language
    money_keys = ("revenue_base", "incremental_revenue", "incremental_margin", "variable_cost", "contribution")
    headers = {key: _t(key, lang, currency=currency)
               for key in ("segment", "customers", "members", *money_keys, "roi_before_fixed")}
    view = r.segments.assign(segment=[segment_label(s, lang) for s in r.segments["segment"]]).rename(columns=headers)
    return styled(view, {**{headers[k]: "{:,.0f}" for k in money_keys}, headers["customers"]: "{:,.0f}",
                         headers["members"]: "{:,.0f}", headers["roi_before_fixed"]: "{:+.0%}"})


def assumptions(values: dict, design=None, language: str = "en") -> Styler:
    """The behavioural assumptions used, with their range and source."""
    lang = language
    table = A.table(values, design, lang)
    keys = {"assumption": "assumption", "parameter": "parameter", "value": "value", "low": "low_range",
            "high": "high_range", "meaning": "meaning", "source": "source"}
    headers = {column: _t(key, lang) for column, key in keys.items()}
    view = table.rename(columns=headers).drop(columns=["default"])
    return _wrapped(
        styled(view, {headers["value"]: "{:g}", headers["low"]: "{:g}", headers["high"]: "{:g}"}),
        [headers["meaning"], headers["source"]],
    )


def assumptions_by_design(lab: Lab, language: str = "en") -> Styler:
    """Assumption values used by each design (blank: does not apply to that design)."""
    lang = language
    h = {key: _t(key, lang) for key in ("assumption", "parameter", "default", "range")}
    names = [r.display_name(lang) for r in lab.results]
    rows = []
    for name, spec in A.SPECS.items():
        row = {h["assumption"]: A.label(name, lang), h["parameter"]: name, h["default"]: spec.default,
               h["range"]: f"{spec.low:g} – {spec.high:g}"}
        for r, shown in zip(lab.results, names):
            row[shown] = r.sim.values[name] if A.relevant(r.design, name) else np.nan
        rows.append(row)
    view = pd.DataFrame(rows)
    return styled(view, {h["default"]: "{:g}", **{shown: "{:g}" for shown in names}})


def sources(language: str = "en") -> Styler:
    """Where each default comes from."""
    lang = language
    meaning, where = _t("what_it_means", lang), _t("where_from", lang)
    view = pd.DataFrame(
        [{_t("assumption", lang): A.label(name, lang), meaning: A.meaning(name, lang), where: A.source(name, lang)}
         for name in A.SPECS]
    )
    return _wrapped(styled(view), [meaning, where])


def activity_rates(values: dict, language: str = "en") -> Styler:
    rates = values["activity_rates"]
    activity, rate = _t("activity", language), _t("rate", language)
    view = pd.DataFrame({activity: [activity_label(k, language) for k in rates], rate: list(rates.values())})
    return styled(view, {rate: "{:g}"})


def sensitivity(r: DesignResult, language: str = "en") -> Styler:
    """The tornado chart's numbers: each assumption at its low and high value."""
    from helpers.studies.loyalty.figures import _short

    lang = language
    sens = r.sensitivity
    h = {key: _t(key, lang) for key in ("assumption", "low_value", "high_value", "roi_low", "roi_high")}
    view = pd.DataFrame(
        {
            h["assumption"]: [A.label(p, lang) for p in sens["parameter"]],
            h["low_value"]: [_short(v, p) for v, p in zip(sens["low_value"], sens["parameter"])],
            h["high_value"]: [_short(v, p) for v, p in zip(sens["high_value"], sens["parameter"])],
            h["roi_low"]: sens["roi_low"],
            h["roi_high"]: sens["roi_high"],
        }
    )
    return styled(view, {h["roi_low"]: "{:+.0%}", h["roi_high"]: "{:+.0%}"})
