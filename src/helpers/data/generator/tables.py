"""Table schemas and the conversions raw block arrays -> Arrow -> pandas (and back).

Arrow tables are the canonical form: the Parquet files are written from them, the pandas
frames of :class:`~helpers.data.generator.NewRetailData` are read from them, and a frame is
turned back into the same Arrow table before it is written, so ``write(generate(cfg))``
and the streaming writer give the same bytes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from helpers.data.columns import (
    AMOUNT,
    CATEGORY,
    CHANNEL,
    CUSTOMER_ID,
    ORDER_ID,
    QUANTITY,
    STORE,
    TIMESTAMP,
)
from helpers.data.generator.config import SEVERITIES, TIERS
from helpers.data.generator.context import CONTACT_CHANNELS, ISSUE_TYPES, Context
from helpers.data.generator.loyalty import EVENT_TYPES
from helpers.errors import DataError

#: Arrow type of each column kind. "int?" is an integer column that may be empty.
KIND_TYPES = {
    "str": pa.string(), "date": pa.date32(), "ts": pa.timestamp("us"), "money": pa.float64(),
    "float": pa.float64(), "int": pa.int64(), "int?": pa.int64(), "bool": pa.bool_(),
}

#: (column, kind, may be empty) of every table, in file order.
SCHEMA: dict[str, list[tuple[str, str, bool]]] = {
    "customers": [
        (CUSTOMER_ID, "str", False), ("join_date", "date", False), ("join_channel", "str", False),
        ("region", "str", False), ("city_tier", "str", False), ("age_band", "str", False),
        ("marketing_sms", "bool", False), ("marketing_wechat", "bool", False), ("data_analytics", "bool", False),
    ],
    "transactions": [
        (CUSTOMER_ID, "str", False), (ORDER_ID, "str", False), ("line_no", "int", False),
        (TIMESTAMP, "ts", False), (CHANNEL, "str", False), (STORE, "str", False), (CATEGORY, "str", False),
        (QUANTITY, "int", False), (AMOUNT, "money", False), ("discount", "money", False),
        ("points_earned", "int", False), ("points_redeemed", "int", False), ("is_return", "bool", False),
    ],
    "loyalty_events": [
        (CUSTOMER_ID, "str", False), (TIMESTAMP, "ts", False), ("event_type", "str", False),
        ("points", "int", False), ("tier_from", "str", True), ("tier_to", "str", True), (ORDER_ID, "str", True),
    ],
    "service_tickets": [
        ("ticket_id", "str", False), (CUSTOMER_ID, "str", False), (ORDER_ID, "str", False),
        ("opened_at", "ts", False), ("first_response_at", "ts", True), ("resolved_at", "ts", True),
        ("channel", "str", False), ("issue_type", "str", False), ("severity_tier", "str", False),
        ("satisfaction", "int?", True),
    ],
    "campaign_exposures": [
        (CUSTOMER_ID, "str", False), ("campaign_id", "str", False), ("group", "str", False),
        ("exposed_at", "ts", False), ("pre_period_spend", "money", False), ("outcome_spend", "money", False),
        ("converted", "bool", False),
    ],
    "stores": [("store_id", "str", False), ("region", "str", False), ("city_tier", "str", False)],
    "truth_customers": [
        (CUSTOMER_ID, "str", False), ("lambda_per_day", "float", False), ("dropout_probability", "float", False),
        ("spend_rate_nu", "float", False), ("mean_spend_per_purchase_day", "float", False),
        ("alive_at_end", "bool", False), ("churn_date", "date", True),
    ],
}
TABLES: tuple[str, ...] = tuple(SCHEMA)
ONLINE_STORE = "ONLINE"
ORDER_WIDTH, TICKET_WIDTH, STORE_WIDTH = 9, 8, 3


def arrow_schema(table: str) -> pa.Schema:
    return pa.schema([pa.field(name, KIND_TYPES[kind], nullable=empty) for name, kind, empty in SCHEMA[table]])


def customer_id_width(n_customers: int) -> int:
    return max(6, len(str(n_customers)))


# --- raw arrays -> Arrow ------------------------------------------------------------------


def _ids(prefix: str, numbers: np.ndarray, width: int, missing: np.ndarray | None = None) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(np.asarray(numbers, dtype=np.int64), mask=missing), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _labels(codes: np.ndarray, labels, missing: np.ndarray | None = None) -> pa.Array:
    codes = np.asarray(codes, dtype=np.int32)
    if missing is None and (codes < 0).any():
        missing = codes < 0
    indices = pa.array(np.maximum(codes, 0), mask=missing)
    return pa.DictionaryArray.from_arrays(indices, pa.array(list(labels), pa.string())).dictionary_decode()


def _ts(ctx: Context, seconds: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    micros = (ctx.epoch_s + np.asarray(seconds, dtype=np.int64)) * 1_000_000
    return pa.array(micros, type=pa.timestamp("us"), mask=missing)


def _date(ctx: Context, day: np.ndarray, missing: np.ndarray | None = None) -> pa.Array:
    days = (ctx.epoch_s // 86_400 + np.asarray(day, dtype=np.int64)).astype(np.int32)
    return pa.array(days, type=pa.date32(), mask=missing)


def _money(cents: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(cents, dtype=np.int64) / 100.0, type=pa.float64())


def _table(name: str, columns: list) -> pa.Table:
    return pa.Table.from_arrays(columns, schema=arrow_schema(name))


def block_tables(raw: dict, ctx: Context, *, first_customer: int, first_order: int, first_ticket: int) -> dict:
    """Arrow tables of one simulated block, with global ids."""
    w = customer_id_width(ctx.cfg.n_customers)

    def cid(code):
        return _ids("M", first_customer + 1 + code, w)

    def oid(order, missing=None):
        return _ids("O", first_order + 1 + order, ORDER_WIDTH, missing)

    cu, tx, ev, tk, cp, tr = (
        raw[k] for k in ("customers", "transactions", "loyalty_events", "service_tickets",
                         "campaign_exposures", "truth_customers")
    )
    out = {}
    out["customers"] = _table("customers", [
        cid(cu["code"]), _date(ctx, cu["join_day"]), _labels(cu["join_channel"], ctx.channels),
        _labels(cu["region"], ctx.regions), _labels(cu["city_tier"], ctx.city_tiers),
        _labels(cu["age_band"], ctx.age_bands), pa.array(cu["marketing_sms"]), pa.array(cu["marketing_wechat"]),
        pa.array(cu["data_analytics"]),
    ])
    online = tx["store"] < 0
    store = pc.if_else(pa.array(online), ONLINE_STORE, _ids("S", tx["store"] + 1, STORE_WIDTH))
    out["transactions"] = _table("transactions", [
        cid(tx["code"]), oid(tx["order"]), pa.array(tx["line_no"]), _ts(ctx, tx["ts"]),
        _labels(tx["channel"], ctx.channels), store, _labels(tx["category"], ctx.categories),
        pa.array(tx["quantity"]), _money(tx["amount_cents"]), _money(tx["discount_cents"]),
        pa.array(tx["points_earned"]), pa.array(tx["points_redeemed"]), pa.array(tx["is_return"]),
    ])
    out["loyalty_events"] = _table("loyalty_events", [
        cid(ev["code"]), _ts(ctx, ev["ts"]), _labels(ev["type"], EVENT_TYPES), pa.array(ev["points"]),
        _labels(ev["tier_from"], TIERS), _labels(ev["tier_to"], TIERS), oid(ev["order"], ev["order"] < 0),
    ])
    out["service_tickets"] = _table("service_tickets", [
        _ids("T", first_ticket + 1 + np.arange(len(tk["code"])), TICKET_WIDTH), cid(tk["code"]), oid(tk["order"]),
        _ts(ctx, tk["opened_ts"]), _ts(ctx, tk["first_response_ts"], tk["first_response_ts"] < 0),
        _ts(ctx, tk["resolved_ts"], tk["resolved_ts"] < 0), _labels(tk["contact"], CONTACT_CHANNELS),
        _labels(tk["issue"], ISSUE_TYPES), _labels(tk["severity"], SEVERITIES),
        pa.array(tk["satisfaction"], mask=tk["satisfaction"] < 0),
    ])
    out["campaign_exposures"] = _table("campaign_exposures", [
        cid(cp["code"]), pa.array(np.full(len(cp["code"]), ctx.cfg.campaign_id)),
        _labels(cp["treated"].astype(np.int32), ("control", "treatment")), _ts(ctx, cp["exposed_ts"]),
        _money(cp["pre_cents"]), _money(cp["outcome_cents"]), pa.array(cp["converted"]),
    ])
    out["truth_customers"] = _table("truth_customers", [
        cid(tr["code"]), pa.array(tr["lambda"]), pa.array(tr["p"]), pa.array(tr["nu"]), pa.array(tr["mean_spend"]),
        pa.array(tr["alive"]), _date(ctx, tr["churn_day"], tr["churn_day"] < 0),
    ])
    return out


def stores_table(ctx: Context) -> pa.Table:
    n = len(ctx.store_region)
    return _table("stores", [
        _ids("S", np.arange(1, n + 1), STORE_WIDTH), _labels(ctx.store_region, ctx.regions),
        _labels(ctx.store_tier, ctx.city_tiers),
    ])


# --- Arrow <-> pandas ------------------------------------------------------------------------


def to_pandas(name: str, table: pa.Table) -> pd.DataFrame:
    """pandas frame of a table: text as str, dates and timestamps as datetime64[us],
    nullable integers as Int64."""
    df = table.to_pandas(date_as_object=False)
    for column, kind, _ in SCHEMA[name]:
        if kind == "date":
            df[column] = df[column].astype("datetime64[us]")
        elif kind == "int?":
            df[column] = df[column].astype("Int64")
    return df


def from_pandas(name: str, df: pd.DataFrame) -> pa.Table:
    """Arrow table of a frame laid out as :data:`SCHEMA` says (the inverse of :func:`to_pandas`)."""
    missing = [column for column, _, _ in SCHEMA[name] if column not in df.columns]
    if missing:
        raise DataError(f"the {name} table lacks the column(s) {missing}; it cannot be written as generated data")
    arrays = []
    for column, kind, _ in SCHEMA[name]:
        s = df[column]
        if kind == "date":
            arrays.append(pc.cast(pa.array(s.astype("datetime64[us]"), type=pa.timestamp("us")), pa.date32()))
        elif kind == "ts":
            arrays.append(pa.array(s.astype("datetime64[us]"), type=pa.timestamp("us")))
        else:
            arrays.append(pa.array(s, type=KIND_TYPES[kind], from_pandas=True))
    return _table(name, arrays)


def csv_frame(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """The frame as it is written to CSV: dates and times as text, model floats with 10
    significant digits; money keeps two decimals through ``float_format``."""
    out = df.copy()
    for column, kind, _ in SCHEMA[name]:
        if kind == "date":
            out[column] = out[column].dt.strftime("%Y-%m-%d")
        elif kind == "ts":
            out[column] = out[column].dt.strftime("%Y-%m-%d %H:%M:%S")
        elif kind == "float":
            out[column] = np.char.mod("%.10g", out[column].to_numpy(dtype="float64"))
    return out
