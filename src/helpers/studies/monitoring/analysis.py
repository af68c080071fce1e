"""The numbers of the programme-monitoring page, from a points ledger (and transactions).

Definitions (each stated on the page):

- **Issued** in a month: points of ``earn_*`` events (net of earn reversals). **Redeemed** and
  **expired**: points removed by ``redeem`` and ``expire`` events. **Outstanding** at a month end:
  everything issued so far minus everything redeemed and expired so far.
- **Redemption rate** = redeemed / issued; **breakage rate** = expired / issued (the lab's
  definition); **breakage of settled points** = expired / (redeemed + expired), the share of
  points that left the balances without being used.
- **Liability at cost** = outstanding points x (1 - expected breakage) x cost of a point, where
  the cost of a point = its face value (1 / ``points_per_currency_redeemed``) x ``reward_cost_ratio``.
  **Deferred revenue** (the IFRS 15 / ASC 606 view) = outstanding points x (1 - expected
  breakage) x face value: revenue received for points not yet used, recognised when they are
  redeemed or expire. Expected breakage = the settled-points breakage observed so far.
- **Tier** at a moment: the ``tier_to`` of the member's last ``tier_change`` before it; members start in
  the lowest tier.
- **Observed redemption propensity** (the lab's ``redemption_propensity``): among member-months
  that open with a balance of at least the redemption threshold, the share with a redemption.
- **Points users against matched non-users**: a member's index date is their first redemption; a
  non-user's is one of their purchase dates drawn at random (seeded). Both are compared on spend
  orders, buying at all and buying on two or more days in the ``window_days`` after the index date, within cells of equal pre-index orders,
  pre-index spend band and calendar quarter (coarsened exact matching, weighted to the users).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.errors import ConfigError
from helpers.memo import shared

REDEEM, EXPIRE, TIER_CHANGE = "redeem", "expire", "tier_change"
TIER_ORDER_DEFAULT = ("bronze", "silver", "gold")


def _earn(ev: pd.DataFrame) -> pd.Series:
    return ev["event_type"].str.startswith("earn")


def _month(ts: pd.Series) -> pd.Series:
    return ts.dt.to_period("M")


def monthly_points(ledger: pd.DataFrame) -> pd.DataFrame:
    """Issued, redeemed, expired (positive numbers) and outstanding at each month end."""
    ev = ledger[ledger["event_type"] != TIER_CHANGE]
    month = _month(ev["timestamp"])
    kind = np.select([_earn(ev), ev["event_type"].eq(REDEEM), ev["event_type"].eq(EXPIRE)],
                     ["issued", "redeemed", "expired"], "other")
    table = ev.assign(month=month, kind=kind).pivot_table(index="month", columns="kind", values="points",
                                                          aggfunc="sum", fill_value=0)
    all_months = pd.period_range(month.min(), month.max(), freq="M")
    table = table.reindex(all_months, fill_value=0)
    out = pd.DataFrame(index=all_months)
    out.index.name = "month"
    out["issued"] = table.get("issued", 0)
    out["redeemed"] = -table.get("redeemed", 0) + 0.0  # + 0.0 turns -0.0 into 0.0
    out["expired"] = -table.get("expired", 0) + 0.0
    out["outstanding"] = (out["issued"] - out["redeemed"] - out["expired"]).cumsum()
    return out.astype(float)


@dataclass(frozen=True)
class PointEconomics:
    """Face value and cost of a point."""

    points_per_currency_redeemed: float = 100.0  # points worth one currency unit when redeemed
    reward_cost_ratio: float = 1.0  # our cost per currency unit of reward (1 = cash offset)

    def __post_init__(self) -> None:
        if not self.points_per_currency_redeemed > 0:
            raise ConfigError(f"points_per_currency_redeemed must be > 0, not {self.points_per_currency_redeemed!r}")
        if not 0 <= self.reward_cost_ratio <= 1.5:
            raise ConfigError(f"reward_cost_ratio must be between 0 and 1.5, not {self.reward_cost_ratio!r}")

    @property
    def face_value(self) -> float:
        return 1.0 / self.points_per_currency_redeemed

    @property
    def cost(self) -> float:
        return self.face_value * self.reward_cost_ratio


def totals(monthly: pd.DataFrame, economics: PointEconomics) -> dict:
    """Whole-period totals, rates, liability at cost and deferred revenue."""
    issued, redeemed, expired = (float(monthly[c].sum()) for c in ("issued", "redeemed", "expired"))
    outstanding = float(monthly["outstanding"].iloc[-1])
    settled = redeemed + expired
    breakage_settled = expired / settled if settled > 0 else float("nan")
    expected = breakage_settled if np.isfinite(breakage_settled) else 0.0
    return {
        "points_issued": issued,
        "points_redeemed": redeemed,
        "points_expired": expired,
        "points_outstanding": outstanding,
        "redemption_rate": redeemed / issued if issued > 0 else float("nan"),
        "breakage_rate": expired / issued if issued > 0 else float("nan"),
        "breakage_settled": breakage_settled,
        "face_value_outstanding": outstanding * economics.face_value,
        "liability_at_cost": outstanding * (1.0 - expected) * economics.cost,
        "deferred_revenue": outstanding * (1.0 - expected) * economics.face_value,
        "cost_per_point": economics.cost,
        "face_value_per_point": economics.face_value,
    }


def tier_at(ledger: pd.DataFrame, customer_ids: pd.Series, moments: pd.Series, lowest: str) -> np.ndarray:
    """Each member's tier at a moment (the last tier change strictly before it, else ``lowest``)."""
    if "tier_to" not in ledger:  # a ledger without tiers: everyone stays in the lowest
        return np.full(len(customer_ids), lowest, dtype=object)
    changes = ledger.loc[ledger["event_type"] == TIER_CHANGE, ["customer_id", "timestamp", "tier_to"]]
    changes = changes.assign(timestamp=changes["timestamp"].astype("datetime64[ns]"))
    query = pd.DataFrame({"customer_id": customer_ids.to_numpy(), "timestamp": pd.to_datetime(moments).to_numpy().astype("datetime64[ns]"),
                          "_pos": np.arange(len(customer_ids))})
    if changes.empty:
        return np.full(len(query), lowest, dtype=object)
    merged = pd.merge_asof(
        query.sort_values("timestamp"), changes.sort_values("timestamp"), on="timestamp", by="customer_id",
        allow_exact_matches=False,
    ).sort_values("_pos")
    return merged["tier_to"].fillna(lowest).to_numpy(dtype=object)


def redemption_by_tier(ledger: pd.DataFrame, tiers: tuple[str, ...]) -> pd.DataFrame:
    """Points issued and redeemed by the tier the member held at the event; redemption rate per tier."""
    ev = ledger[_earn(ledger) | ledger["event_type"].eq(REDEEM)]
    tier = tier_at(ledger, ev["customer_id"], ev["timestamp"], tiers[0])
    frame = pd.DataFrame({
        "tier": tier,
        "issued": np.where(_earn(ev), ev["points"], 0.0),
        "redeemed": np.where(ev["event_type"].eq(REDEEM), -ev["points"], 0.0),
        "redeemer": np.where(ev["event_type"].eq(REDEEM), ev["customer_id"], None),
        "customer_id": ev["customer_id"].to_numpy(),
    })
    out = frame.groupby("tier").agg(issued=("issued", "sum"), redeemed=("redeemed", "sum"),
                                     members=("customer_id", "nunique"), redeemers=("redeemer", "nunique"))
    out = out.reindex([t for t in tiers if t in out.index] + [t for t in out.index if t not in tiers])
    out["redemption_rate"] = out["redeemed"] / out["issued"].where(out["issued"] > 0)
    return out


def tier_flows(ledger: pd.DataFrame, members: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp,
               tiers: tuple[str, ...]) -> pd.DataFrame:
    """Members' tier at ``start`` (rows) against their tier at ``end`` (columns), for members who joined before ``start``."""
    known = members[members["join_date"] < start]
    ids = known["customer_id"]
    a = tier_at(ledger, ids, pd.Series(start, index=ids.index), tiers[0])
    b = tier_at(ledger, ids, pd.Series(end, index=ids.index), tiers[0])
    table = pd.crosstab(pd.Categorical(a, tiers), pd.Categorical(b, tiers), dropna=False)
    table.index.name, table.columns.name = "from", "to"
    return table


def tier_change_counts(ledger: pd.DataFrame, tiers: tuple[str, ...]) -> pd.DataFrame:
    """Upgrades and downgrades per month (from the tier_change events)."""
    ch = ledger[ledger["event_type"] == TIER_CHANGE]
    if ch.empty or "tier_from" not in ch:
        return pd.DataFrame(columns=["upgrades", "downgrades"], index=pd.PeriodIndex([], freq="M", name="month"))
    rank = {t: i for i, t in enumerate(tiers)}
    up = ch["tier_to"].map(rank) > ch["tier_from"].map(rank)
    frame = pd.DataFrame({"month": _month(ch["timestamp"]), "upgrades": up.astype(int), "downgrades": (~up).astype(int)})
    return frame.groupby("month")[["upgrades", "downgrades"]].sum()


def time_to_first_redemption(ledger: pd.DataFrame, members: pd.DataFrame, end: pd.Timestamp,
                             horizons: tuple[int, ...] = (90, 180, 365, 540)) -> pd.DataFrame:
    """Share of members redeeming within d days of joining, among members who joined at least d days before the end."""
    first = ledger[ledger["event_type"] == REDEEM].groupby("customer_id")["timestamp"].min()
    join = members.set_index("customer_id")["join_date"]
    days = (first.reindex(join.index) - join).dt.total_seconds() / 86400.0
    tenure = (end - join).dt.total_seconds() / 86400.0
    rows = []
    for d in horizons:  # a few horizons
        eligible = tenure >= d
        n = int(eligible.sum())
        hit = int(((days <= d) & eligible).sum())
        rows.append({"days": d, "members": n, "redeemed": hit, "share": hit / n if n else float("nan")})
    out = pd.DataFrame(rows)
    out.attrs["median_days_redeemers"] = float(days.dropna().median()) if days.notna().any() else float("nan")
    out.attrs["redeemers"] = int(days.notna().sum())
    return out


def member_months(ledger: pd.DataFrame, members: pd.DataFrame, end: pd.Timestamp,
                  transactions: pd.DataFrame | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(opening balance, redeemed in month, bought in month) for every member-month from the join
    month to the end month; without transactions "bought" is true everywhere."""
    ev = ledger[ledger["event_type"] != TIER_CHANGE]
    months = pd.period_range(min(ev["timestamp"].min(), members["join_date"].min()), end, freq="M")
    first = months[0].year * 12 + months[0].month
    ids = pd.Index(members["customer_id"])
    shape = (len(ids), len(months))

    def cells(frame: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
        row = ids.get_indexer(frame["customer_id"])
        col = (frame[column].dt.year * 12 + frame[column].dt.month - first).to_numpy()
        ok = (row >= 0) & (col >= 0) & (col < len(months))
        return row[ok], col[ok], ok

    row, col, ok = cells(ev, "timestamp")
    flows = np.zeros(shape)
    np.add.at(flows, (row, col), ev["points"].to_numpy()[ok])
    opening = np.cumsum(flows, axis=1) - flows
    redeemed = np.zeros(shape, dtype=bool)
    is_red = ev["event_type"].eq(REDEEM).to_numpy()[ok]
    redeemed[row[is_red], col[is_red]] = True
    if transactions is None:
        bought = np.ones(shape, dtype=bool)
    else:
        bought = np.zeros(shape, dtype=bool)
        trow, tcol, _ = cells(transactions, "timestamp")
        bought[trow, tcol] = True
    join_col = (members["join_date"].dt.year * 12 + members["join_date"].dt.month - first).to_numpy()
    live = np.arange(len(months))[None, :] >= join_col[:, None]
    return opening[live], redeemed[live], bought[live]


def observed_propensity(ledger: pd.DataFrame, members: pd.DataFrame, end: pd.Timestamp, threshold: float,
                        transactions: pd.DataFrame | None = None) -> dict:
    """The lab's redemption propensity measured: among member-months that open with at least
    ``threshold`` points (and, with transactions, have a purchase: the lab's rule), the share with a redemption."""
    opening, redeemed, bought = member_months(ledger, members, end, transactions)
    eligible = (opening >= threshold) & bought
    n = int(eligible.sum())
    hits = int((redeemed & eligible).sum())
    p = hits / n if n else float("nan")
    se = float(np.sqrt(p * (1 - p) / n)) if n else float("nan")
    return {"eligible_member_months": n, "redeeming_member_months": hits, "propensity": p,
            "low": max(0.0, p - 1.96 * se), "high": min(1.0, p + 1.96 * se), "with_purchase": transactions is not None}


def lab_design(points_per_currency: float, point_value: float, redemption_threshold: float, expiry_months: int | None) -> dict:
    """The running programme written as a loyalty-lab design (points only; tiers are left out)."""
    return {
        "name": {"en": "Running programme", "zh-CN": "现行会员计划"},
        "earn": {"points_per_currency": points_per_currency},
        "burn": {"point_value": point_value, "redemption_threshold": redemption_threshold, "redeem": "all_blocks",
                 "expiry_months": expiry_months, "reward_cost_ratio": 1.0},
    }


@shared
def calibrate_lab(transactions: pd.DataFrame, observed: Mapping, design: Mapping, *, observation_end=None,
                  horizon_months: int = 24, runs: int = 20, customers: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Rerun the loyalty lab on ``design`` with its assumed redemption propensity and with the
    observed one; returns the lab's simulated redemption and breakage rates for both next to the
    ledger's observed rates (rows: assumed, observed)."""
    from helpers.studies.loyalty import (
        SimSettings,
        design_from_mapping,
        fit_base,
        simulate,
        summarise,
    )
    from helpers.studies.loyalty.assumptions import SPECS

    d = design_from_mapping(dict(design), "the monitoring lab_design")
    base = fit_base(transactions, observation_end=observation_end, customers=customers, seed=seed)
    settings = SimSettings(horizon_months=horizon_months, runs=runs, seed=seed)
    rows = []
    for name, propensity in (("assumed", SPECS["redemption_propensity"].default), ("observed", observed["propensity"])):
        res = summarise(simulate(d, base, settings, {"redemption_propensity": float(propensity)}), base, 0.3)
        earned = res.metric("points_earned")
        rows.append({"run": name, "redemption_propensity": float(propensity),
                     "lab_redemption_rate": res.metric("points_redeemed") / earned if earned else float("nan"),
                     "lab_breakage_rate": res.metric("breakage_rate")})
    return pd.DataFrame(rows).set_index("run")


def matched_comparison(transactions: pd.DataFrame, ledger: pd.DataFrame, *, start: pd.Timestamp, end: pd.Timestamp,
                       window_days: int = 180, seed: int = 0) -> dict:
    """Points users against non-users, raw and matched on pre-index behaviour (see the module docstring)."""
    tx = transactions[["customer_id", "timestamp", "amount"]]
    orders = tx.groupby(["customer_id", tx["timestamp"].dt.normalize()])["amount"].sum().reset_index()
    orders.columns = ["customer_id", "day", "amount"]
    win = pd.Timedelta(days=window_days)
    fits = (orders["day"] - win >= start) & (orders["day"] + win <= end)
    first_red = ledger[ledger["event_type"] == REDEEM].groupby("customer_id")["timestamp"].min().dt.normalize()
    users = first_red[(first_red - win >= start) & (first_red + win <= end)]
    ever = set(first_red.index)
    rng = np.random.default_rng(seed)
    cand = orders[fits & ~orders["customer_id"].isin(ever)]
    cand = cand.assign(_u=rng.random(len(cand)))
    controls = cand.loc[cand.groupby("customer_id")["_u"].idxmax(), ["customer_id", "day"]]
    index = pd.concat([
        pd.DataFrame({"customer_id": users.index, "day": users.to_numpy(), "user": True}),
        controls.assign(user=False),
    ], ignore_index=True)
    if index["user"].sum() == 0 or (~index["user"]).sum() == 0:
        return {"users": int(index["user"].sum()), "non_users": int((~index["user"]).sum()), "cells_used": 0,
                "raw": {}, "matched": {}}
    pairs = index.merge(orders, on="customer_id", suffixes=("", "_o"))
    delta = (pairs["day_o"] - pairs["day"]).dt.days
    pre = (delta < 0) & (delta >= -window_days)
    post = (delta > 0) & (delta <= window_days)
    agg = pairs.assign(pre_orders=pre, pre_spend=pairs["amount"].where(pre, 0.0), post_orders=post,
                       post_spend=pairs["amount"].where(post, 0.0)).groupby(["customer_id", "user"])[
        ["pre_orders", "pre_spend", "post_orders", "post_spend"]].sum().reset_index()
    agg = agg.merge(index[["customer_id", "day"]], on="customer_id")
    agg["post_active"] = agg["post_orders"] > 0
    agg["post_repeat"] = agg["post_orders"] >= 2
    bands = np.quantile(agg["pre_spend"][agg["pre_spend"] > 0], [0.25, 0.5, 0.75]) if (agg["pre_spend"] > 0).any() else []
    agg["cell"] = (np.minimum(agg["pre_orders"], 4).astype(str) + "|" + np.digitize(agg["pre_spend"], bands).astype(str)
                   + "|" + agg["day"].dt.to_period("Q").astype(str))
    outcomes = ["post_spend", "post_orders", "post_active", "post_repeat"]
    raw = {o: float(agg.loc[agg["user"], o].mean() - agg.loc[~agg["user"], o].mean()) for o in outcomes}
    means = agg.groupby(["cell", "user"])[outcomes].mean().unstack("user")
    sizes = agg.groupby(["cell", "user"]).size().unstack("user").fillna(0)
    both = sizes.index[(sizes.get(True, 0) > 0) & (sizes.get(False, 0) > 0)]
    w = sizes.loc[both, True]
    matched = {o: float(((means.loc[both, (o, True)] - means.loc[both, (o, False)]) * w).sum() / w.sum()) for o in outcomes}
    user_means = {o: float(agg.loc[agg["user"], o].mean()) for o in outcomes}
    nonuser_means = {o: float(agg.loc[~agg["user"], o].mean()) for o in outcomes}
    return {
        "users": int(agg["user"].sum()), "non_users": int((~agg["user"]).sum()),
        "users_matched": int(w.sum()), "cells_used": len(both), "window_days": window_days,
        "user_means": user_means, "non_user_means": nonuser_means, "raw": raw, "matched": matched,
        "pre_spend_users": float(agg.loc[agg["user"], "pre_spend"].mean()),
        "pre_spend_non_users": float(agg.loc[~agg["user"], "pre_spend"].mean()),
    }


@dataclass
class MonitoringStudy:
    monthly: pd.DataFrame
    totals: dict
    by_tier: pd.DataFrame
    flows: pd.DataFrame
    changes: pd.DataFrame
    first_redemption: pd.DataFrame
    propensity: dict
    comparison: dict | None
    period: tuple[pd.Timestamp, pd.Timestamp]
    flow_dates: tuple[pd.Timestamp, pd.Timestamp]
    threshold: float
    economics: PointEconomics
    metrics: dict = field(default_factory=dict)


def members_from(ledger: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    """Members with a join date: the customers table's, else the first ledger event."""
    first = ledger.groupby("customer_id")["timestamp"].min().dt.normalize()
    if customers is not None and "join_date" in customers:
        join = customers.set_index("customer_id")["join_date"].reindex(first.index.union(customers["customer_id"]))
        join = join.fillna(first.reindex(join.index))
    else:
        join = first
    join = join.dropna()
    return pd.DataFrame({"customer_id": join.index, "join_date": join.to_numpy()})


@shared
def run_monitoring_study(ledger: pd.DataFrame, customers: pd.DataFrame | None = None,
                         transactions: pd.DataFrame | None = None, *, observation_end=None,
                         economics: PointEconomics | None = None, redemption_threshold: float = 500.0,
                         tiers: tuple[str, ...] = TIER_ORDER_DEFAULT, window_days: int = 180, seed: int = 0) -> MonitoringStudy:
    """Everything the monitoring page shows."""
    economics = economics or PointEconomics()
    start = ledger["timestamp"].min().normalize()
    end = (pd.Timestamp(observation_end) if observation_end else ledger["timestamp"].max()).normalize()
    end_moment = end + pd.Timedelta(days=1)
    members = members_from(ledger, customers)
    monthly = monthly_points(ledger)
    tot = totals(monthly, economics)
    by_tier = redemption_by_tier(ledger, tiers)
    flow_start = max(start, end_moment - pd.DateOffset(years=1))
    flows = tier_flows(ledger, members, flow_start, end_moment, tiers)
    first = time_to_first_redemption(ledger, members, end_moment)
    prop = observed_propensity(ledger, members, end, redemption_threshold, transactions)
    comp = None
    if transactions is not None:
        comp = matched_comparison(transactions, ledger, start=start, end=end, window_days=window_days, seed=seed)
    changes = tier_change_counts(ledger, tiers)
    metrics = {**tot, "propensity": prop, "tier_flows": flows.to_dict(),
               "tier_changes": {"upgrades": int(changes["upgrades"].sum()), "downgrades": int(changes["downgrades"].sum())},
               "first_redemption": first.to_dict(orient="records"),
               "comparison": comp, "period": [str(start.date()), str(end.date())]}
    return MonitoringStudy(monthly, tot, by_tier, flows, changes, first, prop, comp,
                           (start, end), (flow_start, end_moment), redemption_threshold, economics, metrics)
