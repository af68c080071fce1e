"""pyarrow reading of mapped columns equals the general reader; odd files go to the general reader."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from helpers.data import arrow_csv
from helpers.data.loading import read_table, read_transactions
from helpers.errors import DataError
from helpers.models import engines

ROOT = Path(__file__).resolve().parents[1]
NEWRETAIL = ROOT / "data" / "newretail" / "transactions.csv"


def write(tmp_path: Path, text: str, name: str = "t.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def _general(path, columns):
    frame, _ = read_table(path)
    return frame[columns]


@pytest.mark.parametrize(
    "text",
    [
        "customer_id,date,amount,name\n007,2024-01-05,12.5,Ann\n007,2024-01-06,\"1,280.00\",\"Li, Wei\"\n",
        "\ufeffcustomer_id;date;amount\r\n a ;20240105; ¥12\r\nb;2024/1/5;(3.00)\r\n",
        "customer_id\tdate\tamount\tphone\na\t2024-01-05\t1\t13800000000\nb\t\t\t\n",
        'customer_id,date,amount\na,"2024-01-05",1\n"b ""x""",2024-01-06,"2\n"\n',
        "客户ID,日期,金额,手机号\n甲,2024年1月5日,35元,13812345678\n",
        "customer_id,date,amount\na,2024-01-05,1",  # no newline at the end
        '"customer_id","date","amount"\na,2024-01-05,1\n',  # quoted header
        "customer_id,date,amount\r\na,2024-01-05,1\r\n\r\nb,2024-01-06,2\r\n\r\n",  # blank lines: rows of ""
    ],
)
def test_same_cells_as_the_general_reader(tmp_path, text):
    path = write(tmp_path, text)
    fast = arrow_csv.read_mapped_columns(path)
    assert fast is not None
    pd.testing.assert_frame_equal(fast.frame, _general(path, list(fast.frame.columns)))
    assert fast.headers == list(read_table(path)[0].columns)


def test_same_cells_on_the_generated_data():
    fast = arrow_csv.read_mapped_columns(NEWRETAIL)
    assert fast is not None and fast.encoding == "utf-8-sig"
    assert list(fast.frame.columns) == ["customer_id", "order_id", "timestamp", "channel", "store",
                                        "category", "quantity", "amount", "discount"]
    pd.testing.assert_frame_equal(fast.frame, _general(NEWRETAIL, list(fast.frame.columns)))


@pytest.mark.parametrize(
    "text, encoding",
    [
        ("customer_id,date,amount\na,2024-01-05,1\n  \nb,2024-01-06,2\n", "utf-8"),  # white-space line
        ("customer_id,date,amount\na,2024-01-05,1,9\n", "utf-8"),  # too many fields
        ("customer_id,date,amount\na,2024-01-05\n", "utf-8"),  # too few fields
        ("customer_id date amount\na 2024-01-05 1\n", "utf-8"),  # whitespace-delimited
        ('"customer_id,x","date","amount"\na,2024-01-05,1\n', "utf-8"),  # delimiter in a quoted header
        ('"customer_id"x,"date","amount"\na,2024-01-05,1\n', "utf-8"),  # text after a closing quote
        ("会员编号,日期,金额\n甲,2024-01-05,1\n", "gb18030"),
        ("customer_id,date,amount\n", "utf-8"),  # header only
        ("vip,date,amount\na,2024-01-05,1\n", "utf-8"),  # missing column
        ("customer_id,customer_id,date,amount\na,a,2024-01-05,1\n", "utf-8"),  # duplicated header
    ],
)
def test_odd_files_go_to_the_general_reader(tmp_path, text, encoding):
    assert arrow_csv.read_mapped_columns(write(tmp_path, text, encoding=encoding)) is None


def _outcome(load):
    try:
        return load()
    except DataError as exc:
        return str(exc)


@pytest.mark.parametrize(
    "text, kwargs",
    [
        ("customer_id,date,amount,phone\nb,2024-01-06,2,1\na,2024-01-05,1,2\na,2024-01-05,-1,3\n", {}),
        ("customer_id,date,amount\na,2024-01-05,1\n\nb,2024-01-06,2\n", {}),
        ("customer_id,date,amount\na,2024-01-05,1\nb,soon,2\n", {}),
        ("customer_id,date,amount\na,2024-01-05,1\nb,2024-07-01,2\n", {"observation_end": "2024-06-30"}),
        ("customer_id,date,amount\na,2024-01-05,1,9\n", {}),
        ("customer_id,date,amount\n,2024-01-05,1\n", {}),
        ("vip,date,amount\na,2024-01-05,1\n", {}),
    ],
)
def test_load_transactions_equals_read_transactions(tmp_path, text, kwargs):
    path = write(tmp_path, text, "shop.csv")
    ours = _outcome(lambda: engines.load_transactions(path, **kwargs))
    theirs = _outcome(lambda: read_transactions(path, **kwargs))
    if isinstance(theirs, str):
        assert ours == theirs
    else:
        pd.testing.assert_frame_equal(ours.transactions, theirs.transactions)
        assert ours.report == theirs.report
        assert (ours.encoding, ours.columns, ours.source) == (theirs.encoding, theirs.columns, theirs.source)


def test_load_transactions_on_the_generated_data_and_samples(samples_dir):
    for path, kwargs in [(NEWRETAIL, {}), (samples_dir / "transactions_zh_gbk.csv", {"returns_policy": "drop"}),
                         (samples_dir / "transactions_utf8_bom.csv", {"returns_policy": "drop"})]:
        ours = engines.load_transactions(path, **kwargs)
        theirs = read_transactions(path, **kwargs)
        pd.testing.assert_frame_equal(ours.transactions, theirs.transactions)
        assert ours.report == theirs.report and ours.encoding == theirs.encoding


@pytest.mark.parametrize("kwargs", [{}, {"observation_end": "2024-06-30", "future_dates": "drop"},
                                    {"returns_policy": "drop"}])
def test_duckdb_load_gives_customer_days_and_the_same_counts(kwargs):
    ours = engines.load_transactions(NEWRETAIL, engine="duckdb", **kwargs)
    full = read_transactions(NEWRETAIL, **kwargs)
    days = engines.customer_days(NEWRETAIL, engine="pandas", **kwargs)
    pd.testing.assert_frame_equal(ours.transactions, days, check_dtype=False)
    assert ours.report.rows_read == full.report.rows_read
    assert ours.report.rows_kept == full.report.rows_kept
    assert ours.report.customers == full.report.customers
    assert sum(d.count for d in ours.report.dropped) == sum(d.count for d in full.report.dropped)
    assert ours.report.ignored_columns == full.report.ignored_columns
    assert ours.columns == full.columns


def test_columns_keeps_only_the_asked_optional_columns():
    full, _ = read_table(NEWRETAIL)
    ours = engines.load_transactions(NEWRETAIL, columns=("channel",))
    from helpers.data.loading import transactions_from_frame

    theirs = transactions_from_frame(full[["customer_id", "timestamp", "channel", "amount"]], source=str(NEWRETAIL))
    pd.testing.assert_frame_equal(ours.transactions, theirs.transactions)
    assert list(ours.transactions.columns) == ["customer_id", "timestamp", "amount", "channel"]
    assert ours.report.rows_read == theirs.report.rows_read
    assert ours.report.duplicate_rows == theirs.report.duplicate_rows
    assert set(ours.report.ignored_columns) == set(full.columns) - {"customer_id", "timestamp", "channel", "amount"}
    # A column map naming a left-out optional column is fine.
    mapped = engines.load_transactions(NEWRETAIL, {"store": "store", "customer_id": "customer_id"}, columns=())
    pd.testing.assert_frame_equal(mapped.transactions, ours.transactions.drop(columns="channel"))


SPLIT_TEXTS = [
    "customer_id,date,amount\n" + "".join(f"c{i % 7},2024-01-{1 + i % 28:02d} 10:00:00,{i}.5\n" for i in range(50)),
    "\ufeffcustomer_id;date;amount\r\n" + "".join(f"c{i};2024-02-{1 + i % 28:02d};{i}\r\n" for i in range(41)),
    "customer_id,date,amount\n" + "".join(f"c{i},2024-01-05,1\n" for i in range(30)) + "\n\nc,2024-01-06,2",
    "customer_id,date,amount\n" + "".join(f"c{i},2024-01-05,{i}\n" for i in range(30)) + "d,bad date,¥3\n",
]


@pytest.mark.parametrize("text", SPLIT_TEXTS)
@pytest.mark.parametrize("parse", [False, True])
def test_reading_in_two_byte_ranges_gives_the_cells_of_one(tmp_path, monkeypatch, text, parse):
    """Large files are read as two halves in two threads: the same frame, rows in file order
    (CRLF, a BOM, blank lines near the end, a value that is not plain in the second half)."""
    path = write(tmp_path, text)
    whole = arrow_csv.read_mapped_columns(path, parse=parse)
    monkeypatch.setattr(arrow_csv, "SPLIT_BYTES", 1)
    ranges = arrow_csv._byte_ranges(path, text.encode().index(b"\n") + 1)
    assert len(ranges) == 2 and ranges[0].end == ranges[1].start and ranges[1].end == path.stat().st_size
    assert path.read_bytes()[ranges[1].start - 1:ranges[1].start] == b"\n"
    split = arrow_csv.read_mapped_columns(path, parse=parse)
    assert whole is not None and split is not None
    pd.testing.assert_frame_equal(split.frame, whole.frame)
    if not parse:
        pd.testing.assert_frame_equal(split.frame, _general(path, list(split.frame.columns)))


def test_files_with_a_quote_are_read_whole(tmp_path, monkeypatch):
    """A quoted value may hold a newline, so a file with a quote is never cut at one."""
    monkeypatch.setattr(arrow_csv, "SPLIT_BYTES", 1)
    rows = "".join(f"c{i},2024-01-05,{i}\n" for i in range(40))
    text = "customer_id,date,amount\n" + rows + 'q,2024-01-06,"1\n2"\n' + rows
    path = write(tmp_path, text)
    assert len(arrow_csv._byte_ranges(path, len("customer_id,date,amount\n"))) == 1
    fast = arrow_csv.read_mapped_columns(path)
    pd.testing.assert_frame_equal(fast.frame, _general(path, list(fast.frame.columns)))
    quoted_header = write(tmp_path, '"customer_id","date","amount"\n' + rows, name="h.csv")
    assert len(arrow_csv._byte_ranges(quoted_header, len('"customer_id","date","amount"\n'))) == 2
