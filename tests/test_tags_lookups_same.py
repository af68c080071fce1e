"""Look-ups of the tags study done once or by hash give what the per-call scans gave:

- the events of a tag's types in a window: their rows are found once per set of types and
  only those rows are masked per date, the same rows in the same order as masking every
  event of the table each time (so behaviour and event-count tags are unchanged);
- the transactions of segmented customers: a hash look-up of the ids instead of ``isin``
  (which loops over Arrow strings in Python), the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from helpers.studies.tags.analysis import has_id
from helpers.studies.tags.engine import NS_DAY, TagInputs

TYPES = ["view", "favourite", "add_to_cart", "store_checkin", "coupon_claim"]


def random_inputs(rng: np.random.Generator, n_events: int) -> TagInputs:
    customers = [f"c{i:03d}" for i in range(40)]
    start = pd.Timestamp("2024-01-01").value
    tx = pd.DataFrame({
        "customer_id": rng.choice(customers, 50),
        "timestamp": pd.to_datetime(start + rng.integers(0, 200 * NS_DAY, 50)),
        "amount": rng.gamma(2.0, 30.0, 50),
        "category": rng.choice(["home", "beauty", "food"], 50),
    })
    events = pd.DataFrame({
        "customer_id": rng.choice(customers, n_events),
        # half at midnight: on the first instant of a window and on its end
        "timestamp": pd.to_datetime(start + np.where(rng.random(n_events) < 0.5, rng.integers(0, 200, n_events) * NS_DAY,
                                                     rng.integers(0, 200 * NS_DAY, n_events))),
        "event_type": rng.choice(TYPES[:4], n_events),  # coupon_claim never happens
        "category": rng.choice(["home", "beauty", "food", ""], n_events),
    })
    return TagInputs(tx, events)


def rows_by_scanning_every_event(inputs: TagInputs, event, end: int, window_days: int) -> np.ndarray:
    """The selection as it was written before: every event's type and time tested on each call."""
    wanted = np.flatnonzero(np.isin(inputs.e_types, event))
    mask = np.isin(inputs.e_type, wanted) & (inputs.e_ts < end) & (inputs.e_ts >= end - window_days * NS_DAY)
    return np.flatnonzero(mask)


@pytest.mark.parametrize("n_events", [0, 1, 500])
def test_events_in_a_window_are_the_rows_a_scan_of_every_event_finds(n_events):
    rng = np.random.default_rng(n_events)
    inputs = random_inputs(rng, n_events)
    for event in ("view", ("view",), ("favourite", "add_to_cart"), ("coupon_claim",), ("no_such_type",), ()):
        for day in ("2024-01-01", "2024-02-15", "2024-04-30", "2024-07-19", "2025-01-01"):
            end = pd.Timestamp(day).value + NS_DAY
            for window_days in (1, 7, 30, 90, 100_000):
                rows, ts = inputs._events_in(event, end, window_days)
                expected = rows_by_scanning_every_event(inputs, event, end, window_days)
                np.testing.assert_array_equal(rows, expected)
                np.testing.assert_array_equal(ts, inputs.e_ts[expected])


def test_tags_at_a_date_do_not_depend_on_what_was_tagged_before():
    from helpers.studies.tags.engine import library_from_mapping

    library = library_from_mapping({"tags": [
        {"id": "interest", "kind": "behaviour", "name": "i", "definition": "d", "event": "view",
         "per_category": True, "min_count": 2, "within_days": 7, "lookback_days": 30},
        {"id": "carts", "kind": "rule", "name": "c", "definition": "d", "metric": "events", "event": "add_to_cart",
         "window_days": 60, "min": 1},
    ]})
    rng = np.random.default_rng(7)
    warm = random_inputs(rng, 800)
    cold = TagInputs.__new__(TagInputs)
    cold.__dict__.update(warm.__dict__)
    for day in ("2024-03-31", "2024-05-31", "2024-06-30"):
        cold._event_rows = {}  # nothing kept from earlier dates
        pd.testing.assert_frame_equal(warm.tags_at(library, day), cold.tags_at(library, day))


@pytest.mark.parametrize("ids, known", [
    (pd.Series(["a", "b", "c", "a", None], dtype="str"), pd.Index(["a", "c", "z"], dtype="str")),
    (pd.Series(["a", "b", "c", "a", None], dtype=object), pd.Index(["a", "a", "c"], dtype=object)),  # repeated ids
    (pd.Series([1, 2, 3]), pd.Index(["1", "2"], dtype="str")),  # numbers are not their text
    (pd.Series(["a", None], dtype=object), pd.Index(["a", None], dtype=object)),  # a missing id matches a missing id
    (pd.Series([], dtype="str"), pd.Index(["a"], dtype="str")),
    (pd.Series(["a", "b"], dtype="str"), pd.Index([], dtype="str")),
])
def test_has_id_is_isin(ids, known):
    np.testing.assert_array_equal(has_id(ids, known), ids.isin(known).to_numpy())


@pytest.mark.parametrize("values", [
    ["champions", None, "loyal", "champions", np.nan, "nan"],  # missing values, and the text "nan"
    [3, 1, None, 3, 2, 1],  # numbers: one column per number's text
    [None] * 6,  # no value: no column
])
def test_per_value_model_tags_are_one_column_per_value_of_present_customers(values):
    from helpers.studies.tags.engine import library_from_mapping

    ids = [f"c{i}" for i in range(6)]
    models = pd.DataFrame({"customer_id": ids, "segment": pd.Series(values, dtype=object)})
    tx = pd.DataFrame({"customer_id": ids, "timestamp": pd.to_datetime(["2024-01-02"] * 6), "amount": 10.0})
    library = library_from_mapping({"tags": [
        {"id": "seg", "kind": "model", "name": "s", "definition": "d", "column": "segment", "per_value": True}]})
    flags = TagInputs(tx, models=models).tags_at(library, "2024-03-31")
    series = models.set_index("customer_id")["segment"]
    expected = {f"seg:{v}": ((series.astype(str) == v) & series.notna()).to_numpy()
                for v in sorted(series.dropna().astype(str).unique())}
    assert list(flags.columns) == list(expected)
    for column, flag in expected.items():
        np.testing.assert_array_equal(flags[column].to_numpy(), flag)


def shares_through_numpy(codes: pd.Series, groups: pd.Series, weights: pd.Series | None = None) -> pd.DataFrame:
    """The portrait shares as computed before: the columns through NumPy arrays."""
    frame = pd.DataFrame({"g": groups.to_numpy(), "v": codes.to_numpy(),
                          "w": 1.0 if weights is None else weights.to_numpy()})
    table = frame.groupby(["g", "v"], observed=True)["w"].sum().unstack(fill_value=0.0)
    return table.div(table.sum(axis=1), axis=0)


@pytest.mark.parametrize("dtype", ["str", object, "category"])
def test_portrait_shares_are_the_same_table_as_through_numpy(dtype):
    from helpers.studies.tags.analysis import _shares

    rng = np.random.default_rng(3)
    n = 400
    index = pd.Index(rng.permutation(n) + 1000)  # not a range: the columns pair up by position
    groups = pd.Series(rng.choice(["loyal", "new", "at_risk"], n), index=index, dtype=dtype)
    values = pd.Series(rng.choice(["store", "app", "mini_program", None], n), index=index, dtype=dtype)
    hours = pd.Series(rng.integers(0, 24, n).astype(np.int32), index=index)
    weights = pd.Series(rng.gamma(1.0, 50.0, n) * (rng.random(n) > 0.2), index=index)
    for got, expected in (
        (_shares(values, groups), shares_through_numpy(values, groups)),
        (_shares(values, groups, weights), shares_through_numpy(values, groups, weights)),
        (_shares(hours, groups), shares_through_numpy(hours, groups)),
        (_shares(values, pd.Series("_all", index=index)), shares_through_numpy(values, pd.Series("_all", index=index))),
    ):
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
