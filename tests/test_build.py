"""The `python -m helpers build` command and its config."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import build as build_mod
from helpers.build import (
    EMBEDDED_DATA_SOURCE,
    apply_overrides,
    data_source_for,
    find_config,
    load_config,
    main,
)
from helpers.errors import ConfigError

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]


def make_repo(root: Path, pages: list[dict] | None = None, **top) -> Path:
    """A throw-away repo: playbooks/playbooks.yaml plus the fixture notebooks."""
    (root / "notebooks").mkdir(parents=True, exist_ok=True)
    for nb in ("report.ipynb", "failing.ipynb"):
        shutil.copy(FIXTURES / nb, root / "notebooks" / nb)
    config = {
        "output": "playbooks/site",
        "build": "build",
        "pages": pages
        if pages is not None
        else [
            {
                "name": "report",
                "title": "Fixture report",
                "notebook": "notebooks/report.ipynb",
                "parameters": {"region": "West", "output_dir": "build/outputs/report"},
            }
        ],
        **top,
    }
    return write_config(root, config)


def write_config(root: Path, config) -> Path:
    path = root / "playbooks" / "playbooks.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(config if isinstance(config, str) else yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


# ------------------------------------------------------------------- config


def test_repo_config_is_valid_yaml_with_the_clv_page():
    raw = yaml.safe_load((REPO / "playbooks" / "playbooks.yaml").read_text(encoding="utf-8"))
    assert raw["output"] == "playbooks/site" and raw["build"] == "build"
    assert raw["pages"] == [
        {
            "name": "clv",
            "title": "Customer lifetime value",
            "notebook": "notebooks/clv.ipynb",
            "parameters": {"output_dir": "build/outputs/clv"},
        }
    ]


def test_paths_resolve_from_the_repo_root_wherever_we_run(tmp_path, monkeypatch):
    config_path = make_repo(tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(config_path)
    root = (tmp_path / "repo").resolve()
    assert config.root == root
    assert config.output == root / "playbooks" / "site"
    assert config.build == root / "build"
    assert config.pages[0].notebook == root / "notebooks" / "report.ipynb"
    assert config.pages[0].parameters == {"region": "West", "output_dir": "build/outputs/report"}


def test_find_config_looks_upwards(tmp_path):
    config_path = make_repo(tmp_path)
    deep = tmp_path / "notebooks" / "sub"
    deep.mkdir()
    assert find_config(deep) == config_path.resolve()
    with pytest.raises(ConfigError, match="pass --config"):
        find_config(tmp_path.parent / "no-such-place-here")


@pytest.mark.parametrize(
    "config, message",
    [
        ({"output": "s", "build": "b", "pages": [], "colour": 1}, r"unknown key 'colour'"),
        ({"output": "s", "build": "b", "pages": []}, r"'pages' must be a list with at least one page"),
        ({"build": "b", "pages": [{}]}, r"'output' must be a folder path"),
        (
            {"output": "s", "build": "b", "pages": [{"name": "a", "title": "A", "notebook": "notebooks/report.ipynb", "params": {}}]},
            r"pages\[0\] \(a\): unknown key 'params'",
        ),
        (
            {"output": "s", "build": "b", "pages": [{"name": "a", "title": "A", "notebook": "notebooks/nope.ipynb"}]},
            r"pages\[0\] \(a\): notebook not found: notebooks/nope.ipynb",
        ),
        (
            {
                "output": "s",
                "build": "b",
                "pages": [
                    {"name": "a", "title": "A", "notebook": "notebooks/report.ipynb"},
                    {"name": "a", "title": "B", "notebook": "notebooks/failing.ipynb"},
                ],
            },
            r"pages\[1\] \(a\): page name 'a' is already used by pages\[0\]",
        ),
        ({"output": "s", "build": "b", "pages": [{"name": "a", "notebook": "notebooks/report.ipynb"}]}, r"'title' is missing"),
        (
            {"output": "s", "build": "b", "pages": [{"name": "a b", "title": "A", "notebook": "notebooks/report.ipynb"}]},
            r"may only use letters, digits",
        ),
        (
            {"output": "s", "build": "b", "pages": [{"name": "a", "title": "A", "notebook": "notebooks/report.ipynb", "parameters": [1]}]},
            r"'parameters' must be a mapping",
        ),
        ("output: s\npages: [\n", r"not valid YAML \(line \d+, column \d+\)"),
    ],
)
def test_bad_configs_are_config_errors(tmp_path, config, message):
    make_repo(tmp_path)
    path = write_config(tmp_path, config)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "playbooks" / "playbooks.yaml")


def test_set_overrides_are_typed_yaml(tmp_path):
    config = load_config(make_repo(tmp_path))
    config = apply_overrides(
        config,
        ["report.n_customers=7", "report.region=", "report.output_dir=build/x y", "report.cutoff=2024-01-31", "report.flags=[a, 2]"],
    )
    assert config.pages[0].parameters == {
        "region": None,
        "output_dir": "build/x y",
        "n_customers": 7,
        "cutoff": "2024-01-31",
        "flags": ["a", 2],
    }
    with pytest.raises(ConfigError, match="no page named 'clv'"):
        apply_overrides(config, ["clv.x=1"])
    with pytest.raises(ConfigError, match="expected NAME.PARAM=VALUE"):
        apply_overrides(config, ["report=1"])


def test_data_source():
    assert data_source_for({"data_path": "data/orders.csv"}) == "data/orders.csv"
    assert data_source_for({"data_path": ""}) == EMBEDDED_DATA_SOURCE
    assert data_source_for({"data_path": None}) == EMBEDDED_DATA_SOURCE
    assert data_source_for({}) == EMBEDDED_DATA_SOURCE


# ---------------------------------------------------------- command, no kernel


def test_cli_unknown_page_and_unknown_parameter(tmp_path, capsys):
    config_path = make_repo(tmp_path)
    assert main(["build", "--config", str(config_path), "--only", "nope"]) == 2
    assert "no page named 'nope'" in capsys.readouterr().err

    # a typo in a parameter fails the page before any kernel starts
    assert main(["build", "--config", str(config_path), "--set", "report.regoin=x"]) == 1
    captured = capsys.readouterr()
    assert "no parameter 'regoin'" in captured.out
    assert "report: " in captured.err and "1 of 1 page failed" in captured.err
    assert not (tmp_path / "playbooks" / "site" / "report.html").exists()
    assert (tmp_path / "playbooks" / "site" / "index.html").exists()
    assert not list((tmp_path / "playbooks").glob(".site-*"))  # staging folder cleaned up


def test_cli_unexpected_error_hides_traceback_unless_debug(tmp_path, capsys, monkeypatch):
    config_path = make_repo(tmp_path)

    def boom(*args, **kwargs):
        raise RuntimeError("something broke")

    monkeypatch.setattr(build_mod, "load_config", boom)
    assert main(["build", "--config", str(config_path)]) == 3
    err = capsys.readouterr().err
    assert "unexpected RuntimeError: something broke" in err
    assert "re-run with --debug for the traceback" in err
    assert "Traceback" not in err
    assert main(["build", "--config", str(config_path), "--debug"]) == 3
    assert "Traceback" in capsys.readouterr().err


def test_cli_bad_config_exits_2_without_traceback(tmp_path):
    make_repo(tmp_path)
    write_config(tmp_path, {"output": "s", "build": "b", "pages": [{"name": "x", "title": "X", "notebook": "notebooks/missing.ipynb"}]})
    result = run_cli("build", "--config", str(tmp_path / "playbooks" / "playbooks.yaml"), cwd=tmp_path)
    assert result.returncode == 2
    assert "notebook not found: notebooks/missing.ipynb" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


# ----------------------------------------------------------- command, kernels


@pytest.mark.slow
def test_cli_build_then_failed_rebuild_keeps_previous_page(tmp_path):
    repo = tmp_path / "repo"
    config_path = make_repo(repo)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    # 1. a good build, run from outside the repo
    result = run_cli("build", "--config", str(config_path), cwd=elsewhere)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[1/1] report: running notebooks/report.ipynb … done in" in result.stdout
    assert "-> " in result.stdout and "report.html" in result.stdout
    site = repo / "playbooks" / "site"
    page = site / "report.html"
    html = page.read_text(encoding="utf-8")
    assert "Fixture report" in html and "West" in html
    assert EMBEDDED_DATA_SOURCE in html  # no data_path parameter
    assert (repo / "build" / "executed" / "report.ipynb").is_file()
    # parameter paths resolve from the repo root, not from where the command ran
    assert (repo / "build" / "outputs" / "report" / "table.csv").is_file()
    index = (site / "index.html").read_text(encoding="utf-8")
    assert '<a href="report.html">Fixture report</a>' in index
    assert "<script" not in index and "http" not in index
    before = page.read_bytes()

    # 2. the same page now fails (and a second page still gets built)
    write_config(
        repo,
        {
            "output": "playbooks/site",
            "build": "build",
            "pages": [
                {"name": "report", "title": "Fixture report", "notebook": "notebooks/failing.ipynb", "parameters": {"data_path": "data/tx.csv"}},
                {"name": "second", "title": "Second page", "notebook": "notebooks/report.ipynb"},
            ],
        },
    )
    result = run_cli("build", "--config", str(config_path), cwd=elsewhere)
    assert result.returncode == 1
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "[1/2] report: running notebooks/failing.ipynb … FAILED" in result.stdout
    assert "cell 4 of 5" in output
    assert "data/tx.csv: column 'order_date': dates cannot be read" in output
    assert "1 of 2 pages failed" in result.stderr
    assert "[2/2] second: running notebooks/report.ipynb … done in" in result.stdout
    assert page.read_bytes() == before  # the previous good page is untouched
    assert (site / "second.html").is_file()
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="report.html"' in index and 'href="second.html"' in index
    assert not list((repo / "playbooks").glob(".site-*"))
