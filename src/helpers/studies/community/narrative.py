"""Plain-language text of the community page (strings in ``helpers/report/locales/<language>/community.yaml``)."""

from __future__ import annotations

import numpy as np

from helpers.report.formatting import count, money, pct
from helpers.report.i18n import text
from helpers.report.page_text import listing, numbered
from helpers.studies.community.analysis import GROUP_TYPES, CommunityStudy

NOTEBOOK = "community"


def _pct(v: float) -> str:
    return pct(v) if v is not None and np.isfinite(v) else "–"


def title(language: str = "en") -> str:
    return text("community.title.heading", language) + "\n\n" + text("community.title.intro", language)


def heading(key: str, language: str = "en") -> str:
    return "## " + text(f"community.heading.{key}", language)


def group_name(gtype: str, language: str = "en") -> str:
    return text(f"community.group.{gtype}", language) if gtype in GROUP_TYPES else str(gtype)


def segment_name(seg: str, language: str = "en") -> str:
    return text(f"community.segment.{seg}", language)


def _join(parts: list[str], language: str) -> str:
    return (" " if language == "en" else "").join(parts)


def headline(s: CommunityStudy, currency: str = "¥", language: str = "en") -> str:
    a, r, v = s.activity, s.referrals, s.value
    rates = listing([f"{group_name(g, language)} {_pct(a.loc[g, 'activity_rate'])}" for g in a.index], language)
    below = [group_name(g, language) for g in a.index if a.loc[g, "activity_rate"] < s.benchmark]
    reach = s.reach["reachable"].sum() / s.reach["customers"].sum() if s.reach["customers"].sum() else float("nan")
    parts = [text("community.headline.activity", language, members=count(a["members_now"].sum()), rates=rates,
                  benchmark=_pct(s.benchmark))]
    if below:
        parts.append(text("community.headline.below", language, groups=listing(below, language)))
    parts.append(text("community.headline.reach", language, reach=_pct(reach)))
    parts.append(text("community.headline.referrals", language, k=f"{r['k_factor']:.2f}", per100=f"{100 * r['k_factor']:.0f}",
                      diff=money(v["difference"], currency, language) if np.isfinite(v["difference"]) else "–",
                      low=money(v["low"], currency, language) if np.isfinite(v["low"]) else "–",
                      high=money(v["high"], currency, language) if np.isfinite(v["high"]) else "–"))
    return _join(parts, language)


def actions(s: CommunityStudy, language: str = "en") -> str:
    items = []
    for g in s.activity.index:
        rate = s.activity.loc[g, "activity_rate"]
        state = "below" if rate < s.benchmark else "above"
        items.append(text(f"community.action.{g}_{state}", language, group=group_name(g, language), rate=_pct(rate),
                          benchmark=_pct(s.benchmark)))
    low = s.reach["reach_share"].idxmin() if len(s.reach) else None
    if low is not None:
        items.append(text("community.action.reach", language, segment=segment_name(low, language),
                          share=_pct(s.reach.loc[low, "reach_share"])))
    items.append(text("community.action.kol", language, n=count(len(s.kols))))
    return numbered(items)


def activity(s: CommunityStudy, language: str = "en") -> str:
    a = s.activity
    best = a["activity_rate"].idxmax()
    return text("community.activity_text", language, best=group_name(best, language), rate=_pct(a.loc[best, "activity_rate"]),
                benchmark=_pct(s.benchmark), months=count(a["member_months"].sum()))


def reach(s: CommunityStudy, language: str = "en") -> str:
    r = s.reach
    high = r.loc["high"] if "high" in r.index else None
    return text("community.reach_text", language,
                high_contact=_pct(high["contact_share"]) if high is not None else "–",
                high_reach=_pct(high["reach_share"]) if high is not None else "–",
                total=_pct(r["reachable"].sum() / r["customers"].sum()))


def referrals(s: CommunityStudy, currency: str = "¥", language: str = "en") -> str:
    r, v = s.referrals, s.value
    return text("community.referral_text", language, invitations=count(r["invitations"]), inviters=count(r["inviters"]),
                conversion=_pct(r["conversion"]), referred=count(r["referred_customers"]), customers=count(r["customers"]),
                k=f"{r['k_factor']:.2f}", top=_pct(r["referrals_by_top_inviters"]), top_share=_pct(r["top_inviter_share"]),
                largest=count(r["largest_tree"]), depth=count(r["deepest_tree"]),
                n_ref=count(v["referred"]), n_non=count(v["non_referred"]),
                ref_mean=money(v["referred_mean"], currency, language) if np.isfinite(v["referred_mean"]) else "–",
                non_mean=money(v["non_referred_mean"], currency, language) if np.isfinite(v["non_referred_mean"]) else "–",
                diff=money(v["difference"], currency, language) if np.isfinite(v["difference"]) else "–",
                low=money(v["low"], currency, language) if np.isfinite(v["low"]) else "–",
                high=money(v["high"], currency, language) if np.isfinite(v["high"]) else "–")


def kols(s: CommunityStudy, language: str = "en") -> str:
    return text("community.kol_text", language, n=count(len(s.kols)))


def method(s: CommunityStudy, language: str = "en") -> str:
    return text("community.method", language, benchmark=_pct(s.benchmark))


def generated_note(generated: bool, language: str = "en") -> str:
    return text("community.generated", language) if generated else ""


def headline_numbers(s: CommunityStudy, language: str = "en") -> dict:
    a = s.activity
    out = {text("community.index.activity", language, group=group_name(g, language)): _pct(a.loc[g, "activity_rate"]) for g in a.index}
    out[text("community.index.k_factor", language)] = f"{s.referrals['k_factor']:.2f}"
    return out
