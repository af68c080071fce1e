"""The action library, offer guardrails and activation lists.

The **action library** (``playbooks/actions.yaml``) pairs every segment of the segment
map with what to do about it: objective, actions, channels, an offer policy, trigger,
timing, KPIs and what not to do. It is validated against the map on load
(:func:`load_action_library`): a segment the map does not know, a segment of the map
without an entry, and a missing or unknown field are :class:`ConfigError` messages
naming the file and the segment.

**Offer guardrail.** A discount is margin given away, so its depth (share of the order
value) is bounded three ways and the smallest bound wins (:func:`offer_guardrail`):

- the library's policy cap for the segment (``offer.max_depth``);
- a share of the gross margin (``policy.max_share_of_margin`` x gross margin): never
  sell at a loss, nor close to it;
- the segment's predicted value: the incentives of one customer over the CLV horizon
  may cost at most ``offer.clv_share`` of their predicted CLV (gross margin), spread
  over ``offer.offers`` offers on orders of the expected size
  (``clv_share x CLV / (offers x expected order value)``).

**Activation lists** (:func:`activation_table`, :func:`write_activation_files`) are one
CSV per segment for a CRM import, ids pseudonymised unless raw ids are allowed.

**Languages.** Every text of the library (objective, actions, channels, offer note,
trigger, timing, KPIs, what to avoid, tier plays, name, description) is either the text
itself or a mapping by page language, ``{en: ..., zh-CN: ...}``, lists per language
(:func:`helpers.studies.segments.analysis.localised_text`). :func:`load_action_library` returns the
library in English; :meth:`ActionLibrary.localised` gives it in another language with
the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.data.columns import CUSTOMER_ID
from helpers.data.privacy import display_ids
from helpers.errors import ConfigError, HelperError
from helpers.files import write_text_atomic
from helpers.report.i18n import DEFAULT_LANGUAGE, LANGUAGES, normalise_language
from helpers.studies.segments.analysis import (
    TIER_VIEWS,
    SegmentMap,
    localised_text,
    optional_localised_text,
    read_yaml,
)

#: Fields every segment entry must have, in the order pages show them.
PLAYBOOK_FIELDS = ("objective", "actions", "channels", "offer", "trigger", "timing", "kpis", "avoid")
OFFER_FIELDS = ("max_depth", "clv_share", "offers")
OFFER_OPTIONAL = ("note",)
TIER_FIELDS = ("objective", "actions")
TOP_KEYS = {"name", "description", "policy", "segments", "tiers"}
POLICY_KEYS = {"max_share_of_margin"}
DEFAULT_MAX_SHARE_OF_MARGIN = 0.5

@dataclass(frozen=True)
class Offer:
    max_depth: float  #: policy cap on discount depth, share of the order value
    clv_share: float  #: share of predicted CLV (margin) incentives may cost per customer
    offers: int  #: incentives per customer over the CLV horizon
    note: str = ""


@dataclass(frozen=True)
class Playbook:
    key: str
    objective: str
    actions: tuple[str, ...]
    channels: tuple[str, ...]
    offer: Offer
    trigger: str
    timing: str
    kpis: tuple[str, ...]
    avoid: tuple[str, ...]


@dataclass(frozen=True)
class TierPlay:
    objective: str
    actions: tuple[str, ...]


@dataclass(frozen=True)
class ActionLibrary:
    """A validated action library; its texts are in ``language`` (see :meth:`localised`)."""

    path: str
    name: str
    description: str
    max_share_of_margin: float
    playbooks: dict[str, Playbook]
    #: view ("value_growth", "clv", "lifecycle") -> tier key -> what to do; views the file leaves out are absent.
    tiers: dict[str, dict[str, TierPlay]]
    language: str = DEFAULT_LANGUAGE
    #: The same library in every language, by language code (shared by all of them).
    versions: dict[str, "ActionLibrary"] = field(default_factory=dict, repr=False, compare=False)

    def __getitem__(self, key: str) -> Playbook:
        return self.playbooks[key]

    def localised(self, language: str) -> "ActionLibrary":
        """This library with its texts in ``language`` (itself when it has no other versions)."""
        return self.versions.get(normalise_language(language), self)


# ------------------------------------------------------------------------ loading


def _text(value: Any, where: str) -> dict[str, str]:
    """A text by page language."""
    return localised_text(value, where)


def _texts(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """A non-empty list of texts by page language."""
    return localised_text(value, where, many=True)


def _fraction(value: Any, where: str, *, allow_zero: bool = True) -> float:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not ((0 <= value) if allow_zero else (0 < value)) or value > 1:
        low = "0" if allow_zero else "above 0"
        raise ConfigError(f"{where} must be a fraction from {low} to 1 (0.1 = 10%), got {value!r}")
    return float(value)


def _check_fields(entry: Any, required: tuple[str, ...], optional: tuple[str, ...], where: str) -> None:
    if not isinstance(entry, dict):
        raise ConfigError(f"{where}: expected a mapping with {', '.join(required)}")
    missing = [f for f in required if f not in entry]
    if missing:
        raise ConfigError(f"{where}: missing field{'s' if len(missing) > 1 else ''} {', '.join(missing)}")
    unknown = sorted(set(map(str, entry)) - set(required) - set(optional))
    if unknown:
        raise ConfigError(
            f"{where}: unknown field {', '.join(map(repr, unknown))} (fields: {', '.join(required + optional)})"
        )


def _offer(entry: Any, where: str) -> dict[str, Offer]:
    """The offer by page language (only its note differs)."""
    _check_fields(entry, OFFER_FIELDS, OFFER_OPTIONAL, where)
    offers = entry["offers"]
    if not isinstance(offers, int) or isinstance(offers, bool) or offers < 0:
        raise ConfigError(f"{where}.offers must be a whole number of offers per customer (0 for none), got {offers!r}")
    note = entry.get("note", "")
    notes = _text(note, f"{where}.note") if note else {lang: "" for lang in LANGUAGES}
    offer = Offer(
        max_depth=_fraction(entry["max_depth"], f"{where}.max_depth"),
        clv_share=_fraction(entry["clv_share"], f"{where}.clv_share"),
        offers=offers,
    )
    return {lang: replace(offer, note=notes[lang]) for lang in LANGUAGES}


def _playbook(key: str, entry: Any, where: str) -> dict[str, Playbook]:
    """The segment's playbook by page language."""
    _check_fields(entry, PLAYBOOK_FIELDS, (), where)
    offer = _offer(entry["offer"], f"{where}.offer")
    texts = {
        name: (_texts if name in ("actions", "channels", "kpis", "avoid") else _text)(entry[name], f"{where}.{name}")
        for name in PLAYBOOK_FIELDS
        if name != "offer"
    }
    return {
        lang: Playbook(key=key, offer=offer[lang], **{name: by_lang[lang] for name, by_lang in texts.items()})
        for lang in LANGUAGES
    }


def _key_problems(given: list[str], known: list[str], what: str, file_label: str) -> list[str]:
    problems = []
    unknown = [k for k in given if k not in known]
    if unknown:
        problems.append(
            f"unknown {what} {', '.join(map(repr, unknown))} (the {file_label} has: {', '.join(known)})"
        )
    missing = [k for k in known if k not in given]
    if missing:
        problems.append(f"no entry for the {what} {', '.join(map(repr, missing))}")
    return problems


def load_action_library(path: str | Path, segment_map: SegmentMap) -> ActionLibrary:
    """Read the action library and check it against ``segment_map``.

    Format::

        name: Default action library
        policy:
          max_share_of_margin: 0.5   # a discount never costs more than half an order's gross margin
        segments:                    # one entry per segment key of the map
          champions:
            objective: ...
            actions: [...]           # lists of text
            channels: [...]
            offer: {max_depth: 0.05, clv_share: 0.05, offers: 1, note: ...}
            trigger: ...
            timing: ...
            kpis: [...]
            avoid: [...]             # what not to do
        tiers:                       # optional: what to do per tier of the documents' views
          value_growth: {core: {objective: ..., actions: [...]}, potential: ..., ordinary: ..., sleeping: ...}
          clv: {high_value_loyal: ..., growing: ..., potential: ..., churn_risk: ...}
          lifecycle: {new: ..., active: ..., loyal: ..., lapsing: ..., churned: ...}

    Every text may instead be a mapping by page language (lists per language)::

        objective: {en: Secure the second purchase., zh-CN: 促成第二次购买。}
        actions:
          en: [...]
          zh-CN: [...]

    A language left out uses the English text. The library returned is in English; see
    :meth:`ActionLibrary.localised`.
    """
    raw, shown = read_yaml(Path(path), "action library")
    if not isinstance(raw, dict) or "segments" not in raw:
        raise ConfigError(f"{shown}: expected a mapping with a 'segments' mapping (and optional name, description, policy, tiers)")
    unknown = sorted(set(map(str, raw)) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{shown}: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(TOP_KEYS))})")

    policy = raw.get("policy") or {}
    if not isinstance(policy, dict):
        raise ConfigError(f"{shown}: 'policy' must be a mapping such as {{max_share_of_margin: 0.5}}")
    unknown = sorted(set(map(str, policy)) - POLICY_KEYS)
    if unknown:
        raise ConfigError(f"{shown}: policy: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(POLICY_KEYS)})")
    share = _fraction(
        policy.get("max_share_of_margin", DEFAULT_MAX_SHARE_OF_MARGIN), f"{shown}: policy.max_share_of_margin",
        allow_zero=False,
    )

    segments_raw = raw["segments"]
    if not isinstance(segments_raw, dict) or not segments_raw:
        raise ConfigError(f"{shown}: 'segments' must map each segment key of {segment_map.path} to its playbook")
    given = [str(k) for k in segments_raw]
    problems = _key_problems(given, segment_map.keys, "segment", f"segment map {segment_map.path}")
    if problems:
        raise ConfigError(f"{shown}: segments: " + "; ".join(problems))
    playbooks = {
        key: _playbook(key, segments_raw[key], f"{shown}: segments.{key}") for key in segment_map.keys
    }  # key -> language -> playbook

    tiers_raw = raw.get("tiers") or {}
    if not isinstance(tiers_raw, dict):
        raise ConfigError(f"{shown}: 'tiers' must be a mapping of view ({', '.join(TIER_VIEWS)}) to tiers")
    unknown = sorted(set(map(str, tiers_raw)) - set(TIER_VIEWS))
    if unknown:
        raise ConfigError(f"{shown}: tiers: unknown view {', '.join(map(repr, unknown))} (views: {', '.join(TIER_VIEWS)})")
    tiers: dict[str, dict[str, dict[str, TierPlay]]] = {}  # view -> tier -> language -> play
    for view, entries in tiers_raw.items():
        known = list(TIER_VIEWS[view][1])
        where = f"{shown}: tiers.{view}"
        if not isinstance(entries, dict):
            raise ConfigError(f"{where}: expected a mapping of tier ({', '.join(known)}) to objective and actions")
        problems = _key_problems([str(k) for k in entries], known, "tier", f"'{view}' view")
        if problems:
            raise ConfigError(f"{where}: " + "; ".join(problems))
        plays = {}
        for key in known:
            _check_fields(entries[key], TIER_FIELDS, (), f"{where}.{key}")
            objective = _text(entries[key]["objective"], f"{where}.{key}.objective")
            actions = _texts(entries[key]["actions"], f"{where}.{key}.actions")
            plays[key] = {lang: TierPlay(objective=objective[lang], actions=actions[lang]) for lang in LANGUAGES}
        tiers[str(view)] = plays

    name = optional_localised_text(raw, "name", Path(path).stem, shown)
    description = optional_localised_text(raw, "description", "", shown)
    versions: dict[str, ActionLibrary] = {}
    for lang in LANGUAGES:  # the same library with its texts in each language
        versions[lang] = ActionLibrary(
            path=shown,
            name=name[lang],
            description=description[lang],
            max_share_of_margin=share,
            playbooks={key: by_lang[lang] for key, by_lang in playbooks.items()},
            tiers={view: {key: by_lang[lang] for key, by_lang in plays.items()} for view, plays in tiers.items()},
            language=lang,
            versions=versions,
        )
    return versions[DEFAULT_LANGUAGE]


# ---------------------------------------------------------------------- guardrails


@dataclass(frozen=True)
class Guardrail:
    """The deepest discount a segment's offers may give, and why."""

    max_depth: float  #: share of the order value; nan when the segment is empty
    amount_per_order: float  #: max_depth x order_value
    binding: str  #: "policy", "margin", "clv" or "none" (no offers planned)
    policy_depth: float
    margin_depth: float
    clv_depth: float
    order_value: float  #: expected spend per purchase (Gamma-Gamma), segment mean
    clv_per_customer: float
    budget_per_customer: float  #: clv_share x clv_per_customer
    offers: int


def offer_guardrail(
    offer: Offer,
    *,
    clv_per_customer: float,
    order_value: float,
    gross_margin: float,
    max_share_of_margin: float,
) -> Guardrail:
    """Bound the discount depth of ``offer`` by policy, gross margin and predicted CLV
    (see the module docstring); the smallest bound wins, never below 0."""
    if not 0 < gross_margin <= 1:
        raise ConfigError(f"gross_margin is a fraction of revenue in (0, 1], not {gross_margin!r}.")
    margin_depth = max_share_of_margin * gross_margin
    budget = offer.clv_share * max(clv_per_customer, 0.0) if np.isfinite(clv_per_customer) else float("nan")
    if offer.offers == 0:
        return Guardrail(0.0, 0.0, "none", offer.max_depth, margin_depth, 0.0, order_value, clv_per_customer,
                         budget, 0)
    if not (np.isfinite(order_value) and order_value > 0 and np.isfinite(budget)):
        nan = float("nan")
        return Guardrail(nan, nan, "none", offer.max_depth, margin_depth, nan, order_value, clv_per_customer,
                         budget, offer.offers)
    clv_depth = budget / (offer.offers * order_value)
    bounds = {"policy": offer.max_depth, "margin": margin_depth, "clv": clv_depth}
    binding = min(bounds, key=bounds.__getitem__)  # first of equal bounds: policy, margin, clv
    depth = max(bounds[binding], 0.0)
    return Guardrail(
        max_depth=depth,
        amount_per_order=depth * order_value,
        binding=binding,
        policy_depth=offer.max_depth,
        margin_depth=margin_depth,
        clv_depth=clv_depth,
        order_value=order_value,
        clv_per_customer=clv_per_customer,
        budget_per_customer=budget,
        offers=offer.offers,
    )


def segment_guardrails(summary: pd.DataFrame, library: ActionLibrary, gross_margin: float) -> dict[str, Guardrail]:
    """The guardrail of every segment from :func:`helpers.studies.segments.analysis.segment_summary`."""
    return {
        key: offer_guardrail(
            library[key].offer,
            clv_per_customer=float(row["clv_per_customer"]),
            order_value=float(row["expected_spend"]),
            gross_margin=gross_margin,
            max_share_of_margin=library.max_share_of_margin,
        )
        for key, row in summary.iterrows()  # one row per segment
    }


def customer_max_discount(customers: pd.DataFrame, library: ActionLibrary, gross_margin: float) -> pd.Series:
    """The most one offer may take off a customer's expected order, in currency.

    The segment guardrail applied to the customer's own numbers: the smallest of
    policy depth x expected order, margin cap x expected order and
    clv_share x CLV / offers (0 when the segment plans no offers).
    """
    keys = customers["segment"].astype(str).to_numpy()
    plays = library.playbooks

    def param(name: str) -> np.ndarray:
        return pd.Series({k: getattr(p.offer, name) for k, p in plays.items()}).reindex(keys).to_numpy(dtype="float64")

    order = customers["expected_spend"].to_numpy(dtype="float64")
    offers = param("offers")
    clv = np.maximum(customers["clv"].to_numpy(dtype="float64"), 0.0)
    by_clv = np.divide(param("clv_share") * clv, offers, out=np.zeros_like(clv), where=offers > 0)
    margin_cap = library.max_share_of_margin * gross_margin
    amount = np.minimum.reduce([param("max_depth") * order, margin_cap * order, by_clv])
    return pd.Series(np.where(offers > 0, amount, 0.0), index=customers.index, name="max_discount")


# ---------------------------------------------------------------------- activation


#: Columns of an activation CSV, in order.
ACTIVATION_COLUMNS = [
    CUSTOMER_ID, "segment", "segment_label", "r_score", "f_score", "m_score", "days_since_last_purchase",
    "purchase_days", "revenue", "p_alive", "predicted_clv", "clv_at_risk", "clv_tier", "value_tier", "lifecycle",
    "max_discount", "next_best_category",
]


def activation_table(
    customers: pd.DataFrame,
    segment_map: SegmentMap,
    *,
    max_discount: pd.Series,
    next_category: pd.Series | None = None,
    allow_raw_ids: bool = False,
    id_key: str | None = None,
    language: str | None = None,
) -> pd.DataFrame:
    """Every customer as a CRM import row, highest predicted CLV first (ties by id).

    ``predicted_clv`` is the discounted gross margin over the CLV horizon;
    ``max_discount`` the most one offer may take off an order; ``next_best_category``
    is empty when the data has no categories or nothing to suggest. ``segment_label``
    is in ``language`` (default: the segment map's); the other columns are codes.
    """
    if CUSTOMER_ID != customers.index.name:
        raise HelperError("the customer table must be indexed by customer_id")
    if language is not None:
        segment_map = segment_map.localised(language)
    out = pd.DataFrame(
        {
            "segment": customers["segment"].astype(str),
            "segment_label": customers["segment"].astype(str).map(segment_map.labels),
            "r_score": customers["r_score"],
            "f_score": customers["f_score"],
            "m_score": customers["m_score"],
            "days_since_last_purchase": customers["recency_days"],
            "purchase_days": customers["purchase_days"],
            "revenue": customers["revenue"].round(2),
            "p_alive": customers["p_alive"].round(4),
            "predicted_clv": customers["clv"].round(2),
            "clv_at_risk": customers["clv_at_risk"].round(2),
            "clv_tier": customers["clv_tier"].astype(str),
            "value_tier": customers["value_tier"].astype(str),
            "lifecycle": customers["lifecycle"].astype(str),
            "max_discount": max_discount.reindex(customers.index).round(2),
            "next_best_category": (
                next_category.reindex(customers.index) if next_category is not None else pd.Series(pd.NA, index=customers.index)
            ),
        },
        index=customers.index,
    )
    raw_ids = out.index.to_series().astype(str)
    order = np.lexsort((raw_ids.to_numpy(), -out["predicted_clv"].to_numpy()))
    out = out.iloc[order].reset_index()
    out[CUSTOMER_ID] = display_ids(out[CUSTOMER_ID], allow_raw_ids=allow_raw_ids, key=id_key).to_numpy()
    return out[ACTIVATION_COLUMNS]


def write_activation_files(folder: str | Path, table: pd.DataFrame, segment_map: SegmentMap) -> dict[str, Path]:
    """Write ``<folder>/<segment>.csv`` for every segment of the map (header only when
    empty); CSVs of segments no longer in the map are removed. Returns key -> path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key in segment_map.keys:  # a handful of segments
        rows = table[table["segment"] == key]
        paths[key] = write_text_atomic(folder / f"{key}.csv", rows.to_csv(index=False))
    for stale in folder.glob("*.csv"):
        if stale.stem not in paths:
            stale.unlink()
    return paths
