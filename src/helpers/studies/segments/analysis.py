"""Customer segments: RFM scores, a swappable segment map, tiers and migration.

Conventions (stated on the segments page):

- **Purchases** are counted per customer per calendar day, as in :mod:`helpers.models.summary`
  (several orders on one day are one purchase, their amounts summed; net of returns).
- **Recency (R)** is the number of days since the last purchase at the analysis date
  (the whole analysis day counts). This is *not* lifetimes' ``recency`` (the customer's
  age at the last purchase).
- **Frequency (F)** is the number of purchase days up to the analysis date (the first
  purchase counts, unlike lifetimes' ``frequency``).
- **Monetary (M)** is the total net spend up to the analysis date (``monetary="total"``,
  the default) or the mean spend per purchase day (``monetary="mean"``).
- **Scores** are quintiles 1..5, 5 = best (most recent, most frequent, highest spend),
  computed from ranks: ``score = 1 + floor(5 * (rank - 1) / n)`` with ranks 1..n from
  worst to best. Ties are handled deterministically in one of two ways:

  - ``"shared"`` (default): equal values share a score, the lowest quintile their group
    reaches (rank ``method="min"``). A tie never promotes anyone: on CDNOW 51% of
    customers bought on one day only and all of them get F = 1. Quintiles are then
    not of equal size and some scores may be unused.
  - ``"first"``: equal-size quintiles; ties are broken by customer id (ascending id
    gets the lower rank). Identical customers can then get different scores.

The **segment map** (:func:`load_segment_map`) is a YAML file that names segments by
ranges of scores on two or three of the axes R, F, M; it must cover every score cell
exactly once. The documents' own tiers are computed alongside: value x growth tiers,
CLV tiers and lifecycle stages (:class:`SegmentSettings` holds their thresholds).
Everything is vectorised over customers.

**Languages.** A segment's ``label`` and ``definition`` (and the map's ``name`` and
``description``) are text, used on pages in every language, or a mapping by page
language, ``{en: Champions, zh-CN: 冠军客户}`` (:data:`helpers.report.i18n.Text`). A loaded map
is in English; :meth:`SegmentMap.localised` gives the same map in another language.
Tier names and the other words of the pages come from the ``segments`` catalog
(``helpers/locales``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
import pandas as pd
import pyarrow.compute as pc
from pydantic import (
    AfterValidator,
    Field,
    PlainValidator,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from helpers.data.columns import AMOUNT, CUSTOMER_ID, TIMESTAMP
from helpers.data.loading import _arrow_text
from helpers.errors import (
    ConfigError,
    ConfigModel,
    DataError,
    HelperError,
    SettingsModel,
    located,
    validate_config,
)
from helpers.files import read_yaml
from helpers.models import activity
from helpers.models.summary import _starts_of_runs, short_text_keys, sorted_id_codes
from helpers.report.i18n import (
    DEFAULT_LANGUAGE,
    Text,
    by_language,
    in_every_language,
    normalise_language,
    text,
)

#: Scores run from 1 (worst) to N_SCORES (best).
N_SCORES = 5
AXES = ("R", "F", "M")
TIE_METHODS = ("shared", "first")
MONETARY_METHODS = ("total", "mean")
#: Segment and tier keys become file names: lower-case letters, digits and "_".
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")

#: Row of the migration matrix for customers whose first purchase is after the earlier date.
NEW_CUSTOMERS = "_new"
#: Column of the migration matrix for customers absent at the later date (only shown if any).
GONE_CUSTOMERS = "_gone"


def tier_labels(view: str, language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """The tiers of a view (``value_growth``, ``clv``, ``lifecycle``) by key, named in ``language``."""
    if view not in _TIER_KEYS:
        raise ConfigError(f"unknown tier view {view!r}; choose one of {', '.join(_TIER_KEYS)}")
    return {key: text(f"segments.names.tiers.{view}.{key}", language) for key in _TIER_KEYS[view]}


def migration_labels(language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Names of the migration matrix's extra row (not yet a customer) and column (absent later)."""
    return {
        NEW_CUSTOMERS: text("segments.names.new_customers", language),
        GONE_CUSTOMERS: text("segments.names.gone_customers", language),
    }


_TIER_KEYS: dict[str, tuple[str, ...]] = {
    "value_growth": ("core", "potential", "ordinary", "sleeping"),
    "clv": ("high_value_loyal", "growing", "potential", "churn_risk"),
    "lifecycle": ("new", "active", "loyal", "lapsing", "churned"),
}
#: English names, kept for callers of earlier versions (pages use :func:`tier_labels`).
NEW_CUSTOMERS_LABEL = migration_labels()[NEW_CUSTOMERS]
GONE_CUSTOMERS_LABEL = migration_labels()[GONE_CUSTOMERS]

#: The documents' second view of the customer base (domain digest, section 2).
VALUE_TIERS: dict[str, str] = tier_labels("value_growth")
CLV_TIERS: dict[str, str] = tier_labels("clv")
LIFECYCLE_STAGES: dict[str, str] = tier_labels("lifecycle")
#: Tier views by the name the action library uses for them, and the column holding them.
TIER_VIEWS: dict[str, tuple[str, dict[str, str]]] = {
    "value_growth": ("value_tier", VALUE_TIERS),
    "clv": ("clv_tier", CLV_TIERS),
    "lifecycle": ("lifecycle", LIFECYCLE_STAGES),
}


# ------------------------------------------------------------------------ settings


def _choice(parameter: str, options: dict[str, str]) -> AfterValidator:
    """One of ``options`` (value -> what it means); the message names the notebook ``parameter``."""

    def check(value: str) -> str:
        if value not in options:
            raise ValueError(f"{parameter} must be " + " or ".join(f"'{k}' ({v})" for k, v in options.items()))
        return value

    return AfterValidator(check)


Share = Annotated[float, Field(gt=0, lt=1)]
Days = Annotated[int, Field(ge=1)]


class SegmentSettings(SettingsModel):
    """How customers are scored and tiered (the segments notebook's parameters), validated on
    construction.

    ``alive_threshold`` and ``lapsed_days`` decide who counts as lapsed: P(alive) below
    the threshold, or no purchase for more than ``lapsed_days`` days (BG/NBD treats
    every customer without a repeat purchase as alive, so P(alive) alone cannot judge
    one-time buyers). Shares are fractions of the active (not lapsed) customers (0.2 = top 20%).
    """

    source: ClassVar[str] = "segment settings"

    monetary: Annotated[str, _choice("monetary", {"total": "total spend", "mean": "mean spend per purchase day"})] = "total"
    ties: Annotated[str, _choice("rfm_ties", {
        "shared": "equal values share a score", "first": "equal-size quintiles, ties broken by customer id",
    })] = "shared"
    alive_threshold: Share = activity.ALIVE_THRESHOLD  #: a probability (the one rule: helpers.models.activity)
    lapsed_days: Days = activity.LAPSED_DAYS
    high_value_share: Share = 0.2
    high_clv_share: Share = 0.2
    growing_clv_share: Share = 0.5
    new_days: Days = 90
    loyal_min_purchases: Annotated[int, Field(ge=2)] = 3  #: purchase days
    #: lifecycle stages share the customer-base page's rules (one definition per concept):
    #: sleeping after ``sleeping_days`` without a purchase, churned after ``lapsed_days``,
    #: loyal with ``loyal_min_purchases`` purchase days in the last ``loyal_window_days``
    sleeping_days: Days = 90
    loyal_window_days: Days = 365

    @model_validator(mode="after")
    def _growing_below_high(self) -> "SegmentSettings":
        if self.growing_clv_share <= self.high_clv_share:
            raise located(
                "growing_clv_share", self.growing_clv_share,
                f"must be larger than high_clv_share ({self.high_clv_share}): growing customers are the next band "
                "below the high-value ones",
            )
        return self

    @model_validator(mode="after")
    def _sleep_before_lapse(self) -> "SegmentSettings":
        if self.sleeping_days >= self.lapsed_days:
            raise located(
                "sleeping_days", self.sleeping_days,
                f"must be smaller than lapsed_days ({self.lapsed_days}): a customer falls asleep before they lapse",
            )
        return self


# ---------------------------------------------------------------------------- RFM


def _analysis_day(value: object, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ConfigError(f"{name} {value!r} is not a date; write it as YYYY-MM-DD.")
    return stamp.normalize()


@dataclass(frozen=True)
class PurchaseDays:
    """Net spend per customer and purchase day up to the end of an analysis day, with the
    customer ids coded once (integer codes in sorted-id order): what RFM at that day and at
    any earlier day, and the lifecycle's purchase-day counts, are computed from.

    Rows are in the order :func:`customer_rfm` always summed them (first appearance of each
    customer-day in the transactions), so the numbers are the same to the last bit."""

    ids: pd.Index  # sorted customer ids; ``code`` indexes into it
    code: np.ndarray  # int64, one per customer-day
    day: np.ndarray  # datetime64, midnight of the purchase day
    amount: np.ndarray  # float64, the day's net spend
    end: pd.Timestamp  # the analysis day

    def upto(self, as_of: object) -> PurchaseDays:
        """The purchase days on or before ``as_of`` (not after this table's own day)."""
        day_end = _analysis_day(as_of, "analysis date")
        if day_end > self.end:
            raise HelperError(f"purchase days end on {self.end.date()}, not on or after {day_end.date()}")
        if day_end == self.end:  # nothing to drop: RFM and lifecycle at the table's own day
            return self
        keep = self.day <= day_end.to_datetime64()
        code, ids = _compress_codes(self.code[keep], self.ids)
        return PurchaseDays(ids, code, self.day[keep], self.amount[keep], day_end)


def _compress_codes(codes: np.ndarray, ids: pd.Index) -> tuple[np.ndarray, pd.Index]:
    """Codes renumbered 0..k-1 over the ids they use (still in sorted-id order)."""
    present = np.zeros(len(ids), dtype=bool)
    present[codes] = True
    if present.all():
        return codes, ids
    renumber = np.cumsum(present) - 1
    return renumber[codes], ids[present]


def id_positions(ids: pd.Index, within: pd.Index) -> np.ndarray:
    """``within.get_indexer(ids)`` for ids unique in ``within`` (-1 where absent), without
    the lookup table pandas builds for it and keeps with ``within`` as long as it lives: for
    a million text ids about 110 MB and 0.85 s. Equal indexes (the same customers in the
    same order) map to 0..n-1; text ids without missing values (read as Arrow text the way
    the loader reads them, :func:`helpers.data.loading._arrow_text`) are matched by Arrow's ``index_in``,
    whose hash table is freed on return (0.35 s); member numbers and other short text ids are
    read as integers (:func:`helpers.models.summary.short_text_keys`) and found by binary
    search (a million ids: 0.04 s when both are sorted, 0.17 s when one is not)."""
    if ids.equals(within):
        return np.arange(len(ids))
    keys = short_text_keys(ids, within)
    if keys is not None:
        return _key_positions(*keys)
    text, within_text = _arrow_text(ids), _arrow_text(within)
    if text is not None and within_text is not None:
        found = pc.index_in(text, value_set=within_text)
        return found.fill_null(-1).to_numpy().astype(np.intp, copy=False)
    return within.get_indexer(ids)


def _key_positions(keys: np.ndarray, within: np.ndarray) -> np.ndarray:
    """Position in ``within`` (unique integers) of each of ``keys``, -1 where absent."""
    if len(within) == 0:
        return np.full(len(keys), -1, dtype=np.intp)
    order = None if bool((within[1:] > within[:-1]).all()) else np.argsort(within)
    ordered = within if order is None else within[order]
    at = np.minimum(np.searchsorted(ordered, keys), len(ordered) - 1)
    found = ordered[at] == keys
    return np.where(found, at if order is None else order[at], -1).astype(np.intp, copy=False)


def customer_codes(ids: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """``pd.factorize(ids, sort=True)``: integer codes in sorted-id order (missing ids -1) and
    the sorted distinct ids, by :func:`helpers.models.summary.sorted_id_codes` (integer codes
    counted, member numbers read byte by byte, other text hashed once)."""
    codes, uniques = sorted_id_codes(ids)
    return np.asarray(codes, dtype=np.int64), pd.Index(uniques, name=ids.name)


def purchase_days_by_customer(
    transactions: pd.DataFrame, as_of: object, *, codes: tuple[np.ndarray, pd.Index] | None = None
) -> PurchaseDays:
    """:class:`PurchaseDays` of ``transactions`` on or before the analysis day ``as_of``;
    ``codes``: :func:`customer_codes` of their ``customer_id`` when the caller has them."""
    missing = [c for c in (CUSTOMER_ID, TIMESTAMP, AMOUNT) if c not in transactions.columns]
    if missing:
        raise DataError(f"transactions lack the column(s) {', '.join(missing)} needed for RFM scores")
    day_end = _analysis_day(as_of, "analysis date")
    stamps = pd.to_datetime(transactions[TIMESTAMP])
    # once; missing ids are -1
    all_codes, all_ids = codes if codes is not None else customer_codes(transactions[CUSTOMER_ID])
    keep = ((stamps < day_end + pd.Timedelta(days=1)).to_numpy()) & (all_codes >= 0)
    codes, ids = _compress_codes(all_codes[keep], pd.Index(all_ids, name=CUSTOMER_ID))
    days = stamps[keep].dt.floor("D").to_numpy()
    amounts = transactions[AMOUNT].to_numpy(dtype="float64")[keep]
    if not len(codes):
        return PurchaseDays(ids, codes.astype("int64"), days, amounts, day_end)
    # One integer key per customer-day; pandas sums each group in row order (as before).
    first = days.min()
    offset = ((days - first) // np.timedelta64(1, "D")).astype("int64")
    span = int(offset.max()) + 1
    key = codes.astype("int64") * span + offset
    k, sums = _sums_by_key(amounts, key)
    return PurchaseDays(ids, k // span, first + (k % span) * np.timedelta64(1, "D"), sums, day_end)


def _sums_by_key(values: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``pd.Series(values).groupby(key, sort=False).sum()`` as (keys, sums). Rows already in
    key order (the loader leaves them sorted by customer and time) are summed run by run with
    ``np.add.reduceat``, as pandas sums groups in order, without hashing millions of keys."""
    if len(key) and bool((key[1:] >= key[:-1]).all()) and not np.isnan(values).any():
        starts = np.flatnonzero(_starts_of_runs(key))
        return key[starts], np.add.reduceat(values, starts)
    sums = pd.Series(values).groupby(key, sort=False).sum()
    return sums.index.to_numpy(), sums.to_numpy()


def customer_rfm(transactions: pd.DataFrame | PurchaseDays, as_of: object, *, monetary: str = "total") -> pd.DataFrame:
    """Recency, frequency and monetary value of every customer at the end of ``as_of``.

    Only transactions on or before the analysis day count. Returns one row per customer
    who bought by then (index ``customer_id``, sorted) with ``first_purchase``,
    ``last_purchase``, ``recency_days`` (days since the last purchase), ``tenure_days``
    (days since the first), ``purchase_days`` (F), ``revenue`` (total net spend),
    ``order_value`` (revenue per purchase day) and ``monetary`` (M: revenue or
    order_value, see ``monetary``). ``transactions`` may be the :class:`PurchaseDays` of
    an analysis day on or after ``as_of``.
    """
    if isinstance(transactions, PurchaseDays):
        days = transactions.upto(as_of)
    else:
        missing = [c for c in (CUSTOMER_ID, TIMESTAMP, AMOUNT) if c not in transactions.columns]
        if missing:
            raise DataError(f"transactions lack the column(s) {', '.join(missing)} needed for RFM scores")
        if monetary not in MONETARY_METHODS:
            raise ConfigError(f"monetary must be one of {MONETARY_METHODS}, not {monetary!r}.")
        days = purchase_days_by_customer(transactions, as_of)
    if monetary not in MONETARY_METHODS:
        raise ConfigError(f"monetary must be one of {MONETARY_METHODS}, not {monetary!r}.")
    day_end = days.end
    per_day = pd.DataFrame({"day": days.day, "amount": days.amount})
    out = per_day.groupby(days.code, sort=True).agg(
        first_purchase=("day", "min"),
        last_purchase=("day", "max"),
        purchase_days=("day", "size"),
        revenue=("amount", "sum"),
    )
    out.index = days.ids[out.index.to_numpy()]
    out.index.name = CUSTOMER_ID
    out["recency_days"] = (day_end - out["last_purchase"]).dt.days.astype("int64")
    out["tenure_days"] = (day_end - out["first_purchase"]).dt.days.astype("int64")
    out["order_value"] = out["revenue"] / out["purchase_days"]
    out["monetary"] = out["revenue"] if monetary == "total" else out["order_value"]
    return out[
        ["first_purchase", "last_purchase", "recency_days", "tenure_days", "purchase_days", "revenue",
         "order_value", "monetary"]
    ]


def score_quintiles(
    values: pd.Series | np.ndarray,
    ids: pd.Series | np.ndarray | pd.Index,
    *,
    higher_is_better: bool = True,
    ties: str = "shared",
) -> np.ndarray:
    """Quintile scores 1..5 (5 = best) of ``values``; see the module docstring for ties.

    ``ids`` (customer ids, same length) break ties when ``ties="first"``; they are
    compared as sorted codes, so the result does not depend on the input order.
    """
    if ties not in TIE_METHODS:
        raise ConfigError(f"ties must be one of {TIE_METHODS}, not {ties!r}.")
    # a Series' values, not np.asarray(Series): numpy's attribute probes make pandas build
    # (and keep) a lookup table of a text index
    v = np.asarray(values.to_numpy() if isinstance(values, pd.Series) else values, dtype="float64")
    n = len(v)
    if n == 0:
        return np.zeros(0, dtype="int64")
    if not np.isfinite(v).all():
        raise HelperError("RFM scores need finite values; found a missing or infinite value")
    goodness = v if higher_is_better else -v
    if ties == "first":
        codes = pd.factorize(pd.Index(ids).astype(str), sort=True)[0]
        order = np.lexsort((codes, goodness))  # by value, then by customer id
        ranks = np.empty(n, dtype="int64")
        ranks[order] = np.arange(1, n + 1)
    else:
        ranks = _min_ranks(goodness)
    return (N_SCORES * (ranks - 1)) // n + 1


def _min_ranks(values: np.ndarray) -> np.ndarray:
    """``pd.Series(values).rank(method="min")`` as integers for finite values: one more than
    the number of smaller values, counted per distinct value (a third of pandas' time)."""
    _, position, count = np.unique(values, return_inverse=True, return_counts=True)
    return (np.cumsum(count) - count)[position.reshape(-1)] + 1


def rfm_scores(rfm: pd.DataFrame, ties: str = "shared") -> pd.DataFrame:
    """``r_score``, ``f_score``, ``m_score`` for the rows of :func:`customer_rfm`."""
    ids = rfm.index
    return pd.DataFrame(
        {
            "r_score": score_quintiles(rfm["recency_days"], ids, higher_is_better=False, ties=ties),
            "f_score": score_quintiles(rfm["purchase_days"], ids, ties=ties),
            "m_score": score_quintiles(rfm["monetary"], ids, ties=ties),
        },
        index=rfm.index,
    )


# -------------------------------------------------------------------- segment map


@dataclass(frozen=True)
class Segment:
    """One named segment of a map: the score cells it holds, as (score per axis) tuples.

    ``label`` and ``definition`` are in the map's language (:attr:`SegmentMap.language`).
    """

    key: str
    label: str
    definition: str
    cells: tuple[tuple[int, ...], ...]
    #: Scores per axis as written in the file (for documentation), e.g. {"R": (4, 5)}.
    scores: dict[str, tuple[int, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class SegmentMap:
    """A validated segment map: every score cell of ``axes`` belongs to exactly one segment.

    Its texts (name, description, segment labels and definitions) are in ``language``;
    :meth:`localised` returns the map in another language.
    """

    path: str
    name: str
    description: str
    axes: tuple[str, ...]
    segments: tuple[Segment, ...]
    #: Segment position for every cell, shape (5,) * len(axes), indexed by score - 1.
    lookup: np.ndarray
    language: str = DEFAULT_LANGUAGE
    #: The same map in every language, by language code (shared by all of them).
    versions: dict[str, "SegmentMap"] = field(default_factory=dict, repr=False, compare=False)

    def localised(self, language: str) -> "SegmentMap":
        """This map with its texts in ``language`` (itself when it has no other versions)."""
        return self.versions.get(normalise_language(language), self)

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.segments]

    @property
    def labels(self) -> dict[str, str]:
        return {s.key: s.label for s in self.segments}

    def segment(self, key: str) -> Segment:
        for seg in self.segments:
            if seg.key == key:
                return seg
        raise ConfigError(f"{self.path}: no segment '{key}'; segments: {', '.join(self.keys)}")

    def assign(self, scores: pd.DataFrame) -> pd.Series:
        """Segment key of every row of ``scores`` (columns ``r_score``, ``f_score``, ...)
        as an ordered categorical in map order."""
        cols = [f"{axis.lower()}_score" for axis in self.axes]
        missing = [c for c in cols if c not in scores.columns]
        if missing:
            raise HelperError(f"scores lack the column(s) {', '.join(missing)} the segment map uses")
        index = tuple(scores[c].to_numpy(dtype="int64") - 1 for c in cols)
        codes = self.lookup[index]
        return pd.Series(
            pd.Categorical.from_codes(codes, categories=self.keys, ordered=True), index=scores.index, name="segment"
        )

    def describe_scores(self, key: str, language: str | None = None) -> str:
        """The segment's cells in words, e.g. ``R 5, F 4–5`` (``language``: default the map's)."""
        lang = normalise_language(language or self.language)
        comma, semicolon = (", ", "; ") if lang == DEFAULT_LANGUAGE else ("，", "；")
        seg = self.segment(key)
        if seg.scores:
            return comma.join(f"{axis} {score_text(seg.scores[axis], lang)}" for axis in self.axes)
        return semicolon.join(cell_name(self.axes, cell) for cell in seg.cells)


def cell_name(axes: tuple[str, ...], cell: tuple[int, ...]) -> str:
    """``R1 F3`` for the cell with R score 1 and F score 3."""
    return " ".join(f"{axis}{score}" for axis, score in zip(axes, cell))


def score_text(scores: tuple[int, ...], language: str = DEFAULT_LANGUAGE) -> str:
    """Scores in words: ``5``, ``4–5``, ``1, 3`` or ``any`` (Chinese ``任意``)."""
    scores = tuple(sorted(scores))
    if len(scores) == N_SCORES:
        return text("segments.names.any_score", language)
    if len(scores) > 1 and scores == tuple(range(scores[0], scores[-1] + 1)):
        return f"{scores[0]}–{scores[-1]}"
    return ", ".join(map(str, scores))


_RANGE_RE = re.compile(r"^\s*([1-9])\s*(?:[-–]\s*([1-9]))?\s*$")


def _parse_scores(value: Any) -> tuple[int, ...]:
    """Scores from ``5``, ``"4-5"`` or a list of those."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("the list of scores is empty")
    scores: set[int] = set()
    for item in items:
        match = None if isinstance(item, (bool, int)) else _RANGE_RE.match(str(item))
        if isinstance(item, int) and not isinstance(item, bool):
            low = high = item
        elif match:
            low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        else:
            raise ValueError(f"{item!r} is not a score; use 1..5, a range such as 4-5, or a list")
        if not 1 <= low <= high <= N_SCORES:
            raise ValueError(f"{item!r} is outside the scores 1..{N_SCORES} (or the range is reversed)")
        scores.update(range(low, high + 1))
    return tuple(sorted(scores))


def _key(value: str) -> str:
    if not KEY_RE.match(value):
        raise ValueError("a key may only use lower-case letters, digits and '_' (it names files)")
    return value


def _axes(value: list[str]) -> tuple[str, ...]:
    axes = tuple(a.upper() for a in value)
    if any(a not in AXES for a in axes) or len(set(axes)) != len(axes):
        raise ValueError("'axes' must list some of R, F, M once each, e.g. [R, F]")
    return axes


_SCORE_SCHEMA = {"anyOf": [{"type": "integer", "minimum": 1, "maximum": N_SCORES}, {"type": "string", "pattern": "^[1-5](-[1-5])?$"}]}
#: Scores on one axis: a score (5), a range ("4-5") or a list of those ([1, 3]).
Scores = Annotated[Any, PlainValidator(_parse_scores), WithJsonSchema({"anyOf": [*_SCORE_SCHEMA["anyOf"], {"type": "array", "items": _SCORE_SCHEMA, "minItems": 1}]})]
Key = Annotated[str, AfterValidator(_key)]
Score = Annotated[int, Field(ge=1, le=N_SCORES)]


class SegmentEntry(ConfigModel):
    """One segment: its key, texts and score cells (ranges per axis, or explicit cells)."""

    key: Key  #: lower-case letters, digits and _ (names the segment's page and files)
    label: Text
    definition: Text
    r: Scores | None = None  #: R scores; an axis left out means any score
    f: Scores | None = None
    m: Scores | None = None
    cells: Annotated[list[list[Score]], Field(min_length=1)] | None = None  #: or explicit cells, one score per axis

    @model_validator(mode="after")
    def _cells_or_ranges(self) -> "SegmentEntry":
        if self.cells is not None and any(getattr(self, a) is not None for a in "rfm"):
            raise ValueError("give either 'cells' or score ranges (r, f, m), not both")
        return self


class SegmentMapFile(ConfigModel):
    """A segment map (``playbooks/segment_map.yaml``)."""

    name: Text | None = None  #: default: the file name
    description: Text | None = None
    axes: Annotated[list[str], Field(min_length=1), AfterValidator(_axes), WithJsonSchema(
        {"type": "array", "items": {"enum": list(AXES)}, "minItems": 1, "uniqueItems": True}
    )] = ("R", "F")  #: some of R, F, M in order
    segments: Annotated[list[SegmentEntry], Field(min_length=1)]

    @field_validator("name", "description", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @model_validator(mode="after")
    def _entries_fit_the_axes(self) -> "SegmentMapFile":
        seen: dict[str, int] = {}
        for i, seg in enumerate(self.segments):
            if seg.key in seen:
                raise located(f"segments[{i}].key", seg.key, f"already used by segments[{seen[seg.key]}]")
            seen[seg.key] = i
            off_axis = [a for a in "rfm" if getattr(seg, a) is not None and a.upper() not in self.axes]
            if off_axis:
                raise located(
                    f"segments[{i}].{off_axis[0]}", getattr(seg, off_axis[0]),
                    f"unknown key: the map's axes are {', '.join(self.axes)}",
                )
            bad = next((j for j, c in enumerate(seg.cells or ()) if len(c) != len(self.axes)), None)
            if bad is not None:
                raise located(
                    f"segments[{i}].cells[{bad}]", seg.cells[bad],
                    f"expected a list of {len(self.axes)} scores 1..{N_SCORES} ([{', '.join(self.axes)}])",
                )
        return self


def load_segment_map(path: str | Path) -> SegmentMap:
    """Read and validate a segment map (YAML, :class:`SegmentMapFile`); every problem is a
    one-line :class:`ConfigError` naming the file, the key path and the value.

    Format::

        name: R x F grid
        description: ...          # optional
        axes: [R, F]              # optional, default [R, F]; any of R, F, M in order
        segments:                 # in display order
          - key: champions        # lower-case letters, digits, _ (used for file names)
            label: Champions      # or by page language: {en: Champions, zh-CN: 冠军客户}
            definition: Bought very recently and buy often.
            r: 5                  # a score, a range "4-5" or a list [1, 3]
            f: 4-5                # an axis left out means any score
          - key: odd_cells
            ...
            cells: [[1, 3], [2, 5]]   # or explicit cells, one score per axis

    The segments must cover every cell of the axes (25 for R x F) exactly once; the
    error names the cells not covered and the cells covered twice, with their segments.
    ``name``, ``description``, ``label`` and ``definition`` may be given per page
    language (:data:`helpers.report.i18n.Text`); the map returned is in English, its other
    languages through :meth:`SegmentMap.localised`.
    """
    path = Path(path)
    shown = str(path)
    model: SegmentMapFile = validate_config(SegmentMapFile, read_yaml(path, "segment map"), shown)
    axes = model.axes

    segments: list[Segment] = []
    texts: list[tuple[dict[str, str], dict[str, str]]] = []  # label and definition by language, per segment
    shape = (N_SCORES,) * len(axes)
    owners: dict[tuple[int, ...], list[str]] = {}
    for entry in model.segments:
        texts.append((by_language(entry.label), by_language(entry.definition)))
        if entry.cells is not None:
            cells = [tuple(cell) for cell in entry.cells]
            scores: dict[str, tuple[int, ...]] = {}
        else:
            scores = {a: getattr(entry, a.lower()) or tuple(range(1, N_SCORES + 1)) for a in axes}
            cells = list(itertools.product(*(scores[a] for a in axes)))
        cells = sorted(set(cells))
        for cell in cells:
            owners.setdefault(cell, []).append(entry.key)
        segments.append(Segment(entry.key, texts[-1][0][DEFAULT_LANGUAGE], texts[-1][1][DEFAULT_LANGUAGE], tuple(cells), scores))

    all_cells = list(itertools.product(range(1, N_SCORES + 1), repeat=len(axes)))
    missing = [c for c in all_cells if c not in owners]
    overlapping = [c for c in all_cells if len(owners.get(c, [])) > 1]
    if missing or overlapping:
        axes_text = ", ".join(axes)
        problems = []
        if missing:
            problems.append(
                f"not covered by any segment: {', '.join(cell_name(axes, c) for c in missing)} (add them to a segment)"
            )
        if overlapping:
            problems.append(
                "covered by more than one segment: "
                + "; ".join(f"{cell_name(axes, c)} ({', '.join(owners[c])})" for c in overlapping)
                + " (keep each in one segment only)"
            )
        raise ConfigError(
            f"{shown}: the segments must cover every ({axes_text}) score cell exactly once; " + "; ".join(problems)
        )

    lookup = np.empty(shape, dtype="int64")
    for pos, seg in enumerate(segments):
        for cell in seg.cells:
            lookup[tuple(s - 1 for s in cell)] = pos

    def make(language: str, **common: Any) -> SegmentMap:  # the same map with its texts in each language
        localised = tuple(
            Segment(seg.key, label[language], definition[language], seg.cells, seg.scores)
            for seg, (label, definition) in zip(segments, texts)
        )
        return SegmentMap(path=shown, axes=axes, segments=localised, lookup=lookup, language=language, **common)

    return in_every_language(
        make, name=model.name if "name" in model.model_fields_set else path.stem, description=model.description
    )


# -------------------------------------------------------------------------- tiers


def lapsed_mask(p_alive: np.ndarray, recency_days: np.ndarray, settings: SegmentSettings) -> np.ndarray:
    """Customers counted as lapsed: the one rule of :mod:`helpers.models.activity` (P(alive)
    below the threshold, or no purchase for more than ``lapsed_days`` days)."""
    rule = activity.ActivityRule(settings.alive_threshold, settings.lapsed_days)
    return activity.lapsed_mask(p_alive, recency_days, rule)


def _top_share(values: np.ndarray, share: float, among: np.ndarray) -> np.ndarray:
    """Customers of ``among`` at or above the (1 - share) quantile of ``values`` within ``among``."""
    values = np.asarray(values, dtype="float64")
    among = np.asarray(among, dtype=bool)
    if not among.any():
        return np.zeros(len(values), dtype=bool)
    return among & (values >= np.quantile(values[among], 1.0 - share))


def _select_tier(conditions: list[np.ndarray], keys: list[str], default: str, tiers: dict[str, str],
                 index: pd.Index, name: str) -> pd.Series:
    """``np.select(conditions, keys, default)`` as an ordered categorical of ``tiers``, chosen
    as integer codes (no text per customer)."""
    order = list(tiers)
    codes = np.select(conditions, [order.index(k) for k in keys], default=order.index(default))
    return pd.Series(pd.Categorical.from_codes(codes, categories=order, ordered=True), index=index, name=name)


def value_growth_tiers(
    revenue: pd.Series, clv: np.ndarray, lapsed: np.ndarray, settings: SegmentSettings
) -> pd.Series:
    """Core / potential / ordinary / sleeping by current value and predicted value.

    Sleeping: lapsed. Of the active (not lapsed) customers, *high value* = past revenue
    in their top ``high_value_share``; *high growth* = predicted CLV in their top
    ``high_clv_share``. Core: high value and high growth. Potential: high growth
    without high value (yet). Ordinary: the rest.
    """
    active = ~np.asarray(lapsed, dtype=bool)
    high_value = _top_share(revenue.to_numpy(), settings.high_value_share, active)
    high_growth = _top_share(clv, settings.high_clv_share, active)
    lapsed = np.asarray(lapsed, dtype=bool)
    return _select_tier([lapsed, high_value & high_growth, high_growth], ["sleeping", "core", "potential"],
                        "ordinary", VALUE_TIERS, revenue.index, "value_tier")


def clv_tiers(clv: pd.Series, lapsed: np.ndarray, settings: SegmentSettings) -> pd.Series:
    """High-value loyal / growing / potential / churn risk from predicted CLV and P(alive).

    Churn risk: lapsed. Of the active (not lapsed) customers: predicted CLV in their
    top ``high_clv_share`` is high-value loyal, in their top ``growing_clv_share`` (but
    not the top band) growing, the rest potential.
    """
    values = clv.to_numpy()
    active = ~np.asarray(lapsed, dtype=bool)
    return _select_tier(
        [
            np.asarray(lapsed, dtype=bool),
            _top_share(values, settings.high_clv_share, active),
            _top_share(values, settings.growing_clv_share, active),
        ],
        ["churn_risk", "high_value_loyal", "growing"],
        "potential", CLV_TIERS, clv.index, "clv_tier",
    )


def lifecycle_rules(settings: SegmentSettings):
    """The customer-base page's :class:`LifecycleRules` with this page's thresholds, so both
    pages put every customer in the same stage."""
    from helpers.studies.customer_base.analysis import LifecycleRules

    return LifecycleRules(
        new_within_days=int(settings.new_days),
        lapsing_after_days=int(settings.sleeping_days),
        churned_after_days=int(settings.lapsed_days),
        loyal_min_purchases=int(settings.loyal_min_purchases),
        loyal_window_days=int(settings.loyal_window_days),
    )


def lifecycle_stages(
    rfm: pd.DataFrame, transactions: pd.DataFrame | PurchaseDays, as_of: object, settings: SegmentSettings
) -> pd.Series:
    """New / active / loyal / lapsing (sleeping) / churned at the analysis date, by the
    customer-base page's rules (:func:`helpers.studies.customer_base.analysis.assign_stages`):
    churned: no purchase for more than ``lapsed_days`` days; lapsing: for more than
    ``sleeping_days``; new: first purchase at most ``new_days`` days ago; loyal: at least
    ``loyal_min_purchases`` purchase days in the last ``loyal_window_days``; active: the
    rest. Recency decides, not P(alive): BG/NBD calls every one-time buyer alive.
    Prospects (members who never bought) are not in transaction data. ``transactions``
    may be the :class:`PurchaseDays` of an analysis day on or after ``as_of``."""
    from helpers.studies.customer_base.analysis import assign_stages

    end = pd.Timestamp(as_of).normalize()
    days = transactions.upto(end) if isinstance(transactions, PurchaseDays) else purchase_days_by_customer(transactions, end)
    # The customer-base rules on integer codes (the same stages; no grouping by id text).
    ids = pd.Index(days.ids)
    code = id_positions(rfm.index, ids)
    facts = rfm[["recency_days", "tenure_days", "purchase_days"]].set_axis(code)
    coded = pd.DataFrame({CUSTOMER_ID: days.code, "day": days.day})
    stages = assign_stages(facts, coded, end, lifecycle_rules(settings))
    # Stage names to this page's stages by category (names outside them are missing).
    mapping = pd.Index(list(LIFECYCLE_STAGES)).get_indexer(stages.cat.categories.astype(str))
    codes = stages.cat.codes.to_numpy()
    codes = np.where(codes >= 0, mapping[np.maximum(codes, 0)], -1) if len(mapping) else np.full(len(codes), -1)
    return pd.Series(pd.Categorical.from_codes(codes, categories=list(LIFECYCLE_STAGES), ordered=True),
                     index=rfm.index, name="lifecycle")


def clv_at_risk(clv: np.ndarray, p_alive: np.ndarray) -> np.ndarray:
    """Margin lost to probable churn: CLV if the customer were surely alive, minus CLV.

    For BG/NBD, Pareto/NBD and MBG/NBD the expected purchases (hence the CLV) are
    P(alive) x the same quantity for an active customer, so the "if alive" CLV is
    CLV / P(alive) and the gap is CLV x (1 - P(alive)) / P(alive). Zero where P(alive)
    is 1 (or underflows to 0, where nothing can be said).
    """
    clv = np.asarray(clv, dtype="float64")
    p = np.asarray(p_alive, dtype="float64")
    out = np.zeros_like(clv)
    ok = p > 0
    np.divide(clv * (1.0 - p), p, out=out, where=ok)
    return out


# ---------------------------------------------------------------- the customer table


#: Columns of the CLV table (:func:`helpers.studies.clv.analysis.clv_table`) the segments use.
CLV_COLUMNS = ["p_alive", "expected_purchases", "expected_spend", "clv"]


def segment_customers(
    transactions: pd.DataFrame | PurchaseDays,
    clv_table: pd.DataFrame,
    segment_map: SegmentMap,
    as_of: object,
    settings: SegmentSettings | None = None,
) -> pd.DataFrame:
    """One row per customer at ``as_of``: RFM values and scores, map segment, P(alive),
    predicted CLV, CLV at risk, lapsed flag, value x growth tier, CLV tier, lifecycle.

    ``clv_table`` is the CLV study's per-customer table for the same transactions and
    ``observation_end == as_of``; every customer with a purchase must be in it.
    ``transactions`` may be their :class:`PurchaseDays` at ``as_of`` (computed once for
    this and :func:`segments_at`).
    """
    settings = settings or SegmentSettings()
    days = transactions if isinstance(transactions, PurchaseDays) else purchase_days_by_customer(transactions, as_of)
    rfm = customer_rfm(days, as_of, monetary=settings.monetary)
    if rfm.empty:
        raise DataError(f"no customer bought on or before the analysis date {as_of}")
    missing_cols = [c for c in CLV_COLUMNS if c not in clv_table.columns]
    if missing_cols:
        raise HelperError(f"the CLV table lacks the column(s) {', '.join(missing_cols)}")
    # The CLV rows of the customers by position: no lookup table on either million-id index.
    rows = id_positions(rfm.index, clv_table.index)
    clv = {c: np.where(rows >= 0, clv_table[c].to_numpy(dtype="float64")[rows], np.nan) for c in CLV_COLUMNS}
    absent = np.isnan(clv["clv"])
    if absent.any():
        raise HelperError(
            f"{int(absent.sum())} customers with purchases by {as_of} are not in the CLV table "
            f"(first: {rfm.index[np.argmax(absent)]!r}); run the CLV study with observation_end = the analysis date"
        )
    out = rfm  # columns added by position, not joined: every frame here has rfm's index
    for column, scores in rfm_scores(rfm, settings.ties).items():
        out[column] = scores.to_numpy()
    out["segment"] = segment_map.assign(out).array
    for column, values in clv.items():
        out[column] = values
    lapsed = lapsed_mask(out["p_alive"].to_numpy(), out["recency_days"].to_numpy(), settings)
    out["clv_at_risk"] = clv_at_risk(out["clv"].to_numpy(), out["p_alive"].to_numpy())
    out["lapsed"] = lapsed
    out["value_tier"] = value_growth_tiers(out["revenue"], out["clv"].to_numpy(), lapsed, settings)
    out["clv_tier"] = clv_tiers(out["clv"], lapsed, settings)
    out["lifecycle"] = lifecycle_stages(out, days, as_of, settings)
    return out


def segments_at(
    transactions: pd.DataFrame | PurchaseDays, segment_map: SegmentMap, as_of: object,
    settings: SegmentSettings | None = None,
) -> pd.Series:
    """Map segment of every customer who had bought by ``as_of``, scored among them
    (``transactions`` may be :class:`PurchaseDays` of a later day)."""
    settings = settings or SegmentSettings()
    rfm = customer_rfm(transactions, as_of, monetary=settings.monetary)
    return segment_map.assign(rfm_scores(rfm, settings.ties))


# ---------------------------------------------------------------------- summaries


def _weighted_share(values: pd.Series) -> pd.Series:
    total = values.sum()
    return values / total if total else values * 0.0


def group_summary(customers: pd.DataFrame, column: str) -> pd.DataFrame:
    """Size, value and RFM averages of each group of ``column`` (every category, empty
    ones included with zero counts and missing averages)."""
    grouped = customers.groupby(column, observed=False, sort=True)
    out = grouped.agg(
        customers=("purchase_days", "size"),
        revenue=("revenue", "sum"),
        recency_days=("recency_days", "mean"),
        purchase_days=("purchase_days", "mean"),
        monetary=("monetary", "mean"),
        order_value=("order_value", "mean"),
        r_score=("r_score", "mean"),
        f_score=("f_score", "mean"),
        m_score=("m_score", "mean"),
        p_alive=("p_alive", "mean"),
        expected_spend=("expected_spend", "mean"),
        expected_purchases=("expected_purchases", "sum"),
        clv=("clv", "sum"),
        clv_at_risk=("clv_at_risk", "sum"),
    )
    out["customer_share"] = _weighted_share(out["customers"].astype("float64"))
    out["revenue_share"] = _weighted_share(out["revenue"])
    out["clv_share"] = _weighted_share(out["clv"])
    out["clv_per_customer"] = out["clv"] / out["customers"].where(out["customers"] > 0)
    out.index = out.index.astype(str)
    out.index.name = column
    return out


def segment_summary(customers: pd.DataFrame, segment_map: SegmentMap) -> pd.DataFrame:
    """:func:`group_summary` by map segment, in map order, with the segment labels (in
    the map's language)."""
    out = group_summary(customers, "segment").reindex(segment_map.keys)
    out.insert(0, "label", [segment_map.labels[k] for k in out.index])
    out["customers"] = out["customers"].fillna(0).astype("int64")
    return out


def tier_summary(customers: pd.DataFrame, view: str, language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """:func:`group_summary` for a tier view (``value_growth``, ``clv`` or ``lifecycle``),
    tiers named in ``language``."""
    if view not in TIER_VIEWS:
        raise ConfigError(f"unknown tier view {view!r}; choose one of {', '.join(TIER_VIEWS)}")
    column = TIER_VIEWS[view][0]
    tiers = tier_labels(view, language)
    out = group_summary(customers, column).reindex(list(tiers))
    out.insert(0, "label", list(tiers.values()))
    out["customers"] = out["customers"].fillna(0).astype("int64")
    return out


# ---------------------------------------------------------------------- migration


def migration_matrix(before: pd.Series, after: pd.Series, segment_map: SegmentMap) -> pd.DataFrame:
    """Customers by segment at the earlier date (rows) and at the later date (columns).

    Rows: the map's segments, then :data:`NEW_CUSTOMERS` for customers who had not
    bought by the earlier date. Columns: the map's segments, plus
    :data:`GONE_CUSTOMERS` only when some earlier customers are absent later.
    """
    keys = segment_map.keys
    k = len(keys)
    b, a = _key_codes(before, keys), _key_codes(after, keys)
    b[b < 0] = k  # not a customer yet (or no segment of the map)
    a[a < 0] = k  # absent later
    # Pair every earlier customer with their later segment; later customers not matched are new.
    later = id_positions(before.index, after.index)
    matched = later >= 0
    pairs = b * (k + 1) + np.where(matched, a[np.maximum(later, 0)], k)
    new = np.ones(len(a), dtype=bool)
    new[later[matched]] = False
    pairs = np.concatenate([pairs, k * (k + 1) + a[new]])
    counts = np.bincount(pairs, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
    frame = pd.DataFrame(counts, index=keys + [NEW_CUSTOMERS], columns=keys + [GONE_CUSTOMERS])
    if frame[GONE_CUSTOMERS].sum() == 0:
        frame = frame.drop(columns=GONE_CUSTOMERS)
    frame.index.name = "from"
    frame.columns.name = "to"
    return frame


def _key_codes(values: pd.Series, keys: list[str]) -> np.ndarray:
    """Position of every value in ``keys`` (-1 when missing or not a key), from the
    categories of a categorical (no text per customer)."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        mapping = np.append(pd.Index(keys).get_indexer(values.cat.categories.astype(str)), -1)
        codes = values.cat.codes.to_numpy()
        return mapping[np.where(codes >= 0, codes, len(mapping) - 1)].astype("int64")
    return pd.Categorical(values.astype(object), categories=keys).codes.astype("int64")


def default_migration_start(observation_end: object, months: int = 6) -> str:
    """The date ``months`` months before ``observation_end`` (ISO text); a month end
    maps to a month end."""
    end = _analysis_day(observation_end, "observation_end")
    start = end - pd.DateOffset(months=months)
    if end.is_month_end:  # 30 June -> 31 December, not 30 December
        start = start + pd.offsets.MonthEnd(0)
    return start.date().isoformat()


def check_migration_dates(start: object, end: object) -> tuple[str, str]:
    """Both dates as ISO text; ConfigError unless ``start`` is before ``end``."""
    s = _analysis_day(start, "migration_from")
    e = _analysis_day(end, "observation_end")
    if s >= e:
        raise ConfigError(f"migration_from ({s.date()}) must be before observation_end ({e.date()}).")
    return s.date().isoformat(), e.date().isoformat()
