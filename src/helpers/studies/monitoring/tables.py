"""Reader tables of the monitoring page (headers in the page language)."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.i18n import text
from helpers.report.tables import styled
from helpers.studies.loyalty.assumptions import SPECS
from helpers.studies.monitoring.analysis import MonitoringStudy

TIERS = ("bronze", "silver", "gold")


def _h(key: str, language: str) -> str:
    return text(f"monitoring.table.{key}", language)


def _tier(name: str, language: str) -> str:
    return text(f"monitoring.tier.{name}", language) if name in TIERS else str(name)


def monthly(s: MonitoringStudy, months: int = 12, language: str = "en") -> Styler:
    m = s.monthly.tail(months).reset_index()
    m["month"] = m["month"].astype(str)
    cols = {c: _h(c, language) for c in ("month", "issued", "redeemed", "expired", "outstanding")}
    return styled(m.rename(columns=cols), {cols[c]: "{:,.0f}" for c in ("issued", "redeemed", "expired", "outstanding")})


def by_tier(s: MonitoringStudy, language: str = "en") -> Styler:
    t = s.by_tier.reset_index()
    t["tier"] = [_tier(x, language) for x in t["tier"]]
    cols = {c: _h(c, language) for c in ("tier", "issued", "redeemed", "members", "redeemers", "redemption_rate")}
    fmt = {cols[c]: "{:,.0f}" for c in ("issued", "redeemed", "members", "redeemers")}
    fmt[cols["redemption_rate"]] = "{:.1%}"
    return styled(t.rename(columns=cols), fmt)


def flows(s: MonitoringStudy, language: str = "en") -> Styler:
    f = s.flows.copy()
    f.index = [_tier(x, language) for x in f.index]
    f.columns = [_tier(x, language) for x in f.columns]
    f = f.reset_index().rename(columns={"index": _h("flow_corner", language)})
    return styled(f, {c: "{:,.0f}" for c in f.columns[1:]})


def first_redemption(s: MonitoringStudy, language: str = "en") -> Styler:
    f = s.first_redemption.rename(columns={c: _h(f"first_{c}", language) for c in ("days", "members", "redeemed", "share")})
    return styled(f, {_h("first_members", language): "{:,.0f}", _h("first_redeemed", language): "{:,.0f}",
                      _h("first_share", language): "{:.1%}"})


def comparison(s: MonitoringStudy, language: str = "en") -> Styler | None:
    c = s.comparison
    if not c or not c.get("raw"):
        return None
    rows = []
    for o in ("post_spend", "post_orders", "post_active", "post_repeat"):
        rows.append({_h("outcome", language): _h(o, language), _h("users", language): c["user_means"][o],
                     _h("non_users", language): c["non_user_means"][o], _h("raw_gap", language): c["raw"][o],
                     _h("matched_gap", language): c["matched"][o]})
    return styled(pd.DataFrame(rows), {k: "{:,.2f}" for k in (_h("users", language), _h("non_users", language),
                                                              _h("raw_gap", language), _h("matched_gap", language))})


def calibration(s: MonitoringStudy, lab: pd.DataFrame | None = None, language: str = "en") -> Styler:
    rows = [{_h("quantity", language): _h("propensity", language),
             _h("assumed", language): SPECS["redemption_propensity"].default,
             _h("observed", language): s.propensity["propensity"],
             _h("lab_observed", language): float("nan")}]
    if lab is not None:
        rows.append({_h("quantity", language): _h("redemption_rate", language),
                     _h("assumed", language): lab.loc["assumed", "lab_redemption_rate"],
                     _h("observed", language): s.totals["redemption_rate"],
                     _h("lab_observed", language): lab.loc["observed", "lab_redemption_rate"]})
        rows.append({_h("quantity", language): _h("breakage_rate", language),
                     _h("assumed", language): lab.loc["assumed", "lab_breakage_rate"],
                     _h("observed", language): s.totals["breakage_rate"],
                     _h("lab_observed", language): lab.loc["observed", "lab_breakage_rate"]})
    frame = pd.DataFrame(rows)
    return styled(frame, {c: "{:.1%}" for c in frame.columns[1:]})
