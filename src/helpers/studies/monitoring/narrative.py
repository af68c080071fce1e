"""Plain-language text of the programme-monitoring page, written from the numbers.

Every function returns Markdown in the page language ("en" or "zh-CN"; strings in
``helpers/report/locales/<language>/monitoring.yaml``).
"""

from __future__ import annotations

import numpy as np

from helpers.report.formatting import count, money, pct
from helpers.report.i18n import text
from helpers.report.page_text import numbered, sentences
from helpers.studies.loyalty.assumptions import SPECS
from helpers.studies.monitoring.analysis import MonitoringStudy

NOTEBOOK = "monitoring"
#: Observed and assumed redemption propensity differ "materially" beyond this many points.
MATERIAL_GAP = 0.10
#: Breakage of settled points above which expiry reminders are the first action.
HIGH_BREAKAGE = 0.30


def _pct(v: float) -> str:
    return pct(v) if v is not None and np.isfinite(v) else "–"


def title(language: str = "en") -> str:
    return text("monitoring.title.heading", language) + "\n\n" + text("monitoring.title.intro", language)


def headline(s: MonitoringStudy, currency: str = "¥", language: str = "en") -> str:
    t = s.totals
    return text(
        "monitoring.headline", language, start=str(s.period[0].date()), end=str(s.period[1].date()),
        issued=count(t["points_issued"]), redeemed=_pct(t["redemption_rate"]), expired=_pct(t["breakage_rate"]),
        outstanding=count(t["points_outstanding"]), liability=money(t["liability_at_cost"], currency, language),
        deferred=money(t["deferred_revenue"], currency, language), settled=_pct(t["breakage_settled"]),
    )


def actions(s: MonitoringStudy, language: str = "en") -> str:
    items = []
    assumed = SPECS["redemption_propensity"].default
    observed = s.propensity["propensity"]
    if np.isfinite(observed) and abs(observed - assumed) > MATERIAL_GAP:
        items.append(text("monitoring.actions.calibrate", language, observed=_pct(observed), assumed=_pct(assumed)))
    if np.isfinite(s.totals["breakage_settled"]) and s.totals["breakage_settled"] > HIGH_BREAKAGE:
        items.append(text("monitoring.actions.expiry", language, settled=_pct(s.totals["breakage_settled"])))
    by = s.by_tier["redemption_rate"].dropna()
    if len(by) > 1:
        items.append(text("monitoring.actions.tier", language, tier=text(f"monitoring.tier.{by.idxmin()}", language)
                          if by.idxmin() in ("bronze", "silver", "gold") else by.idxmin(), rate=_pct(by.min()),
                          best=_pct(by.max())))
    first = s.first_redemption
    if len(first):
        row = first.iloc[min(1, len(first) - 1)]
        items.append(text("monitoring.actions.first", language, days=int(row["days"]), share=_pct(row["share"])))
    items.append(text("monitoring.actions.accounting", language))
    return numbered(items)


def flows(s: MonitoringStudy, language: str = "en") -> str:
    m = s.monthly
    peak = m["outstanding"].idxmax()
    return text("monitoring.flows", language, months=len(m), peak=str(peak), peak_points=count(m["outstanding"].max()),
                end_points=count(m["outstanding"].iloc[-1]), expiry_months=", ".join(str(p) for p in m.index[m["expired"] > 0]) or "–")


def liability(s: MonitoringStudy, currency: str = "¥", language: str = "en") -> str:
    t = s.totals
    return text(
        "monitoring.liability", language, outstanding=count(t["points_outstanding"]),
        face=money(t["face_value_outstanding"], currency, language), settled=_pct(t["breakage_settled"]),
        cost=money(t["liability_at_cost"], currency, language), deferred=money(t["deferred_revenue"], currency, language),
        ratio=f"{s.economics.reward_cost_ratio:g}", points=f"{s.economics.points_per_currency_redeemed:g}",
    )


def tiers(s: MonitoringStudy, language: str = "en") -> str:
    f = s.flows
    total = int(f.values.sum())
    order = list(f.index)
    up = int(sum(f.iloc[i, j] for i in range(len(order)) for j in range(len(order)) if j > i))
    down = int(sum(f.iloc[i, j] for i in range(len(order)) for j in range(len(order)) if j < i))
    return text("monitoring.tiers", language, start=str(s.flow_dates[0].date()), members=count(total), up=count(up),
                down=count(down), same=count(total - up - down))


def first_redemption(s: MonitoringStudy, language: str = "en") -> str:
    f = s.first_redemption
    med = f.attrs.get("median_days_redeemers", float("nan"))
    return text("monitoring.first_redemption", language, redeemers=count(f.attrs.get("redeemers", 0)),
                median=f"{med:.0f}" if np.isfinite(med) else "–")


def comparison(s: MonitoringStudy, currency: str = "¥", language: str = "en") -> str:
    c = s.comparison
    if not c or not c.get("raw"):
        return text("monitoring.comparison.none", language)
    return text(
        "monitoring.comparison.text", language, days=c["window_days"], users=count(c["users"]),
        matched=count(c["users_matched"]), raw=money(c["raw"]["post_spend"], currency, language),
        adjusted=money(c["matched"]["post_spend"], currency, language),
        pre_users=money(c["pre_spend_users"], currency, language), pre_non=money(c["pre_spend_non_users"], currency, language),
    )


def calibration(s: MonitoringStudy, lab=None, language: str = "en") -> str:
    p = s.propensity
    parts = [text("monitoring.calibration.propensity", language, observed=_pct(p["propensity"]), low=_pct(p["low"]),
                  high=_pct(p["high"]), months=count(p["eligible_member_months"]),
                  threshold=count(s.threshold), assumed=_pct(SPECS["redemption_propensity"].default))]
    if lab is None:
        parts.append(text("monitoring.calibration.switch", language))
    else:
        parts.append(text("monitoring.calibration.lab", language,
                          assumed_red=_pct(lab.loc["assumed", "lab_redemption_rate"]),
                          observed_red=_pct(lab.loc["observed", "lab_redemption_rate"]),
                          assumed_brk=_pct(lab.loc["assumed", "lab_breakage_rate"]),
                          observed_brk=_pct(lab.loc["observed", "lab_breakage_rate"]),
                          ledger_red=_pct(s.totals["redemption_rate"]), ledger_brk=_pct(s.totals["breakage_rate"])))
    return sentences(parts, language)


def method(s: MonitoringStudy, language: str = "en") -> str:
    return text("monitoring.method", language, threshold=count(s.threshold),
                days=(s.comparison or {}).get("window_days", 180))


def headline_numbers(s: MonitoringStudy, currency: str = "¥", language: str = "en") -> dict:
    t = s.totals
    return {
        text("monitoring.index.breakage", language): _pct(t["breakage_rate"]),
        text("monitoring.index.redemption", language): _pct(t["redemption_rate"]),
        text("monitoring.index.liability", language): money(t["liability_at_cost"], currency, language, markdown=False),
    }


def heading(key: str, language: str = "en") -> str:
    """A section heading of this page (``monitoring.heading.<key>``)."""
    return "## " + text(f"monitoring.heading.{key}", language)
