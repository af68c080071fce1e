"""Reader tables of the community page; customer ids pseudonymised unless raw ids are allowed."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.data.privacy import display_ids
from helpers.report.i18n import text
from helpers.report.tables import styled
from helpers.studies.community.analysis import CommunityStudy
from helpers.studies.community.narrative import group_name, segment_name


def _h(key: str, language: str) -> str:
    return text(f"community.table.{key}", language)


def activity(s: CommunityStudy, language: str = "en") -> Styler:
    a = s.activity.reset_index()
    frame = pd.DataFrame({
        _h("group_type", language): [group_name(g, language) for g in a["group_type"]],
        _h("groups", language): a["groups"], _h("members_now", language): a["members_now"],
        _h("member_months", language): a["member_months"], _h("activity_rate", language): a["activity_rate"],
        _h("benchmark", language): a["benchmark"], _h("gap", language): a["gap"] * 100,
        _h("messages", language): a["messages_per_active_month"],
    })
    fmt = {_h(k, language): "{:,.0f}" for k in ("groups", "members_now", "member_months")}
    fmt.update({_h("activity_rate", language): "{:.1%}", _h("benchmark", language): "{:.0%}",
                _h("gap", language): "{:+.1f}", _h("messages", language): "{:.1f}"})
    return styled(frame, fmt)


def reach(s: CommunityStudy, language: str = "en") -> Styler:
    r = s.reach.reset_index()
    frame = pd.DataFrame({
        _h("segment", language): [segment_name(x, language) for x in r["segment"]],
        _h("customers", language): r["customers"], _h("contacts", language): r["contacts"],
        _h("contact_share", language): r["contact_share"], _h("reachable", language): r["reachable"],
        _h("reach_share", language): r["reach_share"],
    })
    fmt = {_h(k, language): "{:,.0f}" for k in ("customers", "contacts", "reachable")}
    fmt.update({_h("contact_share", language): "{:.0%}", _h("reach_share", language): "{:.0%}"})
    return styled(frame, fmt)


def trees(s: CommunityStudy, top: int = 10, allow_raw_ids: bool = False, language: str = "en") -> Styler:
    t = s.trees.head(top).reset_index()
    frame = pd.DataFrame({
        _h("root", language): display_ids(t["root_id"], allow_raw_ids=allow_raw_ids).to_numpy(),
        _h("direct", language): t["direct"], _h("descendants", language): t["descendants"], _h("depth", language): t["depth"],
    })
    return styled(frame, {_h(k, language): "{:,.0f}" for k in ("direct", "descendants", "depth")})


def kols(s: CommunityStudy, allow_raw_ids: bool = False, language: str = "en") -> Styler:
    k = s.kols.reset_index()
    frame = pd.DataFrame({
        _h("customer", language): display_ids(k["customer_id"], allow_raw_ids=allow_raw_ids).to_numpy(),
        _h("activity", language): k["activity"], _h("invites", language): k["invites"],
        _h("influence", language): k["influence"], _h("value", language): k["value"], _h("score", language): k["score"],
    })
    return styled(frame, {_h("activity", language): "{:,.0f}", _h("invites", language): "{:,.0f}",
                          _h("influence", language): "{:,.1f}", _h("value", language): "{:,.0f}", _h("score", language): "{:.2f}"})
