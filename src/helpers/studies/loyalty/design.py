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

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from helpers.errors import ConfigError
from helpers.report.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    catalog,
    normalise_language,
    text,
)

REDEEM_MODES = ("all_blocks", "one_block")
TRIGGER_CONDITIONS = ("purchases_in_month", "spend_in_month")
TRIGGER_REWARDS = ("bonus_points", "coupon_value", "free_shipping_next_month", "cost")


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


@dataclass(frozen=True)
class Burn:
    point_value: float
    redemption_threshold: float
    redeem: str = "all_blocks"
    expiry_months: int | None = None
    reward_cost_ratio: float = 1.0


@dataclass(frozen=True)
class Benefits:
    discount_pct: float = 0.0
    free_shipping: bool = False
    free_returns: bool = False
    birthday_double_points: bool = False
    early_access: bool = False
    points_multiplier: float = 1.0
    cost_per_member_month: float = 0.0

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
class Tiers:
    levels: tuple[Tier, ...]
    window_months: int = 12
    retain_fraction: float = 1.0
    demotion_review_months: int = 1


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
class Costs:
    fixed_setup: float = 0.0
    fixed_per_month: float = 0.0
    per_member_month: float = 0.0
    per_new_member: float = 0.0
    shipping_cost_per_order: float = 0.0
    shipped_order_share: float = 1.0
    return_cost_per_order: float = 0.0
    early_access_cost_per_member_month: float = 0.0


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


class _Reader:
    """Walks a parsed YAML mapping and raises ConfigError naming file, key path and value."""

    def __init__(self, shown: str) -> None:
        self.shown = shown

    def error(self, path: str, value: Any, message: str) -> ConfigError:
        where = f"{self.shown}: {path}" if path else self.shown
        if value is _MISSING:
            return ConfigError(f"{where} is missing: {message}")
        return ConfigError(f"{where} = {value!r}: {message}")

    def mapping(self, value: Any, path: str, allowed: tuple[str, ...] | None) -> dict:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise self.error(path, value, "expected a mapping of keys to values")
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise self.error(path, value, f"key {bad[0]!r} is not text")
        if allowed is not None:
            unknown = sorted(set(value) - set(allowed))
            if unknown:
                key = unknown[0]
                sub = f"{path}.{key}" if path else key
                raise self.error(sub, value[key], f"unknown key; allowed keys here: {', '.join(allowed)}")
        return dict(value)

    def number(
        self,
        data: Mapping,
        key: str,
        path: str,
        *,
        default: Any = None,
        required: bool = False,
        low: float | None = None,
        high: float | None = None,
        low_open: bool = False,
        integer: bool = False,
        allow_null: bool = False,
    ) -> Any:
        full = f"{path}.{key}" if path else key
        if key not in data:
            if required:
                raise self.error(full, _MISSING, _range_text(low, high, low_open, integer))
            return default
        value = data[key]
        if value is None and allow_null:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.error(full, value, "expected " + _range_text(low, high, low_open, integer))
        if integer and float(value) != int(value):
            raise self.error(full, value, "expected " + _range_text(low, high, low_open, integer))
        if (low is not None and (value < low or (low_open and value == low))) or (high is not None and value > high):
            raise self.error(full, value, "expected " + _range_text(low, high, low_open, integer))
        return int(value) if integer else float(value)

    def boolean(self, data: Mapping, key: str, path: str, default: bool = False) -> bool:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, bool):
            raise self.error(f"{path}.{key}", value, "expected true or false")
        return value

    def text(self, data: Mapping, key: str, path: str, *, required: bool = False, default: str = "") -> str:
        full = f"{path}.{key}" if path else key
        if key not in data or data[key] is None:
            if required:
                raise self.error(full, _MISSING, "expected text")
            return default
        value = data[key]
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise self.error(full, value, "expected text")
        return str(value).strip()

    def localised(
        self, data: Mapping, key: str, path: str, *, required: bool = False, default: str = ""
    ) -> tuple[str, dict]:
        """Text, or one text per page language (``{en: ..., zh-CN: ...}``): the English text and
        the other languages' texts."""
        full = f"{path}.{key}" if path else key
        value = data.get(key)
        if not isinstance(value, Mapping):
            return self.text(data, key, path, required=required, default=default), {}
        allowed = ", ".join(LANGUAGES)
        if not value:
            raise self.error(full, value, f"expected text or one text per language ({allowed})")
        out: dict[str, str] = {}
        for lang, item in value.items():
            if lang not in LANGUAGES:
                raise self.error(
                    f"{full}.{lang}", item, f"unknown language; use {allowed} (e.g. {{en: Gold, zh-CN: 金卡}})"
                )
            out[lang] = self.text(value, lang, full, required=True)
            if not out[lang]:
                raise self.error(f"{full}.{lang}", item, "expected non-empty text")
        if DEFAULT_LANGUAGE not in out:
            raise self.error(
                f"{full}.{DEFAULT_LANGUAGE}", _MISSING,
                f"give the {DEFAULT_LANGUAGE} text too (it names the design in files and messages)",
            )
        english = out.pop(DEFAULT_LANGUAGE)
        return english, out

    def multipliers(self, data: Mapping, key: str, path: str, *, shares: bool = False) -> dict:
        full = f"{path}.{key}"
        raw = self.mapping(data.get(key), full, None)
        out = {}
        for name, value in raw.items():
            out[str(name)] = self.number(raw, name, full, low=0.0, high=1.0 if shares else None)
        if shares and out and abs(sum(out.values()) - 1.0) > 1e-6:
            raise self.error(full, raw, f"shares must add up to 1 (they add up to {sum(out.values()):g})")
        return out


class _Missing:
    def __repr__(self) -> str:  # pragma: no cover - never shown
        return "<missing>"


_MISSING = _Missing()


def _range_text(low: float | None, high: float | None, low_open: bool, integer: bool) -> str:
    kind = "a whole number" if integer else "a number"
    if low is not None and high is not None:
        return f"{kind} {'>' if low_open else '>='} {low:g} and <= {high:g}"
    if low is not None:
        return f"{kind} {'>' if low_open else '>='} {low:g}"
    return kind


TOP_KEYS = (
    "name", "description", "gross_margin", "earn", "burn", "member_benefits", "tiers", "triggers", "costs",
    "assumptions",
)
EARN_KEYS = (
    "points_per_currency", "channel_multipliers", "category_multipliers", "channel_mix", "category_mix", "activities",
)
BURN_KEYS = ("point_value", "redemption_threshold", "redeem", "expiry_months", "reward_cost_ratio")
BENEFIT_KEYS = (
    "discount_pct", "free_shipping", "free_returns", "birthday_double_points", "early_access", "points_multiplier",
    "cost_per_member_month",
)
TIERS_KEYS = ("window_months", "retain_fraction", "demotion_review_months", "levels")
LEVEL_KEYS = ("name", "qualify_spend", "qualify_visits", "benefits")
TRIGGER_KEYS = ("name", "when", "reward")
COST_KEYS = tuple(Costs.__dataclass_fields__)


def _benefits(r: _Reader, raw: Any, path: str) -> Benefits:
    data = r.mapping(raw, path, BENEFIT_KEYS)
    return Benefits(
        discount_pct=r.number(data, "discount_pct", path, default=0.0, low=0.0, high=100.0),
        free_shipping=r.boolean(data, "free_shipping", path),
        free_returns=r.boolean(data, "free_returns", path),
        birthday_double_points=r.boolean(data, "birthday_double_points", path),
        early_access=r.boolean(data, "early_access", path),
        points_multiplier=r.number(data, "points_multiplier", path, default=1.0, low=0.0),
        cost_per_member_month=r.number(data, "cost_per_member_month", path, default=0.0, low=0.0),
    )


def _earn(r: _Reader, raw: Any) -> Earn:
    data = r.mapping(raw, "earn", EARN_KEYS)
    acts_raw = r.mapping(data.get("activities"), "earn.activities", None)
    activities = []
    for name, spec in acts_raw.items():
        path = f"earn.activities.{name}"
        if isinstance(spec, (int, float)) and not isinstance(spec, bool):
            spec = {"points": spec}
        spec = r.mapping(spec, path, ("points", "monthly_cap"))
        activities.append(
            Activity(
                name=str(name),
                points=r.number(spec, "points", path, required=True, low=0.0),
                monthly_cap=r.number(spec, "monthly_cap", path, low=0, integer=True, allow_null=True),
            )
        )
    return Earn(
        points_per_currency=r.number(data, "points_per_currency", "earn", default=1.0, low=0.0),
        channel_multipliers=r.multipliers(data, "channel_multipliers", "earn"),
        category_multipliers=r.multipliers(data, "category_multipliers", "earn"),
        channel_mix=r.multipliers(data, "channel_mix", "earn", shares=True),
        category_mix=r.multipliers(data, "category_mix", "earn", shares=True),
        activities=tuple(activities),
    )


def _burn(r: _Reader, raw: Any) -> Burn:
    if raw is None:
        raise r.error("burn", _MISSING, "every design needs point_value and redemption_threshold")
    data = r.mapping(raw, "burn", BURN_KEYS)
    redeem = r.text(data, "redeem", "burn", default="all_blocks")
    if redeem not in REDEEM_MODES:
        raise r.error("burn.redeem", data.get("redeem"), f"choose one of {', '.join(REDEEM_MODES)}")
    return Burn(
        point_value=r.number(data, "point_value", "burn", required=True, low=0.0),
        redemption_threshold=r.number(data, "redemption_threshold", "burn", required=True, low=0.0, low_open=True),
        redeem=redeem,
        expiry_months=r.number(data, "expiry_months", "burn", low=1, integer=True, allow_null=True),
        reward_cost_ratio=r.number(data, "reward_cost_ratio", "burn", default=1.0, low=0.0),
    )


def _tiers(r: _Reader, raw: Any) -> tuple[tuple[Tier, ...], dict]:
    data = r.mapping(raw, "tiers", TIERS_KEYS)
    levels_raw = data.get("levels")
    if not isinstance(levels_raw, list) or len(levels_raw) < 2:
        raise r.error(
            "tiers.levels", levels_raw if "levels" in data else _MISSING,
            "expected a list of at least two levels, lowest first (e.g. bronze, silver, gold)",
        )
    levels: list[Tier] = []
    names: set[str] = set()
    for i, item in enumerate(levels_raw):
        path = f"tiers.levels[{i}]"
        spec = r.mapping(item, path, LEVEL_KEYS)
        name, labels = r.localised(spec, "name", path, required=True)
        if not name:
            raise r.error(f"{path}.name", spec.get("name"), "expected a non-empty name")
        if name in names:
            raise r.error(f"{path}.name", name, "two levels have this name; names must be unique")
        names.add(name)
        spend = r.number(spec, "qualify_spend", path, low=0.0, allow_null=True)
        visits = r.number(spec, "qualify_visits", path, low=0.0, allow_null=True)
        if i == 0 and (spend or visits):
            raise r.error(
                f"{path}", spec, "the first level is the entry level every member starts in; it takes no qualify_* keys",
            )
        if i > 0 and spend is None and visits is None:
            raise r.error(path, spec, "a level above the first needs qualify_spend and/or qualify_visits")
        levels.append(Tier(name, spend, visits, _benefits(r, spec.get("benefits"), f"{path}.benefits"), labels))
    for key in ("qualify_spend", "qualify_visits"):  # thresholds must rise with the level
        previous, previous_i = 0.0, 0
        for i, level in enumerate(levels[1:], start=1):
            value = getattr(level, key)
            if value is None:
                continue
            if value <= previous and i > 1:
                raise r.error(
                    f"tiers.levels[{i}].{key}", value,
                    f"must be higher than the level below ({levels[previous_i].name}: {previous:g})",
                )
            previous, previous_i = value, i
    options = {
        "window_months": r.number(data, "window_months", "tiers", default=12, low=1, high=36, integer=True),
        "retain_fraction": r.number(data, "retain_fraction", "tiers", default=1.0, low=0.0, high=1.0),
        "demotion_review_months": r.number(
            data, "demotion_review_months", "tiers", default=1, low=1, high=36, integer=True,
        ),
    }
    return tuple(levels), options


def _triggers(r: _Reader, raw: Any) -> tuple[Trigger, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise r.error("triggers", raw, "expected a list of triggers")
    out = []
    for i, item in enumerate(raw):
        path = f"triggers[{i}]"
        spec = r.mapping(item, path, TRIGGER_KEYS)
        when = r.mapping(spec.get("when"), f"{path}.when", TRIGGER_CONDITIONS)
        if len(when) != 1:
            raise r.error(
                f"{path}.when", spec.get("when", _MISSING),
                f"give exactly one condition: {' or '.join(TRIGGER_CONDITIONS)}",
            )
        reward = r.mapping(spec.get("reward"), f"{path}.reward", TRIGGER_REWARDS)
        if not reward:
            raise r.error(f"{path}.reward", spec.get("reward", _MISSING), f"give a reward: {', '.join(TRIGGER_REWARDS)}")
        name, labels = r.localised(spec, "name", path)
        if not name:  # unnamed: "trigger 2" in every page language
            name = text("loyalty.trigger.default_name", DEFAULT_LANGUAGE, number=i + 1)
            labels = {
                lang: text("loyalty.trigger.default_name", lang, number=i + 1)
                for lang in LANGUAGES if lang != DEFAULT_LANGUAGE
            }
        out.append(
            Trigger(
                name=name,
                labels=labels,
                purchases_in_month=r.number(when, "purchases_in_month", f"{path}.when", low=1, integer=True),
                spend_in_month=r.number(when, "spend_in_month", f"{path}.when", low=0.0, low_open=True),
                bonus_points=r.number(reward, "bonus_points", f"{path}.reward", default=0.0, low=0.0),
                coupon_value=r.number(reward, "coupon_value", f"{path}.reward", default=0.0, low=0.0),
                free_shipping_next_month=r.boolean(reward, "free_shipping_next_month", f"{path}.reward"),
                cost=r.number(reward, "cost", f"{path}.reward", default=0.0, low=0.0),
            )
        )
    return tuple(out)


def _costs(r: _Reader, raw: Any) -> Costs:
    data = r.mapping(raw, "costs", COST_KEYS)
    values = {}
    for key in COST_KEYS:
        high = 1.0 if key == "shipped_order_share" else None
        default = Costs.__dataclass_fields__[key].default
        values[key] = r.number(data, key, "costs", default=default, low=0.0, high=high)
    return Costs(**values)


def design_from_mapping(raw: Any, source: str = "the design") -> Design:
    """Validate a parsed design (a dict as read from YAML); ``source`` names it in errors."""
    r = _Reader(source)
    data = r.mapping(raw, "", TOP_KEYS)
    if not data:
        raise ConfigError(f"{source}: the design is empty; see playbooks/designs/ for examples")
    name, names = r.localised(data, "name", "", required=True)
    if not name:
        raise r.error("name", data.get("name"), "expected a non-empty name")
    description, descriptions = r.localised(data, "description", "")
    gm = r.number(data, "gross_margin", "", low=0.0, high=1.0, low_open=True, allow_null=True)
    if "tiers" in data and data["tiers"] is not None:
        if "member_benefits" in data:
            raise r.error(
                "member_benefits", data["member_benefits"],
                "a design with tiers gives benefits per level; put these under the first level's benefits",
            )
        levels, options = _tiers(r, data["tiers"])
        has_tiers = True
    else:
        levels = (Tier("member", benefits=_benefits(r, data.get("member_benefits"), "member_benefits")),)
        options, has_tiers = {}, False
    assumptions = r.mapping(data.get("assumptions"), "assumptions", None)
    if assumptions:
        from helpers.studies.loyalty.assumptions import check_overrides

        assumptions = check_overrides(assumptions, f"{source}: assumptions")
    return Design(
        name=name,
        description=description,
        descriptions=descriptions,
        names=names,
        gross_margin=gm,
        earn=_earn(r, data.get("earn")),
        burn=_burn(r, data.get("burn")),
        levels=levels,
        triggers=_triggers(r, data.get("triggers")),
        costs=_costs(r, data.get("costs")),
        assumptions=assumptions,
        source=source,
        has_tiers=has_tiers,
        **options,
    )


def load_design(path: str | Path) -> Design:
    """Read and validate one design file (YAML)."""
    path = Path(path)
    shown = str(path)
    if not path.is_file():
        raise ConfigError(f"design file not found: {shown}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{shown}: not valid YAML{at}: {err.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{shown}: cannot be read: {err}") from None
    return design_from_mapping(raw, shown)


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
