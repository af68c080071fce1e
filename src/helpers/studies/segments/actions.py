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
(:data:`helpers.report.i18n.Text`). :func:`load_action_library` returns the
library in English; :meth:`ActionLibrary.localised` gives it in another language with
the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import AfterValidator, Field, field_validator

from helpers.data.columns import CUSTOMER_ID
from helpers.data.privacy import display_ids
from helpers.errors import ConfigError, ConfigModel, HelperError, validate_config
from helpers.files import read_yaml, write_bytes_atomic, write_text_atomic
from helpers.report.exports import csv_text
from helpers.report.i18n import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    Text,
    Texts,
    by_language,
    in_every_language,
    normalise_language,
)
from helpers.studies.segments.analysis import TIER_VIEWS, SegmentMap

#: Fields every segment entry must have, in the order pages show them.
PLAYBOOK_FIELDS = ("objective", "actions", "channels", "offer", "trigger", "timing", "kpis", "avoid")
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


def _fraction(low_open: bool):
    def check(value: float) -> float:
        if not math.isfinite(value) or not ((0 < value) if low_open else (0 <= value)) or value > 1:
            raise ValueError(f"expected a fraction from {'above 0' if low_open else '0'} to 1 (0.1 = 10%)")
        return float(value)

    return AfterValidator(check)


Fraction = Annotated[float, _fraction(low_open=False)]


class OfferEntry(ConfigModel):
    """The incentive policy of a segment (the page turns it into a discount guardrail)."""

    max_depth: Fraction  #: policy cap on discount depth, share of the order value
    clv_share: Fraction  #: share of predicted CLV (margin) incentives may cost per customer
    offers: Annotated[int, Field(ge=0)]  #: incentives per customer over the CLV horizon (0 for none)
    note: Text | None = None  #: how to read the offer policy


class PlaybookEntry(ConfigModel):
    """What to do about one segment."""

    objective: Text
    actions: Texts
    channels: Texts
    offer: OfferEntry
    trigger: Text
    timing: Text
    kpis: Texts
    avoid: Texts


class TierPlayEntry(ConfigModel):
    """What to do about one tier of the documents' views."""

    objective: Text
    actions: Texts


class PolicyEntry(ConfigModel):
    max_share_of_margin: Annotated[float, _fraction(low_open=True)] = DEFAULT_MAX_SHARE_OF_MARGIN


def _key_problems(given: list[str], known: list[str], what: str, file_label: str) -> list[str]:
    problems = []
    unknown = [k for k in given if k not in known]
    if unknown:
        problems.append(f"unknown {what} {', '.join(map(repr, unknown))} (the {file_label} has: {', '.join(known)})")
    missing = [k for k in known if k not in given]
    if missing:
        problems.append(f"no entry for the {what} {', '.join(map(repr, missing))}")
    return problems


def _tiers_of(view: str) -> AfterValidator:
    def check(entries: dict[str, TierPlayEntry]) -> dict[str, TierPlayEntry]:
        problems = _key_problems(list(entries), list(TIER_VIEWS[view][1]), "tier", f"'{view}' view")
        if problems:
            raise ValueError("; ".join(problems))
        return entries

    return AfterValidator(check)


class TiersEntry(ConfigModel):
    """What to do per tier of the documents' views; each view listed needs all of its tiers."""

    value_growth: Annotated[dict[str, TierPlayEntry], _tiers_of("value_growth")] | None = None
    clv: Annotated[dict[str, TierPlayEntry], _tiers_of("clv")] | None = None
    lifecycle: Annotated[dict[str, TierPlayEntry], _tiers_of("lifecycle")] | None = None


class ActionLibraryFile(ConfigModel):
    """The action library (``playbooks/actions.yaml``)."""

    name: Text | None = None  #: default: the file name
    description: Text | None = None
    policy: PolicyEntry | None = None
    segments: Annotated[dict[str, PlaybookEntry], Field(min_length=1)]  #: one entry per segment key of the map
    tiers: TiersEntry | None = None

    @field_validator("name", "description", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


def load_action_library(path: str | Path, segment_map: SegmentMap) -> ActionLibrary:
    """Read the action library (:class:`ActionLibraryFile`) and check it against ``segment_map``.

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
    :meth:`ActionLibrary.localised`. Every problem is a one-line :class:`ConfigError`
    naming the file, the key path and the value.
    """
    shown = str(path)
    raw = read_yaml(Path(path), "action library")
    if isinstance(raw, dict) and isinstance(raw.get("segments"), dict):
        problems = _key_problems([str(k) for k in raw["segments"]], segment_map.keys, "segment", f"segment map {segment_map.path}")
        if problems:
            raise ConfigError(f"{shown}: segments: " + "; ".join(problems))
    model: ActionLibraryFile = validate_config(ActionLibraryFile, raw, shown)
    share = (model.policy or PolicyEntry()).max_share_of_margin
    playbooks: dict[str, dict[str, Playbook]] = {}  # key -> language -> playbook
    for key in segment_map.keys:
        entry = model.segments[key]
        offer = Offer(max_depth=entry.offer.max_depth, clv_share=entry.offer.clv_share, offers=entry.offer.offers)
        notes = by_language(entry.offer.note)
        texts = {name: by_language(getattr(entry, name)) for name in PLAYBOOK_FIELDS if name != "offer"}
        playbooks[key] = {
            lang: Playbook(key=key, offer=replace(offer, note=notes[lang]), **{n: t[lang] for n, t in texts.items()})
            for lang in LANGUAGES
        }
    tiers: dict[str, dict[str, dict[str, TierPlay]]] = {}  # view -> tier -> language -> play
    for view in TIER_VIEWS:
        entries = getattr(model.tiers, view, None)
        if entries is None:
            continue
        plays = {}
        for key in TIER_VIEWS[view][1]:
            objective, actions = by_language(entries[key].objective), by_language(entries[key].actions)
            plays[key] = {lang: TierPlay(objective=objective[lang], actions=actions[lang]) for lang in LANGUAGES}
        tiers[view] = plays


    def make(language: str, **common: Any) -> ActionLibrary:  # the same library with its texts in each language
        return ActionLibrary(
            path=shown, max_share_of_margin=share, language=language,
            playbooks={key: by_lang[language] for key, by_lang in playbooks.items()},
            tiers={view: {key: by_lang[language] for key, by_lang in plays.items()} for view, plays in tiers.items()},
            **common,
        )

    return in_every_language(
        make, name=model.name if "name" in model.model_fields_set else Path(path).stem, description=model.description
    )


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
    segment = customers["segment"]
    plays = library.playbooks
    if isinstance(segment.dtype, pd.CategoricalDtype):  # per category, then by code: no text per customer
        categories, codes = segment.cat.categories.astype(str), segment.cat.codes.to_numpy()
    else:
        codes, categories = pd.factorize(segment.astype(str))

    def param(name: str) -> np.ndarray:
        by_category = pd.Series({k: getattr(p.offer, name) for k, p in plays.items()}, dtype="float64")
        values = np.append(by_category.reindex(categories).to_numpy(dtype="float64"), np.nan)
        return values[np.where(codes >= 0, codes, len(categories))]  # missing segment: NaN, as before

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
    shown_ids: pd.Series | None = None,
) -> pd.DataFrame:
    """Every customer as a CRM import row, highest predicted CLV first (ties by id).

    ``predicted_clv`` is the discounted gross margin over the CLV horizon;
    ``max_discount`` the most one offer may take off an order; ``next_best_category``
    is empty when the data has no categories or nothing to suggest. ``segment_label``
    is in ``language`` (default: the segment map's); the other columns are codes.
    ``shown_ids``: :func:`shown_customer_ids` of ``customers`` with the same
    ``allow_raw_ids`` and ``id_key``, when made already (e.g. while other steps ran).
    """
    if CUSTOMER_ID != customers.index.name:
        raise HelperError("the customer table must be indexed by customer_id")
    if language is not None:
        segment_map = segment_map.localised(language)
    # Order first (highest CLV, ties by id text), then build each column once in that order.
    clv = customers["clv"].round(2).to_numpy()
    order = np.lexsort((_id_text_ranks(customers.index), -clv))
    if shown_ids is None:
        shown_ids = shown_customer_ids(customers, allow_raw_ids=allow_raw_ids, id_key=id_key)
    out = pd.DataFrame(
        {
            # the ids' own array: no round trip through a million Python strings
            CUSTOMER_ID: pd.Series(shown_ids.array.take(order), index=range(len(order))),
            "segment": _text_in_order(customers["segment"], order),
            "segment_label": _text_in_order(customers["segment"], order, segment_map.labels),
            "r_score": customers["r_score"].to_numpy()[order],
            "f_score": customers["f_score"].to_numpy()[order],
            "m_score": customers["m_score"].to_numpy()[order],
            "days_since_last_purchase": customers["recency_days"].to_numpy()[order],
            "purchase_days": customers["purchase_days"].to_numpy()[order],
            "revenue": customers["revenue"].round(2).to_numpy()[order],
            "p_alive": customers["p_alive"].round(4).to_numpy()[order],
            "predicted_clv": clv[order],
            "clv_at_risk": customers["clv_at_risk"].round(2).to_numpy()[order],
            "clv_tier": _text_in_order(customers["clv_tier"], order),
            "value_tier": _text_in_order(customers["value_tier"], order),
            "lifecycle": _text_in_order(customers["lifecycle"], order),
            "max_discount": max_discount.reindex(customers.index).round(2).to_numpy()[order],
            "next_best_category": (
                _few_in_order(next_category.reindex(customers.index), order)
                if next_category is not None else pd.Series(pd.NA, index=range(len(order)))
            ),
        }
    )
    return out[ACTIVATION_COLUMNS]


def shown_customer_ids(
    customers: pd.DataFrame, *, allow_raw_ids: bool = False, id_key: str | None = None, threads: int | None = None
) -> pd.Series:
    """The customers' ids as an activation list shows them (:func:`display_ids`: pseudonyms
    unless raw ids are allowed), in the customers' order, on a fresh index."""
    return display_ids(pd.Series(customers.index, index=range(len(customers))), allow_raw_ids=allow_raw_ids,
                       key=id_key, threads=threads)


def _id_text_ranks(index: pd.Index) -> np.ndarray:
    """Ranks of the ids as text (the tie order of the activation rows) as integers: the
    position itself for the sorted text index every segment study has, else by sorting."""
    if (pd.api.types.is_string_dtype(index.dtype) and index.is_unique and index.is_monotonic_increasing
            and pd.api.types.infer_dtype(index, skipna=False) == "string"):
        return np.arange(len(index))
    text = index.to_series().astype(str).to_numpy()
    return pd.factorize(text, sort=True)[0]


def _few_in_order(values: pd.Series, order: np.ndarray) -> pd.Series:
    """``values.iloc[order]`` on a fresh index, for a column of a few distinct values (such as
    categories): taken as codes, every row copied from the short list of values."""
    codes, uniques = pd.factorize(values)
    if len(uniques) == 0:
        return values.iloc[order].reset_index(drop=True)
    return pd.Series(uniques.take(codes[order], allow_fill=True), index=range(len(order)), name=values.name)


def _text_in_order(values: pd.Series, order: np.ndarray, names: dict | None = None) -> pd.Series:
    """``values.astype(str)`` (mapped through ``names`` when given) taken in ``order``; a
    categorical column is converted once per category, not once per row."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()[order]
        if len(codes) == 0 or codes.min() >= 0:
            text = values.cat.categories.astype(str)
            if names is not None:
                text = pd.Index(text.to_series().map(names))
            return pd.Series(text.take(codes), index=range(len(order)))
    text = values.astype(str)
    if names is not None:
        text = text.map(names)
    return text.iloc[order].reset_index(drop=True)


def write_activation_files(
    folder: str | Path, table: pd.DataFrame, segment_map: SegmentMap, *, texts: Mapping[str, Iterable] | None = None
) -> dict[str, Path]:
    """Write ``<folder>/<segment>.csv`` for every segment of the map (header only when
    empty); CSVs of segments no longer in the map are removed. Returns key -> path.
    ``texts``: the CSV bytes per segment, as parts, when the caller has them
    (:func:`helpers.report.exports.csv_bytes_by`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for key in segment_map.keys:  # a handful of segments
        if texts is not None:
            paths[key] = write_bytes_atomic(folder / f"{key}.csv", texts[key])
        else:
            paths[key] = write_text_atomic(folder / f"{key}.csv", csv_text(table[table["segment"] == key]))
    for stale in folder.glob("*.csv"):
        if stale.stem not in paths:
            stale.unlink()
    return paths
