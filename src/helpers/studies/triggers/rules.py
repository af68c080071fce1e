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
from typing import Any

import numpy as np
import yaml

from helpers.errors import ConfigError
from helpers.report.i18n import LANGUAGES, normalise_language

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


def _number(value: Any, where: str, kind: type, low: float, high: float) -> Any:
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if ok and kind is int:
        ok = float(value).is_integer()
    if not ok or not low <= value <= high:
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{where} = {value!r}: must be {what} from {low:g} to {high:g}.")
    return kind(value)


def _names(value: Any, where: str) -> dict[str, str]:
    if isinstance(value, str) and value.strip():
        return {"en": value.strip()}
    if isinstance(value, dict) and isinstance(value.get("en"), str) and value["en"].strip():
        unknown = [k for k in value if k not in LANGUAGES]
        if unknown:
            raise ConfigError(f"{where}: unknown language(s) {unknown}; use {list(LANGUAGES)}.")
        return {k: str(v).strip() for k, v in value.items()}
    raise ConfigError(f"{where} = {value!r}: give a text or {{en: ..., zh-CN: ...}} (en required).")


def _guards(value: Any, where: str) -> Guards:
    if value is None:
        return Guards()
    if not isinstance(value, dict):
        raise ConfigError(f"{where} = {value!r}: must be a mapping of {', '.join(GUARDS)}.")
    unknown = [k for k in value if k not in GUARDS]
    if unknown:
        raise ConfigError(f"{where}: unknown guard(s) {unknown}; use some of {list(GUARDS)}.")
    out: dict[str, Any] = {}
    for key in ("min_p_alive", "max_p_alive"):
        if key in value:
            out[key] = _number(value[key], f"{where}.{key}", float, 0.0, 1.0)
    if out.get("min_p_alive", 0.0) > out.get("max_p_alive", 1.0):
        raise ConfigError(f"{where}: min_p_alive ({out['min_p_alive']}) is above max_p_alive ({out['max_p_alive']}).")
    if "clv_tiers" in value:
        tiers = value["clv_tiers"]
        if not isinstance(tiers, list) or not tiers or any(t not in CLV_TIERS for t in tiers):
            raise ConfigError(f"{where}.clv_tiers = {tiers!r}: must be a non-empty list of {list(CLV_TIERS)}.")
        out["clv_tiers"] = tuple(tiers)
    if "max_discount" in value:
        out["max_discount"] = _number(value["max_discount"], f"{where}.max_discount", float, 0.0, 1.0)
    return Guards(**out)


def parse_rules(data: Any, source: str = "<dict>") -> TriggerConfig:
    """Validate a parsed YAML document (see the header of ``playbooks/triggers.yaml``)."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list) or not data["rules"]:
        raise ConfigError(f"{source}: needs a list 'rules' with at least one rule (see {DEFAULT_FILE}).")
    unknown = [k for k in data if k not in ("settings", "rules")]
    if unknown:
        raise ConfigError(f"{source}: unknown top-level key(s) {unknown}; use settings and rules.")
    raw_settings = data.get("settings") or {}
    if not isinstance(raw_settings, dict):
        raise ConfigError(f"{source}: settings = {raw_settings!r} must be a mapping.")
    bad = [k for k in raw_settings if k not in (*SETTINGS, "quiet_hours")]
    if bad:
        raise ConfigError(f"{source}: settings has unknown key(s) {bad}; use {[*SETTINGS, 'quiet_hours']}.")
    settings = {k: _number(raw_settings[k], f"{source}: settings.{k}", *spec[:3])
                for k, spec in SETTINGS.items() if k in raw_settings}
    if "quiet_hours" in raw_settings:
        q = raw_settings["quiet_hours"]
        if not isinstance(q, list) or len(q) != 2:
            raise ConfigError(f"{source}: settings.quiet_hours = {q!r}: give [from, to] hours, e.g. [22, 8].")
        settings["quiet_hours"] = tuple(_number(h, f"{source}: settings.quiet_hours", int, 0, 23) for h in q)
    rules, seen = [], set()
    for i, raw in enumerate(data["rules"]):  # a few rules
        where = f"{source}: rules[{i}]"
        if not isinstance(raw, dict):
            raise ConfigError(f"{where} = {raw!r}: each rule is a mapping with id, name, kind.")
        rid = raw.get("id")
        if not isinstance(rid, str) or not re.fullmatch(r"[A-Za-z0-9_]+", rid):
            raise ConfigError(f"{where}.id = {rid!r}: use letters, digits and _.")
        if rid in seen:
            raise ConfigError(f"{where}.id = {rid!r}: another rule has the same id.")
        seen.add(rid)
        kind = raw.get("kind")
        if kind not in KINDS:
            raise ConfigError(f"{where}.kind = {kind!r}: use one of {list(KINDS)}.")
        own = KINDS[kind]
        allowed = {"id", "name", "kind", "offer", "guards", *own}
        extra = [k for k in raw if k not in allowed]
        if extra:
            raise ConfigError(f"{where}: unknown key(s) {extra} for kind {kind}; use {sorted(allowed)}.")
        params = {k: _number(raw.get(k, spec[3]), f"{where}.{k}", *spec[:3]) for k, spec in own.items()}
        if kind == "weather" and params["min_temperature_c"] > params["max_temperature_c"]:
            raise ConfigError(f"{where}: min_temperature_c ({params['min_temperature_c']}) is above "
                              f"max_temperature_c ({params['max_temperature_c']}).")
        if kind == "weather" and params == {**params, "min_rain_mm": 0.0, "min_temperature_c": -60.0,
                                            "max_temperature_c": 60.0}:
            raise ConfigError(f"{where}: a weather rule needs min_rain_mm, min_temperature_c or max_temperature_c.")
        rules.append(Rule(
            id=rid, names=_names(raw.get("name", rid), f"{where}.name"), kind=kind, params=params,
            offer=_number(raw.get("offer", 0), f"{where}.offer", float, 0.0, 10_000.0),
            guards=_guards(raw.get("guards"), f"{where}.guards"),
        ))
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
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{at}: {getattr(err, 'problem', err)}") from None
    return parse_rules(data, str(path))
