"""The numbers of the community page. Definitions (stated on the page):

- **Activity rate** of a group type: active member-months / member-months, where a member-month
  is a calendar month in which the customer belonged to a group of that type (from the join
  month to the leave month, or the end) and active means at least one message or event
  attended. Compared with the benchmark ``activity_benchmark`` (60%, the seeds' figure).
- **Reach** of a segment: share of its customers who are WeChat contacts (added the guide on
  WeCom), and share who are contacts *and* consented to WeChat marketing (reachable).
  Segments: ``lapsed`` (no purchase in the last 180 days), else ``high`` / ``mid`` / ``low``
  by spend in the last 365 days (top 20%, next 40%, bottom 40% of the active customers).
- **K-factor** = invitations per customer x invitation conversion = referred customers /
  customers, over the period; a K-factor of 0.2 means every 5 customers bring one more.
- **Referred-customer value**: mean spend in the first 365 days after joining, referred minus
  non-referred customers, among customers who joined at least 365 days before the end
  (Welch standard error).
- **Candidate KOLs**: members ranked by the geometric mean of three percentile ranks: activity
  (messages + 5 x events), influence (successful invitations, including the invitees'
  own invitations at half weight) and value (spend in the last 365 days).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.memo import shared

GROUP_TYPES: tuple[str, ...] = ("welfare", "interest", "vip")
SEGMENTS: tuple[str, ...] = ("high", "mid", "low", "lapsed")


def _months(ts) -> np.ndarray:
    t = pd.to_datetime(ts)
    return (t.dt.year * 12 + t.dt.month - 1).to_numpy() if isinstance(t, pd.Series) else t.year * 12 + t.month - 1


def activity_by_type(members: pd.DataFrame, activity: pd.DataFrame, end, benchmark: float = 0.6,
                     months: int | None = None) -> pd.DataFrame:
    """Per group type: members now, member-months, active member-months, activity rate, gap to the benchmark.

    ``months`` limits the count to the last that-many months (None = the whole period)."""
    end_m = int(_months(pd.Series([pd.Timestamp(end)]))[0])
    first = _months(members["joined_at"])
    left = members["left_at"]
    last = np.where(left.notna(), _months(left.fillna(pd.Timestamp(end))), end_m)
    lo = np.maximum(first, end_m - months + 1) if months else first
    mm = np.maximum(last - lo + 1, 0)
    m = members.assign(member_months=mm, current=left.isna() | (left > pd.Timestamp(end)))
    act = activity.assign(_m=_months(activity["month"]))
    if months:
        act = act[act["_m"] > end_m - months]
    gtype = members.drop_duplicates("group_id").set_index("group_id")["group_type"]
    act = act.assign(group_type=act["group_id"].map(gtype))
    present = set(members["group_type"].unique())  # once, not once per group type
    out = pd.DataFrame(index=pd.Index([g for g in GROUP_TYPES if g in present], name="group_type"))
    out["members_now"] = m[m["current"]].groupby("group_type").size()
    out["groups"] = members.groupby("group_type")["group_id"].nunique()
    out["member_months"] = m.groupby("group_type")["member_months"].sum()
    out["active_member_months"] = act.drop_duplicates(["customer_id", "group_id", "_m"]).groupby("group_type").size()
    out = out.fillna(0)
    out["activity_rate"] = out["active_member_months"] / out["member_months"].where(out["member_months"] > 0)
    n = out["member_months"].where(out["member_months"] > 0)
    out["activity_se"] = np.sqrt(out["activity_rate"] * (1 - out["activity_rate"]) / n)
    out["benchmark"] = benchmark
    out["gap"] = out["activity_rate"] - benchmark
    out["messages_per_active_month"] = act.groupby("group_type")["messages"].sum() / out["active_member_months"].where(
        out["active_member_months"] > 0)
    return out


def value_segments(transactions: pd.DataFrame, customers: pd.Series, end) -> pd.Series:
    """``high``/``mid``/``low`` by spend in the last 365 days (top 20%, next 40%, rest), ``lapsed`` without a purchase in 180 days."""
    end = pd.Timestamp(end)
    tx = transactions[transactions["timestamp"] <= end + pd.Timedelta(days=1)]
    last = tx.groupby("customer_id")["timestamp"].max().reindex(customers)
    spend = tx[tx["timestamp"] > end - pd.Timedelta(days=365)].groupby("customer_id")["amount"].sum().reindex(customers).fillna(0.0)
    lapsed = last.isna() | (last < end - pd.Timedelta(days=180))
    rank = spend[~lapsed].rank(pct=True, method="first")
    seg = pd.Series("lapsed", index=customers, dtype=object)
    seg[rank.index] = np.where(rank > 0.8, "high", np.where(rank > 0.4, "mid", "low"))
    return seg


def reach_by_segment(segments: pd.Series, contacts: pd.DataFrame) -> pd.DataFrame:
    """Per segment: customers, WeChat contacts, reachable (contact and consented) and their shares."""
    c = contacts.drop_duplicates("customer_id").set_index("customer_id")
    is_contact = segments.index.isin(c.index)
    consent = c["wechat_consent"].reindex(segments.index).fillna(False).astype(bool).to_numpy()
    frame = pd.DataFrame({"segment": segments.to_numpy(), "contact": is_contact, "reachable": is_contact & consent})
    out = frame.groupby("segment").agg(customers=("contact", "size"), contacts=("contact", "sum"), reachable=("reachable", "sum"))
    out = out.reindex([s for s in SEGMENTS if s in out.index])
    out["contact_share"] = out["contacts"] / out["customers"]
    out["reach_share"] = out["reachable"] / out["customers"]
    return out


def referral_summary(referrals: pd.DataFrame, customers: int, potential_inviters: int = 0, top_share: float = 0.05) -> dict:
    """K-factor, invitations per customer, conversion (with its standard error), inviters, and the
    share of referred customers brought by the top ``top_share`` of ``potential_inviters`` (the WeChat contacts)."""
    invites = len(referrals)
    converted = int(referrals["converted"].sum())
    conv = converted / invites if invites else float("nan")
    per = referrals.loc[referrals["converted"], "inviter_id"].value_counts()
    k = max(round(top_share * potential_inviters), 1) if potential_inviters else 0
    top = float(per.iloc[:k].sum() / converted) if converted and k else float("nan")
    return {
        "top_inviter_share": top_share, "top_inviters": k, "referrals_by_top_inviters": top,
        "invitations": invites, "referred_customers": converted, "customers": customers,
        "inviters": int(referrals["inviter_id"].nunique()),
        "invitations_per_customer": invites / customers if customers else float("nan"),
        "conversion": conv, "conversion_se": float(np.sqrt(conv * (1 - conv) / invites)) if invites else float("nan"),
        "k_factor": converted / customers if customers else float("nan"),
    }


def referral_trees(referrals: pd.DataFrame) -> pd.DataFrame:
    """One row per root inviter (not referred themselves): direct invitees, all descendants, depth."""
    ok = referrals[referrals["converted"]]
    parent = ok.set_index("invitee_id")["inviter_id"]
    root = parent.copy()
    depth = pd.Series(1, index=parent.index)
    for _ in range(50):  # one pass per generation of the tree (a handful)
        up = root.map(parent)
        moved = up.notna()
        if not moved.any():
            break
        root[moved] = up[moved]
        depth[moved] += 1
    direct = ok.groupby("inviter_id").size()
    trees = pd.DataFrame({"descendants": root.groupby(root).size(), "depth": depth.groupby(root).max()})
    trees["direct"] = direct.reindex(trees.index).fillna(0).astype(int)
    trees.index.name = "root_id"
    return trees.sort_values(["descendants", "direct"], ascending=False)


def referred_value(transactions: pd.DataFrame, customers: pd.DataFrame, referrals: pd.DataFrame, end,
                   days: int = 365) -> dict:
    """Mean spend in the first ``days`` after joining, referred minus non-referred (Welch standard error)."""
    end = pd.Timestamp(end)
    cu = customers[["customer_id", "join_date"]]
    mature = cu[cu["join_date"] <= end - pd.Timedelta(days=days)]
    tx = transactions.merge(mature, on="customer_id")
    first = tx[tx["timestamp"] < tx["join_date"] + pd.Timedelta(days=days)]
    spend = first.groupby("customer_id")["amount"].sum().reindex(mature["customer_id"]).fillna(0.0)
    referred = spend.index.isin(set(referrals.loc[referrals["converted"], "invitee_id"]))
    a, b = spend[referred], spend[~referred]
    diff = float(a.mean() - b.mean()) if len(a) and len(b) else float("nan")
    se = float(np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))) if len(a) > 1 and len(b) > 1 else float("nan")
    return {"days": days, "referred": len(a), "non_referred": len(b), "referred_mean": float(a.mean()) if len(a) else float("nan"),
            "non_referred_mean": float(b.mean()) if len(b) else float("nan"), "difference": diff, "se": se,
            "low": diff - 1.96 * se, "high": diff + 1.96 * se,
            "ratio": float(a.mean() / b.mean()) if len(a) and len(b) and b.mean() > 0 else float("nan")}


def kol_candidates(members: pd.DataFrame, activity: pd.DataFrame, referrals: pd.DataFrame,
                   transactions: pd.DataFrame, end, top: int = 20) -> pd.DataFrame:
    """Members ranked by activity x influence x value (geometric mean of percentile ranks)."""
    end = pd.Timestamp(end)
    ids = pd.Index(members["customer_id"].unique())
    act = (activity["messages"] + 5 * activity["events_attended"]).groupby(activity["customer_id"]).sum().reindex(ids).fillna(0)
    ok = referrals[referrals["converted"]]
    direct = ok.groupby("inviter_id").size()
    second = ok["invitee_id"].map(direct).fillna(0).groupby(ok["inviter_id"]).sum()
    influence = (direct + 0.5 * second.reindex(direct.index).fillna(0)).reindex(ids).fillna(0)
    recent = transactions[(transactions["timestamp"] > end - pd.Timedelta(days=365)) & (transactions["timestamp"] <= end + pd.Timedelta(days=1))]
    value = recent.groupby("customer_id")["amount"].sum().reindex(ids).fillna(0)
    ranks = pd.DataFrame({"activity": act.rank(pct=True), "influence": influence.rank(pct=True), "value": value.rank(pct=True)})
    score = np.exp(np.log(ranks).mean(axis=1))
    out = pd.DataFrame({"activity": act, "invites": direct.reindex(ids).fillna(0).astype(int), "influence": influence,
                        "value": value, "score": score})
    out = out.sort_values(["score", "influence"], ascending=False)
    out.index.name = "customer_id"
    return out.head(top) if top else out


@dataclass
class CommunityStudy:
    activity: pd.DataFrame
    reach: pd.DataFrame
    referrals: dict
    trees: pd.DataFrame
    value: dict
    kols: pd.DataFrame
    end: pd.Timestamp
    benchmark: float
    settings: dict = field(default_factory=dict)

    @property
    def metrics(self) -> dict:
        return {"end": str(self.end.date()), "benchmark": self.benchmark,
                "activity": self.activity.reset_index().to_dict(orient="records"),
                "reach": self.reach.reset_index().to_dict(orient="records"), "referrals": self.referrals,
                "referred_value": self.value, "kol_candidates": len(self.kols), "settings": self.settings}


@shared
def run_community_study(members: pd.DataFrame, activity: pd.DataFrame, contacts: pd.DataFrame, referrals: pd.DataFrame,
                        transactions: pd.DataFrame, customers: pd.DataFrame, *, observation_end=None,
                        activity_benchmark: float = 0.6, recent_months: int | None = None, top_kols: int = 20) -> CommunityStudy:
    """Everything the community page shows."""
    end = pd.Timestamp(observation_end) if observation_end else transactions["timestamp"].max().normalize()
    act = activity_by_type(members, activity, end, activity_benchmark, recent_months)
    seg = value_segments(transactions, pd.Index(customers["customer_id"]), end)
    reach = reach_by_segment(seg, contacts)
    summary = referral_summary(referrals, len(customers), int(contacts["customer_id"].nunique()))
    trees = referral_trees(referrals)
    summary["largest_tree"] = int(trees["descendants"].max()) if len(trees) else 0
    summary["deepest_tree"] = int(trees["depth"].max()) if len(trees) else 0
    value = referred_value(transactions, customers, referrals, end)
    kols = kol_candidates(members, activity, referrals, transactions, end, top_kols)
    settings = {"activity_benchmark": activity_benchmark, "recent_months": recent_months, "top_kols": top_kols}
    return CommunityStudy(act, reach, summary, trees, value, kols, end, activity_benchmark, settings)
