"""The run cache: what counts as an input, the key, and a build that skips unchanged runs."""

from __future__ import annotations

import hashlib
import os

import pytest

from helpers.site.build import build
from helpers.site.cache import (
    RunCache,
    data_hash,
    embedded_data_path,
    file_digest,
    input_paths,
    is_output_parameter,
    run_key,
    tree_digest,
)
from helpers.site.config import load_config

from ._playbook_repo import demo_study, make_repo, site_config


def test_file_and_tree_digests(tmp_path):
    a = tmp_path / "d" / "a.csv"
    a.parent.mkdir()
    a.write_bytes(b"x,y\n1,2\n")
    assert file_digest(a) == hashlib.sha256(b"x,y\n1,2\n").hexdigest()
    (tmp_path / "d" / "sub").mkdir()
    (tmp_path / "d" / "sub" / "b.csv").write_bytes(b"b")
    first = tree_digest(tmp_path / "d")
    (tmp_path / "d" / ".DS_Store").write_bytes(b"junk")  # hidden files do not count
    assert tree_digest(tmp_path / "d") == first
    os.utime(a, (1, 1))  # nor do times
    assert tree_digest(tmp_path / "d") == first
    (tmp_path / "d" / "sub" / "b.csv").write_bytes(b"B")  # content does
    second = tree_digest(tmp_path / "d")
    assert second != first
    (tmp_path / "d" / "sub" / "b.csv").rename(tmp_path / "d" / "sub" / "c.csv")  # and names
    assert tree_digest(tmp_path / "d") != second


def test_inputs_are_existing_paths_in_parameters_but_not_outputs(tmp_path):
    root = tmp_path / "repo"
    (root / "data" / "parts").mkdir(parents=True)
    (root / "data" / "orders.csv").write_text("a\n")
    (root / "data" / "parts" / "p1.csv").write_text("b\n")
    (root / "build").mkdir()
    params = {
        "data_path": "data/orders.csv",
        "extra": {"folder": "data/parts", "list": ["data/orders.csv", "no/such/file.csv"]},
        "output_dir": "data/parts",  # an output, even though it exists
        "label": "North",
        "here": ".",
        "build_dir": "build",
        "whole_repo": str(root),
        "empty": "",
    }
    found = input_paths(params, root, exclude=[root / "build"])
    assert found == [(root / "data" / "orders.csv").resolve(), (root / "data" / "parts").resolve()]
    assert is_output_parameter("output_dir") and is_output_parameter("out_path") and is_output_parameter("outputs")
    assert not is_output_parameter("data_path") and not is_output_parameter("outlet") and not is_output_parameter("layout")


def test_empty_data_path_means_the_embedded_data(tmp_path):
    embedded = embedded_data_path()
    assert embedded is not None and embedded.name == "CDNOW_master.txt"
    assert input_paths({"data_path": ""}, tmp_path) == [embedded]
    assert input_paths({"region": ""}, tmp_path) == []


def test_run_key_changes_with_each_part(tmp_path):
    nb = tmp_path / "n.ipynb"
    nb.write_text("{}")
    base = run_key(nb, {"a": 1, "b": [1, 2]}, "d", "c")
    assert run_key(nb, {"b": [1, 2], "a": 1}, "d", "c") == base  # canonical JSON
    assert run_key(nb, {"a": 2, "b": [1, 2]}, "d", "c") != base
    assert run_key(nb, {"a": 1, "b": [1, 2]}, "e", "c") != base
    assert run_key(nb, {"a": 1, "b": [1, 2]}, "d", "other code") != base
    nb.write_text("{ }")
    assert run_key(nb, {"a": 1, "b": [1, 2]}, "d", "c") != base
    f = tmp_path / "x.csv"
    f.write_text("1")
    assert data_hash([f], tmp_path) != data_hash([], tmp_path)


def test_cache_entry_needs_its_outputs_and_prunes_old_runs(tmp_path):
    executed = tmp_path / "e.ipynb"
    executed.write_text("{}")
    cache = RunCache(tmp_path / "cache")
    for i in range(5):
        cache.put(f"k{i}", executed, {"page": "p"})
        os.utime(tmp_path / "cache" / f"k{i}" / "meta.json", (1000 + i, 1000 + i))
    assert cache.get("k4") is not None
    assert cache.get("k4", require=[tmp_path / "missing"]) is None
    assert cache.get("nope") is None
    cache.prune(keep={"k0"}, per_page=2)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["k0", "k3", "k4"]


@pytest.mark.slow
def test_second_build_skips_the_run_until_data_changes_or_forced(tmp_path):
    data = tmp_path / "data" / "orders.csv"
    data.parent.mkdir(parents=True)
    data.write_text("amount\n1.5\n2.5\n", encoding="utf-8")
    study = demo_study(parameters={"data_path": "data/orders.csv", "output_dir": "build/outputs/demo"})
    config = load_config(make_repo(tmp_path, site_config(study)))
    log = tmp_path / "build" / "outputs" / "demo" / "runs.log"
    executed = tmp_path / "build" / "executed" / "demo.ipynb"
    page = tmp_path / "site" / "demo.html"

    def run(**kwargs):
        result = build(config, progress=False, out=open(os.devnull, "w"), **kwargs)
        assert all(r.ok for r in result.pages), [r.error for r in result.pages]
        return result.pages[0]

    first = run()
    assert not first.cached and len(log.read_text().splitlines()) == 1
    mtime = executed.stat().st_mtime_ns
    assert "4.00" in page.read_text(encoding="utf-8")

    second = run()
    assert second.cached
    assert len(log.read_text().splitlines()) == 1  # the notebook did not run
    assert executed.stat().st_mtime_ns == mtime
    assert "Reused from the build cache" in page.read_text(encoding="utf-8")

    os.utime(data)  # touched, same content: the key is the content
    assert run().cached

    data.write_text("amount\n1.5\n2.5\n6.0\n", encoding="utf-8")
    third = run()
    assert not third.cached and len(log.read_text().splitlines()) == 2
    assert "10.00" in page.read_text(encoding="utf-8")

    assert not run(force=True).cached
    assert len(log.read_text().splitlines()) == 3


def test_data_hash_reads_each_input_once_per_build_with_the_same_result(tmp_path, monkeypatch):
    import helpers.site.cache as cache_mod

    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "transactions.csv").write_text("customer_id,timestamp,amount\na,2024-01-01,1\n")
    file = folder / "transactions.csv"
    plain = [data_hash([folder], tmp_path), data_hash([file], tmp_path), data_hash([folder, file], tmp_path)]
    read = []
    real = cache_mod.file_digest
    monkeypatch.setattr(cache_mod, "file_digest", lambda path: read.append(path) or real(path))
    digests: dict = {}
    kept = [data_hash([folder], tmp_path, digests), data_hash([file], tmp_path, digests),
            data_hash([folder, file], tmp_path, digests)]
    assert kept == plain  # the same keys as without the shared digests
    assert sorted(read) == [file, file]  # once inside the folder, once as a file; not again for the third page
