"""Files the studies leave behind.

A per-row CSV (customer ids pseudonymised with :func:`helpers.data.privacy.display_ids`
unless raw ids are allowed) and a JSON of headline metrics, both written atomically.

Every CSV a study writes goes through :func:`csv_text`, which neutralises spreadsheet
formulas (OWASP "CSV injection"): a text cell starting with ``=``, ``+``, ``-``, ``@``,
tab or carriage return gets a leading apostrophe, so Excel or WPS shows it as text instead
of running it. Numeric columns are left alone (``-12.5`` stays a number).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import __version__
from helpers.data.columns import CUSTOMER_ID
from helpers.data.privacy import display_ids
from helpers.files import write_bytes_atomic, write_text_atomic
from helpers.report.csv_text import csv_rows, frame_to_csv, row_bytes


def json_safe(value: Any) -> Any:
    """Plain JSON types: numpy numbers to Python, NaN/inf to None, dates and periods to ISO text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, pd.Period):
        return str(value)
    if value is pd.NaT or value is pd.NA:
        return None
    return value


#: First characters that make a spreadsheet read a cell as a formula (OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _neutralise_values(values: pd.Series | pd.Index) -> pd.Series | pd.Index:
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values
    if pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.PeriodDtype):
        return values
    text = values.astype("string")  # vectorised; missing values stay missing
    risky = np.asarray(text.str.startswith(FORMULA_PREFIXES).fillna(False), dtype=bool)
    if not risky.any():
        return values
    return values.astype(object).where(~risky, np.asarray(("'" + text).astype(object)))


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` in which every text cell (and index or column label) that a
    spreadsheet would run as a formula starts with an apostrophe; numbers, dates and
    booleans are unchanged."""
    out = frame.copy(deep=False)  # columns left alone are shared, not copied (copy-on-write)
    for i in range(out.shape[1]):
        column = out.iloc[:, i]
        safe = _neutralise_values(column)
        if safe is not column:
            out.isetitem(i, safe)
    if not isinstance(out.index, pd.MultiIndex):
        out.index = _neutralise_values(out.index)
    if not isinstance(out.columns, pd.MultiIndex):
        out.columns = _neutralise_values(pd.Index(map(str, out.columns), dtype=object))
    return out


def csv_text(frame: pd.DataFrame, *, index: bool = False, float_format: str | None = None) -> str:
    """``frame`` as CSV text, safe to open in a spreadsheet (:func:`neutralise_formulas`).
    The one function every study export writes its CSV files with."""
    safe = neutralise_formulas(frame)
    if not index and float_format in ("%.6g", None):
        return frame_to_csv(safe, float_format)  # the same text as to_csv, formatted vectorised (large tables)
    return safe.to_csv(index=index, float_format=float_format)


def write_csv_atomic(path: Path, frame: pd.DataFrame, *, float_format: str | None = None) -> Path:
    """Write :func:`csv_text` of ``frame`` to ``path`` atomically (as
    :func:`helpers.files.write_text_atomic`), the same bytes, but formatted and written
    :data:`CSV_BLOCK_ROWS` rows at a time instead of as one string of the whole text (a
    million customers: several hundred MB less memory). Every cell is formatted on its own,
    so blocks give the text of the whole; where a column's text depends on the whole column
    (pandas' types of mixed text, a date column's time of day), some block is not formatted
    on its own (:func:`csv_rows` gives None) and the whole text is written instead."""
    safe = neutralise_formulas(frame)
    whole = _Whole()

    def pieces():
        for start in range(0, max(len(safe), 1), CSV_BLOCK_ROWS):
            parts = csv_rows(safe.iloc[start:start + CSV_BLOCK_ROWS], float_format)
            if parts is None:
                raise whole
            header, rows = parts
            if start == 0:
                yield header.encode("utf-8")
            yield from row_bytes(rows)

    if len(safe) <= CSV_BLOCK_ROWS:
        return write_text_atomic(path, csv_text(frame, float_format=float_format))
    try:
        return write_bytes_atomic(path, pieces())
    except _Whole:
        return write_text_atomic(path, csv_text(frame, float_format=float_format))


#: Rows formatted and written at a time by :func:`write_csv_atomic`.
CSV_BLOCK_ROWS = 200_000


class _Whole(Exception):
    """A block of rows is not formatted on its own: write the whole text instead."""


def csv_bytes_by(frame: pd.DataFrame, column: str, keys: list[str]) -> tuple[list, dict[str, Iterator]]:
    """The UTF-8 bytes of :func:`csv_text` of ``frame`` and of its rows with each of ``keys``
    in ``column`` (in frame order; header only when none), every row formatted once: a table
    and its split into per-key files, e.g. all customers and one activation list per segment.

    Both come as parts to write one after another (:func:`helpers.files.write_bytes_atomic`),
    views into the formatted rows rather than one joined string; a key's rows are selected
    when its parts are iterated, so one key's copy is alive at a time."""
    safe = neutralise_formulas(frame)
    parts = csv_rows(safe, None)
    if parts is None:
        return [csv_text(frame).encode("utf-8")], {
            k: iter([csv_text(frame[frame[column] == k]).encode("utf-8")]) for k in keys
        }
    import pyarrow as pa

    header, rows = parts
    head = header.encode("utf-8")
    values = frame[column].to_numpy()

    def selected(key: str) -> Iterator:
        yield head
        yield from row_bytes(rows.filter(pa.array(values == key)))

    return [head, *row_bytes(rows)], {k: selected(k) for k in keys}


def export_frame(frame: pd.DataFrame, *, allow_raw_ids: bool = False, id_key: str | None = None) -> pd.DataFrame:
    """``frame`` with its index reset and ``customer_id`` pseudonymised unless raw ids are allowed."""
    out = frame.reset_index() if frame.index.name == CUSTOMER_ID else frame.copy()
    if CUSTOMER_ID in out:
        out[CUSTOMER_ID] = display_ids(out[CUSTOMER_ID], allow_raw_ids=allow_raw_ids, key=id_key).to_numpy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.PeriodDtype):
            out[col] = out[col].astype(str)
    return out


def write_study_outputs(
    output_dir: str | Path,
    *,
    table: pd.DataFrame,
    table_name: str,
    metrics: dict,
    metrics_name: str,
    allow_raw_ids: bool = False,
    id_key: str | None = None,
) -> dict[str, Path]:
    """Write ``table`` as ``<table_name>`` (CSV) and ``metrics`` as ``<metrics_name>`` (JSON)."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = folder / table_name, folder / metrics_name
    exported = export_frame(table, allow_raw_ids=allow_raw_ids, id_key=id_key)
    write_text_atomic(csv_path, csv_text(exported, float_format="%.6g"))
    payload = {"package_version": __version__} | json_safe(metrics)
    write_text_atomic(json_path, json.dumps(payload, indent=2, ensure_ascii=False))
    return {"csv": csv_path, "json": json_path}
