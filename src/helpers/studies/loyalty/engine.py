"""Monte Carlo simulation of a loyalty design against the no-programme baseline.

For every simulation run and customer the engine draws the customer's hidden purchase
rate, dropout and spend rate from the individual-level posteriors
(:mod:`helpers.studies.loyalty.posterior`), then steps through the horizon month by month
(a month is 30 days). All arrays have shape (runs, customers) and customers are
processed in blocks, so memory stays bounded; loops run over months, blocks, tier
levels, expiry buckets, activities and triggers, never over customers.

**Baseline arm** (no programme). An active customer's purchases in a month are
Poisson(rate); under BG/NBD / MBG/NBD they drop out right after their G-th future
purchase (G drawn once, Geometric(p)), and the time of that purchase within the month
is the G-th of N uniform order statistics, Beta(G, N - G + 1); under Pareto/NBD the
remaining lifetime is exponential. Spend of k purchases is Gamma(k p, nu).

**Design arm.** The design arm shares every baseline draw (common random numbers) and
adds, for members, extra purchases ~ Poisson(rate x lift x time active this month),
with the lift of :mod:`helpers.studies.loyalty.assumptions`. Dropout stays tied to the baseline
purchases, so a programme changes how often members buy while they are customers, not
how long they stay (this avoids the BG/NBD artefact "more purchases, earlier dropout").
A share ``pull_forward_share`` of the purchases added by acceleration (goal gradient,
tier pressure, triggers) are borrowed: each is repaid by removing one of the member's
later baseline purchases (its spend split off exactly, by the Gamma splitting property).
With every lift at zero the design arm's purchases and spend equal the baseline's
exactly, so a zero-lift design loses exactly its costs.

**Rules, every month, in this order** (:func:`programme_month`):

1. Customers willing to join (``enrolment_rate``) join at their first purchase; the
   lift applies from the month after joining. Everyone starts in the first level.
2. Redemption: a member with a purchase this month and a balance (at the start of the
   month) of at least the threshold redeems with probability ``redemption_propensity``:
   every whole block (``all_blocks``) or one block, oldest points first. Cost = points x
   point value x reward cost ratio.
3. Benefits of the tier in force at the start of the month: discount % of spend,
   free shipping (cost per shipped order), free returns (cost per order), early access
   and other per-member costs; coupons and free shipping unlocked by last month's triggers
   (counted as trigger costs).
4. Points: spend x points per currency x channel/category multiplier x tier multiplier
   (x2 in the birthday month when the tier has it), plus activity points (Poisson events
   per member per month, capped) and trigger bonus points.
5. Triggers are checked on the month's purchases and spend; their coupon / free shipping
   applies next month.
6. Expiry: points expire at the end of the ``expiry_months``-th month after the month they
   were earned (one bucket per earning month, first in first out).
7. Tiers: qualifying spend and visits in a rolling window of ``window_months``; upgrades
   at once; a member whose window falls below ``retain_fraction`` of their tier's
   threshold is moved down to the level they qualify for, at review months only.

Randomness: each block of customers has its own streams, seeded from (seed, block,
stream), so the baseline arm is identical for every design and every assumption
setting (it is drawn once per block and kept for the next simulation of the same block,
up to :data:`BASELINE_CACHE_BYTES`), and a run is reproducible for the same seed, runs and block size (and does
not depend on ``workers``). Extra purchases and their spend are drawn by inversion of
uniforms drawn for every cell every month (:func:`poisson_inverse`, the Gamma quantile),
so a higher lift never gives a member fewer extra purchases in the same run: profit is
a smooth function of the lift, which the break-even search and the sensitivity bars need.
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import gammaincinv

from helpers.errors import ConfigError
from helpers.report.i18n import is_chinese, text
from helpers.studies.loyalty import assumptions as A
from helpers.studies.loyalty.base import CustomerBase
from helpers.studies.loyalty.design import Design
from helpers.studies.loyalty.posterior import draw

#: Cells (runs x customers) per block: bounds memory (about 100 bytes per cell per expiry/window month).
CHUNK_CELLS = 250_000
#: Start method of worker processes: fork (no re-import, Linux) where available, else spawn.
_START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"
#: Stream ids (the third seed component) of the random streams.
_POSTERIOR, _BASE, _SPEND, _LIFT, _ENROL, _REDEEM, _ACTIVITY, _ACCEL = range(8)
#: Above this monthly mean, extra purchases are drawn directly instead of by inversion.
_INVERSION_MAX_MEAN = 50.0

#: Flows summed per run and month, in the order of :attr:`SimResult.monthly`.
FLOWS = (
    "revenue_base", "revenue_design", "purchases_base", "purchases_design",
    "member_purchases_base", "member_purchases_design",
    "members", "new_members", "active_members",
    "points_earned", "points_redeemed", "points_expired",
    "reward_value", "reward_cost", "discount_cost", "shipping_cost", "returns_cost",
    "tier_service_cost", "trigger_cost", "member_cost", "enrolment_cost", "subsidy_cost",
)
#: Cost flows charged per member or purchase (fixed costs and the liability are added in results).
VARIABLE_COSTS = (
    "reward_cost", "discount_cost", "shipping_cost", "returns_cost", "tier_service_cost", "trigger_cost",
    "member_cost", "enrolment_cost",
)


@dataclass(frozen=True)
class SimSettings:
    """How much to simulate: months, runs, seed; ``chunk_cells`` bounds memory; ``workers``
    processes share the blocks (results do not depend on it)."""

    horizon_months: int = 12
    runs: int = 200
    seed: int = 0
    chunk_cells: int = CHUNK_CELLS
    workers: int = 1

    def __post_init__(self) -> None:
        for name in ("horizon_months", "runs", "chunk_cells", "workers"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ConfigError(f"{name} must be a whole number >= 1, not {value!r}")


@dataclass
class Rules:
    """A design and its assumptions compiled into arrays indexed by tier level."""

    design: Design
    values: dict
    spend_thr: np.ndarray
    visit_thr: np.ndarray
    discount: np.ndarray
    ship: np.ndarray
    returns: np.ndarray
    birthday: np.ndarray
    points_mult: np.ndarray
    tier_cost: np.ndarray
    lift_level: np.ndarray
    activities: list = field(default_factory=list)  # (points, cap or None, rate per member-month)

    @property
    def n_levels(self) -> int:
        return len(self.spend_thr)

    @property
    def buckets(self) -> int:
        e = self.design.burn.expiry_months
        return 1 if e is None else e + 1


def compile_rules(design: Design, values: dict) -> Rules:
    """Arrays per tier level from a design and resolved assumption ``values``."""
    levels = design.levels
    c = design.costs
    inf = np.inf

    def arr(fn, dtype="float64"):
        return np.array([fn(t) for t in levels], dtype=dtype)

    spend_thr = arr(lambda t: t.qualify_spend if t.qualify_spend is not None else inf)
    visit_thr = arr(lambda t: t.qualify_visits if t.qualify_visits is not None else inf)
    spend_thr[0] = visit_thr[0] = 0.0
    activities = []
    rates = values["activity_rates"]
    for act in design.earn.activities:
        if act.name not in rates:
            raise ConfigError(
                f"{design.source}: earn.activities.{act.name}: no rate for this activity; set "
                f"assumptions.activity_rates.{act.name} (events per member per month)"
            )
        activities.append((act.points, act.monthly_cap, rates[act.name] * values["activity_scale"]))
    level_index = np.arange(len(levels), dtype="float64")
    return Rules(
        design=design,
        values=values,
        spend_thr=spend_thr,
        visit_thr=visit_thr,
        discount=arr(lambda t: t.benefits.discount_pct / 100.0),
        ship=arr(lambda t: t.benefits.free_shipping, "bool"),
        returns=arr(lambda t: t.benefits.free_returns, "bool"),
        birthday=arr(lambda t: t.benefits.birthday_double_points, "bool"),
        points_mult=arr(lambda t: t.benefits.points_multiplier),
        tier_cost=arr(
            lambda t: t.benefits.cost_per_member_month + (c.early_access_cost_per_member_month if t.benefits.early_access else 0.0)
        ),
        lift_level=values["member_lift"] + values["tier_lift_per_level"] * level_index,
        activities=activities,
    )


@dataclass
class State:
    """Programme state of every (run, customer)."""

    willing: np.ndarray
    birthday: np.ndarray
    member: np.ndarray
    tier: np.ndarray
    buckets: np.ndarray  # (buckets, runs, customers) points by earning month
    win_spend: np.ndarray  # (window, runs, customers)
    win_visits: np.ndarray
    debt: np.ndarray
    ship_next: np.ndarray
    coupon_next: np.ndarray
    #: win_spend.sum(0) and win_visits.sum(0) (float64), updated with the windows by programme_month:
    #: next month's tier pressure needs the same totals, so they are summed once, not twice
    roll_spend: np.ndarray
    roll_visits: np.ndarray

    @classmethod
    def start(cls, rules: Rules, willing: np.ndarray, birthday: np.ndarray) -> State:
        shape = willing.shape
        window = rules.design.window_months if rules.design.has_tiers else 1
        return cls(
            willing=willing,
            birthday=birthday,
            member=np.zeros(shape, bool),
            tier=np.zeros(shape, np.int8),
            buckets=np.zeros((rules.buckets, *shape)),
            win_spend=np.zeros((window, *shape)),
            win_visits=np.zeros((window, *shape), np.float32),
            debt=np.zeros(shape, np.int64),
            ship_next=np.zeros(shape, bool),
            coupon_next=np.zeros(shape),
            roll_spend=np.zeros(shape),
            roll_visits=np.zeros(shape),
        )

    @property
    def balance(self) -> np.ndarray:
        return self.buckets.sum(axis=0)


def poisson_inverse(u: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """Poisson(lam) draws by inversion of the uniforms ``u``: for a fixed u the count never
    falls when lam rises, so simulations at different lifts share their randomness
    (common random numbers) and profit is a smooth function of the lift."""
    u = np.asarray(u, "float64")
    lam = np.asarray(lam, "float64")
    out = np.zeros(u.shape, np.int64)
    pmf = np.exp(-lam)
    idx = np.nonzero(u > pmf)[0] if u.ndim == 1 else None
    if idx is None:
        return poisson_inverse(u.ravel(), lam.ravel()).reshape(u.shape)
    pmf, cdf, uu, ll = pmf[idx], pmf[idx].copy(), u[idx], lam[idx]
    limit = ll + 12.0 * np.sqrt(ll) + 30.0  # guards against rounding when u is within 1e-16 of 1
    k = 0
    while idx.size:
        k += 1
        out[idx] = k
        pmf = pmf * ll / k
        cdf = cdf + pmf
        keep = (uu > cdf) & (k < limit)
        idx, pmf, cdf, uu, ll, limit = idx[keep], pmf[keep], cdf[keep], uu[keep], ll[keep], limit[keep]
    return out


def _flat(cells: np.ndarray) -> np.ndarray:
    """A 1-D view of a (runs, customers) array, to write the cells ``np.flatnonzero(mask)``
    picks: the same cells in the same order as ``cells[mask]``, at a fraction of the cost of
    a 2-D boolean mask (each mask here indexes two to four arrays)."""
    if not cells.flags.c_contiguous:  # a reshaped copy would take the writes and drop them
        raise ValueError("a flat view needs a C-contiguous array")
    return cells.reshape(-1)


def _tier_lookup(rules: Rules, tier: np.ndarray):
    """``per_level[tier]`` for every cell; in a design without tiers everyone is in the one
    level, whose value is used as it is (the same numbers without indexing every cell)."""
    if rules.n_levels == 1:
        return lambda per_level: per_level[0]
    return lambda per_level: per_level[tier]


def lifts(rules: Rules, st: State, balance: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """This month's lift of each (run, customer) and the part of it that is acceleration.
    ``balance``: ``st.balance`` when the caller has it already."""
    v = rules.values
    d = rules.design
    acc = np.zeros(st.member.shape)
    if v["goal_gradient"] and d.burn.point_value > 0:
        thr = d.burn.redemption_threshold
        # fmod equals mod for a balance (never negative), at two thirds of the cost
        acc += v["goal_gradient"] * (np.fmod(st.balance if balance is None else balance, thr) / thr)
    if v["tier_pressure"] and d.has_tiers:
        nxt = np.minimum(st.tier.astype(np.int64) + 1, rules.n_levels - 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            prog = np.maximum(st.roll_spend / rules.spend_thr[nxt], st.roll_visits / rules.visit_thr[nxt])
        prog = np.where(st.tier < rules.n_levels - 1, np.clip(np.nan_to_num(prog), 0.0, 1.0), 0.0)
        acc += v["tier_pressure"] * prog
    if d.triggers:
        acc += v["trigger_lift"]
    acc = np.where(st.member, acc, 0.0)
    lift = np.where(st.member, _tier_lookup(rules, st.tier)(rules.lift_level), 0.0) + acc
    return lift, acc


def _take_oldest_first(buckets: np.ndarray, month: int, cells: np.ndarray, points: np.ndarray) -> None:
    """Take ``points[cells]`` from the earning-month ``buckets`` of the flat ``cells``, oldest month
    first (the bucket after this month's is the oldest). Only the redeeming cells are touched: the
    others would take nothing."""
    if not cells.size:
        return
    nb = buckets.shape[0]
    flat = buckets.reshape(nb, -1)  # a view: buckets is contiguous
    left = points[cells]
    for j in range(1, nb + 1):
        slot = (month + j) % nb
        held = flat[slot, cells]
        take = np.minimum(held, left)
        flat[slot, cells] = held - take
        left -= take


def programme_month(
    rules: Rules,
    st: State,
    month: int,
    purchases: np.ndarray,
    spend: np.ndarray,
    active: np.ndarray,
    rng_redeem: np.random.Generator,
    rng_activity: np.random.Generator,
    earn_multiplier: np.ndarray | float = 1.0,
    balance: np.ndarray | None = None,
) -> dict:
    """Apply a design's rules to one month of (design-arm) purchases and spend.

    Updates ``st`` in place and returns this month's flows per (run, customer).
    ``active``: customers still buying at the start of the month (activities need it).
    ``balance``: ``st.balance`` at the start of the month when the caller has it already.
    """
    d, v = rules.design, rules.values
    b, c = d.burn, d.costs
    k = purchases
    joins = st.willing & ~st.member & (k > 0)
    st.member |= joins
    mem = st.member
    tier = st.tier
    nb = rules.buckets

    # 2. redemption, oldest points first, from the balance at the start of the month
    balance = st.balance if balance is None else balance
    u = rng_redeem.random(k.shape)
    go = mem & (k > 0) & (balance >= b.redemption_threshold) & (u < v["redemption_propensity"])
    blocks = np.floor(balance / b.redemption_threshold)
    if b.redeem == "one_block":
        blocks = np.minimum(blocks, 1.0)
    redeemed = np.where(go, blocks * b.redemption_threshold, 0.0)
    _take_oldest_first(st.buckets, month, np.flatnonzero(go), redeemed.ravel())
    reward_value = redeemed * b.point_value
    reward_cost = reward_value * b.reward_cost_ratio

    # 3. benefits of the tier in force; a benefit no level has, or no trigger unlocks, costs
    # exactly 0 (spend is finite), so it is not worked out cell by cell
    at = _tier_lookup(rules, tier)
    none = lambda: np.zeros(k.shape)  # noqa: E731 - a fresh array per flow: callers may add to one in place
    discount = np.where(mem, at(rules.discount) * spend, 0.0) if rules.discount.any() else none()
    per_order_shipping = k * c.shipping_cost_per_order * c.shipped_order_share
    shipping = np.where(mem & at(rules.ship), per_order_shipping, 0.0) if rules.ship.any() else none()  # a tier benefit
    unlocks_shipping = any(t.free_shipping_next_month for t in d.triggers)
    trigger_shipping = (  # unlocked by a trigger
        np.where(mem & ~at(rules.ship) & st.ship_next, per_order_shipping, 0.0) if unlocks_shipping else none()
    )
    returns = np.where(mem & at(rules.returns), k * c.return_cost_per_order, 0.0) if rules.returns.any() else none()
    tier_service = np.where(mem, at(rules.tier_cost), 0.0) if rules.tier_cost.any() else none()
    has_coupons = any(t.coupon_value for t in d.triggers)
    coupon_used = np.where(mem & (k > 0), st.coupon_next, 0.0) if has_coupons else none()

    # 4. points
    mult = at(rules.points_mult) * earn_multiplier
    if rules.birthday.any():
        mult = mult * np.where(at(rules.birthday) & (st.birthday == month % 12), 2.0, 1.0)
    earned = np.where(mem, spend * d.earn.points_per_currency * mult, 0.0)
    if rules.activities:
        doers = np.flatnonzero(mem & active)
        n_doers = doers.size
        for points, cap, rate in rules.activities:
            if rate <= 0 or n_doers == 0:
                continue
            events = rng_activity.poisson(rate, size=n_doers)
            if cap is not None:
                events = np.minimum(events, cap)
            _flat(earned)[doers] += events * points

    # 5. triggers: reward points now, coupon / free shipping next month
    trigger_cost = coupon_used + trigger_shipping
    ship_next = np.zeros(k.shape, bool)
    coupon_next = np.zeros(k.shape)
    for t in d.triggers:
        fired = mem & ((k >= t.purchases_in_month) if t.purchases_in_month is not None else (spend >= t.spend_in_month))
        if t.bonus_points:
            earned += fired * t.bonus_points
        if t.cost:
            trigger_cost += fired * t.cost
        if t.coupon_value:
            coupon_next += fired * t.coupon_value
        if t.free_shipping_next_month:
            ship_next |= fired
    st.buckets[month % nb] += earned

    # 6. expiry at the end of the month
    if b.expiry_months is not None:
        slot = (month + 1) % nb
        expired = st.buckets[slot].copy()
        st.buckets[slot] = 0.0
    else:
        expired = np.zeros(k.shape)

    # 7. tiers
    if d.has_tiers:
        w = st.win_spend.shape[0]
        st.win_spend[month % w] = np.where(mem, spend, 0.0)
        st.win_visits[month % w] = np.where(mem, k, 0)
        roll_spend = st.roll_spend = st.win_spend.sum(0)
        roll_visits = st.roll_visits = st.win_visits.sum(0, dtype="float64")
        qualified = np.zeros(k.shape, np.int8)
        for level in range(1, rules.n_levels):
            ok = (roll_spend >= rules.spend_thr[level]) | (roll_visits >= rules.visit_thr[level])
            qualified[ok] = level
        keep = (roll_spend >= d.retain_fraction * rules.spend_thr[tier]) | (
            roll_visits >= d.retain_fraction * rules.visit_thr[tier]
        )
        review = (month + 1) % d.demotion_review_months == 0
        down = qualified if review else tier
        new_tier = np.where(qualified >= tier, qualified, np.where(keep, tier, down))
        st.tier = np.where(mem, new_tier, 0).astype(np.int8)

    st.ship_next = ship_next
    st.coupon_next = coupon_next
    return {
        "joins": joins,
        "points_earned": earned,
        "points_redeemed": redeemed,
        "points_expired": expired,
        "reward_value": reward_value,
        "reward_cost": reward_cost,
        "discount_cost": discount,
        "shipping_cost": shipping,
        "returns_cost": returns,
        "tier_service_cost": tier_service,
        "trigger_cost": trigger_cost,
        "member_cost": np.where(mem, c.per_member_month, 0.0),
        "enrolment_cost": joins * c.per_new_member,
    }


# ---------------------------------------------------------------------------- replay


def replay(
    design: Design,
    purchases,
    spend,
    assumptions: dict | None = None,
    *,
    birthday_month=None,
    seed: int = 0,
) -> pd.DataFrame:
    """Run the rules on given purchase histories (no model, no lift): the tiny-case tester.

    ``purchases`` and ``spend`` have shape (customers, months) (or (months,) for one
    customer). Every customer joins at their first purchase. Returns one row per customer
    and month with the state at the end of the month and the month's flows.
    """
    k = np.atleast_2d(np.asarray(purchases, dtype=np.int64))
    s = np.atleast_2d(np.asarray(spend, dtype="float64"))
    if k.shape != s.shape:
        raise ConfigError(f"purchases {k.shape} and spend {s.shape} must have the same shape")
    values = A.resolve(design.assumptions, assumptions)
    rules = compile_rules(design, values)
    n, months = k.shape
    bday = np.full((1, n), -1 if birthday_month is None else 0, np.int8)
    if birthday_month is not None:
        bday[:] = np.broadcast_to(np.asarray(birthday_month, np.int8), (n,))
    st = State.start(rules, np.ones((1, n), bool), bday)
    rng_r, rng_a = np.random.default_rng([seed, _REDEEM]), np.random.default_rng([seed, _ACTIVITY])
    rows = []
    for m in range(months):
        tier_before = st.tier.copy()
        flows = programme_month(rules, st, m, k[None, :, m], s[None, :, m], np.ones((1, n), bool), rng_r, rng_a)
        frame = pd.DataFrame({key: np.asarray(val, dtype="float64")[0] for key, val in flows.items() if key != "joins"})
        frame.insert(0, "customer", np.arange(n))
        frame.insert(1, "month", m)
        frame["purchases"] = k[:, m]
        frame["spend"] = s[:, m]
        frame["member"] = st.member[0]
        frame["tier_in_force"] = [design.levels[i].name for i in tier_before[0]]
        frame["tier"] = [design.levels[i].name for i in st.tier[0]]
        frame["balance"] = st.balance[0]
        rows.append(frame)
    return pd.concat(rows, ignore_index=True).sort_values(["customer", "month"], kind="stable").reset_index(drop=True)


# ------------------------------------------------------------------------ simulation


@dataclass
class SimResult:
    """Raw totals of one simulation (over the simulated customers, not scaled).

    ``monthly[name]``: array (runs, months) of each flow in :data:`FLOWS`.
    ``tiers``: members by level at the end of each month, (runs, months, levels).
    ``outstanding``: points outstanding at the horizon, (runs,).
    ``segments[name]``: (runs, segments) totals over the horizon of ``incremental_revenue``,
    ``variable_cost``, ``outstanding``, ``revenue_base`` and ``members``.
    ``per_customer``: means over runs for each simulated customer (index as the base):
    ``incremental_revenue``, ``variable_cost``, ``outstanding_points``, ``p_member`` and
    ``p_upper_tier`` (above the entry level at the horizon).
    """

    design: Design
    values: dict
    settings: SimSettings
    monthly: dict
    tiers: np.ndarray
    outstanding: np.ndarray
    segments: dict
    segment_labels: list
    n_customers: int
    per_customer: pd.DataFrame | None = None
    earn_note: str = ""
    #: how channel / category multipliers were applied: (dimension, how) with how one of
    #: own_mix, assumed_mix, not_applied (keys of the catalog ``loyalty.multipliers``)
    earn_notes: tuple = ()


def earn_multipliers(design: Design, base: CustomerBase) -> tuple[np.ndarray | float, str]:
    """Each customer's average points multiplier from channel and category multipliers.

    Uses the customer's own spend shares by channel / category when the data has the column;
    otherwise the design's ``channel_mix`` / ``category_mix``; otherwise 1 (with a note).
    Channel and category are treated as independent (multipliers multiply).
    """
    e = design.earn
    total: np.ndarray | float = 1.0
    for label, mults, shares, mix in (
        ("channel", e.channel_multipliers, base.channel_shares, e.channel_mix),
        ("category", e.category_multipliers, base.category_shares, e.category_mix),
    ):
        if not mults:
            continue
        if shares is not None:
            vec = np.array([mults.get(col, 1.0) for col in shares.columns])
            per = shares.to_numpy() @ vec
            fallback = float(np.nanmean(per)) if np.isfinite(per).any() else 1.0
            total = total * np.where(np.isfinite(per), per, fallback)
        elif mix:
            total = total * sum(share * mults.get(name, 1.0) for name, share in mix.items())
    return total, describe_earn_notes(earn_notes(design, base))


def earn_notes(design: Design, base: CustomerBase) -> tuple[tuple[str, str], ...]:
    """How :func:`earn_multipliers` applies channel and category multipliers: pairs of
    (``channel`` or ``category``, ``own_mix``, ``assumed_mix`` or ``not_applied``)."""
    e = design.earn
    out = []
    for dimension, mults, shares, mix in (
        ("channel", e.channel_multipliers, base.channel_shares, e.channel_mix),
        ("category", e.category_multipliers, base.category_shares, e.category_mix),
    ):
        if mults:
            out.append((dimension, "own_mix" if shares is not None else "assumed_mix" if mix else "not_applied"))
    return tuple(out)


def describe_earn_notes(notes, language: str = "en") -> str:
    """The notes of :func:`earn_notes` in words ("" when there are none)."""
    parts = []
    for dimension, how in notes:
        parts.append(text(
            f"loyalty.multipliers.{how}", language, dimension=text(f"loyalty.multipliers.{dimension}", language),
            key=f"{dimension}_mix",
        ))
    return ("；" if is_chinese(language) else "; ").join(parts)


@dataclass
class _Block:
    """Everything one block of customers needs (picklable, for worker processes)."""

    index: int
    design: Design
    values: dict
    settings: SimSettings
    model_name: str
    params: dict
    spend_params: dict
    month_units: float
    frequency: np.ndarray
    recency: np.ndarray
    T: np.ndarray
    monetary_value: np.ndarray
    p_alive: np.ndarray
    segment_codes: np.ndarray
    n_segments: int
    earn_multiplier: np.ndarray | float
    keep_baseline: bool = False  #: keep the baseline for the next simulation of this block


SEGMENT_TOTALS = ("incremental_revenue", "variable_cost", "outstanding", "revenue_base", "members")
CUSTOMER_MEANS = ("incremental_revenue", "variable_cost", "outstanding_points", "p_member", "p_upper_tier")


@dataclass(frozen=True)
class _Baseline:
    """The no-programme arm of one block and what the design arm takes from the same streams:
    arrays (runs, customers), and (months, runs, customers) for the months. It uses only its own
    random streams (posterior, baseline, spend, enrolment), so every design and every assumption
    setting simulated on the same block, seed, runs and horizon shares it."""

    rate: np.ndarray  #: purchases per month while active
    nu: np.ndarray  #: spend rate (Gamma-Gamma)
    enrol_u: np.ndarray  #: uniforms against the enrolment rate: who is willing to join
    birthday: np.ndarray  #: birthday month 0-11
    active: np.ndarray  #: still buying at the start of the month
    frac: np.ndarray  #: share of the month the customer was still buying
    made: np.ndarray  #: baseline purchases
    spend: np.ndarray  #: baseline spend

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self.__dataclass_fields__)


#: Baselines kept for the next simulation of the same blocks, least recently used dropped first
#: beyond this many bytes: the break-even search and the sensitivity bars simulate the same
#: customers with the same seed dozens of times, and the baseline arm is a third of each.
BASELINE_CACHE_BYTES = 256 * 2**20
#: Bytes a block's baseline holds per cell (run x customer) and month (active, frac, made, spend).
_BASELINE_CELL_BYTES = 1 + 8 + 8 + 8
_baselines: dict[bytes, _Baseline] = {}


def _baseline_key(job: _Block) -> bytes:
    """What a block's baseline depends on: the block's customers, the fitted models, the seed,
    runs and horizon (never the design or its assumptions)."""
    h = hashlib.sha256()
    s = job.settings
    h.update(repr((job.index, s.seed, s.runs, s.horizon_months, job.model_name, sorted(job.params.items()),
                   sorted(job.spend_params.items()), job.month_units)).encode())
    for values in (job.frequency, job.recency, job.T, job.monetary_value, job.p_alive):
        h.update(np.ascontiguousarray(values, dtype="float64").tobytes())
    return h.digest()


def _cached_baseline(job: _Block) -> _Baseline:
    if not job.keep_baseline:
        return _baseline(job)
    key = _baseline_key(job)
    found = _baselines.pop(key, None)
    if found is None:
        found = _baseline(job)
    _baselines[key] = found  # now the most recently used (dicts keep insertion order)
    while sum(b.nbytes for b in _baselines.values()) > BASELINE_CACHE_BYTES and len(_baselines) > 1:
        del _baselines[next(iter(_baselines))]
    return found


def _baseline(job: _Block) -> _Baseline:
    """The baseline arm of one block, month by month (see the module notes)."""
    settings = job.settings
    runs, months = settings.runs, settings.horizon_months
    rng = {sid: np.random.default_rng([settings.seed, job.index, sid]) for sid in (_POSTERIOR, _BASE, _SPEND, _ENROL)}
    dr = draw(job.model_name, job.params, job.spend_params, job.frequency, job.recency, job.T,
              job.monetary_value, job.p_alive, runs, rng[_POSTERIOR])
    shape = dr.rate.shape
    p_gg = job.spend_params["p"]
    rate = dr.rate * job.month_units
    nu = dr.nu
    alive = dr.alive.copy()
    remaining = dr.remaining.copy() if dr.remaining is not None else None
    life = dr.lifetime / job.month_units if dr.lifetime is not None else None
    enrol_u = rng[_ENROL].random(shape)
    birthday = rng[_ENROL].integers(0, 12, size=shape).astype(np.int8)
    active_all = np.empty((months, *shape), bool)
    frac_all = np.empty((months, *shape))
    made_all = np.empty((months, *shape), np.int64)
    spend_all = np.zeros((months, *shape))
    for m in range(months):  # each month's draws depend on who is still buying
        active = active_all[m]
        active[...] = alive
        if remaining is not None:
            n_events = rng[_BASE].poisson(np.where(active, rate, 0.0))
            made = np.minimum(n_events, remaining)
            dies = active & (n_events >= remaining)
            frac = active.astype("float64")
            idx = np.nonzero(dies)
            frac[idx] = rng[_BASE].beta(made[idx], n_events[idx] - made[idx] + 1)
            remaining -= made
            alive &= ~dies
        else:
            frac = np.clip(life, 0.0, 1.0)
            life -= frac
            alive = life > 0
            made = rng[_BASE].poisson(rate * frac)
        frac_all[m], made_all[m] = frac, made
        pos = made > 0
        spend_all[m][pos] = rng[_SPEND].gamma(made[pos] * p_gg) / nu[pos]
    shared = _Baseline(rate, nu, enrol_u, birthday, active_all, frac_all, made_all, spend_all)
    for name in shared.__dataclass_fields__:  # shared by later simulations: never changed in place
        getattr(shared, name).setflags(write=False)
    return shared


def _simulate_block(job: _Block) -> dict:
    """Both arms for one block of customers; returns its totals (see :class:`SimResult`)."""
    values, settings = job.values, job.settings
    rules = compile_rules(job.design, values)
    runs, months = settings.runs, settings.horizon_months
    rng = {sid: np.random.default_rng([settings.seed, job.index, sid]) for sid in (_LIFT, _REDEEM, _ACTIVITY, _ACCEL)}
    base = _cached_baseline(job)
    shape = base.rate.shape
    p_gg = job.spend_params["p"]
    rate, nu = base.rate, base.nu
    st = State.start(rules, base.enrol_u < values["enrolment_rate"], base.birthday)
    mult = job.earn_multiplier[None, :] if isinstance(job.earn_multiplier, np.ndarray) else job.earn_multiplier
    onehot = np.zeros((shape[1], job.n_segments))
    codes = job.segment_codes
    onehot[np.nonzero(codes >= 0)[0], codes[codes >= 0]] = 1.0

    monthly = {name: np.zeros((runs, months)) for name in FLOWS}
    # the baseline's totals at once for every month (the same sums, month by month)
    monthly["revenue_base"][:] = base.spend.sum(axis=2).T
    monthly["purchases_base"][:] = base.made.sum(axis=2).T
    tiers = np.zeros((runs, months, rules.n_levels))
    inc_rev = np.zeros(shape)
    var_cost = np.zeros(shape)
    for m in range(months):
        active, frac, made, spend_base = base.active[m], base.frac[m], base.made[m], base.spend[m]

        # -- design arm: extra purchases of members, borrowing, repayment
        balance = st.balance  # the programme month starts from the same balance
        lift, acc = lifts(rules, st, balance)
        lam = rate * lift * frac
        u_count = rng[_LIFT].random(shape)  # drawn for every cell every month: common random numbers
        u_spend = rng[_LIFT].random(shape)
        extra = np.zeros(shape, np.int64)
        pos = np.flatnonzero((lam > 0) & (lam <= _INVERSION_MAX_MEAN))
        _flat(extra)[pos] = poisson_inverse(u_count.ravel()[pos], lam.ravel()[pos])
        big = lam > _INVERSION_MAX_MEAN
        if big.any():
            extra[big] = rng[_ACCEL].poisson(lam[big])
        new_debt = np.zeros(shape, np.int64)
        if values["pull_forward_share"] > 0:
            hx = np.flatnonzero((extra > 0) & (acc > 0))
            if hx.size:
                accelerated = rng[_ACCEL].binomial(extra.ravel()[hx], np.clip(acc.ravel()[hx] / lift.ravel()[hx], 0.0, 1.0))
                _flat(new_debt)[hx] = rng[_ACCEL].binomial(accelerated, values["pull_forward_share"])
        repay = np.minimum(st.debt, made)
        st.debt += new_debt - repay
        kept = made - repay
        spend_kept = spend_base.copy()
        split = (repay > 0) & (kept > 0)
        if split.any():
            spend_kept[split] *= rng[_ACCEL].beta(kept[split] * p_gg, repay[split] * p_gg)
        spend_kept[(repay > 0) & (kept == 0)] = 0.0
        spend_extra = np.zeros(shape)
        pos = np.flatnonzero(extra > 0)
        _flat(spend_extra)[pos] = (  # Gamma(k p, nu) by inversion
            gammaincinv(extra.ravel()[pos] * p_gg, u_spend.ravel()[pos]) / nu.ravel()[pos]
        )
        k = kept + extra
        s = spend_kept + spend_extra

        member_before = st.member.copy()
        flows = programme_month(rules, st, m, k, s, active, rng[_REDEEM], rng[_ACTIVITY], mult, balance)
        cost = flows[VARIABLE_COSTS[0]] + flows[VARIABLE_COSTS[1]]
        for name in VARIABLE_COSTS[2:]:  # in place: eight cost arrays, one allocation
            cost += flows[name]
        with np.errstate(divide="ignore", invalid="ignore"):
            base_share = np.where(s > 0, spend_kept / s, 0.0)
        per_purchase = flows["discount_cost"] + flows["shipping_cost"] + flows["returns_cost"] + flows["reward_cost"]

        monthly["revenue_design"][:, m] = s.sum(1)
        monthly["purchases_design"][:, m] = k.sum(1)
        monthly["member_purchases_base"][:, m] = np.where(member_before, made, 0).sum(1)
        monthly["member_purchases_design"][:, m] = np.where(member_before, k, 0).sum(1)
        monthly["members"][:, m] = st.member.sum(1)
        monthly["new_members"][:, m] = flows["joins"].sum(1)
        monthly["active_members"][:, m] = (st.member & active).sum(1)
        for name in ("points_earned", "points_redeemed", "points_expired", "reward_value") + VARIABLE_COSTS:
            monthly[name][:, m] = flows[name].sum(1)
        monthly["subsidy_cost"][:, m] = (per_purchase * base_share).sum(1)
        for level in range(rules.n_levels):
            tiers[:, m, level] = (st.member & (st.tier == level)).sum(1)
        inc_rev += s - spend_base
        var_cost += cost
    left = st.balance
    rev_base = base.spend.sum(axis=0)
    return {
        "monthly": monthly,
        "tiers": tiers,
        "outstanding": left.sum(1),
        "segments": {
            "incremental_revenue": inc_rev @ onehot,
            "variable_cost": var_cost @ onehot,
            "outstanding": left @ onehot,
            "revenue_base": rev_base @ onehot,
            "members": st.member.astype("float64") @ onehot,
        },
        "per_customer": {
            "incremental_revenue": inc_rev.mean(0),
            "variable_cost": var_cost.mean(0),
            "outstanding_points": left.mean(0),
            "p_member": st.member.mean(0),
            "p_upper_tier": (st.tier > 0).mean(0),
        },
    }


def simulate(
    design: Design,
    base: CustomerBase,
    settings: SimSettings = SimSettings(),
    assumptions: dict | None = None,
) -> SimResult:
    """Simulate ``design`` on ``base``: the baseline and design arms with common random numbers.

    ``assumptions`` override the design's own overrides, which override the defaults.
    With ``settings.workers`` > 1 blocks run in that many processes; the result is the
    same as with one (each block has its own seeded streams).
    """
    values = A.resolve(design.assumptions, assumptions)
    compile_rules(design, values)  # validates activity rates before any work is sent to workers
    runs = settings.runs
    summary = base.summary
    n = len(summary)
    cols = {c: summary[c].to_numpy("float64") for c in ("frequency", "recency", "T", "monetary_value")}
    labels = base.segment_labels
    seg_codes = pd.Categorical(base.segments.to_numpy(dtype=object), categories=labels).codes.astype(np.int64)
    mult_all, note = earn_multipliers(design, base)
    notes = earn_notes(design, base)
    block = max(1, settings.chunk_cells // runs)
    n_blocks = -(-n // block)
    in_process = settings.workers == 1 or n_blocks == 1
    keep = in_process and settings.horizon_months * runs * n * _BASELINE_CELL_BYTES <= BASELINE_CACHE_BYTES
    jobs = [
        _Block(
            index=i, design=design, values=values, settings=settings, model_name=base.purchase_model.name,
            params=dict(base.purchase_model.params), spend_params=dict(base.spend_model.params),
            month_units=base.month_units, frequency=cols["frequency"][sl], recency=cols["recency"][sl],
            T=cols["T"][sl], monetary_value=cols["monetary_value"][sl], p_alive=np.asarray(base.p_alive)[sl],
            segment_codes=seg_codes[sl], n_segments=len(labels),
            earn_multiplier=mult_all[sl] if isinstance(mult_all, np.ndarray) else mult_all, keep_baseline=keep,
        )
        for i, sl in enumerate(slice(start, min(start + block, n)) for start in range(0, n, block))
    ]
    if not in_process:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=settings.workers, mp_context=mp.get_context(_START_METHOD)) as pool:
            parts = list(pool.map(_simulate_block, jobs))
    else:
        parts = [_simulate_block(job) for job in jobs]

    monthly = {name: sum(p["monthly"][name] for p in parts) for name in FLOWS}
    segments = {name: sum(p["segments"][name] for p in parts) for name in SEGMENT_TOTALS}
    per_customer = pd.DataFrame(
        {name: np.concatenate([p["per_customer"][name] for p in parts]) for name in CUSTOMER_MEANS},
        index=summary.index,
    )
    return SimResult(
        design=design, values=values, settings=settings, monthly=monthly,
        tiers=sum(p["tiers"] for p in parts), outstanding=sum(p["outstanding"] for p in parts),
        segments=segments, segment_labels=labels, n_customers=n, per_customer=per_customer, earn_note=note,
        earn_notes=notes,
    )
