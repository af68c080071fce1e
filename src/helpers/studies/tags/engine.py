"""The tag engine: tags defined in YAML (``playbooks/tags.yaml``), computed as of any date.

Four kinds of tag, each a yes/no per customer:

- ``rule``: a bound on a per-customer aggregate over a trailing window, e.g. purchase days
  in the last 90 days >= 3 (metrics: :data:`METRICS`), or an attribute in a list
  (``attribute: age_band``, ``in: [18-24]``).
- ``behaviour``: a burst of events, e.g. >= 3 views of one category within 7 days in the
  last 90 days, optionally "without a purchase of that category since the burst began";
  ``per_category: true`` makes one tag per category (column ``<id>:<category>``).
- ``model``: a column of a model table (RFM segment, CLV tier, lifecycle stage, P(alive),
  next-best category) in a list or between bounds; ``per_value: true`` makes one tag per value.
- ``derived``: ``all`` / ``any`` / ``none`` of other tags (AND / OR / NOT); a per-category tag
  named without its category means "any category".

Dynamic: :meth:`TagInputs.tags_at` uses only rows up to the end of the given day (windows
end there, customers exist once they joined or first acted), so a customer's tags on date D
are what the team could have known on D. Every computation is a filter plus ``bincount`` or a
sorted search over arrays prepared once (no loop per customer): the loops run over tags.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import (
    AfterValidator,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from helpers.data.columns import (
    AMOUNT,
    CATEGORY,
    CHANNEL,
    CUSTOMER_ID,
    ORDER_ID,
    TIMESTAMP,
)
from helpers.data.loading import timestamp_or_error
from helpers.errors import (
    MISSING,
    ConfigError,
    ConfigModel,
    check_kind_keys,
    located,
    validate_config,
)
from helpers.files import read_yaml
from helpers.report.i18n import Text, by_language, normalise_language

KINDS = ("rule", "behaviour", "model", "derived")
#: Rule metrics, per customer over the window (days ending on the as-of date).
METRICS: tuple[str, ...] = (
    "purchase_days", "orders", "spend", "avg_order_value", "channels", "online_order_share",
    "discount_share", "discount_depth", "promotion_order_share", "festival_order_share", "promotion_score",
    "days_since_last_purchase", "days_since_first_purchase", "days_to_birthday", "events",
)
#: Metrics that need at least one order in the window to be defined (others are 0 without orders).
RATIO_METRICS = ("avg_order_value", "online_order_share", "discount_share", "discount_depth",
                 "promotion_order_share", "festival_order_share", "promotion_score")
#: Metrics that need the transactions' promotion / discount column.
PROMOTION_METRICS = ("promotion_order_share", "festival_order_share", "promotion_score")
DISCOUNT_METRICS = ("discount_share", "discount_depth")
#: Promotion codes that count as the big festivals (buying "only in big promotions").
FESTIVALS = ("618", "double11")
#: Prior weight (in orders) of the promotion-dependence score's shrinkage to the base rate.
SCORE_PRIOR_ORDERS = 2.0
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
NS_DAY = 86_400 * 10**9


# ------------------------------------------------------------------------ definitions


@dataclass(frozen=True)
class TagDef:
    """One tag of the library."""

    id: str
    kind: str
    group: str
    name: dict
    definition: dict
    params: dict = field(default_factory=dict)

    @property
    def expands(self) -> bool:
        return bool(self.params.get("per_category") or self.params.get("per_value"))


@dataclass(frozen=True)
class TagLibrary:
    tags: tuple[TagDef, ...]
    path: str = ""
    #: group id -> name by language
    groups: dict = field(default_factory=dict)

    def get(self, tag_id: str) -> TagDef:
        for t in self.tags:
            if t.id == tag_id:
                return t
        raise KeyError(tag_id)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.tags)


_COMMON = ("id", "kind", "group", "name", "definition")
_ALLOWED = {
    "rule": ("metric", "window_days", "min", "max", "min_orders", "event", "attribute", "in"),
    "behaviour": ("event", "min_count", "within_days", "lookback_days", "per_category", "without_purchase", "category"),
    "model": ("column", "in", "min", "max", "per_value"),
    "derived": ("all", "any", "none"),
}


def _values(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise ValueError("expected a non-empty list")
    if any(isinstance(v, (dict, list)) or v is None for v in value):
        raise ValueError("expected a list of values (text or numbers)")
    return tuple(str(v) for v in value)


def _events(value: Any) -> tuple[str, ...]:
    """``view`` or ``[view, add_to_cart]`` (a rule's ``event`` may list several separated by spaces)."""
    if isinstance(value, str) and value.strip():
        return (value,)
    return _values(value)


_SCALAR = {"type": ["string", "number", "boolean"]}
#: A non-empty list of values (text or numbers), validated to a tuple of text.
Values = Annotated[Any, AfterValidator(_values), WithJsonSchema({"type": "array", "items": _SCALAR, "minItems": 1})]
#: One event type or a list of them.
Events = Annotated[Any, AfterValidator(_events), WithJsonSchema(
    {"anyOf": [{"type": "string", "minLength": 1}, {"type": "array", "items": {"type": "string"}, "minItems": 1}]})]
Days = Annotated[int, Field(ge=1)]
Bound = Annotated[float, Field(allow_inf_nan=False)]


def _tag_id(value: str) -> str:
    if not _ID.match(value):
        raise ValueError("use lower-case letters, digits and _, starting with a letter")
    return value


class TagEntry(ConfigModel):
    """One tag of ``playbooks/tags.yaml``: the common keys and its kind's own keys (see the file's header)."""

    id: Annotated[str, AfterValidator(_tag_id)]
    kind: Literal["rule", "behaviour", "model", "derived"]
    group: str = "other"  #: one of the file's groups
    name: Text
    definition: Text  #: shown on the page: state the thresholds in it
    # rule
    metric: str | None = None  #: one of METRICS
    window_days: Days | None = None  #: days ending on the as-of date (365)
    min: Bound | None = None
    max: Bound | None = None
    min_orders: Annotated[int, Field(ge=0)] | None = None  #: orders in the window the metric needs (0)
    event: Events | None = None  #: event type(s): a rule's events metric, a behaviour tag's burst (view)
    attribute: str | None = None  #: a customer attribute (with in)
    in_: Values | None = Field(None, alias="in")  #: values of the attribute or model column
    # behaviour
    min_count: Days | None = None  #: events within within_days (3)
    within_days: Days | None = None  #: (7)
    lookback_days: Days | None = None  #: in the last this many days (90)
    per_category: bool = False  #: one tag per category
    without_purchase: bool = False  #: and no purchase of the category since the burst began
    category: str | None = None
    # model
    column: str | None = None  #: a column of the model table (segment, clv_tier, lifecycle, p_alive, ...)
    per_value: bool = False  #: one tag per value of the column
    # derived
    all: Values | None = None  #: tags defined above that must all hold (AND)
    any: Values | None = None  #: tags defined above of which one must hold (OR)
    none: Values | None = None  #: tags defined above that must not hold (NOT)

    @model_validator(mode="before")
    @classmethod
    def _kind_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            check_kind_keys(data, _ALLOWED, _COMMON, "tag")
        return data

    @model_validator(mode="after")
    def _complete(self) -> TagEntry:
        if self.kind == "rule":
            if (self.metric is None) == (self.attribute is None):
                raise located("metric", self.metric if self.metric is not None else MISSING,
                              "a rule tag needs either metric (with min and/or max) or attribute (with in)")
            if self.attribute is not None and self.in_ is None:
                raise located("in", MISSING, "an attribute rule needs in, the list of values")
            if self.metric is not None:
                if self.metric not in METRICS:
                    raise located("metric", self.metric, f"not a known metric; use one of {', '.join(METRICS)}")
                if self.min is None and self.max is None:
                    raise located("min", MISSING, "a metric rule needs min and/or max")
                if self.metric == "events" and self.event is None:
                    raise located("event", MISSING, "metric events needs event (e.g. coupon_claim)")
        elif self.kind == "behaviour":
            if self.without_purchase and not self.per_category and self.category is None:
                raise located("without_purchase", True, "needs per_category: true or a category")
        elif self.kind == "model":
            if self.column is None:
                raise located("column", MISSING, "a model tag needs column (a column of the model table, e.g. segment)")
            if self.in_ is None and self.min is None and self.max is None and not self.per_value:
                raise located("in", MISSING, "a model tag needs in, min/max or per_value: true")
        elif not (self.all or self.any):
            raise located("all", MISSING, "a derived tag needs all and/or any (and may add none)")
        return self

    def params(self) -> dict[str, Any]:
        """The kind's parameters, defaults filled in (what :class:`TagDef` holds)."""
        if self.kind == "rule":
            if self.attribute is not None:
                return {"attribute": self.attribute, "in": self.in_}
            p: dict[str, Any] = {"metric": self.metric, "window_days": 365 if self.window_days is None else self.window_days,
                                 "min": self.min, "max": self.max, "min_orders": self.min_orders or 0}
            if self.metric == "events":
                p["event"] = tuple(e for item in self.event for e in item.split())
            return p
        if self.kind == "behaviour":
            return {"event": self.event or ("view",), "min_count": 3 if self.min_count is None else self.min_count,
                    "within_days": 7 if self.within_days is None else self.within_days,
                    "lookback_days": 90 if self.lookback_days is None else self.lookback_days,
                    "per_category": self.per_category, "without_purchase": self.without_purchase, "category": self.category}
        if self.kind == "model":
            return {"column": self.column, "in": self.in_, "min": self.min, "max": self.max, "per_value": self.per_value}
        return {"all": self.all or (), "any": self.any or (), "none": self.none or ()}


class TagsFile(ConfigModel):
    """``playbooks/tags.yaml``: the groups and the tags, in the order pages show them."""

    groups: dict[str, Text] | None = None  #: group id -> name
    tags: list[TagEntry]

    @field_validator("tags")
    @classmethod
    def _some(cls, tags: list) -> list:
        if not tags:
            raise ValueError("expected at least one tag")
        return tags

    @model_validator(mode="after")
    def _consistent(self) -> TagsFile:
        seen: set[str] = set()
        for i, t in enumerate(self.tags):  # a few dozen tags
            if self.groups and t.group not in self.groups:
                raise located(f"tags[{i}].group", t.group, f"not one of the groups {', '.join(self.groups)}")
            if t.id in seen:
                raise located(f"tags[{i}].id", t.id, "another tag has the same id")
            if t.kind == "derived":  # derived tags may only use tags defined before them (no cycles)
                for key in ("all", "any", "none"):
                    ref = next((r for r in getattr(t, key) or () if r.split(":")[0] not in seen), None)
                    if ref is not None:
                        raise located(f"tags[{i}].{key}", list(getattr(t, key)),
                                      f"uses '{ref}', which is not a tag defined above it")
            seen.add(t.id)
        return self


def library_from_mapping(raw: Any, shown: str = "<tags>") -> TagLibrary:
    """Validate a parsed tag library (:class:`TagsFile`); a problem is one :class:`ConfigError`
    line ``shown: tags[3].key = value: what is wrong``."""
    model = validate_config(TagsFile, raw, shown)
    groups = {str(key): by_language(value) for key, value in (model.groups or {}).items()}
    tags = tuple(TagDef(t.id, t.kind, t.group, by_language(t.name), by_language(t.definition), t.params())
                 for t in model.tags)
    return TagLibrary(tags, shown, groups)


def load_library(path: str | Path) -> TagLibrary:
    """Read ``playbooks/tags.yaml`` (or another tag library)."""
    shown = str(path)
    return library_from_mapping(read_yaml(Path(path), "tag library", shown), shown)


def tag_name(library: TagLibrary, column: str, language: str = "en", category_names: Mapping | None = None) -> str:
    """Reader name of a tag column; ``<id>:<value>`` columns read "<name>: <value>"."""
    language = normalise_language(language)
    base, _, value = column.partition(":")
    name = library.get(base).name[language]
    if not value:
        return name
    shown = (category_names or {}).get(value, value)
    return f"{name}：{shown}" if language == "zh-CN" else f"{name}: {shown}"


# ---------------------------------------------------------------------------- inputs


def _lookup(values, sorted_uniques: np.ndarray) -> np.ndarray:
    """Position of each value in ``sorted_uniques`` (hash the values, search only the distinct ones)."""
    codes, uniques = pd.factorize(pd.Series(values).astype(str), sort=False)
    pos = np.searchsorted(sorted_uniques, np.asarray(uniques, dtype=object).astype(str))
    return pos[codes]


def _ns(values) -> np.ndarray:
    return pd.to_datetime(values).to_numpy().astype("datetime64[ns]").astype(np.int64)


def _end_ns(as_of: object) -> int:
    """First instant after the as-of day (a date means its whole day)."""
    day = timestamp_or_error(as_of, f"the tag date {as_of!r} is not a date (use YYYY-MM-DD)")
    return int(day.normalize().value) + NS_DAY


class TagInputs:
    """A retailer's tables prepared once for computing tags at many dates.

    ``transactions``: canonical transactions (``customer_id, timestamp, amount`` and
    optionally ``order_id, channel, category, discount, promotion``; returns removed).
    ``events``: behaviour events (``customer_id, timestamp, event_type``, optional
    ``category``). ``customers``: one row per customer with ``join_date`` and attributes
    (``age_band``, ``region``, ``city_tier``, ``birth_month``, ``birth_day`` ...).
    ``models``: a model table indexed by customer id, or a function of the as-of date
    returning one (so model tags are as of the date too).
    """

    def __init__(
        self,
        transactions: pd.DataFrame,
        events: pd.DataFrame | None = None,
        customers: pd.DataFrame | None = None,
        models: pd.DataFrame | Callable[[pd.Timestamp], pd.DataFrame] | None = None,
        *,
        online_channels: tuple[str, ...] | None = None,
    ) -> None:
        tx = transactions
        frames = [tx[CUSTOMER_ID]]
        if events is not None:
            frames.append(events[CUSTOMER_ID])
        if customers is not None:
            frames.append(customers[CUSTOMER_ID])
        self.index = pd.Index(pd.unique(pd.concat(frames, ignore_index=True).astype(str)), name=CUSTOMER_ID).sort_values()
        self.ids = self.index.to_numpy(dtype=object)
        self.n = len(self.ids)
        self.models = models
        code = self.index.get_indexer(tx[CUSTOMER_ID].astype(str))
        ts = _ns(tx[TIMESTAMP])
        amount = tx[AMOUNT].to_numpy(dtype=float)
        discount = tx["discount"].fillna(0).to_numpy(dtype=float) if "discount" in tx else np.zeros(len(tx))
        self.has_discount = "discount" in tx
        self.has_promotion = "promotion" in tx
        # orders: order_id when given, else one order per customer and timestamp
        if ORDER_ID in tx and tx[ORDER_ID].notna().all():
            okey = pd.factorize(tx[ORDER_ID].astype(str))[0]
        else:
            okey = pd.factorize(pd.MultiIndex.from_arrays([code, ts]))[0]
        n_orders = int(okey.max()) + 1 if len(okey) else 0
        # factorize numbers orders by first appearance: a row is an order's first where its code is new
        first_row = np.flatnonzero(okey > np.maximum.accumulate(np.r_[-1, okey[:-1]]))
        # text columns: factorize (hash) and decide per distinct value, never per row of objects
        if self.has_promotion:
            p_codes, p_names = pd.factorize(tx["promotion"].fillna("").astype(str).str.strip())
            p_names = np.asarray(p_names, dtype=object).astype(str)
        else:
            p_codes, p_names = np.zeros(len(tx), np.int64), np.array([""])
        if CHANNEL in tx:
            ch_codes, self.channel_names = pd.factorize(tx[CHANNEL].fillna("").astype(str))
        else:
            ch_codes, self.channel_names = np.zeros(len(tx), np.int64), pd.Index([""])
        names = np.asarray(self.channel_names, dtype=object).astype(str)
        is_online = np.isin(names, online_channels) if online_channels is not None else (names != "") & (names != "store")
        self.o_code = code[first_row]
        self.o_ts = ts[first_row]
        self.o_amount = np.bincount(okey, weights=amount, minlength=n_orders)
        self.o_discount = np.bincount(okey, weights=discount, minlength=n_orders)
        self.o_promo = (p_names != "")[p_codes[first_row]]
        self.o_festival = np.isin(p_names, FESTIVALS)[p_codes[first_row]]
        self.o_channel = ch_codes[first_row]
        self.o_online = is_online[self.o_channel]
        self.o_day = self.o_ts // NS_DAY
        # the first order of each customer-day: purchase days in a window (windows are whole days)
        rel_day = self.o_day - (self.o_day.min() if n_orders else 0)
        day_key = self.o_code.astype(np.int64) * (int(rel_day.max(initial=0)) + 1) + rel_day
        day_order = np.argsort(day_key, kind="stable")
        first_of_day = np.ones(n_orders, bool)
        sorted_key = day_key[day_order]
        first_of_day[day_order[1:][sorted_key[1:] == sorted_key[:-1]]] = False
        self.o_first_of_day = first_of_day
        # purchase lines by category, for "without purchase"
        self.categories = (np.sort(pd.unique(tx[CATEGORY].dropna().astype(str))) if CATEGORY in tx else np.array([], dtype=str))
        if events is not None and CATEGORY in events:
            ev_cats = events[CATEGORY].replace("", np.nan).dropna().astype(str)
            self.categories = np.union1d(self.categories, pd.unique(ev_cats))
        k = max(len(self.categories), 1)
        self.k = k
        if CATEGORY in tx:
            known = tx[CATEGORY].notna().to_numpy()
            ccode = _lookup(tx[CATEGORY], self.categories)
            self.l_pair = (code * k + np.minimum(ccode, k - 1))[known]
            self.l_ts = ts[known]
        else:
            self.l_pair, self.l_ts = np.zeros(0, np.int64), np.zeros(0, np.int64)
        # events sorted by (customer, category, time)
        if events is not None and len(events):
            e_code = self.index.get_indexer(events[CUSTOMER_ID].astype(str))
            e_ts = _ns(events[TIMESTAMP])
            if CATEGORY in events:
                c_codes, c_names = pd.factorize(events[CATEGORY].fillna("").astype(str))
                c_names = np.asarray(c_names, dtype=object).astype(str)
                pos = np.where(c_names != "", np.minimum(np.searchsorted(self.categories, c_names), k - 1), k)
                e_ccode = pos[c_codes]
            else:
                e_ccode = np.full(len(events), k)
            e_type, self.e_types = pd.factorize(events["event_type"].astype(str))
            self.e_types = np.asarray(self.e_types, dtype=object).astype(str)
            rel = (e_ts - e_ts.min()) // 10**9  # seconds: one int64 key sorts by customer, category, time
            e_key = (e_code.astype(np.int64) * (k + 1) + e_ccode) * (int(rel.max()) + 1) + rel
            order = np.argsort(e_key, kind="stable")
            self.e_code, self.e_ts, self.e_cat, self.e_type = e_code[order], e_ts[order], e_ccode[order], e_type[order]
        else:
            self.e_types = np.array([], dtype=str)
            self.e_code = self.e_ts = self.e_cat = self.e_type = np.zeros(0, np.int64)
        self._event_rows: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}  # see _events_in
        # customers: join day and attributes
        self.join_ns = np.full(self.n, np.iinfo(np.int64).max)
        first_tx = np.full(self.n, np.iinfo(np.int64).max)
        first_tx[:] = pd.Series(ts).groupby(code).min().reindex(range(self.n), fill_value=first_tx[0]).to_numpy()
        self.attributes: dict[str, np.ndarray] = {}
        if customers is not None:
            c_code = self.index.get_indexer(customers[CUSTOMER_ID].astype(str))
            if "join_date" in customers:
                j = customers["join_date"]
                ok = j.notna().to_numpy()
                self.join_ns[c_code[ok]] = _ns(j[ok])
            for col in customers.columns:
                if col in (CUSTOMER_ID, "join_date"):
                    continue
                values = np.full(self.n, None, dtype=object)
                values[c_code] = customers[col].to_numpy(dtype=object)
                self.attributes[col] = values
        self.first_ns = np.minimum(first_tx, self.join_ns)
        if len(self.e_code):
            first_ev = np.full(self.n, np.iinfo(np.int64).max)
            first_ev[:] = pd.Series(self.e_ts).groupby(self.e_code).min().reindex(range(self.n), fill_value=first_ev[0]).to_numpy()
            self.first_ns = np.minimum(self.first_ns, first_ev)
        self.first_purchase_ns = first_tx

    # ------------------------------------------------------------------ metrics

    def _orders_in(self, end: int, window_days: int | None) -> np.ndarray:
        mask = self.o_ts < end
        if window_days is not None:
            mask &= self.o_ts >= end - window_days * NS_DAY
        return mask

    def metric(self, name: str, end: int, window_days: int, *, event: tuple[str, ...] = (), cache: dict | None = None) -> np.ndarray:
        """Per-customer value of a rule metric for the window ending at ``end`` (ns, exclusive);
        NaN where it is not defined (a ratio without orders, a birthday not known)."""
        key = (name, end, window_days, event)
        if cache is not None and key in cache:
            return cache[key]
        n = self.n
        m = self._orders_in(end, window_days)
        code = self.o_code[m]
        orders = np.bincount(code, minlength=n).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            if name == "orders":
                out = orders
            elif name == "purchase_days":
                out = np.bincount(code, weights=self.o_first_of_day[m], minlength=n)
            elif name == "spend":
                out = np.bincount(code, weights=self.o_amount[m], minlength=n)
            elif name == "avg_order_value":
                out = np.bincount(code, weights=self.o_amount[m], minlength=n) / orders
            elif name == "channels":
                c = max(len(self.channel_names), 1)
                seen = np.bincount(code.astype(np.int64) * c + self.o_channel[m], minlength=n * c) > 0
                out = seen.reshape(n, c).sum(axis=1).astype(float)
            elif name == "online_order_share":
                out = np.bincount(code, weights=self.o_online[m], minlength=n) / orders
            elif name == "discount_share":
                at_discount = self.o_amount[m] * (self.o_discount[m] > 0.005)
                out = np.bincount(code, weights=at_discount, minlength=n) / np.bincount(code, weights=self.o_amount[m], minlength=n)
            elif name == "discount_depth":
                disc = np.bincount(code, weights=self.o_discount[m], minlength=n)
                out = disc / (disc + np.bincount(code, weights=self.o_amount[m], minlength=n))
            elif name == "promotion_order_share":
                out = np.bincount(code, weights=self.o_promo[m], minlength=n) / orders
            elif name == "festival_order_share":
                out = np.bincount(code, weights=self.o_festival[m], minlength=n) / orders
            elif name == "promotion_score":
                k = np.bincount(code, weights=self.o_promo[m], minlength=n)
                base = self.o_promo[m].mean() if m.any() else 0.0
                out = (k + SCORE_PRIOR_ORDERS * base) / (orders + SCORE_PRIOR_ORDERS)
                out[orders == 0] = np.nan
            elif name == "days_since_last_purchase":
                last = pd.Series(self.o_ts[m]).groupby(code).max().reindex(range(n), fill_value=np.iinfo(np.int64).min).to_numpy()
                out = np.where(orders > 0, (end - 1 - last) // NS_DAY, np.nan).astype(float)
            elif name == "days_since_first_purchase":
                first = np.where(self.first_purchase_ns < end, self.first_purchase_ns, np.iinfo(np.int64).max)
                out = np.where(first < end, (end - 1 - first) // NS_DAY, np.nan).astype(float)
            elif name == "days_to_birthday":
                out = self._days_to_birthday(end)
            elif name == "events":
                out = np.bincount(self.e_code[self._events_in(event, end, window_days)[0]], minlength=n).astype(float)
            else:  # pragma: no cover - validated when the library is read
                raise ConfigError(f"unknown metric {name!r}")
        if name in RATIO_METRICS:
            out = np.where(orders > 0, out, np.nan)
        # without the column the metric is unknown, not zero (no customer is "never on promotion")
        if (name in PROMOTION_METRICS and not self.has_promotion) or (name in DISCOUNT_METRICS and not self.has_discount):
            out = np.full(n, np.nan)
        if cache is not None:
            cache[key] = out
        return out

    def _days_to_birthday(self, end: int) -> np.ndarray:
        month = self.attributes.get("birth_month")
        day = self.attributes.get("birth_day")
        if month is None or day is None:
            return np.full(self.n, np.nan)
        mm = pd.to_numeric(pd.Series(month), errors="coerce").to_numpy(dtype=float)
        dd = pd.to_numeric(pd.Series(day), errors="coerce").to_numpy(dtype=float)
        today = pd.Timestamp(end - NS_DAY)
        ok = ~(np.isnan(mm) | np.isnan(dd))
        # day of a non-leap year's calendar (29 February counts as 1 March)
        cum = np.array([0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334])
        doy = np.where(ok, cum[np.nan_to_num(mm, nan=1).astype(int) - 1] + np.nan_to_num(dd, nan=1) - 1, np.nan)
        doy = np.minimum(doy, 364)
        t_doy = cum[today.month - 1] + min(today.day, 28 if today.month == 2 else 31) - 1
        return np.where(ok, (doy - t_doy) % 365, np.nan)

    # ------------------------------------------------------------------ tags

    def _events_in(self, event, end: int, window_days: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows (in the events' sorted order) and times of the events of type ``event`` in the
        ``window_days`` before ``end``. The rows of each set of types are found once: every tag
        and date after that masks only those rows, not every event of the table again."""
        key = (event,) if isinstance(event, str) else tuple(event)
        if key not in self._event_rows:
            rows = np.flatnonzero(np.isin(self.e_type, np.flatnonzero(np.isin(self.e_types, event))))
            self._event_rows[key] = (rows, self.e_ts[rows])
        rows, ts = self._event_rows[key]
        keep = (ts < end) & (ts >= end - window_days * NS_DAY)
        return rows[keep], ts[keep]

    def known(self, end: int) -> np.ndarray:
        """Customers known by ``end``: joined, bought or acted before it."""
        return self.first_ns < end

    def behaviour(self, p: dict, end: int) -> tuple[np.ndarray, np.ndarray]:
        """(customer code, category code) pairs with a qualifying burst (category k = none)."""
        rows, ts = self._events_in(p["event"], end, p["lookback_days"])
        code, cat = self.e_code[rows], self.e_cat[rows]
        if not p["per_category"]:
            if p["category"] is not None:
                c = np.searchsorted(self.categories, str(p["category"]))
                keep = cat == c
                code, cat, ts = code[keep], cat[keep], ts[keep]
            order = np.lexsort((ts, code))  # one group per customer
            code, cat, ts = code[order], cat[order], ts[order]
            group = code.astype(np.int64)
        else:
            keep = cat < self.k
            code, cat, ts = code[keep], cat[keep], ts[keep]
            group = code.astype(np.int64) * (self.k + 1) + cat
        if not len(ts):
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        rel = (ts - ts.min()) // 10**9  # seconds, fits with the group in int64
        span = int(rel.max()) + p["within_days"] * 86_400 + 1
        key = group * span + rel
        left = np.searchsorted(key, key - p["within_days"] * 86_400 + 1, side="left")
        hit = (np.arange(len(key)) - left + 1) >= p["min_count"]
        if not hit.any():
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        g_hit, start = group[hit], ts[left[hit]]
        # latest burst start per group (keys are sorted, so the last hit of a group is its latest)
        last = np.r_[g_hit[1:] != g_hit[:-1], True]
        g_hit, start = g_hit[last], start[last]
        codes = code[hit][last]
        cats = cat[hit][last]
        if p["without_purchase"]:
            pair = codes.astype(np.int64) * self.k + np.minimum(cats, self.k - 1)
            lm = self.l_ts < end
            last_buy = pd.Series(self.l_ts[lm]).groupby(self.l_pair[lm]).max()
            bought = last_buy.reindex(pair).to_numpy()
            ok = np.isnan(bought.astype(float)) | (np.nan_to_num(bought, nan=-1) < start)
            codes, cats = codes[ok], cats[ok]
        return codes, cats

    def tags_at(self, library: TagLibrary, as_of: object, *, only_known: bool = True) -> pd.DataFrame:
        """Every tag of ``library`` for every customer known on ``as_of`` (bool columns,
        index ``customer_id``); per-category / per-value tags give one column per value."""
        end = _end_ns(as_of)
        known = self.known(end) if only_known else np.ones(self.n, bool)
        cache: dict = {}
        cols: dict[str, np.ndarray] = {}
        base: dict[str, np.ndarray] = {}  # tag id -> any of its columns
        models = None
        for t in library.tags:  # loop over tags, vectorised over customers
            p = t.params
            if t.kind == "rule":
                if "attribute" in p:
                    values = self.attributes.get(p["attribute"])
                    if values is None:
                        raise ConfigError(
                            f"tag '{t.id}' needs the customer attribute '{p['attribute']}', which the customers "
                            f"table does not have (it has: {', '.join(self.attributes) or 'none'})"
                        )
                    flag = np.isin(values.astype(str), p["in"])
                else:
                    v = self.metric(p["metric"], end, p["window_days"], event=p.get("event", ()), cache=cache)
                    flag = ~np.isnan(v)
                    if p["min"] is not None:
                        flag &= v >= p["min"]
                    if p["max"] is not None:
                        flag &= v <= p["max"]
                    if p["min_orders"]:
                        flag &= self.metric("orders", end, p["window_days"], cache=cache) >= p["min_orders"]
                cols[t.id] = flag
            elif t.kind == "behaviour":
                codes, cats = self.behaviour(p, end)
                if p["per_category"]:
                    for c, cat in enumerate(self.categories):  # loop over categories
                        flag = np.zeros(self.n, bool)
                        flag[codes[cats == c]] = True
                        cols[f"{t.id}:{cat}"] = flag
                else:
                    flag = np.zeros(self.n, bool)
                    flag[codes] = True
                    cols[t.id] = flag
            elif t.kind == "model":
                if models is None:  # one lookup by customer id for every model tag
                    models = self._models_at(as_of)
                    by_id = models.reindex(self.ids)
                if p["column"] not in models:
                    raise ConfigError(
                        f"tag '{t.id}' needs the model column '{p['column']}', which the model table does not have "
                        f"(it has: {', '.join(map(str, models.columns))})"
                    )
                series = by_id[p["column"]]
                if p["per_value"]:
                    text, present = series.astype(str), series.notna().to_numpy()  # once, not once per value
                    for value in sorted(series.dropna().astype(str).unique()):  # loop over values
                        cols[f"{t.id}:{value}"] = (text == value).to_numpy() & present
                else:
                    flag = series.notna().to_numpy().copy()
                    if p["in"] is not None:
                        flag &= series.astype(str).isin(p["in"]).to_numpy()
                    num = pd.to_numeric(series, errors="coerce").to_numpy(dtype=float) if (p["min"] is not None or p["max"] is not None) else None
                    if p["min"] is not None:
                        flag &= np.nan_to_num(num, nan=-np.inf) >= p["min"]
                    if p["max"] is not None:
                        flag &= np.nan_to_num(num, nan=np.inf) <= p["max"]
                    cols[t.id] = flag
            else:
                def ref(r: str) -> np.ndarray:
                    return cols[r] if r in cols else base[r]

                flag = np.ones(self.n, bool)
                for r in p["all"]:
                    flag &= ref(r)
                if p["any"]:
                    flag &= np.logical_or.reduce([ref(r) for r in p["any"]])
                for r in p["none"]:
                    flag &= ~ref(r)
                cols[t.id] = flag
            if t.expands:
                parts = [v for k, v in cols.items() if k.startswith(f"{t.id}:")]
                base[t.id] = np.logical_or.reduce(parts) if parts else np.zeros(self.n, bool)
        frame = pd.DataFrame({k: v & known for k, v in cols.items()}, index=self.index)
        return frame[known]

    def _models_at(self, as_of: object) -> pd.DataFrame:
        if self.models is None:
            raise ConfigError("the tag library has model tags, but no model table was given")
        table = self.models(pd.Timestamp(as_of)) if callable(self.models) else self.models
        if CUSTOMER_ID in table.columns:
            table = table.set_index(CUSTOMER_ID)
        table = table.copy()
        table.index = table.index.astype(str)
        return table


def tag_lists(flags: pd.DataFrame, separator: str = ";") -> pd.Series:
    """Each customer's tags as one text (``a;b;c``), in column order (vectorised over columns)."""
    names = np.array(flags.columns, dtype=object)
    out = np.full(len(flags), "", dtype=object)
    values = flags.to_numpy()
    for j in range(values.shape[1]):  # loop over tags
        add = values[:, j]
        out[add] = np.where(out[add] == "", names[j], out[add] + separator + names[j])
    return pd.Series(out, index=flags.index, name="tags")

