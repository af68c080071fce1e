"""DuckDB aggregation of large inputs gives exactly what the pandas loader + summary give."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("duckdb", reason="duckdb is not installed: pip install duckdb")

from helpers.errors import ConfigError, DataError
from helpers.models import engines
from helpers.models.engines import choose_engine, customer_days, summary_from_file
from helpers.models.summary import calibration_holdout_summary, customer_summary

from ._cdnow import CALIBRATION_END, OBSERVATION_END, master


def assert_same_summary(ours: pd.DataFrame, reference: pd.DataFrame) -> None:
    assert list(ours.index) == list(reference.index)
    assert list(ours.columns) == list(reference.columns)
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[column].to_numpy(), reference[column].to_numpy(), err_msg=column)
    # Same sums, added in another order: equal to rounding.
    np.testing.assert_allclose(ours["monetary_value"], reference["monetary_value"], rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def cdnow_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cdnow")
    data = master()
    data.to_csv(folder / "cdnow.csv", index=False)
    data.to_parquet(folder / "cdnow.parquet")
    parts = folder / "parts"
    parts.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(data)), 4)):  # 4 files, customers split across them
        data.iloc[chunk].to_parquet(parts / f"part-{i}.parquet")
    return {"csv": folder / "cdnow.csv", "parquet": folder / "cdnow.parquet", "folder": parts}


@pytest.mark.parametrize("kind", ["csv", "parquet", "folder"])
@pytest.mark.parametrize("unit", ["D", "W"])
def test_duckdb_equals_pandas_on_cdnow(cdnow_files, kind, unit):
    path = cdnow_files[kind]
    ours = summary_from_file(path, observation_end=OBSERVATION_END, time_unit=unit, engine="duckdb")
    reference = summary_from_file(path, observation_end=OBSERVATION_END, time_unit=unit, engine="pandas")
    assert_same_summary(ours, reference)
    # and both equal the summary of the embedded data, which is tested against lifetimes
    assert_same_summary(ours, customer_summary(master(), OBSERVATION_END, unit))


def test_calibration_period_truncates_like_the_pandas_path(cdnow_files):
    ours = summary_from_file(
        cdnow_files["csv"], observation_end=CALIBRATION_END, future_dates="drop", time_unit="W", engine="duckdb"
    )
    assert_same_summary(ours, customer_summary(master(), CALIBRATION_END, "W"))


def test_customer_days_feed_the_pandas_summaries_unchanged(cdnow_files):
    days = customer_days(cdnow_files["parquet"], engine="duckdb")
    assert not days.duplicated(["customer_id", "timestamp"]).any()
    assert (days["timestamp"] == days["timestamp"].dt.normalize()).all()
    assert_same_summary(customer_summary(days, OBSERVATION_END, "W"), customer_summary(master(), OBSERVATION_END, "W"))
    split = calibration_holdout_summary(days, CALIBRATION_END, OBSERVATION_END, "W")
    reference = calibration_holdout_summary(master(), CALIBRATION_END, OBSERVATION_END, "W")
    pd.testing.assert_frame_equal(split, reference, rtol=1e-12)
    pandas_days = customer_days(cdnow_files["parquet"], engine="pandas")
    pd.testing.assert_frame_equal(days.reset_index(drop=True), pandas_days.reset_index(drop=True), rtol=1e-12)


# --- edge cases, each checked against a hand computation and the pandas path ------------------


def write_csv(tmp_path, text, name="orders.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


EDGE = """customer_id,timestamp,amount
a,2024-01-01 09:00:00,10
a,2024-01-01 18:30:00,5
a,2024-01-11 10:00:00,20
a,2024-01-21 11:00:00,40
a,2024-01-21 12:00:00,-40
a,2024-01-25 12:00:00,30
a,2024-01-26 08:00:00,-7
b,2024-01-05 10:00:00,7
b,2024-01-31 23:59:00,3
c,2024-02-01 10:00:00,9
"""


def both(path, **kw):
    ours = summary_from_file(path, engine="duckdb", **kw)
    reference = summary_from_file(path, engine="pandas", **kw)
    assert_same_summary(ours, reference)
    return ours


def test_same_day_purchases_merge_and_returns_net(tmp_path):
    out = both(write_csv(tmp_path, EDGE), observation_end="2024-01-31", future_dates="drop")
    assert list(out.index) == ["a", "b"]  # c bought after the observation end
    a = out.loc["a"]
    # days: 01-01 (15), 01-11 (20), 01-21 (40 - 40 = 0, still a purchase day), 01-25 (30);
    # 01-26 is a return alone on its day: net negative, dropped.
    assert (a["frequency"], a["recency"], a["T"]) == (3, 24, 30)
    assert a["monetary_value"] == pytest.approx((20 + 0 + 30) / 3)
    b = out.loc["b"]
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (1, 26, 26, 3)  # 23:59 is inside


def test_returns_drop_policy(tmp_path):
    out = both(write_csv(tmp_path, EDGE), observation_end="2024-01-31", future_dates="drop", returns_policy="drop")
    assert out.loc["a", "monetary_value"] == pytest.approx((20 + 40 + 30) / 3)


def test_returns_error_policy_names_file_column_and_rows(tmp_path):
    path = write_csv(tmp_path, EDGE)
    with pytest.raises(DataError) as caught:
        summary_from_file(path, observation_end="2024-01-31", future_dates="drop", returns_policy="error",
                          engine="duckdb")
    message = str(caught.value)
    assert "orders.csv" in message and "'amount'" in message and "negative" in message
    assert "row 6: -40.0" in message and "row 8: -7.0" in message


def test_dates_after_observation_end_are_an_error_by_default(tmp_path):
    with pytest.raises(DataError) as caught:
        summary_from_file(write_csv(tmp_path, EDGE), observation_end="2024-01-31", engine="duckdb")
    message = str(caught.value)
    assert "after the observation end 2024-01-31" in message and "row 11" in message


def test_default_observation_end_is_the_last_purchase_day(tmp_path):
    out = both(write_csv(tmp_path, EDGE))
    assert out.loc["c", "T"] == 0 and out.loc["a", "T"] == 31


def test_chinese_headers_gbk_and_formatted_values(tmp_path):
    text = (
        "会员编号,下单时间,实付金额,手机号\n"
        "0001,2024/1/1,\"1,280.00\",13800000000\n"
        "0001,2024年1月5日,¥12,13800000000\n"
        "\n"
        "0002,20240103,(5.00),13900000000\n"
        "0002,2024.1.9,RMB 8,13900000000\n"
    )
    path = write_csv(tmp_path, text, "gbk.csv", encoding="gb18030")
    out = both(path, observation_end="2024-01-10")
    assert list(out.index) == ["0001", "0002"]  # zero-padded ids stay text
    assert out.loc["0001", "monetary_value"] == 12
    assert out.loc["0002", "frequency"] == 0  # the refund day is dropped (net negative); one day left


def test_column_map_and_parquet_with_integer_ids(tmp_path):
    frame = pd.DataFrame(
        {
            "member": [101, 101, 202],
            "paid_on": pd.to_datetime(["2024-01-01", "2024-01-04", "2024-01-02"]),
            "net": [1.0, 2.0, 3.0],
            "name": ["x", "y", "z"],
        }
    )
    path = tmp_path / "orders.parquet"
    frame.to_parquet(path)
    out = both(path, column_map={"customer_id": "member", "timestamp": "paid_on", "amount": "net"})
    assert list(out.index) == ["101", "202"]
    assert out.loc["101", "recency"] == 3


def test_unreadable_dates_and_missing_ids_name_rows(tmp_path):
    bad_date = "customer_id,timestamp,amount\na,2024-01-01,1\nb,not a date,2\nc,2024-01-03,3\n"
    with pytest.raises(DataError) as caught:
        summary_from_file(write_csv(tmp_path, bad_date, "dates.csv"), engine="duckdb")
    message = str(caught.value)
    assert "dates.csv" in message and "'timestamp'" in message and "row 3: 'not a date'" in message

    no_id = "customer_id,timestamp,amount\na,2024-01-01,1\n,2024-01-02,2\n"
    with pytest.raises(DataError, match=r"customer ids are missing.*row 3"):
        summary_from_file(write_csv(tmp_path, no_id, "ids.csv"), engine="duckdb")

    bad_amount = "customer_id,timestamp,amount\na,2024-01-01,1\na,2024-01-02,twelve\n"
    with pytest.raises(DataError, match=r"not numbers.*row 3: 'twelve'"):
        summary_from_file(write_csv(tmp_path, bad_amount, "amounts.csv"), engine="duckdb")


def test_bad_rows_in_a_parquet_folder_name_the_file(tmp_path):
    folder = tmp_path / "parts"
    folder.mkdir()
    pd.DataFrame({"customer_id": ["a"], "timestamp": ["2024-01-01"], "amount": ["1"]}).to_parquet(folder / "p0.parquet")
    pd.DataFrame({"customer_id": ["b", "c"], "timestamp": ["2024-01-02", "soon"], "amount": ["1", "2"]}).to_parquet(
        folder / "p1.parquet"
    )
    with pytest.raises(DataError) as caught:
        summary_from_file(folder, engine="duckdb")
    message = str(caught.value)
    assert "p1.parquet" in message and "row 3: 'soon'" in message


def test_missing_column_uses_the_loaders_message(tmp_path):
    path = write_csv(tmp_path, "customer_id,amount\na,1\n")
    with pytest.raises(DataError, match="no column for 'timestamp'"):
        summary_from_file(path, engine="duckdb")


# --- engine choice -----------------------------------------------------------------------------


def test_auto_engine_by_size_against_available_memory(tmp_path, monkeypatch):
    path = write_csv(tmp_path, EDGE)
    size = path.stat().st_size
    monkeypatch.setattr(engines, "available_memory_bytes", lambda: 10**12)
    assert choose_engine(path) == "pandas"
    # estimated pandas footprint = measured factor x CSV size; DuckDB once that exceeds 25% of free memory
    factor = engines.MEMORY_PER_DISK_BYTE["csv"]
    assert choose_engine(path) == "pandas"
    monkeypatch.setattr(engines, "available_memory_bytes",
                        lambda: int(int(factor * size) / engines.AUTO_MEMORY_SHARE) - 1)
    assert choose_engine(path) == "duckdb"
    monkeypatch.setattr(engines, "available_memory_bytes",
                        lambda: int(int(factor * size) / engines.AUTO_MEMORY_SHARE) + 1)
    assert choose_engine(path) == "pandas"
    assert choose_engine("cdnow:master") == "pandas"
    assert choose_engine(tmp_path / "book.xlsx") == "pandas"


def test_auto_engine_reads_rows_when_a_study_asks_for_an_optional_column(tmp_path, monkeypatch):
    """Customer-days keep no category: when memory would send the file to DuckDB, a study that
    needs categories still gets its rows (with the categories) instead of losing them."""
    path = write_csv(tmp_path, "customer_id,timestamp,amount,category\na,2024-01-01,5,tea\nb,2024-01-02,7,cake\n")
    monkeypatch.setattr(engines, "available_memory_bytes", lambda: 1)  # DuckDB by size
    assert choose_engine(path) == "duckdb"
    loaded = engines.load_transactions(path, columns=("category",))
    assert list(loaded.transactions["category"]) == ["tea", "cake"]
    days = engines.load_transactions(path, columns=())  # a CLV study: customer-days will do
    assert "category" not in days.transactions.columns


def test_engine_parameter_is_checked(tmp_path):
    with pytest.raises(ConfigError, match="engine must be one of"):
        choose_engine(tmp_path / "x.csv", "spark")
    with pytest.raises(ConfigError, match="engine='duckdb' reads"):
        choose_engine(tmp_path / "book.xlsx", "duckdb")
