"""The linear rewrites of the holdout summary and the cumulative repeat curve give what the
former group-by code gave (kept here as the independent reference), whatever the row order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.data.loading import read_transactions
from helpers.models import lifetimes_adapter as la
from helpers.models.summary import calibration_holdout_summary, first_and_repeat_days
from helpers.studies.clv import analysis

from ._cdnow import CALIBRATION_END, OBSERVATION_END, master

NEWRETAIL = Path(__file__).resolve().parents[1] / "data" / "newretail" / "transactions.csv"


def _reference_holdout(tx: pd.DataFrame, cal_end: str, obs_end: str, unit_days: float) -> pd.DataFrame:
    """lifetimes-style holdout columns by a plain group-by on ids (the former code)."""
    days = tx["timestamp"].dt.normalize()
    pairs = tx.assign(day=days).groupby(["customer_id", "day"], sort=True)["amount"].sum().reset_index()
    first = pairs.groupby("customer_id")["day"].min()
    cohort = first[first <= pd.Timestamp(cal_end)].index
    hold = pairs[(pairs["day"] > pd.Timestamp(cal_end)) & (pairs["day"] <= pd.Timestamp(obs_end))]
    n = hold.groupby("customer_id").size().reindex(cohort, fill_value=0).astype(float)
    spend = hold.groupby("customer_id")["amount"].sum().reindex(cohort, fill_value=0.0)
    return pd.DataFrame({
        "frequency_holdout": n,
        "monetary_value_holdout": np.where(n > 0, spend / np.maximum(n, 1), 0.0),
    })


def _reference_repeat_days(tx: pd.DataFrame, cal_end: str, obs_end: str):
    days = tx["timestamp"].to_numpy(dtype="datetime64[D]")
    pairs = pd.DataFrame({"id": tx["customer_id"].to_numpy(), "day": days}).drop_duplicates()
    pairs = pairs[pairs["day"] <= np.datetime64(obs_end)]
    first = pairs.groupby("id")["day"].transform("min")
    cohort = first <= np.datetime64(cal_end)
    pairs, first = pairs[cohort], first[cohort]
    repeat = np.sort(pairs.loc[pairs["day"] > first, "day"].to_numpy(dtype="datetime64[D]"))
    first_purchase = np.sort(pairs.groupby("id")["day"].min().to_numpy(dtype="datetime64[D]"))
    return first_purchase, repeat


def _datasets():
    cdnow = master()
    newretail = read_transactions(NEWRETAIL).transactions
    shuffled = newretail.sample(frac=1.0, random_state=3).reset_index(drop=True)
    return [
        ("cdnow", cdnow, CALIBRATION_END, OBSERVATION_END),
        ("newretail", newretail, "2024-06-30", "2024-12-31"),
        ("newretail shuffled", shuffled, "2024-06-30", "2024-12-31"),
    ]


@pytest.mark.parametrize("name, tx, cal_end, obs_end", _datasets(), ids=lambda v: v if isinstance(v, str) else "")
def test_holdout_columns_equal_the_group_by_reference(name, tx, cal_end, obs_end):
    ours = calibration_holdout_summary(tx, cal_end, obs_end, "W")
    ref = _reference_holdout(tx, cal_end, obs_end, 7.0)
    assert list(ours.index) == [str(i) for i in ref.index] or list(ours.index) == list(ref.index)
    np.testing.assert_array_equal(ours["frequency_holdout"].to_numpy(), ref["frequency_holdout"].to_numpy())
    np.testing.assert_allclose(ours["monetary_value_holdout"].to_numpy(), ref["monetary_value_holdout"].to_numpy(),
                               rtol=1e-13, atol=0)


@pytest.mark.parametrize("name, tx, cal_end, obs_end", _datasets(), ids=lambda v: v if isinstance(v, str) else "")
def test_first_and_repeat_days_equal_the_reference(name, tx, cal_end, obs_end):
    first, repeat = first_and_repeat_days(tx, cal_end, obs_end)
    ref_first, ref_repeat = _reference_repeat_days(tx, cal_end, obs_end)
    np.testing.assert_array_equal(np.sort(first), ref_first)
    np.testing.assert_array_equal(repeat, ref_repeat)


def test_cumulative_repeat_curve_is_order_free():
    tx = master()
    cal = calibration_holdout_summary(tx, CALIBRATION_END, OBSERVATION_END, "W")
    model = analysis.fit_purchase_model(cal, "bgnbd", suffix="_cal")
    a = analysis.cumulative_repeat_transactions(model, tx, CALIBRATION_END, OBSERVATION_END, "W")
    b = analysis.cumulative_repeat_transactions(
        model, tx.sample(frac=1.0, random_state=1), CALIBRATION_END, OBSERVATION_END, "W"
    )
    pd.testing.assert_frame_equal(a, b)
    # Hand check on the first step: repeat purchase days of the cohort in week 1.
    _, repeat = _reference_repeat_days(tx, CALIBRATION_END, OBSERVATION_END)
    assert a["actual"].iloc[0] == np.searchsorted(repeat, a["date"].iloc[0].to_datetime64(), side="right")
    assert isinstance(model, la.FittedModel) or model is not None


@pytest.mark.parametrize("key_limit", [2**32, 0])  # 32-bit keys, and 64-bit keys
@pytest.mark.parametrize("rows_sorted", [False, True])
@pytest.mark.parametrize("first_day", [19_000, -400])  # 2022, and days before 1970 (negative day numbers)
def test_distinct_customer_days_equal_a_drop_duplicates(monkeypatch, key_limit, rows_sorted, first_day):
    from helpers.models import summary

    monkeypatch.setattr(summary, "_KEY32_LIMIT", key_limit)
    rng = np.random.default_rng(11)
    codes, days = rng.integers(0, 500, 20_000), rng.integers(first_day, first_day + 900, 20_000)
    if rows_sorted:
        order = np.lexsort((days, codes))
        codes, days = codes[order], days[order]
    pairs = summary._pairs(codes, days, 500)
    ref = pd.DataFrame({"code": codes, "day": days}).drop_duplicates().sort_values(["code", "day"])
    np.testing.assert_array_equal(pairs.code, ref["code"].to_numpy())
    np.testing.assert_array_equal(pairs.day, ref["day"].to_numpy())
    np.testing.assert_array_equal(pairs.customers, np.unique(codes))
    np.testing.assert_array_equal(pairs.days_per_customer, ref.groupby("code").size().to_numpy())


def test_32_bit_pair_keys_are_exact_up_to_the_limit():
    from helpers.models import summary

    # the largest keys that still fit: the products wrap around 2**32 on the way, the result must not
    span, first_day = 4_000, 20_000
    codes = np.array([0, 1, 1_073_740, 1_073_741], dtype=np.int64)
    days = np.array([first_day, first_day + 5, first_day + span - 1, first_day + 3_295], dtype=np.int64)
    expected = codes * span + days - first_day
    assert expected.max() == 2**32 - 1
    key = summary._pair_keys(codes, days, span, first_day, np.uint32)
    assert key.dtype == np.uint32
    np.testing.assert_array_equal(key.astype(np.int64), expected)


def test_summaries_on_id_codes_equal_summaries_on_ids():
    from helpers.models.summary import customer_summary, restore_ids, with_id_codes

    tx = read_transactions(NEWRETAIL).transactions.sample(frac=1.0, random_state=4).reset_index(drop=True)
    coded, ids = with_id_codes(tx)
    assert np.issubdtype(coded["customer_id"].dtype, np.integer)
    pd.testing.assert_frame_equal(restore_ids(customer_summary(coded, "2024-12-31", "W"), ids),
                                  customer_summary(tx, "2024-12-31", "W"))
    pd.testing.assert_frame_equal(
        restore_ids(calibration_holdout_summary(coded, "2024-06-30", "2024-12-31", "W"), ids),
        calibration_holdout_summary(tx, "2024-06-30", "2024-12-31", "W"))
    np.testing.assert_array_equal(first_and_repeat_days(coded, "2024-06-30", "2024-12-31")[1],
                                  first_and_repeat_days(tx, "2024-06-30", "2024-12-31")[1])
