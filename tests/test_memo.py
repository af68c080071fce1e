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


# ------------------------------------------------------------------- results on disk


@pytest.fixture
def on_disk(sharing, monkeypatch, tmp_path):
    folder = tmp_path / "memo"
    monkeypatch.setenv(memo.DIR_ENV, str(folder))
    return folder


def counted_on_disk():
    calls = []

    @memo.shared(disk=True)
    def load(path, *, notebook="x"):
        calls.append(notebook)
        return {"text": open(path, encoding="utf-8").read(), "frame": frame()}

    return load, calls


def test_another_kernel_reads_the_result_from_disk(on_disk, tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    load, calls = counted_on_disk()
    first = load(str(tmp_path / "t.csv"))
    memo.clear()  # a new kernel: nothing in memory
    second = load(str(tmp_path / "t.csv"))
    assert calls == ["x"] and memo.stats["disk_hits"] == 1
    assert second["text"] == first["text"] and second["frame"].equals(first["frame"])
    second["frame"].loc[0, "amount"] = 999.0  # in place: the next page still gets the kept result
    assert load(str(tmp_path / "t.csv"))["frame"]["amount"].tolist() == [1.0, 2.0, 3.0]
    assert len(list(on_disk.glob("*.pickle"))) == 1 and not list(on_disk.glob("*.tmp"))


def test_disk_results_follow_the_input_file_the_arguments_and_the_code(on_disk, tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n", encoding="utf-8")
    load, calls = counted_on_disk()
    load(str(path))
    path.write_text("a\n12\n", encoding="utf-8")  # the file changes
    memo.clear()
    assert load(str(path))["text"] == "a\n12\n" and len(calls) == 2
    memo.clear()
    load(str(path), notebook="kpi")  # another argument
    assert len(calls) == 3
    memo.clear()
    monkeypatch.setattr(memo, "code_version", lambda: "other code")
    load(str(path))
    assert len(calls) == 4


def test_an_unreadable_disk_result_is_computed_again(on_disk, tmp_path):
    (tmp_path / "t.csv").write_text("a\n1\n", encoding="utf-8")
    load, calls = counted_on_disk()
    load(str(tmp_path / "t.csv"))
    [kept] = on_disk.glob("*.pickle")
    kept.write_bytes(b"truncated")
    memo.clear()
    assert load(str(tmp_path / "t.csv"))["text"] == "a\n1\n" and len(calls) == 2
    memo.clear()
    load(str(tmp_path / "t.csv"))
    assert len(calls) == 2  # rewritten whole by the second computation


def test_disk_results_are_pruned_least_recently_used_first(on_disk, tmp_path, monkeypatch):
    load, calls = counted_on_disk()
    kept = {}
    for i in range(3):  # three results, written a second apart
        path = tmp_path / f"t{i}.csv"
        path.write_text("x" * 1000, encoding="utf-8")
        seen = set(on_disk.glob("*.pickle")) if on_disk.exists() else set()
        load(str(path))
        [kept[i]] = set(on_disk.glob("*.pickle")) - seen
        os.utime(kept[i], ns=(10**18 + i * 10**9,) * 2)
    monkeypatch.setattr(memo, "DISK_BYTES", 3 * max(p.stat().st_size for p in kept.values()))
    memo.clear()
    load(str(tmp_path / "t0.csv"))  # read: t0 is now the most recently used, t1 the least
    assert len(calls) == 3 and kept[0].stat().st_mtime_ns > 10**18 + 2 * 10**9
    (tmp_path / "t3.csv").write_text("x" * 1000, encoding="utf-8")
    load(str(tmp_path / "t3.csv"))  # four results over a limit of three
    assert not kept[1].exists() and kept[0].exists() and kept[2].exists()
    assert len(list(on_disk.glob("*.pickle"))) == 3


def test_nothing_is_written_without_disk_or_without_sharing(on_disk, tmp_path, monkeypatch):
    (tmp_path / "t.csv").write_text("a\n1\n", encoding="utf-8")

    @memo.shared
    def in_memory(path):
        return path

    in_memory(str(tmp_path / "t.csv"))
    monkeypatch.delenv(memo.ENV)
    load, _ = counted_on_disk()
    load(str(tmp_path / "t.csv"))
    assert not on_disk.exists()


def test_every_page_loading_the_transactions_shares_one_validated_result(on_disk, tmp_path):
    """Pages name their notebook and write "" or {} for "none": one call all the same, read from
    disk by the other kernels, equal to the file loaded afresh; a page's needs are still checked."""
    from helpers.data import tables_io
    from helpers.errors import DataError

    path = tmp_path / "transactions.csv"
    pd.DataFrame({"customer_id": ["a", "a", "b", "c", "c"],
                  "timestamp": ["2024-01-02", "2024-01-05 10:00", "2024-01-03", "2024-02-01", "2024-02-01"],
                  "amount": [10.0, -2.5, 7.0, 3.0, 3.0]}).to_csv(path, index=False)
    memo.clear()
    fresh = tables_io.load_transactions(str(path), notebook="kpi", observation_end="2024-01-31")
    memo.clear()
    kept = tables_io.load_transactions(str(path), {}, notebook="customer_base", encoding="", timezone="",
                                       observation_end="2024-01-31", returns_policy="drop")
    assert memo.stats == {"hits": 0, "misses": 0, "unkeyed": 0, "disk_hits": 1}
    pd.testing.assert_frame_equal(kept.transactions, fresh.transactions, check_exact=True)
    assert kept.report.to_dict() == fresh.report.to_dict() and kept.columns == fresh.columns
    with pytest.raises(DataError, match="channel"):
        tables_io.load_transactions(str(path), notebook="omnichannel", observation_end="2024-01-31", needs=["channel"])
