"""Reading the tables other than transactions: customers (members) and service tickets.

Same rules as the transaction loader (:mod:`helpers.data.loading`):

- CSV/TSV/TXT (UTF-8 with or without BOM, GBK/GB18030, UTF-16 with BOM; delimiter
  sniffed), Parquet (file or folder) and XLSX are read by the transaction loader's file
  reader, so encoding detection works the same everywhere.
- Headers are matched to canonical column names through English and Chinese aliases
  (:data:`CUSTOMERS` and :data:`TICKETS` list them) or a column map
  ``{canonical: header}``. Only mapped columns are kept: names, phone numbers and
  addresses in the same file never enter the pipeline.
- Dates are read with the transaction loader's rules (``19970101``, ``1997-01-01 14:30``,
  ``1997/1/1``, ``1997年1月1日``, Excel and Parquet dates, ...).
- Every problem is a :class:`~helpers.errors.DataError` naming the file, the column,
  the spreadsheet rows (header = row 1) and the values, and saying what to do.

A notebook that needs a table the study does not have calls :func:`require_path`, which
stops with a message naming the table and the parameter to set, instead of failing deep
inside the analysis.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers.data import columns as C
from helpers.data.columns import check_column_map, normalise_header

# The transaction loader's file reader (encoding detection, delimiter sniffing, Excel,
# Parquet folders) and its date and number parsers are reused, not copied.
from helpers.data.loading import (
    DataQualityReport,
    DroppedRows,
    LoadResult,
    _id_codes,  # noqa: E402
    _iso_timestamps,  # noqa: E402
    _observation_cutoff,  # noqa: E402
    read_transactions,
)
from helpers.data.loading import as_text as _as_text  # noqa: E402
from helpers.data.loading import parse_date_strings as _public_date_strings  # noqa: E402
from helpers.data.loading import parse_number_strings as _parse_number_strings  # noqa: E402
from helpers.data.loading import read_table as _public_read_table  # noqa: E402
from helpers.errors import MAX_LISTED, ConfigError, DataError
from helpers.memo import shared

# ----------------------------------------------------------------------------- schemas

CUSTOMER_ID = C.CUSTOMER_ID
JOIN_DATE = "join_date"
JOIN_CHANNEL = "join_channel"
REGION = "region"
CITY_TIER = "city_tier"
AGE_BAND = "age_band"

TICKET_ID = "ticket_id"
ORDER_ID = C.ORDER_ID
OPENED_AT = "opened_at"
FIRST_RESPONSE_AT = "first_response_at"
RESOLVED_AT = "resolved_at"
CONTACT_CHANNEL = "channel"
ISSUE_TYPE = "issue_type"
SEVERITY = "severity_tier"
SATISFACTION = "satisfaction"


@dataclass(frozen=True)
class TableSchema:
    """The canonical columns of one kind of table and the headers that mean them."""

    #: Short name used in messages ("customers", "service tickets").
    name: str
    #: The notebook parameter that points at the file (for messages).
    parameter: str
    #: The column-map parameter of the notebooks.
    map_parameter: str
    required: tuple[str, ...]
    optional: tuple[str, ...]
    aliases: Mapping[str, tuple[str, ...]]
    #: Columns holding dates or times.
    dates: tuple[str, ...] = ()
    #: Columns holding numbers.
    numbers: tuple[str, ...] = ()
    #: Example file in the repository.
    example: str = ""
    #: What one row is, plural, for messages ("customers", "tickets").
    rows: str = "rows"
    #: Columns of the table read, in this order (default: required, then optional).
    order: tuple[str, ...] = ()
    #: Columns whose given values must be unique: column -> (problem, hint).
    unique: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: Date columns kept as days (time of day dropped).
    days: tuple[str, ...] = ()
    #: Dates that cannot come before another: (column, earlier column, problem, what the earlier is called).
    not_before: tuple[tuple[str, str, str, str], ...] = ()
    #: The date that places a row in time and its verb: rows after observation_end are dropped.
    event: tuple[str, str] | None = None
    #: Dates that, after observation_end, mean "not yet happened": column -> what.
    not_yet: Mapping[str, str] = field(default_factory=dict)
    #: Notes on empty values that keep the row: (column, note, also when there are none).
    empty_notes: tuple[tuple[str, str, bool], ...] = ()

    @property
    def canonical(self) -> tuple[str, ...]:
        return self.required + self.optional

    @property
    def columns(self) -> tuple[str, ...]:
        return self.order or self.canonical


CUSTOMERS = TableSchema(
    name="customers",
    parameter="customers_path",
    map_parameter="customers_column_map",
    required=(CUSTOMER_ID,),
    optional=(JOIN_DATE, JOIN_CHANNEL, REGION, CITY_TIER, AGE_BAND),
    aliases={
        CUSTOMER_ID: C.ALIASES[C.CUSTOMER_ID],
        JOIN_DATE: (
            "join_date", "joined", "joined_at", "join_time", "signup_date", "sign_up_date", "signup_time",
            "registration_date", "register_date", "registered_at", "member_since", "enrolment_date",
            "enrollment_date", "membership_date", "created_at",
            "入会日期", "入会时间", "注册日期", "注册时间", "开卡日期", "开卡时间", "加入日期", "成为会员日期",
            "办卡日期", "建档日期",
        ),
        JOIN_CHANNEL: (
            "join_channel", "signup_channel", "registration_channel", "register_channel", "acquisition_channel",
            "source_channel", "channel",
            "入会渠道", "注册渠道", "开卡渠道", "来源渠道", "首单渠道", "渠道",
        ),
        REGION: ("region", "area", "sales_region", "大区", "区域", "地区", "所属区域"),
        CITY_TIER: ("city_tier", "city_level", "city_class", "城市等级", "城市级别", "城市线级", "城市层级"),
        AGE_BAND: ("age_band", "age_group", "age_range", "age_bracket", "年龄段", "年龄层", "年龄组", "年龄区间"),
    },
    dates=(JOIN_DATE,),
    example="data/newretail/customers.csv",
    rows="customers",
    unique={CUSTOMER_ID: (
        "customer ids appear more than once",
        "A customers file has one row per customer; remove the duplicates (or export the latest row only).",
    )},
    days=(JOIN_DATE,),
    event=(JOIN_DATE, "joined"),
    empty_notes=((JOIN_DATE, "join date empty (kept; the first purchase is used)", False),),
)

TICKETS = TableSchema(
    name="service tickets",
    parameter="tickets_path",
    map_parameter="tickets_column_map",
    required=(CUSTOMER_ID, OPENED_AT),
    optional=(TICKET_ID, ORDER_ID, FIRST_RESPONSE_AT, RESOLVED_AT, CONTACT_CHANNEL, ISSUE_TYPE, SEVERITY, SATISFACTION),
    aliases={
        CUSTOMER_ID: C.ALIASES[C.CUSTOMER_ID],
        TICKET_ID: (
            "ticket_id", "ticket", "ticket_no", "ticket_number", "case_id", "case_no", "case_number",
            "complaint_id", "complaint_no", "request_id",
            "工单号", "工单编号", "工单ID", "投诉单号", "投诉编号", "服务单号", "案件编号", "服务工单号",
        ),
        # "ticket_id" is a receipt number in transaction files, a ticket here.
        ORDER_ID: tuple(a for a in C.ALIASES[C.ORDER_ID] if a != "ticket_id") + ("related_order", "关联订单号"),
        OPENED_AT: (
            "opened_at", "opened", "open_time", "opened_time", "created_at", "created_time", "create_time",
            "submitted_at", "reported_at", "ticket_date", "ticket_time", "complaint_time", "complaint_date",
            "创建时间", "开单时间", "受理时间", "投诉时间", "投诉日期", "提交时间", "发起时间", "工单创建时间",
            "反馈时间", "报修时间",
        ),
        FIRST_RESPONSE_AT: (
            "first_response_at", "first_response_time", "first_reply_at", "first_reply_time", "responded_at",
            "response_time", "first_contact_at",
            "首次响应时间", "首次回复时间", "首响时间", "响应时间", "回复时间", "首次处理时间",
        ),
        RESOLVED_AT: (
            "resolved_at", "resolution_time", "resolved_time", "resolve_time", "solved_at", "closed_at",
            "close_time", "closed_time", "completed_at",
            "解决时间", "完结时间", "结案时间", "关闭时间", "办结时间", "处理完成时间", "完成时间",
        ),
        CONTACT_CHANNEL: (
            "channel", "contact_channel", "service_channel", "source", "contact_method",
            "渠道", "接入渠道", "服务渠道", "联系渠道", "来源渠道", "来源", "受理渠道",
        ),
        ISSUE_TYPE: (
            "issue_type", "issue", "problem_type", "complaint_type", "ticket_type", "reason", "category",
            "问题类型", "投诉类型", "工单类型", "问题分类", "投诉原因", "问题原因", "投诉分类",
        ),
        SEVERITY: (
            "severity_tier", "severity", "severity_level", "priority", "level", "tier",
            "严重程度", "严重等级", "级别", "等级", "优先级", "处理级别",
        ),
        SATISFACTION: (
            "satisfaction", "satisfaction_score", "csat", "rating", "score",
            "满意度", "满意度评分", "评分", "评价分数", "满意度得分",
        ),
    },
    dates=(OPENED_AT, FIRST_RESPONSE_AT, RESOLVED_AT),
    numbers=(SATISFACTION,),
    example="data/newretail/service_tickets.csv",
    rows="tickets",
    order=(CUSTOMER_ID, TICKET_ID, ORDER_ID, OPENED_AT, FIRST_RESPONSE_AT, RESOLVED_AT, CONTACT_CHANNEL, ISSUE_TYPE,
           SEVERITY, SATISFACTION),
    unique={TICKET_ID: ("ticket ids appear more than once", "Export one row per ticket (not one row per update or message).")},
    not_before=(
        (FIRST_RESPONSE_AT, OPENED_AT, "the first response is before the ticket was opened", "opened"),
        (RESOLVED_AT, OPENED_AT, "the resolution is before the ticket was opened", "opened"),
    ),
    event=(OPENED_AT, "opened"),
    not_yet={FIRST_RESPONSE_AT: "first response", RESOLVED_AT: "resolution"},
    empty_notes=((FIRST_RESPONSE_AT, "no first response yet (open)", True), (RESOLVED_AT, "not resolved yet (open)", True)),
)

#: What each notebook calls its tables, for the "this notebook needs ..." messages.
TRANSACTIONS_PARAMETER = "data_path"


# ------------------------------------------------------------------------- results


@dataclass(frozen=True)
class TableLoad:
    """A validated table plus what the loader did to get it."""

    #: Canonical columns only; dates as datetime64, text trimmed, blanks missing.
    table: pd.DataFrame
    report: DataQualityReport
    source: str
    encoding: str | None
    #: canonical column -> source header.
    columns: dict[str, str]
    #: Adjustments that kept the row but changed a value: (what, rows).
    notes: list[tuple[str, int]] = field(default_factory=list)

    def to_frame(self) -> pd.DataFrame:
        """(reason, rows) lines of the report followed by the notes."""
        base = self.report.to_frame()
        if not self.notes:
            return base
        return pd.concat([base, pd.DataFrame(self.notes, columns=["reason", "rows"])], ignore_index=True)


# ----------------------------------------------------------------- missing tables


def require_path(path: str | os.PathLike[str] | None, schema: TableSchema | str, *, notebook: str) -> str:
    """Return ``path`` as text, or stop with a message naming the missing table.

    ``schema`` is :data:`CUSTOMERS`, :data:`TICKETS` or ``"transactions"``.
    """
    text = "" if path is None else os.fspath(path).strip()
    if text:
        return text
    if isinstance(schema, TableSchema):
        name, parameter, example = schema.name, schema.parameter, schema.example
    else:
        name, parameter, example = "transactions", TRANSACTIONS_PARAMETER, "data/newretail/transactions.csv"
    article = "an" if name[0] in "aeiou" else "a"
    raise DataError(
        f"the {notebook} notebook needs {article} {name.replace(' ', '-')} file, and none was given "
        f"({parameter} is empty)",
        hint=f"Set {parameter} to a CSV, Parquet or Excel file of {name} (the generated example is "
        f"{example}; data/README.md describes the columns).",
    )


def require_columns(loaded: LoadResult | TableLoad, needed: Sequence[str], *, notebook: str, table: str) -> None:
    """Stop with a clear message when optional columns a notebook relies on were not found."""
    frame = loaded.transactions if isinstance(loaded, LoadResult) else loaded.table
    missing = [c for c in needed if c not in frame.columns or frame[c].isna().all()]
    if not missing:
        return
    parameter = "column_map" if isinstance(loaded, LoadResult) else {
        CUSTOMERS.name: CUSTOMERS.map_parameter, TICKETS.name: TICKETS.map_parameter
    }.get(table, "the column map")
    example = ", ".join(f'"{c}": "<your header>"' for c in missing)
    raise DataError(
        f"the {notebook} notebook needs the {table} column(s) {', '.join(repr(c) for c in missing)}, which "
        f"the file does not have (its columns were read as: {', '.join(loaded.columns.values())})",
        file=loaded.source,
        hint=f"Add the column to the export, or name its header in {parameter}, e.g. {{{example}}}.",
    )


# ------------------------------------------------------------------ column matching


def resolve_table_columns(
    headers: Sequence[str], column_map: Mapping[str, str] | None, schema: TableSchema, *, file: str
) -> dict[str, str]:
    """Decide which header of a file feeds each canonical column of ``schema``.

    Same rules as :func:`helpers.data.columns.resolve_columns`: entries of ``column_map`` win;
    other columns are matched through ``schema.aliases`` ignoring case, spaces, ``_``/``-``,
    full-width forms, a BOM and a trailing unit in brackets.
    """
    headers = [str(h) for h in headers]
    column_map = dict(column_map or {})
    check_column_map(column_map, schema.canonical, f"the {schema.name} column map")

    resolved: dict[str, str] = {}
    for canonical, header in column_map.items():
        if header in headers:
            resolved[canonical] = header
            continue
        loose = [h for h in headers if normalise_header(h) == normalise_header(header)]
        if len(loose) == 1:
            resolved[canonical] = loose[0]
            continue
        close = difflib.get_close_matches(header, headers, n=1, cutoff=0.6)
        raise DataError(
            f"the column map says '{canonical}' is in column '{header}', but the file has no such column",
            file=file,
            column=header,
            hint=f"The file's columns are: {_quoted(headers)}." + (f" Did you mean '{close[0]}'?" if close else ""),
        )
    taken = set(resolved.values())
    lookup = {normalise_header(a): c for c, aliases in schema.aliases.items() for a in aliases}
    for canonical in schema.canonical:
        if canonical in resolved:
            continue
        matches = [h for h in headers if h not in taken and lookup.get(normalise_header(h)) == canonical]
        if len(matches) > 1:
            raise DataError(
                f"several columns could be '{canonical}': {_quoted(matches)}",
                file=file,
                hint=f"Name the right one in the column map, e.g. {{'{canonical}': '{matches[0]}'}}.",
            )
        if matches:
            resolved[canonical] = matches[0]
            taken.add(matches[0])
        elif canonical in schema.required:
            accepted = schema.aliases[canonical]
            examples = [a for a in accepted if a.isascii()][:4] + [a for a in accepted if not a.isascii()][:3]
            raise DataError(
                f"no column for '{canonical}' was found in the {schema.name} file (its columns are: {_quoted(headers)})",
                file=file,
                hint=f"Accepted names include {', '.join(examples)} (see data/README.md). Pass "
                f"{schema.map_parameter} naming your header, e.g. {{'{canonical}': '<header in your file>'}}.",
            )
    return {c: resolved[c] for c in schema.canonical if c in resolved}


def _quoted(headers: Sequence[str]) -> str:
    return ", ".join(f"'{h}'" for h in headers) or "(none)"


# ------------------------------------------------------------------- value parsing


def _blank(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_datetime64_any_dtype(s):
        return s.isna()
    return s.isna() | s.astype(str).str.strip().eq("")


def _fail(problem: str, file: str, header: str, mask: pd.Series, values: pd.Series, hint: str) -> DataError:
    bad = mask[mask].index
    return DataError(
        problem, file=file, column=header, rows=(bad + 2).tolist(), values=values.loc[bad[:MAX_LISTED]].tolist(), hint=hint
    )


_DATE_HINT = (
    "Accepted: 2024-01-31, 2024-01-31 14:30[:00], 20240131, 2024/1/31, 2024.1.31, 2024年1月31日 [14:30]. "
    "Pass date_format (e.g. '%d/%m/%Y') to force the file's own format."
)


def parse_dates(
    s: pd.Series, *, file: str, column: str, date_format: str | None = None, required: bool = True
) -> pd.Series:
    """Dates or times of one column with the transaction loader's rules.

    Blank cells are an error when ``required``, missing (NaT) otherwise; unreadable
    values are always an error naming file, column, rows and values. The index of ``s``
    must be the row position (row number = position + 2).
    """
    blank = _blank(s)
    if required and blank.any():
        raise _fail("dates are missing", file, column, blank, pd.Series("", index=s.index), _DATE_HINT)
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    present = s[~blank]
    if present.empty:
        return out
    if pd.api.types.is_datetime64_any_dtype(present):
        parsed = pd.to_datetime(present)
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_localize(None)
        text = present.astype(str)
    elif present.dtype == object and pd.api.types.infer_dtype(present, skipna=True) in ("datetime", "datetime64", "date"):
        parsed = pd.to_datetime(present, errors="coerce")
        text = present.astype(str)
    elif date_format is None and (fast := _iso_timestamps(present)) is not None:
        parsed = fast  # plain ISO text: read in one vectorised cast, exactly as the general route reads it
    else:
        text = _as_text(present)
        codes, uniques = pd.factorize(text)
        parsed_unique = _public_date_strings(pd.Series(uniques, dtype=str), file=file, column=column, date_format=date_format)
        parsed = pd.Series(parsed_unique.to_numpy()[codes], index=present.index)
    bad = parsed.isna()
    if bad.any():
        raise _fail("dates cannot be read", file, column, bad, text, _DATE_HINT)
    out.loc[present.index] = parsed.to_numpy(dtype="datetime64[ns]")
    return out


def number_values(s: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """``(numbers, text, missing, bad)`` of one column: numbers as float (thousands separators
    and full-width digits accepted, blanks missing), the text shown in messages, the blank
    cells and the cells that are not (finite) numbers."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        numbers = s.astype(float)
        missing = numbers.isna()
        return numbers, numbers.astype(str), missing, ~missing & ~np.isfinite(numbers)
    text = _as_text(s)
    missing = text.isna()
    codes, uniques = pd.factorize(text)
    parsed = _parse_number_strings(pd.Series(uniques, dtype=str)).to_numpy(dtype=float)
    numbers = pd.Series(np.append(parsed, np.nan)[codes], index=s.index)  # code -1 (blank) picks the NaN
    return numbers, text, missing, numbers.isna() & ~missing


def parse_numbers(s: pd.Series, *, file: str, column: str) -> pd.Series:
    """Numbers of one column (:func:`number_values`); blanks missing, anything else an error."""
    numbers, text, _, bad = number_values(s)
    if bad.any():
        raise _fail("values are not numbers", file, column, bad, text, "Use plain numbers such as 4 or 4.5.")
    return numbers


def _dropped(reason: str, mask: pd.Series) -> DroppedRows:
    rows = mask[mask].index[:MAX_LISTED] + 2
    return DroppedRows(reason, int(mask.sum()), [int(r) for r in rows])


# ------------------------------------------------------------------------ reading


def _read_file(path: str | os.PathLike[str], schema: TableSchema, *, encoding: str | None, sheet: str | int | None):
    """The file as read by the transaction loader (which names unreadable files); a missing
    file names the table and its parameter."""
    file = Path(os.fspath(path))
    if not file.exists():
        raise DataError(
            f"the {schema.name} file was not found",
            file=str(file.resolve()),
            hint=f"Check {schema.parameter}; relative paths are taken from the working folder {Path.cwd()}.",
        )
    return _public_read_table(file, encoding=encoding, sheet=sheet)


def _read_validated(
    path: str | os.PathLike[str], schema: TableSchema, validate: Callable[[pd.DataFrame, str], TableLoad], *,
    encoding: str | None = None, sheet: str | int | None = None,
) -> TableLoad:
    """Read ``path`` as a ``schema`` file (:func:`_read_file`) and check it with ``validate(frame, source)``;
    the result names the file and the encoding it was read with."""
    source = os.fspath(path)
    frame, used = _read_file(path, schema, encoding=encoding, sheet=sheet)
    result = validate(frame, source)
    return TableLoad(result.table, result.report, source, used, result.columns, result.notes)


def _dated_rows(
    out: pd.DataFrame, df: pd.DataFrame, cutoff: pd.Timestamp | None, *, late: str, rows: str, source: str,
    mapping: dict[str, str], dropped: list[DroppedRows], ignored: list[str], notes: list[tuple[str, int]],
) -> TableLoad:
    """The last step of loading an event table (one row per customer and ``timestamp``): rows at or
    after ``cutoff`` dropped and counted (reason ``late`` + the end date), an error when no ``rows``
    are left, sorted by customer then time, with its quality report."""
    if cutoff is not None:
        after = out[C.TIMESTAMP] >= cutoff
        if after.any():
            dropped.append(_dropped(f"{late} {_end_text(cutoff)}", after))
            out = out[~after]
    if out.empty:
        raise DataError(f"no {rows} are left after the observation end was applied", file=source)
    # ids as integer codes in id order: the same order as sorting the strings, without comparing
    # millions of Python strings (seconds for the 2.3 million events of the generated brand)
    order = np.lexsort((out[C.TIMESTAMP].to_numpy(), _id_codes(out[CUSTOMER_ID])))
    out = out.iloc[order].reset_index(drop=True)
    report = DataQualityReport(
        rows_read=len(df), rows_kept=len(out), dropped=dropped, customers=int(out[CUSTOMER_ID].nunique()),
        first_date=out[C.TIMESTAMP].min(), last_date=out[C.TIMESTAMP].max(), ignored_columns=ignored,
    )
    return TableLoad(out, report, source, None, mapping, notes)


def _select(df: pd.DataFrame, mapping: dict[str, str], source: str) -> pd.DataFrame:
    headers = [str(c) for c in df.columns]
    picked = {}
    for canonical, header in mapping.items():
        positions = [i for i, h in enumerate(headers) if h == header]
        if len(positions) > 1:
            raise DataError(
                f"the header '{header}' appears {len(positions)} times", file=source, column=header,
                hint="Rename the duplicates or name a unique header in the column map.",
            )
        picked[canonical] = df.iloc[:, positions[0]].reset_index(drop=True)
    return pd.DataFrame(picked)


def _prepare(df: pd.DataFrame, column_map, schema: TableSchema, source: str):
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"expected a pandas DataFrame, got {type(df).__name__}.")
    if len(df.columns) == 0:
        raise DataError(f"the {schema.name} file is empty (no columns)", file=source)
    if len(df) == 0:
        raise DataError(f"the {schema.name} file has a header row but no data rows", file=source)
    headers = [str(c) for c in df.columns]
    mapping = resolve_table_columns(headers, column_map, schema, file=source)
    raw = _select(df, mapping, source)
    blank = pd.concat([_blank(raw[c]) for c in raw.columns], axis=1).all(axis=1)
    dropped = [_dropped("empty rows", blank)] if blank.any() else []
    raw = raw[~blank]
    if raw.empty:
        raise DataError(f"the {schema.name} file has no data rows (all rows are empty)", file=source)
    ignored = [h for h in headers if h not in mapping.values()]
    return raw, mapping, dropped, ignored


def _ids(raw: pd.DataFrame, mapping: dict[str, str], source: str) -> pd.Series:
    ids = _as_text(raw[CUSTOMER_ID])
    if ids.isna().any():
        raise _fail(
            "customer ids are missing", source, mapping[CUSTOMER_ID], ids.isna(), pd.Series("", index=ids.index),
            "Every row needs the customer it belongs to.",
        )
    return ids


def _column(raw: pd.DataFrame, out: pd.DataFrame, col: str, schema: TableSchema, mapping: dict[str, str],
            source: str, date_format: str | None) -> pd.Series:
    """One canonical column read by its kind in ``schema`` and checked by its rules."""
    header = mapping[col]
    if col == CUSTOMER_ID:
        values = _ids(raw, mapping, source)
    elif col in schema.dates:
        values = parse_dates(raw[col], file=source, column=header, date_format=date_format,
                             required=col in schema.required)
        values = values.dt.normalize() if col in schema.days else values
    elif col in schema.numbers:
        values = parse_numbers(raw[col], file=source, column=header)
    else:
        values = _as_text(raw[col])
    if col in schema.unique:
        repeated = values.notna() & values.duplicated(keep=False)
        if repeated.any():
            problem, hint = schema.unique[col]
            raise _fail(problem, source, header, repeated, values, hint)
    for later, earlier, problem, called in schema.not_before:
        if later == col:
            early = values < out[earlier]
            if early.any():
                shown = values.astype(str) + f" < {called} " + out[earlier].astype(str)
                raise _fail(problem, source, header, early, shown,
                            "Check the column map (the columns may be swapped) and the export's time zones.")
    return values


def table_from_frame(
    df: pd.DataFrame,
    schema: TableSchema,
    column_map: Mapping[str, str] | None = None,
    *,
    source: str = "<DataFrame>",
    date_format: str | None = None,
    observation_end: str | date | datetime | pd.Timestamp | None = None,
) -> TableLoad:
    """Validate a table of the kind ``schema`` describes (columns, kinds, unique ids, date
    order, what the observation end drops or turns into "not yet")."""
    cutoff = _observation_cutoff(observation_end)
    raw, mapping, dropped, ignored = _prepare(df, column_map, schema, source)
    out = pd.DataFrame(index=raw.index)
    for col in schema.columns:
        if col in raw:
            out[col] = _column(raw, out, col, schema, mapping, source, date_format)
    notes: list[tuple[str, int]] = []
    event = schema.event[0] if schema.event and schema.event[0] in out else None
    if cutoff is not None and event is not None:
        late = out[event] >= cutoff
        if late.any():
            dropped.append(_dropped(f"{schema.event[1]} after the observation end {_end_text(cutoff)}", late))
            out = out[~late]
        for col, what in schema.not_yet.items():
            if col in out:
                after = out[col] >= cutoff
                if after.any():
                    notes.append((f"{what} after the observation end (treated as not yet)", int(after.sum())))
                    out.loc[after, col] = pd.NaT
    if out.empty:
        raise DataError(f"no {schema.rows} are left after the observation end was applied", file=source)
    for col, note, always in schema.empty_notes:
        if col in out and (always or out[col].isna().any()):
            notes.append((note, int(out[col].isna().sum())))
    keys = [out[event].to_numpy()] if event is not None else []
    keys.append(_id_codes(out[CUSTOMER_ID]))  # by customer (codes in id order), then date
    out = out.iloc[np.lexsort(keys)].reset_index(drop=True)
    dates = out[event].dropna() if event is not None else pd.Series(dtype="datetime64[ns]")
    report = DataQualityReport(
        rows_read=len(df),
        rows_kept=len(out),
        dropped=dropped,
        customers=int(out[CUSTOMER_ID].nunique()),
        first_date=dates.min() if len(dates) else None,
        last_date=dates.max() if len(dates) else None,
        ignored_columns=ignored,
    )
    return TableLoad(out, report, source, None, mapping, notes)


def read_table_file(
    path: str | os.PathLike[str],
    schema: TableSchema,
    column_map: Mapping[str, str] | None = None,
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
    date_format: str | None = None,
    observation_end: str | date | datetime | pd.Timestamp | None = None,
) -> TableLoad:
    """Read a file of the kind ``schema`` describes (see :func:`table_from_frame`)."""
    return _read_validated(path, schema, lambda frame, source: table_from_frame(
        frame, schema, column_map, source=source, date_format=date_format, observation_end=observation_end,
    ), encoding=encoding, sheet=sheet)


@shared
def read_customers(path: str | os.PathLike[str], column_map: Mapping[str, str] | None = None, **options: Any) -> TableLoad:
    """Read a customers (members) file: one row per customer.

    Columns (canonical): ``customer_id`` (required, unique), ``join_date``,
    ``join_channel``, ``region``, ``city_tier``, ``age_band`` (all optional). Customers
    who joined after ``observation_end`` are dropped and counted. ``options``:
    ``encoding``, ``sheet``, ``date_format``, ``observation_end``.
    """
    return read_table_file(path, CUSTOMERS, column_map, **options)


def customers_from_frame(df: pd.DataFrame, column_map: Mapping[str, str] | None = None, **options: Any) -> TableLoad:
    """Validate a customers table in memory (see :func:`read_customers`)."""
    return table_from_frame(df, CUSTOMERS, column_map, **options)


def read_tickets(path: str | os.PathLike[str], column_map: Mapping[str, str] | None = None, **options: Any) -> TableLoad:
    """Read a service-tickets file: one row per ticket (complaint or service request).

    Columns (canonical): ``customer_id`` and ``opened_at`` (required); ``ticket_id``,
    ``order_id``, ``first_response_at``, ``resolved_at``, ``channel`` (contact channel),
    ``issue_type``, ``severity_tier``, ``satisfaction`` (optional). Empty response or
    resolution times mean "not yet" (the ticket is open). Tickets opened after
    ``observation_end`` are dropped and counted; responses and resolutions after it are
    treated as not yet happened (counted in the notes). A response or resolution before
    the ticket was opened is an error. ``options`` as for :func:`read_customers`.
    """
    return read_table_file(path, TICKETS, column_map, **options)


def tickets_from_frame(df: pd.DataFrame, column_map: Mapping[str, str] | None = None, **options: Any) -> TableLoad:
    """Validate a service-tickets table in memory (see :func:`read_tickets`)."""
    return table_from_frame(df, TICKETS, column_map, **options)


def _end_text(cutoff: pd.Timestamp) -> str:
    end = cutoff - pd.Timedelta(1, "ns")
    return str(end.date()) if cutoff == cutoff.normalize() else str(end)


# ---------------------------------------------------------------- transactions


def load_transactions(
    path: str | os.PathLike[str] | None,
    column_map: Mapping[str, str] | None = None,
    *,
    notebook: str,
    encoding: str | None = None,
    observation_end: str | None = None,
    returns_policy: str = "drop",
    needs: Sequence[str] = (),
    decimal: str = ".",
    amount_outliers: str = "drop",
    max_amount: float | None = None,
    timezone: str | None = None,
) -> LoadResult:
    """Transactions through :func:`helpers.data.loading.read_transactions`, with the notebooks' policies.

    ``decimal``, ``amount_outliers``, ``max_amount`` and ``timezone`` are passed on as they are.

    An empty ``path`` stops with a message naming the missing table; ``needs`` lists
    optional canonical columns the notebook cannot do without (e.g. ``channel``). Rows
    dated after ``observation_end`` are dropped and counted (not an error), so a study can
    look at an earlier period of a longer export.
    """
    source = locate(require_path(path, "transactions", notebook=notebook))
    loaded = _read_transactions(
        source, column_map or None, encoding=encoding or None, observation_end=observation_end or None,
        returns_policy=returns_policy, decimal=decimal, amount_outliers=amount_outliers, max_amount=max_amount,
        timezone=timezone or None,
    )
    if needs:
        require_columns(loaded, needs, notebook=notebook, table="transactions")
    return loaded


@shared(disk=True)  # the pages of a site build read the same file: one kernel validates it, the others load it
def _read_transactions(source: str, column_map: Mapping[str, str] | None, *, encoding: str | None,
                       observation_end: str | None, returns_policy: str, decimal: str, amount_outliers: str,
                       max_amount: float | None, timezone: str | None) -> LoadResult:
    """:func:`load_transactions`'s reading, on arguments written one way only (no "" for None, no
    notebook name), so every page's call of the same file is the same call."""
    return read_transactions(
        source,
        column_map,
        encoding=encoding,
        observation_end=observation_end,
        returns_policy=returns_policy,  # type: ignore[arg-type]
        future_dates="drop",
        decimal=decimal,
        amount_outliers=amount_outliers,  # type: ignore[arg-type]
        max_amount=max_amount,
        timezone=timezone,
    )


@shared
def load_tickets(
    path: str | None,
    column_map: Mapping[str, str] | None = None,
    *,
    notebook: str,
    encoding: str | None = None,
    observation_end: str | None = None,
    date_format: str | None = None,
) -> TableLoad:
    """The service tickets a notebook needs: an empty ``path`` stops with a message naming
    the missing table and the parameter to set (``tickets_path``)."""
    source = locate(require_path(path, TICKETS, notebook=notebook))
    return read_tickets(
        source, column_map or None, encoding=encoding or None, observation_end=observation_end or None,
        date_format=date_format,
    )


@shared
def load_optional(
    path: str | None,
    reader,
    column_map: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> TableLoad | None:
    """``reader(path, column_map, **kwargs)`` when ``path`` is given, else None."""
    if path is None or not str(path).strip():
        return None
    return reader(locate(str(path)), column_map or None, **kwargs)


def quality_table(
    reports: Mapping[str, LoadResult | TableLoad | None], extra: Mapping[str, pd.DataFrame] | None = None
) -> pd.DataFrame:
    """One data-quality table for several inputs: (table, reason, rows) lines.

    A ``None`` input is listed as "not provided". ``extra`` adds (reason, rows) frames, such
    as cross-table checks, under their own table name.
    """
    frames = []
    for name, loaded in reports.items():
        if loaded is None:
            frames.append(pd.DataFrame({"table": [name], "reason": ["not provided"], "rows": [np.nan]}))
            continue
        frame = loaded.to_frame() if isinstance(loaded, TableLoad) else loaded.report.to_frame()
        frame.insert(0, "table", name)
        frames.append(frame)
    for name, frame in (extra or {}).items():
        if len(frame):
            frames.append(frame.assign(table=name)[["table", "reason", "rows"]])
    return pd.concat(frames, ignore_index=True)


def locate(path: str) -> str:
    """``path`` as given when it exists; a relative path that does not exist from the working
    folder is tried from the repository root (so a notebook opened in JupyterLab from
    ``notebooks/`` still finds ``data/...``). Embedded data names pass unchanged."""
    text = str(path or "").strip()
    if not text or text.startswith("cdnow:") or Path(text).is_absolute() or Path(text).exists():
        return text
    root = Path(__file__).resolve().parents[3]  # src/helpers/data/tables_io.py -> repository
    candidate = root / text
    if (root / "pyproject.toml").is_file() and candidate.exists():
        return str(candidate)
    return text
