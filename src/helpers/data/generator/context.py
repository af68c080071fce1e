"""Everything derived once from a config: calendar, stores, label lists, lookup arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.data.generator._vec import DAY
from helpers.data.generator.config import (
    CHANNELS,
    ENGAGEMENT_EVENTS,
    SEVERITIES,
    TIERS,
    GeneratorConfig,
)

ISSUE_TYPES: tuple[str, ...] = (
    "damaged_parcel", "late_delivery", "wrong_item", "refund", "product_quality", "membership_points", "other",
)
#: issue-type shares for tickets on online orders and on store orders
ISSUE_MIX_ONLINE = (0.20, 0.25, 0.10, 0.15, 0.15, 0.08, 0.07)
ISSUE_MIX_STORE = (0.00, 0.00, 0.00, 0.25, 0.35, 0.20, 0.20)
#: severity shares (ordinary, complex, major) by issue type
SEVERITY_BY_ISSUE = (
    (0.78, 0.19, 0.03), (0.85, 0.13, 0.02), (0.80, 0.17, 0.03), (0.75, 0.22, 0.03),
    (0.70, 0.25, 0.05), (0.88, 0.11, 0.01), (0.85, 0.13, 0.02),
)
#: days from the order to the ticket: lognormal median and sigma by issue type
OPEN_DELAY_MEDIAN_DAYS = (2.5, 3.0, 2.5, 5.0, 6.0, 1.0, 3.0)
OPEN_DELAY_SIGMA = (0.5, 0.4, 0.5, 0.6, 0.7, 0.9, 0.8)
#: lognormal sigma of hours to first response and from response to resolution, by severity
RESPONSE_SIGMA = (1.3, 1.2, 1.0)
RESOLUTION_SIGMA = (0.8, 0.8, 0.7)
#: share of resolved tickets whose customer answers the satisfaction survey
SURVEY_RESPONSE = 0.7

CONTACT_CHANNELS: tuple[str, ...] = ("store_desk", "hotline", "web_chat", "wechat", "app_chat", "marketplace_chat")
#: (preferred contact channel, its share; the rest call the hotline) by sales channel
CONTACT_BY_CHANNEL = {
    "store": ("store_desk", 0.60), "online_mall": ("web_chat", 0.80), "mini_program": ("wechat", 0.85),
    "app": ("app_chat", 0.85), "marketplace": ("marketplace_chat", 0.90), "delivery": ("marketplace_chat", 0.90),
}

#: customers' hour-of-day profiles (relative weights for hours 0..23)
HOUR_WEIGHTS = {
    "store": (0, 0, 0, 0, 0, 0, 0, 0.3, 0.8, 1.6, 2.4, 3.2, 3.6, 3.0, 2.5, 2.5, 2.8, 3.6, 4.2, 4.0, 3.2, 2.0, 0.8, 0),
    "mini_program": (0.8, 0.4, 0.2, 0.1, 0.1, 0.2, 0.6, 1.6, 2.2, 2.0, 2.4, 3.6, 4.0, 2.6, 2.0, 2.0, 2.4, 3.4,
                     3.8, 3.4, 3.4, 3.2, 2.4, 1.4),
    "delivery": (0.6, 0.3, 0.1, 0.05, 0.05, 0.1, 0.3, 1.0, 1.6, 1.4, 2.0, 4.2, 4.8, 2.4, 1.4, 1.4, 1.8, 3.2,
                 4.6, 4.2, 3.0, 2.6, 2.0, 1.2),
    "online": (1.4, 0.7, 0.35, 0.2, 0.15, 0.2, 0.45, 0.9, 1.4, 1.9, 2.3, 2.6, 3.0, 2.7, 2.4, 2.4, 2.5, 2.7,
               3.0, 3.5, 4.1, 4.6, 4.2, 2.6),
}
#: return-rate multipliers by category name (others 1)
CATEGORY_RETURN_MULTIPLIER = {"apparel": 2.5, "electronics": 1.5, "fresh_food": 0.3, "beverages": 0.3}
#: category preference multipliers by (category, age band) (others 1)
AGE_CATEGORY_AFFINITY = {
    "mother_baby": {"18-24": 0.3, "25-34": 2.5, "35-44": 1.8, "45-54": 0.5, "55+": 0.3},
    "beauty": {"18-24": 1.5, "25-34": 1.3, "45-54": 0.7, "55+": 0.5},
    "electronics": {"18-24": 1.4, "25-34": 1.2, "55+": 0.6},
}
#: Dirichlet concentration of each customer's category preferences (small = specialised)
CATEGORY_CONCENTRATION = 3.0
#: acquisition: relative weight of joining on a day (linear growth over the window,
#: festival promotions and weekends attract more sign-ups)
JOIN_GROWTH = 0.5
JOIN_PROMO_BOOST = 2.0
JOIN_WEEKEND_BOOST = 1.15


@dataclass(frozen=True)
class Context:
    cfg: GeneratorConfig
    n_days: int
    end_ts: int  # last second of the window, seconds since the start day's midnight
    epoch_s: int  # start day's midnight as seconds since 1970-01-01
    join_cdf: np.ndarray
    promo_rate: np.ndarray  # extra promotion discount by day
    month_ends: np.ndarray  # day index of each month's last day inside the window
    years: tuple[tuple[int, int], ...]  # (first second, last second) of each calendar year, clipped
    store_region: np.ndarray
    store_tier: np.ndarray
    region_store_start: np.ndarray
    region_store_count: np.ndarray
    channels: tuple[str, ...]
    ch_mix: np.ndarray
    store_channel: int  # index of "store" in channels, -1 when absent
    hour_cdf: np.ndarray  # (channels, 24)
    regions: tuple[str, ...]
    region_cdf: np.ndarray
    city_tiers: tuple[str, ...]
    tier_cdf: np.ndarray
    age_bands: tuple[str, ...]
    age_cdf: np.ndarray
    categories: tuple[str, ...]
    category_alpha: np.ndarray  # (age bands, categories) Dirichlet parameters
    category_price: np.ndarray
    category_return: np.ndarray
    return_rate: np.ndarray  # by channel
    ticket_rate: np.ndarray  # by channel
    contact_main: np.ndarray  # contact-channel code by sales channel
    contact_share: np.ndarray
    engagement_points: np.ndarray  # by ENGAGEMENT_EVENTS
    tier_discount: np.ndarray
    tier_multiplier: np.ndarray

    @property
    def pilot_day(self) -> int:
        return int((pd.Timestamp(self.cfg.pilot_start) - pd.Timestamp(self.cfg.start)).days)


def _cdf(shares) -> np.ndarray:
    w = np.asarray(list(shares), dtype="float64")
    return np.cumsum(w) / w.sum()


def build_context(cfg: GeneratorConfig) -> Context:
    start = pd.Timestamp(cfg.start)
    n_days = cfg.n_days
    days = pd.date_range(start, periods=n_days, freq="D")

    promo = np.zeros(n_days)
    in_promo = np.zeros(n_days, dtype=bool)
    mmdd = days.strftime("%m-%d").to_numpy()
    for _name, first, last, rate in cfg.promotions:  # a handful of festivals
        hit = (mmdd >= first) & (mmdd <= last)
        promo = np.where(hit, np.maximum(promo, rate), promo)
        in_promo |= hit
    join_w = (1.0 + JOIN_GROWTH * np.arange(n_days) / n_days) * np.where(in_promo, JOIN_PROMO_BOOST, 1.0)
    join_w *= np.where(np.asarray(days.day_of_week) >= 5, JOIN_WEEKEND_BOOST, 1.0)

    month_ends = np.flatnonzero(np.asarray(days.is_month_end))
    years = []
    for year in range(start.year, days[-1].year + 1):  # a few calendar years
        first = max(pd.Timestamp(year=year, month=1, day=1), start)
        last = pd.Timestamp(year=year, month=12, day=31)
        years.append((int((first - start).days) * DAY, int((last - start).days) * DAY + DAY - 1))

    # stores: one per region first, the rest by region mix; stored sorted by region
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(0,)))
    regions = tuple(cfg.region_mix)
    n_regions = len(regions)
    extra = np.searchsorted(_cdf(cfg.region_mix.values()), rng.random(cfg.n_stores - n_regions), side="right")
    store_region = np.sort(np.concatenate([np.arange(n_regions), np.minimum(extra, n_regions - 1)]))
    tiers = tuple(cfg.city_tier_mix)
    store_tier = np.minimum(
        np.searchsorted(_cdf(cfg.city_tier_mix.values()), rng.random(cfg.n_stores), side="right"), len(tiers) - 1
    )
    region_count = np.bincount(store_region, minlength=n_regions)

    channels = tuple(cfg.channel_mix)
    hour_w = np.array([HOUR_WEIGHTS.get(c, HOUR_WEIGHTS["online"]) for c in channels], dtype="float64")
    categories = tuple(cfg.category_mix)
    ages = tuple(cfg.age_band_mix)
    cat_mix = np.array([cfg.category_mix[c] for c in categories])
    affinity = np.array(
        [[AGE_CATEGORY_AFFINITY.get(c, {}).get(a, 1.0) for c in categories] for a in ages]
    )
    alpha = affinity * cat_mix
    alpha = CATEGORY_CONCENTRATION * alpha / alpha.sum(axis=1, keepdims=True)

    contact_main = np.array([CONTACT_CHANNELS.index(CONTACT_BY_CHANNEL[c][0]) for c in channels])
    return Context(
        cfg=cfg,
        n_days=n_days,
        end_ts=n_days * DAY - 1,
        epoch_s=int(start.value // 10**9),
        join_cdf=_cdf(join_w),
        promo_rate=promo,
        month_ends=month_ends,
        years=tuple(years),
        store_region=store_region,
        store_tier=store_tier,
        region_store_start=np.cumsum(region_count) - region_count,
        region_store_count=region_count,
        channels=channels,
        ch_mix=np.array([cfg.channel_mix[c] for c in channels]),
        store_channel=channels.index("store") if "store" in channels else -1,
        hour_cdf=np.cumsum(hour_w, axis=1) / hour_w.sum(axis=1, keepdims=True),
        regions=regions,
        region_cdf=_cdf(cfg.region_mix.values()),
        city_tiers=tiers,
        tier_cdf=_cdf(cfg.city_tier_mix.values()),
        age_bands=ages,
        age_cdf=_cdf(cfg.age_band_mix.values()),
        categories=categories,
        category_alpha=alpha,
        category_price=np.array([cfg.category_unit_price[c] for c in categories]),
        category_return=np.array([CATEGORY_RETURN_MULTIPLIER.get(c, 1.0) for c in categories]),
        return_rate=np.array([cfg.return_rate[c] for c in channels]),
        ticket_rate=np.array([cfg.ticket_rate[c] for c in channels]),
        contact_main=contact_main,
        contact_share=np.array([CONTACT_BY_CHANNEL[c][1] for c in channels]),
        engagement_points=np.array([cfg.engagement_points[e] for e in ENGAGEMENT_EVENTS], dtype=np.int64),
        tier_discount=np.array([cfg.tier_discount[t] for t in TIERS]),
        tier_multiplier=np.array([cfg.tier_points_multiplier[t] for t in TIERS]),
    )


__all__ = ["Context", "build_context", "ISSUE_TYPES", "CONTACT_CHANNELS", "SEVERITIES", "CHANNELS"]
