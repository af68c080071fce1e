"""Settings of the synthetic new-retail generator, validated on construction.

Every number that shapes the data is a field of :class:`GeneratorConfig`, so a dataset is
fully described by its config (written to ``truth.json``) and can be regenerated from it.
Time parameters of the purchase model are per DAY; money is CNY.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from helpers.errors import ConfigError

#: Version of the generating process. Bump it whenever the same config would give
#: different data, so ``truth.json`` says which process made a dataset.
GENERATOR_VERSION = "1.0.0"

#: Customers per random-number block. Block ``i`` draws from
#: ``np.random.SeedSequence(seed, spawn_key=(1, i))`` (the i-th child of a
#: ``SeedSequence(seed).spawn``-style tree), so the data do not depend on how many
#: customers are processed at once. Changing it changes the data: it is part of the version.
BLOCK_CUSTOMERS = 5000

#: Sales channels the generator knows. "store" is the only offline channel; "delivery" is
#: food/instant-retail delivery platforms (Meituan, Ele.me style), used only when a config
#: lists it in ``channel_mix`` (the default mix does not).
CHANNELS: tuple[str, ...] = ("store", "online_mall", "mini_program", "app", "marketplace", "delivery")
TIERS: tuple[str, ...] = ("bronze", "silver", "gold")
ENGAGEMENT_EVENTS: tuple[str, ...] = ("earn_checkin", "earn_share", "earn_survey", "earn_referral")
SEVERITIES: tuple[str, ...] = ("ordinary", "complex", "major")


def _mix(**kw: float) -> Any:
    return field(default_factory=lambda: dict(kw))


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that decides a generated dataset. See ``data/README.md``.

    Mixes (``*_mix``) are shares that must sum to 1; their keys are the labels that appear
    in the data. Per-channel settings are keyed by channel name.
    """

    seed: int = 7
    n_customers: int = 5000
    start: str = "2023-01-01"
    end: str = "2024-12-31"

    # --- purchase process: BG/NBD with time in DAYS -------------------------------------
    #: purchase rate per day lambda ~ Gamma(shape r, rate alpha): mean r/alpha = 1/60 per day
    r: float = 0.75
    alpha: float = 45.0
    #: dropout probability after each repeat purchase p ~ Beta(a, b): mean a/(a+b) = 0.17
    a: float = 0.5
    b: float = 2.5

    # --- spend per purchase DAY: Gamma-Gamma, CNY -----------------------------------------
    #: spend ~ Gamma(shape p, rate nu), nu ~ Gamma(shape q, rate v); mean p*v/(q-1) = 200 CNY
    p: float = 4.0
    q: float = 4.5
    v: float = 175.0

    # --- who the customers are --------------------------------------------------------
    channel_mix: dict = _mix(store=0.40, online_mall=0.13, mini_program=0.22, app=0.15, marketplace=0.10)
    region_mix: dict = _mix(
        east=0.30, south=0.20, north=0.17, central=0.13, southwest=0.11, northwest=0.05, northeast=0.04
    )
    city_tier_mix: dict = _mix(tier1=0.18, new_tier1=0.25, tier2=0.27, tier3_below=0.30)
    age_band_mix: dict = field(
        default_factory=lambda: {"18-24": 0.12, "25-34": 0.33, "35-44": 0.27, "45-54": 0.16, "55+": 0.12}
    )
    category_mix: dict = _mix(
        fresh_food=0.20, packaged_food=0.16, beverages=0.12, personal_care=0.11, beauty=0.09,
        mother_baby=0.07, home=0.10, apparel=0.10, electronics=0.05,
    )
    #: typical unit price per category (CNY), used only to derive quantities
    category_unit_price: dict = _mix(
        fresh_food=25.0, packaged_food=30.0, beverages=15.0, personal_care=45.0, beauty=160.0,
        mother_baby=110.0, home=90.0, apparel=180.0, electronics=400.0,
    )
    n_stores: int = 40

    # --- loyalty programme --------------------------------------------------------------
    #: net spend (CNY) over the trailing 365 days needed for silver / gold
    silver_threshold: float = 1000.0
    gold_threshold: float = 3000.0
    tier_discount: dict = _mix(bronze=0.0, silver=0.05, gold=0.08)
    tier_points_multiplier: dict = _mix(bronze=1.0, silver=1.2, gold=1.5)
    #: points per CNY net paid (before the tier multiplier)
    points_per_cny: float = 1.0
    #: points worth 1 CNY when redeemed as a cash offset
    points_per_cny_redeemed: int = 100
    #: points are redeemed in whole blocks of this size
    redeem_block: int = 500
    #: purchase points are credited when the return window closes, this many days after the order
    return_window_days: int = 15
    engagement_points: dict = _mix(earn_checkin=5, earn_share=10, earn_survey=50, earn_referral=200)
    #: festival promotions: (name, first day MM-DD, last day MM-DD, extra discount)
    promotions: tuple = (("618", "06-01", "06-18", 0.10), ("double11", "11-01", "11-11", 0.12))

    # --- returns and service --------------------------------------------------------------
    #: share of order lines returned, by channel (before the category multiplier)
    return_rate: dict = _mix(store=0.015, online_mall=0.05, mini_program=0.04, app=0.04, marketplace=0.06)
    #: share of orders that lead to a service ticket, by channel
    ticket_rate: dict = _mix(store=0.004, online_mall=0.03, mini_program=0.02, app=0.02, marketplace=0.04)
    response_sla_hours: float = 24.0
    resolution_sla_hours: float = 48.0
    #: median hours to first response and from first response to resolution, by severity
    response_median_hours: dict = _mix(ordinary=3.0, complex=5.0, major=1.0)
    resolution_median_hours: dict = _mix(ordinary=16.0, complex=36.0, major=48.0)
    #: handling-time multiplier for tickets raised on a churning customer's final purchase
    churn_ticket_slowdown: float = 3.0

    # --- pilot (A/B test) ----------------------------------------------------------------
    #: first day of the pilot; None = the first day of the fifth month before ``end``'s month
    #: (2024-07-01 for the default window)
    pilot_start: str | None = None
    #: None = "PILOT-YYYY-MM" of the pilot start
    campaign_id: str | None = None
    #: length of the pre and the post (outcome) period, days
    pilot_window_days: int = 90
    #: share of eligible customers put into the pilot, and share of those treated
    pilot_share: float = 0.5
    pilot_treatment_share: float = 0.5
    #: true relative uplift of spend per purchase day in the post period for treated customers
    pilot_uplift: float = 0.10

    def __post_init__(self) -> None:
        _validate(self)

    # --- derived ------------------------------------------------------------------------
    @property
    def start_day(self) -> pd.Timestamp:
        return pd.Timestamp(self.start)

    @property
    def n_days(self) -> int:
        return int((pd.Timestamp(self.end) - pd.Timestamp(self.start)).days) + 1

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(self.channel_mix)

    def to_dict(self) -> dict:
        """Plain JSON-friendly dict (tuples become lists)."""
        return json_ready(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "GeneratorConfig":
        """Build a config from a dict such as ``truth.json``'s ``config``; unknown keys are errors."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown generator setting(s) {unknown}; known settings are {sorted(known)}.")
        kwargs = dict(values)
        if "promotions" in kwargs:
            kwargs["promotions"] = tuple(tuple(p) for p in kwargs["promotions"])
        return cls(**kwargs)

    def replace(self, **changes: Any) -> "GeneratorConfig":
        return dataclasses.replace(self, **changes)


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


# --- validation ----------------------------------------------------------------------------


def _number(cfg: GeneratorConfig, name: str, *, low: float, high: float = math.inf, low_open: bool = True) -> float:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"generator setting {name} must be a number, not {value!r}.")
    if (value <= low if low_open else value < low) or value > high:
        bounds = f"{'>' if low_open else '>='} {low}" + (f" and <= {high}" if high != math.inf else "")
        raise ConfigError(f"generator setting {name} must be {bounds}, not {value!r}.")
    return float(value)


def _whole(cfg: GeneratorConfig, name: str, low: int) -> int:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(f"generator setting {name} must be a whole number >= {low}, not {value!r}.")
    return value


def _date(cfg: GeneratorConfig, name: str) -> pd.Timestamp:
    value = getattr(cfg, name)
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"generator setting {name} {value!r} is not a date (use YYYY-MM-DD).") from exc
    if pd.isna(stamp) or stamp != stamp.normalize():
        raise ConfigError(f"generator setting {name} {value!r} is not a date (use YYYY-MM-DD).")
    object.__setattr__(cfg, name, stamp.strftime("%Y-%m-%d"))
    return stamp


def _shares(cfg: GeneratorConfig, name: str, *, required: tuple[str, ...] | None = None, sum_to_one: bool = True,
            allowed: tuple[str, ...] | None = None, high: float = math.inf) -> dict:
    value = getattr(cfg, name)
    if not isinstance(value, Mapping) or not value:
        raise ConfigError(f"generator setting {name} must be a non-empty mapping of label to number, not {value!r}.")
    clean = {}
    for key, share in value.items():
        if not isinstance(key, str) or not key.strip():
            raise ConfigError(f"generator setting {name}: labels must be non-empty text, not {key!r}.")
        if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= high:
            raise ConfigError(f"generator setting {name}: {key!r} must be a number in [0, {high}], not {share!r}.")
        clean[key] = float(share)
    if allowed is not None:
        bad = sorted(set(clean) - set(allowed))
        if bad:
            raise ConfigError(f"generator setting {name}: unknown label(s) {bad}; use some of {list(allowed)}.")
    if required is not None:
        missing = [k for k in required if k not in clean]
        if missing:
            raise ConfigError(f"generator setting {name} lacks {missing}.")
    if sum_to_one and abs(sum(clean.values()) - 1.0) > 1e-6:
        raise ConfigError(f"generator setting {name}: shares must sum to 1, they sum to {sum(clean.values()):.6g}.")
    object.__setattr__(cfg, name, clean)
    return clean


def _validate(cfg: GeneratorConfig) -> None:
    if isinstance(cfg.seed, bool) or not isinstance(cfg.seed, int) or cfg.seed < 0:
        raise ConfigError(f"generator setting seed must be a whole number >= 0, not {cfg.seed!r}.")
    _whole(cfg, "n_customers", 1)
    start, end = _date(cfg, "start"), _date(cfg, "end")
    if end <= start:
        raise ConfigError(f"generator setting end ({cfg.end}) must be after start ({cfg.start}).")
    for name in ("r", "alpha", "a", "b", "p", "q", "v"):
        _number(cfg, name, low=0.0)
    channels = _shares(cfg, "channel_mix", allowed=CHANNELS)
    for name in ("region_mix", "city_tier_mix", "age_band_mix", "category_mix"):
        _shares(cfg, name)
    for name, mix in (("channel_mix", channels), ("category_mix", cfg.category_mix)):
        if not any(v > 0 for v in mix.values()):
            raise ConfigError(f"generator setting {name} gives every label a zero share.")
    _shares(cfg, "category_unit_price", required=tuple(cfg.category_mix), sum_to_one=False)
    if any(v <= 0 for v in cfg.category_unit_price.values()):
        raise ConfigError("generator setting category_unit_price: prices must be > 0.")
    _whole(cfg, "n_stores", len(cfg.region_mix))
    if cfg.n_stores > 999:
        raise ConfigError(f"generator setting n_stores must be <= 999, not {cfg.n_stores}.")
    _number(cfg, "silver_threshold", low=0.0)
    _number(cfg, "gold_threshold", low=cfg.silver_threshold)
    _shares(cfg, "tier_discount", required=TIERS, allowed=TIERS, sum_to_one=False, high=0.9)
    _shares(cfg, "tier_points_multiplier", required=TIERS, allowed=TIERS, sum_to_one=False)
    _number(cfg, "points_per_cny", low=0.0, low_open=False)
    _whole(cfg, "points_per_cny_redeemed", 1)
    _whole(cfg, "redeem_block", 1)
    _whole(cfg, "return_window_days", 15)
    _shares(cfg, "engagement_points", required=ENGAGEMENT_EVENTS, allowed=ENGAGEMENT_EVENTS, sum_to_one=False)
    if any(not v.is_integer() for v in cfg.engagement_points.values()):
        raise ConfigError("generator setting engagement_points: points must be whole numbers.")
    object.__setattr__(cfg, "engagement_points", {k: int(v) for k, v in cfg.engagement_points.items()})
    _promotions(cfg)
    _shares(cfg, "return_rate", required=tuple(channels), sum_to_one=False, high=0.3)
    _shares(cfg, "ticket_rate", required=tuple(channels), sum_to_one=False, high=0.5)
    _number(cfg, "response_sla_hours", low=0.0)
    _number(cfg, "resolution_sla_hours", low=0.0)
    for name in ("response_median_hours", "resolution_median_hours"):
        _shares(cfg, name, required=SEVERITIES, allowed=SEVERITIES, sum_to_one=False)
        if any(v <= 0 for v in getattr(cfg, name).values()):
            raise ConfigError(f"generator setting {name}: hours must be > 0.")
    _number(cfg, "churn_ticket_slowdown", low=0.0)
    _pilot(cfg, start, end)


def _pilot(cfg: GeneratorConfig, start: pd.Timestamp, end: pd.Timestamp) -> None:
    if cfg.pilot_start is None:
        object.__setattr__(cfg, "pilot_start", (end.to_period("M") - 5).start_time.strftime("%Y-%m-%d"))
    pilot = _date(cfg, "pilot_start")
    if cfg.campaign_id is None:
        object.__setattr__(cfg, "campaign_id", f"PILOT-{pilot:%Y-%m}")
    if not isinstance(cfg.campaign_id, str) or not cfg.campaign_id.strip():
        raise ConfigError(f"generator setting campaign_id must be non-empty text, not {cfg.campaign_id!r}.")
    window = _whole(cfg, "pilot_window_days", 7)
    _number(cfg, "pilot_share", low=0.0, high=1.0, low_open=False)
    if cfg.pilot_share > 0 and (
        pilot - pd.Timedelta(days=window) < start or pilot + pd.Timedelta(days=window + 7) > end
    ):
        raise ConfigError(
            f"the pilot (start {cfg.pilot_start}, {window}-day pre and post periods, exposures spread "
            f"over 7 days) must lie inside {cfg.start} .. {cfg.end}; move pilot_start, shorten "
            "pilot_window_days or set pilot_share to 0 for no pilot."
        )
    _number(cfg, "pilot_treatment_share", low=0.0, high=1.0)
    if cfg.pilot_treatment_share >= 1.0:
        raise ConfigError("generator setting pilot_treatment_share must be below 1 (a pilot needs a control group).")
    _number(cfg, "pilot_uplift", low=-1.0)


def _promotions(cfg: GeneratorConfig) -> None:
    promos = cfg.promotions
    if not isinstance(promos, (list, tuple)):
        raise ConfigError(f"generator setting promotions must be a list of (name, MM-DD, MM-DD, discount), not {promos!r}.")
    clean = []
    for item in promos:
        try:
            name, first, last, rate = item
            first_day = pd.Timestamp(f"2024-{first}")  # a leap year accepts 02-29
            last_day = pd.Timestamp(f"2024-{last}")
            rate = float(rate)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"generator setting promotions: {item!r} is not (name, 'MM-DD', 'MM-DD', discount)."
            ) from exc
        if last_day < first_day or not 0 <= rate < 0.9:
            raise ConfigError(
                f"generator setting promotions: {item!r} needs first day <= last day and a discount in [0, 0.9)."
            )
        clean.append((str(name), str(first), str(last), rate))
    object.__setattr__(cfg, "promotions", tuple(clean))
