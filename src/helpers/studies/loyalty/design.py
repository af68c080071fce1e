"""Loyalty-programme designs: the YAML a strategist writes, validated on load.

A design file describes one candidate programme (see ``playbooks/designs/*.yaml`` for
complete examples). Top-level keys::

    name: Points and tiers            # required, shown on the pages
    description: ...                  # optional, one or two sentences
    gross_margin: 0.30                # optional; default: the study's gross_margin
    earn:                             # how members collect points
      points_per_currency: 1          # points per currency unit spent
      channel_multipliers: {online: 1, store: 2}    # optional, by channel in the data
      category_multipliers: {beauty: 2}             # optional, by category in the data
      channel_mix: {online: 0.6, store: 0.4}        # optional: spend shares used when the
      category_mix: {}                              #   data has no channel / category column
      activities:                     # optional bonus points for behaviour
        check_in: {points: 5, monthly_cap: 20}
        referral: {points: 200, monthly_cap: 2}
    burn:                             # how points are spent
      point_value: 0.01               # currency a point is worth when redeemed
      redemption_threshold: 500       # points needed before a reward can be taken
      redeem: all_blocks              # all_blocks (every whole block) or one_block
      expiry_months: 12               # points expire this many months after the month earned; null = never
      reward_cost_ratio: 1.0          # our cost per currency unit of reward (1 = cash offset; 0.6 = goods at cost)
    member_benefits: {...}            # optional, benefits of every member when there are no tiers
    tiers:                            # optional
      window_months: 12               # rolling qualification window
      retain_fraction: 0.8            # a member keeps a tier while the window holds this share of its threshold
      demotion_review_months: 12      # demotions only every N months (1 = monthly)
      levels:                         # lowest first; the first level needs no qualification
        - {name: bronze}
        - {name: silver, qualify_spend: 300, qualify_visits: 6, benefits: {discount_pct: 5}}
        - {name: gold, qualify_spend: 800, benefits: {discount_pct: 5, free_returns: true}}
    triggers:                         # optional dynamic rewards, checked every month
      - name: three_in_a_month
        when: {purchases_in_month: 3}          # or {spend_in_month: 100}
        reward: {bonus_points: 200}            # bonus_points, coupon_value, free_shipping_next_month, cost
    costs:                            # programme costs (currency)
      fixed_setup: 20000              # once, at launch
      fixed_per_month: 2000
      per_member_month: 0.05          # CRM, messages, card, per enrolled member per month
      per_new_member: 0.5             # welcome gift, card
      shipping_cost_per_order: 6      # what one shipment costs us (free-shipping benefits)
      shipped_order_share: 0.6        # share of orders that are shipped
      return_cost_per_order: 1.2      # expected cost of free returns per order (return rate x cost)
      early_access_cost_per_member_month: 0.3
    assumptions: {member_lift: 0.02}  # optional overrides of behavioural assumptions

Names and descriptions shown on the pages (``name``, ``description``, a level's or a
trigger's ``name``) are text, or one text per page language: ``{en: Silver, zh-CN: 银卡}``
(``en`` required: it names the design in files, exports and messages). Level names
without their own translation use the catalog's common names (bronze, silver, gold...).

Benefits (per tier or ``member_benefits``): ``discount_pct`` (percent off every purchase),
``free_shipping``, ``free_returns``, ``birthday_double_points``, ``early_access`` (true/false),
``points_multiplier`` (x points), ``cost_per_member_month`` (any other service cost).

Every problem is a :class:`~helpers.errors.ConfigError` naming the file, the key path
(``tiers.levels[1].qualify_spend``) and the value, and saying what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from helpers.errors import MISSING, ConfigError, ConfigModel, located, validate_config
from helpers.files import read_yaml
from helpers.report.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Text,
    catalog,
    normalise_language,
    text,
)

# ------------------------------------------------------------------------- schema


def _localised(default: str, translations: Mapping[str, str], language: str) -> str:
    """``default`` (English) or its translation into ``language`` when there is one."""
    code = normalise_language(language)
    return translations.get(code) or default


def level_label(name: str, language: str = DEFAULT_LANGUAGE, translations: Mapping[str, str] | None = None) -> str:
    """A tier level's name in ``language``: its own translation, else the catalog's name for a
    common level (bronze, silver, gold, member...), else the name as written."""
    code = normalise_language(language)
    if translations and translations.get(code):
        return translations[code]
    if code == DEFAULT_LANGUAGE:
        return name
    return catalog(code).get(f"loyalty.level.{name.strip().lower()}", name)


def activity_label(name: str, language: str = DEFAULT_LANGUAGE) -> str:
    """An engagement activity's name in ``language`` (``check_in`` -> "check in" / "签到")."""
    return catalog(normalise_language(language)).get(f"loyalty.activity.{name}", name.replace("_", " "))


@dataclass(frozen=True)
class Activity:
    """Bonus points for a behaviour (check-in, share, survey, referral...)."""

    name: str
    points: float
    monthly_cap: int | None = None


@dataclass(frozen=True)
class Earn:
    points_per_currency: float = 1.0
    channel_multipliers: dict = field(default_factory=dict)
    category_multipliers: dict = field(default_factory=dict)
    channel_mix: dict = field(default_factory=dict)
    category_mix: dict = field(default_factory=dict)
    activities: tuple[Activity, ...] = ()


NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Share = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Months = Annotated[int, Field(ge=1, le=36)]


class Burn(ConfigModel):
    """How points are spent."""

    point_value: NonNegative
    redemption_threshold: Positive
    redeem: Literal["all_blocks", "one_block"] = "all_blocks"
    expiry_months: Annotated[int, Field(ge=1)] | None = None
    reward_cost_ratio: NonNegative = 1.0


class Benefits(ConfigModel):
    """What a level (or every member of a design without tiers) gets."""

    discount_pct: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] = 0.0
    free_shipping: bool = False
    free_returns: bool = False
    birthday_double_points: bool = False
    early_access: bool = False
    points_multiplier: NonNegative = 1.0
    cost_per_member_month: NonNegative = 0.0

    def describe(self, language: str = DEFAULT_LANGUAGE) -> list[str]:
        """The benefits in words, for the pages."""
        lang = language
        out = []
        if self.discount_pct:
            out.append(text("loyalty.benefits.discount", lang, pct=f"{self.discount_pct:g}"))
        if self.points_multiplier != 1:
            out.append(text("loyalty.benefits.multiplier", lang, factor=f"{self.points_multiplier:g}"))
        if self.free_shipping:
            out.append(text("loyalty.benefits.free_shipping", lang))
        if self.free_returns:
            out.append(text("loyalty.benefits.free_returns", lang))
        if self.birthday_double_points:
            out.append(text("loyalty.benefits.birthday", lang))
        if self.early_access:
            out.append(text("loyalty.benefits.early_access", lang))
        if self.cost_per_member_month:
            out.append(text("loyalty.benefits.other", lang, cost=f"{self.cost_per_member_month:g}"))
        return out


class Costs(ConfigModel):
    """What the programme costs (currency)."""

    fixed_setup: NonNegative = 0.0  #: once, at launch
    fixed_per_month: NonNegative = 0.0
    per_member_month: NonNegative = 0.0  #: CRM, messages, card, per enrolled member per month
    per_new_member: NonNegative = 0.0  #: welcome gift, card
    shipping_cost_per_order: NonNegative = 0.0
    shipped_order_share: Share = 1.0
    return_cost_per_order: NonNegative = 0.0
    early_access_cost_per_member_month: NonNegative = 0.0


@dataclass(frozen=True)
class Tier:
    name: str
    qualify_spend: float | None = None
    qualify_visits: float | None = None
    benefits: Benefits = field(default_factory=Benefits)
    labels: dict = field(default_factory=dict)  # the name in other page languages, e.g. {"zh-CN": "银卡"}

    def label(self, language: str = DEFAULT_LANGUAGE) -> str:
        """The level's name in ``language``."""
        return level_label(self.name, language, self.labels)


@dataclass(frozen=True)
class Trigger:
    """A dynamic reward: when a member's month meets the condition, they get the reward."""

    name: str
    purchases_in_month: int | None = None
    spend_in_month: float | None = None
    bonus_points: float = 0.0
    coupon_value: float = 0.0
    free_shipping_next_month: bool = False
    cost: float = 0.0
    labels: dict = field(default_factory=dict)  # the name in other page languages

    def label(self, language: str = DEFAULT_LANGUAGE) -> str:
        """The trigger's name in ``language``."""
        return _localised(self.name, self.labels, language)

    def describe(self, currency: str = "", language: str = DEFAULT_LANGUAGE) -> str:
        lang = language
        if self.purchases_in_month is not None:
            cond = text("loyalty.trigger.purchases", lang, count=self.purchases_in_month)
        else:
            cond = text("loyalty.trigger.spend", lang, amount=f"{currency}{self.spend_in_month:,.0f}")
        rewards = []
        if self.bonus_points:
            rewards.append(text("loyalty.trigger.bonus_points", lang, points=f"{self.bonus_points:,.0f}"))
        if self.coupon_value:
            rewards.append(text("loyalty.trigger.coupon", lang, amount=f"{currency}{self.coupon_value:,.2f}"))
        if self.free_shipping_next_month:
            rewards.append(text("loyalty.trigger.free_shipping", lang))
        if self.cost:
            rewards.append(text("loyalty.trigger.perk", lang, amount=f"{currency}{self.cost:,.2f}"))
        joined = text("loyalty.and", lang).join(rewards) or text("loyalty.trigger.nothing", lang)
        return text("loyalty.trigger.rule", lang, condition=cond, rewards=joined)


@dataclass(frozen=True)
class Design:
    """One candidate programme, as validated from its YAML file."""

    name: str
    earn: Earn
    burn: Burn
    levels: tuple[Tier, ...]  # at least one; a design without tiers has one level "member"
    costs: Costs
    triggers: tuple[Trigger, ...] = ()
    window_months: int = 12
    retain_fraction: float = 1.0
    demotion_review_months: int = 1
    description: str = ""
    gross_margin: float | None = None
    assumptions: dict = field(default_factory=dict)
    source: str = ""
    has_tiers: bool = False
    names: dict = field(default_factory=dict)  # the name in other page languages, e.g. {"zh-CN": "简单积分"}
    descriptions: dict = field(default_factory=dict)  # the description in other page languages

    def display_name(self, language: str = DEFAULT_LANGUAGE) -> str:
        """The design's name as shown on a page in ``language``."""
        return _localised(self.name, self.names, language)

    def display_description(self, language: str = DEFAULT_LANGUAGE) -> str:
        """The design's description in ``language`` (English when it has no translation)."""
        return _localised(self.description, self.descriptions, language)

    def level_label(self, name: str, language: str = DEFAULT_LANGUAGE) -> str:
        """The name of the design's level ``name`` in ``language``."""
        for level in self.levels:
            if level.name == name:
                return level.label(language)
        return level_label(name, language)

    @property
    def slug(self) -> str:
        """A file-name-safe id for the design (from its file name, else its name)."""
        base = Path(self.source).stem if self.source else self.name
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", base).strip("-").lower()
        return slug or "design"

    @property
    def tier_names(self) -> list[str]:
        return [t.name for t in self.levels]


# ------------------------------------------------------------------------ reading

def _named_in_english(value: Any) -> Any:
    if isinstance(value, dict) and DEFAULT_LANGUAGE not in value:
        raise located(
            DEFAULT_LANGUAGE, MISSING,
            f"give the {DEFAULT_LANGUAGE} text too (it names the design in files and messages)",
        )
    return value


#: A name or description shown on the pages: :data:`~helpers.report.i18n.Text` whose mapping has ``en``.
DesignText = Annotated[Text, AfterValidator(_named_in_english)]


def _english_and_others(value: Any) -> tuple[str, dict]:
    """A validated :data:`DesignText` as (English text, {other language: text})."""
    if value is None:
        return "", {}
    if isinstance(value, str):
        return value, {}
    return value[DEFAULT_LANGUAGE], {k: v for k, v in value.items() if k != DEFAULT_LANGUAGE}


def _shares(value: dict[str, float]) -> dict[str, float]:
    if value and abs(sum(value.values()) - 1.0) > 1e-6:
        raise ValueError(f"shares must add up to 1 (they add up to {sum(value.values()):g})")
    return value


class ActivityEntry(ConfigModel):
    points: NonNegative
    monthly_cap: Annotated[int, Field(ge=0)] | None = None


def _activity(value: Any) -> Any:
    """``check_in: 5`` is short for ``check_in: {points: 5}``."""
    return {"points": value} if isinstance(value, (int, float)) and not isinstance(value, bool) else value


class EarnEntry(ConfigModel):
    points_per_currency: NonNegative = 1.0
    channel_multipliers: dict[str, NonNegative] | None = None
    category_multipliers: dict[str, NonNegative] | None = None
    channel_mix: Annotated[dict[str, Share], AfterValidator(_shares)] | None = None
    category_mix: Annotated[dict[str, Share], AfterValidator(_shares)] | None = None
    activities: dict[str, Annotated[ActivityEntry, BeforeValidator(_activity)]] | None = None


class LevelEntry(ConfigModel):
    name: DesignText
    qualify_spend: NonNegative | None = None
    qualify_visits: NonNegative | None = None
    benefits: Benefits | None = None


def _levels(levels: list[LevelEntry]) -> list[LevelEntry]:
    """At least two levels, uniquely named; only those above the first qualify, by rising thresholds."""
    if len(levels) < 2:
        raise ValueError("expected a list of at least two levels, lowest first (e.g. bronze, silver, gold)")
    names: set[str] = set()
    for i, level in enumerate(levels):
        name = _english_and_others(level.name)[0]
        if name in names:
            raise located(f"[{i}].name", name, "two levels have this name; names must be unique")
        names.add(name)
        if i == 0 and (level.qualify_spend or level.qualify_visits):
            raise located(
                "[0]", level.model_dump(exclude_unset=True),
                "the first level is the entry level every member starts in; it takes no qualify_* keys",
            )
        if i > 0 and level.qualify_spend is None and level.qualify_visits is None:
            raise located(f"[{i}]", level.model_dump(exclude_unset=True), "a level above the first needs qualify_spend and/or qualify_visits")
    for key in ("qualify_spend", "qualify_visits"):  # thresholds must rise with the level
        previous, previous_i = 0.0, 0
        for i, level in enumerate(levels[1:], start=1):
            value = getattr(level, key)
            if value is None:
                continue
            if value <= previous and i > 1:
                below = _english_and_others(levels[previous_i].name)[0]
                raise located(f"[{i}].{key}", value, f"must be higher than the level below ({below}: {previous:g})")
            previous, previous_i = value, i
    return levels


class TiersEntry(ConfigModel):
    window_months: Months = 12  #: rolling qualification window
    retain_fraction: Share = 1.0  #: a member keeps a tier while the window holds this share of its threshold
    demotion_review_months: Months = 1  #: demotions only every N months
    levels: Annotated[list[LevelEntry], AfterValidator(_levels)]  #: lowest first


class WhenEntry(ConfigModel):
    purchases_in_month: Annotated[int, Field(ge=1)] | None = None
    spend_in_month: Positive | None = None


class RewardEntry(ConfigModel):
    bonus_points: NonNegative = 0.0
    coupon_value: NonNegative = 0.0
    free_shipping_next_month: bool = False
    cost: NonNegative = 0.0


class TriggerEntry(ConfigModel):
    name: DesignText | None = None  #: default: "trigger <n>"
    when: WhenEntry | None = None  #: exactly one condition
    reward: RewardEntry | None = None

    @field_validator("name", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _one_condition_a_reward(self) -> "TriggerEntry":
        conditions = tuple(WhenEntry.model_fields)
        if self.when is None or len(self.when.model_fields_set) != 1:
            shown = self.when.model_dump(exclude_unset=True) if self.when is not None else MISSING
            raise located("when", shown, f"give exactly one condition: {' or '.join(conditions)}")
        if self.reward is None or not self.reward.model_fields_set:
            shown = self.reward.model_dump(exclude_unset=True) if self.reward is not None else MISSING
            raise located("reward", shown, f"give a reward: {', '.join(RewardEntry.model_fields)}")
        return self


class DesignFile(ConfigModel):
    """One loyalty-programme design (``playbooks/designs/*.yaml``)."""

    name: DesignText
    description: DesignText | None = None
    gross_margin: Annotated[float, Field(gt=0, le=1)] | None = None  #: default: the study's gross_margin
    earn: EarnEntry | None = None
    burn: Burn
    member_benefits: Benefits | None = None  #: benefits of every member when there are no tiers
    tiers: TiersEntry | None = None
    triggers: list[TriggerEntry] | None = None
    costs: Costs | None = None
    assumptions: dict[str, Any] | None = None  #: overrides of behavioural assumptions (checked by name)

    @model_validator(mode="after")
    def _benefits_per_level(self) -> "DesignFile":
        if self.tiers is not None and self.member_benefits is not None:
            raise located(
                "member_benefits", self.member_benefits.model_dump(exclude_unset=True),
                "a design with tiers gives benefits per level; put these under the first level's benefits",
            )
        return self


def design_from_mapping(raw: Any, source: str = "the design") -> Design:
    """Validate a parsed design (a dict as read from YAML, :class:`DesignFile`); ``source``
    names it in errors."""
    if raw is None or raw == {}:
        raise ConfigError(f"{source}: the design is empty; see playbooks/designs/ for examples")
    model: DesignFile = validate_config(DesignFile, raw, source)
    name, names = _english_and_others(model.name)
    description, descriptions = _english_and_others(model.description)
    if model.tiers is not None:
        levels = tuple(
            Tier(*_english_and_others(level.name)[:1], level.qualify_spend, level.qualify_visits,
                 level.benefits or Benefits(), _english_and_others(level.name)[1])
            for level in model.tiers.levels
        )
        options = model.tiers.model_dump(exclude={"levels"})
    else:
        levels, options = (Tier("member", benefits=model.member_benefits or Benefits()),), {}
    assumptions = model.assumptions or {}
    if assumptions:
        from helpers.studies.loyalty.assumptions import check_overrides

        assumptions = check_overrides(assumptions, f"{source}: assumptions")
    earn = model.earn or EarnEntry()
    triggers = []
    for i, trigger in enumerate(model.triggers or ()):
        tname, labels = _english_and_others(trigger.name)
        if trigger.name is None:  # unnamed: "trigger 2" in every page language
            tname = text("loyalty.trigger.default_name", DEFAULT_LANGUAGE, number=i + 1)
            labels = {
                lang: text("loyalty.trigger.default_name", lang, number=i + 1)
                for lang in LANGUAGES if lang != DEFAULT_LANGUAGE
            }
        triggers.append(Trigger(name=tname, labels=labels, **trigger.when.model_dump(), **trigger.reward.model_dump()))
    return Design(
        name=name,
        description=description,
        descriptions=descriptions,
        names=names,
        gross_margin=model.gross_margin,
        earn=Earn(
            points_per_currency=earn.points_per_currency,
            **{key: getattr(earn, key) or {} for key in ("channel_multipliers", "category_multipliers", "channel_mix", "category_mix")},
            activities=tuple(Activity(str(k), a.points, a.monthly_cap) for k, a in (earn.activities or {}).items()),
        ),
        burn=model.burn,
        levels=levels,
        triggers=tuple(triggers),
        costs=model.costs or Costs(),
        assumptions=assumptions,
        source=source,
        has_tiers=model.tiers is not None,
        **options,
    )


def load_design(path: str | Path) -> Design:
    """Read and validate one design file (YAML)."""
    return design_from_mapping(read_yaml(Path(path), "design file"), str(path))


def load_designs(paths: list[str | Path] | tuple[str | Path, ...]) -> list[Design]:
    """Read several design files; names and file stems must be unique."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    if not paths:
        raise ConfigError("design_files is empty: list at least one design YAML file (see playbooks/designs/)")
    designs = [load_design(p) for p in paths]
    seen: dict[str, str] = {}
    for d in designs:
        for key in (d.name, d.slug):
            if key in seen and seen[key] != d.source:
                raise ConfigError(f"{d.source}: name {key!r} is also used by {seen[key]}; give each design its own name")
            seen[key] = d.source
    for lang in LANGUAGES:  # pages in every language tell the designs apart
        shown: dict[str, str] = {}
        for d in designs:
            key = d.display_name(lang)
            if key in shown and shown[key] != d.source:
                raise ConfigError(
                    f"{d.source}: name {key!r} ({lang}) is also used by {shown[key]}; give each design its own name"
                )
            shown[key] = d.source
    return designs
