"""Trigger rules: the YAML a marketer writes (``playbooks/triggers.yaml``), validated on load.

Every problem is a :class:`~helpers.errors.ConfigError` naming the file, the key path
(``rules[2].k``) and the value, and saying what is allowed. The file's header comment
documents every field.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    Field,
    create_model,
    field_validator,
    model_validator,
)

from helpers.errors import (
    MISSING,
    ConfigError,
    ConfigModel,
    check_kind_keys,
    located,
    validate_config,
)
from helpers.files import read_yaml
from helpers.report.i18n import Text, normalise_language

KINDS: dict[str, dict[str, tuple[type, float, float, Any]]] = {
    # kind -> its own fields: (type, low, high, default)
    "due": {"k": (float, 0.1, 20, 1.2)},
    "birthday": {"days_before": (int, 0, 60, 3)},
    "weekday_affinity": {"min_share": (float, 0.15, 1.0, 0.5), "min_purchase_days": (int, 2, 1000, 3)},
    "weather": {"min_rain_mm": (float, 0.0, 500, 0.0), "min_temperature_c": (float, -60, 60, -60.0),
                "max_temperature_c": (float, -60, 60, 60.0), "min_online_share": (float, 0.0, 1.0, 0.5),
                "send_hour": (int, 0, 23, 8)},
    "near_store": {"no_store_visit_days": (int, 0, 3650, 60)},
    "sleeping": {"days": (int, 1, 3650, 120)},
}
GUARDS = ("min_p_alive", "max_p_alive", "clv_tiers", "max_discount")
CLV_TIERS = ("high", "mid", "low")
SETTINGS: dict[str, tuple[type, float, float, Any]] = {
    "hit_days": (int, 1, 90, 7), "cap_days": (int, 7, 365, 14), "max_per_week": (int, 1, 50, 2),
    "margin_rate": (float, 0.0, 1.0, 0.3),
}
DEFAULT_FILE = "playbooks/triggers.yaml"


@dataclass(frozen=True)
class Guards:
    min_p_alive: float = 0.0
    max_p_alive: float = 1.0
    clv_tiers: tuple[str, ...] = CLV_TIERS
    max_discount: float = math.inf


@dataclass(frozen=True)
class Rule:
    id: str
    names: dict[str, str]
    kind: str
    params: dict[str, Any]
    offer: float = 0.0
    guards: Guards = field(default_factory=Guards)

    def name(self, language: str = "en") -> str:
        return self.names.get(normalise_language(language), self.names["en"])


@dataclass(frozen=True)
class Settings:
    hit_days: int = 7
    cap_days: int = 14
    max_per_week: int = 2
    quiet_hours: tuple[int, int] = (22, 8)
    margin_rate: float = 0.3

    def quiet(self, hour: Any) -> Any:
        """True for hours inside the quiet window (which may wrap past midnight)."""
        start, end = self.quiet_hours
        if start == end:
            return np.zeros(np.shape(hour), bool)  # no quiet hours
        return (hour >= start) | (hour < end) if start > end else (hour >= start) & (hour < end)


@dataclass(frozen=True)
class TriggerConfig:
    settings: Settings
    rules: tuple[Rule, ...]
    source: str = "<dict>"


def _bounded(spec: tuple[type, float, float, Any]) -> Any:
    kind, low, high, _ = spec
    return Annotated[kind, Field(ge=low, le=high, allow_inf_nan=False)] | None


def _rule_id(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_]+", value):
        raise ValueError("use letters, digits and _")
    return value


def _hours(value: list[int]) -> list[int]:
    if len(value) != 2:
        raise ValueError("give [from, to] hours, e.g. [22, 8]")
    return value


class GuardsEntry(ConfigModel):
    """Value guards of a rule: who may receive it."""

    min_p_alive: Annotated[float, Field(ge=0, le=1)] = 0.0  #: BG/NBD P(alive) at least (2+ purchase days only)
    max_p_alive: Annotated[float, Field(ge=0, le=1)] = 1.0  #: BG/NBD P(alive) at most (2+ purchase days only)
    clv_tiers: Annotated[list[Literal["high", "mid", "low"]], Field(min_length=1)] = CLV_TIERS
    max_discount: Annotated[float, Field(ge=0, le=1)] | None = None  #: offer / usual spend per purchase day, at most

    @model_validator(mode="after")
    def _band(self) -> GuardsEntry:
        if self.min_p_alive > self.max_p_alive:
            raise located("min_p_alive", self.min_p_alive, f"is above max_p_alive ({self.max_p_alive})")
        return self


#: Every kind's own fields (each name belongs to one kind), bounded as :data:`KINDS` says.
_OWN_FIELDS: dict[str, Any] = {name: (_bounded(spec), None) for own in KINDS.values() for name, spec in own.items()}


class _RuleBase(ConfigModel):
    id: Annotated[str, AfterValidator(_rule_id)]  #: letters, digits and _
    name: Text | None = None  #: text, or {en: ..., zh-CN: ...} (en required); the id when left out
    kind: Literal["due", "birthday", "weekday_affinity", "weather", "near_store", "sleeping"]
    offer: Annotated[float, Field(ge=0, le=10_000)] = 0.0  #: coupon value in CNY (0: a message without a coupon)
    guards: GuardsEntry | None = None

    @model_validator(mode="before")
    @classmethod
    def _kind_fields(cls, data: Any) -> Any:
        if isinstance(data, dict):
            check_kind_keys(data, KINDS, ("id", "name", "kind", "offer", "guards"), "rule")
        return data

    @model_validator(mode="after")
    def _checks(self) -> RuleEntry:
        if isinstance(self.name, dict) and "en" not in self.name:
            raise located("name", self.name, "give the English text too: {en: ..., zh-CN: ...}")
        if self.kind == "weather":
            p = self.params()
            if p["min_temperature_c"] > p["max_temperature_c"]:
                raise located("min_temperature_c", p["min_temperature_c"],
                              f"is above max_temperature_c ({p['max_temperature_c']})")
            if (p["min_rain_mm"], p["min_temperature_c"], p["max_temperature_c"]) == (0.0, -60.0, 60.0):
                raise located("min_rain_mm", MISSING, "a weather rule needs min_rain_mm, min_temperature_c or max_temperature_c")
        return self

    def params(self) -> dict[str, Any]:
        """The kind's own fields, defaults filled in."""
        return {k: spec[0](spec[3] if getattr(self, k) is None else getattr(self, k)) for k, spec in KINDS[self.kind].items()}


#: One trigger rule: the common keys and its kind's own fields (:data:`KINDS`).
RuleEntry = create_model("RuleEntry", __base__=_RuleBase, __doc__="One trigger rule.", **_OWN_FIELDS)


class SettingsEntry(ConfigModel):
    """Settings that apply to every rule."""

    hit_days: _bounded(SETTINGS["hit_days"]) = None  #: a purchase within this many days after the trigger is a hit
    cap_days: _bounded(SETTINGS["cap_days"]) = None  #: per rule, at most once per customer in this many days
    max_per_week: _bounded(SETTINGS["max_per_week"]) = None  #: over all rules, messages per customer per week
    quiet_hours: Annotated[list[Annotated[int, Field(ge=0, le=23)]], AfterValidator(_hours)] | None = None
    margin_rate: _bounded(SETTINGS["margin_rate"]) = None  #: gross margin on spend


class TriggersFile(ConfigModel):
    """``playbooks/triggers.yaml``: settings and the rules (see the file's header)."""

    settings: SettingsEntry | None = None
    rules: list[RuleEntry]  # type: ignore[valid-type]

    @field_validator("rules")
    @classmethod
    def _some(cls, rules: list) -> list:
        if not rules:
            raise ValueError(f"needs at least one rule (see {DEFAULT_FILE})")
        return rules

    @model_validator(mode="after")
    def _unique(self) -> TriggersFile:
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            if rule.id in seen:
                raise located(f"rules[{i}].id", rule.id, "another rule has the same id")
            seen.add(rule.id)
        return self


def parse_rules(data: Any, source: str = "<dict>") -> TriggerConfig:
    """Validate a parsed YAML document (:class:`TriggersFile`; see the header of ``playbooks/triggers.yaml``);
    a problem is one :class:`ConfigError` line ``source: key.path = value: what is wrong``."""
    model = validate_config(TriggersFile, data, source)
    raw_settings = model.settings.model_dump(exclude_none=True) if model.settings else {}
    settings = {k: SETTINGS[k][0](v) for k, v in raw_settings.items() if k in SETTINGS}
    if "quiet_hours" in raw_settings:
        settings["quiet_hours"] = tuple(raw_settings["quiet_hours"])
    rules = []
    for entry in model.rules:  # a few rules
        names = {"en": entry.id} if entry.name is None else entry.name
        names = {"en": names} if isinstance(names, str) else dict(names)
        g = entry.guards or GuardsEntry()
        guards = Guards(min_p_alive=g.min_p_alive, max_p_alive=g.max_p_alive, clv_tiers=tuple(g.clv_tiers),
                        max_discount=math.inf if g.max_discount is None else g.max_discount)
        rules.append(Rule(id=entry.id, names=names, kind=entry.kind, params=entry.params(), offer=entry.offer, guards=guards))
    return TriggerConfig(Settings(**settings), tuple(rules), source)


def load_rules(path: str | os.PathLike[str] = DEFAULT_FILE) -> TriggerConfig:
    """Read and validate a trigger-rules file."""
    file = Path(path)
    if not file.is_absolute() and not file.exists():
        candidate = Path(__file__).resolve().parents[4] / file
        if candidate.exists():
            file = candidate
    if not file.exists():
        raise ConfigError(f"trigger rules file not found: {path} (the example is {DEFAULT_FILE}).")
    return parse_rules(read_yaml(file, "trigger rules file", str(path)), str(path))
