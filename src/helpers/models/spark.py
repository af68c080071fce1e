"""Customer summary from a Spark DataFrame: aggregate on the cluster, fit here.

A team whose transactions live in a data lake aggregates them where they are (Spark) and
brings one row per customer back to pandas, where the models are fitted:

>>> from helpers.models.spark import summary_from_spark                       # doctest: +SKIP
>>> orders = spark.read.parquet("s3://lake/orders/")                    # doctest: +SKIP
>>> summary = summary_from_spark(orders, {"customer_id": "member_no"},  # doctest: +SKIP
...                              observation_end="2024-12-31", time_unit="W")
>>> model = helpers.studies.clv.analysis.fit_purchase_model(summary, "bgnbd")            # doctest: +SKIP

The conventions are exactly those of :func:`helpers.models.summary.customer_summary` after
:func:`helpers.data.loading.transactions_from_frame` (same-day purchases merged, ``frequency``
counts repeat days, ``recency`` and ``T`` from the first day, ``monetary_value`` the mean
of repeat days; ``observation_end`` with ``future_dates``; ``returns_policy``). Headers are
matched with :func:`helpers.data.columns.resolve_columns`.

Input types: ids of any type (compared as trimmed text); timestamps as Spark
``timestamp``/``date`` columns, or text in ISO form (``2024-01-31``, ``2024-01-31 14:30:00``)
or ``yyyyMMdd``; amounts numeric or plain numeric text. Other text formats (currency signs,
``2024/1/31``) should be converted in Spark first; they raise :class:`DataError` with
example values. Spark DataFrames have no row order, so messages give values, not rows.

PySpark is an optional extra (``pip install 'retail-playbooks[spark]'``) and is imported
only when a function here is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from helpers.data import columns as C
from helpers.data.loading import timestamp_or_error
from helpers.errors import MAX_LISTED, ConfigError, DataError
from helpers.models.summary import DAYS_PER_UNIT, SUMMARY_COLUMNS, normalise_time_unit

SOURCE = "<Spark DataFrame>"


def _pyspark() -> Any:
    try:
        import pyspark.sql.functions as F
    except ImportError as exc:
        raise ConfigError(
            "helpers.models.spark needs PySpark (and Java 17+): pip install 'retail-playbooks[spark]' "
            "or pip install pyspark."
        ) from exc
    return F


def customer_days_from_spark(
    df: Any,
    column_map: Mapping[str, str] | None = None,
    *,
    observation_end: Any = None,
    returns_policy: str = "net",
    future_dates: str = "error",
    source: str = SOURCE,
) -> Any:
    """A Spark DataFrame with one row per customer and day: ``customer_id, day, amount``.

    Stays on the cluster (nothing is collected); :func:`summary_from_spark` builds on it.
    """
    F = _pyspark()
    if returns_policy not in ("net", "drop", "error"):
        raise ConfigError(f"returns_policy must be 'net', 'drop' or 'error', not {returns_policy!r}.")
    if future_dates not in ("error", "drop"):
        raise ConfigError(f"future_dates must be 'error' or 'drop', not {future_dates!r}.")
    mapping = C.resolve_columns(list(df.columns), column_map, file=source)
    types = dict(df.dtypes)

    def fail(frame: Any, condition: Any, canonical: str, shown: Any, problem: str, hint: str) -> None:
        bad = frame.filter(condition)
        count = bad.count()
        if count:
            values = [r[0] for r in bad.select(shown).limit(MAX_LISTED).collect()]
            raise DataError(
                f"{problem} ({count:,} row{'s' if count != 1 else ''}; for example "
                f"{', '.join(repr(v) for v in values)}; a Spark DataFrame has no row numbers)",
                file=source, column=mapping[canonical], hint=hint,
            )

    raw_id = F.col(_q(mapping[C.CUSTOMER_ID]))
    raw_ts = F.col(_q(mapping[C.TIMESTAMP]))
    raw_amt = F.col(_q(mapping[C.AMOUNT]))
    id_type, ts_type, amt_type = (types[mapping[k]] for k in (C.CUSTOMER_ID, C.TIMESTAMP, C.AMOUNT))

    def blank(col: Any, t: str) -> Any:
        return col.isNull() | (F.trim(col.cast("string")) == "") if t == "string" else col.isNull()

    all_blank = None
    for header in mapping.values():
        b = blank(F.col(_q(header)), types[header])
        all_blank = b if all_blank is None else (all_blank & b)
    rows = df.filter(~all_blank)

    if id_type in ("float", "double"):
        ids = F.when(raw_id == F.floor(raw_id), raw_id.cast("long").cast("string")).otherwise(raw_id.cast("string"))
    else:
        ids = raw_id.cast("string")
    ids = F.when(F.trim(ids) == "", None).otherwise(F.trim(ids))
    ts_text = F.when(F.trim(raw_ts.cast("string")) == "", None).otherwise(F.trim(raw_ts.cast("string")))
    if ts_type in ("timestamp", "timestamp_ntz", "date"):
        ts = raw_ts.cast("timestamp")
    else:
        ts = F.coalesce(
            F.when(ts_text.rlike(r"^\d{8}$"), F.to_timestamp(ts_text, "yyyyMMdd")),
            F.when(
                ts_text.rlike(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?$"),
                F.to_timestamp(F.regexp_replace(ts_text, "T", " ")),
            ),
        )
    amt_text = F.when(F.trim(raw_amt.cast("string")) == "", None).otherwise(F.trim(raw_amt.cast("string")))
    amount = raw_amt.cast("double") if amt_type != "string" else F.expr(
        f"try_cast(trim({_q(mapping[C.AMOUNT])}) AS DOUBLE)"
    )
    df_typed = rows.select(ids.alias("cid"), ts.alias("ts"), amount.alias("amount"),
                           ts_text.alias("ts_text"), amt_text.alias("amt_text"))

    cutoff = _cutoff(observation_end)
    late = F.col("ts") >= F.lit(cutoff) if cutoff is not None else F.lit(False)
    checks = [
        (F.col("cid").isNull(), C.CUSTOMER_ID, F.lit(""), "customer ids are missing",
         "Every purchase needs the customer who made it; remove anonymous sales or give them an id."),
        (F.col("ts_text").isNull(), C.TIMESTAMP, F.lit(""), "dates are missing", "Fill or drop these rows in Spark."),
        (F.col("ts").isNull() & F.col("ts_text").isNotNull(), C.TIMESTAMP, "ts_text", "dates cannot be read",
         "Use a timestamp/date column, ISO text (2024-01-31 14:30:00) or yyyyMMdd; convert other formats "
         "in Spark with to_timestamp(col, 'your format')."),
        (F.col("amt_text").isNull(), C.AMOUNT, F.lit(""), "amount values are missing", "Fill or drop these rows."),
        (F.col("amt_text").isNotNull() & (F.col("amount").isNull() | F.isnan("amount")
                                          | (F.abs("amount") == float("inf"))),
         C.AMOUNT, "amt_text", "amount values are not numbers",
         "Cast the column to a number in Spark (strip currency signs first)."),
    ]
    if cutoff is not None and future_dates == "error":
        checks.append((F.col("ts").isNotNull() & late, C.TIMESTAMP, F.col("ts").cast("string"),
                       f"dates fall after the observation end {_end_text(observation_end)}",
                       "Pass future_dates='drop' to leave them out, or a later observation_end."))
    if returns_policy == "error":
        checks.append((F.col("ts").isNotNull() & ~late & (F.col("amount") < 0), C.AMOUNT, "amount",
                       "amounts are negative (returns or refunds)",
                       "Pass returns_policy='net' to net returns against same-day purchases, or "
                       "returns_policy='drop' to leave negative rows out."))
    # One pass over the data counts every problem; only a failing check scans again for examples.
    counts = df_typed.agg(*[F.sum(c[0].cast("long")).alias(f"c{i}") for i, c in enumerate(checks)]).collect()[0]
    for i, check in enumerate(checks):
        if counts[i]:
            fail(df_typed, *check)

    kept = df_typed.filter(~late) if cutoff is not None else df_typed
    if returns_policy == "drop":
        kept = kept.filter(F.col("amount") >= 0)
    days = kept.groupBy(F.col("cid").alias("customer_id"), F.to_date("ts").alias("day")).agg(
        F.sum("amount").alias("amount")
    )
    if returns_policy == "net":  # customer-days whose net amount is below zero are dropped
        days = days.filter(F.col("amount") >= -1e-9)
    return days


def summary_from_spark(
    df: Any,
    column_map: Mapping[str, str] | None = None,
    *,
    observation_end: Any = None,
    time_unit: str = "D",
    returns_policy: str = "net",
    future_dates: str = "error",
    source: str = SOURCE,
) -> pd.DataFrame:
    """``frequency, recency, T, monetary_value`` per customer, computed by Spark, as pandas.

    Same result as :func:`helpers.models.summary.customer_summary` on the same rows loaded with
    :func:`helpers.data.loading.transactions_from_frame` (index ``customer_id`` sorted, floats).
    """
    F = _pyspark()
    unit_days = DAYS_PER_UNIT[normalise_time_unit(time_unit)]
    days = customer_days_from_spark(
        df, column_map, observation_end=observation_end, returns_policy=returns_policy,
        future_dates=future_dates, source=source,
    )
    if observation_end is not None and not (isinstance(observation_end, str) and not observation_end.strip()):
        end = F.lit(str(_day(observation_end))).cast("date")
    else:
        last = days.agg(F.max("day")).collect()[0][0]
        if last is None:
            raise DataError("there are no transactions to summarise", file=source)
        end = F.lit(str(last)).cast("date")
    first = days.groupBy("customer_id").agg(F.min("day").alias("first_day"))
    per = (
        days.join(first, "customer_id")
        .groupBy("customer_id")
        .agg(
            F.min("first_day").alias("first_day"),
            F.max("day").alias("last_day"),
            F.count(F.lit(1)).alias("n_days"),
            F.sum(F.when(F.col("day") > F.col("first_day"), F.col("amount"))).alias("repeat_total"),
        )
    )
    out = per.select(
        "customer_id",
        (F.col("n_days") - 1).cast("double").alias("frequency"),
        (F.datediff("last_day", "first_day").cast("double") / unit_days).alias("recency"),
        (F.datediff(end, "first_day").cast("double") / unit_days).alias("T"),
        F.when(F.col("n_days") > 1, F.col("repeat_total") / (F.col("n_days") - 1)).otherwise(F.lit(0.0))
        .alias("monetary_value"),
    )
    frame = _to_pandas(out)
    if frame.empty:
        raise DataError("there are no transactions to summarise", file=source)
    frame = frame.sort_values("customer_id", kind="stable")
    index = pd.Index(frame["customer_id"].astype(str).to_numpy(), name=C.CUSTOMER_ID)
    summary = pd.DataFrame({c: frame[c].to_numpy(dtype="float64") for c in SUMMARY_COLUMNS}, index=index)
    return summary.sort_index(kind="stable")


def _to_pandas(frame: Any) -> pd.DataFrame:
    """``toPandas`` with Arrow transfer switched on for this call (millions of rows)."""
    conf = frame.sparkSession.conf
    key = "spark.sql.execution.arrow.pyspark.enabled"
    before = conf.get(key, "false")
    conf.set(key, "true")
    try:
        return frame.toPandas()
    finally:
        conf.set(key, before)


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _day(value: Any) -> np.datetime64:
    stamp = timestamp_or_error(value, f"observation_end {value!r} is not a date (use 'YYYY-MM-DD').")
    if stamp.tz is not None:
        stamp = stamp.tz_localize(None)
    return np.datetime64(stamp.normalize(), "D")


def _cutoff(observation_end: Any) -> pd.Timestamp | None:
    if observation_end is None or (isinstance(observation_end, str) and not observation_end.strip()):
        return None
    _day(observation_end)  # validates
    end = pd.Timestamp(observation_end)
    if end.tz is not None:
        end = end.tz_localize(None)
    cutoff = end + pd.Timedelta(days=1) if end == end.normalize() else end + pd.Timedelta(1, "us")
    return cutoff.to_pydatetime()


def _end_text(observation_end: Any) -> str:
    end = pd.Timestamp(observation_end)
    return str(end.date()) if end == end.normalize() else str(end)
