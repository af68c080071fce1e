"""Transactions to the per-customer statistics that buy-till-you-die models use.

Conventions are exactly those of ``lifetimes.utils.summary_data_from_transaction_data``
with ``freq="D"`` and ``freq_multiplier`` = days per time unit:

- purchases on the same calendar day are merged into one purchase (their amounts summed);
- ``frequency`` = number of *repeat* purchase days (the first purchase day is not counted);
- ``recency`` = age of the customer at their last purchase (last day - first day),
  not "days since last purchase";
- ``T`` = age of the customer at the end of the observation period (end - first day);
- ``monetary_value`` = mean spend over repeat purchase days (first day excluded), 0 for
  customers with no repeat purchase.

Weekly units on CDNOW are days / 7 (recency 30.43, T 38.86 for customer 1), which is
what Fader, Hardie & Lee (2005) use; lifetimes' ``freq="W"`` rounds to calendar weeks
and does not reproduce their tables.

The computation is vectorised with numpy, so it scales to tens of millions of rows in any
row order; lifetimes' own utility is slow and its holdout split is broken on pandas 3.
Customer ids become integer codes in sorted-id order: integer codes are counted, short text
ids (member numbers) are read byte by byte as integers, other ids are hashed and only the
distinct ids sorted. :func:`customer_summary` then sorts only the (customer, day) keys,
never the rows. On large customer bases (:data:`_BLOCKED_FROM`) it first splits the rows by
blocks of customers whose tables fit in the CPU cache, and works block by block.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.data.columns import AMOUNT, CUSTOMER_ID, TIMESTAMP
from helpers.data.loading import _arrow_text, timestamp_or_error
from helpers.errors import ConfigError, DataError

#: Length of one model time unit in days. A month is 30 days, as lifetimes' CLV
#: routine assumes for daily data.
DAYS_PER_UNIT: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 30.0}

#: Names a strategist may type for each unit.
_UNIT_ALIASES = {
    "d": "D", "day": "D", "days": "D",
    "w": "W", "week": "W", "weeks": "W",
    "m": "M", "month": "M", "months": "M",
}

SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]


def normalise_time_unit(unit: str) -> str:
    """Return the canonical time unit code ("D", "W" or "M") for a user's spelling."""
    code = _UNIT_ALIASES.get(str(unit).strip().lower())
    if code is None:
        raise ConfigError(
            f"time_unit {unit!r} is not known; use 'D' (days), 'W' (weeks of 7 days) "
            "or 'M' (months of 30 days)."
        )
    return code


def _to_day(value: object, name: str) -> np.datetime64:
    stamp = timestamp_or_error(value, f"{name} {value!r} is not a date (use YYYY-MM-DD).")
    return np.datetime64(stamp.normalize().to_datetime64(), "D")


def sorted_id_codes(ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes in sorted-id order, and the sorted unique ids.

    Same result as ``pd.factorize(ids.to_numpy(), sort=True)``, faster: the ids are hashed
    where they are (pandas' Arrow-backed strings are not first copied into Python objects)
    and only the distinct ids are sorted, by pyarrow. Arrow orders strings by their UTF-8
    bytes, which is code-point order, the order Python (and so pandas) gives ``str``; numbers
    and dates are ordered by value, as numpy does. Ids of other kinds (mixed types,
    categoricals, nullable integers, other objects) are sorted by pandas, exactly as before.
    Missing ids get code -1.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    for fast_route in (_small_integer_codes, _short_text_codes, _ordered_text_codes):
        coded = fast_route(ids)
        if coded is not None:
            return coded
    codes, uniques = pd.factorize(ids, sort=False)
    order = None
    if _arrow_orders_like_python(uniques):
        try:
            order = pc.sort_indices(pa.array(uniques)).to_numpy()
        except (TypeError, ValueError, pa.ArrowException):  # e.g. text pyarrow cannot encode
            order = None
    if order is None:
        return pd.factorize(ids.to_numpy(), sort=True)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    if len(rank) == 0:
        codes = codes.astype(np.int64)
    elif codes.min() >= 0:
        codes = rank[codes]
    else:  # missing ids keep code -1
        codes = np.where(codes >= 0, rank[codes], -1)
    return codes, np.asarray(uniques)[order]


def _small_integer_codes(ids: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`sorted_id_codes` for ids that are non-negative numpy integers no larger than a few
    times their count (e.g. codes from :func:`with_id_codes`): counted, not hashed or sorted;
    None for any other ids."""
    values = ids.to_numpy() if isinstance(ids.dtype, np.dtype) and ids.dtype.kind in "iu" else None
    if values is None or len(values) == 0:
        return None
    low, high = int(values.min()), int(values.max())
    if low < 0 or high > 4 * len(values) + 1024:
        return None
    present = _present(values, high)
    if low == 0 and present.all():  # already the codes 0..n-1: nothing to renumber
        return values.astype(np.int64, copy=False), np.arange(high + 1, dtype=values.dtype)
    return _ranks_in_place(present, values.astype(np.int64)), np.flatnonzero(present).astype(values.dtype)


def _present(values: np.ndarray, top: int) -> np.ndarray:
    """Which of 0..top occur in ``values`` (non-negative integers): marks in a table of one byte
    per value, which stays in the CPU cache far longer than the eight bytes a count takes."""
    present = np.zeros(top + 1, dtype=bool)
    present[values] = True
    return present


#: (customer, day) keys below this are sorted as 32-bit integers.
_KEY32_LIMIT = 2**32

#: Longest id (in UTF-8 bytes) that :func:`_short_text_codes` reads byte by byte.
SHORT_ID_BYTES = 24
#: Rows per block of row-wise work whose running values and temporaries should stay in the CPU
#: cache: past it, every large temporary also costs page faults (and, with transparent huge
#: pages, memory compaction), which at 70M rows took as long as the work itself.
_ROW_BLOCK = 1 << 16


def _short_text_codes(ids: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`sorted_id_codes` for text ids of at most :data:`SHORT_ID_BYTES` bytes
    (member numbers such as ``M0001234`` or ``13800138000``), without hashing the text.

    The ids' bytes form a table (shorter ids padded with 0, below every byte of real text).
    Each byte position spans a small range across the ids (one letter, ten digits), so every
    id reads as one integer whose digits are its bytes minus the smallest byte at their
    position, in a mixed radix of the positions' ranges. That integer orders ids exactly as
    their UTF-8 bytes do, which is code-point order, Python's order for ``str``; the distinct
    integers are then counted (or, when spread too widely, hashed) into codes 0..n-1.
    None for other ids: missing values, longer ids, a NUL byte, or a radix beyond 63 bits."""
    table = _id_byte_table(ids)
    radix = None if table is None else _ByteRadix.of([table])
    if radix is None:
        return None
    value = radix.values(table)
    top = int(value.max())
    if top <= 4 * len(value) + 1024:
        present = _present(value, top)
        codes = _ranks_in_place(present, value)
        distinct = np.flatnonzero(present)
    else:
        hashed, distinct = pd.factorize(value, sort=False)
        order = np.argsort(distinct)
        rank = np.empty(len(order), dtype=np.int64)
        rank[order] = np.arange(len(order))
        codes, distinct = rank[hashed], distinct[order]
    return codes, _ids_from_values(distinct, table.shape[1], radix.varying, radix.radices, radix.low)


def short_text_keys(*columns: pd.Series | pd.Index) -> list[np.ndarray] | None:
    """One int64 per value of each column, ordered and equal as the values' text (code-point
    order) across all the columns: their bytes read in one mixed radix, as
    :func:`_short_text_codes` reads ids, so that ids of two tables are matched by integer
    comparisons instead of hashing text. None unless every column is text of at most
    :data:`SHORT_ID_BYTES` bytes without missing values or NUL bytes, and the radix fits 63 bits."""
    tables = [_id_byte_table(column) for column in columns]
    if any(table is None for table in tables):
        return None
    width = max(table.shape[1] for table in tables)
    # padded with 0 to one width: no id holds a 0 byte, so padding keeps distinct ids apart
    tables = [np.pad(t, ((0, 0), (0, width - t.shape[1]))) if t.shape[1] < width else t for t in tables]
    radix = _ByteRadix.of(tables)
    return None if radix is None else [radix.values(table) for table in tables]


@dataclass(frozen=True)
class _ByteRadix:
    """The mixed radix that reads rows of id bytes as integers: at each byte position that
    varies, the digit is the byte minus the smallest byte there, in the range of that position."""

    varying: np.ndarray  # byte positions that vary
    radices: np.ndarray  # their ranges
    low: np.ndarray  # the smallest byte at every position

    @classmethod
    def of(cls, tables: list[np.ndarray]) -> _ByteRadix | None:
        """The radix covering every row of ``tables`` (equal widths); None beyond 63 bits."""
        low = np.min([_column_extreme(t, np.minimum) for t in tables], axis=0)
        high = np.max([_column_extreme(t, np.maximum) for t in tables], axis=0)
        varying = np.flatnonzero(high > low)
        radices = high[varying] - low[varying] + 1
        if _mixed_radix(high[varying], radices) >= 2**63:  # the largest running value must fit
            return None
        return cls(varying, radices, low)

    def values(self, table: np.ndarray) -> np.ndarray:
        """Each row's integer."""
        value = np.zeros(len(table), dtype=np.int64)
        for begin in range(0, len(table), _ROW_BLOCK):  # blocks of rows, not single rows
            block, rows = value[begin: begin + _ROW_BLOCK], table[begin: begin + _ROW_BLOCK]
            for position, radix in zip(self.varying, self.radices, strict=True):
                block *= radix
                block += rows[:, position]
        value -= _mixed_radix(self.low[self.varying], self.radices)  # the digits are bytes minus their smallest
        return value


#: Values (0..top) from which :func:`_ranks_in_place` counts marks in a bit table instead of
#: looking ranks up in a table of one 32-bit rank per value: past the CPU cache every row's
#: look-up misses (at 10.5M values 10.3 instead of 4.5 ns per row; at 1M the plain table,
#: 4 MB, is faster: 2.2 against 3.7 ns).
_BIT_RANKS_FROM = 1 << 22


def _ranks_in_place(present: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's rank among the values marked in ``present`` (``np.cumsum(present)[v] - 1``),
    written over ``values`` (int64, each marked)."""
    if len(present) < _BIT_RANKS_FROM:
        # 32-bit ranks: the table every row looks up is half the size, so more of it stays in
        # the CPU cache (at 1.5M customers 0.15-0.19 instead of 0.20-0.25 us per customer)
        rank = np.cumsum(present, dtype=np.int32 if len(present) < 2**31 else np.int64)
        rank -= 1
        return _looked_up_in_place(rank, values)
    return _bit_ranks_in_place(present, values)


def _bit_ranks_in_place(present: np.ndarray, values: np.ndarray) -> np.ndarray:
    """:func:`_ranks_in_place` from a bit per value and a running count per 64 of them: a value's
    rank is the count before its word plus the marks below it in the word. The two tables take
    a 32nd of the 32-bit ranks' room (1.9 MB for 10.5M values), so they stay in the CPU cache."""
    bits = np.zeros(-(-len(present) // 64) * 64, dtype=bool)
    bits[: len(present)] = present
    words = np.packbits(bits, bitorder="little").view("<u8")  # bit k of word w: value 64 w + k
    before = np.zeros(len(words), dtype=np.int64)
    np.cumsum(np.bitwise_count(words)[:-1], out=before[1:])  # a rank is the count of marks below
    word = np.empty(min(_ROW_BLOCK, len(values)), dtype=np.int64)
    below = np.empty(len(word), dtype=np.uint64)
    for begin in range(0, len(values), _ROW_BLOCK):
        part = values[begin: begin + _ROW_BLOCK]
        at, mask = word[: len(part)], below[: len(part)]
        np.right_shift(part, 6, out=at)
        np.bitwise_and(part, 63, out=mask, casting="unsafe")
        np.left_shift(np.uint64(1), mask, out=mask)
        mask -= np.uint64(1)  # the bits of the values below this one in its word
        np.bitwise_and(words[at], mask, out=mask)
        np.take(before, at, out=part)
        part += np.bitwise_count(mask)
    return values


def _looked_up_in_place(table: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``table[values]`` written over ``values`` (integers; the table's fit in their dtype), block
    by block: no second array of every row."""
    for begin in range(0, len(values), _ROW_BLOCK):
        part = values[begin: begin + _ROW_BLOCK]
        part[...] = table[part]
    return values


def _ordered_text_codes(ids: pd.Series) -> tuple[np.ndarray, pd.api.extensions.ExtensionArray] | None:
    """:func:`sorted_id_codes` for text ids (no missing value) already in order (the loader sorts
    transactions by customer), however long: coded by comparing neighbours, without hashing
    the text (pyarrow compares strings by UTF-8 bytes, code-point order as Python's). None
    for ids out of order, missing ids or other kinds."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _arrow_text(ids)
    if text is None or len(text) < 2:
        return None
    ahead, behind = text[1:], text[:-1]
    if not pc.all(pc.greater_equal(ahead, behind)).as_py():
        return None
    step = np.asarray(pc.not_equal(ahead, behind).to_numpy(zero_copy_only=False), dtype=bool)
    codes = np.concatenate(([0], np.cumsum(step, dtype=np.int64)))
    first = np.flatnonzero(np.concatenate(([True], step)))
    return codes, pd.array(text.take(pa.array(first)), dtype="str")


def _id_byte_table(ids: pd.Series) -> np.ndarray | None:
    """The UTF-8 bytes of text ids (:func:`helpers.data.loading._arrow_text`) as a (rows, width) uint8 table, shorter ids
    padded with 0; None when the ids are not such text, have missing values, contain a NUL
    byte or are longer than :data:`SHORT_ID_BYTES`."""
    import pyarrow as pa

    text = _arrow_text(ids)
    if text is None:
        return None
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    offset_type = np.int64 if pa.types.is_large_string(text.type) else np.int32
    offsets = np.frombuffer(text.buffers()[1], dtype=offset_type)[text.offset: text.offset + len(text) + 1]
    lengths = np.diff(offsets)
    width = int(lengths.max())
    if width == 0:
        return np.zeros((len(ids), 1), dtype=np.uint8)  # every id is the empty text
    data = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0]: offsets[-1]]
    if width > SHORT_ID_BYTES or data.min() == 0:
        return None
    if lengths.min() == width:  # equal lengths: the bytes already are the table
        return data.reshape(len(ids), width)
    table = np.zeros((len(ids), width), dtype=np.uint8)
    table[np.arange(width) < lengths[:, None]] = data  # row-major: each id's bytes, then padding
    return table


def _column_extreme(table: np.ndarray, extreme: np.ufunc, rows: int = 512) -> np.ndarray:
    """``extreme.reduce(table, axis=0)`` as int64, blocks of ``rows`` rows at a time (numpy reduces
    a narrow table column-wise many times slower)."""
    whole = len(table) - len(table) % rows
    if whole:
        head = extreme.reduce(table[:whole].reshape(-1, rows * table.shape[1]), axis=0).reshape(rows, -1)
        table = np.concatenate([head, table[whole:]])
    return extreme.reduce(table, axis=0).astype(np.int64)


def _mixed_radix(digits: np.ndarray, radices: np.ndarray) -> int:
    """The integer whose digits (most significant first) in the given radices are ``digits``."""
    value = 0
    for digit, radix in zip(digits.tolist(), radices.tolist(), strict=True):
        value = value * radix + digit
    return value


def _ids_from_values(
    values: np.ndarray, width: int, varying: np.ndarray, radices: np.ndarray, low: np.ndarray
) -> pd.api.extensions.ExtensionArray:
    """The ids (pandas' default text dtype) whose mixed-radix values are ``values``: the
    digits read back and the bytes rebuilt, without going back to the rows or making one
    Python string per id."""
    import pyarrow as pa

    table = np.empty((len(values), width), dtype=np.uint8)
    table[...] = low.astype(np.uint8)
    # ``values`` ascend, so the last is the largest: 32-bit division is several times faster
    rest = values.astype(np.int32 if len(values) and values[-1] < 2**31 else np.int64)
    digit = np.empty_like(rest)  # both reused at every position: no new arrays in the loop
    for position, radix in zip(varying[::-1].tolist(), radices[::-1].tolist(), strict=True):
        np.divmod(rest, rest.dtype.type(radix), out=(rest, digit))
        np.add(table[:, position], digit, out=table[:, position], casting="unsafe")
    if table.all():  # no padding (0 bytes): ids of one length, as member numbers usually are
        offsets = np.arange(0, (len(values) + 1) * width, width, dtype=np.int64)
        data = table.reshape(-1)
    else:  # counting each row's bytes along the short axis is slow: only when some are padded
        real = table != 0  # the padding is trailing, and the only 0 byte
        offsets = np.zeros(len(values) + 1, dtype=np.int64)
        np.cumsum(np.count_nonzero(real, axis=1), out=offsets[1:])
        data = table[real]
    text = pa.Array.from_buffers(pa.large_string(), len(values), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return pd.array(text, dtype="str")


def _id_array(ids: object) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """Sorted distinct ids as an array that ``ids[codes]`` indexes: pandas' text arrays stay
    as they are (making one Python string per id costs more than the summary)."""
    return ids if isinstance(ids, pd.api.extensions.ExtensionArray) else np.asarray(ids)


def _arrow_orders_like_python(uniques: pd.Index) -> bool:
    """True for ids that pyarrow sorts in the order ``sorted`` / numpy would: text, numbers, dates."""
    dtype = uniques.dtype
    if isinstance(dtype, pd.StringDtype):
        return True
    if isinstance(dtype, np.dtype):
        if dtype.kind in "iufMmb":
            return True
        return dtype == object and pd.api.types.infer_dtype(uniques, skipna=False) == "string"
    return False


def _coded_rows(
    transactions: pd.DataFrame, until: np.datetime64 | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The rows up to ``until`` as customer codes (in sorted-id order), the sorted distinct ids,
    purchase days (``datetime64[D]``) and amounts; rows without an id or a date are errors."""
    days = transactions[TIMESTAMP].to_numpy(dtype="datetime64[D]")
    keep = days <= until if until is not None else ~np.isnat(days)
    every_row = bool(keep.all())  # then the columns are used as they are, not copied
    if not every_row and until is None:
        raise DataError(
            f"{int((~keep).sum())} transaction(s) have no timestamp (first at position(s) "
            f"{_positions(~keep)} of the table); load the file with helpers.data.loading.read_transactions, "
            "which reports them with their rows"
        )
    ids_series = transactions[CUSTOMER_ID] if every_row else transactions[CUSTOMER_ID][keep]
    codes, ids = sorted_id_codes(ids_series)
    if len(codes) and codes.min() < 0:
        missing = np.zeros(len(days), dtype=bool)
        missing[np.flatnonzero(keep)[codes < 0]] = True
        raise DataError(
            f"{int(missing.sum())} transaction(s) have no customer id (first at position(s) "
            f"{_positions(missing)} of the table); load the file with helpers.data.loading.read_transactions, "
            "which reports them with their rows"
        )
    days = days if every_row else days[keep]
    if AMOUNT in transactions:
        amounts = transactions[AMOUNT].to_numpy(dtype="float64")
        amounts = amounts if every_row else amounts[keep]
    else:
        amounts = np.zeros(len(days))
    return codes, _id_array(ids), days, amounts


def with_id_codes(transactions: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The transactions with ``customer_id`` replaced by integer codes in sorted-id order,
    and the sorted distinct ids (``ids[code]`` is the original id).

    Factorise once, then run every summary on the codes: they group and sort as the ids do,
    so summaries of the coded frame equal those of the original once their index is mapped
    back with :func:`restore_ids`, without hashing the id text again for each step."""
    _require_columns(transactions)
    codes, ids = sorted_id_codes(transactions[CUSTOMER_ID])
    if len(codes) and codes.min() < 0:
        return transactions, np.array([], dtype=object)  # missing ids: the summaries report them
    return transactions.assign(**{CUSTOMER_ID: codes}), _id_array(ids)


def restore_ids(frame: pd.DataFrame, ids: np.ndarray) -> pd.DataFrame:
    """``frame`` (indexed by the codes of :func:`with_id_codes`) indexed by the original ids."""
    if len(ids) == 0:
        return frame
    return frame.set_axis(pd.Index(ids[frame.index.to_numpy()], name=frame.index.name), axis=0)


def _positions(mask: np.ndarray, limit: int = 5) -> str:
    """0-based positions of the first rows in ``mask``."""
    return ", ".join(str(i) for i in np.flatnonzero(mask)[:limit])


def _require_columns(transactions: pd.DataFrame) -> None:
    missing = [c for c in (CUSTOMER_ID, TIMESTAMP) if c not in transactions]
    if missing:
        raise DataError(
            f"transactions lack the column(s) {missing}; load them with "
            "helpers.data.loading.read_transactions, which maps the file's headers"
        )


def customer_summary(
    transactions: pd.DataFrame,
    observation_end: object | None = None,
    time_unit: str = "D",
) -> pd.DataFrame:
    """Per-customer ``frequency, recency, T, monetary_value`` in lifetimes' conventions.

    Parameters
    ----------
    transactions:
        Canonical transactions (``customer_id``, ``timestamp``, optional ``amount``).
    observation_end:
        Last day of the observation period (inclusive); purchases after it are ignored.
        Defaults to the last purchase day in the data.
    time_unit:
        "D", "W" (days / 7) or "M" (days / 30).

    Returns
    -------
    DataFrame indexed by ``customer_id`` (sorted), float columns.
    """
    _require_columns(transactions)
    unit_days = DAYS_PER_UNIT[normalise_time_unit(time_unit)]
    until = None if observation_end is None else _to_day(observation_end, "observation_end")
    codes, ids, days, amounts = _coded_rows(transactions, until)
    if until is None:
        if len(days) == 0:
            raise DataError("there are no transactions to summarise")
        until = days.max()
    columns, customers = _joined(_by_block(_summarise_rows, codes, len(ids), (days, amounts),
                                           until=until, unit_days=unit_days))
    return pd.DataFrame(columns, index=pd.Index(ids[customers], name=CUSTOMER_ID))


#: Customer codes per block of the cache-blocked path (rounded up to a power of two): a block's
#: rows (about seven per customer) and per-customer tables stay in the CPU cache.
_BLOCK_CUSTOMERS = 1 << 17
#: From this many customer codes on, :func:`customer_summary` runs block by block
#: (:func:`_by_block`): past the cache, look-ups into per-customer tables, 64-bit keys, one
#: n log n sort of all the keys and page faults on every large temporary cost more than
#: partitioning the rows once (best of three at 10.5M customers, 71M rows: 43 instead of 59 ns
#: per row, the partition 16 of them; at 1.5M customers the partition costs more than it saves:
#: 38-40 against 30-32 ns). :func:`calibration_holdout_summary` blocks its
#: calibration rows only (best of four at 10.5M customers: 0.74 instead of 0.88 us per customer,
#: peak 2.8 instead of 3.5 GB), leaving the holdout's rows out in the partition instead of copying
#: the calibration rows first (first run of a fresh process at 71M rows: 8.2-8.4 s instead of
#: 9.1 s, 0.1 GB less; best of three the same); blocking every row, the holdout's too, measured
#: slower (10.0 s against 9.1 s), and blocking :func:`first_and_repeat_days` by customers gained
#: nothing.
_BLOCKED_FROM = 1 << 21


def _by_block(
    step, codes: np.ndarray, n_ids: int, columns: tuple, keep: np.ndarray | None = None, **options
) -> list[tuple[int, object]]:
    """``step(codes, n_ids, *columns, **options)`` on the rows of each block of
    :data:`_BLOCK_CUSTOMERS` consecutive customer codes (codes counted from the block's first),
    as (first code, result) pairs; one block of every row below :data:`_BLOCKED_FROM` codes.
    ``keep``: only the rows where it is True (on the blocked path the partition leaves the others
    out instead of copying the kept rows first; below :data:`_BLOCKED_FROM` they are copied).

    The rows are split by a stable partition, so within a block they keep their order and
    per-customer sums add up in the same order as on the whole table: the results are
    bit-identical."""
    if n_ids < _BLOCKED_FROM:
        if keep is not None:
            codes, columns = codes[keep], tuple(column[keep] for column in columns)
        return [(0, step(codes, n_ids, *columns, **options))]
    # block numbers below 2**15, so that the rows left out fit one more 16-bit number
    shift = max(int(_BLOCK_CUSTOMERS - 1).bit_length(), int(n_ids - 1).bit_length() - 15)
    n_blocks = ((n_ids - 1) >> shift) + 1
    block = np.right_shift(codes, shift, out=np.empty(len(codes), dtype=np.uint16), casting="unsafe")
    if keep is not None:
        block[~keep] = n_blocks
    ends = np.cumsum(np.bincount(block, minlength=n_blocks + 1))
    if not bool(np.all(block[1:] >= block[:-1])):  # rows in customer order are blocks already
        codes, *columns = _partitioned(block, np.append(0, ends[:-1]), (codes, *columns))
    del block
    results = []
    ends = ends[:n_blocks]  # the rows left out come last
    for number, (begin, end) in enumerate(zip(np.append(0, ends[:-1]).tolist(), ends.tolist(), strict=True)):
        first = number << shift
        local = codes[begin:end] - first
        results.append((first, step(local, min(1 << shift, n_ids - first), *(c[begin:end] for c in columns), **options)))
    return results


def _partitioned(block: np.ndarray, starts: np.ndarray, columns: tuple[np.ndarray, ...]) -> list[np.ndarray]:
    """``columns`` with their rows grouped by ``block`` (block ``b`` from row ``starts[b]`` on), in
    row order within each block: a counting sort done :data:`_ROW_BLOCK` rows at a time.

    Each part's rows are ranked by block in the CPU cache (numpy's stable sort of 16-bit numbers
    is a counting sort) and written, in row order, to their places: one run per block, following
    the run the part before left off. Memory is read and written in streams, and no array of
    every row but the moved columns is made (the order and places of all rows, 64-bit, made
    first: 14.8 instead of 12.3 ns per row of three columns at 71M rows)."""
    moved = [np.empty_like(column) for column in columns]
    next_free = starts.astype(np.int64)  # where each block's next row goes
    for begin in range(0, len(block), _ROW_BLOCK):
        part = block[begin: begin + _ROW_BLOCK]
        order = np.argsort(part, kind="stable")
        ordered = part[order]
        run_start = np.flatnonzero(_starts_of_runs(ordered))
        # the i-th row of the part's ordered rows is the (i - its run's start)-th of its block
        run_length = np.diff(np.append(run_start, len(part)))
        place = np.arange(len(part)) - np.repeat(run_start, run_length)
        place += next_free[ordered]
        next_free[ordered[run_start]] += run_length
        destination = np.empty_like(place)
        destination[order] = place  # in the part's row order: each column is read as it lies
        rows = slice(begin, begin + len(part))
        for column, into in zip(columns, moved, strict=True):
            into[destination] = column[rows]
    return moved


def _joined(parts: list[tuple[int, tuple[dict[str, np.ndarray], np.ndarray]]]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Per-customer columns and customer codes of :func:`_by_block` blocks, as one table."""
    if len(parts) == 1:
        return parts[0][1]
    names = parts[0][1][0]
    return ({name: np.concatenate([columns[name] for _, (columns, _) in parts]) for name in names},
            np.concatenate([customers + first for first, (_, customers) in parts]))


@dataclass(frozen=True)
class _Pairs:
    """The distinct (customer, day) pairs of some rows, in (customer, day) order."""

    key: np.ndarray | None  # per row (when asked for): customer code * span + day - first day
    pair_key: np.ndarray  # per pair: its key
    code: np.ndarray  # per pair: customer code
    day: np.ndarray  # per pair: day number (days since 1970-01-01)
    start: np.ndarray  # index of each customer's first pair

    @property
    def customers(self) -> np.ndarray:
        return self.code[self.start]

    @property
    def days_per_customer(self) -> np.ndarray:
        return np.diff(np.append(self.start, len(self.code)))


def _pairs(codes: np.ndarray, day_number: np.ndarray, n_ids: int, row_keys: bool = False) -> _Pairs:
    """Distinct (customer, day) pairs of non-empty rows, with the rows' keys in row order if
    ``row_keys``. Only the keys are sorted, on their own (32-bit when they fit): a plain sort,
    several times faster than putting the rows in order, and skipped when the rows are in that
    order already. Unless the rows' keys are wanted they are sorted in place, and the pairs are
    divided straight into arrays of their final type: past the cache every new array costs page
    faults."""
    key, first_day, span = _row_pair_keys(codes, day_number, n_ids)
    ordered = key
    if not bool(np.all(key[1:] >= key[:-1])):
        if row_keys:
            ordered = np.sort(key)
        else:
            key.sort()
    pair_key = ordered[_starts_of_runs(ordered)]
    code, day = _pair_arrays(ordered if ordered is not key or not row_keys else None, len(pair_key), pair_key.dtype)
    np.divmod(pair_key, span, out=(code, day))
    day += day.dtype.type(first_day)
    return _Pairs(key=key if row_keys else None, pair_key=pair_key, code=code, day=day,
                  start=np.flatnonzero(_starts_of_runs(code)))


def _pair_arrays(spare: np.ndarray | None, n_pairs: int, key_dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Arrays for the customer codes and day numbers of ``n_pairs`` pairs, in the sorted keys'
    buffer (``spare``, no longer needed once the pairs are taken from it) as far as it holds
    them, else new. Of 32-bit keys, codes and days are 32-bit too (they fit: a key is at least
    either, and days are counted from the first day), so a pair takes 8 bytes instead of 16."""
    code_dtype, day_dtype = (np.uint32, np.int32) if key_dtype == np.uint32 else (np.int64, np.int64)
    room = len(spare) if spare is not None and spare.dtype == code_dtype else 0
    code = spare[:n_pairs] if room >= n_pairs else np.empty(n_pairs, dtype=code_dtype)
    day_fits = room >= 2 * n_pairs and day_dtype == code_dtype
    day = spare[n_pairs: 2 * n_pairs] if day_fits else np.empty(n_pairs, dtype=day_dtype)
    return code, day


def _row_pair_keys(codes: np.ndarray, day_number: np.ndarray, n_ids: int) -> tuple[np.ndarray, int, int]:
    """Each row's (customer, day) key (:func:`_pair_keys`), 32-bit when every key fits, with the
    first day and the span of days the keys count in."""
    first_day = int(day_number.min())
    span = int(day_number.max()) - first_day + 1
    dtype = np.uint32 if span * n_ids < _KEY32_LIMIT else np.int64
    return _pair_keys(codes, day_number, span, first_day, dtype), first_day, span


def _pair_keys(codes: np.ndarray, day_number: np.ndarray, span: int, first_day: int, dtype: type) -> np.ndarray:
    """``codes * span + day_number - first_day`` as ``dtype``, in three passes that write the key
    itself (no 64-bit temporaries): with 32-bit keys the products and sums wrap around modulo
    2**32 on the way, and the result, which fits, is exact."""
    key = np.multiply(codes, span, dtype=dtype, casting="unsafe")
    np.add(key, day_number, out=key, casting="unsafe")
    np.subtract(key, np.int64(first_day), out=key, casting="unsafe")
    return key


def _starts_of_runs(values: np.ndarray) -> np.ndarray:
    """True where a value differs from the one before it (and at the first)."""
    new = np.empty(len(values), dtype=bool)
    new[:1] = True
    np.not_equal(values[1:], values[:-1], out=new[1:])
    return new


def _summarise_rows(
    codes: np.ndarray, n_ids: int, days: np.ndarray, amounts: np.ndarray, until: np.datetime64, unit_days: float
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """``frequency, recency, T, monetary_value`` of the customers with rows, and their codes
    (ascending), straight from the rows: the distinct days come from :func:`_pairs`, the spend
    after the first day is added up per customer in row order."""
    if len(codes) == 0:
        empty = np.array([], dtype="float64")
        return {name: empty for name in SUMMARY_COLUMNS}, np.array([], dtype=np.int64)
    pairs = _pairs(codes, days.view(np.int64), n_ids, row_keys=True)
    customers = pairs.customers
    first = pairs.day[pairs.start]
    last = pairs.day[np.append(pairs.start[1:], len(pairs.day)) - 1]
    first_key = np.zeros(n_ids, dtype=pairs.key.dtype)
    first_key[customers] = pairs.pair_key[pairs.start]
    repeat_total = np.bincount(codes, weights=_repeat_amounts(codes, pairs.key, first_key, amounts),
                               minlength=n_ids)[customers]
    frequency = (pairs.days_per_customer - 1).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, repeat_total / np.maximum(frequency, 1), 0.0)
    columns = {
        "frequency": frequency,
        "recency": (last - first).astype("float64") / unit_days,
        "T": (int(until.astype(np.int64)) - first).astype("float64") / unit_days,
        "monetary_value": monetary,
    }
    return columns, customers


def _repeat_amounts(codes: np.ndarray, key: np.ndarray, first_key: np.ndarray, amounts: np.ndarray) -> np.ndarray:
    """Each row's amount, or 0 on its customer's first purchase day (key ``first_key[code]``);
    block by block, so that only the result is a new array of every row."""
    repeat = np.empty(len(amounts))
    for begin in range(0, len(amounts), _ROW_BLOCK):
        rows = slice(begin, begin + _ROW_BLOCK)
        repeat[rows] = np.where(key[rows] != first_key[codes[rows]], amounts[rows], 0.0)
    return repeat


def calibration_holdout_summary(
    transactions: pd.DataFrame,
    calibration_end: object,
    observation_end: object | None = None,
    time_unit: str = "D",
) -> pd.DataFrame:
    """Calibration statistics plus what each customer did in the holdout period.

    Customers are those with a first purchase on or before ``calibration_end``. Columns:
    ``frequency_cal, recency_cal, T_cal, monetary_value_cal`` (as :func:`customer_summary`
    at ``calibration_end``), ``frequency_holdout`` (purchase days in the holdout),
    ``monetary_value_holdout`` (mean spend per holdout purchase day, 0 if none) and
    ``duration_holdout`` (holdout length in time units), the same layout as lifetimes'
    ``calibration_and_holdout_data``.
    """
    _require_columns(transactions)
    unit_days = DAYS_PER_UNIT[normalise_time_unit(time_unit)]
    cal_end = _to_day(calibration_end, "calibration_end")
    codes, ids, days, amounts = _coded_rows(transactions, None)
    obs_end = days.max() if observation_end is None else _to_day(observation_end, "observation_end")
    if obs_end <= cal_end:
        raise ConfigError(
            f"calibration_end ({cal_end}) must be before observation_end ({obs_end}): "
            "the holdout period would be empty."
        )
    in_cal = days <= cal_end
    if not in_cal.any():
        raise DataError(f"no purchases on or before calibration_end {cal_end}")
    columns, customers = _joined(_by_block(_summarise_rows, codes, len(ids), (days, amounts), keep=in_cal,
                                           until=cal_end, unit_days=unit_days))
    cal = pd.DataFrame({f"{name}_cal": values for name, values in columns.items()},
                       index=pd.Index(ids[customers], name=CUSTOMER_ID))

    # What the calibration customers did in the holdout: distinct days and spend per code.
    in_holdout = (days > cal_end) & (days <= obs_end)
    hold_codes = codes[in_holdout]
    counts = np.zeros(len(ids), dtype=np.int64)
    if len(hold_codes):
        hold_pairs = _pairs(hold_codes, days[in_holdout].view(np.int64), len(ids))
        counts[hold_pairs.customers] = hold_pairs.days_per_customer
    cal["frequency_holdout"] = counts[customers].astype("float64")
    spend = np.bincount(hold_codes, weights=amounts[in_holdout], minlength=len(ids))[customers]
    with np.errstate(invalid="ignore", divide="ignore"):
        cal["monetary_value_holdout"] = np.where(
            cal["frequency_holdout"] > 0, spend / np.maximum(cal["frequency_holdout"], 1), 0.0
        )
    cal["duration_holdout"] = (obs_end - cal_end) / np.timedelta64(1, "D") / unit_days
    return cal


def first_and_repeat_days(
    transactions: pd.DataFrame, cohort_end: object, until: object
) -> tuple[np.ndarray, np.ndarray]:
    """For the customers whose first purchase is on or before ``cohort_end``: their first
    purchase days (one per customer) and their later purchase days up to ``until``
    (one per customer and day, sorted), as ``datetime64[D]`` arrays. Linear in the data.

    Only the rows' (customer, day) keys are a new array of every row; the distinct pairs are read
    from the sorted keys block by block and their days counted, so no array of every pair is made
    (past the CPU cache each one streams through memory, and new memory costs page faults)."""
    cohort_end_day = int(_to_day(cohort_end, "calibration_end").astype(np.int64))
    codes, ids, days, _ = _coded_rows(transactions, _to_day(until, "observation_end"))
    if len(codes) == 0:
        empty = np.array([], dtype="datetime64[D]")
        return empty, empty
    key, first_day, span = _row_pair_keys(codes, days.view(np.int64), len(ids))
    firsts, repeat_count = [], np.zeros(span, dtype=np.int64)
    carried = (-1, 0)  # the last customer of the pairs before, and their first day
    for code, day in _pair_blocks(key, first_day, span):
        new, first_of_pair = _first_days_of_pairs(code, day, carried)
        carried = (code[-1], first_of_pair[-1])
        first = day[new]
        firsts.append(first[first <= cohort_end_day])
        repeat = day[(first_of_pair <= cohort_end_day) & (day > first_of_pair)]
        repeat_count += np.bincount(repeat - first_day, minlength=span)
    repeat_days = np.repeat(np.arange(first_day, first_day + span), repeat_count)
    return np.concatenate(firsts).view("datetime64[D]"), repeat_days.view("datetime64[D]")


def _first_days_of_pairs(code: np.ndarray, day: np.ndarray, carried: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Which pairs (in (customer, day) order) are their customer's first, and each pair's customer's
    first day; ``carried`` is the customer of the pairs just before and their first day, since a
    customer's pairs may span blocks."""
    new = _starts_of_runs(code)
    new[0] = code[0] != carried[0]
    start = np.maximum.accumulate(np.where(new, np.arange(len(code)), -1))
    return new, np.where(start >= 0, day[start], carried[1])


def _pair_blocks(key: np.ndarray, first_day: int, span: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The distinct (customer code, day number) pairs of the rows' keys (:func:`_row_pair_keys`)
    in (customer, day) order, as (code, day) int64 arrays of the pairs of :data:`_ROW_BLOCK`
    sorted rows at a time (never empty). The keys are sorted in place."""
    if not bool(np.all(key[1:] >= key[:-1])):
        key.sort()
    for begin in range(0, len(key), _ROW_BLOCK):
        block = key[begin: begin + _ROW_BLOCK]
        new = _starts_of_runs(block)
        new[0] = begin == 0 or block[0] != key[begin - 1]
        pair_key = block[new].astype(np.int64)
        if len(pair_key):
            code, day = np.divmod(pair_key, span)
            yield code, day + first_day


def collapse_rfm(summary: pd.DataFrame, columns: list[str] | None = None) -> pd.DataFrame:
    """Unique rows of ``columns`` with a ``weight`` count: the sufficient statistics.

    BG/NBD and Pareto/NBD likelihoods depend on a customer only through
    (frequency, recency, T), so fitting on unique rows with weights gives the same
    estimates as fitting on every customer, far faster on large bases.
    """
    cols = columns or ["frequency", "recency", "T"]
    counts = summary.groupby(cols, sort=True).size()
    return counts.rename("weight").reset_index()
