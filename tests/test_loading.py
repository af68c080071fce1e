import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.data.loading import LoadResult, read_transactions, transactions_from_frame
from helpers.errors import ConfigError, DataError

HEADER = "customer_id,date,amount\n"


def write(tmp_path: Path, text: str, name: str = "t.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def error_for(path, **kwargs) -> str:
    with pytest.raises(DataError) as err:
        read_transactions(path, **kwargs)
    return str(err.value)


# ------------------------------------------------------------------ sample files


def test_gbk_chinese_headers(samples_dir):
    result = read_transactions(samples_dir / "transactions_zh_gbk.csv", returns_policy="drop")
    tx = result.transactions
    assert result.encoding == "gb18030"
    assert list(tx.columns) == [
        "customer_id", "timestamp", "amount", "order_id", "quantity", "channel", "store", "category"
    ]
    assert result.columns["customer_id"] == "会员编号"
    assert "手机号" not in tx.columns and "收货人" not in tx.columns
    assert not tx.astype(str).apply(lambda c: c.str.contains(r"1[3-9]\d{9}")).any().any()
    assert set(result.report.ignored_columns) == {"手机号", "收货人"}
    # leading zeros, thousands separators, YYYYMMDD ints, Chinese values
    assert {"000123", "000456", "010086"} <= set(tx["customer_id"])
    assert 1280.0 in set(tx["amount"]) and 2560.5 in set(tx["amount"])
    assert tx["timestamp"].min() == pd.Timestamp("2024-01-12")
    assert "天猫旗舰店" in set(tx["channel"])
    assert pd.api.types.is_datetime64_dtype(tx["timestamp"])
    assert result.report.rows_read == 30 and result.report.rows_kept == 29
    assert (tx["amount"] == 0).sum() == 1  # free-gift order kept


def test_utf8_bom_english_headers(samples_dir):
    result = read_transactions(samples_dir / "transactions_utf8_bom.csv")
    tx = result.transactions
    assert result.encoding == "utf-8-sig"
    assert result.columns == {
        "customer_id": "Customer ID",
        "timestamp": "Order Date",
        "amount": "Amount",
        "order_id": "Order ID",
        "quantity": "Quantity",
        "channel": "Channel",
    }
    assert "Email" not in tx.columns
    assert tx["customer_id"].str.startswith("0").all()
    assert 1234.5 in set(tx["amount"])
    assert tx.loc[tx["order_id"] == "A-1000", "timestamp"].item() == pd.Timestamp("2023-11-03 09:00")


def test_result_shape_and_sorting(tmp_path):
    path = write(tmp_path, HEADER + "b,20240103,5\na,20240102,3\nb,20240101,2\na,20240101,1\n")
    result = read_transactions(path)
    assert isinstance(result, LoadResult)
    tx = result.transactions
    assert tx["customer_id"].tolist() == ["a", "a", "b", "b"]
    assert tx["amount"].tolist() == [1.0, 3.0, 2.0, 5.0]
    assert tx.index.equals(pd.RangeIndex(4))
    assert result.source == str(path)
    assert result.report.customers == 2
    assert result.report.first_date == pd.Timestamp("2024-01-01")
    assert result.report.last_date == pd.Timestamp("2024-01-03")


# ------------------------------------------------------------------ formats


@pytest.mark.parametrize(
    "sep, name",
    [(",", "t.csv"), ("\t", "t.tsv"), (";", "t.txt"), ("|", "t.csv")],
)
def test_delimiters_sniffed(tmp_path, sep, name):
    text = sep.join(["customer_id", "date", "amount"]) + "\n" + sep.join(["007", "2024-01-05", "12.5"]) + "\n"
    tx = read_transactions(write(tmp_path, text, name)).transactions
    assert tx.iloc[0].tolist() == ["007", pd.Timestamp("2024-01-05"), 12.5]


def test_whitespace_delimited_with_crlf(tmp_path):
    text = (
        " customer_id  date number_of_cds  dollar_value\r\n"
        " 00001 19970101  1   11.77\r\n"
        " 00002 19970112  1   12.00\r\n"
    )
    tx = read_transactions(write(tmp_path, text, "t.txt")).transactions
    assert tx["customer_id"].tolist() == ["00001", "00002"]
    assert tx["quantity"].tolist() == [1.0, 1.0]


def test_parquet_round_trip(tmp_path):
    frame = pd.DataFrame(
        {
            "member_id": ["00001", "00002", "00001"],
            "order_date": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
            "sales": [10.0, 20.5, 0.0],
            "phone": ["13800138000"] * 3,
        }
    )
    frame.to_parquet(tmp_path / "t.parquet")
    result = read_transactions(tmp_path / "t.parquet")
    assert result.encoding is None
    tx = result.transactions
    assert list(tx.columns) == ["customer_id", "timestamp", "amount"]
    assert tx["customer_id"].tolist() == ["00001", "00001", "00002"]
    assert tx["amount"].sum() == 30.5


def test_parquet_folder_and_integer_dates(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    part_a = pd.DataFrame({"customer_id": [1, 2], "date": [19970101, 19970102], "amount": [1.0, 2.0]})
    part_a.to_parquet(folder / "a.parquet")
    pd.DataFrame({"customer_id": [3], "date": [19970103], "amount": [3.0]}).to_parquet(folder / "b.parquet")
    tx = read_transactions(folder).transactions
    assert tx["customer_id"].tolist() == ["1", "2", "3"]
    assert tx["timestamp"].tolist() == list(pd.to_datetime(["1997-01-01", "1997-01-02", "1997-01-03"]))


def test_empty_parquet_folder(tmp_path):
    (tmp_path / "empty").mkdir()
    msg = error_for(tmp_path / "empty")
    assert "no .parquet files" in msg and "empty" in msg


def test_xlsx_round_trip_and_sheet(tmp_path):
    path = tmp_path / "t.xlsx"
    data = pd.DataFrame(
        {
            "客户编号": ["00001", "00002"],
            "订单日期": [pd.Timestamp("2024-01-05 10:30"), pd.Timestamp("2024-02-01")],
            "金额": [1280.0, 56.8],
            "手机": ["13800138000", "13900139000"],
        }
    )
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        pd.DataFrame({"x": [1]}).to_excel(writer, sheet_name="notes", index=False)
        data.to_excel(writer, sheet_name="订单", index=False)
    result = read_transactions(path, sheet="订单")
    tx = result.transactions
    assert tx["customer_id"].tolist() == ["00001", "00002"]
    assert tx["timestamp"].tolist() == [pd.Timestamp("2024-01-05 10:30"), pd.Timestamp("2024-02-01")]
    assert list(tx.columns) == ["customer_id", "timestamp", "amount"]
    msg = error_for(path, sheet="Sheet9")
    assert "'Sheet9'" in msg and "'订单'" in msg and "t.xlsx" in msg


def test_fake_xls_is_data_error(tmp_path):
    msg = error_for(write(tmp_path, "not a workbook", "old.xls"))
    assert "old.xls" in msg and ".xlsx" in msg


def test_unknown_extension(tmp_path):
    msg = error_for(write(tmp_path, HEADER, "t.json"))
    assert "t.json" in msg and "'.json'" in msg


def test_sheet_for_csv_is_config_error(tmp_path):
    with pytest.raises(ConfigError):
        read_transactions(write(tmp_path, HEADER + "a,20240101,1\n"), sheet="x")


# ------------------------------------------------------------------ encodings


def test_gbk_without_bom_and_explicit_encoding(tmp_path):
    text = "会员号,日期,金额\n00042,2024年1月5日,\"１，２８０.００\"\n"
    path = write(tmp_path, text, encoding="gbk")
    assert read_transactions(path).transactions["amount"].item() == 1280.0
    assert read_transactions(path, encoding="gbk").encoding == "gbk"


def test_utf16_with_bom(tmp_path):
    path = write(tmp_path, "customer_id\tdate\tamount\n1\t2024-01-01\t3\n", encoding="utf-16")
    result = read_transactions(path)
    assert result.encoding == "utf-16"
    assert result.transactions["amount"].item() == 3.0


def test_undecodable_bytes(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(HEADER.encode() + b"a,20240101,1\nb,20240101,\xff\xff\n")
    msg = error_for(path)
    assert "bad.csv" in msg
    assert "offset 48" in msg and "UTF-8" in msg and "GBK" in msg and "line 3" in msg and "row 3" in msg
    assert "ff" in msg and "encoding=" in msg


@pytest.mark.parametrize("chunk", [5, 7, 64, 1 << 20])
@pytest.mark.parametrize("enc", ["utf-8", "utf-8-sig", "gb18030"])
def test_decode_check_chunks_agree_with_decoding_the_whole_file(tmp_path, monkeypatch, chunk, enc):
    """ASCII chunks are only checked, not decoded, and lines are counted on failure only: the
    bad byte, its offset and line are still those of decoding the file whole, wherever the
    chunk boundaries fall (inside multi-byte characters too)."""
    from helpers.data import loading

    monkeypatch.setattr(loading, "_CHUNK", chunk)
    rng = np.random.default_rng(5)
    pieces = [b"id,date,amount\n", b"a,2024-01-01,1\n" * 4, "客户,日期\n".encode(), b"b,2024-01-02,2\n" * 3]
    good = b"".join(pieces)
    cases = [good, b"\xef\xbb\xbf" + good]
    for _ in range(12):  # one bad byte, or a multi-byte character cut short, somewhere
        at = int(rng.integers(0, len(good)))
        cases.append(good[:at] + (b"\xff" if rng.random() < 0.5 else "客".encode()[:2]) + good[at:])
    for i, raw in enumerate(cases):
        path = tmp_path / f"f{i}.csv"
        path.write_bytes(raw)
        outcome = loading._decode_check(path, enc)
        body = raw[3:] if enc == "utf-8-sig" and raw.startswith(b"\xef\xbb\xbf") else raw
        skipped = len(raw) - len(body)
        try:
            body.decode("utf-8" if skipped else enc)
        except UnicodeDecodeError as err:
            offset = skipped + err.start
            assert isinstance(outcome, loading._BadByte)
            assert outcome.offset == offset and outcome.data == body[err.start:err.end]
            assert outcome.line == raw[:offset].count(b"\n") + 1
        else:
            assert isinstance(outcome, loading._Decoded)
            text = body.decode("utf-8" if skipped else enc)
            assert outcome.sample and text.startswith(outcome.sample)


def test_wrong_explicit_encoding(tmp_path):
    path = write(tmp_path, "会员号,日期,金额\n1,20240101,2\n", encoding="gbk")
    msg = error_for(path, encoding="utf-8")
    assert "utf-8" in msg and "offset 0" in msg and "line 1" in msg


def test_unknown_encoding_is_config_error(tmp_path):
    with pytest.raises(ConfigError, match="klingon"):
        read_transactions(write(tmp_path, HEADER + "a,20240101,1\n"), encoding="klingon")


# ------------------------------------------------------------------ bad input


def test_missing_file(tmp_path):
    msg = error_for(tmp_path / "nope.csv")
    assert "file not found" in msg and str((tmp_path / "nope.csv").resolve()) in msg


def test_missing_file_relative_path_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    msg = error_for("sub/nope.csv")
    assert str(tmp_path / "sub" / "nope.csv") in msg


def test_empty_path_is_config_error():
    with pytest.raises(ConfigError, match="cdnow:master"):
        read_transactions("")


def test_empty_file(tmp_path):
    msg = error_for(write(tmp_path, "", "empty.csv"))
    assert "empty.csv" in msg and "empty" in msg


def test_blank_lines_only(tmp_path):
    msg = error_for(write(tmp_path, "\n\n  \n", "blank.csv"))
    assert "blank.csv" in msg and "empty" in msg


def test_header_only(tmp_path):
    msg = error_for(write(tmp_path, HEADER, "head.csv"))
    assert "head.csv" in msg and "no data rows" in msg


def test_missing_mapped_column(tmp_path):
    path = write(tmp_path, "vip,date,amount\na,20240101,1\n", "shop.csv")
    msg = error_for(path, column_map={"customer_id": "VIP_NO"})
    assert "shop.csv" in msg and "'VIP_NO'" in msg and "'vip'" in msg


def test_unknown_map_key(tmp_path):
    with pytest.raises(ConfigError, match="'shopper'"):
        read_transactions(write(tmp_path, HEADER + "a,20240101,1\n"), column_map={"shopper": "customer_id"})


def test_missing_required_column(tmp_path):
    msg = error_for(write(tmp_path, "customer_id,amount\na,1\n", "shop.csv"))
    assert "shop.csv" in msg and "'timestamp'" in msg and "column_map" in msg


def test_unparseable_dates(tmp_path):
    text = "customer_id,order_date,amount\na,2024-01-01,1\nb,2024-13-45,2\nc,soon,3\n"
    path = write(tmp_path, text, "shop.csv")
    msg = error_for(path)
    assert "shop.csv" in msg and "column 'order_date'" in msg
    assert "row 3: '2024-13-45'" in msg and "row 4: 'soon'" in msg
    assert "(2 rows)" in msg and "date_format" in msg


def test_missing_dates(tmp_path):
    msg = error_for(write(tmp_path, HEADER + "a,20240101,1\nb,,2\n", "shop.csv"))
    assert "shop.csv" in msg and "column 'date'" in msg and "missing" in msg and "row 3" in msg


def test_non_numeric_amounts(tmp_path):
    text = 'customer_id,date,sales\na,20240101,12.50\nb,20240101,twelve\nc,20240101,"12,50"\n'
    path = write(tmp_path, text, "shop.csv")
    msg = error_for(path)
    assert "shop.csv" in msg and "column 'sales'" in msg
    assert "row 3: 'twelve'" in msg and "row 4: '12,50'" in msg


def test_missing_amount(tmp_path):
    msg = error_for(write(tmp_path, HEADER + "a,20240101,\n", "shop.csv"))
    assert "column 'amount'" in msg and "missing" in msg and "row 2" in msg


def test_non_numeric_quantity(tmp_path):
    path = write(tmp_path, "customer_id,date,amount,qty\na,20240101,1,2\nb,20240101,1,two\n", "shop.csv")
    msg = error_for(path)
    assert "column 'qty'" in msg and "row 3: 'two'" in msg


def test_blank_quantity_allowed(tmp_path):
    path = write(tmp_path, "customer_id,date,amount,qty\na,20240101,1,\n")
    assert np.isnan(read_transactions(path).transactions["quantity"].item())


def test_missing_ids(tmp_path):
    path = write(tmp_path, HEADER + "a,20240101,1\n  ,20240102,2\n,20240103,3\n", "shop.csv")
    msg = error_for(path)
    assert "shop.csv" in msg and "column 'customer_id'" in msg
    assert "missing" in msg and "row 3" in msg and "row 4" in msg and "(2 rows)" in msg


def test_dates_after_observation_end(tmp_path):
    path = write(tmp_path, HEADER + "a,19980630,1\nb,19980701,2\n", "shop.csv")
    msg = error_for(path, observation_end="1998-06-30")
    assert "shop.csv" in msg and "column 'date'" in msg
    assert "row 3: '1998-07-01'" in msg and "future_dates='drop'" in msg
    result = read_transactions(path, observation_end="1998-06-30", future_dates="drop")
    assert result.transactions["customer_id"].tolist() == ["a"]
    assert result.report.dropped[0].count == 1 and result.report.dropped[0].example_rows == [3]


def test_observation_end_with_time_is_exact(tmp_path):
    path = write(tmp_path, HEADER + "a,2024-01-01 10:00,1\nb,2024-01-01 12:00,2\n")
    result = read_transactions(path, observation_end="2024-01-01 11:00", future_dates="drop")
    assert result.transactions["customer_id"].tolist() == ["a"]


def test_bad_policy_values_are_config_errors(tmp_path):
    path = write(tmp_path, HEADER + "a,20240101,1\n")
    with pytest.raises(ConfigError):
        read_transactions(path, returns_policy="ignore")
    with pytest.raises(ConfigError):
        read_transactions(path, future_dates="keep")
    with pytest.raises(ConfigError):
        read_transactions(path, observation_end="not a date")


def test_row_with_extra_field(tmp_path):
    path = write(tmp_path, HEADER + "a,20240101,1\nb,20240101,1,280.00\n", "shop.csv")
    msg = error_for(path)
    assert "shop.csv" in msg and "row 3" in msg and "fields" in msg


# ------------------------------------------------------------------ values


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("19970101", "1997-01-01"),
        ("1997-01-01", "1997-01-01"),
        ("1997-1-1 8:05", "1997-01-01 08:05"),
        ("1997-01-01 08:05:09", "1997-01-01 08:05:09"),
        ("1997/1/5", "1997-01-05"),
        ("1997.1.5", "1997-01-05"),
        ("1997年1月5日", "1997-01-05"),
        ("1997年1月5日 14:30", "1997-01-05 14:30"),
        ("1997-01-05T14:30:00+08:00", "1997-01-05 14:30"),
        ("13/01/1997", "1997-01-13"),
    ],
)
def test_date_formats(tmp_path, raw, expected):
    tx = read_transactions(write(tmp_path, f"customer_id\tdate\tamount\na\t{raw}\t1\n")).transactions
    assert tx["timestamp"].item() == pd.Timestamp(expected)


def test_mixed_date_separators_in_one_column(tmp_path):
    text = HEADER + "a,2024/1/5,1\na,2024-01-06 10:00,1\na,2024年1月7日,1\n"
    tx = read_transactions(write(tmp_path, text)).transactions
    assert tx["timestamp"].dt.day.tolist() == [5, 6, 7]


def test_ambiguous_day_month_asks_for_format(tmp_path):
    path = write(tmp_path, HEADER + "a,05/01/2024,1\n", "shop.csv")
    msg = error_for(path)
    assert "shop.csv" in msg and "column 'date'" in msg and "date_format" in msg
    tx = read_transactions(path, date_format="%d/%m/%Y").transactions
    assert tx["timestamp"].item() == pd.Timestamp("2024-01-05")


def test_date_format_forced(tmp_path):
    path = write(tmp_path, HEADER + "a,01-05-2024,1\nb,12-31-2024,1\n", "shop.csv")
    tx = read_transactions(path, date_format="%m-%d-%Y").transactions
    assert tx["timestamp"].tolist() == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-12-31")]
    msg = error_for(path, date_format="%d-%m-%Y")
    assert "row 3: '12-31-2024'" in msg


@pytest.mark.parametrize(
    "raw, expected",
    [
        ('"1,280.00"', 1280.0),
        ('"1，280.00"', 1280.0),
        ("¥99", 99.0),
        ("￥ 1 280", 1280.0),
        ("$12.50", 12.5),
        ("RMB 35", 35.0),
        ("35元", 35.0),
        ("(12.00)", -12.0),
        ("12.00-", -12.0),
        ("-7", -7.0),
        ("0", 0.0),
        ('"12,345,678.9"', 12345678.9),
    ],
)
def test_amount_formats(tmp_path, raw, expected):
    path = write(tmp_path, f"customer_id,date,amount\na,20240101,{raw}\na,20240101,100000000\n")
    tx = read_transactions(path, returns_policy="error" if expected >= 0 else "net").transactions
    assert tx["amount"].iloc[0] == pytest.approx(expected)


def test_leading_zeros_and_whitespace_in_ids(tmp_path):
    tx = read_transactions(write(tmp_path, HEADER + " 00001 ,20240101,1\n0001,20240101,1\n")).transactions
    assert tx["customer_id"].tolist() == ["00001", "0001"]
    assert pd.api.types.is_string_dtype(tx["customer_id"])


def test_duplicates_kept_and_counted(tmp_path):
    result = read_transactions(write(tmp_path, HEADER + "a,20240101,5\na,20240101,5\na,20240101,5\n"))
    assert len(result.transactions) == 3
    assert result.report.duplicate_rows == 2


def test_blank_rows_dropped_and_reported(tmp_path):
    result = read_transactions(write(tmp_path, HEADER + "a,20240101,5\n,,\nb,20240101,5\n\n"))
    assert result.report.rows_kept == 2
    assert result.report.dropped[0].reason == "empty rows"
    assert result.report.dropped[0].example_rows[0] == 3


# ------------------------------------------------------------------ returns


RETURNS = HEADER + (
    "a,20240101,100\n"  # row 2
    "a,20240101,-30\n"  # row 3: netted by row 2
    "a,20240105,-50\n"  # row 4: return on its own day
    "b,20240102,0\n"  # row 5: free gift, kept
    "b,20240103,20\n"  # row 6
    "b,20240103,-20\n"  # row 7: nets to zero, kept
)


def test_returns_net(tmp_path):
    result = read_transactions(write(tmp_path, RETURNS))
    tx = result.transactions
    assert tx["amount"].tolist() == [100.0, -30.0, 0.0, 20.0, -20.0]
    (dropped,) = result.report.dropped
    assert dropped.count == 1 and dropped.example_rows == [4] and "net" in dropped.reason
    assert result.report.negative_rows == 3


@pytest.mark.parametrize("seed", range(4))
def test_net_negative_days_match_grouping_by_customer_and_day(seed):
    """The customer-day netting on integer keys marks exactly the rows grouping by
    (customer, normalised timestamp) marks: unsorted rows, a gappy index (rows dropped
    before), days before 1970, times either side of midnight, one customer."""
    from helpers.data import loading

    rng = np.random.default_rng(seed)
    n, customers = (40, 1) if seed == 3 else (3000, 200)
    start = np.datetime64("1969-12-25") if seed % 2 else np.datetime64("2024-01-01")
    stamps = start + rng.integers(0, 20 * 24 * 60, n).astype("timedelta64[m]")
    amounts = np.round(rng.choice([-1, 1], n, p=[0.3, 0.7]) * rng.uniform(0, 50, n), 2)
    out = pd.DataFrame(
        {loading._KEY: rng.integers(0, customers, n), "timestamp": stamps, "amount": amounts},
        index=np.sort(rng.choice(3 * n, n, replace=False)),
    )
    negative = out["amount"] < 0
    touched = out.loc[out[loading._KEY].isin(out.loc[negative, loading._KEY].unique())]
    net = touched["amount"].groupby([touched[loading._KEY], touched["timestamp"].dt.normalize()]).transform("sum")
    expected = out.index.isin(net.index[net < -1e-9])
    got = loading._net_negative_days(out, negative.to_numpy())
    assert expected.any() and np.array_equal(got, expected)


def test_returns_drop(tmp_path):
    result = read_transactions(write(tmp_path, RETURNS), returns_policy="drop")
    assert result.transactions["amount"].tolist() == [100.0, 0.0, 20.0]
    (dropped,) = result.report.dropped
    assert dropped.count == 3 and dropped.example_rows == [3, 4, 7]


def test_returns_error(tmp_path):
    msg = error_for(write(tmp_path, RETURNS, "shop.csv"), returns_policy="error")
    assert "shop.csv" in msg and "column 'amount'" in msg
    assert "row 3: -30.0" in msg and "row 4: -50.0" in msg and "returns_policy" in msg


def test_everything_dropped_is_an_error(tmp_path):
    msg = error_for(write(tmp_path, HEADER + "a,20240101,-5\n", "shop.csv"))
    assert "shop.csv" in msg and "no rows are left" in msg


# ------------------------------------------------------------------ frames & report


def test_transactions_from_frame_row_numbers():
    frame = pd.DataFrame(
        {"customer": ["a", "b", "c"], "date": ["2024-01-01", "x", "2024-01-02"], "amount": [1, 2, 3]},
        index=[10, 20, 30],
    )
    with pytest.raises(DataError) as err:
        transactions_from_frame(frame, source="my frame")
    assert "my frame" in str(err.value) and "row 3: 'x'" in str(err.value)


def test_transactions_from_frame_typed_columns_and_tz():
    frame = pd.DataFrame(
        {
            "customer_id": [1, 2],
            "timestamp": pd.to_datetime(["2024-01-01 23:30", "2024-01-02 01:00"]).tz_localize("Asia/Shanghai"),
            "amount": [1.5, np.nan],
        }
    )
    with pytest.raises(DataError, match="row 3"):
        transactions_from_frame(frame)
    frame["amount"] = [1.5, 2.0]
    tx = transactions_from_frame(frame).transactions
    assert tx["customer_id"].tolist() == ["1", "2"]
    assert tx["timestamp"].dt.tz is None
    assert tx["timestamp"].iloc[0] == pd.Timestamp("2024-01-01 23:30")


def test_transactions_from_frame_missing_datetime():
    frame = pd.DataFrame(
        {"customer_id": ["a", "b"], "timestamp": [pd.Timestamp("2024-01-01"), pd.NaT], "amount": [1, 2]}
    )
    with pytest.raises(DataError, match="missing.*row 3"):
        transactions_from_frame(frame)


def test_report_to_frame_and_dict(tmp_path):
    result = read_transactions(write(tmp_path, RETURNS), returns_policy="drop")
    table = result.report.to_frame()
    assert list(table.columns) == ["reason", "rows"]
    assert table.set_index("reason").loc["rows read", "rows"] == 6
    assert table.set_index("reason").loc["rows kept", "rows"] == 3
    data = json.loads(json.dumps(result.report.to_dict()))
    assert data["first_date"] == "2024-01-01T00:00:00"
    assert data["dropped"][0]["count"] == 3


def test_vectorised_on_a_large_frame():
    n = 300_000
    rng = np.random.default_rng(0)
    days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 500, n), unit="D")
    frame = pd.DataFrame(
        {
            "customer_id": rng.integers(0, 20_000, n).astype(str),
            "date": days.strftime("%Y%m%d"),
            "amount": pd.Series(rng.integers(100, 100_000, n) / 100).map("{:,.2f}".format),
        }
    )
    # no wall-clock limit (a busy machine makes it flaky): instead, no per-row Python call
    # (Series.apply / Series.map / DataFrame.apply / iterrows / itertuples) may run
    def per_row(*args, **kwargs):
        raise AssertionError("per-row Python call on the loading path")

    with pytest.MonkeyPatch.context() as patch:
        for owner, name in ((pd.Series, "apply"), (pd.Series, "map"), (pd.DataFrame, "apply"),
                            (pd.DataFrame, "iterrows"), (pd.DataFrame, "itertuples")):
            patch.setattr(owner, name, per_row)
        result = transactions_from_frame(frame)
    assert result.report.rows_kept == n


def test_undecodable_byte_offset_counts_the_bom(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbf" + HEADER.encode() + b"a,20240101,\xff\n")
    msg = error_for(path)
    assert "offset 38" in msg and "line 2" in msg


@pytest.mark.parametrize("value", ["not a date", None, float("nan"), "", [1]])
def test_timestamp_or_error_raises_the_given_message_for_no_date(value):
    from helpers.data.loading import timestamp_or_error

    with pytest.raises(ConfigError) as info:
        timestamp_or_error(value, "start_date is not a date (use YYYY-MM-DD).")
    assert str(info.value) == "start_date is not a date (use YYYY-MM-DD)."


def test_timestamp_or_error_reads_dates_and_times():
    from helpers.data.loading import timestamp_or_error

    assert timestamp_or_error("2024-02-29", "x") == pd.Timestamp(2024, 2, 29)
    assert timestamp_or_error("2024-02-29 13:30", "x") == pd.Timestamp(2024, 2, 29, 13, 30)
