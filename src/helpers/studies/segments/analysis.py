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
language, ``{en: Champions, zh-CN: 冠军客户}`` (see :func:`localised_text`). A loaded map
is in English; :meth:`SegmentMap.localised` gives the same map in another language.
Tier names and the other words of the pages come from the ``segments`` catalog
(``helpers/locales``).
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from helpers.data.columns import AMOUNT, CUSTOMER_ID, TIMESTAMP
from helpers.errors import ConfigError, DataError, HelperError
from helpers.report.i18n import DEFAULT_LANGUAGE, LANGUAGES, normalise_language, text

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


@dataclass(frozen=True)
class SegmentSettings:
    """How customers are scored and tiered, validated on construction.

    ``alive_threshold`` and ``lapsed_days`` decide who counts as lapsed: P(alive) below
    the threshold, or no purchase for more than ``lapsed_days`` days (BG/NBD treats
    every customer without a repeat purchase as alive, so P(alive) alone cannot judge
    one-time buyers). Shares are fractions of the active (not lapsed) customers.
    """

    monetary: str = "total"
    ties: str = "shared"
    alive_threshold: float = 0.5
    lapsed_days: int = 365
    high_value_share: float = 0.2
    high_clv_share: float = 0.2
    growing_clv_share: float = 0.5
    new_days: int = 90
    loyal_min_purchases: int = 3
    #: lifecycle stages share the customer-base page's rules (one definition per concept):
    #: sleeping after ``sleeping_days`` without a purchase, churned after ``lapsed_days``,
    #: loyal with ``loyal_min_purchases`` purchase days in the last ``loyal_window_days``
    sleeping_days: int = 90
    loyal_window_days: int = 365

    def __post_init__(self) -> None:
        if self.monetary not in MONETARY_METHODS:
            raise ConfigError(
                f"monetary must be 'total' (total spend) or 'mean' (mean spend per purchase day), not {self.monetary!r}."
            )
        if self.ties not in TIE_METHODS:
            raise ConfigError(
                f"rfm_ties must be 'shared' (equal values share a score) or 'first' (equal-size quintiles, "
                f"ties broken by customer id), not {self.ties!r}."
            )
        if not 0 < self.alive_threshold < 1:
            raise ConfigError(f"alive_threshold is a probability between 0 and 1, not {self.alive_threshold!r}.")
        for name in ("lapsed_days", "new_days", "sleeping_days", "loyal_window_days"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a whole number of days >= 1, not {value!r}.")
        if (
            not isinstance(self.loyal_min_purchases, (int, np.integer))
            or isinstance(self.loyal_min_purchases, bool)
            or self.loyal_min_purchases < 2
        ):
            raise ConfigError(
                f"loyal_min_purchases must be a whole number of purchase days >= 2, not {self.loyal_min_purchases!r}."
            )
        if self.sleeping_days >= self.lapsed_days:
            raise ConfigError(
                f"sleeping_days ({self.sleeping_days}) must be smaller than lapsed_days ({self.lapsed_days}): "
                "a customer falls asleep before they lapse."
            )
        for name in ("high_value_share", "high_clv_share", "growing_clv_share"):
            value = getattr(self, name)
            if not 0 < value < 1:
                raise ConfigError(f"{name} is a fraction of customers between 0 and 1 (0.2 = top 20%), not {value!r}.")
        if self.growing_clv_share <= self.high_clv_share:
            raise ConfigError(
                f"growing_clv_share ({self.growing_clv_share}) must be larger than high_clv_share "
                f"({self.high_clv_share}): growing customers are the next band below the high-value ones."
            )


# ---------------------------------------------------------------------------- RFM


def _analysis_day(value: object, name: str) -> pd.Timestamp:
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        stamp = pd.NaT
    if pd.isna(stamp):
        raise ConfigError(f"{name} {value!r} is not a date; write it as YYYY-MM-DD.")
    return stamp.normalize()


def customer_rfm(transactions: pd.DataFrame, as_of: object, *, monetary: str = "total") -> pd.DataFrame:
    """Recency, frequency and monetary value of every customer at the end of ``as_of``.

    Only transactions on or before the analysis day count. Returns one row per customer
    who bought by then (index ``customer_id``, sorted) with ``first_purchase``,
    ``last_purchase``, ``recency_days`` (days since the last purchase), ``tenure_days``
    (days since the first), ``purchase_days`` (F), ``revenue`` (total net spend),
    ``order_value`` (revenue per purchase day) and ``monetary`` (M: revenue or
    order_value, see ``monetary``).
    """
    missing = [c for c in (CUSTOMER_ID, TIMESTAMP, AMOUNT) if c not in transactions.columns]
    if missing:
        raise DataError(f"transactions lack the column(s) {', '.join(missing)} needed for RFM scores")
    if monetary not in MONETARY_METHODS:
        raise ConfigError(f"monetary must be one of {MONETARY_METHODS}, not {monetary!r}.")
    day_end = _analysis_day(as_of, "analysis date")
    stamps = pd.to_datetime(transactions[TIMESTAMP])
    keep = (stamps < day_end + pd.Timedelta(days=1)).to_numpy()
    days = stamps[keep].dt.floor("D").to_numpy()
    frame = pd.DataFrame(
        {
            "id": transactions[CUSTOMER_ID].to_numpy()[keep],
            "day": days,
            "amount": transactions[AMOUNT].to_numpy(dtype="float64")[keep],
        }
    )
    per_day = frame.groupby(["id", "day"], sort=False, as_index=False)["amount"].sum()
    out = per_day.groupby("id", sort=True).agg(
        first_purchase=("day", "min"),
        last_purchase=("day", "max"),
        purchase_days=("day", "size"),
        revenue=("amount", "sum"),
    )
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
    v = np.asarray(values, dtype="float64")
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
        ranks = pd.Series(goodness).rank(method="min").to_numpy(dtype="int64")
    return (N_SCORES * (ranks - 1)) // n + 1


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


_TOP_KEYS = {"name", "description", "axes", "segments"}
_RANGE_RE = re.compile(r"^\s*([1-9])\s*(?:[-–]\s*([1-9]))?\s*$")


def read_yaml(path: Path, what: str) -> tuple[Any, str]:
    shown = str(path)
    if not path.is_file():
        raise ConfigError(f"{what} not found: {shown}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{shown}: not valid YAML{at}: {err.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{shown}: cannot be read: {err}") from None
    return raw, shown


def _parse_scores(value: Any, where: str) -> tuple[int, ...]:
    """Scores from ``5``, ``"4-5"`` or a list of those."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ConfigError(f"{where}: the list of scores is empty")
    scores: set[int] = set()
    for item in items:
        if isinstance(item, bool):
            raise ConfigError(f"{where}: {item!r} is not a score; use 1..5, a range such as 4-5, or a list")
        if isinstance(item, (int, np.integer)):
            low = high = int(item)
        else:
            match = _RANGE_RE.match(str(item))
            if not match:
                raise ConfigError(f"{where}: {item!r} is not a score; use 1..5, a range such as 4-5, or a list")
            low = int(match.group(1))
            high = int(match.group(2) or low)
        if not 1 <= low <= high <= N_SCORES:
            raise ConfigError(f"{where}: {item!r} is outside the scores 1..{N_SCORES} (or the range is reversed)")
        scores.update(range(low, high + 1))
    return tuple(sorted(scores))


def _text(entry: dict, key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: '{key}' is missing or not text")
    return " ".join(value.split())


#: A space between two Chinese characters (or full-width punctuation) left by a YAML line break.
_CJK_GAP = re.compile(r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]) (?=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])")


def clean_text(value: str) -> str:
    """Whitespace collapsed to single spaces, none left between two Chinese characters."""
    return _CJK_GAP.sub("", " ".join(value.split()))


def _one_text(value: Any, where: str, many: bool) -> str | tuple[str, ...]:
    if many:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value:
            raise ConfigError(f"{where} must be a non-empty list of text")
        return tuple(_one_text(v, f"{where}[{i}]", False) for i, v in enumerate(value))  # type: ignore[misc]
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be non-empty text, got {value!r}")
    return clean_text(value)


def localised_text(value: Any, where: str, *, many: bool = False) -> dict[str, Any]:
    """A text of a config file in every page language, by language code.

    ``value`` is the text itself, used in every language, or a mapping by language,
    ``{en: Champions, zh-CN: 冠军客户}`` (``zh`` and the other spellings of
    :func:`helpers.report.i18n.normalise_language` are accepted). A language the mapping leaves
    out uses the English text, or the first one given. With ``many`` the text is a
    non-empty list of texts (a single text counts as a list of one), per language.
    Every problem is a :class:`ConfigError` starting with ``where``.
    """
    if not isinstance(value, dict):
        same = _one_text(value, where, many)
        return {lang: same for lang in LANGUAGES}
    if not value:
        raise ConfigError(f"{where}: the mapping of languages is empty; write the text, or {{en: ..., zh-CN: ...}}")
    given: dict[str, Any] = {}
    for name, item in value.items():
        try:
            code = normalise_language(str(name))
        except ConfigError:
            raise ConfigError(
                f"{where}: {name!r} is not a page language; use {', '.join(LANGUAGES)} as keys, "
                "or write one text for every language"
            ) from None
        if code in given:
            raise ConfigError(f"{where}: the language {code} is given twice")
        given[code] = _one_text(item, f"{where}.{name}", many)
    fallback = given.get(DEFAULT_LANGUAGE, next(iter(given.values())))
    return {lang: given.get(lang, fallback) for lang in LANGUAGES}


def optional_localised_text(raw: dict, key: str, default: str, shown: str) -> dict[str, str]:
    """``raw[key]`` of a config file by language (:func:`localised_text`); ``default`` when
    absent, empty texts when empty."""
    value = raw.get(key, default)
    if value is None or value == "":
        return {lang: "" for lang in LANGUAGES}
    if not isinstance(value, (str, dict)):
        raise ConfigError(f"{shown}: '{key}' must be text (or a mapping by language such as {{en: ..., zh-CN: ...}})")
    return localised_text(value, f"{shown}: {key}")


def load_segment_map(path: str | Path) -> SegmentMap:
    """Read and validate a segment map (YAML); every problem is a :class:`ConfigError`
    naming the file.

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
    language (:func:`localised_text`); the map returned is in English, its other
    languages through :meth:`SegmentMap.localised`.
    """
    path = Path(path)
    raw, shown = read_yaml(path, "segment map")
    if not isinstance(raw, dict) or "segments" not in raw:
        raise ConfigError(f"{shown}: expected a mapping with a 'segments' list (and optional name, description, axes)")
    unknown = sorted(set(map(str, raw)) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{shown}: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(_TOP_KEYS))})")
    axes_raw = raw.get("axes", ["R", "F"])
    if (
        not isinstance(axes_raw, list)
        or not axes_raw
        or any(not isinstance(a, str) or a.upper() not in AXES for a in axes_raw)
        or len({a.upper() for a in axes_raw}) != len(axes_raw)
    ):
        raise ConfigError(f"{shown}: 'axes' must list some of R, F, M once each, e.g. [R, F]; got {axes_raw!r}")
    axes = tuple(a.upper() for a in axes_raw)
    segments_raw = raw["segments"]
    if not isinstance(segments_raw, list) or not segments_raw:
        raise ConfigError(f"{shown}: 'segments' must be a list with at least one segment")

    segments: list[Segment] = []
    texts: list[tuple[dict[str, str], dict[str, str]]] = []  # label and definition by language, per segment
    seen: dict[str, int] = {}
    shape = (N_SCORES,) * len(axes)
    owners: dict[tuple[int, ...], list[str]] = {}
    for i, entry in enumerate(segments_raw):
        where = f"{shown}: segments[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping with key, label, definition and scores")
        if isinstance(entry.get("key"), str):
            where += f" ({entry['key']})"
        allowed = {"key", "label", "definition", "cells"} | {a.lower() for a in axes}
        unknown = sorted(set(map(str, entry)) - allowed)
        if unknown:
            raise ConfigError(f"{where}: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(allowed))})")
        key = _text(entry, "key", where)
        if not KEY_RE.match(key):
            raise ConfigError(f"{where}: key {key!r} may only use lower-case letters, digits and '_' (it names files)")
        if key in seen:
            raise ConfigError(f"{where}: key '{key}' is already used by segments[{seen[key]}]")
        seen[key] = i
        for name in ("label", "definition"):
            if entry.get(name) is None or entry.get(name) == "":
                raise ConfigError(f"{where}: '{name}' is missing or not text")
        label = localised_text(entry["label"], f"{where}: label")
        definition = localised_text(entry["definition"], f"{where}: definition")
        texts.append((label, definition))
        ranges = {a: entry[a.lower()] for a in axes if a.lower() in entry}
        if "cells" in entry:
            if ranges:
                raise ConfigError(f"{where}: give either 'cells' or score ranges ({', '.join(a.lower() for a in axes)}), not both")
            cells_raw = entry["cells"]
            if not isinstance(cells_raw, list) or not cells_raw:
                raise ConfigError(f"{where}: 'cells' must be a list of [{', '.join(axes)}] score lists")
            cells = []
            for cell in cells_raw:
                if (
                    not isinstance(cell, list)
                    or len(cell) != len(axes)
                    or any(isinstance(s, bool) or not isinstance(s, int) or not 1 <= s <= N_SCORES for s in cell)
                ):
                    raise ConfigError(
                        f"{where}: cell {cell!r} is not a list of {len(axes)} scores 1..{N_SCORES} ([{', '.join(axes)}])"
                    )
                cells.append(tuple(cell))
            scores: dict[str, tuple[int, ...]] = {}
        else:
            scores = {
                a: _parse_scores(ranges[a], f"{where}: {a.lower()}") if a in ranges else tuple(range(1, N_SCORES + 1))
                for a in axes
            }
            cells = list(itertools.product(*(scores[a] for a in axes)))
        cells = sorted(set(cells))
        for cell in cells:
            owners.setdefault(cell, []).append(key)
        segments.append(Segment(key, label[DEFAULT_LANGUAGE], definition[DEFAULT_LANGUAGE], tuple(cells), scores))

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
    name = optional_localised_text(raw, "name", path.stem, shown)
    description = optional_localised_text(raw, "description", "", shown)
    versions: dict[str, SegmentMap] = {}
    for lang in LANGUAGES:  # the same map with its texts in each language
        versions[lang] = SegmentMap(
            path=shown,
            name=name[lang],
            description=description[lang],
            axes=axes,
            segments=tuple(
                Segment(seg.key, label[lang], definition[lang], seg.cells, seg.scores)
                for seg, (label, definition) in zip(segments, texts)
            ),
            lookup=lookup,
            language=lang,
            versions=versions,
        )
    return versions[DEFAULT_LANGUAGE]


# -------------------------------------------------------------------------- tiers


def lapsed_mask(p_alive: np.ndarray, recency_days: np.ndarray, settings: SegmentSettings) -> np.ndarray:
    """Customers counted as lapsed: P(alive) below the threshold, or no purchase for
    more than ``lapsed_days`` days."""
    return (np.asarray(p_alive) < settings.alive_threshold) | (np.asarray(recency_days) > settings.lapsed_days)


def _top_share(values: np.ndarray, share: float, among: np.ndarray) -> np.ndarray:
    """Customers of ``among`` at or above the (1 - share) quantile of ``values`` within ``among``."""
    values = np.asarray(values, dtype="float64")
    among = np.asarray(among, dtype=bool)
    if not among.any():
        return np.zeros(len(values), dtype=bool)
    return among & (values >= np.quantile(values[among], 1.0 - share))


def _categorical(keys: np.ndarray, tiers: dict[str, str], index: pd.Index, name: str) -> pd.Series:
    return pd.Series(pd.Categorical(keys, categories=list(tiers), ordered=True), index=index, name=name)


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
    keys = np.select(
        [lapsed, high_value & high_growth, high_growth],
        ["sleeping", "core", "potential"],
        default="ordinary",
    )
    return _categorical(keys, VALUE_TIERS, revenue.index, "value_tier")


def clv_tiers(clv: pd.Series, lapsed: np.ndarray, settings: SegmentSettings) -> pd.Series:
    """High-value loyal / growing / potential / churn risk from predicted CLV and P(alive).

    Churn risk: lapsed. Of the active (not lapsed) customers: predicted CLV in their
    top ``high_clv_share`` is high-value loyal, in their top ``growing_clv_share`` (but
    not the top band) growing, the rest potential.
    """
    values = clv.to_numpy()
    active = ~np.asarray(lapsed, dtype=bool)
    keys = np.select(
        [
            lapsed,
            _top_share(values, settings.high_clv_share, active),
            _top_share(values, settings.growing_clv_share, active),
        ],
        ["churn_risk", "high_value_loyal", "growing"],
        default="potential",
    )
    return _categorical(keys, CLV_TIERS, clv.index, "clv_tier")


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
    rfm: pd.DataFrame, transactions: pd.DataFrame, as_of: object, settings: SegmentSettings
) -> pd.Series:
    """New / active / loyal / lapsing (sleeping) / churned at the analysis date, by the
    customer-base page's rules (:func:`helpers.studies.customer_base.analysis.assign_stages`):
    churned: no purchase for more than ``lapsed_days`` days; lapsing: for more than
    ``sleeping_days``; new: first purchase at most ``new_days`` days ago; loyal: at least
    ``loyal_min_purchases`` purchase days in the last ``loyal_window_days``; active: the
    rest. Recency decides, not P(alive): BG/NBD calls every one-time buyer alive.
    Prospects (members who never bought) are not in transaction data."""
    from helpers.studies.customer_base.analysis import assign_stages, purchase_days

    end = pd.Timestamp(as_of).normalize()
    days = purchase_days(transactions)
    days = days[days["day"] <= end]
    stages = assign_stages(rfm[["recency_days", "tenure_days", "purchase_days"]], days, end, lifecycle_rules(settings))
    return _categorical(stages.astype(str).to_numpy(), LIFECYCLE_STAGES, rfm.index, "lifecycle")


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
    transactions: pd.DataFrame,
    clv_table: pd.DataFrame,
    segment_map: SegmentMap,
    as_of: object,
    settings: SegmentSettings | None = None,
) -> pd.DataFrame:
    """One row per customer at ``as_of``: RFM values and scores, map segment, P(alive),
    predicted CLV, CLV at risk, lapsed flag, value x growth tier, CLV tier, lifecycle.

    ``clv_table`` is the CLV study's per-customer table for the same transactions and
    ``observation_end == as_of``; every customer with a purchase must be in it.
    """
    settings = settings or SegmentSettings()
    rfm = customer_rfm(transactions, as_of, monetary=settings.monetary)
    if rfm.empty:
        raise DataError(f"no customer bought on or before the analysis date {as_of}")
    missing_cols = [c for c in CLV_COLUMNS if c not in clv_table.columns]
    if missing_cols:
        raise HelperError(f"the CLV table lacks the column(s) {', '.join(missing_cols)}")
    clv = clv_table[CLV_COLUMNS].reindex(rfm.index)
    absent = clv["clv"].isna()
    if absent.any():
        raise HelperError(
            f"{int(absent.sum())} customers with purchases by {as_of} are not in the CLV table "
            f"(first: {absent[absent].index[0]!r}); run the CLV study with observation_end = the analysis date"
        )
    out = rfm.join(rfm_scores(rfm, settings.ties))
    out["segment"] = segment_map.assign(out)
    out = out.join(clv)
    lapsed = lapsed_mask(out["p_alive"].to_numpy(), out["recency_days"].to_numpy(), settings)
    out["clv_at_risk"] = clv_at_risk(out["clv"].to_numpy(), out["p_alive"].to_numpy())
    out["lapsed"] = lapsed
    out["value_tier"] = value_growth_tiers(out["revenue"], out["clv"].to_numpy(), lapsed, settings)
    out["clv_tier"] = clv_tiers(out["clv"], lapsed, settings)
    out["lifecycle"] = lifecycle_stages(out, transactions, as_of, settings)
    return out


def segments_at(
    transactions: pd.DataFrame, segment_map: SegmentMap, as_of: object, settings: SegmentSettings | None = None
) -> pd.Series:
    """Map segment of every customer who had bought by ``as_of``, scored among them."""
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
    ids = before.index.union(after.index)
    b = pd.Categorical(before.reindex(ids).astype(object), categories=keys).codes.astype("int64")
    a = pd.Categorical(after.reindex(ids).astype(object), categories=keys).codes.astype("int64")
    b[b < 0] = k  # not a customer yet
    a[a < 0] = k  # absent later
    counts = np.bincount(b * (k + 1) + a, minlength=(k + 1) ** 2).reshape(k + 1, k + 1)
    frame = pd.DataFrame(counts, index=keys + [NEW_CUSTOMERS], columns=keys + [GONE_CUSTOMERS])
    if frame[GONE_CUSTOMERS].sum() == 0:
        frame = frame.drop(columns=GONE_CUSTOMERS)
    frame.index.name = "from"
    frame.columns.name = "to"
    return frame


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
