"""CSV text of large numeric tables, formatted with numpy instead of once per cell in Python.

:func:`frame_to_csv` returns exactly what ``frame.to_csv(index=False, float_format="%.6g")``
returns for a frame of text, integer and float columns (tests compare them byte for byte),
several times faster on a million rows, and likewise without a ``float_format`` (floats in
numpy's shortest round-trip text, as pandas writes them): :func:`format_g` rounds every float to six significant
digits with array arithmetic and builds the digits with numpy's string functions. The few
values whose rounding the arithmetic cannot settle for certain (a decimal tie within 1e-6,
exponents beyond 10^±20) are formatted by Python itself.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

_P = 6  # significant digits, as "%.6g"
_S = np.dtypes.StringDType()
#: Rows joined into text at a time by :func:`frame_to_csv` (a piece stays far below 2 GB).
ROWS_PER_PIECE = 1_000_000
#: From this many rows on, columns are formatted two at a time in threads.
THREADED_ROWS = 100_000


def _s(values: np.ndarray) -> np.ndarray:
    """Non-negative integers as text (numpy's own conversion)."""
    return np.asarray(values, dtype=np.int64).astype(_S)


def _zfill(text: np.ndarray, width: np.ndarray) -> np.ndarray:
    return np.strings.zfill(text, np.asarray(width, dtype=np.int64))


def _cat(*parts) -> np.ndarray:
    out = parts[0]
    for part in parts[1:]:
        out = np.strings.add(out, part)
    return out


#: 10.0**k for k = 0..22 (exact doubles), looked up instead of raised per value (pow is slow).
_POW10 = 10.0 ** np.arange(23)


def format_g(values: np.ndarray):
    """``"%.6g" % v`` for every value (``""`` for NaN, like ``to_csv``), as a pyarrow string array.

    Values are rounded to six significant digits with array arithmetic; in fixed notation
    (exponents -4 to 5) the shortest text of the rounded double, which pyarrow writes, has
    exactly the rounded digits. Scientific notation is assembled with numpy's string
    functions; ties the arithmetic cannot settle and NaN/inf are spelled one by one.
    """
    import pyarrow as pa

    v = np.asarray(values, dtype=np.float64)
    nonzero = np.isfinite(v) & (v != 0)
    a = np.where(nonzero, np.abs(v), 1.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x0 = np.floor(np.log10(a)).astype(np.int64)
        shift = (_P - 1) - x0
        usable = np.abs(shift) <= 20  # powers of ten up to 1e22 are exact doubles
        up = np.where(usable & (shift >= 0), shift, 0)
        down = np.where(usable & (shift < 0), -shift, 0)
        scaled = a * _POW10[up] / _POW10[down]
    frac = scaled - np.floor(scaled)
    # Round half to even only matters at exact ties, where the product's own rounding could
    # decide; such values (and any misjudged exponent) are spelled by Python.
    certain = nonzero & usable & (np.abs(frac - 0.5) > 1e-6) & (scaled >= 10.0 ** (_P - 1) - 0.5) & (scaled < 10.0**_P)
    m = np.rint(np.where(certain, scaled, 10.0 ** (_P - 1))).astype(np.int64)
    x = x0.copy()
    carry = m == 10**_P
    m[carry] = 10 ** (_P - 1)
    x[carry] += 1
    fixed = certain & (x >= -4) & (x < _P)
    e = x - (_P - 1)  # value = m * 10**e
    rounded = m / _POW10[np.clip(-e, 0, 22)]  # fixed notation has e <= 0; other rows are replaced
    rounded = np.where(fixed, np.copysign(rounded, v), np.where(nonzero, 1.0, v))
    text = pa.array(rounded, type=pa.float64()).cast(pa.string())  # zeros: "0" and "-0"

    other = np.flatnonzero(~fixed & ~(np.isfinite(v) & (v == 0)))
    if len(other) == 0:
        return text
    spelled = np.full(len(other), "", dtype=_S)
    sci = certain[other]
    if sci.any():
        idx = other[sci]
        mm, xx = m[idx], x[idx]
        tz = np.zeros(len(idx), dtype=np.int64)
        for k in range(1, _P):
            tz += (mm % 10**k == 0)
        nsig, sig = _P - tz, mm // 10**tz
        p10 = 10 ** (nsig - 1)
        lead = _s(sig // p10)
        mant = lead.copy()
        many = nsig > 1
        mant[many] = _cat(lead[many], ".", _zfill(_s(sig[many] % p10[many]), nsig[many] - 1))
        sign = np.where(xx >= 0, "e+", "e-").astype(_S)
        body = _cat(mant, sign, _zfill(_s(np.abs(xx)), np.full(len(xx), 2)))
        body[v[idx] < 0] = np.strings.add("-", body[v[idx] < 0])
        spelled[sci] = body
    # NaN, inf, ties, extreme exponents: Python's own text (ties are common in money with
    # seven digits, e.g. 12345.65, so one list rather than an assignment per value).
    spelled[~sci] = ["" if math.isnan(value) else "%.6g" % value for value in v[other[~sci]].tolist()]  # noqa: UP031
    return _replaced(text, other, spelled)


def _replaced(text, positions: np.ndarray, values: np.ndarray):
    """``text`` with the strings at ``positions`` (ascending) replaced by ``values``: one take
    from the two arrays end to end, three times faster than ``replace_with_mask`` on a
    million rows."""
    import pyarrow as pa

    indices = np.arange(len(text))
    indices[positions] = len(text) + np.arange(len(positions))
    return pa.concat_arrays([text, pa.array(values, type=pa.string())]).take(pa.array(indices))


def _quoted(values: pd.Series):
    """Text as the csv module writes it (QUOTE_MINIMAL), missing values as "", as pyarrow strings."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.array(values, type=pa.string(), from_pandas=True)  # arrow-backed text: no copy
    text = pc.fill_null(text, "")
    special = np.asarray(pc.match_substring_regex(text, r'[,"\r\n]'), dtype=bool)
    if special.any():  # ids with a comma or a quote: rare
        out = np.asarray(text.to_pylist(), dtype=object)
        for i in np.flatnonzero(special):
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerow([out[i]])  # pandas' dialect on this system
            out[i] = buf.getvalue()[:-1]
        text = pa.array(out, type=pa.string())
    return text


#: Decimal places :func:`format_repr` spells with integer arithmetic (money and shares are
#: rounded to 2 or 4 before they are written).
_REPR_PLACES = 6


def format_repr(values: np.ndarray):
    """Every float as ``to_csv`` writes it without a ``float_format`` (numpy's shortest
    round-trip text, ``""`` for NaN), as a pyarrow string array.

    Values with at most six decimals (the money and shares of the exports, rounded before
    they are written) are spelled from integers: when ``v`` is the double nearest to
    ``n / 10**6`` with ``|n| < 10**15`` (at most 15 significant digits, so no shorter decimal
    gives the same double), the shortest round-trip text is exactly that decimal without its
    trailing zeros, in numpy's positional form for 1e-4 <= |v| < 1e16. The others go through
    numpy's own conversion (Dragon4), as before."""
    import pyarrow as pa
    import pyarrow.compute as pc

    v = np.asarray(values, dtype=np.float64)
    scale = 10.0**_REPR_PLACES
    with np.errstate(all="ignore"):
        n = np.rint(v * scale)
        exact = np.isfinite(v) & (np.abs(n) < 1e15) & (n / scale == v)
    exact &= (np.abs(v) >= 1e-4) | ((v == 0) & ~np.signbit(v))  # smaller ones and -0.0 are spelled otherwise
    whole, fraction = np.divmod(np.abs(np.where(exact, n, 0.0)).astype(np.int64), 10**_REPR_PLACES)
    digits, which = np.unique(fraction, return_inverse=True)  # few: values are rounded to cents
    fractions = pa.array([(f"%0{_REPR_PLACES}d" % d).rstrip("0") or "0" for d in digits.tolist()], type=pa.string())
    text = pc.binary_join_element_wise(pa.array(whole).cast(pa.string()), fractions.take(pa.array(which)), ".")
    negative = exact & (v < 0)
    if negative.any():
        text = pc.if_else(pa.array(negative), pc.binary_join_element_wise("-", text, ""), text)
    other = np.flatnonzero(~exact)
    if len(other) == 0:
        return text
    spelled = v[other].astype(_S)  # the conversion pandas' own astype(str) makes, in C
    spelled[np.isnan(v[other])] = ""
    return _replaced(text, other, spelled)


#: Cells of a strided sample by which :func:`_column_text` judges a column's distinct values.
DISTINCT_SAMPLE = 4096


def _column_text(col: pd.Series, floats):
    """:func:`_cells` of ``col``, each distinct value formatted once when the column has few
    (counts, weeks, dates, flags, segment names: a sample's distinct values decide), and its
    text taken for every row. Numbers are told apart by their bits, so 0.0 and -0.0 stay
    apart; missing text is written as ""."""
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = _distinct_keys(col) if len(col) > DISTINCT_SAMPLE else None
    if keys is None:
        return _cells(col, floats)
    sample = keys.take(pa.array(np.arange(0, len(keys), len(keys) // DISTINCT_SAMPLE)))
    if pc.count_distinct(sample).as_py() > DISTINCT_SAMPLE // 4:
        return _cells(col, floats)
    encoded = pc.dictionary_encode(keys)
    values = encoded.dictionary
    if isinstance(col.dtype, np.dtype):
        values = values.to_numpy().view(col.dtype)
    text = _cells(pd.Series(values, dtype=col.dtype, name=col.name), floats)
    return None if text is None else pc.fill_null(text.take(encoded.indices), "")


def _distinct_keys(col: pd.Series):
    """What tells ``col``'s values apart, as a pyarrow array: numbers, flags and dates by their
    bits, Arrow text by itself (one array, one dictionary); None for other columns."""
    import pyarrow as pa

    dtype = col.dtype
    if isinstance(dtype, np.dtype) and dtype.kind in "fiubM":
        return pa.array(col.to_numpy().view(f"u{dtype.itemsize}"))
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        text = pa.array(col.array)
        return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text
    return None


def _cells(col: pd.Series, floats):
    """One column's cells as ``to_csv`` writes them, as pyarrow strings; None for a type
    left to pandas. Floats by ``floats`` (:func:`format_g` or :func:`format_repr`); text
    quoted as the csv module does; numpy integers and booleans as Python prints them; dates
    without a time of day as ``YYYY-MM-DD`` (pandas writes the time only when some value has one)."""
    import pyarrow as pa

    dtype = col.dtype
    if pd.api.types.is_float_dtype(dtype):
        if floats is format_repr and dtype != np.float64:
            return None  # pandas writes float32's own shortest text (1e-04), not float64's
        return floats(col.to_numpy(dtype=np.float64))
    if pd.api.types.is_string_dtype(dtype) and pd.api.types.infer_dtype(col, skipna=True) in ("string", "empty"):
        return _quoted(col)
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return pa.array(col.to_numpy()).cast(pa.string())
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return pa.array(np.where(col.to_numpy(), "True", "False"), type=pa.string())
    if isinstance(dtype, np.dtype) and dtype.kind == "M":
        values = col.to_numpy()
        present = ~np.isnat(values)
        days = values.astype("datetime64[D]")
        if (days[present] != values[present]).any():
            return None  # a time of day somewhere: pandas' own format
        text = np.where(present, np.datetime_as_string(days, unit="D"), "")
        return pa.array(text, type=pa.string())
    return None


def csv_rows(frame: pd.DataFrame, float_format: str | None = "%.6g"):
    """``(header, rows)`` of ``frame.to_csv(index=False, float_format=float_format)``: the
    header line and every row's text with its ``"\n"`` as a pyarrow string array, each cell
    formatted once with array operations. ``None`` when a column is not float, integer,
    boolean, date or text, or ``float_format`` is not ``"%.6g"`` or ``None``: pandas then writes it."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if float_format not in ("%.6g", None) or frame.shape[1] < 2:
        return None  # one column: pandas quotes a lone empty field (""), left to it
    floats = format_g if float_format == "%.6g" else format_repr
    columns = [frame[c] for c in frame.columns]
    if len(frame) >= THREADED_ROWS:  # numpy and pyarrow release the GIL: two columns at once
        with ThreadPoolExecutor(max_workers=2) as pool:
            cells = list(pool.map(lambda col: _column_text(col, floats), columns))
    else:
        cells = [_column_text(col, floats) for col in columns]
    if any(cell is None for cell in cells):
        return None
    header = ",".join(_quoted(pd.Series([str(c) for c in frame.columns], dtype=object)).to_pylist()) + "\n"
    if not len(frame):
        return header, pa.chunked_array([], type=pa.string())
    # Rows are joined a piece at a time: a string array's 32-bit offsets hold at most 2 GB of
    # text, which 10M customers' rows pass; a cell may also come as a chunked array.
    pieces = []
    for start in range(0, len(frame), ROWS_PER_PIECE):
        piece = [cell.slice(start, ROWS_PER_PIECE) for cell in cells]
        rows = pc.binary_join_element_wise(*piece, ",")
        rows = pc.binary_join_element_wise(rows, pa.scalar(""), "\n")  # each row + "\n"
        pieces += rows.chunks if isinstance(rows, pa.ChunkedArray) else [rows]
    return header, pa.chunked_array(pieces, type=pa.string())


def row_bytes(rows) -> Iterator[memoryview]:
    """The UTF-8 bytes of :func:`csv_rows`' rows, a chunk at a time, each a view into pyarrow's
    own buffer (for writing to a file without the whole text in memory at once)."""
    import pyarrow as pa

    for chunk in rows.chunks if isinstance(rows, pa.ChunkedArray) else [rows]:
        yield _text_bytes(chunk)


def join_rows(rows) -> str:
    """The text of :func:`csv_rows`' rows (or a selection of them) in order."""
    return b"".join(row_bytes(rows)).decode("utf-8")


def _text_bytes(rows) -> memoryview:
    """The bytes of a pyarrow string array's values, one after another (a view, not a copy)."""
    import pyarrow as pa

    if len(rows) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(rows.buffers()[1], dtype=np.int32 if rows.type == pa.string() else np.int64)
    return memoryview(rows.buffers()[2])[offsets[rows.offset]: offsets[rows.offset + len(rows)]]


def frame_to_csv(frame: pd.DataFrame, float_format: str | None = "%.6g") -> str:
    """``frame.to_csv(index=False, float_format=float_format)`` (``"%.6g"`` or ``None``),
    vectorised for float, integer, boolean, date and text columns (other column types are
    left to pandas)."""
    parts = csv_rows(frame, float_format)
    if parts is None:
        return frame.to_csv(index=False, float_format=float_format)
    header, rows = parts
    return header + join_rows(rows)
