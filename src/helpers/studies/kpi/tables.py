"""Reader tables of the KPI page."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.formatting import money
from helpers.report.i18n import text
from helpers.report.tables import styled
from helpers.studies.kpi.analysis import KPIS, KpiStudy
from helpers.studies.kpi.narrative import LIGHT_SYMBOLS, TREND_SYMBOLS, name, value


def _h(key: str, language: str) -> str:
    return text(f"kpi.table.{key}", language)


def scorecard(s: KpiStudy, currency: str = "¥", language: str = "en") -> Styler:
    card = s.scorecard
    rows = []
    for k in KPIS:
        r = card.loc[k]
        rows.append({
            _h("kpi", language): name(k, language),
            _h("value", language): value(k, r["value"], currency, language, markdown=False),
            _h("target", language): value(k, r["target"], currency, language, markdown=False),
            _h("light", language): f"{LIGHT_SYMBOLS[r['light']]} {text('kpi.light.' + r['light'], language)}",
            _h("trend", language): f"{TREND_SYMBOLS[r['trend']]} {'' if pd.isna(r['trend_change']) else f'{r.trend_change:+.1%}'}",
            _h("source", language): (r["source_zh"] if language == "zh-CN" else r["source"]) or "–",
        })
    return styled(pd.DataFrame(rows))


def monthly(s: KpiStudy, months: int = 13, currency: str = "¥", language: str = "en") -> Styler:
    m = s.monthly.tail(months)
    frame = pd.DataFrame({_h("month", language): m.index.astype(str)})
    for k in KPIS:
        frame[name(k, language)] = [value(k, v, currency, language, markdown=False) for v in m[k]]
    return styled(frame)


def changes(s: KpiStudy, currency: str = "¥", language: str = "en") -> Styler | None:
    if s.changes.empty:
        return None
    rows = []
    for kind, r in s.changes.iterrows():  # two rows: MoM and YoY
        rows.append({
            _h("comparison", language): text(f"kpi.table.{kind}", language, month=r["month"], base=r["base_month"]),
            _h("revenue_before", language): money(r["revenue_before"], currency, language, markdown=False),
            _h("revenue_after", language): money(r["revenue_after"], currency, language, markdown=False),
            _h("change", language): money(r["change"], currency, language, markdown=False),
            _h("from_customers", language): money(r["customers"], currency, language, markdown=False),
            _h("from_frequency", language): money(r["orders_per_customer"], currency, language, markdown=False),
            _h("from_order_value", language): money(r["order_value"], currency, language, markdown=False),
        })
    return styled(pd.DataFrame(rows))


def cohorts(s: KpiStudy, last: int = 12, language: str = "en") -> Styler:
    c = s.cohorts.tail(last).reset_index()
    c["cohort"] = c["cohort"].astype(str)
    cols = {"cohort": _h("cohort", language), "members": _h("members", language)}
    cols.update({col: text("kpi.table.retention", language, k=col.split("_m")[1]) for col in c.columns if col.startswith("retention_m")})
    out = c.rename(columns=cols)
    return styled(out, {v: "{:.1%}" for k, v in cols.items() if k.startswith("retention")} | {cols["members"]: "{:,.0f}"})
