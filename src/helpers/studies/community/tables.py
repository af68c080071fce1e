"""Reader tables of the community page; customer ids pseudonymised unless raw ids are allowed."""

from __future__ import annotations

from pandas.io.formats.style import Styler

from helpers.data.privacy import display_ids
from helpers.report.i18n import text
from helpers.report.tables import column_table
from helpers.studies.community.analysis import CommunityStudy
from helpers.studies.community.narrative import group_name, segment_name


def _h(key: str, language: str) -> str:
    return text(f"community.table.{key}", language)


_COUNT = "{:,.0f}"


def _table(columns: list[tuple[str, object, str | None]], language: str) -> Styler:
    return column_table(columns, lambda key: _h(key, language))


def activity(s: CommunityStudy, language: str = "en") -> Styler:
    a = s.activity.reset_index()
    return _table([
        ("group_type", [group_name(g, language) for g in a["group_type"]], None),
        ("groups", a["groups"], _COUNT), ("members_now", a["members_now"], _COUNT),
        ("member_months", a["member_months"], _COUNT), ("activity_rate", a["activity_rate"], "{:.1%}"),
        ("benchmark", a["benchmark"], "{:.0%}"), ("gap", a["gap"] * 100, "{:+.1f}"),
        ("messages", a["messages_per_active_month"], "{:.1f}"),
    ], language)


def reach(s: CommunityStudy, language: str = "en") -> Styler:
    r = s.reach.reset_index()
    return _table([
        ("segment", [segment_name(x, language) for x in r["segment"]], None),
        ("customers", r["customers"], _COUNT), ("contacts", r["contacts"], _COUNT),
        ("contact_share", r["contact_share"], "{:.0%}"), ("reachable", r["reachable"], _COUNT),
        ("reach_share", r["reach_share"], "{:.0%}"),
    ], language)


def trees(s: CommunityStudy, top: int = 10, allow_raw_ids: bool = False, language: str = "en") -> Styler:
    t = s.trees.head(top).reset_index()
    return _table([
        ("root", display_ids(t["root_id"], allow_raw_ids=allow_raw_ids).to_numpy(), None),
        ("direct", t["direct"], _COUNT), ("descendants", t["descendants"], _COUNT), ("depth", t["depth"], _COUNT),
    ], language)


def kols(s: CommunityStudy, allow_raw_ids: bool = False, language: str = "en") -> Styler:
    k = s.kols.reset_index()
    return _table([
        ("customer", display_ids(k["customer_id"], allow_raw_ids=allow_raw_ids).to_numpy(), None),
        ("activity", k["activity"], _COUNT), ("invites", k["invites"], _COUNT),
        ("influence", k["influence"], "{:,.1f}"), ("value", k["value"], _COUNT), ("score", k["score"], "{:.2f}"),
    ], language)
