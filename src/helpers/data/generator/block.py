"""One block of customers, simulated from its own random stream.

Customers inside a block are numbered 0..n-1 ("code"); every per-customer array is indexed
by code and every child table is sorted by code, then time. All work is vectorised over
customers, purchase days, orders and lines.

Order of events for a customer:

1. attributes (join day, region, city tier, age band, consents) and latent traits: purchase
   rate lambda ~ Gamma(r, alpha), dropout probability p ~ Beta(a, b), spend rate
   nu ~ Gamma(q, v), channel set, category preferences, points habits;
2. purchase days: the join day, then the BG/NBD process (see :func:`purchase_days`);
3. spend per purchase day ~ Gamma(p, nu) in CNY (times 1 + uplift for treated pilot
   customers in the pilot's post period), rounded to cents;
4. each day's total split into 1-3 orders and each order into 1-4 lines (categories),
   all in whole cents, so the day totals are exactly the Gamma-Gamma draws;
5. returns, loyalty (see :mod:`.loyalty`) and service tickets (see :mod:`.service`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.data.generator import _vec as V
from helpers.data.generator.context import Context
from helpers.data.generator.loyalty import simulate_loyalty
from helpers.data.generator.service import simulate_tickets

DAY = V.DAY
#: day totals below this (cents) are always one order with one line
SMALL_BASKET_CENTS = 3000
#: share of store orders placed at the customer's home store (the rest: another store of the region)
HOME_STORE_SHARE = 0.85
#: eligibility for the pilot: a purchase in the 180 days before the pilot starts
PILOT_RECENCY_DAYS = 180
#: the pilot's exposures are spread over this many days, between these hours
PILOT_EXPOSURE_DAYS = 7
PILOT_EXPOSURE_HOURS = (10, 20)


@dataclass
class Customers:
    n: int
    join_day: np.ndarray
    T: np.ndarray
    region: np.ndarray
    city_tier: np.ndarray
    age_band: np.ndarray
    consent: np.ndarray  # (n, 3): marketing_sms, marketing_wechat, data_analytics
    lam: np.ndarray
    pdrop: np.ndarray
    nu: np.ndarray
    n_channels: np.ndarray
    ch_cdf: np.ndarray
    cat_cdf: np.ndarray
    home_store: np.ndarray
    redeem_share: np.ndarray
    engagement_rate: np.ndarray  # (n, 4) events per day by ENGAGEMENT_EVENTS


def simulate_customers(ctx: Context, rng: np.random.Generator, n: int) -> Customers:
    cfg = ctx.cfg
    join_day = np.minimum(np.searchsorted(ctx.join_cdf, rng.random(n), side="right"), ctx.n_days - 1)
    region = np.minimum(np.searchsorted(ctx.region_cdf, rng.random(n), side="right"), len(ctx.regions) - 1)
    city_tier = np.minimum(np.searchsorted(ctx.tier_cdf, rng.random(n), side="right"), len(ctx.city_tiers) - 1)
    age_band = np.minimum(np.searchsorted(ctx.age_cdf, rng.random(n), side="right"), len(ctx.age_bands) - 1)

    lam = rng.gamma(cfg.r, 1.0 / cfg.alpha, n)
    pdrop = np.clip(rng.beta(cfg.a, cfg.b, n), 1e-12, 1.0)
    nu = rng.gamma(cfg.q, 1.0 / cfg.v, n)

    # channels: frequent buyers use more of them (number ~ 1 + Binomial, logit in log rate)
    n_ch = len(ctx.channels)
    usable = int((ctx.ch_mix > 0).sum())
    relative_rate = np.log(np.maximum(lam * cfg.alpha / cfg.r, 1e-300))
    extra_prob = 1.0 / (1.0 + np.exp(-(-1.5 + 0.8 * relative_rate)))
    n_channels = np.minimum(1 + rng.binomial(n_ch - 1, extra_prob), usable)
    with np.errstate(divide="ignore"):
        keys = np.log(ctx.ch_mix)[None, :] + rng.gumbel(size=(n, n_ch))  # Gumbel top-k = weighted, no replacement
    rank = np.empty((n, n_ch), dtype=np.int64)
    rank[np.arange(n)[:, None], np.argsort(-keys, axis=1, kind="stable")] = np.arange(n_ch)
    chosen = rank < n_channels[:, None]
    ch_weight = chosen * ctx.ch_mix[None, :] * rng.gamma(2.0, 1.0, (n, n_ch))
    ch_cdf = V.cdf_of(ch_weight)

    cat_weight = rng.gamma(ctx.category_alpha[age_band]) + 1e-12 * ctx.category_alpha[age_band]
    cat_cdf = V.cdf_of(cat_weight)

    home_store = ctx.region_store_start[region] + np.floor(
        rng.random(n) * ctx.region_store_count[region]
    ).astype(np.int64)

    uses_mini = chosen[:, ctx.channels.index("mini_program")] if "mini_program" in ctx.channels else np.zeros(n, bool)
    u = rng.random((n, 3))
    consent = np.column_stack([u[:, 0] < 0.42, u[:, 1] < np.where(uses_mini, 0.75, 0.45), u[:, 2] < 0.90])

    redeem_share = np.where(rng.random(n) < 0.4, 0.0, rng.beta(2.0, 2.0, n))

    social = np.zeros(n, dtype=bool)
    for name in ("app", "mini_program"):  # two channel columns
        if name in ctx.channels:
            social |= chosen[:, ctx.channels.index(name)]
    u = rng.random((n, 2))
    engagement_rate = np.column_stack(
        [
            np.where(social & (u[:, 0] < 0.35), rng.gamma(1.0, 0.02, n), 0.0),  # check-in
            np.where(u[:, 1] < 0.20, rng.gamma(1.0, 0.01, n), 0.0),  # share
            np.full(n, 0.0015),  # survey
            np.full(n, 0.0004),  # referral
        ]
    )
    return Customers(
        n=n, join_day=join_day, T=(ctx.n_days - 1) - join_day, region=region, city_tier=city_tier,
        age_band=age_band, consent=consent, lam=lam, pdrop=pdrop, nu=nu, n_channels=n_channels,
        ch_cdf=ch_cdf, cat_cdf=cat_cdf, home_store=home_store, redeem_share=redeem_share,
        engagement_rate=engagement_rate,
    )


def purchase_days(rng: np.random.Generator, c: Customers) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Repeat purchase days of the BG/NBD process, in days after the join day.

    Without dropout a customer's repeat purchases in (0, T] are a Poisson process: their
    number is N ~ Poisson(lambda T) and, given N, their times are the order statistics of N
    uniforms. The customer drops out right after the G-th repeat purchase,
    G ~ Geometric(p), so they make x = min(N, G) purchases and are alive at the end iff
    G > N. The first x order statistics of N uniforms are S_i / (S_x + R) with S_i sums of
    i Exp(1) draws and R ~ Gamma(N - x + 1), so only x draws are needed per customer.

    A purchase at time t (days) falls on day ceil(t). Two purchases on one calendar day are
    moved apart, the later one to the next free day (about 1.6% of purchases at the default
    parameters; merging them instead would lose purchases and bias the daily summary).
    Purchases moved past the end of the window are dropped (a few in a million).

    Returns (customer code, day offset >= 1, alive flag per customer, stats).
    """
    N = rng.poisson(c.lam * c.T)
    G = rng.geometric(c.pdrop)
    x = np.minimum(N, G)
    alive = G > N
    gaps = rng.exponential(1.0, int(x.sum()))
    rest = rng.gamma(N - x + 1.0)
    S = V.group_cumsum(gaps, x)
    last = np.zeros(c.n)
    has = x > 0
    last[has] = S[V.starts(x)[has] + x[has] - 1]
    code = V.parent_of(x)
    t = S / (last + rest)[code] * c.T[code]
    day = np.maximum(np.ceil(t).astype(np.int64), 1)
    moved = V.push_forward(day, x)
    keep = moved <= c.T[code]
    stats = {
        "repeat_purchases_process": int(x.sum()),
        "repeat_purchases_moved": int((moved != day).sum()),
        "repeat_purchases_dropped": int((~keep).sum()),
    }
    return code[keep], moved[keep], alive, stats


def simulate_block(ctx: Context, block_index: int, n: int) -> dict:
    """Simulate ``n`` customers of block ``block_index``; returns raw columns and stats."""
    cfg = ctx.cfg
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(1, block_index)))
    c = simulate_customers(ctx, rng, n)
    rep_code, rep_offset, alive, stats = purchase_days(rng, c)

    # --- purchase days: join day first, then repeat days ---------------------------------
    n_repeat = V.group_count(rep_code, n)
    days_per_customer = 1 + n_repeat
    pd_code = V.parent_of(days_per_customer)
    pd_offset = np.zeros(len(pd_code), dtype=np.int64)
    pd_offset[V.starts(days_per_customer)[rep_code] + V.rank_in_group(n_repeat) + 1] = rep_offset
    pd_day = c.join_day[pd_code] + pd_offset
    last_day = pd_day[V.starts(days_per_customer) + days_per_customer - 1]

    # --- pilot assignment (uses purchase days only) ----------------------------------------
    ps, W = ctx.pilot_day, cfg.pilot_window_days
    recent = (pd_day >= ps - PILOT_RECENCY_DAYS) & (pd_day < ps)
    eligible = (c.join_day <= ps - W) & (V.group_count(pd_code[recent], n) > 0)
    in_pilot = eligible & (rng.random(n) < cfg.pilot_share)
    treated = in_pilot & (rng.random(n) < cfg.pilot_treatment_share)
    exposure_day = ps + rng.integers(0, PILOT_EXPOSURE_DAYS, n)
    exposure_sec = rng.integers(PILOT_EXPOSURE_HOURS[0] * 3600, PILOT_EXPOSURE_HOURS[1] * 3600, n)

    # --- spend per purchase day (Gamma-Gamma), pilot uplift, cents -------------------------
    raw = rng.gamma(cfg.p, 1.0, len(pd_code)) / c.nu[pd_code]
    cents0 = np.maximum(np.rint(raw * 100), 1).astype(np.int64)
    cents1 = np.maximum(np.rint(raw * (1.0 + cfg.pilot_uplift) * 100), 1).astype(np.int64)
    exp_d = exposure_day[pd_code]
    post = in_pilot[pd_code] & (pd_day > exp_d) & (pd_day <= exp_d + W)
    pre = in_pilot[pd_code] & (pd_day >= exp_d - W) & (pd_day < exp_d)
    uplifted = post & treated[pd_code]
    cents = np.where(uplifted, cents1, cents0)

    # --- orders: 1-3 per purchase day, multi-channel customers more often -------------------
    k = c.n_channels[pd_code]
    u = rng.random(len(pd_code))
    orders_per_day = 1 + (u < 0.04 + 0.02 * (k - 1)) + (u < 0.004 * k)
    orders_per_day[cents < SMALL_BASKET_CENTS] = 1
    w = rng.gamma(2.0, 1.0, int(orders_per_day.sum()))
    o_day_idx = V.parent_of(orders_per_day)
    w = 0.2 / orders_per_day[o_day_idx] + 0.8 * w / V.group_sum(w, o_day_idx, len(pd_code))[o_day_idx]
    o_cents = V.split_total(cents, orders_per_day, w)
    o_code = pd_code[o_day_idx]
    o_channel = V.pick(c.ch_cdf[o_code], rng.random(len(o_code)))
    hour = V.pick(ctx.hour_cdf[o_channel], rng.random(len(o_code)))
    o_ts = pd_day[o_day_idx] * DAY + hour * 3600 + rng.integers(0, 3600, len(o_code))
    order = np.lexsort((o_ts, o_code))  # by customer, then time
    o_day_idx, o_cents, o_code, o_channel, o_ts = (a[order] for a in (o_day_idx, o_cents, o_code, o_channel, o_ts))
    n_orders = len(o_code)
    other_store = ctx.region_store_start[c.region[o_code]] + np.floor(
        rng.random(n_orders) * ctx.region_store_count[c.region[o_code]]
    ).astype(np.int64)
    o_store = np.where(rng.random(n_orders) < HOME_STORE_SHARE, c.home_store[o_code], other_store)
    o_store = np.where(o_channel == ctx.store_channel, o_store, -1)

    # --- lines: 1-4 per order, categories from the customer's preferences -------------------
    lines_per_order = 1 + np.minimum(rng.poisson(0.5, n_orders), 3)
    lines_per_order[o_cents < SMALL_BASKET_CENTS] = 1
    l_order = V.parent_of(lines_per_order)
    w = rng.gamma(2.0, 1.0, len(l_order))
    w = 0.2 / lines_per_order[l_order] + 0.8 * w / V.group_sum(w, l_order, n_orders)[l_order]
    l_cents = V.split_total(o_cents, lines_per_order, w)
    l_code = o_code[l_order]
    l_no = V.rank_in_group(lines_per_order) + 1
    l_cat = V.pick(c.cat_cdf[l_code], rng.random(len(l_order)))
    unit_price = ctx.category_price[l_cat] * np.exp(rng.normal(0.0, 0.4, len(l_order)))
    l_qty = np.clip(np.rint(l_cents / 100.0 / unit_price), 1, 24).astype(np.int64)

    # --- returns: whole lines, 1-14 days later, inside the window ---------------------------
    rate = ctx.return_rate[o_channel[l_order]] * ctx.category_return[l_cat]
    returned = rng.random(len(l_order)) < rate
    r_ts_all = o_ts[l_order] + rng.integers(DAY, 14 * DAY, len(l_order))
    returned &= r_ts_all <= ctx.end_ts
    ret_idx = np.flatnonzero(returned)

    # --- loyalty: tiers, discounts, points, redemptions, expiry ------------------------------
    loyal = simulate_loyalty(
        ctx, rng, c,
        pd_code=pd_code, pd_day=pd_day, pd_cents=cents,
        o_code=o_code, o_ts=o_ts, o_day=pd_day[o_day_idx],
        l_order=l_order, l_cents=l_cents, returned=returned,
        r_code=l_code[ret_idx], r_ts=r_ts_all[ret_idx], r_cents=l_cents[ret_idx],
        alive=alive, last_day=last_day,
    )

    # --- service tickets ---------------------------------------------------------------------
    dropped = ~alive
    churn_order = dropped[o_code] & (pd_day[o_day_idx] == last_day[o_code])
    tickets = simulate_tickets(ctx, rng, o_code=o_code, o_ts=o_ts, o_channel=o_channel, churn_order=churn_order)

    # --- assemble raw columns (transactions: purchase lines then returns, sorted) ------------
    first_line = l_no == 1
    l_discount = loyal["line_discount_cents"].copy()
    l_redeemed = np.zeros(len(l_order), dtype=np.int64)
    l_redeemed[first_line] = loyal["order_redeemed"]
    l_discount[first_line] += np.rint(
        loyal["order_redeemed"] * 100.0 / cfg.points_per_cny_redeemed
    ).astype(np.int64)
    line_ts = o_ts[l_order]
    tx = {
        "code": np.concatenate([l_code, l_code[ret_idx]]),
        "order": np.concatenate([l_order, l_order[ret_idx]]),
        "line_no": np.concatenate([l_no, l_no[ret_idx]]),
        "ts": np.concatenate([line_ts, r_ts_all[ret_idx]]),
        "channel": np.concatenate([o_channel[l_order], o_channel[l_order[ret_idx]]]),
        "store": np.concatenate([o_store[l_order], o_store[l_order[ret_idx]]]),
        "category": np.concatenate([l_cat, l_cat[ret_idx]]),
        "quantity": np.concatenate([l_qty, -l_qty[ret_idx]]),
        "amount_cents": np.concatenate([l_cents, -l_cents[ret_idx]]),
        "discount_cents": np.concatenate([l_discount, np.zeros(len(ret_idx), dtype=np.int64)]),
        "points_earned": np.concatenate([loyal["line_points"], -loyal["line_points"][ret_idx]]),
        "points_redeemed": np.concatenate([l_redeemed, np.zeros(len(ret_idx), dtype=np.int64)]),
        "is_return": np.concatenate([np.zeros(len(l_order), bool), np.ones(len(ret_idx), bool)]),
    }
    sort = np.lexsort((tx["is_return"], tx["line_no"], tx["order"], tx["ts"], tx["code"]))
    tx = {k: v[sort] for k, v in tx.items()}

    first_order = V.starts(V.group_count(o_code, n))
    customers = {
        "code": np.arange(n),
        "join_day": c.join_day,
        "join_channel": o_channel[first_order],
        "region": c.region,
        "city_tier": c.city_tier,
        "age_band": c.age_band,
        "marketing_sms": c.consent[:, 0],
        "marketing_wechat": c.consent[:, 1],
        "data_analytics": c.consent[:, 2],
    }
    truth = {
        "code": np.arange(n),
        "lambda": c.lam,
        "p": c.pdrop,
        "nu": c.nu,
        "mean_spend": cfg.p / c.nu,
        "alive": alive,
        "churn_day": np.where(alive, -1, last_day),
    }

    # --- pilot table and its potential outcomes ----------------------------------------------
    pilot_codes = np.flatnonzero(in_pilot)
    y0 = V.group_sum(cents0 * post, pd_code, n)
    y1 = V.group_sum(cents1 * post, pd_code, n)
    campaign = {
        "code": pilot_codes,
        "treated": treated[pilot_codes],
        "exposed_ts": exposure_day[pilot_codes] * DAY + exposure_sec[pilot_codes],
        "pre_cents": V.group_sum(cents * pre, pd_code, n)[pilot_codes].astype(np.int64),
        "outcome_cents": V.group_sum(cents * post, pd_code, n)[pilot_codes].astype(np.int64),
        "converted": V.group_count(pd_code[post], n)[pilot_codes] > 0,
    }
    t_mask = treated[pilot_codes]
    stats.update(
        {
            "customers": n,
            "alive_at_end": int(alive.sum()),
            "purchase_days": int(len(pd_code)),
            "orders": int(n_orders),
            "order_lines": int(len(l_order)),
            "returns": int(len(ret_idx)),
            "transaction_rows": int(len(tx["code"])),
            "pilot_customers": int(len(pilot_codes)),
            "pilot_treated": int(t_mask.sum()),
            "pilot_y0_cents": float(y0[pilot_codes].sum()),
            "pilot_y1_cents": float(y1[pilot_codes].sum()),
            "pilot_treated_y0_cents": float(y0[pilot_codes][t_mask].sum()),
            "pilot_treated_y1_cents": float(y1[pilot_codes][t_mask].sum()),
            "pilot_uplifted_purchase_days": int(uplifted.sum()),
            "pilot_converted_treated": int(campaign["converted"][t_mask].sum()),
            "pilot_converted_control": int(campaign["converted"][~t_mask].sum()),
        }
    )
    stats.update(loyal["stats"])
    stats.update(tickets.pop("stats"))
    return {
        "customers": customers,
        "transactions": tx,
        "loyalty_events": loyal["events"],
        "service_tickets": tickets,
        "campaign_exposures": campaign,
        "truth_customers": truth,
        "stats": stats,
    }
