"""Reader tables of the campaign readout page (headers in the page language; ``styled`` escapes every cell)."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.formatting import money
from helpers.report.i18n import text
from helpers.report.tables import styled
from helpers.studies.campaigns.analysis import CampaignStudy
from helpers.studies.campaigns.narrative import CURRENCY, name, points, share


def _h(key: str, language: str) -> str:
    return text(f"campaigns.table.{key}", language)


def _interval(low: pd.Series, high: pd.Series) -> list[str]:
    return [f"{points(a)} … {points(b)}" for a, b in zip(low, high)]


def funnel_view(frame: pd.DataFrame, group: str, language: str = "en") -> Styler:
    """The funnel by coupon type (``group="coupon_type"``) or segment (``"segment"``)."""
    lang = language
    out = pd.DataFrame({
        _h("type" if group == "coupon_type" else "segment", lang): [name(group, g, lang, escaped=False) for g in frame["group"]],
        _h("treated", lang): frame["treated"].map("{:,.0f}".format),
        _h("redeemed", lang): frame["redeemed"].map(lambda v: "–" if pd.isna(v) else f"{v:,.0f}"),
        _h("rate_treated", lang): frame["conversion_treated"].map(share),
        _h("rate_holdout", lang): frame["conversion_holdout"].map(share),
        _h("uplift", lang): frame["uplift"].map(points),
        _h("interval", lang): _interval(frame["uplift_low"], frame["uplift_high"]),
        _h("extra_orders", lang): frame["incremental_orders"].map(lambda v: "–" if pd.isna(v) else f"{v:,.0f}"),
        _h("cost_per", lang): frame["cost_per_incremental_order"].map(
            lambda v: "–" if pd.isna(v) else money(v, CURRENCY, lang, markdown=False)),
        _h("cannibalised", lang): frame["cannibalised_share"].map(share),
    })
    return styled(out)


def segments_view(study: CampaignStudy, language: str = "en") -> Styler:
    lang = language
    t = study.segments.table
    out = pd.DataFrame({
        _h("segment", lang): [name("segment", s, lang, escaped=False) for s in t["segment"]],
        _h("treated", lang): t["n_treatment"].map("{:,.0f}".format),
        _h("holdout", lang): t["n_control"].map("{:,.0f}".format),
        _h("uplift", lang): t["difference"].map(points),
        _h("interval", lang): _interval(t["ci_low"], t["ci_high"]),
        _h("simultaneous", lang): _interval(t["ci_low_simultaneous"], t["ci_high_simultaneous"]),
        _h("decision", lang): [text(f"campaigns.decision.{d}", lang) for d in t["decision"]],
    })
    return styled(out)


def messages_view(study: CampaignStudy, language: str = "en") -> Styler | None:
    if study.messages is None:
        return None
    lang = language
    m = study.messages
    out = pd.DataFrame({
        _h("metric", lang): [name("metric", v, lang, escaped=False) for v in m["metric"]],
        _h("personalised", lang): m["personalised"].map(share),
        _h("broadcast", lang): m["broadcast"].map(share),
        _h("difference", lang): m["difference"].map(points),
        _h("interval", lang): _interval(m["ci_low"], m["ci_high"]),
        _h("ratio", lang): [f"{r:.2f} ({a:.2f} … {b:.2f})" for r, a, b in zip(m["ratio"], m["ratio_low"], m["ratio_high"])],
    })
    return styled(out)
