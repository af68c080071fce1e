"""Keeping personal data out of pages.

Two rules:

1. Loaders keep only the mapped transaction columns (see :mod:`helpers.data.loading`), so
   names, phone numbers and addresses never enter the pipeline. For frames that come
   from elsewhere, :func:`find_personal_data_columns` and :func:`drop_personal_data`
   screen headers and values.
2. Customer ids shown on pages are pseudonymised with a keyed hash
   (:func:`display_ids`) unless the caller opts out with ``allow_raw_ids=True``.
   Without a key the hash is reproducible by anyone who has this code, so
   production runs set ``HELPERS_ID_KEY``.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterator
from itertools import pairwise

import numpy as np
import pandas as pd
import pyarrow as pa

from helpers.data.columns import normalise_header
from helpers.errors import ConfigError

KEY_ENV_VAR = "HELPERS_ID_KEY"
#: Used when neither a key nor HELPERS_ID_KEY is given. Public by construction: it
#: only stops casual reading of ids, not someone who holds the raw ids and this code.
DEFAULT_KEY = "retail-playbooks-default-id-key"
DEFAULT_KEY_WARNING = (
    f"Customer ids are hashed with the built-in default key; set {KEY_ENV_VAR} for production."
)
ID_PREFIX = "C-"
ID_HEX_CHARS = 12

#: Header patterns (matched against :func:`helpers.data.columns.normalise_header`) for
#: columns that hold personal data, by kind.
PII_PATTERNS: dict[str, re.Pattern[str]] = {
    "name": re.compile(
        r"^(?:(?:full|first|last|given|family|sur|nick|customer|member|user|buyer|client|"
        r"contact|recipient|receiver|consignee|card_?holder)_?)?name$"
        r"|姓名|名字|联系人|收货人|收件人|昵称|客户名称|会员名称|买家名称"
    ),
    "phone": re.compile(
        r"phone|mobile|(?:^|_)(?:tel|telephone|cell|fax)(?:_|$)|contact_?number"
        r"|^(?:wechat|whatsapp)$|(?:^|_)(?:wechat|whatsapp)_?(?:id|no|number|account)$"
        r"|手机|电话|联系方式|微信号|^微信$|座机"
    ),
    "email": re.compile(r"e_?mail|邮箱|电子邮件|电邮"),
    "address": re.compile(r"address|street|(?:^|_)(?:zip|postcode|postal_?code)(?:_|$)|地址|住址|邮编"),
    "id_card": re.compile(
        r"id_?card|identity|passport|(?:^|_)ssn(?:_|$)|national_?id|身份证|证件|护照"
    ),
    "birth_date": re.compile(r"birth|(?:^|_)dob(?:_|$)|生日|出生"),
}

#: Value patterns for columns whose header gives nothing away.
PII_VALUE_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}"),
    "cn_mobile": re.compile(r"(?:\+?86[\s-]?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}"),
    # Separators are required: bare digit runs are far more often order ids or dates.
    "phone": re.compile(r"(?:\+\d{1,3}[\s-]?)?\(?\d{2,4}\)?[\s-]\d{3,4}[\s-]?\d{3,4}"),
}
#: Share of sampled non-empty values that must match for a column to be flagged.
VALUE_SHARE = 0.5
_SAMPLE_SIZE = 1000


def resolve_key(key: str | None) -> tuple[str, bool]:
    """Return (key, is_default): the given key, else $HELPERS_ID_KEY, else the built-in key.

    An empty string counts as not given, so a notebook parameter defaulting to ""
    falls back to the environment.
    """
    if key:
        return key, False
    env = os.environ.get(KEY_ENV_VAR, "")
    if env:
        return env, False
    return DEFAULT_KEY, True


def pseudonymise(ids: pd.Series, key: str | bytes, *, threads: int | None = None) -> pd.Series:
    """Replace each id by ``C-`` + 12 hex chars of HMAC-SHA256(key, id).

    Deterministic for a given key; missing ids stay missing; index and name are kept.
    Ids are hashed as text, so 1 and "1" give the same pseudonym. ``threads``: DuckDB's
    threads for many ids (default: one per core).
    """
    if not key:
        raise ConfigError(f"the id key is empty; pass a key or set {KEY_ENV_VAR}.")
    secret = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    text = _id_text(ids)
    # Every row is hashed, duplicates too: callers pass one id per customer, where finding the
    # distinct ids first (a hash table over every id) would cost more than it saves.
    pseudonyms = _duckdb_pseudonyms(text, secret, threads) if len(text) >= DUCKDB_MIN_IDS else None
    if pseudonyms is None:
        pseudonyms = _python_pseudonyms(text, secret)
    return pd.Series(pd.array(pseudonyms, dtype=str), index=ids.index, name=ids.name)


#: From this many ids on they are hashed by DuckDB, on every core; below it, opening a
#: DuckDB connection (tens of milliseconds) costs more than hashing them one by one.
DUCKDB_MIN_IDS = 50_000


def _id_text(ids: pd.Series) -> pa.Array | pa.ChunkedArray:
    """The ids as the text :meth:`pandas.Series.astype` ``(str)`` gives, as pyarrow strings,
    null where missing. Text and integer ids are converted by pyarrow (no Python string per
    id; pyarrow spells integers as Python does); other ids take pandas' own conversion."""
    dtype = ids.dtype
    if isinstance(dtype, pd.StringDtype):
        return pa.array(ids.array)
    if pd.api.types.is_integer_dtype(dtype):
        return pa.array(ids.array).cast(pa.string())
    return pa.array(ids.astype(str).where(ids.notna()), type=pa.string(), from_pandas=True)


def _hmac_pads(secret: bytes) -> tuple[bytes, bytes]:
    """The key XOR ipad and XOR opad blocks of HMAC-SHA256 (RFC 2104)."""
    block = hashlib.sha256().block_size
    if len(secret) > block:
        secret = hashlib.sha256(secret).digest()
    secret = secret.ljust(block, b"\0")
    return bytes(b ^ 0x36 for b in secret), bytes(b ^ 0x5C for b in secret)


def _duckdb_pseudonyms(text, secret: bytes, threads: int | None = None) -> pa.ChunkedArray | None:
    """:func:`pseudonymise`'s text, HMAC-SHA256 spelled out in DuckDB's SQL (its ``sha256``
    takes BLOBs since 1.1), on every core, the ids read from Arrow without a copy; None if
    DuckDB refuses (the caller then hashes in Python)."""
    import duckdb

    inner, outer = _hmac_pads(secret)
    binary = pa.large_binary() if pa.types.is_large_string(text.type) else pa.binary()
    con = duckdb.connect(config={"threads": threads} if threads else {})
    try:
        con.register("ids", pa.table({"id": text.cast(binary)}))
        query = (
            f"SELECT '{ID_PREFIX}' || left(sha256($outer || unhex(sha256($inner || id))), {ID_HEX_CHARS}) AS p FROM ids"
        )
        result = con.sql(query, params={"inner": inner, "outer": outer})
        # to_arrow_table is the name from DuckDB 2.0 on, fetch_arrow_table before it.
        fetch = getattr(result, "to_arrow_table", None) or result.fetch_arrow_table
        return fetch().column("p")
    except duckdb.Error:
        return None
    finally:
        con.close()


def _python_pseudonyms(text, secret: bytes) -> pa.Array:
    """:func:`pseudonymise`'s text, hashed with :mod:`hashlib` one id at a time."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    present = text.drop_null()
    digests = _hmac_sha256_digests(secret, _utf8_values(present), (ID_HEX_CHARS + 1) // 2)
    pseudonyms = _prefixed_hex(digests, ID_PREFIX, ID_HEX_CHARS)
    valid = np.asarray(text.is_valid(), dtype=bool)
    return pseudonyms.take(pa.array(np.cumsum(valid) - 1, mask=~valid))  # missing ids pick null


def _utf8_values(text: pa.Array) -> Iterator[memoryview]:
    """The UTF-8 bytes of every value of a pyarrow string array without nulls, as views into
    its buffer (no Python object per value)."""
    large = pa.types.is_large_string(text.type)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64 if large else np.int32)
    offsets = offsets[text.offset: text.offset + len(text) + 1].tolist()
    data = memoryview(text.buffers()[2]) if text.buffers()[2] is not None else memoryview(b"")
    return (data[a:b] for a, b in pairwise(offsets))


def _hmac_sha256_digests(secret: bytes, values: Iterator[bytes | memoryview], size: int) -> np.ndarray:
    """The first ``size`` bytes of HMAC-SHA256(secret, value) for every value, as a
    (values, size) uint8 array: the same as :func:`hmac.new`, with the keyed inner and outer
    states built once and copied per value (RFC 2104), about three times faster on a
    million ids."""
    inner_pad, outer_pad = _hmac_pads(secret)
    inner_copy, outer_copy = hashlib.sha256(inner_pad).copy, hashlib.sha256(outer_pad).copy
    out = bytearray()
    extend = out.extend
    for value in values:
        h = inner_copy()
        h.update(value)
        o = outer_copy()
        o.update(h.digest())
        extend(o.digest()[:size])
    return np.frombuffer(bytes(out), dtype=np.uint8).reshape(-1, size)


_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _prefixed_hex(digests: np.ndarray, prefix: str, chars: int):
    """``prefix`` + the first ``chars`` lower-case hex digits of every row of ``digests``,
    as a pyarrow string array built from one buffer."""
    n = len(digests)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    width = len(head) + chars
    text = np.empty((n, width), dtype=np.uint8)
    text[:, : len(head)] = head
    digits = np.empty((n, 2 * digests.shape[1]), dtype=np.uint8)
    digits[:, 0::2] = _HEX[digests >> 4]
    digits[:, 1::2] = _HEX[digests & 0x0F]
    text[:, len(head):] = digits[:, :chars]
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text.tobytes()))


def display_ids(
    ids: pd.Series, *, allow_raw_ids: bool = False, key: str | None = None, threads: int | None = None
) -> pd.Series:
    """Ids as they may appear on a page: pseudonymised unless ``allow_raw_ids`` (``threads``:
    see :func:`pseudonymise`)."""
    if allow_raw_ids:
        return ids.astype(str).where(ids.notna())
    return pseudonymise(ids, resolve_key(key)[0], threads=threads)


def _header_kind(header: object) -> str | None:
    norm = normalise_header(header)
    return next((kind for kind, pattern in PII_PATTERNS.items() if pattern.search(norm)), None)


def _values_kind(values: pd.Series) -> str | None:
    if not (
        pd.api.types.is_object_dtype(values)
        or pd.api.types.is_string_dtype(values)
        or pd.api.types.is_integer_dtype(values)
    ):
        return None
    present = values.dropna()
    if present.empty:
        return None
    sample = present.sample(n=min(_SAMPLE_SIZE, len(present)), random_state=0).astype(str).str.strip()
    for kind, pattern in PII_VALUE_PATTERNS.items():
        if sample.str.fullmatch(pattern).mean() >= VALUE_SHARE:
            return kind
    return None


def find_personal_data_columns(df: pd.DataFrame) -> list[str]:
    """Columns whose header or values look like names, phones, e-mails, addresses or ID cards."""
    # Positional access copes with duplicated headers.
    return [
        str(col)
        for i, col in enumerate(df.columns)
        if _header_kind(col) is not None or _values_kind(df.iloc[:, i]) is not None
    ]


def drop_personal_data(df: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Return ``df`` without personal-data columns, and the columns dropped."""
    found = find_personal_data_columns(df)
    keep = [str(c) not in found for c in df.columns]
    return df.loc[:, keep], found
