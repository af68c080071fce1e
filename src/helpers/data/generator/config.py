"""Settings of the synthetic new-retail generator, validated on construction.

Every number that shapes the data is a field of :class:`GeneratorConfig` (a pydantic model:
``python -m helpers schema generator``), so a dataset is fully described by its config
(written to ``truth.json``) and can be regenerated from it. Time parameters of the purchase
model are per DAY; money is CNY. A bad setting is a one-line :class:`ConfigError` naming
the setting and its value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar

import pandas as pd
from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from helpers.errors import ConfigError, SettingsModel, located

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


#: Where messages say a setting comes from when it is not read from a file.
SOURCE = "generator settings"


def _mix(**kw: float) -> Any:
    return Field(default_factory=lambda: dict(kw))


def mix(
    labels: tuple[str, ...] | None = None,
    *,
    allowed: tuple[str, ...] | None = None,
    sum_to_one: bool = True,
    high: float = math.inf,
    nonzero: bool = False,
    positive: bool = False,
    whole: bool = False,
) -> AfterValidator:
    """One validator for every "label -> number" setting: ``labels`` are required and the
    only ones allowed (``allowed``: only allowed), numbers in [0, ``high``] (``positive``: > 0,
    ``whole``: whole numbers, kept as int), shares summing to 1, ``nonzero``: some share > 0."""
    allowed = labels if labels is not None else allowed

    def check(value: dict[str, float]) -> dict:
        if not value:
            raise ValueError("expected a non-empty mapping of label to number")
        for key, number in value.items():
            if not key.strip():
                raise located(key, number, "labels must be non-empty text")
            if not 0 <= number <= high or (positive and number <= 0) or (whole and not float(number).is_integer()):
                kind = "a whole number" if whole else "a number"
                bound = "> 0" if positive else f"in [0, {high}]"
                raise located(key, number, f"expected {kind} {bound}")
        bad = sorted(set(value) - set(allowed)) if allowed is not None else []
        if bad:
            raise ValueError(f"unknown label(s) {bad}; use some of {list(allowed)}")
        missing = [k for k in labels or () if k not in value]
        if missing:
            raise ValueError(f"lacks {missing}")
        if sum_to_one and abs(sum(value.values()) - 1.0) > 1e-6:
            raise ValueError(f"shares must sum to 1, they sum to {sum(value.values()):.6g}")
        if nonzero and not any(v > 0 for v in value.values()):
            raise ValueError("gives every label a zero share")
        return {k: int(v) if whole else float(v) for k, v in value.items()}

    return AfterValidator(check)


def _day(value: Any) -> str:
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        stamp = pd.NaT
    if pd.isna(stamp) or stamp != stamp.normalize():
        raise ValueError("is not a date (use YYYY-MM-DD)")
    return stamp.strftime("%Y-%m-%d")


def _promotions(promos: Any) -> tuple:
    if not isinstance(promos, (list, tuple)):
        raise ValueError("must be a list of (name, MM-DD, MM-DD, discount)")
    clean = []
    for i, item in enumerate(promos):
        try:
            name, first, last, rate = item
            first_day = pd.Timestamp(f"2024-{first}")  # a leap year accepts 02-29
            last_day = pd.Timestamp(f"2024-{last}")
            rate = float(rate)
        except (TypeError, ValueError):
            raise located(f"[{i}]", item, "is not (name, 'MM-DD', 'MM-DD', discount)") from None
        if last_day < first_day or not 0 <= rate < 0.9:
            raise located(f"[{i}]", item, "needs first day <= last day and a discount in [0, 0.9)")
        clean.append((str(name), str(first), str(last), rate))
    return tuple(clean)


_PROMOTIONS_SCHEMA = {
    "type": "array",
    "items": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "string"}, {"type": "string"}, {"type": "number"}]},
}
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Day = Annotated[Any, PlainValidator(_day), WithJsonSchema({"type": "string", "format": "date"})]


class GeneratorConfig(SettingsModel):
    """Everything that decides a generated dataset. See ``data/README.md``.

    Mixes (``*_mix``) are shares that must sum to 1; their keys are the labels that appear
    in the data. Per-channel settings are keyed by channel name.
    """

    model_config = ConfigDict(validate_default=True)
    source: ClassVar[str] = SOURCE

    seed: Annotated[int, Field(ge=0)] = 7
    n_customers: Annotated[int, Field(ge=1)] = 5000
    start: Day = "2023-01-01"
    end: Day = "2024-12-31"

    # --- purchase process: BG/NBD with time in DAYS -------------------------------------
    #: purchase rate per day lambda ~ Gamma(shape r, rate alpha): mean r/alpha = 1/60 per day
    r: Positive = 0.75
    alpha: Positive = 45.0
    #: dropout probability after each repeat purchase p ~ Beta(a, b): mean a/(a+b) = 0.17
    a: Positive = 0.5
    b: Positive = 2.5

    # --- spend per purchase DAY: Gamma-Gamma, CNY -----------------------------------------
    #: spend ~ Gamma(shape p, rate nu), nu ~ Gamma(shape q, rate v); mean p*v/(q-1) = 200 CNY
    p: Positive = 4.0
    q: Positive = 4.5
    v: Positive = 175.0

    # --- who the customers are --------------------------------------------------------
    channel_mix: Annotated[dict[str, float], mix(allowed=CHANNELS, nonzero=True)] = _mix(store=0.40, online_mall=0.13, mini_program=0.22, app=0.15, marketplace=0.10)
    region_mix: Annotated[dict[str, float], mix()] = _mix(
        east=0.30, south=0.20, north=0.17, central=0.13, southwest=0.11, northwest=0.05, northeast=0.04
    )
    city_tier_mix: Annotated[dict[str, float], mix()] = _mix(tier1=0.18, new_tier1=0.25, tier2=0.27, tier3_below=0.30)
    age_band_mix: Annotated[dict[str, float], mix()] = Field(
        default_factory=lambda: {"18-24": 0.12, "25-34": 0.33, "35-44": 0.27, "45-54": 0.16, "55+": 0.12}
    )
    category_mix: Annotated[dict[str, float], mix(nonzero=True)] = _mix(
        fresh_food=0.20, packaged_food=0.16, beverages=0.12, personal_care=0.11, beauty=0.09,
        mother_baby=0.07, home=0.10, apparel=0.10, electronics=0.05,
    )
    #: typical unit price per category (CNY), used only to derive quantities
    category_unit_price: Annotated[dict[str, float], mix(sum_to_one=False, positive=True)] = _mix(
        fresh_food=25.0, packaged_food=30.0, beverages=15.0, personal_care=45.0, beauty=160.0,
        mother_baby=110.0, home=90.0, apparel=180.0, electronics=400.0,
    )
    n_stores: Annotated[int, Field(ge=1, le=999)] = 40

    # --- loyalty programme --------------------------------------------------------------
    #: net spend (CNY) over the trailing 365 days needed for silver / gold
    silver_threshold: Positive = 1000.0
    gold_threshold: Positive = 3000.0
    tier_discount: Annotated[dict[str, float], mix(TIERS, sum_to_one=False, high=0.9)] = _mix(bronze=0.0, silver=0.05, gold=0.08)
    tier_points_multiplier: Annotated[dict[str, float], mix(TIERS, sum_to_one=False)] = _mix(bronze=1.0, silver=1.2, gold=1.5)
    #: points per CNY net paid (before the tier multiplier)
    points_per_cny: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    #: points worth 1 CNY when redeemed as a cash offset
    points_per_cny_redeemed: Annotated[int, Field(ge=1)] = 100
    #: points are redeemed in whole blocks of this size
    redeem_block: Annotated[int, Field(ge=1)] = 500
    #: purchase points are credited when the return window closes, this many days after the order
    return_window_days: Annotated[int, Field(ge=15)] = 15
    engagement_points: Annotated[dict[str, float], mix(ENGAGEMENT_EVENTS, sum_to_one=False, whole=True)] = _mix(earn_checkin=5, earn_share=10, earn_survey=50, earn_referral=200)
    #: festival promotions: (name, first day MM-DD, last day MM-DD, extra discount)
    promotions: Annotated[Any, PlainValidator(_promotions), WithJsonSchema(_PROMOTIONS_SCHEMA)] = (("618", "06-01", "06-18", 0.10), ("double11", "11-01", "11-11", 0.12))

    # --- returns and service --------------------------------------------------------------
    #: share of order lines returned, by channel (before the category multiplier)
    return_rate: Annotated[dict[str, float], mix(sum_to_one=False, high=0.3)] = _mix(store=0.015, online_mall=0.05, mini_program=0.04, app=0.04, marketplace=0.06)
    #: share of orders that lead to a service ticket, by channel
    ticket_rate: Annotated[dict[str, float], mix(sum_to_one=False, high=0.5)] = _mix(store=0.004, online_mall=0.03, mini_program=0.02, app=0.02, marketplace=0.04)
    response_sla_hours: Positive = 24.0
    resolution_sla_hours: Positive = 48.0
    #: median hours to first response and from first response to resolution, by severity
    response_median_hours: Annotated[dict[str, float], mix(SEVERITIES, sum_to_one=False, positive=True)] = _mix(ordinary=3.0, complex=5.0, major=1.0)
    resolution_median_hours: Annotated[dict[str, float], mix(SEVERITIES, sum_to_one=False, positive=True)] = _mix(ordinary=16.0, complex=36.0, major=48.0)
    #: handling-time multiplier for tickets raised on a churning customer's final purchase
    churn_ticket_slowdown: Positive = 3.0

    # --- pilot (A/B test) ----------------------------------------------------------------
    #: first day of the pilot; None = the first day of the fifth month before ``end``'s month
    #: (2024-07-01 for the default window)
    pilot_start: Day | None = None
    #: None = "PILOT-YYYY-MM" of the pilot start
    campaign_id: Annotated[str, StringConstraints(strip_whitespace=False, min_length=1, pattern=r"\S")] | None = None
    #: length of the pre and the post (outcome) period, days
    pilot_window_days: Annotated[int, Field(ge=7)] = 90
    #: share of eligible customers put into the pilot, and share of those treated
    pilot_share: Annotated[float, Field(ge=0, le=1)] = 0.5
    pilot_treatment_share: Annotated[float, Field(gt=0, lt=1)] = 0.5
    #: true relative uplift of spend per purchase day in the post period for treated customers
    pilot_uplift: Annotated[float, Field(gt=-1, allow_inf_nan=False)] = 0.10

    # --- extensions (off by default, so the committed dataset stays a fresh generation) ----
    #: add weather, home areas, birthdays, coupon and message campaigns (generator/campaigns.py)
    campaigns: bool = False
    #: add the community tables (groups, activity, WeChat contacts, referrals); see
    #: :mod:`helpers.data.generator.community`
    community: bool = False
    #: add behaviour events, birthdays and per-order promotions with planted tag truth
    #: (:mod:`helpers.data.generator.tags`)
    tags_extension: bool = False

    @model_validator(mode="after")
    def _together(self) -> "GeneratorConfig":
        """The checks that look at several settings; fills in the pilot's start and campaign id."""
        start, end = pd.Timestamp(self.start), pd.Timestamp(self.end)
        if end <= start:
            raise located("end", self.end, f"must be after start ({self.start})")
        missing = [k for k in self.category_mix if k not in self.category_unit_price]
        if missing:
            raise located("category_unit_price", self.category_unit_price, f"lacks {missing} (every label of category_mix)")
        if self.n_stores < len(self.region_mix):
            raise located("n_stores", self.n_stores, f"expected at least one store per region ({len(self.region_mix)})")
        if self.gold_threshold <= self.silver_threshold:
            raise located("gold_threshold", self.gold_threshold, f"must be > silver_threshold ({self.silver_threshold})")
        for name in ("return_rate", "ticket_rate"):
            missing = [k for k in self.channel_mix if k not in getattr(self, name)]
            if missing:
                raise located(name, getattr(self, name), f"lacks {missing} (every channel of channel_mix)")
        if self.pilot_start is None:
            self.__dict__["pilot_start"] = (end.to_period("M") - 5).start_time.strftime("%Y-%m-%d")
        pilot = pd.Timestamp(self.pilot_start)
        if self.campaign_id is None:
            self.__dict__["campaign_id"] = f"PILOT-{pilot:%Y-%m}"
        window = self.pilot_window_days
        if self.pilot_share > 0 and (
            pilot - pd.Timedelta(days=window) < start or pilot + pd.Timedelta(days=window + 7) > end
        ):
            raise located(
                "pilot_start", self.pilot_start,
                f"the pilot ({window}-day pre and post periods, exposures spread over 7 days) must lie inside "
                f"{self.start} .. {self.end}; move pilot_start, shorten pilot_window_days or set pilot_share to 0 "
                "for no pilot",
            )
        return self

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
        values = json_ready(self.model_dump())
        return {k: v for k, v in values.items() if k not in _OFF or v}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], source: str = SOURCE) -> "GeneratorConfig":
        """Build a config from a dict such as ``truth.json``'s ``config``; unknown keys are errors.
        ``source`` names where the values come from in messages."""
        known = set(cls.model_fields)
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown generator setting(s) {unknown}; known settings are {sorted(known)}.")
        try:
            return cls(**values)
        except ConfigError as err:  # name the file the values come from
            raise ConfigError(source + str(err).removeprefix(SOURCE)) from None

    def replace(self, **changes: Any) -> "GeneratorConfig":
        return type(self)(**{**self.model_dump(), **changes})


#: Extension flags left out of ``to_dict`` while off (older truth.json files stay byte-identical).
_OFF = ("campaigns", "community", "tags_extension")


def json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value
