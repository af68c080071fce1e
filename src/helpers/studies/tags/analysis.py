"""The numbers of the tags study: tags as of a date, their coverage, overlap and movement,
value and next-quarter lift by tag, portraits per segment, price sensitivity and promotion
dependence, the tag-aware offer guardrail and the per-customer export.

Model tags use the CLV study's BG/NBD + Gamma-Gamma fit and the segments study's RFM map,
refitted as of each date the tags are computed for (so a tag on date D never uses later
purchases). Every step is vectorised over customers; loops run over tags, months, segments.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.data.columns import AMOUNT, CATEGORY, CHANNEL, CUSTOMER_ID, ORDER_ID, TIMESTAMP
from helpers.errors import ConfigError, DataError
from helpers.memo import shared
from helpers.models import lifetimes_adapter as la
from helpers.models.summary import customer_summary
from helpers.studies.clv import analysis as clv
from helpers.studies.segments import analysis as seg
from helpers.studies.segments import recommend
from helpers.studies.tags.engine import NS_DAY, TagInputs, TagLibrary, tag_lists

#: Wilson interval level of the next-quarter rates.
Z95 = 1.959964
#: A tag must cover at least this many customers at the holdout start for its lift to be shown.
MIN_LIFT_CUSTOMERS = 30
#: Channel / category / tag contrasts in portraits need this share in the segment to be named.
MIN_PORTRAIT_SHARE = 0.05
#: Promotion order share ratio (segment / base) below which a segment buys "rarely at discount"
#: and above which "mostly at discount".
RARELY_RATIO, OFTEN_RATIO = 0.7, 1.3
#: Hours of the peak shopping window named in portraits.
PEAK_HOURS = 3


# ------------------------------------------------------------------------------ models


def model_table(transactions: pd.DataFrame, as_of: object, segment_map: seg.SegmentMap,
                settings: seg.SegmentSettings | None = None) -> pd.DataFrame:
    """Per customer with a purchase by ``as_of``: RFM segment, P(alive) (and P(alive) of
    repeat buyers only), predicted 12-month CLV, CLV tier, lifecycle, lapsed flag (recency
    guard), expected spend and the next-best category; BG/NBD and Gamma-Gamma fitted on the
    purchases up to ``as_of``."""
    day = pd.Timestamp(as_of).normalize()
    upto = transactions[transactions[TIMESTAMP] < day + pd.Timedelta(days=1)]
    if upto.empty:
        raise DataError(f"no purchases on or before {day.date()}, so no model tags can be computed for that date")
    settings_clv = clv.ClvSettings(calibration_end=str((day - pd.Timedelta(days=180)).date()), observation_end=str(day.date()))
    summary = customer_summary(upto, settings_clv.observation_end, settings_clv.time_unit)
    purchase = clv.fit_purchase_model(summary, settings_clv.model, 0.001)
    spend = la.fit_gamma_gamma(summary["frequency"], summary["monetary_value"], penalizer=0.001)
    table = clv.clv_table(summary, purchase, spend, settings_clv)
    out = seg.segment_customers(upto, table, segment_map, day, settings)
    out["frequency"] = table["frequency"].reindex(out.index)
    out["p_alive_repeat"] = out["p_alive"].where(out["frequency"] > 0)
    out["lapsed"] = out["lapsed"].astype(bool).astype(str)
    if recommend.has_categories(upto):
        out["next_best_category"] = recommend.next_best_category(upto)["next_category"].reindex(out.index).replace("", np.nan)
    out["segment"] = out["segment"].astype(str)
    return out


class ModelsByDate:
    """``model_table`` as a function of the date, fitted once per date."""

    def __init__(self, transactions: pd.DataFrame, segment_map: seg.SegmentMap) -> None:
        self.transactions, self.segment_map = transactions, segment_map
        self._cache: dict[pd.Timestamp, pd.DataFrame] = {}

    def __call__(self, as_of: object) -> pd.DataFrame:
        day = pd.Timestamp(as_of).normalize()
        if day not in self._cache:
            self._cache[day] = model_table(self.transactions, day, self.segment_map)
        return self._cache[day]


# --------------------------------------------------------------------- tag summaries


def base_columns(flags: pd.DataFrame, library: TagLibrary) -> pd.DataFrame:
    """One column per tag: per-category tags become "any category"; per-value model tags (a
    segment, a next-best category: every customer has one value) are left out."""
    out = {}
    for t in library.tags:  # loop over tags
        if t.params.get("per_value"):
            continue
        if t.expands:
            parts = [c for c in flags.columns if c.startswith(f"{t.id}:")]
            out[t.id] = flags[parts].any(axis=1) if parts else pd.Series(False, index=flags.index)
        elif t.id in flags:
            out[t.id] = flags[t.id]
    return pd.DataFrame(out, index=flags.index)


def coverage(flags: pd.DataFrame) -> pd.DataFrame:
    """Customers and share of customers with each tag column."""
    n = len(flags)
    counts = flags.sum(axis=0).astype(int)
    return pd.DataFrame({"tag": counts.index, "customers": counts.to_numpy(),
                         "share": counts.to_numpy() / n if n else np.nan})


def overlap(flags: pd.DataFrame) -> pd.DataFrame:
    """P(column tag | row tag): the share of the row tag's customers who also have the column tag."""
    x = flags.to_numpy(dtype=np.float32)
    both = x.T @ x
    counts = np.diag(both).copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        share = both / counts[:, None]
    return pd.DataFrame(share, index=flags.columns, columns=flags.columns)


def month_ends(as_of: object, months: int) -> list[pd.Timestamp]:
    """The last ``months`` month ends up to ``as_of`` (``as_of`` itself last)."""
    day = pd.Timestamp(as_of).normalize()
    ends = [(day.to_period("M") - i).end_time.normalize() for i in range(1, months)]
    return sorted(ends) + [day]


def movement(inputs: TagInputs, library: TagLibrary, dates: list[pd.Timestamp],
             known: Mapping[pd.Timestamp, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Each tag's share of known customers at each date, and how many customers gained or
    lost it since the previous date (long format: date, tag, customers, share, gained, lost).
    ``known``: the :func:`base_columns` of dates already tagged (the study's as-of date, the
    last of the month ends), not computed again."""
    rows = []
    prev = None
    for day in dates:  # a dozen month ends
        if known is not None and day in known:
            flags = known[day]
        else:
            flags = base_columns(inputs.tags_at(library, day), library)
        if prev is not None:
            before = prev.reindex(flags.index, fill_value=False)
            gained = (flags & ~before).sum()
            lost = (before & ~flags).sum()
        else:
            gained = lost = pd.Series(np.nan, index=flags.columns)
        rows.append(pd.DataFrame({
            "date": day, "tag": flags.columns, "customers": flags.sum().to_numpy(),
            "share": flags.mean().to_numpy(), "gained": gained.reindex(flags.columns).to_numpy(),
            "lost": lost.reindex(flags.columns).to_numpy(),
        }))
        prev = flags
    return pd.concat(rows, ignore_index=True)


def value_by_tag(flags: pd.DataFrame, models: pd.DataFrame, purchase_days: pd.Series) -> pd.DataFrame:
    """Customers, mean predicted CLV and repeat rate (2+ purchase days) with each tag,
    and the same for all customers (row ``_all``)."""
    clv_v = models["clv"].reindex(flags.index).to_numpy(dtype=float)
    repeat = (purchase_days.reindex(flags.index).fillna(0).to_numpy() >= 2).astype(float)
    buyer = ~np.isnan(clv_v)
    x = flags.to_numpy()
    n = x.sum(axis=0)
    nb = (x & buyer[:, None]).sum(axis=0)
    clv_sum = (x * np.nan_to_num(clv_v)[:, None]).sum(axis=0)
    rep_sum = (x & (repeat > 0)[:, None] & buyer[:, None]).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = pd.DataFrame({"tag": flags.columns, "customers": n, "buyers": nb,
                            "mean_clv": clv_sum / nb, "repeat_rate": rep_sum / nb})
    all_row = pd.DataFrame({"tag": ["_all"], "customers": [len(flags)], "buyers": [int(buyer.sum())],
                            "mean_clv": [np.nanmean(clv_v) if buyer.any() else np.nan],
                            "repeat_rate": [repeat[buyer].mean() if buyer.any() else np.nan]})
    return pd.concat([out, all_row], ignore_index=True)


def tag_by_segment(flags: pd.DataFrame, segment: pd.Series, order: list[str] | None = None) -> pd.DataFrame:
    """Share of each segment's customers with each tag (rows segments, columns tags)."""
    s = segment.reindex(flags.index)
    keep = s.notna()
    table = flags[keep].groupby(s[keep].astype(str).to_numpy()).mean()
    if order:
        table = table.reindex([o for o in order if o in table.index])
    return table


def _wilson(k: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
        half = Z95 * np.sqrt(p * (1 - p) / n + Z95**2 / (4 * n**2)) / (1 + Z95**2 / n)
    return centre - half, centre + half


def next_quarter_lift(inputs: TagInputs, library: TagLibrary, as_of: object, holdout_days: int = 90) -> tuple[pd.DataFrame, dict]:
    """Which tags predict a purchase in the next ``holdout_days``: tags computed at
    ``as_of - holdout_days`` (data up to then only), outcome = any order in the following
    ``holdout_days`` up to ``as_of``. Lift = purchase rate with the tag / rate of all customers
    known at the start; the interval is the Wilson 95% interval of the tag's rate divided by
    the base rate (which is treated as known)."""
    end = pd.Timestamp(as_of).normalize()
    start = end - pd.Timedelta(days=holdout_days)
    flags = base_columns(inputs.tags_at(library, start), library)
    codes = np.searchsorted(inputs.ids, flags.index.to_numpy())
    lo_ns, hi_ns = int(start.value) + NS_DAY, int(end.value) + NS_DAY
    m = (inputs.o_ts >= lo_ns) & (inputs.o_ts < hi_ns)
    bought = np.bincount(inputs.o_code[m], minlength=inputs.n)[codes] > 0
    base = bought.mean() if len(bought) else np.nan
    x = flags.to_numpy()
    n = x.sum(axis=0).astype(float)
    k = (x & bought[:, None]).sum(axis=0).astype(float)
    low, high = _wilson(k, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = k / n
        out = pd.DataFrame({"tag": flags.columns, "customers": n.astype(int), "buyers": k.astype(int), "rate": rate,
                            "lift": rate / base, "lift_low": low / base, "lift_high": high / base})
    out = out[out["customers"] >= MIN_LIFT_CUSTOMERS].sort_values("lift", ascending=False, kind="stable")
    info = {"holdout_start": start, "holdout_end": end, "holdout_days": holdout_days, "customers": int(len(bought)),
            "base_rate": float(base)}
    return out.reset_index(drop=True), info


# ------------------------------------------------------------------ price sensitivity


PRICE_METRICS = ("orders", "spend", "discount_share", "discount_depth", "promotion_order_share",
                 "festival_order_share", "promotion_score")


def price_sensitivity(inputs: TagInputs, as_of: object, window_days: int = 365) -> pd.DataFrame:
    """Per customer over the ``window_days`` up to ``as_of``: orders, spend, share of spend in
    orders with a discount, discount depth (discount / list price), share of orders in a
    promotion (618, Double 11, member day, coupon), share in 618 / Double 11 only and the
    promotion-dependence score (promotion order share shrunk to the base rate with a prior of
    2 orders, so one promoted order is not yet dependence). Customers without orders in the
    window are left out."""
    end = int(pd.Timestamp(as_of).normalize().value) + NS_DAY
    cache: dict = {}
    values = {m: inputs.metric(m, end, window_days, cache=cache) for m in PRICE_METRICS}
    out = pd.DataFrame(values, index=pd.Index(inputs.ids, name=CUSTOMER_ID))
    return out[out["orders"] > 0]


def promotion_summary(inputs: TagInputs, price: pd.DataFrame, flags: pd.DataFrame, models: pd.DataFrame,
                      as_of: object, window_days: int = 365, active_days: int = 180) -> dict:
    """Revenue at discount and the big-promotion-only, promotion-sensitive and full-price
    groups compared on predicted CLV, repeat rate, P(alive) of repeat buyers and the share
    who bought in the last ``active_days`` days."""
    end = int(pd.Timestamp(as_of).normalize().value) + NS_DAY
    m = inputs._orders_in(end, window_days)
    amount, disc, promo = inputs.o_amount[m], inputs.o_discount[m], inputs.o_promo[m]
    total = amount.sum()
    out = {
        "window_days": window_days,
        "revenue": float(total),
        "share_revenue_with_discount": float(amount[disc > 0.005].sum() / total) if total else np.nan,
        "share_revenue_in_promotion": float(amount[promo].sum() / total) if total else np.nan,
        "discount_depth": float(disc.sum() / (disc.sum() + total)) if total else np.nan,
        "has_promotion_column": inputs.has_promotion,
        "has_discount_column": inputs.has_discount,
    }
    recent = inputs.metric("orders", end, active_days)
    recent = pd.Series(recent, index=inputs.ids)
    groups = {}
    for name in ("festival_only", "promotion_sensitive", "price_insensitive"):
        if name not in flags:
            continue
        who = flags.index[flags[name].to_numpy()]
        mt = models.reindex(who)
        groups[name] = {
            "customers": int(len(who)),
            "mean_clv": float(mt["clv"].mean()) if len(who) else np.nan,
            "repeat_rate": float((mt["frequency"] > 0).mean()) if len(who) and "frequency" in mt else np.nan,
            "p_alive_repeat": float(mt["p_alive_repeat"].mean()) if len(who) else np.nan,
            "active_share": float((recent.reindex(who) > 0).mean()) if len(who) else np.nan,
        }
    out["groups"] = groups
    out["customers_with_orders"] = int(len(price))
    return out


def tagged_max_discount(library_max: pd.Series, price: pd.DataFrame, flags: pd.DataFrame, models: pd.DataFrame) -> pd.DataFrame:
    """The action library's per-customer max discount (currency per offer) adjusted by price tags:
    full-price customers (``price_insensitive``) get 0 (a discount buys nothing), promotion-
    sensitive customers at most their own usual discount depth x expected order (do not train
    them to wait for deeper deals); others keep the library's guardrail."""
    idx = library_max.index
    depth = price["discount_depth"].reindex(idx).fillna(0).to_numpy()
    order = models["expected_spend"].reindex(idx).to_numpy(dtype=float)
    lib = library_max.to_numpy(dtype=float)
    insensitive = flags["price_insensitive"].reindex(idx, fill_value=False).to_numpy() if "price_insensitive" in flags else np.zeros(len(idx), bool)
    sensitive = flags["promotion_sensitive"].reindex(idx, fill_value=False).to_numpy() if "promotion_sensitive" in flags else np.zeros(len(idx), bool)
    capped = np.where(insensitive, 0.0, np.where(sensitive, np.minimum(lib, depth * np.nan_to_num(order)), lib))
    rule = np.where(insensitive, "full_price", np.where(sensitive, "own_depth", "library"))
    return pd.DataFrame({"library_max_discount": lib, "max_discount": capped, "discount_rule": rule}, index=idx)


# ------------------------------------------------------------------------ portraits


def _as_column(values: pd.Series):
    """The values for a new frame's column, paired by position: the Series' own array (text
    through NumPy would be objects converted back to Arrow text, a tenth of a second for the
    transactions); a categorical through NumPy, so its groups are labelled as plain values."""
    return values.to_numpy() if isinstance(values.dtype, pd.CategoricalDtype) else values.array


def _shares(codes: pd.Series, groups: pd.Series, weights: pd.Series | None = None) -> pd.DataFrame:
    frame = pd.DataFrame({"g": _as_column(groups), "v": _as_column(codes),
                          "w": 1.0 if weights is None else weights.to_numpy()})
    table = frame.groupby(["g", "v"], observed=True)["w"].sum().unstack(fill_value=0.0)
    return table.div(table.sum(axis=1), axis=0)


def has_id(ids: pd.Series, known: pd.Index) -> np.ndarray:
    """``ids.isin(known)`` by the segments' id look-up (:func:`helpers.studies.segments.analysis.id_positions`):
    ``isin`` on Arrow strings builds its set of values in a Python loop (half a second for the
    60k customers of a segment table)."""
    return seg.id_positions(pd.Index(ids), known.unique()) >= 0


def portraits(transactions: pd.DataFrame, customers: pd.DataFrame | None, segment: pd.Series,
              price: pd.DataFrame, flags: pd.DataFrame, order: list[str]) -> dict:
    """Each segment against the whole base: age band, city tier, channel (share of orders),
    category (share of spend), shopping hours, promotion order share and the most
    over-represented tags. Returns tables by facet (rows segments + ``_all``) and one
    summary dict per segment with the strongest contrasts."""
    seg_of = segment.astype(str)
    tx = transactions[has_id(transactions[CUSTOMER_ID], seg_of.index)]
    g_tx = tx[CUSTOMER_ID].map(seg_of)
    # orders (one row per order when order ids are given) for channel, hours and purchase frequency
    orders = tx.drop_duplicates([CUSTOMER_ID, ORDER_ID]) if ORDER_ID in tx else tx
    g_orders = orders[CUSTOMER_ID].map(seg_of)
    both = lambda frame_g, vals, w=None: pd.concat([  # noqa: E731
        _shares(vals, frame_g, w), _shares(vals, pd.Series("_all", index=vals.index), w)])
    facets: dict[str, pd.DataFrame] = {}
    if CHANNEL in tx:
        facets["channel"] = both(g_orders, orders[CHANNEL].astype(str))
    if CATEGORY in tx:
        facets["category"] = both(g_tx, tx[CATEGORY].astype(str), tx[AMOUNT].clip(lower=0))
    facets["hour"] = both(g_orders, orders[TIMESTAMP].dt.hour)
    if customers is not None:
        c = customers.set_index(CUSTOMER_ID)
        for col in ("age_band", "city_tier", "region"):
            if col in c:
                vals = c[col].reindex(seg_of.index).fillna("unknown").astype(str)
                facets[col] = both(seg_of, vals)
    present = set(seg_of.unique())  # once, not once per segment name
    keep = [o for o in order if o in present] + ["_all"]
    facets = {k: v.reindex(keep).fillna(0.0) for k, v in facets.items()}
    promo = price["promotion_order_share"].reindex(seg_of.index)
    promo_by = promo.groupby(seg_of).mean().reindex(keep[:-1])
    base_promo = float(promo.mean())
    tag_share = flags.reindex(seg_of.index).fillna(False).astype(bool).groupby(seg_of).mean()
    base_tags = flags.reindex(seg_of.index).fillna(False).astype(bool).mean()
    purchase_rate = orders.groupby(g_orders)[CUSTOMER_ID].size() / seg_of.value_counts()
    summaries = {}
    for s in keep[:-1]:  # one segment at a time, a handful
        item = {"segment": s, "customers": int((seg_of == s).sum()), "share": float((seg_of == s).mean()),
                "orders_per_customer": float(purchase_rate.get(s, np.nan)),
                "orders_ratio": float(purchase_rate.get(s, np.nan) / (len(orders) / len(seg_of)))}
        for facet in ("channel", "category", "age_band", "city_tier"):
            if facet not in facets:
                continue
            row, all_row = facets[facet].loc[s], facets[facet].loc["_all"]
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = (row / all_row).where(row >= MIN_PORTRAIT_SHARE)
            if ratio.notna().any():
                top = ratio.idxmax()
                item[facet] = {"value": str(top), "share": float(row[top]), "ratio": float(ratio[top])}
        hours = facets["hour"].loc[s].reindex(range(24), fill_value=0.0).to_numpy()
        window = np.array([hours[np.arange(h, h + PEAK_HOURS) % 24].sum() for h in range(24)])
        peak = int(window.argmax())
        item["peak_hours"] = {"start": peak, "end": (peak + PEAK_HOURS) % 24, "share": float(window[peak])}
        p = float(promo_by.get(s, np.nan))
        item["promotion_order_share"] = p
        item["promotion_ratio"] = p / base_promo if base_promo else np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            tr = (tag_share.loc[s] / base_tags).where(tag_share.loc[s] >= 0.1)
        tr = tr.drop(labels=[c for c in tr.index if c.startswith("segment")], errors="ignore").dropna()
        item["top_tags"] = [(str(k), float(tag_share.loc[s, k]), float(v)) for k, v in tr.sort_values(ascending=False).head(3).items()]
        summaries[s] = item
    return {"facets": facets, "summaries": summaries, "base_promotion_order_share": base_promo}


# ------------------------------------------------------------------------ the study


@dataclass
class TagStudy:
    as_of: pd.Timestamp
    library: TagLibrary
    flags: pd.DataFrame
    base: pd.DataFrame
    coverage: pd.DataFrame
    overlap: pd.DataFrame
    movement: pd.DataFrame
    value: pd.DataFrame
    by_segment: pd.DataFrame
    lift: pd.DataFrame
    lift_info: dict
    price: pd.DataFrame
    promotion: dict
    portraits: dict
    models: pd.DataFrame
    guardrail: pd.DataFrame | None
    segment_order: list
    metrics: dict = field(default_factory=dict)

    def export_table(self, names: dict | None = None) -> pd.DataFrame:
        """One row per customer, ready for CRM import: tag columns (0/1), the tag list (ids,
        ``;``-separated), price-sensitivity numbers, segment and max discount."""
        flags = self.flags
        out = pd.DataFrame(index=flags.index)
        out["segment"] = self.models["segment"].reindex(flags.index)
        out["tags"] = tag_lists(flags)
        out["tag_count"] = flags.sum(axis=1).astype(int)
        for col in ("promotion_score", "promotion_order_share", "discount_share", "discount_depth"):
            out[col] = self.price[col].reindex(flags.index).round(4)
        if self.guardrail is not None:
            out["max_discount"] = self.guardrail["max_discount"].reindex(flags.index).round(2)
            out["discount_rule"] = self.guardrail["discount_rule"].reindex(flags.index)
        out = pd.concat([out, flags.astype(np.int8).rename(columns=lambda c: f"tag:{c}")], axis=1)
        out.index.name = CUSTOMER_ID
        return out.reset_index()


@shared
def run_tag_study(
    transactions: pd.DataFrame,
    events: pd.DataFrame | None,
    customers: pd.DataFrame | None,
    library: TagLibrary,
    segment_map: seg.SegmentMap,
    as_of: object,
    *,
    months: int = 12,
    holdout_days: int = 90,
    price_window_days: int = 365,
    action_library=None,
    gross_margin: float = 0.30,
) -> TagStudy:
    """Everything the tags pages show, as of ``as_of``."""
    if not isinstance(months, int) or months < 2:
        raise ConfigError(f"months must be a whole number >= 2, not {months!r}.")
    if not isinstance(holdout_days, int) or holdout_days < 7:
        raise ConfigError(f"holdout_days must be a whole number of days >= 7, not {holdout_days!r}.")
    day = pd.Timestamp(as_of).normalize()
    models_by_date = ModelsByDate(transactions, segment_map)
    inputs = TagInputs(transactions, events, customers, models=models_by_date)
    flags = inputs.tags_at(library, day)
    base = base_columns(flags, library)
    models = models_by_date(day)
    purchase_days = pd.Series(inputs.metric("purchase_days", int(day.value) + NS_DAY, 100_000), index=inputs.ids)
    price = price_sensitivity(inputs, day, price_window_days)
    lift, lift_info = next_quarter_lift(inputs, library, day, holdout_days)
    order = list(segment_map.keys)
    guardrail = None
    if action_library is not None:
        from helpers.studies.segments.actions import customer_max_discount

        lib_max = customer_max_discount(models, action_library, gross_margin)
        guardrail = tagged_max_discount(lib_max, price, base, models)
    study = TagStudy(
        as_of=day, library=library, flags=flags, base=base, coverage=coverage(flags), overlap=overlap(base),
        movement=movement(inputs, library, month_ends(day, months), known={day: base}),
        value=value_by_tag(base, models, purchase_days),
        by_segment=tag_by_segment(base, models["segment"], order), lift=lift, lift_info=lift_info, price=price,
        promotion=promotion_summary(inputs, price, base, models, day, price_window_days),
        portraits=portraits(transactions, customers, models["segment"], price, base, order),
        models=models, guardrail=guardrail, segment_order=order,
    )
    study.metrics = {
        "as_of": day, "customers": int(len(flags)), "tag_columns": int(flags.shape[1]), "tags": len(library.tags),
        "coverage": dict(zip(study.coverage["tag"], study.coverage["share"].round(6))),
        "lift": {r.tag: {"lift": r.lift, "customers": r.customers} for r in lift.itertuples()},
        "holdout": lift_info, "promotion": study.promotion,
    }
    return study
