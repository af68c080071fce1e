"""Reading and validating transaction files.

One entry point per kind of input:

- :func:`read_transactions` for a file (CSV/TSV/TXT, Parquet or a folder of Parquet
  files, XLSX) or the embedded study data (``"cdnow:master"``, ``"cdnow:sample"``);
- :func:`transactions_from_frame` for a DataFrame already in memory.

Both return a :class:`LoadResult` whose ``transactions`` frame holds only the
canonical columns of :mod:`helpers.data.columns`. Columns that are not mapped (names,
phone numbers, e-mail addresses, ...) are never copied into it.

Every problem is raised as :class:`~helpers.errors.DataError` naming the file, the
column, the spreadsheet row numbers (header = row 1) and the offending values, or as
:class:`~helpers.errors.ConfigError` for a bad parameter.
"""

from __future__ import annotations

import codecs
import csv
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from helpers.data import columns as C
from helpers.data import datasets
from helpers.errors import MAX_LISTED, ConfigError, DataError

ReturnsPolicy = Literal["net", "drop", "error"]
FutureDates = Literal["error", "drop"]
OutlierPolicy = Literal["drop", "cap", "error"]

TEXT_SUFFIXES = (".csv", ".txt", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls")
#: Tried in order when ``encoding`` is not given. GB18030 is a superset of GBK and
#: GB2312, the encodings Chinese Excel and back-office exports use.
DEFAULT_ENCODINGS = ("utf-8-sig", "gb18030")
EMBEDDED_PREFIX = "cdnow:"
_ENCODING_NAMES = {"utf-8-sig": "UTF-8", "gb18030": "GB18030 (GBK)"}

_KEY = "_customer_code"  # working column, never returned
_CHUNK = 16 * 1024 * 1024
_SNIFF_LINES = 50
_SNIFF_CHARS = 64 * 1024


@dataclass(frozen=True)
class DroppedRows:
    """Rows removed for one reason; ``example_rows`` are spreadsheet row numbers."""

    reason: str
    count: int
    example_rows: list[int]
    #: Catalog key (``data.dropped.<key>``) and values for the reason in the page language.
    key: str = ""
    values: dict[str, str] = field(default_factory=dict)

    def reason_text(self, language: str = "en") -> str:
        from helpers.report.i18n import text

        return text(f"data.dropped.{self.key}", language, **self.values) if self.key else self.reason


@dataclass(frozen=True)
class DataQualityReport:
    """What happened to the rows of one input between reading and analysis."""

    rows_read: int
    rows_kept: int
    dropped: list[DroppedRows] = field(default_factory=list)
    customers: int = 0
    first_date: pd.Timestamp | None = None
    last_date: pd.Timestamp | None = None
    #: Rows identical to an earlier row in every kept column. They are kept: two
    #: identical orders on the same day are legitimate.
    duplicate_rows: int = 0
    #: Rows with a negative amount seen in the input (before any returns policy).
    negative_rows: int = 0
    #: Source columns that were not mapped and therefore never read into the pipeline.
    ignored_columns: list[str] = field(default_factory=list)
    #: Rows kept but changed: amounts capped (``amount_outliers='cap'``), timestamps
    #: converted from another UTC offset. Same shape as ``dropped``.
    adjusted: list[DroppedRows] = field(default_factory=list)

    def to_frame(self, language: str = "en") -> pd.DataFrame:
        """A small (reason, rows) table for display in a notebook, in the page language."""
        from helpers.report.i18n import text

        def t(key: str, **values: str) -> str:
            return text(f"data.quality.{key}", language, **values)

        lines = [(t("rows_read"), self.rows_read)]
        lines += [(t("dropped", reason=d.reason_text(language)), d.count) for d in self.dropped]
        lines += [(t("adjusted", reason=d.reason_text(language)), d.count) for d in self.adjusted]
        lines += [(t("rows_kept"), self.rows_kept)]
        lines += [(t("duplicates"), self.duplicate_rows)]
        lines += [(t("customers"), self.customers)]
        return pd.DataFrame(lines, columns=["reason", "rows"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dictionary (dates as ISO strings)."""
        return {
            "rows_read": int(self.rows_read),
            "rows_kept": int(self.rows_kept),
            "dropped": [
                {"reason": d.reason, "count": int(d.count), "example_rows": [int(r) for r in d.example_rows]}
                for d in self.dropped
            ],
            "customers": int(self.customers),
            "first_date": self.first_date.isoformat() if self.first_date is not None else None,
            "last_date": self.last_date.isoformat() if self.last_date is not None else None,
            "duplicate_rows": int(self.duplicate_rows),
            "negative_rows": int(self.negative_rows),
            "ignored_columns": list(self.ignored_columns),
            "adjusted": [
                {"reason": d.reason, "count": int(d.count), "example_rows": [int(r) for r in d.example_rows]}
                for d in self.adjusted
            ],
        }


@dataclass(frozen=True)
class LoadResult:
    """Validated transactions plus what the loader did to get them."""

    #: Canonical columns, sorted by customer_id then timestamp, fresh RangeIndex.
    transactions: pd.DataFrame
    report: DataQualityReport
    #: The path (or label) as given by the caller.
    source: str
    #: Text encoding used to decode the file; None for Parquet, Excel and frames.
    encoding: str | None
    #: canonical column -> source header.
    columns: dict[str, str]


# --------------------------------------------------------------------------- public


def read_transactions(
    path: str | os.PathLike[str],
    column_map: Mapping[str, str] | None = None,
    *,
    encoding: str | None = None,
    date_format: str | None = None,
    observation_end: str | date | datetime | pd.Timestamp | None = None,
    returns_policy: ReturnsPolicy = "net",
    future_dates: FutureDates = "error",
    sheet: str | int | None = None,
    decimal: str = ".",
    amount_outliers: OutlierPolicy = "drop",
    max_amount: float | None = None,
    timezone: str | None = None,
) -> LoadResult:
    """Read a transaction file and validate it.

    Parameters
    ----------
    path:
        A ``.csv``/``.txt``/``.tsv`` file (delimiter sniffed among comma, tab,
        semicolon, pipe and runs of whitespace), a ``.parquet`` file, a folder of
        ``.parquet`` files, or an ``.xlsx`` workbook. ``"cdnow:master"`` and
        ``"cdnow:sample"`` select the CDNOW data shipped inside ``lifetimes``.
    column_map:
        ``{canonical: header}`` for headers the alias list does not know.
    encoding:
        Text encoding. By default UTF-8 (with or without BOM) is tried, then
        GB18030 (which also reads GBK and GB2312); UTF-16 files with a BOM are
        recognised. Ignored for Parquet and Excel.
    date_format:
        A ``strftime`` format forcing how the timestamp column is read, e.g.
        ``"%d/%m/%Y"``. By default YYYYMMDD, ISO dates and times, ``YYYY/M/D``,
        ``YYYY.M.D`` and ``2024年1月5日`` are recognised.
    observation_end, returns_policy, future_dates, decimal, amount_outliers, max_amount, timezone:
        See :func:`transactions_from_frame`.
    sheet:
        Worksheet name or 0-based position for Excel files (default: the first).

    Returns
    -------
    LoadResult
    """
    source = os.fspath(path) if path is not None else ""
    if not str(source).strip():
        raise ConfigError(
            "no data path was given. Pass a transaction file, or 'cdnow:master' for the "
            "CDNOW study data shipped with lifetimes."
        )
    policies = dict(
        date_format=date_format,
        observation_end=observation_end,
        returns_policy=returns_policy,
        future_dates=future_dates,
        decimal=decimal,
        amount_outliers=amount_outliers,
        max_amount=max_amount,
        timezone=timezone,
    )
    if str(source).startswith(EMBEDDED_PREFIX):
        return _read_embedded(str(source), column_map, **policies)

    frame, used_encoding = read_table(source, encoding=encoding, sheet=sheet)
    result = transactions_from_frame(frame, column_map, source=source, **policies)
    return replace(result, encoding=used_encoding)


def transactions_from_frame(
    df: pd.DataFrame,
    column_map: Mapping[str, str] | None = None,
    *,
    source: str = "<DataFrame>",
    date_format: str | None = None,
    observation_end: str | date | datetime | pd.Timestamp | None = None,
    returns_policy: ReturnsPolicy = "net",
    future_dates: FutureDates = "error",
    decimal: str = ".",
    amount_outliers: OutlierPolicy = "drop",
    max_amount: float | None = None,
    timezone: str | None = None,
) -> LoadResult:
    """Validate an in-memory table of transactions.

    Row numbers in messages are the index position + 2 (as if the frame were a
    spreadsheet with its header on row 1).

    Parameters
    ----------
    df:
        One row per purchase line or order. Columns are matched as in
        :func:`helpers.data.columns.resolve_columns`; all other columns are ignored.
    column_map:
        ``{canonical: header}`` for headers the alias list does not know.
    source:
        Name of the input used in messages and kept in the result.
    date_format:
        Forces the format of text timestamps (see :func:`read_transactions`).
    observation_end:
        Last moment of the observation period. A value at midnight (such as
        ``"1998-06-30"``) includes that whole day.
    returns_policy:
        What to do with negative amounts (returns, refunds):

        - ``"net"`` (default): amounts are netted per customer and calendar day;
          customer-days whose net amount is below zero are dropped (all their rows)
          and counted in the report. Other rows, including negative ones netted by a
          purchase the same day, are kept, so per-day sums downstream are net of
          returns. A return on a different day than its purchase is dropped.
        - ``"drop"``: rows with a negative amount are dropped and counted.
        - ``"error"``: any negative amount raises :class:`DataError`.

        Zero amounts are always kept: a free-gift order is still a purchase.
    future_dates:
        What to do with timestamps after ``observation_end``: ``"error"``
        (default) raises :class:`DataError`, ``"drop"`` drops and counts them.
    decimal:
        ``"."`` (default) or ``","`` for files written with decimal commas (``10,50``;
        thousands may then be separated by ``.``: ``1.280,00``), typically ``;``-delimited.
    amount_outliers, max_amount:
        Implausible amounts: beyond ``max_amount`` when given, else beyond
        :func:`implausible_amount_limit` (far outside the typical order on a log scale).
        ``"drop"`` (default) leaves those rows out and lists them in the report,
        ``"cap"`` keeps them at the limit (listed as adjusted), ``"error"`` raises
        :class:`DataError`. One row can then never dominate a headline.
    timezone:
        Text timestamps with UTC offsets (``2024-05-01T10:00:00+08:00``) are read in
        one time: by default the offset most rows carry (ties: Asia/Shanghai); or this
        time zone (``"Asia/Shanghai"``, ``"+08:00"``). Converted rows are listed in the
        report as adjusted. Values without an offset are taken as already in that time.

    Returns
    -------
    LoadResult
    """
    _check_policies(returns_policy, future_dates)
    _check_safety_options(decimal, amount_outliers, max_amount, timezone)
    cutoff = _observation_cutoff(observation_end)
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"expected a pandas DataFrame, got {type(df).__name__}.")
    headers = [str(c) for c in df.columns]
    if not headers:
        raise DataError("the input is empty (no columns)", file=source)
    if len(df) == 0:
        raise DataError(
            "the input has a header row but no data rows",
            file=source,
            hint="Check that the right file or sheet was exported.",
        )
    mapping = C.resolve_columns(headers, column_map, file=source)
    raw = _select(df, headers, mapping, source)
    dropped: list[DroppedRows] = []

    raw, blank = _drop_blank_rows(raw)
    if blank.any():
        dropped.append(_dropped("empty rows", blank, "empty"))
    if raw.empty:
        raise DataError("the input has no data rows (all rows are empty)", file=source)

    ctx = _Context(source, mapping, decimal)
    out = pd.DataFrame(index=raw.index)
    out[C.CUSTOMER_ID] = _parse_ids(raw[C.CUSTOMER_ID], ctx)
    # Integer codes in id order: grouping, de-duplication and sorting on them is several
    # times faster than on strings with millions of rows.
    out[_KEY] = _id_codes(out[C.CUSTOMER_ID])
    adjusted: list[DroppedRows] = []
    out[C.TIMESTAMP] = _parse_timestamps_in_one_time(raw[C.TIMESTAMP], date_format, ctx, timezone, adjusted)
    out[C.AMOUNT] = _parse_numbers(raw[C.AMOUNT], C.AMOUNT, ctx, required=True)
    for col in C.OPTIONAL:
        if col in C.NUMERIC_OPTIONAL and col in raw:
            out[col] = _parse_numbers(raw[col], col, ctx, required=False)
        elif col in raw:
            out[col] = _as_text(raw[col])

    negative_rows = int((out[C.AMOUNT] < 0).sum())
    if cutoff is not None:
        out = _apply_future_dates(out, cutoff, future_dates, ctx, dropped)
    out = _apply_amount_outliers(out, amount_outliers, max_amount, ctx, dropped, adjusted)
    out = _apply_returns_policy(out, returns_policy, ctx, dropped)
    if out.empty:
        raise DataError(
            "no rows are left after applying the returns and future-date policies",
            file=source,
            hint="See the report of dropped rows; consider returns_policy or observation_end.",
        )

    keys, stamps = out[_KEY].to_numpy(), out[C.TIMESTAMP].to_numpy()
    customers = int(np.count_nonzero(np.bincount(keys)))
    # Exports are often sorted by customer and time already: then no sort and no copy.
    order = None if _sorted_by(keys, stamps) else np.lexsort((stamps, keys))  # stable
    duplicates = _count_duplicates(out, order)
    out = (out if order is None else out.iloc[order]).drop(columns=_KEY).reset_index(drop=True)
    report = DataQualityReport(
        rows_read=len(df),
        rows_kept=len(out),
        dropped=dropped,
        customers=customers,
        first_date=out[C.TIMESTAMP].min(),
        last_date=out[C.TIMESTAMP].max(),
        duplicate_rows=duplicates,
        negative_rows=negative_rows,
        ignored_columns=[h for h in headers if h not in mapping.values()],
        adjusted=adjusted,
    )
    return LoadResult(out, report, source, None, mapping)


def read_table(
    path: str | os.PathLike[str], *, encoding: str | None = None, sheet: str | int | None = None
) -> tuple[pd.DataFrame, str | None]:
    """Read any supported file as it is (all text columns for CSV), with the same encoding
    detection, delimiter sniffing, Excel and Parquet-folder handling as
    :func:`read_transactions`. Returns ``(frame, encoding used or None)``; a missing or
    unreadable file is a :class:`DataError` naming it."""
    source = os.fspath(path)
    file = Path(source)
    if not file.exists():
        raise DataError(
            "file not found",
            file=str(file.resolve()),
            hint=f"Check the path; relative paths are taken from the working directory {Path.cwd()}.",
        )
    try:
        return _read_table(file, source, encoding=encoding, sheet=sheet)
    except OSError as exc:  # permissions, a file vanishing mid-read, a network share
        raise DataError(f"the file cannot be opened ({exc.strerror or exc})", file=source) from exc


def parse_date_strings(
    values: pd.Series, *, file: str, column: str, date_format: str | None = None
) -> pd.Series:
    """Parse distinct date/time strings with the transaction loader's rules (NaT where a
    value cannot be read; ambiguous day/month order is a :class:`DataError`)."""
    return _parse_date_strings(values, date_format, _Context(file, {C.TIMESTAMP: column}))


# ------------------------------------------------------------------ reading files


def load_default_transactions() -> LoadResult:
    """The embedded CDNOW master log through the same validation as user files (so a
    data-quality report exists)."""
    return transactions_from_frame(datasets.load_cdnow_master(), source="cdnow:master")


def _read_embedded(source: str, column_map: Mapping[str, str] | None, **policies: Any) -> LoadResult:
    name = source[len(EMBEDDED_PREFIX):].strip().lower()
    loaders = {"master": datasets.load_cdnow_master, "sample": datasets.load_cdnow_sample}
    if name not in loaders:
        raise ConfigError(
            f"unknown embedded data set {source!r}; use 'cdnow:master' or 'cdnow:sample'."
        )
    return transactions_from_frame(loaders[name](), column_map, source=source, **policies)


def _read_table(
    file: Path, shown: str, *, encoding: str | None, sheet: str | int | None
) -> tuple[pd.DataFrame, str | None]:
    suffix = file.suffix.lower()
    is_excel = suffix in EXCEL_SUFFIXES and not file.is_dir()
    if sheet is not None and not is_excel:
        raise ConfigError(f"sheet={sheet!r} only applies to Excel files, not {shown}.")
    if file.is_dir():
        return _read_parquet_folder(file, shown), None
    if suffix in TEXT_SUFFIXES:
        return _read_text(file, shown, encoding)
    if suffix in PARQUET_SUFFIXES:
        return _read_parquet(file, shown), None
    if is_excel:
        return _read_excel(file, shown, sheet), None
    raise DataError(
        f"files of type '{suffix or '(no extension)'}' cannot be read",
        file=shown,
        hint="Save the data as .csv (UTF-8 or GBK), .xlsx or .parquet.",
    )


def _read_text(file: Path, shown: str, encoding: str | None) -> tuple[pd.DataFrame, str]:
    if file.stat().st_size == 0:
        raise DataError("the file is empty", file=shown)
    enc, sample, complete = _detect_encoding(file, shown, encoding)
    if not sample.strip():
        raise DataError("the file is empty (only blank lines)", file=shown)
    sep = _sniff_delimiter(sample, complete)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", pd.errors.ParserWarning)
            df = pd.read_csv(
                file,
                sep=sep,
                encoding=enc,
                dtype=str,
                na_filter=False,  # blanks are judged per column, not by pandas' NA words
                keep_default_na=False,
                skip_blank_lines=False,  # keeps data row i on spreadsheet row i + 2
                index_col=False,  # trailing delimiters must not turn column 1 into the index
            )
        if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
            _refuse_extra_fields(file, enc, sep, len(df.columns), shown)
    except pd.errors.EmptyDataError as exc:
        raise DataError("the file is empty", file=shown) from exc
    except pd.errors.ParserError as exc:
        raise _parser_error(exc, shown, sep) from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"the file cannot be read as a table ({exc})", file=shown) from exc
    df.columns = [str(c).replace("\ufeff", "").strip() for c in df.columns]
    return df, enc


def _refuse_extra_fields(file: Path, enc: str, sep: str, width: int, shown: str) -> None:
    """pandas drops the values of a row with more fields than the header (with a warning
    only): ``12,99`` in a comma-separated file would silently become 12. Raise for rows
    whose extra fields are not blank (a trailing delimiter is fine). Error path only."""
    if sep not in (",", ";", "\t", "|"):
        return
    rows: list[int] = []
    values: list[str] = []
    count = 0
    with file.open(encoding=enc, newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        next(reader, None)
        for fields in reader:
            if len(fields) > width and any(f.strip() for f in fields[width:]):
                count += 1
                if len(rows) < MAX_LISTED:
                    rows.append(reader.line_num)
                    values.append(sep.join(fields))
    if count:
        shown_sep = {"\t": "tab"}.get(sep, repr(sep))
        raise DataError(
            f"rows have more fields than the header ({width}, delimiter {shown_sep}); their extra values would be lost",
            file=shown,
            rows=rows + [0] * (count - len(rows)) if count > len(rows) else rows,
            values=values,
            hint="An unquoted delimiter inside a value (a decimal comma as in 12,99 or a thousands separator as in "
            '1,280.00) splits it: quote such values, or save the file with \';\' between columns and pass decimal=\',\'.',
        )


def _parser_error(exc: Exception, shown: str, sep: str) -> DataError:
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
    if found:
        expected, line, saw = found.groups()
        shown_sep = {"\t": "tab", r"\s+": "whitespace"}.get(sep, repr(sep))
        return DataError(
            f"a row has {saw} fields but the header has {expected} (delimiter {shown_sep})",
            file=shown,
            rows=[int(line)],
            hint="An unquoted delimiter inside a value (such as a thousands separator in "
            '"1,280.00") splits it; quote such values or remove the separators.',
        )
    return DataError(f"the file cannot be read as a table ({exc})", file=shown)


def _detect_encoding(file: Path, shown: str, encoding: str | None) -> tuple[str, str, bool]:
    """Return (encoding, decoded start of the file, whether that start is the whole file)."""
    with file.open("rb") as fh:
        head = fh.read(4)
    if encoding:
        candidates: tuple[str, ...] = (encoding,)
    elif head.startswith((b"\xff\xfe", b"\xfe\xff")):
        candidates = ("utf-16",)
    else:
        candidates = DEFAULT_ENCODINGS
    failures = []
    for enc in candidates:
        try:
            codecs.lookup(enc)
        except LookupError as exc:
            raise ConfigError(f"unknown encoding {enc!r}; try 'utf-8', 'gb18030' or 'big5'.") from exc
        outcome = _decode_check(file, enc)
        if isinstance(outcome, _Decoded):
            return enc, outcome.sample, outcome.complete
        failures.append((enc, outcome))
    enc, bad = failures[0]
    tried = " or ".join(_ENCODING_NAMES.get(e, e) for e, _ in failures)
    raise DataError(
        f"the file cannot be decoded as {tried} text: byte {bad.data.hex(' ')} at byte offset "
        f"{bad.offset} (line {bad.line}) is not valid {_ENCODING_NAMES.get(enc, enc)}",
        file=shown,
        rows=[bad.line],
        values=[bad.data],
        hint="Pass encoding='...' with the file's real encoding (for example 'big5', "
        "'latin-1' or 'utf-16'), or save the file again as UTF-8.",
    )


class _Decoded(NamedTuple):
    sample: str  # decoded first chunk, for delimiter sniffing
    complete: bool  # whether the sample is the whole file


class _BadByte(NamedTuple):
    offset: int
    line: int
    data: bytes


def _decode_check(file: Path, enc: str) -> _Decoded | _BadByte:
    """Decode the whole file in chunks, so a bad byte is found without holding the file.

    UTF-8 chunks of plain ASCII after the first are valid as they are: they are only checked
    (``bytes.isascii``, many times faster than decoding), and lines are counted only when a
    bad byte is found."""
    with file.open("rb") as fh:
        # utf-8-sig reports error positions relative to the text after the BOM, so
        # skip the BOM here and count offsets from the file start ourselves.
        has_bom = codecs.lookup(enc).name == "utf-8-sig" and fh.read(3) == codecs.BOM_UTF8
        ascii_passes = codecs.lookup(enc).name in ("utf-8", "utf-8-sig")
        consumed = 3 if has_bom else 0
        fh.seek(consumed)
        decoder = codecs.getincrementaldecoder("utf-8" if has_bom else enc)()
        sample, complete, first = "", True, True
        while True:
            chunk = fh.read(_CHUNK)
            buffered = decoder.getstate()[0]
            if ascii_passes and not first and not buffered and chunk.isascii() and chunk:
                consumed += len(chunk)
                continue
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as err:
                offset = consumed - len(buffered) + err.start
                return _BadByte(offset, _line_at(fh, offset), (buffered + chunk)[err.start : err.end])
            if first:
                sample, first = text[:_SNIFF_CHARS], False
                complete = len(chunk) < _CHUNK and len(text) <= _SNIFF_CHARS
            if not chunk:
                return _Decoded(sample, complete)
            consumed += len(chunk)


def _line_at(fh: Any, offset: int) -> int:
    """The line (from 1) of the file holding byte ``offset``."""
    fh.seek(0)
    newlines = 0
    while offset > 0:
        chunk = fh.read(min(_CHUNK, offset))
        if not chunk:
            break
        newlines += chunk.count(b"\n")
        offset -= len(chunk)
    return newlines + 1


def _sniff_delimiter(sample: str, complete: bool) -> str:
    lines = [ln for ln in sample.splitlines() if ln.strip()]
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line of a partial read may be cut short
    lines = lines[:_SNIFF_LINES]
    for sep in ("\t", ",", ";", "|"):
        counts = [len(row) for row in csv.reader(lines, delimiter=sep)]
        if _consistent(counts):
            return sep
    if _consistent([len(ln.split()) for ln in lines]):
        return r"\s+"
    return ","  # a single-column file; column matching will report what is missing


def _consistent(counts: list[int]) -> bool:
    """Header has several fields and (nearly) every row has the same number."""
    if not counts or counts[0] < 2:
        return False
    return sum(c == counts[0] for c in counts) >= 0.9 * len(counts)


def _read_parquet(file: Path, shown: str) -> pd.DataFrame:
    try:
        return pd.read_parquet(file)
    except ImportError as exc:
        raise DataError("reading Parquet needs pyarrow", file=shown, hint="pip install pyarrow") from exc
    except Exception as exc:  # pyarrow raises many types for damaged files
        raise DataError(
            f"the file cannot be read as Parquet ({type(exc).__name__}: {exc})", file=shown
        ) from exc


def _read_parquet_folder(folder: Path, shown: str) -> pd.DataFrame:
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in PARQUET_SUFFIXES)
    if not files:
        raise DataError(
            "the folder contains no .parquet files",
            file=str(folder.resolve()),
            hint="Point to a file, or to a folder of .parquet files.",
        )
    # Sorted file order keeps row numbers reproducible.
    return pd.concat([_read_parquet(f, str(f)) for f in files], ignore_index=True)


def _read_excel(file: Path, shown: str, sheet: str | int | None) -> pd.DataFrame:
    try:
        book = pd.ExcelFile(file, engine="openpyxl")
    except Exception as exc:  # openpyxl/zipfile raise many types for non-xlsx content
        raise DataError(
            f"the file cannot be opened as an Excel workbook ({type(exc).__name__})",
            file=shown,
            hint="Old .xls (Excel 97-2003) files are not supported: open the file and save "
            "it as .xlsx or .csv.",
        ) from exc
    with book:
        names = [str(n) for n in book.sheet_names]
        chosen = 0 if sheet is None else sheet
        if (isinstance(chosen, int) and not 0 <= chosen < len(names)) or (
            isinstance(chosen, str) and chosen not in names
        ):
            raise DataError(
                f"the workbook has no sheet {chosen!r}",
                file=shown,
                hint=f"Its sheets are: {', '.join(repr(n) for n in names)}.",
            )
        df = pd.read_excel(book, sheet_name=chosen, dtype=object)  # no type guessing: "00001" must stay text
    df.columns = [str(c).replace("\ufeff", "").strip() for c in df.columns]
    return df


# --------------------------------------------------------------- column parsing


@dataclass(frozen=True)
class _Context:
    file: str
    mapping: dict[str, str]
    decimal: str = "."

    def header(self, canonical: str) -> str:
        return self.mapping[canonical]

    def fail(self, problem: str, canonical: str, mask: pd.Series, values: pd.Series, hint: str) -> DataError:
        bad = mask[mask].index
        return DataError(
            problem,
            file=self.file,
            column=self.header(canonical),
            rows=(bad + 2).tolist(),
            values=values.loc[bad[:MAX_LISTED]].tolist(),
            hint=hint,
        )


def _select(df: pd.DataFrame, headers: list[str], mapping: dict[str, str], source: str) -> pd.DataFrame:
    picked = {}
    for canonical, header in mapping.items():
        positions = [i for i, h in enumerate(headers) if h == header]
        if len(positions) > 1:
            raise DataError(
                f"the header '{header}' appears {len(positions)} times",
                file=source,
                column=header,
                hint="Rename the duplicates or pass a column map to a unique header.",
            )
        picked[canonical] = df.iloc[:, positions[0]].reset_index(drop=True)
    return pd.DataFrame(picked, copy=False)  # typed columns stay as read, no 2-D block copy


def _blank_mask(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return s.isna()
    arr = _arrow_text(s)
    if arr is not None and _visible_ends(arr):
        return pd.Series(False, index=s.index)
    return s.isna() | s.astype(str).str.strip().eq("")


def _drop_blank_rows(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    blank = pd.concat([_blank_mask(raw[c]) for c in raw.columns], axis=1).all(axis=1)
    return (raw[~blank] if blank.any() else raw), blank


def _id_codes(ids: pd.Series) -> np.ndarray:
    """``pd.factorize(ids, sort=True)[0]`` (ids without missing values); for ids already in
    order (most exports) one vectorised comparison of neighbours instead of a hash table."""
    arr = _arrow_text(ids)
    if arr is not None and len(arr) > 1:
        import pyarrow.compute as pc

        # pyarrow compares strings by UTF-8 bytes, which is code-point order, as Python's.
        ahead, behind = arr.slice(1), arr.slice(0, len(arr) - 1)
        if pc.all(pc.greater_equal(ahead, behind)).as_py():
            step = np.asarray(pc.not_equal(ahead, behind).to_numpy(zero_copy_only=False), dtype=np.int64)
            return np.concatenate(([0], np.cumsum(step)))
    return pd.factorize(ids, sort=True)[0]


def _sorted_by(keys: np.ndarray, stamps: np.ndarray) -> bool:
    """Whether rows are already in (key, timestamp) order."""
    if len(keys) < 2:
        return True
    step = np.diff(keys)
    if (step < 0).any():
        return False
    return bool(((step > 0) | (stamps[1:] >= stamps[:-1])).all())


def _count_duplicates(out: pd.DataFrame, order: np.ndarray | None) -> int:
    """Rows equal to an earlier row in every column (the id code standing for the id).
    Such rows share customer and timestamp, so only runs of rows sharing both are compared."""
    keys, stamps = out[_KEY].to_numpy(), out[C.TIMESTAMP].to_numpy()
    if order is not None:
        keys, stamps = keys[order], stamps[order]
    same = (keys[1:] == keys[:-1]) & (stamps[1:] == stamps[:-1])
    if not same.any():
        return 0
    in_run = np.zeros(len(keys), dtype=bool)
    in_run[1:] |= same
    in_run[:-1] |= same
    run = np.cumsum(np.concatenate(([True], ~same)))
    rows = None if order is None and in_run.all() else (np.flatnonzero(in_run) if order is None else order[in_run])
    others = [c for c in out.columns if c not in (C.CUSTOMER_ID, _KEY, C.TIMESTAMP)]
    # One integer per row from the run and the codes of the other columns (factorised as
    # DataFrame.duplicated does: NaN equals NaN); runs come in order, so it is nearly sorted.
    combined, size = run[in_run] - 1, int(run[-1])
    for name in others:  # one column at a time: no copy of the whole frame
        col = out[name] if rows is None else out[name].iloc[rows]
        codes, uniques = pd.factorize(col)
        if size * (len(uniques) + 1) >= 2**62:  # too many combinations for one integer
            frame = out[others] if rows is None else out[others].iloc[rows]
            frame = frame.reset_index(drop=True)
            frame.insert(0, "_run", run[in_run])
            return int(frame.duplicated().sum())
        combined = combined * (len(uniques) + 1) + (codes + 1)
        size *= len(uniques) + 1
    combined = np.sort(combined, kind="stable")
    return int(np.count_nonzero(combined[1:] == combined[:-1]))


def _dropped(reason: str, mask: pd.Series, key: str = "", **values: str) -> DroppedRows:
    rows = mask[mask].index[:MAX_LISTED] + 2
    return DroppedRows(reason, int(mask.sum()), [int(r) for r in rows], key, values)


def _integral(values: np.ndarray) -> bool:
    return bool(np.all((np.mod(values, 1) == 0) & (np.abs(values) < 2**53)))


def _as_text(s: pd.Series) -> pd.Series:
    """Values as stripped strings; blanks become missing. Integral floats lose '.0'."""
    if pd.api.types.is_bool_dtype(s):
        text = s.astype(str)
    elif pd.api.types.is_integer_dtype(s):
        text = s.astype("Int64").astype(str)
    elif pd.api.types.is_float_dtype(s) and _integral(s.dropna().to_numpy()):
        # Excel and Parquet store integer ids/dates as floats when a cell is empty.
        text = s.astype("Int64").astype(str)
    else:
        arr = _arrow_text(s) if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow" else None
        if arr is not None and _visible_ends(arr):
            return s  # already stripped, nothing blank (as read from most files)
        text = s.astype(str)
    text = text.str.strip()
    return text.mask(s.isna() | text.eq(""))


def _parse_ids(s: pd.Series, ctx: _Context) -> pd.Series:
    ids = _as_text(s)
    missing = ids.isna()
    if missing.any():
        raise ctx.fail(
            "customer ids are missing",
            C.CUSTOMER_ID,
            missing,
            pd.Series("", index=ids.index),
            "Every purchase needs the customer who made it; remove anonymous (walk-in) "
            "sales or give them an id before loading.",
        )
    return ids


# Leading date part in Y-M-D order with any of the separators seen in exports.
_DATE_PART = re.compile(r"^(\d{4})\s*[年/.\-]\s*(\d{1,2})\s*[月/.\-]\s*(\d{1,2})\s*日?\s*T?")
_DAY_MONTH = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})")
#: (format, guard): the guard must fullmatch every value, because strptime is lenient
#: (it reads "2024015" as %Y%m%d).
_DATE_FORMATS: tuple[tuple[str, str | None], ...] = (
    ("%Y%m%d", r"\d{8}"),
    ("%Y%m%d%H%M%S", r"\d{14}"),
    ("ISO8601", None),
    ("%Y-%m-%d %H:%M", None),
    ("%Y-%m-%d %H:%M:%S", None),
)
_DAY_FIRST = ("%d/%m/%Y", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")
_MONTH_FIRST = ("%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %H:%M:%S")
_DATE_HINT = (
    "Accepted: 19970101, 1997-01-01, 1997-01-01 14:30[:00], 1997/1/1, 1997.1.1, "
    "1997年1月1日 [14:30]. Pass date_format='%d/%m/%Y' (or the file's own format) "
    "to force one."
)


def _to_datetime(values: pd.Series, fmt: str) -> pd.Series:
    try:
        parsed = pd.to_datetime(values, format=fmt, errors="coerce")
    except ValueError:
        # Mixed UTC offsets have no common wall clock; fall back to UTC.
        try:
            parsed = pd.to_datetime(values, format=fmt, errors="coerce", utc=True)
        except (ValueError, OverflowError):
            return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    return _naive(parsed)


def _naive(parsed: pd.Series) -> pd.Series:
    """Drop a time zone, keeping the wall-clock time the data was recorded in."""
    if isinstance(parsed.dtype, pd.DatetimeTZDtype):
        return parsed.dt.tz_localize(None)
    return parsed


def _regex_normalise(values: pd.Series) -> pd.Series:
    """The general clean-up (Python regular expressions, one call per value): Y-M-D with
    any separator (年/月/日, slashes, dots) to ``Y-M-D``, ``20240105.0`` to ``20240105``,
    runs of white space to one space."""
    return (
        values.str.replace(_DATE_PART, r"\1-\2-\3 ", regex=True)
        .str.replace(r"^(\d{8})\.0+$", r"\1", regex=True)
        .str.replace(r"\s+", " ", regex=True)
        .str.strip()
    )


#: Shapes whose clean-up is known without the general route, as (RE2 pattern, RE2
#: replacement) pairs: ASCII digits only and at most one inner space, so
#: :func:`_regex_normalise` gives exactly the replacement (tests/test_loading.py checks
#: it value by value). ``$`` in RE2 is the end of the text (no trailing newline).
_SIMPLE_DATE_SHAPES: tuple[tuple[str, str], ...] = (
    (r"^([0-9]{8}|[0-9]{14})$", r"\1"),
    (r"^([0-9]{8})\.0+$", r"\1"),
    (r"^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})$", r"\1-\2-\3"),
    (
        (
            r"^([0-9]{4})[-/.]([0-9]{1,2})[-/.]([0-9]{1,2})[ T]"
            r"([0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)$"
        ),
        r"\1-\2-\3 \4",
    ),
)


def _normalise_date_strings(values: pd.Series) -> pd.Series:
    """:func:`_regex_normalise` of every value, vectorised: values in a common shape are
    rewritten by one pyarrow (RE2) call per shape; only the others take the Python route."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return _regex_normalise(values)
    arr = pa.array(values.to_numpy(dtype=object), type=pa.large_string(), from_pandas=True)
    norm = pa.nulls(len(arr), pa.large_string())
    todo = pc.is_valid(arr)
    for pattern, replacement in _SIMPLE_DATE_SHAPES:
        hit = pc.and_(todo, pc.match_substring_regex(arr, pattern))
        if not pc.any(hit).as_py():
            continue
        rewritten = pc.replace_substring_regex(arr, pattern, replacement)
        norm = pc.if_else(hit, rewritten, norm)
        todo = pc.and_(todo, pc.invert(hit))
    out = pd.Series(norm.to_pandas(), index=values.index, dtype=values.dtype)
    rest = np.asarray(todo.to_numpy(zero_copy_only=False), dtype=bool)
    if rest.any():
        out[rest] = _regex_normalise(values[rest])
    return out


def _parse_date_strings(values: pd.Series, date_format: str | None, ctx: _Context) -> pd.Series:
    """Parse distinct date strings with the first format that reads all of them."""
    if date_format:
        return _to_datetime(values, date_format)
    norm = _normalise_date_strings(values)
    best = None
    for fmt, guard in _DATE_FORMATS:
        if guard and not norm.str.fullmatch(guard).all():
            continue
        parsed = _to_datetime(norm, fmt)
        if parsed.notna().all():
            return parsed
        if best is None or parsed.notna().sum() > best.notna().sum():
            best = parsed
    day_month = norm.str.replace(_DAY_MONTH, r"\1/\2/\3", regex=True)
    orders = {}
    for label, formats in (("day first", _DAY_FIRST), ("month first", _MONTH_FIRST)):
        for fmt in formats:
            parsed = _to_datetime(day_month, fmt)
            if parsed.notna().all():
                orders[label] = (fmt, parsed)
                break
    if len(orders) == 2:
        raise DataError(
            "dates could be day/month/year or month/day/year",
            file=ctx.file,
            column=ctx.header(C.TIMESTAMP),
            values=values.head(MAX_LISTED).tolist(),
            hint="Pass date_format='%d/%m/%Y' or date_format='%m/%d/%Y'.",
        )
    if orders:
        return next(iter(orders.values()))[1]
    return best


#: Text timestamps the vectorised route reads (RE2): ISO dates with an optional time, no UTC
#: offset, no surrounding blanks, years 1700-2199 (inside every resolution) and at most six
#: fraction digits, so the general route gives them microseconds too. pyarrow's cast then
#: reads each row; it refuses impossible dates (2023-02-29, 24:00), which the general
#: route then reports row by row.
_ISO_TIMESTAMP = (
    r"^(?:1[7-9]|2[01])[0-9]{2}-[0-9]{2}-[0-9]{2}"
    r"(?:[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?)?$"
)
#: Plain decimal numbers (no sign words, separators or exponents), which pyarrow's cast
#: reads to the same double as the general route's ``pd.to_numeric``.
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$"


def _arrow_text(s: pd.Series) -> Any | None:
    """The values of a text column as a pyarrow string array when every value is a string
    (no missing values), else ``None``. pyarrow-backed columns are not copied."""
    try:
        import pyarrow as pa
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    if len(s) == 0:
        return None
    try:
        if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
            arr = pa.array(s.array)
        elif s.dtype == object and pd.api.types.infer_dtype(s, skipna=False) == "string":
            arr = pa.array(s.to_numpy(), type=pa.large_string())
        else:
            return None
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if arr.null_count or not pa.types.is_string(arr.type) and not pa.types.is_large_string(arr.type):
        return None
    return arr


def _visible_ends(arr: Any) -> bool:
    """Whether every value of a pyarrow string array starts and ends with a visible ASCII
    character (``!`` to ``~``): then none is blank and stripping changes none. Reads the
    first and last byte of each value straight from the array's buffers."""
    import pyarrow as pa

    for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
        if len(chunk) == 0:
            continue
        _, offsets, data = chunk.buffers()
        if chunk.null_count or data is None:
            return False
        kind = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        bounds = np.frombuffer(offsets, dtype=kind)[chunk.offset : chunk.offset + len(chunk) + 1]
        starts, ends = bounds[:-1], bounds[1:]
        if (ends <= starts).any():
            return False
        raw = np.frombuffer(data, dtype=np.uint8)
        for edge in (raw[starts], raw[ends - 1]):
            if not ((edge >= 0x21) & (edge <= 0x7E)).all():
                return False
    return True


def _all_match(arr: Any, pattern: str) -> bool:
    import pyarrow.compute as pc

    return bool(pc.all(pc.match_substring_regex(arr, pattern)).as_py())


#: For each length an :data:`_ISO_TIMESTAMP` value can have, its one shape ("9": a digit).
_ISO_SHAPES = {len(shape): shape for shape in (
    "9999-99-99", "9999-99-99 99:99", "9999-99-99 99:99:99",
    *(f"9999-99-99 99:99:99.{'9' * k}" for k in range(1, 7)),
)}


def _all_iso_timestamps(arr: Any) -> bool:
    """``_all_match(arr, _ISO_TIMESTAMP)``. Values of one length (as most files write them)
    have one shape, checked column by column on the array's bytes, many times faster than
    the regular expression (which still judges values of mixed lengths)."""
    import pyarrow as pa

    for chunk in arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]:
        fixed = _fixed_width_bytes(chunk)
        shape = None if fixed is None else _ISO_SHAPES.get(fixed.shape[1])
        if shape is None:
            if not _all_match(chunk, _ISO_TIMESTAMP):
                return False
            continue
        for i, c in enumerate(shape):
            column = fixed[:, i]
            if c == "9":
                ok = (column >= 0x30) & (column <= 0x39)
            elif i == 10:  # date and time: a space or T
                ok = (column == 0x20) | (column == 0x54)
            else:
                ok = column == ord(c)
            if not ok.all():
                return False
        century = (fixed[:, 0].astype(np.int16) - 0x30) * 10 + (fixed[:, 1].astype(np.int16) - 0x30)
        if not ((century >= 17) & (century <= 21)).all():  # years 1700 to 2199
            return False
    return True


def _fixed_width_bytes(chunk: Any) -> np.ndarray | None:
    """The bytes of a pyarrow string array without missing values as an (values, width)
    matrix (no copy) when every value has the same non-zero width; else None."""
    import pyarrow as pa

    if len(chunk) == 0 or chunk.null_count:
        return None
    _, offsets, data = chunk.buffers()
    kind = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    bounds = np.frombuffer(offsets, dtype=kind)[chunk.offset : chunk.offset + len(chunk) + 1]
    width = int(bounds[1] - bounds[0])
    if width <= 0 or int(bounds[-1] - bounds[0]) != width * len(chunk) or (np.diff(bounds) != width).any():
        return None
    raw = np.frombuffer(data, dtype=np.uint8)[int(bounds[0]) : int(bounds[-1])]
    return raw.reshape(len(chunk), width)


def plain_iso_timestamps(arr: Any) -> np.ndarray | None:
    """A pyarrow string array (no missing values) of ISO timestamps (:data:`_ISO_TIMESTAMP`)
    as ``datetime64[us]``, exactly as the general route reads them; ``None`` when a value
    has another shape or is no date (the general route then names its row)."""
    if arr.null_count or not _all_iso_timestamps(arr):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        parsed = pc.cast(arr, pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None  # an impossible date somewhere (2023-02-29, 24:00)
    return np.asarray(parsed.to_numpy(), dtype="datetime64[us]")


def plain_numbers(arr: Any) -> np.ndarray | None:
    """A pyarrow string array (no missing values) of plain decimal numbers
    (:data:`_PLAIN_NUMBER`) as float64, exactly as the general route reads them; ``None``
    for anything else (blanks, currency signs, thousands separators, overflow, ...)."""
    if arr.null_count or not _all_match(arr, _PLAIN_NUMBER):
        return None
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        values = np.asarray(pc.cast(arr, pa.float64()).to_numpy(), dtype=float)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if not np.isfinite(values).all():
        return None  # overflow to infinity: the general route reports it
    return values


def _iso_timestamps(s: pd.Series) -> pd.Series | None:
    """Vectorised :func:`_parse_timestamps` for text columns of plain ISO timestamps
    (:func:`plain_iso_timestamps`); ``None`` (use the general route) for anything else."""
    arr = _arrow_text(s)
    parsed = None if arr is None else plain_iso_timestamps(arr)
    return None if parsed is None else pd.Series(parsed, index=s.index)


def _plain_numbers(s: pd.Series) -> pd.Series | None:
    """Vectorised :func:`_parse_numbers` for text columns of plain decimal numbers only
    (:func:`plain_numbers`), ``None`` for anything else."""
    arr = _arrow_text(s)
    values = None if arr is None else plain_numbers(arr)
    return None if values is None else pd.Series(values, index=s.index)


def _parse_timestamps(s: pd.Series, date_format: str | None, ctx: _Context) -> pd.Series:
    if date_format is None:
        fast = _iso_timestamps(s)
        if fast is not None:
            return fast
    missing = _blank_mask(s)
    if missing.any():
        raise ctx.fail("dates are missing", C.TIMESTAMP, missing, pd.Series("", index=s.index), _DATE_HINT)
    text = None  # the values as shown in messages, only made on the error path
    if pd.api.types.is_datetime64_any_dtype(s):
        parsed = _naive(s)
    elif s.dtype == object and pd.api.types.infer_dtype(s, skipna=True) in ("datetime", "datetime64", "date"):
        parsed = _naive(pd.to_datetime(s, errors="coerce"))
    else:
        text = _as_text(s)
        # Dates repeat a lot: parse each distinct value once.
        codes, uniques = pd.factorize(text)
        parsed_unique = _parse_date_strings(pd.Series(uniques, dtype=str), date_format, ctx)
        parsed = pd.Series(parsed_unique.to_numpy()[codes], index=s.index)
    bad = parsed.isna()
    if bad.any():
        raise ctx.fail("dates cannot be read", C.TIMESTAMP, bad, s.astype(str) if text is None else text, _DATE_HINT)
    return parsed


_CURRENCY = re.compile(r"(?i)rmb|cny|usd|hkd|us\$|hk\$|元|[¥$€£\s]")
_THOUSANDS = r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d*)?"
_NUMBER_HINT = (
    "Numbers may use thousands separators (1,280.00), currency signs (¥ ￥ $ RMB 元) and "
    "parentheses for negatives ((12.00)). For decimal commas (12,50) pass decimal=',' "
    "(notebook parameter decimal: \",\")."
)


def _parse_number_strings(values: pd.Series, decimal: str = ".") -> pd.Series:
    if decimal == ",":
        return _parse_decimal_comma_strings(values)
    clean = values.str.normalize("NFKC").str.replace("\u2212", "-").str.replace(_CURRENCY, "", regex=True)
    clean = clean.str.replace(r"^\((.*)\)$", r"-\1", regex=True)
    clean = clean.str.replace(r"^([\d.,]+)-$", r"-\1", regex=True)  # SAP-style "12.00-"
    # A comma is only a thousands separator between groups of three digits.
    comma_ok = ~clean.str.contains(",", regex=False) | clean.str.fullmatch(_THOUSANDS)
    clean = clean.where(comma_ok).str.replace(",", "", regex=False)
    numbers = pd.to_numeric(clean, errors="coerce")
    return numbers.where(np.isfinite(numbers))


def _parse_numbers(s: pd.Series, canonical: str, ctx: _Context, *, required: bool) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        numbers = s.astype(float)
        bad = numbers.notna() & ~np.isfinite(numbers)
        missing = numbers.isna()
        text = None  # made on the error path only
    else:
        fast = _plain_numbers(s) if ctx.decimal == "." else None
        if fast is not None:
            return fast
        text = _as_text(s)
        missing = text.isna()
        codes, uniques = pd.factorize(text)
        parsed_unique = _parse_number_strings(pd.Series(uniques, dtype=str), ctx.decimal).to_numpy(dtype=float)
        # Code -1 (blank) picks the trailing NaN.
        numbers = pd.Series(np.append(parsed_unique, np.nan)[codes], index=s.index)
        bad = numbers.isna() & ~missing
    if required and missing.any():
        blanks = pd.Series("", index=s.index)
        raise ctx.fail(f"{canonical} values are missing", canonical, missing, blanks, _NUMBER_HINT)
    if bad.any():
        text = numbers.astype(str) if text is None else text
        raise ctx.fail(f"{canonical} values are not numbers", canonical, bad, text, _number_hint(text[bad], ctx.decimal))
    return numbers.astype(float)


# ------------------------------------------------------------------ policies


def _check_policies(returns_policy: str, future_dates: str) -> None:
    if returns_policy not in ("net", "drop", "error"):
        raise ConfigError(f"returns_policy must be 'net', 'drop' or 'error', not {returns_policy!r}.")
    if future_dates not in ("error", "drop"):
        raise ConfigError(f"future_dates must be 'error' or 'drop', not {future_dates!r}.")


def timestamp_or_error(value: object, message: str) -> pd.Timestamp:
    """``value`` (a date or time given in a setting) as a timestamp; :class:`ConfigError` ``message``
    when it is no date at all or missing (NaT, NaN)."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ConfigError(message) from exc
    if pd.isna(stamp):
        raise ConfigError(message)
    return stamp


def _observation_cutoff(observation_end: Any) -> pd.Timestamp | None:
    """First instant after the observation period (a date means its whole day)."""
    if observation_end is None or (isinstance(observation_end, str) and not observation_end.strip()):
        return None
    try:
        end = pd.Timestamp(observation_end)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"observation_end {observation_end!r} is not a date (use 'YYYY-MM-DD').") from exc
    if end is pd.NaT:
        raise ConfigError("observation_end is missing (NaT).")
    if end.tz is not None:
        end = end.tz_localize(None)
    return end + pd.Timedelta(days=1) if end == end.normalize() else end + pd.Timedelta(1, "ns")


def _apply_future_dates(
    out: pd.DataFrame, cutoff: pd.Timestamp, policy: str, ctx: _Context, dropped: list[DroppedRows]
) -> pd.DataFrame:
    late = out[C.TIMESTAMP] >= cutoff
    if not late.any():
        return out
    end_text = str((cutoff - pd.Timedelta(1, "ns")).date()) if cutoff == cutoff.normalize() else str(cutoff)
    if policy == "error":
        raise ctx.fail(
            f"dates fall after the observation end {end_text}",
            C.TIMESTAMP,
            late,
            out[C.TIMESTAMP].astype(str),
            "Pass future_dates='drop' to leave them out, or a later observation_end.",
        )
    dropped.append(_dropped(f"dates after observation end {end_text}", late, "future", end=end_text))
    return out[~late]


def _apply_returns_policy(
    out: pd.DataFrame, policy: str, ctx: _Context, dropped: list[DroppedRows]
) -> pd.DataFrame:
    negative = out[C.AMOUNT] < 0
    if not negative.any():
        return out
    if policy == "error":
        raise ctx.fail(
            "amounts are negative (returns or refunds)",
            C.AMOUNT,
            negative,
            out[C.AMOUNT],
            "Pass returns_policy='net' to net returns against same-day purchases, or "
            "returns_policy='drop' to leave negative rows out.",
        )
    if policy == "drop":
        dropped.append(_dropped("negative amounts (returns_policy='drop')", negative, "negative"))
        return out[~negative]
    below = pd.Series(_net_negative_days(out, negative.to_numpy()), index=out.index)
    if not below.any():
        return out
    dropped.append(_dropped("customer-days with net negative amount (returns_policy='net')", below, "net_negative"))
    return out[~below]


def _net_negative_days(out: pd.DataFrame, negative: np.ndarray) -> np.ndarray:
    """Rows of customer-days whose amounts sum to less than zero. Only customers with a
    return can have such a day, so only their rows are grouped, on one integer per
    customer-day (the id code and the day): no hash of the customers with returns, no
    index labels."""
    keys = out[_KEY].to_numpy()
    has_return = np.zeros(int(keys.max()) + 1, dtype=bool)
    has_return[keys[negative]] = True
    rows = np.flatnonzero(has_return[keys])
    day = out[C.TIMESTAMP].to_numpy()[rows].astype("datetime64[D]").view("int64")
    first, span = int(day.min()), int(day.max() - day.min()) + 1
    customer_day = keys[rows].astype(np.int64) * span + (day - first)  # < rows x days, far below 2**63
    net = pd.Series(out[C.AMOUNT].to_numpy()[rows]).groupby(customer_day, sort=False).transform("sum").to_numpy()
    below = np.zeros(len(out), dtype=bool)
    below[rows[net < -1e-9]] = True  # tolerance: sums of cents in binary floating point are not exact
    return below


# ----------------------------------------------- safety: decimal commas, implausible amounts,
# UTC offsets (issue 12). Kept apart from the date-parsing internals above: the offsets are
# taken off the text before parsing and applied to the parsed wall-clock times after it.

#: Robust limit for implausible amounts: this many robust standard deviations (1.4826 x MAD)
#: of log10(|amount|) above the median; with a spread of at least MIN_LOG_SPREAD decades
#: (so data where every order costs about the same still allow 1,000x the typical order).
OUTLIER_SIGMAS = 6.0
MIN_LOG_SPREAD = 0.5
#: No single order is worth more than this in any currency (also catches 1e308 in tiny files).
ABSOLUTE_AMOUNT_LIMIT = 1e12
#: The time zone used when two UTC offsets are equally common.
DEFAULT_TIMEZONE = "Asia/Shanghai"

_DECIMAL_COMMA = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?$")
_LOOKS_DECIMAL_COMMA = re.compile(r"^\(?[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d{1,2}\)?-?$")
_OFFSET_RE = re.compile(r"^(.*\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?)\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
_OFFSET_PARAM = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)


def _check_safety_options(decimal: str, amount_outliers: str, max_amount: Any, timezone: Any) -> None:
    if decimal not in (".", ","):
        raise ConfigError(f"decimal must be '.' or ',', not {decimal!r}.")
    if amount_outliers not in ("drop", "cap", "error"):
        raise ConfigError(f"amount_outliers must be 'drop', 'cap' or 'error', not {amount_outliers!r}.")
    if max_amount is not None and not (
        isinstance(max_amount, (int, float)) and not isinstance(max_amount, bool) and 0 < max_amount < np.inf
    ):
        raise ConfigError(f"max_amount must be a positive number (or empty), not {max_amount!r}.")
    if timezone not in (None, ""):
        _target_zone(timezone)


def _parse_decimal_comma_strings(values: pd.Series) -> pd.Series:
    """Numbers written with a decimal comma (``10,50``, ``1.280,00``, ``(12,00)``)."""
    clean = values.str.normalize("NFKC").str.replace("\u2212", "-").str.replace(_CURRENCY, "", regex=True)
    clean = clean.str.replace(r"^\((.*)\)$", r"-\1", regex=True)
    clean = clean.str.replace(r"^([\d.,]+)-$", r"-\1", regex=True)
    clean = clean.where(clean.str.fullmatch(_DECIMAL_COMMA))
    clean = clean.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(clean, errors="coerce")
    return numbers.where(np.isfinite(numbers))


def _number_hint(bad: pd.Series, decimal: str) -> str:
    """The hint for unreadable numbers; says decimal=',' when they look like decimal commas."""
    if decimal == "." and bad.astype(str).str.strip().str.fullmatch(_LOOKS_DECIMAL_COMMA).any():
        return (
            "These look like decimal commas (10,50 for 10.50): pass decimal=',' "
            "(notebook parameter decimal: \",\"), usually with a ';'-delimited file."
        )
    if decimal == ",":
        return (
            "With decimal=',' numbers are written 10,50 or 1.280,50 (a '.' only separates thousands); "
            "remove decimal=',' if the file uses decimal points."
        )
    return _NUMBER_HINT


def implausible_amount_limit(amounts: np.ndarray | pd.Series, max_amount: float | None = None) -> float:
    """The amount above which an order is implausible: ``max_amount`` when given, else
    the smaller of :data:`ABSOLUTE_AMOUNT_LIMIT` and 10 ** (median + OUTLIER_SIGMAS x
    robust SD) of log10(|amount|) over the non-zero amounts (robust: one absurd value
    cannot move the limit, unlike a maximum or a high percentile)."""
    if max_amount is not None:
        return float(max_amount)
    # The medians of the distinct amounts weighted by their counts: the same numbers as
    # np.median over every row, without sorting millions of rows.
    codes, uniques = pd.factorize(np.asarray(amounts, dtype=float))
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    x = np.abs(np.asarray(uniques, dtype=float))
    keep = np.isfinite(x) & (x > 0)
    x, counts = x[keep], counts[keep]
    if counts.sum() == 0:
        return ABSOLUTE_AMOUNT_LIMIT
    logs = np.log10(x)
    centre = _weighted_median(logs, counts)
    spread = max(1.4826 * _weighted_median(np.abs(logs - centre), counts), MIN_LOG_SPREAD)
    return float(min(10 ** min(centre + OUTLIER_SIGMAS * spread, 300.0), ABSOLUTE_AMOUNT_LIMIT))


def _weighted_median(values: np.ndarray, counts: np.ndarray) -> float:
    """``np.median`` of ``values`` each repeated ``counts`` times (the mean of the two middle
    values for an even total)."""
    order = np.argsort(values, kind="stable")
    ranked, cum = values[order], np.cumsum(counts[order])
    n = int(cum[-1])

    def at(rank: int) -> float:
        return float(ranked[np.searchsorted(cum, rank, side="right")])

    if n % 2:
        return at(n // 2)
    return float((np.float64(at(n // 2 - 1)) + np.float64(at(n // 2))) / 2)


def _examples(mask: pd.Series, values: pd.Series) -> str:
    bad = mask[mask].index[:MAX_LISTED]
    return "; ".join(f"row {i + 2}: {values.loc[i]:.6g}" for i in bad)


def _apply_amount_outliers(
    out: pd.DataFrame, policy: str, max_amount: float | None, ctx: _Context,
    dropped: list[DroppedRows], adjusted: list[DroppedRows],
) -> pd.DataFrame:
    amounts = out[C.AMOUNT]
    limit = implausible_amount_limit(amounts.to_numpy(), max_amount)
    extreme = amounts.abs() > limit
    if not extreme.any():
        return out
    shown = f"{limit:,.2f}"
    rule = "max_amount" if max_amount is not None else "far beyond the typical order"
    if policy == "error":
        raise ctx.fail(
            f"amounts are implausibly large (above {shown}, {rule})",
            C.AMOUNT, extreme, amounts,
            "Correct these rows, or pass amount_outliers='drop' to leave them out or 'cap' to cap them at the "
            "limit (max_amount sets the limit).",
        )
    examples = _examples(extreme, amounts)
    if policy == "drop":
        dropped.append(_dropped(f"implausible amounts above {shown} ({examples})", extreme, "implausible",
                                limit=shown, examples=examples))
        return out[~extreme]
    adjusted.append(_dropped(f"implausible amounts capped at {shown} ({examples})", extreme, "capped",
                             limit=shown, examples=examples))
    out = out.copy()
    out[C.AMOUNT] = amounts.clip(lower=-limit, upper=limit)
    return out


def _target_zone(timezone: str) -> int | Any:
    """``timezone`` as minutes east of UTC (fixed offsets) or a ZoneInfo."""
    text = str(timezone).strip()
    if text.upper() in ("Z", "UTC", "GMT"):
        return 0
    fixed = _OFFSET_PARAM.fullmatch(text)
    if fixed:
        sign, hours, minutes = fixed.groups()
        return (1 if sign == "+" else -1) * (int(hours) * 60 + int(minutes or 0))
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"timezone {timezone!r} is not a time zone; use a name such as 'Asia/Shanghai' or an offset such as '+08:00'."
        ) from exc


def _offset_text(minutes: float) -> str:
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(int(minutes)), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _offset_minutes(tokens: pd.Series) -> pd.Series:
    """'Z', 'UTC', '+08:00', '+0800', '-05' as minutes east of UTC (NaN where no token)."""
    parts = tokens.str.upper().str.extract(r"^([+-])(\d{2}):?(\d{2})?$")
    minutes = parts[1].astype(float) * 60 + parts[2].fillna("0").astype(float)
    minutes = minutes.where(parts[0] != "-", -minutes)
    return minutes.where(~tokens.str.upper().isin(["Z", "UTC", "GMT"]), 0.0)


#: A necessary condition for :data:`_OFFSET_RE` (RE2, for a vectorised first pass).
_OFFSET_TAIL = r"(?i)(?:Z|UTC|GMT|[+-]\p{Nd}{2}(?::?\p{Nd}{2})?)$"


def _offset_candidates(text: pd.Series) -> np.ndarray:
    """Rows of ``text`` (stripped, NaN for blanks) that may end in a UTC offset."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return text.notna().to_numpy()
    if isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow":
        arr = pa.array(text.array)
    else:
        arr = pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.large_string())
    hit = pc.fill_null(pc.match_substring_regex(arr, _OFFSET_TAIL), False)
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def _parse_timestamps_in_one_time(
    s: pd.Series, date_format: str | None, ctx: _Context, timezone: str | None, adjusted: list[DroppedRows]
) -> pd.Series:
    """:func:`_parse_timestamps`, with text timestamps carrying UTC offsets brought into one
    time (``timezone``, else the most common offset) and the converted rows reported."""
    target = _target_zone(timezone) if timezone not in (None, "") else None
    if isinstance(getattr(s, "dtype", None), pd.DatetimeTZDtype) and target is not None:
        zone = dt_timezone_of(target)
        return s.dt.tz_convert(zone).dt.tz_localize(None)
    textual = not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s))
    if not textual or (date_format and "%z" in date_format.lower()):
        return _parse_timestamps(s, date_format, ctx)
    if date_format is None:
        fast = _iso_timestamps(s)  # plain ISO timestamps carry no offset
        if fast is not None:
            return fast
    text = _as_text(s)
    # Only values ending like an offset can carry one: the (Python) regular expression
    # runs on those alone, found by one vectorised RE2 pass (\p{Nd} = Python's \d).
    candidate = _offset_candidates(text)
    if not candidate.any():
        return _parse_timestamps(s, date_format, ctx)
    codes, uniques = pd.factorize(text[candidate])
    parts = pd.Series(uniques, dtype=str).str.extract(_OFFSET_RE)
    has = parts[1].notna()
    if not has.any():
        return _parse_timestamps(s, date_format, ctx)
    stripped = pd.Series(uniques, dtype=str).where(~has, parts[0].str.strip())
    unique_minutes = _offset_minutes(parts[1].where(has, ""))
    rows_text = pd.Series(text.to_numpy(dtype=object, na_value=None), index=s.index)
    rows_text[candidate] = stripped.to_numpy(dtype=object)[codes]
    rows_minutes = pd.Series(np.nan, index=s.index)
    rows_minutes[candidate] = unique_minutes.to_numpy(dtype=float)[codes]
    wall = _parse_timestamps(rows_text.where(rows_text.notna(), s), date_format, ctx)
    if target is None:
        counts = rows_minutes.value_counts()
        tied = counts[counts == counts.max()].index
        target = int(tied[0]) if len(tied) == 1 else _target_zone(DEFAULT_TIMEZONE)
    offset = pd.to_timedelta(rows_minutes.fillna(0.0), unit="min")
    utc = wall - offset
    if isinstance(target, int):
        converted = utc + pd.Timedelta(minutes=target)
        label = _offset_text(target)
    else:
        converted = utc.dt.tz_localize("UTC").dt.tz_convert(target).dt.tz_localize(None)
        label = str(target.key)
    result = converted.where(rows_minutes.notna(), wall)
    moved = rows_minutes.notna() & (result != wall)
    if moved.any():
        per_offset = rows_minutes[moved].value_counts().sort_index()
        offsets = ", ".join(f"{_offset_text(m)}: {n:,} rows" for m, n in per_offset.items())
        adjusted.append(_dropped(f"timestamps converted to UTC{label} ({offsets})", moved, "timezone",
                                 target=f"UTC{label}" if label[0] in "+-" else label, offsets=offsets))
    return result


def dt_timezone_of(target: int | Any) -> Any:
    """A tz usable by pandas for :func:`_target_zone`'s result."""
    import datetime as _dt

    return _dt.timezone(_dt.timedelta(minutes=target)) if isinstance(target, int) else target


# Public names of the loader's text and number helpers, for the loaders of other tables
# (helpers.data.tables_io).
as_text = _as_text
parse_number_strings = _parse_number_strings
