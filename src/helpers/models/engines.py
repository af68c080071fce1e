"""Large inputs: reduce a transaction file with DuckDB before anything reaches pandas.

A CSV file, a Parquet file or a folder of Parquet files that is too large for pandas is
aggregated by DuckDB (embedded, no server; it spills to disk when memory runs short) to

- one row per customer and calendar day (:func:`customer_days`): ``customer_id``,
  ``timestamp`` (the day, at midnight) and ``amount`` (the day's net sum). This frame is a
  valid ``transactions`` input for every function of :mod:`helpers.models.summary` and for
  :func:`helpers.studies.clv.study.run_clv_study`, and gives the same results as the full log,
  because those functions merge purchases of one day anyway;
- or straight to ``frequency, recency, T, monetary_value`` per customer
  (:func:`summary_from_file`), exactly as :func:`helpers.models.summary.customer_summary` computes
  them from :func:`helpers.data.loading.read_transactions`.

Both follow the loader's rules: headers are matched with
:func:`helpers.data.columns.resolve_columns` (column map, Chinese and English aliases), ids are
text, dates and amounts are read as the loader reads them, ``observation_end`` with
``future_dates`` and the ``returns_policy`` behave as in
:func:`helpers.data.loading.transactions_from_frame`. Problems raise
:class:`~helpers.errors.DataError` naming the file, the column, example values and (found
with a second, single-threaded scan that only runs when there is an error) row numbers.

Engine choice (``engine=``): ``"pandas"`` reads the file with :mod:`helpers.data.loading`;
``"duckdb"`` uses DuckDB; ``"auto"`` (the default) uses DuckDB when the estimated in-memory
size of the file as pandas would hold it exceeds :data:`AUTO_MEMORY_SHARE` of the memory
available now (see :func:`choose_engine`), and pandas otherwise (always for Excel files
and the embedded ``cdnow:`` data).

Known differences from the pandas loader, all for rare inputs: a time-zone-aware Parquet
timestamp is taken as its UTC wall-clock time (pandas keeps the stored zone's wall clock),
and the data-quality report is not produced (DuckDB returns aggregates only).
"""

from __future__ import annotations

import codecs
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from helpers.data import columns as C
from helpers.data.arrow_csv import read_mapped_columns
from helpers.data.loading import (
    DataQualityReport,
    DroppedRows,
    LoadResult,
    _observation_cutoff,
    read_transactions,
    transactions_from_frame,
)
from helpers.errors import MAX_LISTED, ConfigError, DataError
from helpers.memo import shared
from helpers.models.memory import release_free_memory
from helpers.models.summary import (
    DAYS_PER_UNIT,
    SUMMARY_COLUMNS,
    customer_summary,
    normalise_time_unit,
)

Engine = Literal["auto", "pandas", "duckdb"]
ENGINES: tuple[str, ...] = ("auto", "pandas", "duckdb")

#: ``engine="auto"`` picks DuckDB when the estimated pandas footprint of the input exceeds
#: this share of the memory available now (pandas needs room for copies while parsing).
AUTO_MEMORY_SHARE = 0.25
#: Peak bytes of memory per byte on disk when pandas loads and validates the input. CSV,
#: measured through :func:`load_transactions` after issue 17 (streamed pyarrow reader,
#: plain timestamps and numbers typed batch by batch): 10M purchase lines, 423 MB, peaked at
#: 1.10 GB (2.6x); the generator's 1M-customer CSV, 645 MB, at 1.12 GB with the CLV
#: notebook's three columns (1.7x) and 3.1 GB with all eight mapped columns, four of them
#: text (4.9x, the worst measured, hence 5.0). A file whose values need the loader's general
#: parsers (offsets, currency signs, ...) can still peak at about 7.7x, as every file did
#: before; with :data:`AUTO_MEMORY_SHARE` that still fits the available memory. Parquet
#: compresses about 5-8x, then text columns expand as Python-visible strings.
MEMORY_PER_DISK_BYTE: dict[str, float] = {"csv": 5.0, "parquet": 25.0}

#: Up to this many distinct text values of a date or amount column are parsed by the
#: pandas loader's own parser (identical results); above it DuckDB parses them natively.
PANDAS_PARSE_LIMIT = 2_000_000

_PARQUET_SUFFIXES = (".parquet", ".pq")
_TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
_ISO_PATTERN = r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$"
#: Formats DuckDB tries, in the loader's order, when there are too many distinct dates to
#: hand them to pandas. The first format that reads every value wins.
_NATIVE_DATE_FORMATS = (
    "%Y%m%d", "%Y%m%d%H%M%S", "%Y-%m-%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y.%m.%d",
)


# --------------------------------------------------------------------------- engine choice


def _duckdb() -> Any:
    try:
        import duckdb
    except ImportError as exc:  # pragma: no cover - duckdb is a dependency
        raise ConfigError(
            "engine='duckdb' needs the duckdb package: pip install duckdb (or use engine='pandas')."
        ) from exc
    return duckdb


def _kind(path: Path) -> str | None:
    if path.is_dir():
        return "parquet"
    suffix = path.suffix.lower()
    if suffix in _TEXT_SUFFIXES:
        return "csv"
    if suffix in _PARQUET_SUFFIXES:
        return "parquet"
    return None


def input_size_bytes(path: str | os.PathLike[str]) -> int:
    """Size on disk of a file, or of the Parquet files in a folder (recursively)."""
    p = Path(path)
    if p.is_dir():
        return sum(f.stat().st_size for f in p.rglob("*") if f.suffix.lower() in _PARQUET_SUFFIXES)
    return p.stat().st_size


def available_memory_bytes() -> int:
    """Memory the system can give this process now (``MemAvailable`` on Linux)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - non-Linux without psutil
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def estimated_pandas_bytes(path: str | os.PathLike[str]) -> int:
    """Rough peak memory pandas needs to load ``path`` (0 for inputs DuckDB cannot read)."""
    p = Path(path)
    kind = _kind(p) if p.exists() else None
    if kind is None:
        return 0
    return int(input_size_bytes(p) * MEMORY_PER_DISK_BYTE[kind])


def choose_engine(path: str | os.PathLike[str], engine: str = "auto") -> str:
    """``"pandas"`` or ``"duckdb"`` for this input.

    ``"auto"`` chooses DuckDB when :func:`estimated_pandas_bytes` exceeds
    :data:`AUTO_MEMORY_SHARE` x :func:`available_memory_bytes` (on a 24 GB machine with
    20 GB free: CSV files above about 1 GB, Parquet above about 200 MB). Excel files and
    the embedded ``cdnow:`` data always go to pandas.
    """
    if engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(repr(e) for e in ENGINES)}, not {engine!r}.")
    source = os.fspath(path)
    is_embedded = str(source).startswith("cdnow:")
    if engine == "duckdb":
        if is_embedded or _kind(Path(source)) is None:
            raise ConfigError(
                f"engine='duckdb' reads CSV/TXT/TSV files, Parquet files and folders of Parquet "
                f"files, not {source!r}; use engine='pandas'."
            )
        return "duckdb"
    if engine == "pandas" or is_embedded:
        return "pandas"
    p = Path(source)
    if not p.exists() or _kind(p) is None:
        return "pandas"  # the loader reports missing files and unknown types
    too_big = estimated_pandas_bytes(p) > AUTO_MEMORY_SHARE * available_memory_bytes()
    if too_big:
        try:
            _duckdb()
        except ConfigError:  # pragma: no cover
            return "pandas"
        return "duckdb"
    return "pandas"


# --------------------------------------------------------------------------- public


def customer_days(
    path: str | os.PathLike[str],
    column_map: Mapping[str, str] | None = None,
    *,
    date_format: str | None = None,
    observation_end: Any = None,
    returns_policy: str = "net",
    future_dates: str = "error",
    encoding: str | None = None,
    engine: str = "auto",
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """One row per customer and calendar day: ``customer_id, timestamp, amount``.

    ``timestamp`` is the day at midnight and ``amount`` the net sum of the day's rows,
    sorted by customer then day. The frame can be passed as ``transactions`` to
    :func:`helpers.models.summary.customer_summary`, :func:`~helpers.models.summary.calibration_holdout_summary`
    and :func:`helpers.studies.clv.study.run_clv_study`; their results equal those on the full log.
    Parameters as :func:`helpers.data.loading.read_transactions`; ``engine`` as
    :func:`choose_engine`; ``memory_limit`` caps DuckDB's memory (e.g. ``"4GB"``; default:
    DuckDB's own, 80% of RAM), spilling to a temporary folder beyond it.
    """
    if choose_engine(path, engine) == "pandas":
        tx = _pandas_transactions(path, column_map, date_format, observation_end, returns_policy, future_dates, encoding)
        days = tx[C.TIMESTAMP].dt.normalize()
        out = tx.groupby([tx[C.CUSTOMER_ID], days], sort=True)[C.AMOUNT].sum().reset_index()
        return out[[C.CUSTOMER_ID, C.TIMESTAMP, C.AMOUNT]]
    with _duck_source(path, column_map, date_format, observation_end, returns_policy, future_dates,
                      encoding, memory_limit) as src:
        return _days_frame(src)


def _days_frame(src) -> pd.DataFrame:
    """The customer-days of an open :func:`_duck_source` as a pandas frame (text ids,
    microsecond timestamps), sorted by customer then day."""
    frame = src.con.execute(
        f"SELECT customer_id, CAST(day AS TIMESTAMP) AS timestamp, amount FROM ({src.days_sql}) "
        "ORDER BY customer_id, day"
    ).df()
    frame[C.TIMESTAMP] = frame[C.TIMESTAMP].astype("datetime64[us]")
    frame[C.CUSTOMER_ID] = frame[C.CUSTOMER_ID].astype(str)
    return frame


def summary_from_file(
    path: str | os.PathLike[str],
    column_map: Mapping[str, str] | None = None,
    *,
    observation_end: Any = None,
    time_unit: str = "D",
    date_format: str | None = None,
    returns_policy: str = "net",
    future_dates: str = "error",
    encoding: str | None = None,
    engine: str = "auto",
    memory_limit: str | None = None,
) -> pd.DataFrame:
    """Per-customer ``frequency, recency, T, monetary_value`` straight from a file.

    Equals ``customer_summary(read_transactions(path, column_map, observation_end=...,
    returns_policy=..., future_dates=...).transactions, observation_end, time_unit)``; with
    DuckDB only one row per customer reaches pandas. Without ``observation_end`` the last
    purchase day in the data ends the period, as in :func:`helpers.models.summary.customer_summary`.
    """
    unit_days = DAYS_PER_UNIT[normalise_time_unit(time_unit)]
    if choose_engine(path, engine) == "pandas":
        tx = _pandas_transactions(path, column_map, date_format, observation_end, returns_policy, future_dates, encoding)
        return customer_summary(tx, observation_end, time_unit)
    with _duck_source(path, column_map, date_format, observation_end, returns_policy, future_dates,
                      encoding, memory_limit) as src:
        until = _observation_day(observation_end)
        end_sql = f"DATE '{until}'" if until is not None else "(SELECT max(day) FROM cd)"
        query = f"""
            WITH cd AS ({src.days_sql}),
            per AS (
                SELECT customer_id, min(day) AS first_day, max(day) AS last_day, count(*) AS n_days
                FROM cd GROUP BY customer_id
            ),
            repeats AS (
                SELECT cd.customer_id, sum(cd.amount) FILTER (WHERE cd.day > per.first_day) AS repeat_total
                FROM cd JOIN per ON cd.customer_id = per.customer_id GROUP BY cd.customer_id
            )
            SELECT per.customer_id,
                   CAST(n_days - 1 AS DOUBLE) AS frequency,
                   CAST(date_diff('day', first_day, last_day) AS DOUBLE) / {unit_days} AS recency,
                   CAST(date_diff('day', first_day, {end_sql}) AS DOUBLE) / {unit_days} AS T,
                   CASE WHEN n_days > 1 THEN repeat_total / (n_days - 1) ELSE 0.0 END AS monetary_value
            FROM per JOIN repeats ON per.customer_id = repeats.customer_id
            ORDER BY per.customer_id
        """
        out = src.con.execute(query).df()
    if out.empty:
        raise DataError("there are no transactions to summarise", file=os.fspath(path))
    summary = out.set_index(pd.Index(out[C.CUSTOMER_ID].astype(str), name=C.CUSTOMER_ID))[SUMMARY_COLUMNS]
    return summary.astype("float64")


@shared
def load_transactions(
    path: str | os.PathLike[str],
    column_map: Mapping[str, str] | None = None,
    *,
    encoding: str | None = None,
    date_format: str | None = None,
    observation_end: Any = None,
    returns_policy: str = "net",
    future_dates: str = "error",
    sheet: str | int | None = None,
    engine: str = "auto",
    memory_limit: str | None = None,
    columns: Sequence[str] | None = None,
    decimal: str = ".",
    amount_outliers: str = "drop",
    max_amount: float | None = None,
    timezone: str | None = None,
) -> LoadResult:
    """The notebooks' entry point: a transaction file loaded with the engine
    :func:`choose_engine` picks, as a :class:`helpers.data.loading.LoadResult`.

    - ``"pandas"``: exactly :func:`helpers.data.loading.read_transactions` (same frame,
      report, errors); plain UTF-8 CSV files are read by pyarrow's CSV reader, only the
      mapped columns (:func:`helpers.data.arrow_csv.read_mapped_columns`), everything
      else by the loader's own reader.
    - ``"duckdb"``: one row per customer and day (:func:`customer_days`, valid input for
      every summary and for the CLV study); the report counts rows read and kept, customers
      and dates, with the rows the policies removed in one line.

    ``columns`` (canonical names, e.g. ``()`` for a CLV study) keeps only those optional
    columns besides ``customer_id, timestamp, amount`` when the file is read by pyarrow: the
    others are never parsed and are listed as ignored columns; duplicate rows are then
    judged on the kept columns. ``None`` (default) keeps every mapped column. With
    ``engine="auto"``, asking for an optional column (e.g. ``("category",)``) means the rows
    are read, never customer-days, which would drop it.

    ``decimal``, ``amount_outliers``, ``max_amount`` and ``timezone`` are the loader's
    safety options (:func:`helpers.data.loading.read_transactions`); a decimal-comma file
    is always read by the loader itself. The DuckDB path aggregates customer-days in SQL and
    does not apply the implausible-amount and time-zone checks (files that large are
    exports of a system whose amounts and clock are already consistent).
    """
    source = os.fspath(path) if path is not None else ""
    policies = {"date_format": date_format, "observation_end": observation_end,
                "returns_policy": returns_policy, "future_dates": future_dates}
    safety = {"decimal": decimal, "amount_outliers": amount_outliers, "max_amount": max_amount, "timezone": timezone}
    if not str(source).strip() or sheet is not None or decimal != ".":
        return read_transactions(path, column_map, encoding=encoding, sheet=sheet, **policies, **safety)
    chosen = choose_engine(source, engine)
    if chosen == "duckdb" and engine == "auto" and columns:
        chosen = "pandas"  # customer-days keep no optional column: a study that asks for one reads rows
    if chosen == "duckdb":
        return _duck_load(source, column_map, encoding, memory_limit, **policies)
    fast = read_mapped_columns(source, column_map, encoding=encoding, columns=columns, parse=date_format is None)
    # before validation adds its own: the reader's freed buffers, kept by pyarrow's pool and by
    # the heap of each reading thread (about 400 MB of peak memory at 1M customers)
    release_free_memory()
    if fast is None:
        return read_transactions(source, column_map, encoding=encoding, **policies, **safety)
    kept_map = None if column_map is None else {c: h for c, h in column_map.items() if h in fast.frame.columns}
    result = transactions_from_frame(fast.frame, kept_map or None, source=source, **policies, **safety)
    ignored = [h for h in fast.headers if h not in result.columns.values()]
    result = replace(result, report=replace(result.report, ignored_columns=ignored), encoding=fast.encoding)
    del fast
    release_free_memory()  # the reader's buffers, which pyarrow's pool keeps otherwise (~350 MB at 1M customers)
    return result


def _duck_load(source: str, column_map, encoding, memory_limit, *, date_format, observation_end,
               returns_policy, future_dates) -> LoadResult:
    with _duck_source(source, column_map, date_format, observation_end, returns_policy, future_dates,
                      encoding, memory_limit) as src:
        frame = _days_frame(src)
        kept = src.con.execute(f"SELECT coalesce(sum(n_rows), 0) FROM ({src.days_sql})").fetchone()[0]
        read, blank = src.con.execute(
            f"SELECT count(*), count(*) - (SELECT count(*) FROM src) FROM {src.reader_sql}"
        ).fetchone()
        mapping, headers = src.mapping, src.headers
    if frame.empty:
        raise DataError("no rows are left after applying the returns and future-date policies", file=source,
                        hint="See the report of dropped rows; consider returns_policy or observation_end.")
    dropped = []
    if blank:
        dropped.append(DroppedRows("empty rows", int(blank), [], "empty"))
    removed = int(read) - int(blank) - int(kept)
    if removed:
        dropped.append(DroppedRows("rows removed by the observation end and returns policy (DuckDB)", removed,
                                   [], "policies"))
    report = DataQualityReport(
        rows_read=int(read), rows_kept=int(kept), dropped=dropped,
        customers=int(frame[C.CUSTOMER_ID].nunique()),
        first_date=frame[C.TIMESTAMP].min(), last_date=frame[C.TIMESTAMP].max(),
        ignored_columns=[h for h in headers if h not in mapping.values()],
    )
    return LoadResult(frame, report, source, None, dict(mapping))


# --------------------------------------------------------------------------- pandas engine


def _pandas_transactions(path, column_map, date_format, observation_end, returns_policy, future_dates, encoding):
    from helpers.data.loading import read_transactions

    return read_transactions(
        path,
        column_map,
        encoding=encoding,
        date_format=date_format,
        observation_end=observation_end,
        returns_policy=returns_policy,
        future_dates=future_dates,
    ).transactions


# --------------------------------------------------------------------------- DuckDB engine


@dataclass
class _Source:
    con: Any
    days_sql: str  # SELECT customer_id, day, amount, n_rows: one row per customer-day
    reader_sql: str = ""  # the raw scan of the input
    mapping: dict[str, str] = field(default_factory=dict)
    headers: list[str] = field(default_factory=list)


def _observation_day(observation_end: Any) -> np.datetime64 | None:
    """The last day of the observation period, as the loader defines the period."""
    cutoff = _observation_cutoff(observation_end)
    return None if cutoff is None else np.datetime64((cutoff - pd.Timedelta(1, "ns")).normalize(), "D")


def _cutoff_sql(observation_end: Any) -> str | None:
    """First instant after the observation period, as the loader defines it."""
    if observation_end is None or (isinstance(observation_end, str) and not observation_end.strip()):
        return None
    end = pd.Timestamp(observation_end)
    if end.tz is not None:
        end = end.tz_localize(None)
    cutoff = end + pd.Timedelta(days=1) if end == end.normalize() else end + pd.Timedelta(1, "us")
    return f"TIMESTAMP '{cutoff.isoformat(sep=' ')}'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _check_policies(returns_policy: str, future_dates: str) -> None:
    if returns_policy not in ("net", "drop", "error"):
        raise ConfigError(f"returns_policy must be 'net', 'drop' or 'error', not {returns_policy!r}.")
    if future_dates not in ("error", "drop"):
        raise ConfigError(f"future_dates must be 'error' or 'drop', not {future_dates!r}.")


@contextmanager
def _duck_source(path, column_map, date_format, observation_end, returns_policy, future_dates,
                 encoding, memory_limit) -> Iterator[_Source]:
    duckdb = _duckdb()
    _check_policies(returns_policy, future_dates)
    source = os.fspath(path)
    p = Path(source)
    if not p.exists():
        raise DataError("file not found", file=str(p.resolve()), hint="Check the path.")
    with tempfile.TemporaryDirectory(prefix="helpers-duckdb-") as tmp:
        con = duckdb.connect(config={"temp_directory": tmp, "preserve_insertion_order": False})
        try:
            if memory_limit:
                con.execute(f"SET memory_limit = {_literal(str(memory_limit))}")
            con.execute("SET TimeZone = 'UTC'")
            reader = _Reader.open(con, p, source, encoding, tmp)
            days_sql = _build(con, reader, column_map, date_format, observation_end, returns_policy, future_dates)
            mapping = C.resolve_columns(reader.headers, column_map, file=reader.shown)
            yield _Source(con, days_sql, reader.sql, mapping, reader.headers)
        except (duckdb.IOException, duckdb.InvalidInputException, duckdb.ConversionException) as exc:
            raise DataError(
                f"DuckDB could not read the input ({type(exc).__name__}: {str(exc).splitlines()[0]})",
                file=source,
                hint="Check that the file is a well-formed CSV/Parquet file, or try engine='pandas' "
                "on a part of it to see the loader's diagnosis.",
            ) from exc
        finally:
            con.close()


@dataclass
class _Reader:
    """How to scan the input: a SQL table expression plus its columns and types."""

    sql: str  # a table expression: read_csv(...) or read_parquet([...])
    shown: str  # the file name used in messages
    kind: str
    headers: list[str]  # cleaned header names (as the loader cleans them)
    raw_names: list[str]  # the names DuckDB gives the same columns
    types: list[str]
    files: list[str]

    @classmethod
    def open(cls, con: Any, p: Path, shown: str, encoding: str | None, tmp: str) -> "_Reader":
        kind = _kind(p)
        if kind is None:
            raise DataError(
                f"files of type '{p.suffix or '(no extension)'}' cannot be read by DuckDB",
                file=shown,
                hint="Use a CSV or Parquet file (or a folder of Parquet files), or engine='pandas'.",
            )
        if kind == "parquet":
            files = [str(p)] if p.is_file() else sorted(
                str(f) for f in p.rglob("*") if f.suffix.lower() in _PARQUET_SUFFIXES
            )
            if not files:
                raise DataError("the folder contains no .parquet files", file=str(p.resolve()),
                                hint="Point to a file, or to a folder of .parquet files.")
            sql = "read_parquet([" + ", ".join(_literal(f) for f in files) + "], union_by_name = true)"
        else:
            if p.stat().st_size == 0:
                raise DataError("the file is empty", file=shown)
            files = [_utf8_file(p, shown, encoding, tmp)]
            sql = f"read_csv({_literal(files[0])}, header = true, all_varchar = true)"
        described = con.execute(f"DESCRIBE SELECT * FROM {sql}").fetchall()
        raw_names = [row[0] for row in described]
        types = [str(row[1]).upper() for row in described]
        headers = [str(n).replace("\ufeff", "").strip() for n in raw_names]
        return cls(sql, shown, kind, headers, raw_names, types, files)

    def numbered_sql(self) -> str:
        """The same scan with ``_row`` (spreadsheet row, header = 1) and ``_file`` columns."""
        if self.kind == "parquet":
            inner = self.sql[:-1] + ", filename = true, file_row_number = true)"
            return f"(SELECT *, file_row_number + 2 AS _row, filename AS _file FROM {inner})"
        return f"(SELECT *, row_number() OVER () + 1 AS _row, {_literal(self.files[0])} AS _file FROM {self.sql})"


def _utf8_file(p: Path, shown: str, encoding: str | None, tmp: str) -> str:
    """The file itself if it is UTF-8, else a UTF-8 copy streamed in chunks (GBK exports)."""
    with open(p, "rb") as fh:
        head = fh.read(1 << 16)
    chosen = encoding
    if chosen is None:
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            chosen = "utf-16"
        else:
            try:
                codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
                chosen = "utf-8"
            except UnicodeDecodeError:
                chosen = "gb18030"
    if codecs.lookup(chosen).name in ("utf-8", "utf-8-sig"):
        return str(p)
    target = Path(tmp) / (p.stem + ".utf8.csv")
    decoder = codecs.getincrementaldecoder(chosen)()
    try:
        with open(p, "rb") as src, open(target, "w", encoding="utf-8", newline="") as dst:
            for chunk in iter(lambda: src.read(16 << 20), b""):
                dst.write(decoder.decode(chunk))
            dst.write(decoder.decode(b"", final=True))
    except UnicodeDecodeError as exc:
        raise DataError(
            f"the file is neither UTF-8 nor {chosen} text (undecodable bytes at offset {exc.start})",
            file=shown,
            hint="Save it as UTF-8 CSV, or pass encoding='...'.",
        ) from exc
    return str(target)


def _is_text(t: str) -> bool:
    return t.startswith("VARCHAR") or t in ("BLOB", "STRING")


def _is_number(t: str) -> bool:
    return t in ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL")


def _build(con, reader: _Reader, column_map, date_format, observation_end, returns_policy, future_dates) -> str:
    """Validate the input and return SQL for its customer-days."""
    mapping = C.resolve_columns(reader.headers, column_map, file=reader.shown)
    col: dict[str, str] = {}
    typ: dict[str, str] = {}
    for canonical in C.REQUIRED:
        header = mapping[canonical]
        positions = [i for i, h in enumerate(reader.headers) if h == header]
        if len(positions) > 1:
            raise DataError(f"the header '{header}' appears {len(positions)} times", file=reader.shown,
                            column=header, hint="Rename the duplicates or pass a column map to a unique header.")
        col[canonical] = _quote(reader.raw_names[positions[0]])
        typ[canonical] = reader.types[positions[0]]
    mapped = [
        (_quote(reader.raw_names[reader.headers.index(h)]), reader.types[reader.headers.index(h)])
        for h in mapping.values()
    ]
    ctx = _Ctx(con, reader, mapping, col, typ, mapped)
    ctx.create("src")
    no_ts = "ts_text IS NULL" if _is_text(typ[C.TIMESTAMP]) else "ts_raw IS NULL"
    no_amt = "amt_text IS NULL" if _is_text(typ[C.AMOUNT]) else "amt_raw IS NULL"
    present = con.execute(
        f"SELECT count(*) FILTER (WHERE cid IS NULL), count(*) FILTER (WHERE {no_ts}), "
        f"count(*) FILTER (WHERE {no_amt}), count(*) FROM src"
    ).fetchone()
    if present[3] == 0:
        raise DataError("the input has no data rows", file=reader.shown,
                        hint="Check that the right file or folder was given.")
    if present[0]:
        ctx.fail("src", "cid IS NULL", "''", C.CUSTOMER_ID, "customer ids are missing",
                 "Every purchase needs the customer who made it; remove anonymous (walk-in) sales "
                 "or give them an id before loading.")
    if present[1]:
        ctx.fail("src", no_ts, "''", C.TIMESTAMP, "dates are missing", _DATE_HINT)
    if present[2]:
        ctx.fail("src", no_amt, "''", C.AMOUNT, "amount values are missing", _NUMBER_HINT)

    ctx.ts_expr = _timestamp_expression(ctx, typ[C.TIMESTAMP], date_format)
    ctx.amt_expr = _amount_expression(ctx, typ[C.AMOUNT])
    ctx.create("rows_")
    cutoff = _cutoff_sql(observation_end)
    checks = []
    if _is_text(typ[C.TIMESTAMP]) or date_format is not None:  # native dates are always readable
        checks.append(("ts_text IS NOT NULL AND ts IS NULL", "ts_text", C.TIMESTAMP, "dates cannot be read",
                       _DATE_HINT))
    checks.append((
        ("amt_text IS NOT NULL AND (amount IS NULL OR NOT isfinite(amount))" if _is_text(typ[C.AMOUNT])
         else "amount IS NOT NULL AND NOT isfinite(amount)"),
        "amt_text", C.AMOUNT, "amount values are not numbers", _NUMBER_HINT,
    ))
    if cutoff is not None and future_dates == "error":
        checks.append((f"ts >= {cutoff}", "CAST(ts AS VARCHAR)", C.TIMESTAMP,
                       f"dates fall after the observation end {_end_text(observation_end)}",
                       "Pass future_dates='drop' to leave them out, or a later observation_end."))
    if returns_policy == "error":
        checks.append(("amount < 0" + (f" AND ts < {cutoff}" if cutoff else ""), "amount", C.AMOUNT,
                       "amounts are negative (returns or refunds)",
                       "Pass returns_policy='net' to net returns against same-day purchases, or "
                       "returns_policy='drop' to leave negative rows out."))
    counts = con.execute(
        "SELECT " + ", ".join(f"count(*) FILTER (WHERE {c[0]})" for c in checks) + " FROM rows_"
    ).fetchone()
    for check, count in zip(checks, counts):
        if count:
            condition, shown, canonical, problem, hint = check
            ctx.fail("rows_", condition, shown, canonical, problem, hint)

    where = []
    if cutoff is not None:
        where.append(f"ts < {cutoff}")
    if returns_policy == "drop":
        where.append("amount >= 0")
    filters = ("WHERE " + " AND ".join(where)) if where else ""
    # 'net': customer-days whose net amount is below zero are dropped (1e-9: sums of cents).
    having = "HAVING sum(amount) >= -1e-9" if returns_policy == "net" else ""
    return (
        f"SELECT cid AS customer_id, CAST(ts AS DATE) AS day, sum(amount) AS amount, count(*) AS n_rows "
        f"FROM rows_ {filters} GROUP BY cid, CAST(ts AS DATE) {having}"
    )


def _end_text(observation_end: Any) -> str:
    end = pd.Timestamp(observation_end)
    return str(end.date()) if end == end.normalize() else str(end)


def _present(col: str, t: str) -> str:
    """SQL: the cell holds something (text: not blank after trimming)."""
    return f"NULLIF(trim({col}), '') IS NOT NULL" if _is_text(t) else f"{col} IS NOT NULL"


def _text(col: str, t: str) -> str:
    """SQL: the cell as trimmed text, NULL when blank (for native types only used in messages)."""
    return f"NULLIF(trim({col}), '')" if _is_text(t) else f"CAST({col} AS VARCHAR)"


def _id_expression(col: str, t: str) -> str:
    if t in ("FLOAT", "DOUBLE", "REAL") or t.startswith("DECIMAL"):
        # Integer ids stored as floats (an empty cell makes Parquet use float) lose '.0'.
        return (f"NULLIF(trim(CASE WHEN {col} = floor({col}) AND abs({col}) < 9007199254740992 "
                f"THEN CAST(CAST({col} AS BIGINT) AS VARCHAR) ELSE CAST({col} AS VARCHAR) END), '')")
    if t == "BOOLEAN":
        return f"CASE WHEN {col} THEN 'True' WHEN NOT {col} THEN 'False' END"
    return f"NULLIF(trim(CAST({col} AS VARCHAR)), '')"


_DATE_HINT = (
    "Accepted: 19970101, 1997-01-01, 1997-01-01 14:30[:00], 1997/1/1, 1997.1.1, "
    "1997年1月1日 [14:30]. Pass date_format='%d/%m/%Y' (or the file's own format) to force one."
)
_NUMBER_HINT = (
    "Numbers may use thousands separators (1,280.00), currency signs (¥ ￥ $ RMB 元) and "
    "parentheses for negatives ((12.00)). A decimal comma (12,50) is not accepted: convert it to 12.50 first."
)


class _Ctx:
    """The views over one input, and errors with examples and row numbers."""

    def __init__(self, con, reader: _Reader, mapping, col, typ, mapped) -> None:
        self.con, self.reader, self.mapping, self.col, self.typ = con, reader, mapping, col, typ
        self.mapped = mapped
        self.maps: dict[str, str] = {}  # value -> parsed tables joined on src, and their key column
        self.ts_expr = "NULL"
        self.amt_expr = "NULL"

    # SQL of the two views, for the plain scan and for the numbered (error path) scan.
    def _src_sql(self, numbered: bool) -> str:
        c, t = self.col, self.typ
        not_blank = " OR ".join(_present(m, mt) for m, mt in self.mapped)
        extra = "_row, _file, " if numbered else ""
        return (
            f"SELECT {extra}{_id_expression(c[C.CUSTOMER_ID], t[C.CUSTOMER_ID])} AS cid, "
            f"{_text(c[C.TIMESTAMP], t[C.TIMESTAMP])} AS ts_text, {_text(c[C.AMOUNT], t[C.AMOUNT])} AS amt_text, "
            f"{c[C.TIMESTAMP]} AS ts_raw, {c[C.AMOUNT]} AS amt_raw "
            f"FROM {self.reader.numbered_sql() if numbered else self.reader.sql} WHERE {not_blank}"
        )

    def _rows_sql(self, numbered: bool) -> str:
        src = "src_n" if numbered else "src"
        extra = "_row, _file, " if numbered else ""
        return (
            f"SELECT {extra}cid, {self.ts_expr} AS ts, {self.amt_expr} AS amount, ts_text, amt_text "
            f"FROM {src} AS src {self.joins()}"
        )

    def create(self, view: str) -> None:
        sql = self._src_sql(False) if view == "src" else self._rows_sql(False)
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW {view} AS {sql}")

    def joins(self) -> str:
        return " ".join(f"LEFT JOIN {m} ON {m}.v = src.{key}" for m, key in self.maps.items())

    def add_map(self, name: str, frame: pd.DataFrame, key: str) -> None:
        self.con.register(f"{name}_df", frame)
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_df")
        self.con.unregister(f"{name}_df")
        self.maps[name] = key

    def fail(self, view: str, condition: str, shown: str, canonical: str, problem: str, hint: str) -> None:
        """Raise DataError for the rows of ``view`` meeting ``condition``."""
        total = self.con.execute(f"SELECT count(*) FROM {view} WHERE {condition}").fetchone()[0]
        header = self.mapping[canonical]
        found = self._numbered(view, condition, shown)
        if found:
            file, rows, values = found
            more = f" ({total:,} rows in all)" if total > len(rows) else ""
            raise DataError(problem + more, file=file, column=header, rows=rows, values=values, hint=hint)
        values = [r[0] for r in self.con.execute(
            f"SELECT {shown} FROM {view} WHERE {condition} LIMIT {MAX_LISTED}").fetchall()]
        raise DataError(
            f"{problem} ({total:,} row{'s' if total != 1 else ''}; for example "
            f"{', '.join(repr(v) for v in values)}; DuckDB could not give row numbers for this input)",
            file=self.reader.shown, column=header, hint=hint,
        )

    def _numbered(self, view: str, condition: str, shown: str) -> tuple[str, list[int], list] | None:
        """File and spreadsheet row numbers (header = row 1) of the first offending rows.

        Runs only on the error path: a single-threaded rescan that numbers rows in file
        order (Parquet: DuckDB's file_row_number). In a CSV, blank lines are not counted.
        """
        try:
            self.con.execute("SET threads = 1")
            self.con.execute("SET preserve_insertion_order = true")
            self.con.execute(f"CREATE OR REPLACE TEMP VIEW src_n AS {self._src_sql(True)}")
            target = "src_n"
            if view == "rows_":
                self.con.execute(f"CREATE OR REPLACE TEMP VIEW rows_n AS {self._rows_sql(True)}")
                target = "rows_n"
            first = self.con.execute(
                f"SELECT _file FROM {target} WHERE {condition} ORDER BY _file, _row LIMIT 1").fetchone()
            found = self.con.execute(
                f"SELECT _row, {shown} FROM {target} WHERE ({condition}) AND _file = ? ORDER BY _row LIMIT 1000",
                [first[0]],
            ).fetchall()
        except Exception:  # noqa: BLE001 - row numbers are a courtesy; the error is raised anyway
            return None
        if not found:
            return None
        shown_file = self.reader.shown if len(self.reader.files) == 1 else str(first[0])
        return shown_file, [int(r[0]) for r in found], [r[1] for r in found]


def _timestamp_expression(ctx: _Ctx, t: str, date_format: str | None) -> str:
    """SQL for the parsed timestamp of a row of ``src`` (NULL where a value cannot be read)."""
    if date_format is None and (t == "DATE" or t.startswith("TIMESTAMP")):
        return "CAST(ts_raw AS TIMESTAMP)"
    con = ctx.con
    if date_format is None:
        non_iso = con.execute(
            f"SELECT count(*) FROM (SELECT DISTINCT ts_text FROM src WHERE ts_text IS NOT NULL) "
            f"WHERE NOT regexp_full_match(ts_text, {_literal(_ISO_PATTERN)}) "
            f"OR try_cast(ts_text AS TIMESTAMP) IS NULL"
        ).fetchone()[0]
        if non_iso == 0:  # ISO dates, the common export: DuckDB's own cast, no lookup table
            return "try_cast(ts_text AS TIMESTAMP)"
    distinct = con.execute("SELECT count(DISTINCT ts_text) FROM src").fetchone()[0]
    if distinct > PANDAS_PARSE_LIMIT:
        return _native_date_expression(con, date_format)
    from helpers.data.loading import (
        parse_date_strings,  # the loader's own parser: same results
    )

    values = pd.Series(
        [r[0] for r in con.execute("SELECT DISTINCT ts_text FROM src WHERE ts_text IS NOT NULL").fetchall()],
        dtype=str,
    )
    parsed = parse_date_strings(
        values, file=ctx.reader.shown, column=ctx.mapping[C.TIMESTAMP], date_format=date_format
    )
    frame = pd.DataFrame({"v": values.to_numpy(dtype=object), "ts": parsed.to_numpy(dtype="datetime64[us]")})
    ctx.add_map("ts_map", frame, "ts_text")
    return "ts_map.ts"


def _native_date_expression(con, date_format: str | None) -> str:
    if date_format:
        return f"try_strptime(ts_text, {_literal(date_format)})"
    sample = "(SELECT DISTINCT ts_text AS v FROM src WHERE ts_text IS NOT NULL LIMIT 200000)"
    for fmt in _NATIVE_DATE_FORMATS:
        misses = con.execute(
            f"SELECT count(*) FROM {sample} WHERE try_strptime(v, {_literal(fmt)}) IS NULL").fetchone()[0]
        if misses == 0:
            return f"try_strptime(ts_text, {_literal(fmt)})"
    return "try_cast(ts_text AS TIMESTAMP)"  # the check that follows reports what it cannot read


def _amount_expression(ctx: _Ctx, t: str) -> str:
    """SQL for the parsed amount of a row of ``src`` (NULL or non-finite where unreadable)."""
    if _is_number(t):
        return "CAST(amt_raw AS DOUBLE)"
    con = ctx.con
    plain = "try_cast(amt_text AS DOUBLE)"
    odd = f"amt_text IS NOT NULL AND ({plain} IS NULL OR NOT isfinite({plain}))"
    n_odd = con.execute(f"SELECT count(DISTINCT amt_text) FROM src WHERE {odd}").fetchone()[0]
    if n_odd == 0:  # plain numbers, the common export
        return plain
    if n_odd <= PANDAS_PARSE_LIMIT:
        from helpers.data.loading import (
            parse_number_strings,  # the loader's own parser: same results
        )

        values = pd.Series(
            [r[0] for r in con.execute(f"SELECT DISTINCT amt_text FROM src WHERE {odd}").fetchall()], dtype=str
        )
        parsed = parse_number_strings(values).to_numpy(dtype="float64")
        ctx.add_map("amt_map", pd.DataFrame({"v": values.to_numpy(dtype=object), "amount": parsed}), "amt_text")
        return f"CASE WHEN amt_map.v IS NULL THEN {plain} ELSE amt_map.amount END"
    cleaned = (
        "replace(regexp_replace(regexp_replace(amt_text, '(?i)rmb|cny|usd|hkd|us\\$|hk\\$|元|[¥￥$€£\\s]', '', 'g'), "
        "'^\\((.*)\\)$', '-\\1'), ',', '')"
    )
    return f"try_cast({cleaned} AS DOUBLE)"
