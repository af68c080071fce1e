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
