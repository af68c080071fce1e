import numpy as np
import pandas as pd
import pytest
from lifetimes.utils import summary_data_from_transaction_data

from helpers.errors import ConfigError, DataError
from helpers.models.summary import (
    calibration_holdout_summary,
    collapse_rfm,
    customer_summary,
    normalise_time_unit,
)

from ._cdnow import CALIBRATION_END, OBSERVATION_END, master, sample


def tx(rows):
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": pd.to_datetime([r[1] for r in rows], format="mixed"),
            "amount": [float(r[2]) for r in rows],
        }
    )


@pytest.mark.parametrize("unit,multiplier", [("D", 1), ("W", 7)])
@pytest.mark.parametrize("end", [OBSERVATION_END, CALIBRATION_END])
def test_matches_lifetimes_exactly_on_cdnow(unit, multiplier, end):
    data = master()
    ours = customer_summary(data, end, unit)
    theirs = summary_data_from_transaction_data(
        data, "customer_id", "timestamp", "amount", observation_period_end=end, freq="D", freq_multiplier=multiplier
    ).sort_index()
    assert list(ours.index) == list(theirs.index)
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[column].to_numpy(), theirs[column].to_numpy(), err_msg=column)
    np.testing.assert_allclose(ours["monetary_value"], theirs["monetary_value"], rtol=1e-12)


def test_cdnow_customer_1_in_weeks_is_fhl_convention():
    row = customer_summary(sample(), CALIBRATION_END, "W").loc["0001"]
    assert row["frequency"] == 2
    assert row["recency"] == pytest.approx(30.43, abs=0.005)
    assert row["T"] == pytest.approx(38.86, abs=0.005)


def test_conventions_on_a_hand_made_log():
    data = tx(
        [
            ("a", "2024-01-01 09:00", 10),
            ("a", "2024-01-01 18:00", 5),  # same day: merged with the first purchase
            ("a", "2024-01-11", 20),
            ("a", "2024-01-21", 40),
            ("b", "2024-01-05", 7),
            ("c", "2024-02-01", 9),  # after the observation end: ignored
        ]
    )
    out = customer_summary(data, "2024-01-31", "D")
    assert list(out.index) == ["a", "b"]
    a, b = out.loc["a"], out.loc["b"]
    assert (a["frequency"], a["recency"], a["T"]) == (2, 20, 30)
    assert a["monetary_value"] == 30  # mean of repeat days (20, 40); first day excluded
    assert (b["frequency"], b["recency"], b["T"], b["monetary_value"]) == (0, 0, 26, 0)


def test_default_observation_end_is_the_last_purchase_day():
    data = tx([("a", "2024-01-01", 1), ("b", "2024-01-15", 1)])
    out = customer_summary(data, time_unit="W")
    assert out.loc["a", "T"] == pytest.approx(2.0)
    assert out.loc["b", "T"] == 0


def test_returns_netted_into_a_day_still_count_the_day():
    data = tx([("a", "2024-01-01", 10), ("a", "2024-01-03", 30), ("a", "2024-01-03", -10)])
    out = customer_summary(data, "2024-01-10")
    assert out.loc["a", "frequency"] == 1
    assert out.loc["a", "monetary_value"] == 20


def test_calibration_holdout_split_by_hand():
    data = tx(
        [
            ("a", "2024-01-01", 10),
            ("a", "2024-01-08", 20),
            ("a", "2024-01-20", 30),  # holdout
            ("a", "2024-01-20", 10),  # same holdout day
            ("a", "2024-01-25", 50),  # holdout
            ("b", "2024-01-09", 5),
            ("c", "2024-01-15", 5),  # first purchase in the holdout: not in the cohort
            ("a", "2024-03-01", 99),  # after observation end
        ]
    )
    out = calibration_holdout_summary(data, "2024-01-10", "2024-01-31", "D")
    assert list(out.index) == ["a", "b"]
    a = out.loc["a"]
    assert (a["frequency_cal"], a["recency_cal"], a["T_cal"], a["monetary_value_cal"]) == (1, 7, 9, 20)
    assert a["frequency_holdout"] == 2
    assert a["monetary_value_holdout"] == 45  # (40 + 50) / 2 purchase days
    assert a["duration_holdout"] == 21
    assert out.loc["b", "frequency_holdout"] == 0


def test_holdout_counts_agree_with_full_summary_on_cdnow():
    data = master()
    split = calibration_holdout_summary(data, CALIBRATION_END, OBSERVATION_END, "W")
    full = customer_summary(data, OBSERVATION_END, "W")
    # every calibration customer's repeat days = calibration repeats + holdout days
    np.testing.assert_array_equal(
        full.loc[split.index, "frequency"].to_numpy(),
        (split["frequency_cal"] + split["frequency_holdout"]).to_numpy(),
    )
    assert split["duration_holdout"].iloc[0] == pytest.approx(273 / 7)


def test_calibration_end_after_observation_end_is_a_config_error():
    data = tx([("a", "2024-01-01", 1)])
    with pytest.raises(ConfigError, match="calibration_end"):
        calibration_holdout_summary(data, "2024-02-01", "2024-01-15")


def test_bad_inputs_are_clear():
    with pytest.raises(ConfigError, match="time_unit"):
        normalise_time_unit("fortnight")
    with pytest.raises(ConfigError, match="observation_end"):
        customer_summary(tx([("a", "2024-01-01", 1)]), "not a date")
    with pytest.raises(DataError, match="customer_id"):
        customer_summary(pd.DataFrame({"timestamp": pd.to_datetime(["2024-01-01"])}))
    assert normalise_time_unit("weeks") == "W"


def test_collapse_keeps_every_customer_once():
    summary = customer_summary(master(), CALIBRATION_END, "W")
    rows = collapse_rfm(summary)
    assert rows["weight"].sum() == len(summary)
    assert len(rows) < len(summary) / 2
    assert not rows.duplicated(["frequency", "recency", "T"]).any()


# --- customer ids are sorted as before (outputs are indexed by sorted id) ----------------

MIXED_IDS = ["007", "7", "70", "0070", "A12", "a12", "B", "b-1", "会员001", "会员01", "张三", "李四", "Zoë", "zoe",
             "", " 1", "1 ", "10", "9", "é", "e\u0301", "😀", "ｆｕｌｌ", "Ω"]


def id_log(ids, seed=0):
    """Two purchase days for each id (plus a same-day line), rows shuffled."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, cid in enumerate(ids):
        rows += [(cid, f"2024-01-{1 + i % 20:02d}", 1 + i), (cid, "2024-02-10", 2.5), (cid, "2024-02-10", 1.0)]
    frame = tx(rows)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


@pytest.mark.parametrize("dtype", ["object", "str", "string[pyarrow]", "string[python]"])
def test_string_ids_sort_in_python_order_and_match_lifetimes(dtype):
    data = id_log(MIXED_IDS)
    data["customer_id"] = data["customer_id"].astype(dtype)
    ours = customer_summary(data, "2024-02-29")
    assert list(ours.index) == sorted(MIXED_IDS)  # code-point order: digits, upper, lower, accents, CJK, emoji
    theirs = summary_data_from_transaction_data(
        data.astype({"customer_id": object}), "customer_id", "timestamp", "amount", observation_period_end="2024-02-29",
        freq="D").sort_index()
    assert list(ours.index) == list(theirs.index)
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(ours[column].to_numpy(), theirs[column].to_numpy(), err_msg=column)
    np.testing.assert_allclose(ours["monetary_value"], theirs["monetary_value"], rtol=1e-12)


@pytest.mark.parametrize("ids,dtype", [
    ([30, 4, 200, -1, 7], None),  # integers: numeric order, not text order
    ([3.5, 0.25, 10.0], None),
    (["b", 2, "a", 1], None),  # mixed types: pandas' order (numbers first), as before
    (["z", "a", "m"], pd.CategoricalDtype(["z", "m", "a"])),  # by value, not by category order, as before
])
def test_other_id_types_keep_the_previous_order(ids, dtype):
    data = id_log(ids)
    if dtype is not None:
        data["customer_id"] = data["customer_id"].astype(dtype)
    ours = customer_summary(data, "2024-02-29")
    before = pd.factorize(data["customer_id"].to_numpy(), sort=True)[1]  # the previous implementation's order
    assert list(ours.index) == list(before)
    assert (ours["frequency"] == 1).all() and len(ours) == len(ids)


def test_row_order_does_not_change_the_summary():
    data = master()
    ordered = customer_summary(data, OBSERVATION_END, "W")
    shuffled = customer_summary(data.sample(frac=1.0, random_state=3), OBSERVATION_END, "W")
    pd.testing.assert_frame_equal(shuffled, ordered, check_exact=False, rtol=1e-12)
    np.testing.assert_array_equal(shuffled[["frequency", "recency", "T"]], ordered[["frequency", "recency", "T"]])


def test_missing_ids_and_dates_are_clear_errors():
    data = tx([("a", "2024-01-01", 1), ("b", "2024-01-02", 1)])
    data.loc[1, "customer_id"] = None
    with pytest.raises(DataError, match="no customer id.*position.*1"):
        customer_summary(data, "2024-01-31")
    data = tx([("a", "2024-01-01", 1), ("b", "2024-01-02", 1)])
    data.loc[0, "timestamp"] = pd.NaT
    with pytest.raises(DataError, match="no timestamp.*position.*0"):
        customer_summary(data)
    # with an observation end, undated rows are left out, as before
    assert list(customer_summary(data, "2024-01-31").index) == ["b"]


@pytest.mark.parametrize("dtype", ["int64", "int32", "uint16"])
def test_integer_ids_are_counted_into_the_same_codes_as_a_sorted_factorize(dtype):
    from helpers.models.summary import sorted_id_codes

    rng = np.random.default_rng(4)
    ids = pd.Series(rng.choice(np.arange(0, 3000, 7), 5000).astype(dtype))  # gaps between ids
    codes, uniques = sorted_id_codes(ids)
    expected_codes, expected_uniques = pd.factorize(ids.to_numpy(), sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    np.testing.assert_array_equal(uniques, expected_uniques)
    # negative or far-apart ids take the hashing route, with the same result
    for other in (ids.astype("int64") - 100, ids.astype("int64") * 10**9):
        codes, uniques = sorted_id_codes(other)
        expected_codes, expected_uniques = pd.factorize(other.to_numpy(), sort=True)
        np.testing.assert_array_equal(codes, expected_codes)
        np.testing.assert_array_equal(uniques, expected_uniques)


# --- text ids read byte by byte (no hashing) -------------------------------------------------

SHORT_ID_SETS = {
    "member numbers": [f"M{i:07d}" for i in range(0, 3_000_000, 977)],
    "phone-like digits (wide radix: hashed integers)": [f"1{i:010d}" for i in range(0, 10**10, 7_919_123)],
    "mixed lengths and prefixes": ["007", "7", "70", "0070", "A12", "a12", "B", "b-1", "", " 1", "1 ", "10", "9"],
    "Chinese and accents": ["会员001", "会员01", "会员1", "张三", "李四", "é", "Ω", "e\u0301"],
    "digits of two lengths (values past 32 bits)": [f"{i:09d}" for i in range(0, 10**9, 9_999_991)]
    + [f"{i:010d}" for i in range(0, 10**10, 99_999_989)],
}


@pytest.mark.parametrize("name", list(SHORT_ID_SETS))
@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]"])
def test_short_text_ids_get_the_codes_of_a_sorted_factorize(name, dtype):
    from helpers.models.summary import _short_text_codes

    values = SHORT_ID_SETS[name]
    ids = pd.Series(np.random.default_rng(5).choice(values, 4 * len(values) + 50)).astype(dtype)
    codes, uniques = _short_text_codes(ids)
    expected_codes, expected_uniques = pd.factorize(ids.to_numpy(dtype=object), sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert codes.dtype == np.int64  # looked up in 32-bit ranks, kept 64-bit as every code is
    assert list(uniques) == list(expected_uniques)
    assert pd.Index(uniques).dtype == "str"


@pytest.mark.parametrize("size", [1, 63, 64, 65, 1000, 4099])
@pytest.mark.parametrize("density", [0.02, 0.5, 1.0])
def test_ranks_counted_in_bits_equal_the_running_count(size, density, monkeypatch):
    """Past the CPU cache ranks are counted in a bit table (64 values a word): the same ranks
    as the running count, at word edges, in the last part-filled word and in every block."""
    from helpers.models import summary

    rng = np.random.default_rng(size)
    present = rng.random(size) < density
    present[[0, -1]] = True  # the word edges at both ends are marked
    marked = np.flatnonzero(present)
    values = rng.choice(marked, 3 * size + 7)
    expected = (np.cumsum(present) - 1)[values]
    monkeypatch.setattr(summary, "_ROW_BLOCK", 100)  # several blocks, the last a part one
    np.testing.assert_array_equal(summary._bit_ranks_in_place(present, values.copy()), expected)
    monkeypatch.setattr(summary, "_BIT_RANKS_FROM", 1)  # and the routes that use it
    np.testing.assert_array_equal(summary._ranks_in_place(present, values.copy()), expected)
    ids = pd.Series(values + 5)  # integers with gaps: coded by their ranks
    np.testing.assert_array_equal(summary.sorted_id_codes(ids)[0], pd.factorize(ids, sort=True)[0])
    text = pd.Series([f"M{v:07d}" for v in values], dtype="str")
    np.testing.assert_array_equal(summary._short_text_codes(text)[0], pd.factorize(text.to_numpy(object), sort=True)[0])


@pytest.mark.parametrize("values", [
    ["a", None, "b"],  # missing: the general route reports it
    ["a\x00b", "a"],  # a NUL byte would read as padding
    ["x" * 25, "y"],  # longer than SHORT_ID_BYTES
    ["".join(chr(65 + (7 * i + 13 * k) % 58) for k in range(20)) for i in range(300)],  # radix beyond 63 bits
])
def test_other_text_ids_take_the_general_route_with_the_same_codes(values):
    from helpers.models.summary import _short_text_codes, sorted_id_codes

    ids = pd.Series(values, dtype="str")
    assert _short_text_codes(ids) is None
    codes, uniques = sorted_id_codes(ids)
    expected_codes, expected_uniques = pd.factorize(ids.to_numpy(dtype=object), sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(uniques) == list(expected_uniques)


def test_wide_keys_give_the_same_summary_as_32_bit_keys(monkeypatch):
    from helpers.models import summary

    data = master().sample(frac=1.0, random_state=8)
    narrow = customer_summary(data, OBSERVATION_END, "W")
    monkeypatch.setattr(summary, "_KEY32_LIMIT", 0)  # every key as a 64-bit integer
    pd.testing.assert_frame_equal(customer_summary(data, OBSERVATION_END, "W"), narrow, check_exact=True)


def test_long_text_ids_in_order_are_coded_by_neighbours():
    from helpers.models.summary import _ordered_text_codes, sorted_id_codes

    long_ids = sorted(f"customer-{i:05d}-{'x' * (i % 30)}" for i in range(400))  # beyond SHORT_ID_BYTES
    ids = pd.Series(np.repeat(long_ids, 3), dtype="str")
    codes, uniques = _ordered_text_codes(ids)
    expected_codes, expected_uniques = pd.factorize(ids.to_numpy(dtype=object), sort=True)
    np.testing.assert_array_equal(codes, expected_codes)
    assert list(uniques) == list(expected_uniques)
    assert _ordered_text_codes(ids.iloc[::-1]) is None  # out of order: hashed, the same codes
    codes, uniques = sorted_id_codes(ids.iloc[::-1].reset_index(drop=True))
    assert list(uniques) == list(expected_uniques)


def test_short_text_keys_order_and_match_text_across_columns():
    """Keys of two columns read in one radix: equal exactly for equal text and ordered as the
    text (code-point order), whatever each column's own widths and byte ranges; None when
    one column is not short text."""
    from helpers.models.summary import short_text_keys

    left = pd.Series(["M2", "M10", "会员7", "M1", "Z", "M10"], dtype="str")
    right = pd.Index(["M10", "A", "M100", "会员7", "M1"], dtype="str")
    keys = short_text_keys(left, right)
    text = np.concatenate([left.to_numpy(dtype=object), right.to_numpy(dtype=object)])
    values = np.concatenate(keys)
    assert [len(k) for k in keys] == [len(left), len(right)]
    np.testing.assert_array_equal(np.argsort(values, kind="stable"), np.argsort(text, kind="stable"))
    assert (values[:, None] == values[None, :]).tolist() == (text[:, None] == text[None, :]).tolist()
    assert short_text_keys(left, pd.Index(["x" * 40])) is None
    assert short_text_keys(pd.Series(["a", None]), right) is None
