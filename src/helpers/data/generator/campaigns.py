"""Campaign, weather and location tables generated from the core tables, with planted truth.

A function of the core generated data (customers, transactions, stores) and a seed, so the
same tables can be added to any generated dataset (``GeneratorConfig(campaigns=True)``) or
made afterwards from the committed ``data/newretail`` (:func:`simulate_campaigns`). The
purchase history itself is not changed: what a campaign adds or removes is recorded in the
campaign tables (as the pilot's ``campaign_exposures`` does).

Tables (``data/README.md`` documents every column):

- ``customer_profiles``: city (region / city tier), coarse home area (a cell of a 3 x 3 grid
  per city, no address) and birthday (month and day, uniform over a non-leap year).
- ``store_locations``: the city and grid cell of every store. A home is *near a store* when a
  store of the same city is at most one cell away (Chebyshev distance).
- ``weather``: rain (mm) and mean temperature per city and day. Rain falls on a day with
  probability ``RAIN_PROBABILITY[region] x (1 + 0.5 sin(season))``; temperature follows the
  season around the region's mean with Normal(0, 2.5) noise.
- ``delivery_orders``: the planted weather effect. Each online order placed on a rainy day
  in the customer's city brings an extra delivery order the same day with probability
  ``RAIN_DELIVERY_LIFT`` (0.35), at a commute hour (7-9 h or 17-20 h). Online orders per
  city-day are therefore ``1 + 0.35`` times as many on rainy days as on dry ones.
- ``coupons``: one row per customer and coupon campaign. Each campaign takes every customer
  who joined at least 30 days before its issue day and splits them at random into treatment
  (coupon issued) and a holdout (``HOLDOUT_SHARE``, no coupon). The segment is the CRM
  segment at the issue day (:func:`segments_at`). Without the coupon a customer converts
  (buys within ``RESPONSE_DAYS``) exactly when the history shows a purchase day in the
  window. With the coupon, the chance of converting moves by ``PLANTED_UPLIFT[segment]``
  (absolute points, the same for every coupon type): a non-buyer of a segment with
  positive uplift converts with probability ``uplift / (1 - base rate)``; a buyer of the
  negative-uplift segment (``premium``: price-insensitive, annoyed by discount pushes) is
  put off with probability ``|uplift| / base rate``, where the base rate is the segment's
  share of buyers in the campaign. Customers won over by the coupon always redeem it;
  treated buyers who would have bought anyway redeem with probability
  ``NATURAL_REDEMPTION`` (the cannibalised redemptions).
- ``messages``: one row per message sent in a message campaign, each customer randomised
  50/50 to a personalised or a broadcast text. Open probability 0.20 (broadcast) / 0.26
  (personalised); click probability given an open 0.15 / 0.25 (clicks per send 0.030 vs
  0.065, a little over double); a click leads to a purchase within 7 days that the history
  does not have with probability 0.25, on top of the purchases in the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

#: Segments at the issue day and the planted uplift of a coupon on the chance of buying
#: within the response window (absolute, 0.10 = 10 points).
SEGMENTS: tuple[str, ...] = ("champions", "premium", "at_risk", "new", "regular")
PLANTED_UPLIFT: dict[str, float] = {"champions": 0.0, "premium": -0.06, "at_risk": 0.12, "new": 0.07, "regular": 0.05}
HOLDOUT_SHARE = 0.3
RESPONSE_DAYS = 21
NATURAL_REDEMPTION = 0.5
#: (campaign id, issue day as days before the end, coupon type, face value CNY, threshold CNY, channel)
COUPON_CAMPAIGNS: tuple[tuple[str, int, str, float, float, str], ...] = (
    ("CPN-WAKEUP", 330, "wake_up", 20.0, 0.0, "sms"),
    ("CPN-SPEND-SAVE", 250, "spend_and_save", 30.0, 200.0, "wechat"),
    ("CPN-BUY2GET1", 170, "buy_two_get_one", 40.0, 0.0, "app_push"),
    ("CPN-SPEND-SAVE-2", 90, "spend_and_save", 30.0, 200.0, "wechat"),
)
COUPON_VALID_DAYS = 14
#: (message campaign id, send day as days before the end)
MESSAGE_CAMPAIGNS: tuple[tuple[str, int], ...] = (("MSG-NEW-ARRIVALS", 200), ("MSG-WEEKEND", 60))
OPEN_RATE = {"broadcast": 0.20, "personalised": 0.26}
CLICK_GIVEN_OPEN = {"broadcast": 0.15, "personalised": 0.25}
CLICK_TO_PURCHASE = 0.25
MESSAGE_PURCHASE_DAYS = 7
RAIN_DELIVERY_LIFT = 0.35
RAIN_PROBABILITY = {
    "east": 0.32, "south": 0.40, "north": 0.18, "central": 0.30, "southwest": 0.36, "northwest": 0.12,
    "northeast": 0.20,
}
MEAN_TEMPERATURE = {
    "east": 17.0, "south": 22.0, "north": 12.5, "central": 17.0, "southwest": 16.0, "northwest": 9.0,
    "northeast": 6.0,
}
GRID = 3
ONLINE = ("online_mall", "mini_program", "app", "marketplace")
#: Seed offsets of the independent random streams.
_STREAMS = {"profiles": 1, "weather": 2, "delivery": 3, "coupons": 4, "messages": 5}


@dataclass
class CampaignTables:
    """The extension's tables (name -> frame) and the planted truth (for ``truth.json``)."""

    tables: dict[str, pd.DataFrame]
    truth: dict = field(default_factory=dict)


def city_of(region: pd.Series, city_tier: pd.Series) -> pd.Series:
    """The coarse city a customer or store is in: ``region/city_tier``."""
    return region.astype(str) + "/" + city_tier.astype(str)


def _numbered(prefix: str, n: int, width: int) -> np.ndarray:
    """``prefix`` + 1..n zero-padded to ``width`` digits (vectorised)."""
    return np.char.add(prefix, np.char.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(15, _STREAMS[stream])))


# --- purchase days ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PurchaseDays:
    """Distinct purchase days per customer, as sorted integer keys ``code * 2**20 + day``."""

    ids: np.ndarray  # customer id by code (sorted)
    key: np.ndarray
    day_spend: np.ndarray  # net spend of each purchase day
    origin: pd.Timestamp

    @classmethod
    def from_transactions(cls, transactions: pd.DataFrame, ids: np.ndarray, origin: pd.Timestamp) -> PurchaseDays:
        buys = transactions
        if "is_return" in buys:
            buys = buys[~buys["is_return"].astype(bool)]
        code = np.searchsorted(ids, buys["customer_id"].to_numpy(str))
        known = (code < len(ids)) & (ids[np.minimum(code, len(ids) - 1)] == buys["customer_id"].to_numpy(str))
        day = ((buys["timestamp"].to_numpy("datetime64[ns]") - np.datetime64(origin, "ns")) // np.timedelta64(1, "D"))
        key = code[known].astype(np.int64) * 2**20 + day[known].astype(np.int64)
        amount = buys["amount"].to_numpy(float)[known]
        uniq, inverse = np.unique(key, return_inverse=True)
        return cls(ids, uniq, np.bincount(inverse, weights=amount, minlength=len(uniq)), origin)

    def count(self, code: np.ndarray, first_day: np.ndarray, last_day: np.ndarray) -> np.ndarray:
        """Purchase days of customer ``code`` in ``[first_day, last_day)`` (day offsets)."""
        base = code.astype(np.int64) * 2**20
        return np.searchsorted(self.key, base + last_day) - np.searchsorted(self.key, base + first_day)

    def spend(self, code: np.ndarray, first_day: np.ndarray, last_day: np.ndarray) -> np.ndarray:
        cum = np.concatenate([[0.0], np.cumsum(self.day_spend)])
        base = code.astype(np.int64) * 2**20
        return cum[np.searchsorted(self.key, base + last_day)] - cum[np.searchsorted(self.key, base + first_day)]

    def last_before(self, code: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Day offset of the last purchase day before ``day`` (-1 when none)."""
        base = code.astype(np.int64) * 2**20
        pos = np.searchsorted(self.key, base + day) - 1
        ok = (pos >= 0) & (self.key[np.maximum(pos, 0)] >= base)
        return np.where(ok, self.key[np.maximum(pos, 0)] - base, -1)


def segments_at(days: PurchaseDays, code: np.ndarray, day: np.ndarray) -> np.ndarray:
    """CRM segment of each customer at ``day`` from the purchase days before it.

    In this order: ``champions`` (4+ purchase days in the last 365 days, the last within
    60 days); ``premium`` (price-insensitive: 2+ purchase days in the last 365 days and
    spend above 300 CNY per purchase day); ``at_risk`` (2+ purchase days ever, none in the
    last 90 days); ``new`` (a single purchase day, within the last 120 days); ``regular``
    (everyone else).
    """
    year = days.count(code, day - 365, day)
    ever = days.count(code, np.zeros_like(day), day)
    last = days.last_before(code, day)
    since = np.where(last >= 0, day - last, 10**6)
    per_day = days.spend(code, day - 365, day) / np.maximum(year, 1)
    out = np.full(len(code), "regular", dtype=object)
    rules = [
        ((year >= 4) & (since <= 60), "champions"),
        ((year >= 2) & (per_day > 300.0), "premium"),
        ((ever >= 2) & (since > 90), "at_risk"),
        ((ever == 1) & (since <= 120), "new"),
    ]
    assigned = np.zeros(len(code), bool)
    for mask, name in rules:  # four rules
        hit = mask & ~assigned
        out[hit] = name
        assigned |= hit
    return out.astype(str)


# --- the tables ------------------------------------------------------------------------------


def _profiles(customers: pd.DataFrame, stores: pd.DataFrame, rng: np.random.Generator):
    n, m = len(customers), len(stores)
    birthday = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    profiles = pd.DataFrame({
        "customer_id": customers["customer_id"].astype(str).to_numpy(),
        "city": city_of(customers["region"], customers["city_tier"]).to_numpy(),
        "home_area": area_label(rng.integers(0, GRID * GRID, n)),
        "birthday": birthday.strftime("%m-%d"),
    })
    locations = pd.DataFrame({
        "store_id": stores["store_id"].astype(str).to_numpy(),
        "city": city_of(stores["region"], stores["city_tier"]).to_numpy(),
        "area": area_label(rng.integers(0, GRID * GRID, m)),
    })
    return profiles, locations


def area_label(cell: pd.Series | np.ndarray) -> np.ndarray:
    """Grid cell number 0..8 -> label ``A1``..``A9``."""
    return np.char.add("A", (np.asarray(cell, dtype=int) + 1).astype(str)).astype(object)


def area_cell(label: pd.Series) -> np.ndarray:
    """Label ``A1``..``A9`` -> grid cell number 0..8 (row = cell // 3, column = cell % 3)."""
    return label.astype(str).str.slice(1).astype(int).to_numpy() - 1


def _weather(cities: np.ndarray, start: pd.Timestamp, end: pd.Timestamp, rng: np.random.Generator) -> pd.DataFrame:
    dates = pd.date_range(start, end, freq="D")
    city_idx, day_idx = np.meshgrid(np.arange(len(cities)), np.arange(len(dates)), indexing="ij")
    city_idx, day_idx = city_idx.ravel(), day_idx.ravel()
    region = np.array([c.split("/")[0] for c in cities])[city_idx]
    doy = dates.day_of_year.to_numpy()[day_idx]
    season = np.sin(2 * np.pi * (doy - 100) / 365.0)  # wettest and warmest around July
    p_rain = np.array([RAIN_PROBABILITY.get(r, 0.25) for r in region]) * (1 + 0.5 * season)
    rained = rng.random(len(region)) < p_rain
    rain_mm = np.where(rained, np.round(rng.gamma(1.2, 8.0, len(region)) + 0.5, 1), 0.0)
    temp = np.array([MEAN_TEMPERATURE.get(r, 15.0) for r in region]) + 12.0 * season + rng.normal(0, 2.5, len(region))
    return pd.DataFrame({
        "city": cities[city_idx], "date": dates[day_idx], "rain_mm": rain_mm, "temperature_c": np.round(temp, 1),
    })


def _delivery(transactions, profiles, weather, rng) -> tuple[pd.DataFrame, dict]:
    tx = transactions
    if "is_return" in tx:
        tx = tx[~tx["is_return"].astype(bool)]
    tx = tx[tx["channel"].isin(ONLINE)].drop_duplicates("order_id")
    city = profiles.set_index("customer_id")["city"]
    frame = pd.DataFrame({
        "customer_id": tx["customer_id"].to_numpy(str), "date": tx["timestamp"].dt.normalize().to_numpy(),
    })
    frame["city"] = city.reindex(frame["customer_id"]).to_numpy()
    wet = weather.loc[weather["rain_mm"] > 0, ["city", "date"]].assign(wet=True)
    frame = frame.merge(wet, on=["city", "date"], how="left")
    rainy = frame["wet"].fillna(False).to_numpy(bool)
    spawn = rainy & (rng.random(len(frame)) < RAIN_DELIVERY_LIFT)
    k = int(spawn.sum())
    hour = np.where(rng.random(k) < 0.5, rng.integers(7, 10, k), rng.integers(17, 21, k))
    ts = frame["date"].to_numpy()[spawn] + (hour * 3600 + rng.integers(0, 3600, k)).astype("timedelta64[s]")
    out = pd.DataFrame({
        "customer_id": frame["customer_id"].to_numpy()[spawn],
        "order_id": "",
        "timestamp": ts,
        "channel": "app",
        "amount": np.round(rng.gamma(3.0, 15.0, k), 2),
    }).sort_values(["timestamp", "order_id"], kind="stable").reset_index(drop=True)
    out["order_id"] = _numbered("D", k, 9)
    truth = {
        "mechanism": "each online order on a rainy day in the customer's city brings an extra delivery order "
                     "the same day with this probability",
        "relative_lift_rainy_day": RAIN_DELIVERY_LIFT,
        "online_orders_on_rainy_days": int(rainy.sum()), "delivery_orders_added": k,
    }
    return out, truth


def _customer_days(customers, days: PurchaseDays, end: pd.Timestamp) -> tuple[np.ndarray, np.ndarray, int]:
    """The customers in ``days``' order, the day each joined and the end day, as days since the origin."""
    ids = days.ids
    join = ((customers.set_index("customer_id")["join_date"].reindex(ids).to_numpy("datetime64[ns]")
             - np.datetime64(days.origin, "ns")) // np.timedelta64(1, "D"))
    return ids, join, int((end - days.origin).days)


def _coupons(customers, days: PurchaseDays, end: pd.Timestamp, rng) -> tuple[pd.DataFrame, dict]:
    ids, join, end_day = _customer_days(customers, days, end)
    parts, realised = [], {s: [0.0, 0] for s in SEGMENTS}
    stats = {"redemptions": 0, "redemptions_would_have_bought": 0}
    for cid, before, ctype, value, threshold, channel in COUPON_CAMPAIGNS:  # a few campaigns
        day0 = end_day - before
        code = np.flatnonzero(join <= day0 - 30)
        n = len(code)
        d0 = np.full(n, day0, dtype=np.int64)
        seg = segments_at(days, code, d0)
        treated = rng.random(n) >= HOLDOUT_SHARE
        orders0 = days.count(code, d0, d0 + RESPONSE_DAYS)
        spend0 = days.spend(code, d0, d0 + RESPONSE_DAYS)
        y0 = orders0 > 0
        u = rng.random(n)
        won = np.zeros(n, bool)
        lost = np.zeros(n, bool)
        for s in SEGMENTS:  # five segments
            inside = seg == s
            if not inside.any():
                continue
            base = y0[inside].mean()
            tau = PLANTED_UPLIFT[s]
            if tau > 0 and base < 1:
                won |= inside & treated & ~y0 & (u < tau / (1 - base))
            elif tau < 0 and base > 0:
                lost |= inside & treated & y0 & (u < -tau / base)
        y1 = (y0 | won) & ~lost
        extra_spend = np.round(rng.gamma(4.0, 50.0, n), 2)
        orders = np.where(won, 1, np.where(lost, 0, orders0))
        spend = np.where(won, extra_spend, np.where(lost, 0.0, spend0))
        redeemed = treated & y1 & (won | (rng.random(n) < NATURAL_REDEMPTION))
        redeem_day = d0 + rng.integers(0, COUPON_VALID_DAYS, n)
        for s in SEGMENTS:
            t = treated & (seg == s)
            realised[s][0] += float((y1[t].astype(float) - y0[t]).sum())
            realised[s][1] += int(t.sum())
        stats["redemptions"] += int(redeemed.sum())
        stats["redemptions_would_have_bought"] += int((redeemed & y0).sum())
        issue_ts = days.origin + pd.Timedelta(days=day0)
        parts.append(pd.DataFrame({
            "campaign_id": cid, "customer_id": ids[code], "segment": seg,
            "group": np.where(treated, "treatment", "holdout"), "coupon_type": ctype, "coupon_value": value,
            "threshold": threshold, "channel": channel,
            "issued_at": issue_ts + pd.to_timedelta(9 * 3600 + rng.integers(0, 4 * 3600, n), unit="s"),
            "expires_at": issue_ts + pd.Timedelta(days=COUPON_VALID_DAYS),
            "redeemed_at": pd.Series(days.origin + pd.to_timedelta(redeem_day, unit="D")
                                     + pd.to_timedelta(rng.integers(10 * 3600, 21 * 3600, n), unit="s")
                                     ).where(redeemed).to_numpy(),
            "converted": y1, "orders": orders, "spend": np.round(spend, 2),
        }))
    frame = pd.concat(parts, ignore_index=True)
    truth = {
        "mechanism": f"absolute change in the chance of buying within {RESPONSE_DAYS} days of the issue day "
                     "caused by the coupon, by segment at the issue day (same for every coupon type)",
        "response_days": RESPONSE_DAYS, "holdout_share": HOLDOUT_SHARE,
        "planted_uplift_by_segment": dict(PLANTED_UPLIFT),
        "realised_uplift_on_treated_by_segment": {
            s: (round(v[0] / v[1], 6) if v[1] else None) for s, v in realised.items()
        },
        "natural_redemption_probability": NATURAL_REDEMPTION,
        "redemptions": stats["redemptions"],
        "share_of_redemptions_by_customers_who_would_have_bought": round(
            stats["redemptions_would_have_bought"] / max(stats["redemptions"], 1), 6),
        "campaigns": [c[0] for c in COUPON_CAMPAIGNS],
    }
    return frame, truth


def _messages(customers, days: PurchaseDays, end: pd.Timestamp, rng) -> tuple[pd.DataFrame, dict]:
    ids, join, end_day = _customer_days(customers, days, end)
    parts = []
    for mid, before in MESSAGE_CAMPAIGNS:  # a few campaigns
        day0 = end_day - before
        code = np.flatnonzero(join <= day0)
        n = len(code)
        personal = rng.random(n) < 0.5
        variant = np.where(personal, "personalised", "broadcast")
        p_open = np.where(personal, OPEN_RATE["personalised"], OPEN_RATE["broadcast"])
        p_click = np.where(personal, CLICK_GIVEN_OPEN["personalised"], CLICK_GIVEN_OPEN["broadcast"])
        opened = rng.random(n) < p_open
        clicked = opened & (rng.random(n) < p_click)
        d0 = np.full(n, day0, dtype=np.int64)
        y0 = days.count(code, d0, d0 + MESSAGE_PURCHASE_DAYS) > 0
        bought = y0 | (clicked & (rng.random(n) < CLICK_TO_PURCHASE))
        sent = days.origin + pd.Timedelta(days=day0) + pd.to_timedelta(10 * 3600 + rng.integers(0, 7200, n), unit="s")
        open_at = sent + pd.to_timedelta(rng.integers(60, 6 * 3600, n), unit="s")
        click_at = open_at + pd.to_timedelta(rng.integers(5, 600, n), unit="s")
        parts.append(pd.DataFrame({
            "campaign_id": mid, "customer_id": ids[code], "variant": variant, "sent_at": sent,
            "opened_at": pd.Series(open_at).where(opened).to_numpy(),
            "clicked_at": pd.Series(click_at).where(clicked).to_numpy(),
            "purchased": bought,
        }))
    frame = pd.concat(parts, ignore_index=True)
    frame.insert(0, "message_id", _numbered("G", len(frame), 8))
    truth = {
        "open_rate": dict(OPEN_RATE), "click_given_open": dict(CLICK_GIVEN_OPEN),
        "click_rate": {k: round(OPEN_RATE[k] * CLICK_GIVEN_OPEN[k], 6) for k in OPEN_RATE},
        "click_to_purchase_probability": CLICK_TO_PURCHASE, "purchase_days": MESSAGE_PURCHASE_DAYS,
        "sends": len(frame),
    }
    return frame, truth


def simulate_campaigns(
    customers: pd.DataFrame, transactions: pd.DataFrame, stores: pd.DataFrame, seed: int,
    *, start: str | pd.Timestamp | None = None, end: str | pd.Timestamp | None = None,
) -> CampaignTables:
    """The extension's tables for the core tables of a generated dataset (see the module doc).

    ``start`` / ``end`` bound the weather and the campaign calendar (default: the first
    join day and the last transaction day).
    """
    customers = customers.copy()
    customers["customer_id"] = customers["customer_id"].astype(str)
    customers["join_date"] = pd.to_datetime(customers["join_date"])
    transactions = transactions.copy()
    transactions["timestamp"] = pd.to_datetime(transactions["timestamp"])
    start = pd.Timestamp(start) if start is not None else customers["join_date"].min().normalize()
    end = pd.Timestamp(end) if end is not None else transactions["timestamp"].max().normalize()
    ids = np.sort(customers["customer_id"].to_numpy(str))
    # day offsets count from the earlier of start and the first purchase, so none is negative
    days = PurchaseDays.from_transactions(transactions, ids, min(start, transactions["timestamp"].min().normalize()))
    profiles, locations = _profiles(customers, stores, _rng(seed, "profiles"))
    cities = np.array(sorted(set(profiles["city"]) | set(locations["city"])))
    weather = _weather(cities, start, end, _rng(seed, "weather"))
    delivery, delivery_truth = _delivery(transactions, profiles, weather, _rng(seed, "delivery"))
    coupons, coupon_truth = _coupons(customers, days, end, _rng(seed, "coupons"))
    messages, message_truth = _messages(customers, days, end, _rng(seed, "messages"))
    tables = {
        "customer_profiles": profiles, "store_locations": locations, "weather": weather,
        "delivery_orders": delivery, "coupons": coupons, "messages": messages,
    }
    truth = {
        "seed": seed, "weather_effect": delivery_truth, "coupons": coupon_truth, "messages": message_truth,
        "home_areas": f"cells of a {GRID} x {GRID} grid per city; near a store = a store of the city within one cell",
    }
    return CampaignTables(tables, truth)


#: File names of the extension's tables (CSV), in the order they are written.
CAMPAIGN_TABLES: tuple[str, ...] = (
    "customer_profiles", "store_locations", "weather", "delivery_orders", "coupons", "messages",
)


def write_campaign_tables(result: CampaignTables, folder) -> dict[str, str]:
    """Write the extension's tables as CSV (fixed formatting) into ``folder``."""
    from pathlib import Path

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name in CAMPAIGN_TABLES:  # six tables
        path = folder / f"{name}.csv"
        frame = result.tables[name].copy()
        if name == "weather":
            frame["date"] = frame["date"].dt.strftime("%Y-%m-%d")
        frame.to_csv(path, index=False, float_format="%.2f", lineterminator="\n", encoding="utf-8",
                     date_format="%Y-%m-%d %H:%M:%S")
        paths[name] = str(path)
    return paths
