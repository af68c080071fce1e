"""Property-based tests of the transaction loader (issue 12): whatever bytes, CSV text or
encoding it is given, it returns a frame that satisfies its schema or raises HelperError;
never another exception, never a hang. Derandomised (the same examples on every run) and
bounded: ``max_examples`` and a per-example deadline keep the module well under 30 s."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers.data import columns as C
from helpers.data.loading import LoadResult, read_transactions
from helpers.errors import HelperError

SETTINGS = settings(
    max_examples=40,
    deadline=dt.timedelta(seconds=5),  # per example; generous for 2 busy cores, catches hangs
    derandomize=True,  # deterministic: the same examples on every run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)

ENCODINGS = ("utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1", "cp1252")
DELIMITERS = (",", ";", "\t", "|")
HEADERS = {
    C.CUSTOMER_ID: ("customer_id", "会员编号", "客户ID"),
    C.TIMESTAMP: ("timestamp", "下单时间", "date"),
    C.AMOUNT: ("amount", "实付金额", "金额"),
}
VALID_CELLS = {
    C.CUSTOMER_ID: st.sampled_from(["A1", "00042", "VIP-7", "张三", "=HYPERLINK(1)", "<img src=x>"]),
    C.TIMESTAMP: st.sampled_from(["2024-01-05", "20240105", "2024/1/5", "2024年1月5日", "2024-01-05T10:00:00+08:00",
                                   "2024-01-05T02:00:00Z", "05/01/2024"]),
    C.AMOUNT: st.sampled_from(["12.50", "1,280.00", "¥88", "(3.00)", "0", "-5", "1e308", "10,50", "12.00-"]),
}
JUNK = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


def check_schema(result: LoadResult) -> None:
    """What every successful load promises."""
    frame = result.transactions
    assert set(C.REQUIRED) <= set(frame.columns) <= set(C.CANONICAL)
    assert len(frame) > 0 and isinstance(frame.index, pd.RangeIndex)
    ids = frame[C.CUSTOMER_ID]
    assert ids.notna().all() and ids.map(lambda v: isinstance(v, str) and v.strip() == v and v != "").all()
    assert pd.api.types.is_datetime64_any_dtype(frame[C.TIMESTAMP]) and frame[C.TIMESTAMP].notna().all()
    assert frame[C.TIMESTAMP].dt.tz is None
    amounts = frame[C.AMOUNT].to_numpy()
    assert amounts.dtype == np.float64 and np.isfinite(amounts).all()
    order = pd.DataFrame({"c": pd.factorize(ids, sort=True)[0], "t": frame[C.TIMESTAMP]})
    assert order.equals(order.sort_values(["c", "t"], kind="stable"))  # sorted by customer, then time
    report = result.report
    assert report.rows_kept == len(frame) and report.rows_read >= report.rows_kept
    assert report.customers == ids.nunique()


def load(data: bytes, suffix: str = ".csv", **options) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"orders{suffix}"
        path.write_bytes(data)
        try:
            result = read_transactions(path, **options)
        except HelperError as err:
            assert str(err).strip() and "\n" not in str(err).strip()  # one readable line
            return
        check_schema(result)


@SETTINGS
@given(st.binary(max_size=2000), st.sampled_from([".csv", ".txt", ".tsv", ".xlsx", ".parquet"]))
def test_random_bytes_load_or_raise_a_helper_error(data, suffix):
    load(data, suffix)


@st.composite
def csv_files(draw):
    # mostly the three needed columns (in any order) plus extra ones; sometimes one is missing
    roles = draw(st.permutations(list(HEADERS) + draw(st.lists(st.just("junk"), max_size=2))))
    if draw(st.integers(0, 9)) == 0:
        roles = roles[1:]
    headers = [draw(st.sampled_from(HEADERS[r])) if r in HEADERS else "x" + draw(JUNK) for r in roles]
    rows = draw(st.integers(min_value=0, max_value=12))
    date_style = draw(VALID_CELLS[C.TIMESTAMP])  # one date style per file, as exports have
    cells_of = {**VALID_CELLS, C.TIMESTAMP: st.just(date_style)}
    body = []
    for _ in range(rows):
        cells = []
        for role in roles:
            valid = role in VALID_CELLS and draw(st.integers(0, 19)) > 0  # one cell in 20 is junk
            cells.append(draw(cells_of[role] if valid else JUNK))
        body.append(cells)
    sep = draw(st.sampled_from(DELIMITERS))
    quote = draw(st.booleans())
    def line(cells):
        return sep.join(f'"{c.replace(chr(34), chr(34) * 2)}"' if quote else c for c in cells)
    text = "\n".join([line(headers)] + [line(r) for r in body]) + draw(st.sampled_from(["", "\n", "\r\n"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    return text.encode(encoding, errors="replace"), encoding


@SETTINGS
@given(csv_files(), st.sampled_from([None, "given"]), st.sampled_from([".", ","]),
       st.sampled_from(["drop", "cap", "error"]), st.sampled_from(["net", "drop", "error"]))
def test_random_csvs_load_or_raise_a_helper_error(file, encoding_mode, decimal, outliers, returns):
    data, encoding = file
    load(data, encoding=encoding if encoding_mode else None, decimal=decimal, amount_outliers=outliers,
         returns_policy=returns, observation_end="2030-12-31", future_dates="drop")


@SETTINGS
@given(st.lists(st.tuples(VALID_CELLS[C.CUSTOMER_ID], VALID_CELLS[C.TIMESTAMP], VALID_CELLS[C.AMOUNT]),
                min_size=1, max_size=30),
       st.sampled_from(ENCODINGS))
def test_valid_looking_csvs_load_or_raise_a_helper_error(rows, encoding):
    text = "customer_id,timestamp,amount\n" + "\n".join(",".join(f'"{c}"' for c in r) for r in rows) + "\n"
    load(text.encode(encoding, errors="replace"))
