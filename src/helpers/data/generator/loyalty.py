"""Loyalty programme: tiers, discounts, points earned, redeemed and expired.

Rules (all documented in ``data/README.md``):

- **Tier** = gold if the net spend (purchases minus returns) over the trailing 365 days
  reaches ``gold_threshold``, silver if it reaches ``silver_threshold``, else bronze.
  It is evaluated in a nightly batch (23:59:59) on every day the customer buys or returns
  something and on the last day of every month, so it can go up or down; each change is a
  ``tier_change`` event. Everyone starts bronze. An order gets the tier in force when it
  is placed (the last evaluation on an earlier day).
- **Discount** on a line = tier discount and festival promotion on the list price
  (net = list x (1 - tier) x (1 - promotion)), plus the cash value of redeemed points on
  the order's first line. The net amount paid is what the purchase model generated.
- **Points earned** per line = floor(net CNY x points_per_cny x tier multiplier). They
  are credited (``earn_purchase``) when the return window closes, ``return_window_days``
  after the order, for the lines not returned; the return row shows the line's points
  negated, so an order's rows add up to the points credited.
- **Behaviour points** (check-in, share, survey, referral) arrive as Poisson events while
  the customer is active (until the window ends, or 30 days after the final purchase of a
  customer who dropped out).
- **Redemption**: each customer has a redemption share s (0 for 40% of customers, else
  Beta(2, 2)). At each order they hold cumulatively redeemed points at
  R = block x floor(s x (credited - expired) / block), never less than at the end of the
  previous year; the increase is redeemed on that order as a cash offset.
- **Expiry**: points credited in year Y that are not redeemed by the end of year Y+1 expire
  then (first in, first out), as one ``expire`` event at 23:59:59 on 31 December.

These rules keep every balance at or above zero (tested) and are computed with cumulative
sums and sorted searches; the only loop is over calendar years.
"""

from __future__ import annotations

import numpy as np

from helpers.data.generator import _vec as V
from helpers.data.generator.config import ENGAGEMENT_EVENTS

DAY = V.DAY
EVENT_TYPES: tuple[str, ...] = ("earn_purchase",) + ENGAGEMENT_EVENTS + ("redeem", "expire", "tier_change")
EARN_PURCHASE, REDEEM, EXPIRE, TIER_CHANGE = 0, 5, 6, 7
ROLLING_DAYS = 365
ENGAGEMENT_TAIL_DAYS = 30


def simulate_loyalty(ctx, rng, c, *, pd_code, pd_day, pd_cents, o_code, o_ts, o_day, l_order, l_cents,
                     returned, r_code, r_ts, r_cents, alive, last_day) -> dict:
    cfg = ctx.cfg
    n = c.n

    # --- tiers ---------------------------------------------------------------------------
    W = ctx.n_days + ROLLING_DAYS + 2  # key = code * W + day
    keys = np.concatenate([pd_code * W + pd_day, r_code * W + r_ts // DAY])
    amounts = np.concatenate([pd_cents, -r_cents]).astype("float64")
    ukeys, inverse = np.unique(keys, return_inverse=True)
    cum = np.concatenate([[0.0], np.cumsum(np.bincount(inverse, weights=amounts))])
    first_me = np.searchsorted(ctx.month_ends, c.join_day)
    me_count = len(ctx.month_ends) - first_me
    me_code = V.parent_of(me_count)
    me_day = ctx.month_ends[first_me[me_code] + V.rank_in_group(me_count)]
    ekeys = np.unique(np.concatenate([ukeys, me_code * W + me_day]))
    e_code, e_day = ekeys // W, ekeys % W
    spend = cum[np.searchsorted(ukeys, ekeys, side="right")] - cum[
        np.searchsorted(ukeys, e_code * W + np.maximum(e_day - ROLLING_DAYS, -1), side="right")
    ]
    tier = (spend >= cfg.silver_threshold * 100 - 0.5).astype(np.int64) + (spend >= cfg.gold_threshold * 100 - 0.5)
    e_counts = V.group_count(e_code, n)
    tier_before = V.previous_in_group(tier, e_counts, 0)
    change = np.flatnonzero(tier != tier_before)
    end_tier = tier[V.starts(e_counts) + e_counts - 1]

    idx = np.searchsorted(ekeys, o_code * W + o_day, side="left") - 1
    valid = idx >= 0
    valid[valid] = e_code[idx[valid]] == o_code[valid]
    o_tier = np.where(valid, tier[np.maximum(idx, 0)], 0)

    # --- discounts and points per line ---------------------------------------------------
    l_tier = o_tier[l_order]
    keep_share = (1.0 - ctx.tier_discount[l_tier]) * (1.0 - ctx.promo_rate[o_day[l_order]])
    line_discount = np.rint(l_cents / keep_share - l_cents).astype(np.int64)
    line_points = np.floor(l_cents / 100.0 * cfg.points_per_cny * ctx.tier_multiplier[l_tier] + 1e-9).astype(np.int64)
    n_orders = len(o_code)
    credit = np.bincount(l_order, weights=line_points * ~returned, minlength=n_orders).astype(np.int64)
    credit_ts = o_ts + cfg.return_window_days * DAY
    credited = np.flatnonzero((credit > 0) & (credit_ts <= ctx.end_ts))

    # --- behaviour points ----------------------------------------------------------------
    first_ts = o_ts[V.starts(V.group_count(o_code, n))]
    stop = np.where(alive, ctx.end_ts, np.minimum(ctx.end_ts, (last_day + 1 + ENGAGEMENT_TAIL_DAYS) * DAY - 1))
    span = np.maximum(stop - first_ts, 0)
    n_eng = rng.poisson(c.engagement_rate * (span / DAY)[:, None])  # (n, 4)
    eng_code = np.repeat(np.repeat(np.arange(n), 4), n_eng.reshape(-1))
    eng_type = np.repeat(np.tile(np.arange(1, 5), n), n_eng.reshape(-1))
    eng_ts = first_ts[eng_code] + np.floor(rng.random(len(eng_code)) * span[eng_code]).astype(np.int64)
    eng_points = ctx.engagement_points[eng_type - 1]

    earn_code = np.concatenate([o_code[credited], eng_code])
    earn_ts = np.concatenate([credit_ts[credited], eng_ts])
    earn_type = np.concatenate([np.zeros(len(credited), np.int64), eng_type])
    earn_points = np.concatenate([credit[credited], eng_points])
    earn_order = np.concatenate([credited, np.full(len(eng_code), -1)])
    s = np.lexsort((earn_type, earn_ts, earn_code))
    earn_code, earn_ts, earn_type, earn_points, earn_order = (
        a[s] for a in (earn_code, earn_ts, earn_type, earn_points, earn_order)
    )

    # --- redemptions and expiry, year by year ------------------------------------------------
    B = ctx.end_ts + 2  # key = code * B + second
    ekey = earn_code * B + earn_ts
    ecum = np.concatenate([[0], np.cumsum(earn_points)])
    base = ecum[np.searchsorted(ekey, np.arange(n) * B, side="left")]

    def credited_before(codes: np.ndarray, ts: np.ndarray) -> np.ndarray:
        return ecum[np.searchsorted(ekey, codes * B + ts, side="left")] - base[codes]

    block = cfg.redeem_block
    e_before = credited_before(o_code, o_ts)
    expired = np.zeros(n, dtype=np.int64)
    held_end = np.zeros(n, dtype=np.int64)  # cumulative redeemed at the end of the previous year
    held = np.zeros(n_orders, dtype=np.int64)
    exp_code, exp_ts, exp_points = [], [], []
    everyone = np.arange(n)
    for first_s, last_s in ctx.years:  # a few calendar years
        in_year = np.flatnonzero((o_ts >= first_s) & (o_ts <= last_s))
        cy = o_code[in_year]
        target = block * np.floor(c.redeem_share[cy] * (e_before[in_year] - expired[cy]) / block).astype(np.int64)
        held[in_year] = np.maximum(held_end[cy], np.maximum(target, 0))
        np.maximum.at(held_end, cy, held[in_year])
        if last_s <= ctx.end_ts:
            older = credited_before(everyone, np.full(n, first_s))  # credited before this year
            new_expired = np.maximum(expired, older - held_end)
            hit = np.flatnonzero(new_expired > expired)
            exp_code.append(hit)
            exp_ts.append(np.full(len(hit), last_s))
            exp_points.append(new_expired[hit] - expired[hit])
            expired = new_expired
    o_counts = V.group_count(o_code, n)
    redeemed = held - V.previous_in_group(held, o_counts, 0)
    red = np.flatnonzero(redeemed > 0)

    # --- events table --------------------------------------------------------------------
    exp_code = np.concatenate(exp_code) if exp_code else np.zeros(0, np.int64)
    exp_ts = np.concatenate(exp_ts) if exp_ts else np.zeros(0, np.int64)
    exp_points = np.concatenate(exp_points) if exp_points else np.zeros(0, np.int64)
    n_tc = len(change)
    ev = {
        "code": np.concatenate([earn_code, o_code[red], exp_code, e_code[change]]),
        "ts": np.concatenate([earn_ts, o_ts[red], exp_ts, e_day[change] * DAY + DAY - 1]),
        "type": np.concatenate([earn_type, np.full(len(red), REDEEM), np.full(len(exp_code), EXPIRE),
                                np.full(n_tc, TIER_CHANGE)]),
        "points": np.concatenate([earn_points, -redeemed[red], -exp_points, np.zeros(n_tc, np.int64)]),
        "tier_from": np.concatenate([np.full(len(earn_code) + len(red) + len(exp_code), -1), tier_before[change]]),
        "tier_to": np.concatenate([np.full(len(earn_code) + len(red) + len(exp_code), -1), tier[change]]),
        "order": np.concatenate([earn_order, red, np.full(len(exp_code) + n_tc, -1)]),
    }
    s = np.lexsort((ev["type"], ev["ts"], ev["code"]))
    ev = {k: v[s] for k, v in ev.items()}

    stats = {
        "loyalty_events": int(len(ev["code"])),
        "points_credited": int(earn_points.sum()),
        "points_redeemed": int(redeemed.sum()),
        "points_expired": int(exp_points.sum()),
        "tier_changes": int(n_tc),
        "end_tier_bronze": int((end_tier == 0).sum()),
        "end_tier_silver": int((end_tier == 1).sum()),
        "end_tier_gold": int((end_tier == 2).sum()),
    }
    for i, name in enumerate(EVENT_TYPES):  # eight event types
        stats[f"events_{name}"] = int((ev["type"] == i).sum())
    return {
        "line_discount_cents": line_discount,
        "line_points": line_points,
        "order_redeemed": redeemed,
        "events": ev,
        "stats": stats,
    }
