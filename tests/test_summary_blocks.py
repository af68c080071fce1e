"""The cache-blocked path of customer_summary (rows split by blocks of customer codes, used on
large customer bases) gives bit for bit what the one-table path gives; forced here on small
data by lowering the block size and the threshold. So does row-wise work done in blocks of rows
(``_ROW_BLOCK``), forced through many small blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.models import summary
from helpers.models.summary import (
    calibration_holdout_summary,
    customer_summary,
    first_and_repeat_days,
    with_id_codes,
)

from .test_linear_steps import _reference_repeat_days


def _log(customers: int, rows: int, first_day: str = "2023-01-01", days: int = 700, seed: int = 5,
         amounts: bool = True) -> pd.DataFrame:
    """Shuffled purchases with sparse integer ids and amounts whose sums depend on their order."""
    rng = np.random.default_rng(seed)
    tx = pd.DataFrame({
        "customer_id": 1_000 + 7 * rng.integers(0, customers, rows),
        "timestamp": pd.Timestamp(first_day) + pd.to_timedelta(rng.integers(0, days, rows), unit="D")
        + pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s"),
    })
    if amounts:
        tx["amount"] = np.round(rng.gamma(2.0, 30.0, rows), 2) * rng.choice([1.0, 1.1, 0.3, -0.7], rows)
    return tx


def _both(monkeypatch, step, block: int = 8):
    """``step()`` on one table, then block by block (and the partition's row work in blocks of 7 rows)."""
    monkeypatch.setattr(summary, "_BLOCKED_FROM", 2**62)
    whole = step()
    monkeypatch.setattr(summary, "_BLOCKED_FROM", 0)
    monkeypatch.setattr(summary, "_BLOCK_CUSTOMERS", block)
    monkeypatch.setattr(summary, "_ROW_BLOCK", 7)
    return whole, step()


def _assert_same(whole: pd.DataFrame, blocked: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(blocked, whole, check_exact=True)
    for column in whole:  # bit for bit, not just equal
        assert whole[column].to_numpy().tobytes() == blocked[column].to_numpy().tobytes(), column


CASES = {
    "many customers per block": (_log(300, 4_000), "2024-09-30"),
    "one customer": (_log(1, 50), "2024-09-30"),
    "days before 1970": (_log(200, 2_000, first_day="1968-06-01"), "1969-12-31"),
    "no amounts": (_log(200, 2_000, amounts=False), "2024-09-30"),
    "a century of days": (_log(300, 3_000, first_day="1900-01-01", days=40_000), "2000-01-01"),
}


@pytest.mark.parametrize("block", [1, 5, 8, 64, 4096])
@pytest.mark.parametrize("case", list(CASES))
def test_blocks_give_the_one_table_summary(monkeypatch, case, block):
    tx, end = CASES[case]
    _assert_same(*_both(monkeypatch, lambda: customer_summary(tx, end, "W"), block))


@pytest.mark.parametrize("block", [1, 5, 8, 4096])
@pytest.mark.parametrize("case", list(CASES))
def test_blocks_give_the_one_table_calibration_holdout_summary(monkeypatch, case, block):
    tx, end = CASES[case]
    cal_end = (pd.Timestamp(end) - pd.Timedelta(days=200)).strftime("%Y-%m-%d")
    _assert_same(*_both(monkeypatch, lambda: calibration_holdout_summary(tx, cal_end, end, "W"), block))


@pytest.mark.parametrize("key_limit", [2**32, 0])  # 32-bit keys, and 64-bit keys
def test_blocks_with_rows_in_customer_order_dates_missing_or_beyond_the_end(monkeypatch, key_limit):
    monkeypatch.setattr(summary, "_KEY32_LIMIT", key_limit)
    tx = _log(150, 1_500).sort_values("customer_id", kind="stable").reset_index(drop=True)
    tx.loc[tx.index % 97 == 3, "timestamp"] = pd.NaT  # dropped with the rows after observation_end
    _assert_same(*_both(monkeypatch, lambda: customer_summary(tx, "2024-06-30", "D")))


@pytest.mark.parametrize("block", [1, 8, 4096])
def test_blocks_leave_out_the_holdout_rows_of_customers_in_order(monkeypatch, block):
    """The calibration summary's blocks leave the holdout's rows out in the partition itself:
    rows in customer order are then no longer in block order, and still give the one-table
    summary (also when a block has no calibration row at all)."""
    tx = _log(150, 1_500).sort_values("customer_id", kind="stable").reset_index(drop=True)
    late = tx["customer_id"] % 5 == 2  # these customers buy only in the holdout
    tx.loc[late, "timestamp"] = tx.loc[late, "timestamp"] + pd.Timedelta(days=700)
    _assert_same(*_both(monkeypatch, lambda: calibration_holdout_summary(tx, "2024-06-30", "2026-06-30", "W"), block))


def test_block_numbers_stay_16_bit_however_small_the_blocks(monkeypatch):
    monkeypatch.setattr(summary, "_BLOCKED_FROM", 0)
    monkeypatch.setattr(summary, "_BLOCK_CUSTOMERS", 1)
    n_ids = 2**17 + 5
    codes = np.random.default_rng(0).permutation(n_ids)
    blocks = summary._by_block(lambda local, n, rows: (local.min(), local.max(), n, len(rows)), codes, n_ids, (codes,))
    assert len(blocks) <= 2**16
    assert sum(rows for _, (_, _, _, rows) in blocks) == n_ids
    assert all(0 <= low and high < n for _, (low, high, n, _) in blocks)
    assert sum(n for _, (_, _, n, _) in blocks) == n_ids


# --- row-wise work in blocks of rows (temporaries in the CPU cache, no large array for each) ---

def _both_row_blocks(monkeypatch, step, rows: int):
    """``step()`` with one block of every row, then with blocks of ``rows`` rows."""
    monkeypatch.setattr(summary, "_ROW_BLOCK", 2**62)
    whole = step()
    monkeypatch.setattr(summary, "_ROW_BLOCK", rows)
    return whole, step()


@pytest.mark.parametrize("rows", [1, 7, 4_096])
def test_summaries_in_row_blocks_are_bit_identical(monkeypatch, rows):
    tx = _log(300, 4_000)
    tx.loc[::13, "amount"] = -0.0
    tx.loc[5::17, "amount"] = np.nan
    _assert_same(*_both_row_blocks(monkeypatch, lambda: customer_summary(tx, "2024-09-30", "W"), rows))
    _assert_same(*_both_row_blocks(monkeypatch, lambda: calibration_holdout_summary(tx, "2024-03-31", "2024-09-30", "W"), rows))


@pytest.mark.parametrize("key_limit", [2**32, 0])  # 32-bit keys, and 64-bit keys
@pytest.mark.parametrize("rows", [1, 2, 7, 4_096])
@pytest.mark.parametrize("case", list(CASES))
def test_first_and_repeat_days_in_row_blocks_equal_one_block_and_the_reference(monkeypatch, case, rows, key_limit):
    """Distinct pairs read from the sorted keys a few rows at a time (customers and their days
    split across blocks, one customer, days before 1970, rows after ``until``): what one block
    of every row gives, and what a group-by gives."""
    monkeypatch.setattr(summary, "_KEY32_LIMIT", key_limit)
    tx, end = CASES[case]
    cohort_end = (pd.Timestamp(end) - pd.Timedelta(days=200)).strftime("%Y-%m-%d")
    whole, blocked = _both_row_blocks(monkeypatch, lambda: first_and_repeat_days(tx, cohort_end, end), rows)
    for ours, theirs in zip(blocked, whole, strict=True):
        assert ours.dtype == np.dtype("datetime64[D]") and np.array_equal(ours, theirs)
    ref_first, ref_repeat = _reference_repeat_days(tx, cohort_end, end)
    np.testing.assert_array_equal(np.sort(blocked[0]), ref_first)
    np.testing.assert_array_equal(blocked[1], ref_repeat)


@pytest.mark.parametrize("rows", [1, 5, 1_000])
def test_short_text_ids_in_row_blocks_get_the_codes_of_a_sorted_factorize(monkeypatch, rows):
    monkeypatch.setattr(summary, "_ROW_BLOCK", rows)
    values = [f"M{i:07d}-{k}" for i in range(0, 3_000, 7) for k in range(3)] + ["M1", "M12"]
    ids = pd.Series(np.random.default_rng(3).choice(values, 5_000), dtype="str")
    coded, uniques = with_id_codes(pd.DataFrame({"customer_id": ids, "timestamp": pd.Timestamp("2024-01-01")}))
    expected_codes, expected_uniques = pd.factorize(ids.to_numpy(dtype=object), sort=True)
    np.testing.assert_array_equal(coded["customer_id"].to_numpy(), expected_codes)
    assert list(uniques) == list(expected_uniques)


def test_repeat_amounts_are_those_of_the_one_pass_choice():
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 50, 1_000)
    key = codes * 10 + rng.integers(0, 3, 1_000)
    first_key = np.arange(50) * 10 + 1
    amounts = rng.choice([1.5, -0.0, np.nan, -2.25, 0.0], 1_000)
    expected = np.where(key != first_key[codes], amounts, 0.0)
    assert summary._repeat_amounts(codes, key, first_key, amounts).tobytes() == expected.tobytes()


def _summary_by_keys(codes: np.ndarray, n_ids: int, days: np.ndarray, amounts: np.ndarray) -> dict[str, np.ndarray]:
    """The previous computation, in one pass over every row."""
    day_number = days.view(np.int64)
    first, span = day_number.min(), day_number.max() - day_number.min() + 1
    key = codes * span + day_number - first
    ordered = np.sort(key)
    pair_key = ordered[np.append(True, ordered[1:] != ordered[:-1])]
    code, day = np.divmod(pair_key, span)
    start = np.flatnonzero(np.append(True, code[1:] != code[:-1]))
    first_key = np.zeros(n_ids, dtype=key.dtype)
    first_key[code[start]] = pair_key[start]
    total = np.bincount(codes, weights=np.where(key != first_key[codes], amounts, 0.0), minlength=n_ids)[code[start]]
    frequency = (np.diff(np.append(start, len(code))) - 1).astype("float64")
    with np.errstate(invalid="ignore", divide="ignore"):
        monetary = np.where(frequency > 0, total / np.maximum(frequency, 1), 0.0)
    last = np.append(start[1:], len(code)) - 1
    return {"customers": code[start], "frequency": frequency, "recency": (day[last] - day[start]).astype("float64"),
            "monetary_value": monetary}


@pytest.mark.parametrize("key_limit", [2**32, 0])
@pytest.mark.parametrize("case", ["many customers per block", "days before 1970", "a century of days"])
def test_rows_summarised_as_by_the_previous_key_comparison(monkeypatch, case, key_limit):
    monkeypatch.setattr(summary, "_KEY32_LIMIT", key_limit)
    tx, end = CASES[case]
    tx = tx.assign(amount=tx["amount"].where(tx.index % 11 != 0, -0.0).where(tx.index % 29 != 0, np.nan))
    codes, ids, days, amounts = summary._coded_rows(tx, np.datetime64(end, "D"))
    columns, customers = summary._summarise_rows(codes, len(ids), days, amounts, np.datetime64(end, "D"), 1.0)
    expected = _summary_by_keys(codes, len(ids), days, amounts)
    np.testing.assert_array_equal(customers, expected.pop("customers"))
    for name, values in expected.items():
        assert columns[name].tobytes() == values.tobytes(), name


@pytest.mark.parametrize("row_keys", [False, True])
@pytest.mark.parametrize("rows_per_day", [1, 3])  # the sorted keys' buffer holds the code only, or code and day
@pytest.mark.parametrize("rows_sorted", [False, True])
def test_64_bit_pairs_written_into_the_sorted_keys_equal_32_bit_pairs(monkeypatch, row_keys, rows_per_day, rows_sorted):
    rng = np.random.default_rng(2)
    codes = np.repeat(rng.integers(0, 400, 1_200), rows_per_day)
    day_number = np.repeat(rng.integers(-30, 900, 1_200), rows_per_day)
    if rows_sorted:
        order = np.lexsort((day_number, codes))
        codes, day_number = codes[order], day_number[order]
    pairs32 = summary._pairs(codes, day_number, 400, row_keys)
    monkeypatch.setattr(summary, "_KEY32_LIMIT", 0)
    pairs64 = summary._pairs(codes, day_number, 400, row_keys)
    assert pairs64.pair_key.dtype == np.int64
    # 32-bit keys give 32-bit codes and days (8 bytes a pair, not 16; days before 1970 signed)
    assert (pairs32.code.dtype, pairs32.day.dtype) == (np.uint32, np.int32) and pairs32.day.min() < 0
    for name in ("code", "day", "start"):
        np.testing.assert_array_equal(getattr(pairs64, name), getattr(pairs32, name))
    if row_keys:
        np.testing.assert_array_equal(pairs64.key, pairs32.key)
