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
    options = (sep, len(headers), positions)
    try:
        ranges = _byte_ranges(file, len(sample.split("\n", 1)[0].encode("utf-8")) + 1)
        columns_read = _read_ranges(ranges, *options, typed) if typed else None
        if columns_read is None:  # some value is not plain: every column as text
            columns_read = _read_ranges(ranges, *options, {})
    except (pa.ArrowInvalid, pa.ArrowException, UnicodeDecodeError, OSError):
        return None  # ragged rows, blank lines, bad quoting: the general reader explains them
    if columns_read is None or len(columns_read[positions[0]]) == 0:
        return None
    frame = pd.DataFrame({headers[i]: columns_read[i] for i in positions}, copy=False)
    return MappedColumns(frame, headers, enc)


#: Files from this size on are read as two byte ranges at once, one per thread (pyarrow's
#: streaming reader parses on one core): 1M customers' 645 MB file, 2.1 s of parsing alone.
SPLIT_BYTES = 64 << 20


@dataclass(frozen=True)
class _ByteRange:
    """Bytes ``start`` to ``end`` of the file, starting at a row."""

    file: Path
    start: int
    end: int

    @property
    def skip_rows(self) -> int:  # the header, in the first range only
        return 1 if self.start == 0 else 0

    def source(self):
        """The file itself, or a reader of the range for pyarrow (plain reads, not a memory
        map: mapped file pages would count in the process's resident memory)."""
        return self.file if self.start == 0 and self.end == self.file.stat().st_size else _FileRange(self)


class _FileRange(io.RawIOBase):
    """Reads one :class:`_ByteRange` of a file."""

    def __init__(self, part: _ByteRange):
        super().__init__()
        self._handle = open(part.file, "rb", buffering=0)  # noqa: SIM115 - closed with the reader
        self._handle.seek(part.start)
        self._left = part.end - part.start

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self._handle.readinto(memoryview(buffer)[: self._left]) if self._left > 0 else 0
        self._left -= n
        return n

    def close(self) -> None:
        self._handle.close()
        super().close()


def _byte_ranges(file: Path, header_bytes: int) -> list[_ByteRange]:
    """The file as one range, or as two cut after the first newline past its middle when it
    is large and has no quote character after the header: only then does every newline end a
    row (a quoted value may hold one)."""
    size = file.stat().st_size
    whole = [_ByteRange(file, 0, size)]
    if size < SPLIT_BYTES:
        return whole
    with open(file, "rb") as handle:
        handle.seek(size // 2)
        newline = handle.read(1 << 20).find(b"\n")
        handle.seek(header_bytes)
        block = bytearray(_BLOCK)
        while n := handle.readinto(block):  # at disk-cache speed: 0.1 s for 645 MB
            if block.find(b'"', 0, n) >= 0:
                return whole
    cut = size // 2 + newline + 1
    if newline < 0 or cut <= header_bytes or cut >= size:
        return whole
    return [_ByteRange(file, 0, cut), _ByteRange(file, cut, size)]


def _read_ranges(ranges: list[_ByteRange], sep: str, width: int, positions: list[int], typed: dict[int, str]):
    """:func:`_stream` over each range, the ranges in threads (parsing and pyarrow's
    conversions release the GIL), and their columns end to end, in file order."""
    from concurrent.futures import ThreadPoolExecutor

    if len(ranges) == 1:
        parts = [_stream(ranges[0], sep, width, positions, typed)]
    else:
        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            parts = list(pool.map(lambda part: _stream(part, sep, width, positions, typed), ranges))
    if any(p is None for p in parts):
        return None
    return _columns({i: [chunk for p in parts for chunk in p[i]] for i in positions}, typed)


def _stream(part: _ByteRange, sep: str, width: int, positions: list[int], typed: dict[int, str]):
    """The batches of the columns at ``positions`` in one range, by position: text as
    pyarrow arrays, and the ``typed`` ones ("timestamp", "number") converted batch by batch
    when every value is plain (:func:`helpers.data.loading.plain_iso_timestamps`,
    ``plain_numbers``), so their text is never held whole. ``None`` when some typed value is
    not plain."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"c{i}" for i in range(width)]
    source = part.source()
    try:
        reader = pacsv.open_csv(
            source,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=part.skip_rows, encoding="utf8",
                                           block_size=_BLOCK),
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
    finally:
        if isinstance(source, io.IOBase):
            source.close()
    return parts


def _columns(parts: dict[int, list], typed: dict[int, str]) -> dict[int, pd.Series]:
    """Each column's batches as one pandas column: text as pandas strings, typed values
    as datetime64[us] or float64."""
    import numpy as np
    import pyarrow as pa

    out = {}
    for i in parts:
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
