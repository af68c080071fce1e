"""Omnichannel: channel mix, single- vs multi-channel customers, migration between channels.

Definitions (stated on the page by :mod:`helpers.studies.omnichannel.narrative`):

- An **order** is one ``order_id`` of one customer (all its lines); without an
  ``order_id`` column every row is an order. An order's channel is the channel of its
  first row, its time the earliest row's time and its amount the sum of its rows.
- A **purchase day** is a calendar day with at least one order (as in the CLV study).
- A customer's **first channel** is the channel of their earliest order. **Later
  channels** are the channels of orders on later calendar days: other orders on the
  first day are not "later".
- **Single-channel** customers bought in exactly one channel up to the observation end,
  **multi-channel** customers in two or more. One-time buyers are single-channel by
  definition, so the comparison is made among repeat buyers (at least two purchase days).
- Rates per customer-year are ratios of sums: total purchase days (or spend) of a group
  divided by the total years its customers were observed (first purchase day to the
  observation end, inclusive).
- **Offline** channels are ``offline_channels`` (default: ``store``); all others are online.

Everything is vectorised over orders and customers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.data.columns import AMOUNT, CHANNEL, CUSTOMER_ID, ORDER_ID, TIMESTAMP
from helpers.errors import ConfigError, DataError, HelperError
from helpers.memo import shared
from helpers.studies.clv.analysis import ClvSettings

DAYS_PER_YEAR = 365.25
#: Purchase-day bands of the like-for-like comparison (lower bounds; the last is open).
FREQUENCY_BANDS: tuple[int, ...] = (2, 3, 5, 10)
UNKNOWN_CHANNEL = "unknown"
#: Months before the observation end held out to check the CLV model.
CLV_HOLDOUT_DAYS = 182


def orders_from_transactions(transactions: pd.DataFrame, observation_end: pd.Timestamp | None = None) -> pd.DataFrame:
    """One row per order: ``customer_id, order, timestamp, day, channel, amount``, sorted by
    customer, time and order. Rows after ``observation_end`` (a day, inclusive) are left out."""
    if CHANNEL not in transactions:
        raise DataError(
            "the transactions have no channel column",
            hint='Name the channel header in column_map, e.g. {"channel": "渠道"}.',
        )
    tx = transactions
    if observation_end is not None:
        tx = tx[tx[TIMESTAMP] < pd.Timestamp(observation_end).normalize() + pd.Timedelta(days=1)]
    if tx.empty:
        raise DataError("there are no transactions to study")
    channel = tx[CHANNEL].astype("string").fillna(UNKNOWN_CHANNEL).to_numpy()
    if ORDER_ID in tx:
        order = tx[ORDER_ID].astype("string")
        # Rows without an order id are orders of their own.
        order = order.fillna(pd.Series("#row" + pd.RangeIndex(len(tx)).astype(str), index=tx.index, dtype="string"))
    else:
        order = pd.Series("#row" + pd.RangeIndex(len(tx)).astype(str), index=tx.index, dtype="string")
    rows = pd.DataFrame(
        {CUSTOMER_ID: tx[CUSTOMER_ID].to_numpy(), "order": order.to_numpy(), TIMESTAMP: tx[TIMESTAMP].to_numpy(),
         CHANNEL: channel, AMOUNT: tx[AMOUNT].to_numpy(dtype=float)}
    )
    rows = rows.sort_values([CUSTOMER_ID, TIMESTAMP, "order"], kind="stable")
    g = rows.groupby([CUSTOMER_ID, "order"], sort=False)
    orders = pd.DataFrame(
        {TIMESTAMP: g[TIMESTAMP].min(), CHANNEL: g[CHANNEL].first(), AMOUNT: g[AMOUNT].sum()}
    ).reset_index()
    orders["day"] = orders[TIMESTAMP].dt.normalize()
    return orders.sort_values([CUSTOMER_ID, TIMESTAMP, "order"], kind="stable").reset_index(drop=True)


def channel_mix(orders: pd.DataFrame) -> pd.DataFrame:
    """Per channel: orders, revenue, customers who used it, their shares and the average order value.

    Customer shares add up to more than 100%: a multi-channel customer counts in each channel.
    """
    g = orders.groupby(CHANNEL, sort=True)
    mix = pd.DataFrame({"orders": g.size(), "revenue": g[AMOUNT].sum(), "customers": g[CUSTOMER_ID].nunique()})
    mix["order_share"] = mix["orders"] / mix["orders"].sum()
    total = mix["revenue"].sum()
    mix["revenue_share"] = mix["revenue"] / total if total else np.nan
    mix["customer_share"] = mix["customers"] / orders[CUSTOMER_ID].nunique()
    mix["average_order_value"] = mix["revenue"] / mix["orders"]
    mix = mix.sort_values(["revenue", "orders"], ascending=False, kind="stable")
    mix.index.name = CHANNEL
    return mix.reset_index()


def customer_channels(orders: pd.DataFrame, observation_end: pd.Timestamp) -> pd.DataFrame:
    """Per customer: first channel, channels used, purchase days, orders, spend, years observed, group."""
    end = pd.Timestamp(observation_end).normalize()
    g = orders.groupby(CUSTOMER_ID, sort=True)
    first = orders.drop_duplicates(CUSTOMER_ID, keep="first").set_index(CUSTOMER_ID)
    per = pd.DataFrame(
        {
            "first_channel": first[CHANNEL],
            "first_day": first["day"],
            "channels_used": g[CHANNEL].nunique(),
            "orders": g.size(),
            "purchase_days": g["day"].nunique(),
            "spend": g[AMOUNT].sum(),
        }
    )
    per["years_observed"] = ((end - per["first_day"]).dt.days + 1) / DAYS_PER_YEAR
    per["group"] = np.where(per["channels_used"] > 1, "multi", "single")
    return per


def channel_group_clv(
    transactions: pd.DataFrame,
    observation_end: pd.Timestamp,
    *,
    horizon_months: int = 12,
    gross_margin: float = 0.30,
    annual_discount_rate: float = 0.10,
    model: str = "bgnbd",
) -> tuple[pd.Series | None, dict]:
    """Predicted CLV (gross margin over ``horizon_months``) per customer via the CLV study.

    The study's holdout check uses the last :data:`CLV_HOLDOUT_DAYS` days. Returns
    ``(clv by customer, info)``; when the models cannot be fitted the CLV is None and
    ``info["error"]`` says why (the page then leaves CLV out instead of failing).
    """
    from helpers.studies.clv.study import (
        run_clv_study,  # heavy imports only when CLV is wanted
    )

    end = pd.Timestamp(observation_end).normalize()
    settings = ClvSettings(
        calibration_end=str((end - pd.Timedelta(days=CLV_HOLDOUT_DAYS)).date()),
        observation_end=str(end.date()),
        time_unit="W",
        horizon_months=horizon_months,
        annual_discount_rate=annual_discount_rate,
        model=model,
        gross_margin=gross_margin,
    )
    tx = transactions[transactions[TIMESTAMP] < end + pd.Timedelta(days=1)]
    try:
        # draws=0: the page uses the point CLV only; the intervals (parameter draws) are not shown
        study = run_clv_study(tx, settings, compare=(model,), draws=0)
    except HelperError as err:
        return None, {"error": str(err), "settings": settings.to_dict()}
    info = {
        "settings": settings.to_dict(),
        "model_label": study.purchase_model.label,
        "holdout_total_error_pct": float(study.holdout["total_error_pct"]),
        "clv_total": float(study.table["clv"].sum()),
    }
    return study.table["clv"], info


def _group_rates(frame: pd.DataFrame, clv: pd.Series | None) -> dict:
    years = frame["years_observed"].sum()
    row = {
        "customers": int(len(frame)),
        "purchase_days_per_year": float(frame["purchase_days"].sum() / years) if years else np.nan,
        "spend_per_year": float(frame["spend"].sum() / years) if years else np.nan,
        "spend_per_purchase_day": float(frame["spend"].sum() / frame["purchase_days"].sum())
        if frame["purchase_days"].sum() else np.nan,
        "mean_channels": float(frame["channels_used"].mean()) if len(frame) else np.nan,
    }
    if clv is not None:
        values = clv.reindex(frame.index)
        row["clv_mean"] = float(values.mean()) if len(values) else np.nan
        row["clv_median"] = float(values.median()) if len(values) else np.nan
    return row


def single_vs_multi(per_customer: pd.DataFrame, clv: pd.Series | None = None) -> pd.DataFrame:
    """Single- vs multi-channel customers, among all customers and among repeat buyers.

    Rows: ``population`` (``all`` / ``repeat``) x ``group`` (``single`` / ``multi``) with the
    customer count, share of the population, purchase days and spend per customer-year,
    spend per purchase day, mean channels and (with ``clv``) mean and median CLV.
    """
    rows = []
    for population, frame in (("all", per_customer), ("repeat", per_customer[per_customer["purchase_days"] >= 2])):
        for group in ("single", "multi"):
            part = frame[frame["group"] == group]
            row = {"population": population, "group": group} | _group_rates(part, clv)
            row["share"] = len(part) / len(frame) if len(frame) else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def by_frequency_band(per_customer: pd.DataFrame, bands: Sequence[int] = FREQUENCY_BANDS) -> pd.DataFrame:
    """Like-for-like: within bands of purchase days, the multi-channel share and spend per
    purchase day of single- and multi-channel customers."""
    edges = list(bands) + [np.inf]
    labels = [f"{lo}" if hi == lo + 1 else (f"{lo}+" if hi == np.inf else f"{lo}–{hi - 1}") for lo, hi in zip(edges[:-1], edges[1:])]
    band = pd.cut(per_customer["purchase_days"], bins=edges, right=False, labels=labels)
    frame = per_customer.assign(band=band).dropna(subset=["band"])
    g = frame.groupby("band", observed=False)
    is_multi = (frame["group"] == "multi").astype(float)
    out = pd.DataFrame({"customers": g.size(), "multi_share": is_multi.groupby(frame["band"], observed=False).mean()})
    spend = frame.groupby(["band", "group"], observed=False)[["spend", "purchase_days"]].sum()
    per_day = (spend["spend"] / spend["purchase_days"].where(spend["purchase_days"] > 0)).unstack("group")
    for group in ("single", "multi"):
        out[f"spend_per_purchase_day_{group}"] = per_day[group] if group in per_day else np.nan
    out.index = out.index.astype(str)
    out.index.name = "purchase_days"
    return out.reset_index()


@dataclass
class Migration:
    """Where customers went after their first channel."""

    #: customers by first channel (all buyers)
    first: pd.Series
    #: customers with at least one later purchase day, by first channel
    repeat: pd.Series
    #: first channel x later channel: customers who bought in that later channel
    counts: pd.DataFrame
    #: counts / repeat (row shares; rows can add up to more than 100%)
    shares: pd.DataFrame
    #: repeat customers whose later orders were all in their first channel, by first channel
    stayed: pd.Series
    #: first -> later paths to another channel, most customers first
    paths: pd.DataFrame


def channel_migration(orders: pd.DataFrame) -> Migration:
    """First channel -> later channels (see the module docstring for the definitions)."""
    first = orders.drop_duplicates(CUSTOMER_ID, keep="first").set_index(CUSTOMER_ID)
    first_channel = first[CHANNEL]
    first_day = first["day"]
    later = orders[orders["day"].to_numpy() > first_day.reindex(orders[CUSTOMER_ID]).to_numpy()]
    pairs = later[[CUSTOMER_ID, CHANNEL]].drop_duplicates()
    pairs = pairs.assign(first_channel=first_channel.reindex(pairs[CUSTOMER_ID]).to_numpy())
    channels = sorted(set(orders[CHANNEL]))
    counts = (
        pd.crosstab(pairs["first_channel"], pairs[CHANNEL])
        .reindex(index=channels, columns=channels, fill_value=0)
        .astype("int64")
    )
    counts.index.name, counts.columns.name = "first_channel", "later_channel"
    first_counts = first_channel.value_counts().reindex(channels, fill_value=0)
    repeat_ids = pairs[CUSTOMER_ID].unique()
    repeat = first_channel.loc[repeat_ids].value_counts().reindex(channels, fill_value=0)
    shares = counts.div(repeat.where(repeat > 0), axis=0)
    other = pairs[pairs[CHANNEL] != pairs["first_channel"]]
    moved = other[CUSTOMER_ID].unique()
    stayed = (repeat - first_channel.loc[moved].value_counts().reindex(channels, fill_value=0)).astype("int64")
    paths = (
        other.groupby(["first_channel", CHANNEL]).size().rename("customers").reset_index()
        .rename(columns={CHANNEL: "later_channel"})
    )
    paths["share_of_first_channel_repeaters"] = paths["customers"] / repeat.reindex(paths["first_channel"]).to_numpy()
    paths = paths.sort_values(["customers", "first_channel", "later_channel"], ascending=[False, True, True], kind="stable")
    return Migration(first_counts, repeat, counts, shares, stayed, paths.reset_index(drop=True))


def online_offline(
    orders: pd.DataFrame, per_customer: pd.DataFrame, offline_channels: Sequence[str] = ("store",)
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Store-first customers who later buy online, and the reverse.

    Returns ``(crossing, store_first_value)``:

    - ``crossing``: per first mode (``offline`` / ``online``): customers, repeat buyers,
      repeat buyers who later bought in the other mode (count and share) and the median
      days from the first purchase to the first purchase in the other mode;
    - ``store_first_value``: offline-first repeat buyers split by whether they later
      bought online: customers, purchase days and spend per customer-year.
    """
    offline = {str(c) for c in offline_channels}
    if not offline:
        raise ConfigError("offline_channels is empty; list the channels that are physical stores, e.g. [\"store\"].")
    known = set(orders[CHANNEL])
    if not offline & known:
        raise DataError(
            f"none of the offline channels {sorted(offline)} occurs in the data (its channels are {sorted(known)})",
            hint="Set offline_channels to the names your file uses for physical stores.",
        )
    mode = np.where(orders[CHANNEL].isin(offline), "offline", "online")
    o = orders.assign(mode=mode)
    first = o.drop_duplicates(CUSTOMER_ID, keep="first").set_index(CUSTOMER_ID)
    first_mode = first["mode"]
    first_day = first["day"]
    o_first_day = first_day.reindex(o[CUSTOMER_ID]).to_numpy()
    later = o[o["day"].to_numpy() > o_first_day]
    repeat_ids = later[CUSTOMER_ID].unique()
    crossed = later[later["mode"].to_numpy() != first_mode.reindex(later[CUSTOMER_ID]).to_numpy()]
    cross_first = crossed.groupby(CUSTOMER_ID)["day"].min()
    days_to_cross = (cross_first - first_day.reindex(cross_first.index)).dt.days
    rows = []
    for m in ("offline", "online"):
        ids = first_mode.index[first_mode == m]
        rep = np.intersect1d(ids, repeat_ids)
        crossers = days_to_cross.reindex(np.intersect1d(ids, days_to_cross.index))
        rows.append(
            {
                "first_mode": m,
                "customers": int(len(ids)),
                "repeat_buyers": int(len(rep)),
                "crossed": int(len(crossers)),
                "crossed_share": len(crossers) / len(rep) if len(rep) else np.nan,
                "median_days_to_cross": float(crossers.median()) if len(crossers) else np.nan,
            }
        )
    crossing = pd.DataFrame(rows)
    store_first_repeat = per_customer.loc[np.intersect1d(first_mode.index[first_mode == "offline"], repeat_ids)]
    went_online = store_first_repeat.index.isin(days_to_cross.index)
    value_rows = []
    for key, mask in (("later_online", went_online), ("offline_only", ~went_online)):
        part = store_first_repeat[mask]
        years = part["years_observed"].sum()
        value_rows.append(
            {
                "segment": key,
                "customers": int(len(part)),
                "purchase_days_per_year": float(part["purchase_days"].sum() / years) if years else np.nan,
                "spend_per_year": float(part["spend"].sum() / years) if years else np.nan,
            }
        )
    return crossing, pd.DataFrame(value_rows)


def monthly_channel_share(orders: pd.DataFrame) -> pd.DataFrame:
    """Revenue share of each channel per calendar month (rows months, columns channels)."""
    month = orders["day"].dt.to_period("M")
    revenue = orders.groupby([month, orders[CHANNEL]])[AMOUNT].sum().unstack(CHANNEL, fill_value=0.0)
    share = revenue.div(revenue.sum(axis=1).where(lambda s: s != 0), axis=0)
    share.index = share.index.to_timestamp()
    share.index.name = "month"
    return share


@dataclass
class OmnichannelStudy:
    """Everything the omnichannel page reports."""

    observation_end: pd.Timestamp
    orders: pd.DataFrame
    mix: pd.DataFrame
    monthly_share: pd.DataFrame
    per_customer: pd.DataFrame
    groups: pd.DataFrame
    bands: pd.DataFrame
    migration: Migration
    crossing: pd.DataFrame
    store_first_value: pd.DataFrame
    clv_info: dict
    offline_channels: tuple[str, ...]
    metrics: dict


@shared
def run_omnichannel_study(
    transactions: pd.DataFrame,
    observation_end: object = None,
    *,
    offline_channels: Sequence[str] = ("store",),
    include_clv: bool = True,
    horizon_months: int = 12,
    gross_margin: float = 0.30,
    annual_discount_rate: float = 0.10,
    model: str = "bgnbd",
) -> OmnichannelStudy:
    """Run every omnichannel computation on validated transactions with a channel column."""
    from helpers.studies.customer_base.analysis import end_day

    end = end_day(observation_end, transactions)
    orders = orders_from_transactions(transactions, end)
    per = customer_channels(orders, end)
    clv, clv_info = (None, {"skipped": True})
    if include_clv:
        clv, clv_info = channel_group_clv(
            transactions, end, horizon_months=horizon_months, gross_margin=gross_margin,
            annual_discount_rate=annual_discount_rate, model=model,
        )
        if clv is not None:
            per["clv"] = clv.reindex(per.index)
    groups = single_vs_multi(per, clv)
    migration = channel_migration(orders)
    crossing, value = online_offline(orders, per, offline_channels)
    mix = channel_mix(orders)
    repeat = groups[groups["population"] == "repeat"].set_index("group")
    metrics = {
        "observation_end": str(end.date()),
        "customers": int(len(per)),
        "orders": int(len(orders)),
        "channels": mix[CHANNEL].tolist(),
        "top_channel": str(mix[CHANNEL].iloc[0]),
        "top_channel_revenue_share": float(mix["revenue_share"].iloc[0]),
        "multi_share_all": float((per["group"] == "multi").mean()),
        "multi_share_repeat": float(repeat.loc["multi", "share"]) if "multi" in repeat.index else float("nan"),
        "repeat_groups": repeat.reset_index().to_dict(orient="records"),
        "crossing": crossing.to_dict(orient="records"),
        "store_first_value": value.to_dict(orient="records"),
        "clv": clv_info,
        "offline_channels": list(offline_channels),
    }
    return OmnichannelStudy(
        end, orders, mix, monthly_channel_share(orders), per, groups, by_frequency_band(per), migration, crossing,
        value, clv_info, tuple(offline_channels), metrics,
    )
