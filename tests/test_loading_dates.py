"""The vectorised date clean-up gives exactly what the general (Python regex) route gives.

Independent implementation: ``_regex_normalise`` is the loader's former clean-up, applied
value by value; the fast route must agree with it on every value, and whole files must load
(or fail) identically with either route.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from helpers.data import loading as L
from helpers.data.loading import read_transactions, transactions_from_frame
from helpers.errors import DataError

SAMPLES = L.Path(__file__).resolve().parents[1] / "data" / "samples"
NEWRETAIL = L.Path(__file__).resolve().parents[1] / "data" / "newretail" / "transactions.csv"


def _tricky_values() -> list[str]:
    dates = ["2024-01-05", "2024/1/5", "2024.01.5", "2024-1/05", "2024年1月5日", "2024 年 1 月 5 日",
             "20240105", "20240105.0", "20240105.000", "20240105103000", "2024010", "2024-13-45",
             "２０２４-01-05", "2024-01-05\n", " 2024-01-05", "2024-01-05  ", "05/01/2024", "5.1.2024"]
    times = ["", " 10:30", "T10:30", " 8:05", " 10:30:00", "T10:30:00", "T10:30:00+08:00",
             " 10:30:00Z", " 10:30:00.123456", "T10:30:00-0500", "  10:30", "\t10:30", " 10:30:00 ",
             " 10:3", "T", " 10:30:00+8", "10:30"]
    values = ["".join(p) for p in itertools.product(dates, times)]
    values += ["", "soon", "nan", "2024-01-05T10:30:00\u3000", "2024\u30001\u30005", "2024-01-05 日"]
    return values


def test_fast_normalisation_equals_regex_route_value_by_value():
    values = pd.Series(_tricky_values(), dtype=str)
    fast = L._normalise_date_strings(values)
    slow = L._regex_normalise(values)
    assert fast.index.equals(slow.index)
    assert fast.tolist() == slow.tolist()
    # Every simple shape was exercised by the fast route.
    assert sum(values.str.fullmatch(p) .any() for p, _ in L._SIMPLE_DATE_SHAPES) == len(L._SIMPLE_DATE_SHAPES)


def test_fast_normalisation_random_generated_timestamps():
    rng = np.random.default_rng(11)
    stamps = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 5 * 365 * 86400, 5000), "s")
    formats = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%d", "%Y%m%d", "%Y/%m/%d %H:%M", "%Y-%m-%dT%H:%M:%S",
               "%Y年%m月%d日 %H:%M", "%Y%m%d%H%M%S", "%d/%m/%Y"]
    values = pd.Series(
        [stamps[i].strftime(formats[i % len(formats)]) for i in range(len(stamps))], dtype=str
    )
    assert L._normalise_date_strings(values).tolist() == L._regex_normalise(values).tolist()


def test_missing_values_stay_missing():
    values = pd.Series(["2024-01-05", None, "2024年1月5日"], dtype=object)
    fast = L._normalise_date_strings(values)
    slow = L._regex_normalise(values)
    assert fast.isna().tolist() == slow.isna().tolist() == [False, True, False]
    assert fast.dropna().tolist() == slow.dropna().tolist()


def _load_both(monkeypatch, load):
    """(result or error text) with the fast route, then with the regex route only."""

    def outcome():
        try:
            return load()
        except DataError as exc:
            return str(exc)

    fast = outcome()
    with monkeypatch.context() as m:
        m.setattr(L, "_normalise_date_strings", L._regex_normalise)
        slow = outcome()
    return fast, slow


@pytest.mark.parametrize(
    "path, kwargs",
    [
        (SAMPLES / "transactions_zh_gbk.csv", {"returns_policy": "drop"}),
        (SAMPLES / "transactions_utf8_bom.csv", {"returns_policy": "drop"}),
        (NEWRETAIL, {}),
    ],
)
def test_files_load_identically_with_either_route(monkeypatch, path, kwargs):
    fast, slow = _load_both(monkeypatch, lambda: read_transactions(path, **kwargs))
    assert not isinstance(fast, str), fast
    pd.testing.assert_frame_equal(fast.transactions, slow.transactions)
    assert fast.report == slow.report


@pytest.mark.parametrize(
    "dates",
    [
        ["2024/1/5", "2024-01-06 10:00", "2024年1月7日"],  # mixed separators: accepted
        ["05/01/2024"],  # ambiguous day/month: error
        ["2024-01-01", "2024-13-45", "soon"],  # unreadable: error naming rows and values
        ["2024-01-05", "25/01/2024"],  # mixed ISO and day-first: error, as before
        ["19970101", "19970102.0", "1997-01-03T08:00:00+08:00", "1997-01-04 08:00:00-05:00"],
        ["20240105", "2024015"],  # strptime leniency guard
    ],
)
def test_frames_load_or_fail_identically_with_either_route(monkeypatch, dates):
    frame = pd.DataFrame({"customer_id": [f"c{i}" for i in range(len(dates))], "date": dates,
                          "amount": np.arange(1.0, len(dates) + 1)})
    fast, slow = _load_both(monkeypatch, lambda: transactions_from_frame(frame, source="shop.csv"))
    if isinstance(slow, str):
        assert fast == slow
    else:
        pd.testing.assert_frame_equal(fast.transactions, slow.transactions)
