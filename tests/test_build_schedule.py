"""How the build orders and groups its runs (issue 17): the language versions of a page
share a kernel, and the longest batches start first."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

from helpers.site.build import batches, previous_durations, schedule
from helpers.site.cache import RunCache


def job(name: str, study: str, lang: str = "en", expected_seconds: float | None = None):
    page = SimpleNamespace(name=name, study_name=study, lang=lang, group=(study, ""), expected_seconds=expected_seconds)
    return SimpleNamespace(page=page)


def names(groups):
    return [[j.page.name for j in batch] for batch in groups]


def test_the_language_versions_of_a_page_share_a_batch_in_config_order():
    jobs = [job("a", "a"), job("a-zh-CN", "a", "zh-CN"), job("b", "b"), job("c-zh-CN", "c", "zh-CN")]
    assert names(batches(None, jobs)) == [["a", "a-zh-CN"], ["b"], ["c-zh-CN"]]


def test_longest_batches_start_first():
    groups = batches(None, [job("short", "s"), job("long", "l"), job("long-zh-CN", "l", "zh-CN"), job("mid", "m")])
    order = schedule(groups, {"short": 4.0, "long": 30.0, "long-zh-CN": 5.0, "mid": 20.0})
    assert names(order) == [["long", "long-zh-CN"], ["mid"], ["short"]]


def test_a_page_that_never_ran_counts_as_longest_and_ties_keep_config_order():
    groups = batches(None, [job("a", "a"), job("new", "n"), job("b", "b"), job("other", "o")])
    order = schedule(groups, {"a": 10.0, "b": 10.0})
    assert names(order) == [["new"], ["other"], ["a"], ["b"]]


def test_pages_that_never_ran_go_by_the_configs_hint_longest_first():
    # a fresh clone: no run times, so the hints alone decide; a page without a hint might be longest
    jobs = [job("short", "s", expected_seconds=5.0), job("long", "l", expected_seconds=80.0),
            job("long-zh-CN", "l", "zh-CN", expected_seconds=80.0), job("unknown", "u"), job("mid", "m", expected_seconds=30.0)]
    assert names(schedule(batches(None, jobs), {})) == [["unknown"], ["long", "long-zh-CN"], ["mid"], ["short"]]
    # a measured run time wins over the hint once every page of the batch has one
    assert names(schedule(batches(None, jobs[:3] + jobs[4:]), {"long": 3.0, "long-zh-CN": 1.0, "short": 50.0})) == [
        ["short"], ["mid"], ["long", "long-zh-CN"],
    ]


def test_previous_durations_come_from_the_most_recently_used_run(tmp_path: Path):
    cache = RunCache(tmp_path / "cache")
    for key, page, duration, used in [("k1", "a", 50.0, 100), ("k2", "a", 20.0, 200), ("k3", "b", 7.5, 100), ("k4", "c", None, 100)]:
        folder = cache.folder / key
        folder.mkdir(parents=True)
        (folder / "meta.json").write_text(json.dumps({"page": page, "duration": duration}))
        os.utime(folder / "meta.json", (used, used))
    (cache.folder / "k5").mkdir()
    (cache.folder / "k5" / "meta.json").write_text("not json")
    assert previous_durations(cache) == {"a": 20.0, "b": 7.5}
    assert previous_durations(RunCache(tmp_path / "none")) == {}


class FakeSession:
    """Stands in for helpers.site.run.KernelSession: records what the build asks of it."""

    made: list = []

    def __init__(self, cwd, shared=False, memo_dir=None):
        self.events: list = []
        self.memo_dir = memo_dir
        FakeSession.made.append(self)

    def new_group(self, *, shared):
        self.events.append(("group", shared))

    def restart(self):
        self.events.append(("restart",))

    def close(self):
        self.events.append(("close",))


def test_each_worker_keeps_one_kernel_for_all_its_batches(monkeypatch, tmp_path: Path):
    import helpers.site.build as build_module
    import helpers.site.run as run_module

    FakeSession.made = []
    monkeypatch.setattr(run_module, "KernelSession", FakeSession)

    def fake_run(config, job, cache, session=None):
        session.events.append(("run", job.page.name))
        if job.page.name == "broken":
            raise RuntimeError("the page failed")

    monkeypatch.setattr(build_module, "_run", fake_run)
    config = SimpleNamespace(root=tmp_path, build=tmp_path / "build", study_of=lambda page: SimpleNamespace(parallel=True),
                             relative=str)
    jobs = [job("a", "a"), job("a-zh-CN", "a", "zh-CN"), job("broken", "b"), job("c", "c"), job("d", "d")]
    for j in jobs:
        j.outputs = [tmp_path / j.page.name]
        j.page.notebook = f"{j.page.study_name}.ipynb"
    results: dict = {}
    ui = SimpleNamespace(finished=lambda page, result: None)
    build_module._run_all(config, jobs, RunCache(tmp_path / "cache"), 2, results, {}, ui, debug=False)

    assert len(FakeSession.made) == 2  # one kernel per worker, not one per batch
    assert {s.memo_dir for s in FakeSession.made} == {tmp_path / "build" / "memo"}  # kernels share loads there
    runs = [e for s in FakeSession.made for e in s.events if e[0] == "run"]
    assert sorted(name for _, name in runs) == sorted(j.page.name for j in jobs)
    for session in FakeSession.made:
        assert session.events[-1] == ("close",)  # every kernel shut down at the end
        for i, event in enumerate(session.events):
            if event[0] == "group":  # each batch announces itself: sharing only for a page's languages
                assert event[1] == (session.events[i + 1] == ("run", "a"))
            if event == ("run", "broken"):
                assert session.events[i + 1] == ("restart",)  # a failed page leaves no state behind
    assert {name for name, r in results.items() if not r.ok} == {"broken"}
