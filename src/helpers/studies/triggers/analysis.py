"""Scenario triggers: who a rule would reach each week, how many bought anyway, what a
coupon would add, and the next four weeks.

**State at a day d** (history strictly before d): purchase days, last purchase, the
customer's typical gap predicted by BG/NBD, ``(alpha + T) / (r + x)`` days (the posterior
mean time between purchases; ``x`` repeat purchase days, ``T`` days since the first), P(alive)
(BG/NBD; one-time buyers get none, so a P(alive) guard never lets them through: the model
gives them 1 whatever their recency), predicted 365-day value (expected purchase days x
usual spend per purchase day) and its tier (top 20% high, next 30% mid, rest low), and the
CRM segment (:func:`helpers.data.generator.campaigns.segments_at`). Habits (online share,
usual weekday and hour) come from the calibration history before the backtest. The
BG/NBD parameters are fitted once, on the calibration history.

**Rules** (``playbooks/triggers.yaml``): *due* fires on ``last + ceil(k x gap)``; *sleeping*
on ``last + days``; *birthday* ``days_before`` before the birthday; *weekday_affinity* the
day before the usual weekday; *weather* on each day whose weather in the home city meets the
rule (rain of at least ``min_rain_mm``, temperature between ``min_temperature_c`` and
``max_temperature_c``) for mostly-online customers, at ``send_hour``; *near_store* on the week's first day for customers living within
one grid cell of a store with no store purchase for ``no_store_visit_days``. Due and
sleeping triggers are dropped when the customer bought between the week start and the
trigger day (the condition no longer holds). Value guards, then the frequency caps: one
trigger per rule per customer per week and none within ``cap_days`` of the previous one;
at most ``max_per_week`` over all rules (earlier rules win). A send planned in the quiet
hours moves to their end.

**Backtest**: over the last ``weeks`` full weeks that leave ``hit_days`` of follow-up, the
weekly audience, the hit rate (a purchase on the trigger day or within ``hit_days`` after
it; the history had no trigger messages, so this is the share who would have bought
anyway) and, for rules with a coupon, the expected incremental margin per week:
``sum(uplift[segment] x margin_rate x usual spend) - offer x (hit rate + uplift)`` per
customer (every buyer is assumed to redeem, a cautious cost), with the uplift measured in
the coupon campaigns. Rules without a coupon have no measured uplift and no margin.

**Weather effect**: online orders per city-day on rainy vs dry days, Mantel-Haenszel
rate ratio over city x month strata with the Greenland-Robins interval.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from helpers.data import campaigns as K
from helpers.data.columns import CUSTOMER_ID
from helpers.data.generator.campaigns import GRID, PurchaseDays, segments_at
from helpers.errors import DataError
from helpers.memo import shared
from helpers.models import lifetimes_adapter as LA
from helpers.models.summary import collapse_rfm, customer_summary
from helpers.studies.triggers.rules import Rule, TriggerConfig

WEEKS = 12
CALENDAR_WEEKS = 4
SCHEDULED_KINDS = ("due", "sleeping", "birthday", "weekday_affinity")
NO_HOUR = 10  # send hour when the customer has no usual hour


# ------------------------------------------------------------------------ inputs


@dataclass
class TriggerInputs:
    """Purchases (canonical transactions incl. delivery orders) and the optional tables."""

    purchases: pd.DataFrame
    profiles: pd.DataFrame | None = None
    stores: pd.DataFrame | None = None
    weather: pd.DataFrame | None = None
    end: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        self.purchases = self.purchases.copy()
        self.purchases[CUSTOMER_ID] = self.purchases[CUSTOMER_ID].astype(str)
        if self.end is None:
            self.end = self.purchases["timestamp"].max().normalize()
        self.end = pd.Timestamp(self.end).normalize()
        self.ids = np.unique(self.purchases[CUSTOMER_ID].to_numpy(str))
        self.origin = self.purchases["timestamp"].min().normalize()
        self.days = PurchaseDays.from_transactions(self.purchases, self.ids, self.origin)
        self.store_days = None
        if "channel" in self.purchases:
            store = self.purchases[self.purchases["channel"].astype(str) == "store"]
            self.store_days = PurchaseDays.from_transactions(store, self.ids, self.origin) if len(store) else None

    def day(self, when: pd.Timestamp) -> int:
        return int((pd.Timestamp(when).normalize() - self.origin).days)

    def date(self, day: np.ndarray | int) -> pd.DatetimeIndex:
        return self.origin + pd.to_timedelta(np.atleast_1d(day), unit="D")

    def profile_column(self, column: str) -> pd.Series:
        """``profiles[column]`` per customer in code order (NaN for customers without a profile),
        looked up by id once and reused by every week of the backtest."""
        cache = self.__dict__.setdefault("_profile_columns", {})
        if column not in cache:
            cache[column] = self.profiles.set_index(CUSTOMER_ID)[column].reindex(self.ids).reset_index(drop=True)
        return cache[column]

    def birthday_parts(self) -> tuple[np.ndarray, np.ndarray]:
        """Birth month and day per customer in code order (0 when unknown), read once from the
        profiles' MM-DD text: every week of the backtest and calendar looks birthdays up."""
        cache = self.__dict__.setdefault("_profile_columns", {})
        if "birthday parts" not in cache:
            text = self.profile_column(K.BIRTHDAY).fillna("00-00").astype(str)
            cache["birthday parts"] = (text.str.slice(0, 2).astype(int).to_numpy(),
                                       text.str.slice(3, 5).astype(int).to_numpy())
        return cache["birthday parts"]


# ------------------------------------------------------------------------ state


def habits(inputs: TriggerInputs, until: int) -> pd.DataFrame:
    """Per customer (code order): online share of orders, usual weekday and its share, usual hour."""
    tx = inputs.purchases
    tx = tx[tx["timestamp"] < inputs.date(until)[0]]
    code = np.searchsorted(inputs.ids, tx[CUSTOMER_ID].to_numpy(str))
    n = len(inputs.ids)
    out = pd.DataFrame(index=np.arange(n))
    if "channel" in tx:
        orders = tx.drop_duplicates("order_id") if "order_id" in tx else tx
        oc = np.searchsorted(inputs.ids, orders[CUSTOMER_ID].to_numpy(str))
        online = (orders["channel"].astype(str) != "store").to_numpy(float)
        total = np.bincount(oc, minlength=n)
        out["online_share"] = np.where(total > 0, np.bincount(oc, online, minlength=n) / np.maximum(total, 1), np.nan)
    else:
        out["online_share"] = np.nan
    days = pd.DataFrame({"code": code, "day": tx["timestamp"].dt.normalize().to_numpy(),
                         "hour": tx["timestamp"].dt.hour.to_numpy()}).drop_duplicates(["code", "day"])
    days["weekday"] = pd.DatetimeIndex(days["day"]).day_of_week
    counts = (days.groupby(["code", "weekday"]).size().unstack(fill_value=0)
              .reindex(index=range(n), columns=range(7), fill_value=0))  # column position = weekday
    total = counts.sum(axis=1).to_numpy()
    out["purchase_days"] = total
    out["weekday"] = counts.to_numpy().argmax(axis=1) if counts.shape[1] else 0
    out["weekday_share"] = np.where(total > 0, counts.max(axis=1).to_numpy() / np.maximum(total, 1), 0.0)
    hours = days.groupby(["code", "hour"]).size().reset_index(name="n").sort_values(["code", "n", "hour"],
                                                                                   ascending=[True, False, True])
    usual = hours.drop_duplicates("code").set_index("code")["hour"]
    out["hour"] = usual.reindex(range(n)).fillna(NO_HOUR).astype(int).to_numpy()
    return out


@dataclass
class Model:
    fit: LA.FittedModel

    @property
    def r(self) -> float:
        return self.fit.params["r"]

    @property
    def alpha(self) -> float:
        return self.fit.params["alpha"]


def fit_model(inputs: TriggerInputs, until: int) -> Model:
    """BG/NBD on the history before day ``until`` (time in days)."""
    summary = customer_summary(inputs.purchases, observation_end=inputs.date(until - 1)[0])
    rfm = collapse_rfm(summary)
    fit = LA.fit_transaction_model("bgnbd", rfm["frequency"], rfm["recency"], rfm["T"], weights=rfm["weight"])
    return Model(fit)


def state_at(inputs: TriggerInputs, model: Model, day: int) -> pd.DataFrame:
    """Per customer with a purchase before ``day`` (see the module doc)."""
    n = len(inputs.ids)
    code = np.arange(n)
    d = np.full(n, day, dtype=np.int64)
    days = inputs.days
    ever = days.count(code, np.zeros(n, np.int64), d)
    keep = ever > 0
    code, d, ever = code[keep], d[keep], ever[keep]
    base = code.astype(np.int64) * 2**20
    first = days.key[np.searchsorted(days.key, base)] - base
    last = days.last_before(code, d)
    x = (ever - 1).astype(float)
    recency = (last - first).astype(float)
    age = (d - first).astype(float)  # T at the start of day d, in days
    gap = (model.alpha + age) / (model.r + x)
    repeat = x > 0
    p_alive = np.full(len(code), np.nan)
    if repeat.any():
        p_alive[repeat] = LA.probability_alive(model.fit, x[repeat], recency[repeat], age[repeat])
    expected = LA.expected_purchases(model.fit, 365.0, x, recency, age)
    spend = days.spend(code, np.zeros_like(d), d) / ever
    value = expected * spend
    rank = pd.Series(value).rank(ascending=False, pct=True, method="first").to_numpy()
    tier = np.where(rank <= 0.2, "high", np.where(rank <= 0.5, "mid", "low"))
    out = pd.DataFrame({
        "code": code, "last": last, "first": first, "purchase_days": ever, "typical_gap": gap,
        "p_alive": p_alive, "value_365": value, "clv_tier": tier, "spend_per_day": spend,
        "segment": segments_at(days, code, d),
    })
    if inputs.store_days is not None:
        out["last_store"] = inputs.store_days.last_before(code, d)
    else:
        out["last_store"] = -1
    return out


def near_store(inputs: TriggerInputs) -> np.ndarray:
    """Per customer (code order): the home cell is within one cell of a store of the same city."""
    n = len(inputs.ids)
    if inputs.profiles is None or inputs.stores is None or K.HOME_AREA not in inputs.profiles:
        return np.zeros(n, bool)
    prof = inputs.profiles.set_index(CUSTOMER_ID).reindex(inputs.ids)
    has = prof[K.HOME_AREA].notna().to_numpy()
    cell = np.where(has, prof[K.HOME_AREA].fillna("A1").str.slice(1).astype(int).to_numpy() - 1, 0)
    stores = inputs.stores
    scell = stores[K.AREA].str.slice(1).astype(int).to_numpy() - 1
    pairs = pd.DataFrame({"code": np.arange(n), "city": prof[K.CITY].to_numpy(), "cell": cell, "has": has}).merge(
        pd.DataFrame({"city": stores[K.CITY].to_numpy(), "scell": scell}), on="city", how="inner")
    close = (np.abs(pairs["cell"] // GRID - pairs["scell"] // GRID) <= 1) & (
        np.abs(pairs["cell"] % GRID - pairs["scell"] % GRID) <= 1) & pairs["has"]
    out = np.zeros(n, bool)
    out[pairs.loc[close, "code"].to_numpy()] = True
    return out


# ------------------------------------------------------------------------ audiences


def _birthday_day(inputs: TriggerInputs, code: np.ndarray, start: int) -> np.ndarray:
    """Day offset of each customer's next birthday on or after ``start`` (-1 when unknown)."""
    if inputs.profiles is None or K.BIRTHDAY not in inputs.profiles:
        return np.full(len(code), -1)
    month, day = (part[code] for part in inputs.birthday_parts())
    known = month > 0
    first_of_month = np.maximum(month, 1) - 1  # unknown birthdays: any valid date, masked below
    origin = inputs.origin.to_datetime64().astype("datetime64[D]")
    out = np.full(len(code), -1)
    for year in (inputs.date(start)[0].year, inputs.date(start)[0].year + 1):  # this year's birthday or next year's
        mday = np.where((month == 2) & (day == 29) & (year % 4 != 0), 28, np.maximum(day, 1))
        date = (np.datetime64(f"{year}-01", "M") + first_of_month).astype("datetime64[D]") + (mday - 1)
        when = (date - origin).astype(np.int64)
        out = np.where((out < 0) & (when >= start) & known, when, out)
    return out


def candidates(inputs: TriggerInputs, rule: Rule, state: pd.DataFrame, hab: pd.DataFrame, start: int,
               near: np.ndarray, length: int = 7) -> pd.DataFrame:
    """(code, trigger day) pairs of ``rule`` in ``[start, start + length)`` before guards and caps."""
    p, s = rule.params, state
    end = start + length
    if rule.kind == "due":
        day = s["last"].to_numpy() + np.ceil(p["k"] * s["typical_gap"].to_numpy()).astype(int)
        pick = (day >= start) & (day < end)
        out = pd.DataFrame({"code": s["code"].to_numpy()[pick], "day": day[pick]})
    elif rule.kind == "sleeping":
        day = s["last"].to_numpy() + int(p["days"])
        pick = (day >= start) & (day < end)
        out = pd.DataFrame({"code": s["code"].to_numpy()[pick], "day": day[pick]})
    elif rule.kind == "birthday":
        day = _birthday_day(inputs, s["code"].to_numpy(), start + int(p["days_before"])) - int(p["days_before"])
        pick = (day >= start) & (day < end)
        out = pd.DataFrame({"code": s["code"].to_numpy()[pick], "day": day[pick]})
    elif rule.kind == "weekday_affinity":
        h = hab.iloc[s["code"].to_numpy()]
        ok = (h["weekday_share"].to_numpy() >= p["min_share"]) & (h["purchase_days"].to_numpy() >= p["min_purchase_days"])
        start_weekday = inputs.date(start)[0].weekday()
        offset = (h["weekday"].to_numpy() - 1 - start_weekday) % 7  # the day before the usual weekday
        out = pd.DataFrame({"code": s["code"].to_numpy()[ok], "day": start + offset[ok]})
        out = out[out["day"] < end]
    elif rule.kind == "weather":
        out = _weather_days(inputs, rule, s, hab, start, end)
    elif rule.kind == "near_store":
        since_store = np.where(s["last_store"].to_numpy() >= 0, start - s["last_store"].to_numpy(), 10**6)
        pick = near[s["code"].to_numpy()] & (since_store > p["no_store_visit_days"])
        out = pd.DataFrame({"code": s["code"].to_numpy()[pick], "day": start})
    else:  # pragma: no cover - rules are validated on load
        raise ValueError(rule.kind)
    return out.astype({"code": np.int64, "day": np.int64})


def _weather_days(inputs, rule, s, hab, start, end) -> pd.DataFrame:
    if inputs.weather is None or inputs.profiles is None:
        return pd.DataFrame({"code": [], "day": []})
    w, p = inputs.weather, rule.params
    ok = (w[K.DATE] >= inputs.date(start)[0]) & (w[K.DATE] < inputs.date(end)[0])
    if p["min_rain_mm"] > 0:
        ok &= w[K.RAIN_MM] >= p["min_rain_mm"]
    if p["min_temperature_c"] > -60 or p["max_temperature_c"] < 60:
        if K.TEMPERATURE not in w:
            return pd.DataFrame({"code": [], "day": []})
        ok &= (w[K.TEMPERATURE] >= p["min_temperature_c"]) & (w[K.TEMPERATURE] <= p["max_temperature_c"])
    wet = w[ok]
    online = hab["online_share"].to_numpy()[s["code"].to_numpy()] >= rule.params["min_online_share"]
    city = inputs.profile_column(K.CITY).to_numpy()[s["code"].to_numpy()]
    people = pd.DataFrame({"code": s["code"].to_numpy()[online], "city": city[online]})
    days = pd.DataFrame({"city": wet[K.CITY].to_numpy(), "day": ((wet[K.DATE] - inputs.origin).dt.days).to_numpy()})
    return people.merge(days, on="city")[["code", "day"]].sort_values(["code", "day"]).reset_index(drop=True)


def apply_guards(rule: Rule, rows: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    """Rows of ``rows`` (joined with ``state`` on code) that pass the rule's value guards."""
    g = rule.guards
    joined = rows.merge(state, on="code", how="left")
    ok = np.ones(len(joined), bool)
    if g.min_p_alive > 0 or g.max_p_alive < 1:
        pa = joined["p_alive"].to_numpy()
        ok &= ~np.isnan(pa) & (pa >= g.min_p_alive) & (pa <= g.max_p_alive)  # one-time buyers fail
    ok &= joined["clv_tier"].isin(g.clv_tiers).to_numpy()
    if math.isfinite(g.max_discount) and rule.offer > 0:
        ok &= (rule.offer <= g.max_discount * joined["spend_per_day"].to_numpy())
    return joined[ok]


# ------------------------------------------------------------------------ the week


def week_audiences(inputs: TriggerInputs, config: TriggerConfig, model: Model, hab: pd.DataFrame, start: int,
                   last_sent: dict[str, np.ndarray], near: np.ndarray, length: int = 7,
                   state_day: int | None = None) -> pd.DataFrame:
    """Every rule's audience in the week from day ``start`` after guards and caps; updates
    ``last_sent``. The customers' state is taken at ``state_day`` (default ``start``)."""
    state = state_at(inputs, model, start if state_day is None else state_day)
    settings = config.settings
    parts = []
    for priority, rule in enumerate(config.rules):  # a few rules
        rows = candidates(inputs, rule, state, hab, start, near, length)
        rows = apply_guards(rule, rows, state)
        if rule.kind in ("due", "sleeping") and len(rows):
            bought = inputs.days.count(rows["code"].to_numpy(), np.full(len(rows), start), rows["day"].to_numpy()) > 0
            rows = rows[~bought]
        rows = rows.sort_values(["code", "day"], kind="stable").drop_duplicates("code")
        prev = last_sent[rule.id][rows["code"].to_numpy()]
        rows = rows[(prev < 0) | (rows["day"].to_numpy() - prev >= settings.cap_days)]
        parts.append(rows.assign(rule=rule.id, priority=priority, offer=rule.offer))
    week = pd.concat(parts, ignore_index=True)
    week = week.sort_values(["code", "priority", "day"], kind="stable")
    week = week[week.groupby("code").cumcount() < settings.max_per_week]
    for rule in config.rules:  # record the sends that survived every cap
        sent = week[week["rule"] == rule.id]
        last_sent[rule.id][sent["code"].to_numpy()] = sent["day"].to_numpy()
    hour = hab["hour"].to_numpy()[week["code"].to_numpy()]
    rain_hour = {r.id: r.params["send_hour"] for r in config.rules if r.kind == "weather"}
    hour = np.where(week["rule"].map(rain_hour).notna(), week["rule"].map(rain_hour).fillna(0), hour).astype(int)
    quiet = np.asarray(settings.quiet(hour), bool)
    week["send_hour"] = np.where(quiet, settings.quiet_hours[1], hour)
    week["moved_by_quiet_hours"] = quiet
    return week.reset_index(drop=True)


# ------------------------------------------------------------------------ backtest


@dataclass
class Backtest:
    weekly: pd.DataFrame  # rule, week, audience, hits
    summary: pd.DataFrame  # per rule: weeks, mean weekly audience, hit rate, interval, margin
    sends: pd.DataFrame = field(repr=False)
    first_week: pd.Timestamp | None = None
    last_week: pd.Timestamp | None = None


def backtest(inputs: TriggerInputs, config: TriggerConfig, *, weeks: int = WEEKS,
             uplift: dict[str, float] | None = None) -> tuple[Backtest, Model, pd.DataFrame]:
    """Replay the rules over the last ``weeks`` weeks (module doc). ``uplift`` by segment
    (and ``"all"``) from the coupon campaigns gives the expected incremental margin."""
    hit_days = config.settings.hit_days
    end_day = inputs.day(inputs.end)
    last_start = end_day - hit_days - 6  # the last week's triggers have hit_days of follow-up
    first_start = last_start - 7 * (weeks - 1)
    if first_start < 60:
        raise DataError(
            f"the history is too short for a {weeks}-week backtest with {hit_days} days of follow-up",
            hint="Use fewer weeks or a longer history (a few months before the backtest are needed to fit the model).",
        )
    model = fit_model(inputs, first_start)
    hab = habits(inputs, first_start)
    near = near_store(inputs)
    last_sent = {r.id: np.full(len(inputs.ids), -(10**6)) for r in config.rules}
    sends = []
    for w in range(weeks):  # a dozen weeks
        start = first_start + 7 * w
        week = week_audiences(inputs, config, model, hab, start, last_sent, near)
        sends.append(week.assign(week=inputs.date(start)[0]))
    sends = pd.concat(sends, ignore_index=True)
    if len(sends):
        sends["hit"] = inputs.days.count(sends["code"].to_numpy(), sends["day"].to_numpy(),
                                         sends["day"].to_numpy() + hit_days + 1) > 0
    else:
        sends["hit"] = pd.Series(dtype=bool)
    weekly = (sends.groupby(["rule", "week"]).agg(audience=("code", "size"), hits=("hit", "sum"))
              .reindex(pd.MultiIndex.from_product([[r.id for r in config.rules], inputs.date(
                  first_start + 7 * np.arange(weeks))], names=["rule", "week"]), fill_value=0).reset_index())
    summary = _summary(config, sends, weekly, weeks, uplift)
    return Backtest(weekly, summary, sends, inputs.date(first_start)[0], inputs.date(last_start)[0]), model, hab


def _summary(config, sends, weekly, weeks, uplift) -> pd.DataFrame:
    rows = []
    z = stats.norm.ppf(0.975)
    for rule in config.rules:  # a few rules
        s = sends[sends["rule"] == rule.id]
        n, hits = len(s), int(s["hit"].sum()) if len(s) else 0
        rate = hits / n if n else np.nan
        low, high = _wilson(hits, n, z)
        margin = np.nan
        if rule.offer > 0 and uplift and n:
            u = s["segment"].map(uplift).fillna(uplift.get("all", np.nan)).to_numpy()
            gain = u * config.settings.margin_rate * s["spend_per_day"].to_numpy()
            cost = rule.offer * np.clip(rate + u, 0, 1)
            margin = float(np.sum(gain - cost)) / weeks
        rows.append({
            "rule": rule.id, "kind": rule.kind, "offer": rule.offer, "weeks": weeks,
            "weekly_audience": n / weeks, "triggers": n, "hits": hits, "hit_rate": rate,
            "hit_rate_low": low, "hit_rate_high": high,
            "quiet_hours_moved": float(s["moved_by_quiet_hours"].mean()) if n else np.nan,
            "weekly_incremental_margin": margin,
        })
    return pd.DataFrame(rows)


def _wilson(k: int, n: int, z: float) -> tuple[float, float]:
    if n == 0:
        return np.nan, np.nan
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# ------------------------------------------------------------------------ calendar


def calendar(inputs: TriggerInputs, config: TriggerConfig, model: Model, hab: pd.DataFrame, bt: Backtest,
             *, weeks: int = CALENDAR_WEEKS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The next ``weeks`` weeks after the data: scheduled rules (due, sleeping, birthday,
    weekday habit) from the state at the end of the data, assuming no purchase in between
    and applying the caps; weather and location rules as the backtest's mean weekly audience
    (they depend on the weather and on store visits to come). Returns (calendar, audience rows)."""
    start = inputs.day(inputs.end) + 1
    near = near_store(inputs)
    last_sent = {r.id: np.full(len(inputs.ids), -(10**6)) for r in config.rules}
    scheduled = TriggerConfig(config.settings, tuple(r for r in config.rules if r.kind in SCHEDULED_KINDS),
                              config.source)
    rows, audience = [], []
    for w in range(weeks):  # four weeks
        first = start + 7 * w
        week = (week_audiences(inputs, scheduled, model, hab, first, last_sent, near, state_day=start)
                if scheduled.rules else pd.DataFrame(columns=["rule", "day", "code"]))
        audience.append(week.assign(week=inputs.date(first)[0]))
        for rule in config.rules:
            if rule.kind in SCHEDULED_KINDS:
                size, basis = int((week["rule"] == rule.id).sum()), "scheduled"
            else:
                mean = bt.summary.set_index("rule").loc[rule.id, "weekly_audience"]
                size, basis = float(mean), "backtest_average"
            rows.append({"rule": rule.id, "week": inputs.date(first)[0], "audience": size, "basis": basis})
    audience = pd.concat(audience, ignore_index=True) if audience else pd.DataFrame()
    return pd.DataFrame(rows), audience


# ------------------------------------------------------------------------ weather


@dataclass(frozen=True)
class WeatherEffect:
    ratio: float
    low: float
    high: float
    rainy_days: int
    dry_days: int
    strata: int


def weather_effect(inputs: TriggerInputs, min_rain_mm: float = 0.1) -> WeatherEffect | None:
    """Online orders per city-day, rainy (at least ``min_rain_mm``, the usual wet-day
    threshold) vs dry, Mantel-Haenszel rate ratio over city x month strata."""
    if inputs.weather is None or inputs.profiles is None or "channel" not in inputs.purchases:
        return None
    tx = inputs.purchases[inputs.purchases["channel"].astype(str) != "store"]
    if "order_id" in tx:
        tx = tx.drop_duplicates("order_id")
    city = inputs.profiles.set_index(CUSTOMER_ID)[K.CITY]
    orders = pd.DataFrame({"city": city.reindex(tx[CUSTOMER_ID]).to_numpy(), "date": tx["timestamp"].dt.normalize().to_numpy()})
    per_day = orders.groupby(["city", "date"]).size().rename("n")
    w = inputs.weather.set_index([K.CITY, K.DATE]).rename_axis(["city", "date"])
    w = w[(w.index.get_level_values("date") >= inputs.origin) & (w.index.get_level_values("date") <= inputs.end)]
    w = w.join(per_day).fillna({"n": 0}).reset_index()
    w["rainy"] = w[K.RAIN_MM] >= min_rain_mm
    w["stratum"] = w["city"] + "|" + w["date"].dt.strftime("%Y-%m")
    g = w.groupby(["stratum", "rainy"]).agg(orders=("n", "sum"), days=("n", "size")).unstack(fill_value=0)
    a, b = g[("orders", True)].to_numpy(float), g[("orders", False)].to_numpy(float)
    t1, t0 = g[("days", True)].to_numpy(float), g[("days", False)].to_numpy(float)
    keep = (t1 > 0) & (t0 > 0)
    a, b, t1, t0 = a[keep], b[keep], t1[keep], t0[keep]
    t = t1 + t0
    num, den = np.sum(a * t0 / t), np.sum(b * t1 / t)
    if num <= 0 or den <= 0:
        return None
    ratio = num / den
    var = np.sum(t1 * t0 * (a + b) / t**2) / (num * den)
    z = stats.norm.ppf(0.975)
    return WeatherEffect(ratio, ratio * math.exp(-z * math.sqrt(var)), ratio * math.exp(z * math.sqrt(var)),
                         int(t1.sum()), int(t0.sum()), int(keep.sum()))


# ------------------------------------------------------------------------ the study


@dataclass
class TriggerStudy:
    config: TriggerConfig
    backtest: Backtest
    calendar: pd.DataFrame
    upcoming: pd.DataFrame
    weather: WeatherEffect | None
    model_params: dict
    inputs: TriggerInputs = field(repr=False)
    metrics: dict = field(default_factory=dict)

    def export_table(self) -> pd.DataFrame:
        """The next weeks' scheduled audiences: one row per customer and trigger."""
        u = self.upcoming
        if u.empty:
            return pd.DataFrame(columns=["rule", "week", CUSTOMER_ID, "trigger_date", "send_hour", "segment",
                                         "clv_tier", "p_alive", "typical_gap_days", "offer"])
        return pd.DataFrame({
            "rule": u["rule"].to_numpy(), "week": u["week"].dt.strftime("%Y-%m-%d").to_numpy(),
            CUSTOMER_ID: self.inputs.ids[u["code"].to_numpy()],
            "trigger_date": self.inputs.date(u["day"].to_numpy()).strftime("%Y-%m-%d"),
            "send_hour": u["send_hour"].to_numpy(), "segment": u["segment"].to_numpy(),
            "clv_tier": u["clv_tier"].to_numpy(), "p_alive": u["p_alive"].round(3).to_numpy(),
            "typical_gap_days": u["typical_gap"].round(1).to_numpy(), "offer": u["offer"].to_numpy(),
        })


@shared
def run_trigger_study(inputs: TriggerInputs, config: TriggerConfig, *, weeks: int = WEEKS,
                      uplift: dict[str, float] | None = None, calendar_weeks: int = CALENDAR_WEEKS) -> TriggerStudy:
    bt, model, hab = backtest(inputs, config, weeks=weeks, uplift=uplift)
    cal, upcoming = calendar(inputs, config, model, hab, bt, weeks=calendar_weeks)
    effect = weather_effect(inputs)
    params = dict(model.fit.params)
    metrics = {
        "backtest_first_week": bt.first_week, "backtest_last_week": bt.last_week, "weeks": weeks,
        "bgnbd_params_per_day": params, "rules": bt.summary.to_dict(orient="records"),
        "calendar": cal.to_dict(orient="records"),
        "weather_effect": None if effect is None else effect.__dict__,
        "settings": config.settings.__dict__,
    }
    return TriggerStudy(config, bt, cal, upcoming, effect, params, inputs, metrics)
