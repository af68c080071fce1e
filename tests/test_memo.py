"""helpers.memo: results shared between the notebooks one kernel runs, keyed by content."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from helpers import memo


@pytest.fixture
def sharing(monkeypatch):
    monkeypatch.setenv(memo.ENV, "1")
    memo.clear()
    yield
    memo.clear()


def counted():
    calls = []

    @memo.shared
    def summarise(frame, factor=1.0, *, label="x"):
        calls.append(1)
        return {"total": float(frame["amount"].sum()) * factor, "frame": frame.copy(), "label": label}

    return summarise, calls


def frame(values=(1.0, 2.0, 3.0)):
    return pd.DataFrame({"customer": ["a", "b", "c"][: len(values)], "amount": list(values)})


def test_off_without_the_variable(monkeypatch):
    monkeypatch.delenv(memo.ENV, raising=False)
    summarise, calls = counted()
    summarise(frame())
    summarise(frame())
    assert len(calls) == 2


def test_equal_arguments_compute_once_and_hand_out_copies(sharing):
    summarise, calls = counted()
    first = summarise(frame(), 2.0, label="x")
    first["frame"].loc[0, "amount"] = 999.0  # a notebook changing its result in place
    second = summarise(frame(), factor=2.0)  # the same call, written differently
    assert len(calls) == 1
    assert second["total"] == 12.0
    assert second["frame"]["amount"].tolist() == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(
    "other",
    [
        lambda f: f.assign(amount=[1.0, 2.0, 4.0]),  # a value
        lambda f: f.rename(columns={"amount": "spend"}).rename(columns={"spend": "amount"}).astype({"amount": "float32"}),
        lambda f: f.set_axis([5, 6, 7]),  # the index
        lambda f: f[["amount", "customer"]],  # column order
    ],
)
def test_different_frames_compute_again(sharing, other):
    summarise, calls = counted()
    summarise(frame())
    summarise(other(frame()))
    assert len(calls) == 2


def test_a_file_argument_counts_with_its_state(sharing, tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n")
    calls = []

    @memo.shared
    def read(p):
        calls.append(1)
        return pd.read_csv(p)

    read(str(path))
    read(str(path))
    assert len(calls) == 1
    path.write_text("a\n1\n2\n")
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
    assert len(read(str(path))) == 2
    assert len(calls) == 2


def test_arguments_named_by_name_only_ignore_what_the_call_writes_there(sharing, tmp_path):
    calls = []

    @memo.shared(by_name=("cache_dir",))
    def load(data, *, cache_dir):
        calls.append(1)
        (tmp_path / "cache").mkdir(exist_ok=True)
        (tmp_path / "cache" / f"{len(calls)}.txt").write_text("x")
        return data

    load(1, cache_dir=str(tmp_path / "cache"))
    load(1, cache_dir=str(tmp_path / "cache"))
    assert len(calls) == 1


def test_the_decimal_mark_is_not_the_working_folder(sharing, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    calls = []

    @memo.shared
    def parse(text, decimal="."):
        calls.append(1)
        return text.replace(decimal, "")

    parse("1.5")
    (tmp_path / "new.txt").write_text("written by the first page")
    parse("1.5")
    assert len(calls) == 1


def test_functions_count_by_code_and_closure(sharing):
    calls = []

    @memo.shared
    def apply(func, x):
        calls.append(1)
        return func(x)

    def adder(n):
        return lambda x: x + n

    assert apply(adder(1), 1) == 2
    assert apply(adder(1), 1) == 2
    assert apply(adder(2), 1) == 3
    assert len(calls) == 2


class Unpicklable:
    def __init__(self, value):
        self.value = value
        self.again = lambda: value  # what keeps a lifetimes fitter from pickling
        self.me = self


@dataclass
class Keyed:
    value: int
    noise: object

    def __memo_key__(self):
        return (self.value,)


def test_objects_that_do_not_pickle_count_by_their_attributes(sharing):
    calls = []

    @memo.shared
    def use(obj):
        calls.append(1)
        return obj.value

    use(Unpicklable(1))
    use(Unpicklable(1))
    use(Unpicklable(2))
    use(Keyed(3, object()))
    use(Keyed(3, object()))  # __memo_key__ ignores the noise
    assert len(calls) == 3


def test_uncomparable_arguments_compute_every_time(sharing, tmp_path):
    calls = []

    @memo.shared
    def size(handle):
        calls.append(1)
        return 1

    with open(tmp_path / "f", "w") as handle:
        size(handle)
        size(handle)
    assert len(calls) == 2
    assert memo.stats["unkeyed"] == 2


def test_arrays_and_nested_values(sharing):
    calls = []

    @memo.shared
    def total(values, options):
        calls.append(1)
        return float(np.sum(values))

    total(np.arange(5.0), {"a": [1, (2, 3)], "b": {4}})
    total(np.arange(5.0), {"a": [1, (2, 3)], "b": {4}})
    total(np.arange(5.0), {"a": [1, (2, 4)], "b": {4}})
    total(np.arange(5), {"a": [1, (2, 3)], "b": {4}})  # another dtype
    assert len(calls) == 3


def test_a_fitted_model_with_a_lambda_is_keyed_by_its_estimates(sharing):
    import copy

    from helpers.models import lifetimes_adapter as la

    from lifetimes.generate_data import beta_geometric_nbd_model

    np.random.seed(3)
    data = beta_geometric_nbd_model(30, 0.25, 4.0, 0.8, 2.5, size=2000)
    model = la.fit_transaction_model("bgnbd", data["frequency"], data["recency"], data["T"])
    part = data.iloc[:1500]
    other = la.fit_transaction_model("bgnbd", part["frequency"], part["recency"], part["T"])
    key = memo.call_key(la.fit_transaction_model, ("x", model, 0, 0), {})
    assert key is not None
    assert key == memo.call_key(la.fit_transaction_model, ("x", copy.deepcopy(model), 0, 0), {})
    assert key != memo.call_key(la.fit_transaction_model, ("x", other, 0, 0), {})
