"""Fast reading of plain transaction CSV files: pyarrow's multi-threaded CSV reader, only
the mapped columns, every cell as text.

:func:`read_mapped_columns` gives exactly the frame the general reader
(:func:`helpers.data.loading.read_table`) gives for the mapped columns: same text in every
cell, the same row count, blanks as ``""``. It only takes the files it can read that way
(UTF-8 text with a one-character delimiter and well-formed rows) and returns ``None``
for everything else, so the general reader (and its error messages, which name the row
and the problem) handles odd files exactly as before. Columns that are not mapped
(names, phone numbers) are never parsed into memory.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.data import columns as C
from helpers.data import loading
from helpers.errors import HelperError


@dataclass(frozen=True)
class MappedColumns:
    """The mapped columns of a file, as text, and what was learnt reading it."""

    frame: pd.DataFrame  # columns named by their (cleaned) source headers, in file order
    headers: list[str]  # every cleaned header of the file
    encoding: str  # as :func:`helpers.data.loading.read_table` reports it


def read_mapped_columns(
    path: str | os.PathLike[str],
    column_map: Mapping[str, str] | None = None,
    *,
    encoding: str | None = None,
    columns: Sequence[str] | None = None,
    parse: bool = False,
) -> MappedColumns | None:
    """The mapped columns of a UTF-8 CSV/TSV/TXT file read by pyarrow, or ``None`` when the
    file needs the general reader (other encodings, whitespace-delimited files, quoted
    headers holding quotes or delimiters, rows of the wrong length, missing or ambiguous
    columns, ...). ``columns``
    (canonical names) keeps only those optional columns besides the required ones.

    ``parse=True`` reads the timestamp column as ``datetime64[us]`` and the amount and numeric
    optional columns as float64 when every value is plain (ISO timestamps, plain decimals),
    converting batch by batch, so their text never sits in memory whole; the loader gives
    those columns exactly the values it would give their text. When one value is not plain
    the file is read again with every column as text, and the loader reports it as ever."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    file = Path(path)
    shown = os.fspath(path)
    try:
        if not file.is_file() or file.suffix.lower() not in loading.TEXT_SUFFIXES or file.stat().st_size == 0:
            return None
        enc, sample, complete = loading._detect_encoding(file, shown, encoding)
    except (HelperError, OSError):
        return None  # the general reader raises its own message
    if codecs.lookup(enc).name not in ("utf-8", "utf-8-sig"):
        return None
    sep = loading._sniff_delimiter(sample, complete)
    first_line = sample.split("\n", 1)[0].rstrip("\r")
    if len(sep) != 1 or not first_line.strip() or not _simple_header(first_line, sep):
        return None
    raw_headers = next(csv.reader(io.StringIO(first_line), delimiter=sep))
    headers = [str(h).replace("\ufeff", "").strip() for h in raw_headers]
    try:
        mapping = C.resolve_columns(headers, column_map, file=shown)
    except HelperError:
        return None
    if columns is not None:  # the required columns and these optional ones
        mapping = {c: h for c, h in mapping.items() if c in C.REQUIRED or c in columns}
    wanted = list(mapping.values())
    if any(headers.count(h) != 1 for h in wanted):
        return None  # duplicated headers: the general path reports them
    positions = sorted(headers.index(h) for h in wanted)
    typed: dict[int, str] = {}
    if parse:
        typed[headers.index(mapping[C.TIMESTAMP])] = "timestamp"
        for canonical in (C.AMOUNT, *C.NUMERIC_OPTIONAL):
            if canonical in mapping:
                typed[headers.index(mapping[canonical])] = "number"
    options = (file, sep, len(headers), positions)
    try:
        columns_read = _stream(*options, typed) if typed else None
        if columns_read is None:  # some value is not plain: every column as text
            columns_read = _stream(*options, {})
    except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError, OSError):
        return None  # ragged rows, blank lines, bad quoting: the general reader explains them
    if columns_read is None or len(columns_read[positions[0]]) == 0:
        return None
    frame = pd.DataFrame({headers[i]: columns_read[i] for i in positions}, copy=False)
    return MappedColumns(frame, headers, enc)


def _stream(file: Path, sep: str, width: int, positions: list[int], typed: dict[int, str]):
    """The columns at ``positions`` read batch by batch: text as pandas strings, and the
    ``typed`` ones ("timestamp", "number") converted batch by batch when every value is
    plain (:func:`helpers.data.loading.plain_iso_timestamps`, ``plain_numbers``), so their
    text is never held whole. ``None`` when some typed value is not plain."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(width)]
    reader = pacsv.open_csv(
        file,
        read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, encoding="utf8", block_size=_BLOCK),
        parse_options=pacsv.ParseOptions(
            delimiter=sep, quote_char='"', double_quote=True, escape_char=False,
            newlines_in_values=True, ignore_empty_lines=False,
        ),
        convert_options=pacsv.ConvertOptions(
            column_types={names[i]: pa.large_string() for i in positions},
            include_columns=[names[i] for i in positions],
            null_values=[], strings_can_be_null=False, quoted_strings_can_be_null=False,
        ),
    )
    parts: dict[int, list] = {i: [] for i in positions}
    convert = {"timestamp": loading.plain_iso_timestamps, "number": loading.plain_numbers}
    for batch in reader:
        for i in positions:
            column = batch.column(names[i])
            if i in typed:
                column = convert[typed[i]](column)
                if column is None:
                    return None
            parts[i].append(column)
    out = {}
    for i in positions:
        if i in typed:
            kind = "datetime64[us]" if typed[i] == "timestamp" else "float64"
            out[i] = pd.Series(np.concatenate(parts[i]) if parts[i] else np.array([], dtype=kind), copy=False)
        else:
            chunks = pa.chunked_array(parts[i], type=pa.large_string())
            out[i] = chunks.to_pandas(types_mapper=_as_str)
        parts[i] = []
    return out


#: Bytes per batch of the streaming reader (larger batches: fewer, faster vectorised calls).
_BLOCK = 16 << 20


def _simple_header(line: str, sep: str) -> bool:
    """Every header is bare or wholly quoted without inner quotes or delimiters
    (``"customer_id","amount"``, as many exports write it): both readers agree on those."""
    return all('"' not in f or (len(f) >= 2 and f[0] == f[-1] == '"' and '"' not in f[1:-1])
               for f in line.split(sep))


def _as_str(arrow_type):  # the pandas string dtype read_csv(dtype=str) gives
    return pd.StringDtype(na_value=float("nan")) if str(arrow_type) in ("string", "large_string") else None
