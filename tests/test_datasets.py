import pandas as pd
import pytest

from helpers.data import datasets
from helpers.data.loading import load_default_transactions, read_transactions
from helpers.errors import DataError

CANONICAL = ["customer_id", "timestamp", "amount", "quantity"]


@pytest.fixture(scope="module")
def master() -> pd.DataFrame:
    return datasets.load_cdnow_master()


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return datasets.load_cdnow_sample()


def test_master_path_is_inside_lifetimes():
    path = datasets.cdnow_master_path()
    assert path.is_file() and path.name == "CDNOW_master.txt"
    assert path.parent.name == "datasets" and path.parent.parent.name == "lifetimes"


def test_master_counts_and_range(master):
    assert list(master.columns) == CANONICAL
    assert len(master) == 69_659
    assert master["customer_id"].nunique() == 23_570
    assert master["timestamp"].min() == pd.Timestamp("1997-01-01")
    assert master["timestamp"].max() == pd.Timestamp("1998-06-30")
    assert pd.api.types.is_string_dtype(master["customer_id"])
    assert pd.api.types.is_datetime64_dtype(master["timestamp"])
    assert master["amount"].dtype == float and master["quantity"].dtype == "int64"


def test_master_known_rows(master):
    first = master.iloc[0]
    assert (first["customer_id"], first["timestamp"], first["quantity"], first["amount"]) == (
        "00001", pd.Timestamp("1997-01-01"), 1, 11.77
    )
    last = master.iloc[-1]
    assert (last["customer_id"], last["timestamp"], last["amount"]) == ("23570", pd.Timestamp("1997-03-26"), 42.96)


def test_master_total_matches_independent_read(master):
    raw = pd.read_csv(datasets.cdnow_master_path(), sep=r"\s+")
    assert master["amount"].sum() == pytest.approx(raw["dollar_value"].sum(), abs=1e-6)
    assert master["quantity"].sum() == raw["number_of_cds"].sum()


def test_sample_counts_and_ids(sample):
    assert list(sample.columns) == CANONICAL
    assert len(sample) == 6_919
    assert sample["customer_id"].nunique() == 2_357
    first = sample.iloc[0]
    assert (first["customer_id"], first["timestamp"], first["quantity"], first["amount"]) == (
        "0001", pd.Timestamp("1997-01-01"), 2, 29.33
    )
    raw = pd.read_csv(datasets.cdnow_sample_path(), sep=r"\s+", header=None)
    assert sample["amount"].sum() == pytest.approx(raw[4].sum(), abs=1e-6)


def test_default_transactions_report():
    result = load_default_transactions()
    report = result.report
    assert report.rows_read == report.rows_kept == 69_659
    assert report.customers == 23_570
    assert report.dropped == []
    assert report.duplicate_rows == 255
    assert result.source == "cdnow:master"
    assert "23,570 customers" in datasets.DEFAULT_DATA_LABEL and "lifetimes" in datasets.DEFAULT_DATA_LABEL


@pytest.mark.parametrize("name, rows", [("cdnow:master", 69_659), ("cdnow:sample", 6_919)])
def test_read_transactions_embedded(name, rows):
    result = read_transactions(name)
    assert len(result.transactions) == rows and result.source == name


def test_raw_master_file_goes_through_text_reader(master):
    result = read_transactions(datasets.cdnow_master_path())
    assert result.columns == {
        "customer_id": "customer_id",
        "timestamp": "date",
        "amount": "dollar_value",
        "quantity": "number_of_cds",
    }
    assert result.transactions["amount"].sum() == pytest.approx(master["amount"].sum())


def test_missing_embedded_file_is_data_error(monkeypatch):
    monkeypatch.setattr(datasets, "MASTER_FILE", "CDNOW_gone.txt")
    with pytest.raises(DataError, match="CDNOW_gone.txt.*lifetimes"):
        datasets.cdnow_master_path()


def test_unknown_embedded_name():
    from helpers.errors import ConfigError

    with pytest.raises(ConfigError, match="cdnow:sample"):
        read_transactions("cdnow:full")


def test_default_data_label_and_quality_rows_follow_the_page_language():
    assert datasets.default_data_label("en") == datasets.DEFAULT_DATA_LABEL
    assert "23,570 位客户" in datasets.default_data_label("zh-CN")
    frame = load_default_transactions().report.to_frame("zh-CN")
    assert list(frame["reason"]) == ["读取行数", "使用行数", "完全相同的行（保留）", "客户数"]
    assert list(frame["rows"]) == [69659, 69659, 255, 23570]
