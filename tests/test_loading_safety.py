"""Loader safety (issue 12): implausible amounts (item 3), decimal commas (item 4), mixed UTC
offsets (item 8). Every case plants a known truth and checks it is recovered."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.data.loading import (
    ABSOLUTE_AMOUNT_LIMIT,
    MIN_LOG_SPREAD,
    OUTLIER_SIGMAS,
    implausible_amount_limit,
    read_transactions,
    transactions_from_frame,
)
from helpers.errors import ConfigError, DataError


def _orders(n: int = 2000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "customer_id": [f"c{i % 300}" for i in range(n)],
        "timestamp": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, n), unit="D"),
        "amount": np.round(np.exp(rng.normal(np.log(80), 1.0, n)), 2),  # lognormal spend, sigma 1
    })


# --------------------------------------------------------------- amounts


def test_limit_is_the_hand_computed_robust_rule():
    # every order 100: median log10 = 2, MAD 0 -> the minimum spread applies
    assert implausible_amount_limit(np.full(50, 100.0)) == pytest.approx(10 ** (2 + OUTLIER_SIGMAS * MIN_LOG_SPREAD))
    # log10 amounts 1, 2, 3 (+ zeros ignored): median 2, MAD 1 -> 1.4826 robust SD
    assert implausible_amount_limit(np.array([10.0, 100, 1000, 0, 0])) == pytest.approx(10 ** (2 + OUTLIER_SIGMAS * 1.4826))
    assert implausible_amount_limit(np.array([1.0]), max_amount=500) == 500
    assert implausible_amount_limit(np.array([5.0, 1e308])) == ABSOLUTE_AMOUNT_LIMIT  # two rows: the absolute cap


def test_one_absurd_row_does_not_move_the_limit():
    frame = _orders()
    before = implausible_amount_limit(frame["amount"])
    after = implausible_amount_limit(pd.concat([frame["amount"], pd.Series([1e308])]))
    assert after == pytest.approx(before, rel=0.01)


def test_no_false_flags_on_heavy_lognormal_spend():
    frame = _orders(n=100_000, seed=1)  # P(z > 6) ~ 1e-9: nothing should be flagged
    result = transactions_from_frame(frame)
    assert result.report.dropped == [] and len(result.transactions) == len(frame)


def test_implausible_amounts_are_dropped_by_default_and_listed():
    frame = _orders()
    frame.loc[[10, 500], "amount"] = [1e308, 5e7]  # the planted rows (spreadsheet rows 12 and 502)
    result = transactions_from_frame(frame, source="orders.csv")
    (flag,) = result.report.dropped
    assert flag.key == "implausible" and flag.count == 2 and flag.example_rows == [12, 502]
    assert "row 12: 1e+308" in flag.reason and "row 502: 5e+07" in flag.reason
    assert len(result.transactions) == len(frame) - 2
    assert result.transactions["amount"].max() == frame["amount"].drop([10, 500]).max()
    table = result.report.to_frame()
    line = table[table["reason"].str.contains("implausible")]
    assert line["rows"].tolist() == [2] and "row 12: 1e+308" in line["reason"].iloc[0]
    assert "金额异常" in result.report.to_frame("zh-CN")["reason"].str.cat()
    # no single row dominates: the biggest order is a small share of revenue
    amounts = result.transactions["amount"]
    assert amounts.max() / amounts.sum() < 0.05


def test_cap_and_error_policies():
    frame = _orders()
    frame.loc[10, "amount"] = 1e308
    limit = implausible_amount_limit(frame["amount"])
    capped = transactions_from_frame(frame, amount_outliers="cap")
    assert len(capped.transactions) == len(frame) and capped.transactions["amount"].max() == pytest.approx(limit)
    assert [a.key for a in capped.report.adjusted] == ["capped"] and capped.report.adjusted[0].example_rows == [12]
    with pytest.raises(DataError) as caught:
        transactions_from_frame(frame, amount_outliers="error", source="orders.csv")
    assert "orders.csv: column 'amount': amounts are implausibly large" in str(caught.value)
    assert "row 12: 1e+308" in str(caught.value)
    # an absolute cap from the config replaces the robust rule
    fixed = transactions_from_frame(frame, max_amount=1000.0)
    assert fixed.transactions["amount"].max() <= 1000 and fixed.report.dropped[0].count == int((frame["amount"] > 1000).sum())
    with pytest.raises(ConfigError):
        transactions_from_frame(frame, amount_outliers="ignore")
    with pytest.raises(ConfigError):
        transactions_from_frame(frame, max_amount=-5)


# ----------------------------------------------------------- decimal commas


def test_semicolon_file_with_decimal_commas(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("kunde;datum;betrag\nA;2024-01-05;10,50\nB;2024-01-06;1.280,00\nA;2024-02-01;(3,25)\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_transactions(path, {"customer_id": "kunde", "timestamp": "datum", "amount": "betrag"})
    message = str(caught.value)
    assert "column 'betrag'" in message and "row 2: '10,50'" in message and "decimal=','" in message
    result = read_transactions(path, {"customer_id": "kunde", "timestamp": "datum", "amount": "betrag"}, decimal=",",
                               returns_policy="drop")
    assert result.transactions.sort_values("timestamp")["amount"].tolist() == [10.5, 1280.0]
    with pytest.raises(ConfigError):
        read_transactions(path, decimal=";")


def test_decimal_comma_mode_refuses_decimal_points():
    frame = pd.DataFrame({"customer_id": ["a"], "timestamp": ["2024-01-01"], "amount": ["10.5"]})
    with pytest.raises(DataError) as caught:
        transactions_from_frame(frame, decimal=",")
    assert "'.' only separates thousands" in str(caught.value)


# --------------------------------------------------------------- UTC offsets


def _mixed(n_local: int = 95, n_utc: int = 5) -> tuple[pd.DataFrame, pd.Series]:
    """Orders at 23:30 +08:00 on 2024-05-01..; a few written as the same instant in UTC."""
    days = pd.date_range("2024-05-01", periods=n_local + n_utc, freq="D")
    local = days + pd.Timedelta(hours=23, minutes=30)
    text = [f"{t:%Y-%m-%dT%H:%M:%S}+08:00" for t in local[:n_local]]
    text += [f"{t - pd.Timedelta(hours=8):%Y-%m-%dT%H:%M:%S}Z" for t in local[n_local:]]
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(text))], "timestamp": text, "amount": 10.0})
    return frame, pd.Series(local, name="timestamp")


def test_mixed_offsets_go_to_the_dominant_offset_and_are_reported():
    frame, truth = _mixed()
    result = transactions_from_frame(frame)
    got = result.transactions.set_index("customer_id")["timestamp"].reindex(frame["customer_id"]).reset_index(drop=True)
    assert (got == truth).all()  # every order on its +08:00 calendar day
    (note,) = result.report.adjusted
    assert note.key == "timezone" and note.count == 5 and note.example_rows == [97, 98, 99, 100, 101]
    assert "UTC+08:00" in note.reason and "+00:00: 5 rows" in note.reason
    assert any("converted to UTC+08:00" in r for r in result.report.to_frame()["reason"])


def test_timezone_parameter_and_ties():
    frame, truth = _mixed()
    utc = transactions_from_frame(frame, timezone="UTC").transactions.set_index("customer_id")["timestamp"]
    assert (utc.reindex(frame["customer_id"]).to_numpy() == (truth - pd.Timedelta(hours=8)).to_numpy()).all()
    tie, _ = _mixed(2, 2)
    tie.loc[:1, "timestamp"] = ["2024-05-01T10:00:00-05:00", "2024-05-02T10:00:00-05:00"]
    got = transactions_from_frame(tie).transactions.set_index("customer_id")["timestamp"]
    assert got["c0"] == pd.Timestamp("2024-05-01 23:00")  # tie: Asia/Shanghai (+08:00)
    ny = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": ["2024-07-01T12:00:00Z", "2024-01-01T12:00:00+00:00"],
                       "amount": [1.0, 2.0]})
    got = transactions_from_frame(ny, timezone="America/New_York").transactions.set_index("customer_id")["timestamp"]
    assert got["a"] == pd.Timestamp("2024-07-01 08:00") and got["b"] == pd.Timestamp("2024-01-01 07:00")  # DST
    with pytest.raises(ConfigError):
        transactions_from_frame(ny, timezone="Mars/Olympus")


def test_one_offset_everywhere_keeps_the_wall_clock():
    frame = pd.DataFrame({"customer_id": ["a", "b"], "timestamp": ["2024-05-01T23:30:00+08:00", "2024-05-02T08:00:00+08:00"],
                          "amount": [1.0, 2.0]})
    result = transactions_from_frame(frame)
    assert result.transactions["timestamp"].tolist() == [pd.Timestamp("2024-05-01 23:30"), pd.Timestamp("2024-05-02 08:00")]
    assert result.report.adjusted == []


def test_an_unquoted_decimal_comma_in_a_comma_file_is_not_silently_truncated(tmp_path):
    # pandas keeps "12" of "12,99" and only warns; the loader must refuse the row instead
    path = tmp_path / "orders.csv"
    path.write_text("customer_id,timestamp,amount\nA,2024-01-05,12,99\nB,2024-01-06,13\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read_transactions(path)
    message = str(caught.value)
    assert "more fields than the header" in message and "row 2: 'A,2024-01-05,12,99'" in message
    assert "decimal=','" in message
    # a trailing delimiter (an empty extra field) is still fine
    path.write_text("customer_id,timestamp,amount\nA,2024-01-05,12,\nB,2024-01-06,13,\n", encoding="utf-8")
    assert read_transactions(path).transactions["amount"].tolist() == [12.0, 13.0]


def test_notebook_loader_passes_the_safety_options_on(tmp_path):
    from helpers.data import tables_io

    path = tmp_path / "orders.csv"
    path.write_text("customer_id;timestamp;amount\nA;2024-01-05T10:00:00+08:00;10,50\nB;2024-01-06T02:00:00Z;1.280,00\n",
                    encoding="utf-8")
    loaded = tables_io.load_transactions(str(path), notebook="x.ipynb", decimal=",", timezone="UTC", max_amount=1000.0)
    assert loaded.transactions["amount"].tolist() == [10.5]  # 1,280 is above max_amount: left out and listed
    assert loaded.report.dropped[0].key == "implausible"
    assert loaded.transactions["timestamp"].tolist() == [pd.Timestamp("2024-01-05 02:00")]


def test_the_shipped_data_sets_have_no_implausible_amounts():
    from pathlib import Path

    from helpers.data.loading import load_default_transactions

    root = Path(__file__).resolve().parents[1]
    for result in (load_default_transactions(), read_transactions(root / "data" / "newretail" / "transactions.csv")):
        assert not [d for d in result.report.dropped if d.key == "implausible"]
        assert result.report.adjusted == []
