"""The `python -m helpers build` command: config, parallel runs, site assembly and swap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from helpers.errors import ConfigError
from helpers.site import build as build_mod
from helpers.site.build import build, main
from helpers.site.config import (
    EMBEDDED_DATA_SOURCE,
    apply_overrides,
    data_source_for,
    find_config,
    load_config,
)

from ._playbook_repo import (
    demo_study,
    only_our_table_script,
    site_config,
    site_files,
    write_config,
)
from ._playbook_repo import make_repo as make_playbook_repo

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parents[1]


def make_repo(root: Path, pages: list[dict] | None = None, **top) -> Path:
    """A throw-away repo in the flat (one page per study) form."""
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
    return make_playbook_repo(root, config)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


# ------------------------------------------------------------------- config


def test_repo_config_builds_the_clv_study_in_both_languages():
    config = load_config(REPO / "playbooks" / "playbooks.yaml")
    assert config.output == REPO / "playbooks" / "site" and config.build == REPO / "build"
    assert [s.name for s in config.studies][0] == "clv"
    assert all(page.notebook.exists() for page in config.pages)
    en, zh = [page for page in config.pages if page.name.startswith("clv")]
    assert (en.name, en.lang, en.title) == ("clv", "en", "Customer lifetime value")
    assert (zh.name, zh.lang) == ("clv-zh-CN", "zh-CN")
    assert en.notebook == zh.notebook == REPO / "notebooks" / "clv.ipynb"
    # where the README says the outputs are; the data is the shared brand, definitions from the config
    assert en.parameters["output_dir"] == "build/outputs/clv"
    assert zh.parameters["output_dir"] == "build/outputs/clv-zh-CN"
    assert en.parameters["data_path"] == zh.parameters["data_path"] == f"{config.data.folder}/transactions.csv"
    assert {k: v for k, v in en.parameters.items() if k != "output_dir"} == {
        k: v for k, v in zh.parameters.items() if k != "output_dir"
    }


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
        ({"output": "s", "build": "b", "pages": [], "colour": 1}, r"playbooks\.yaml: colour = 1: unknown key; allowed keys here: output, build"),
        ({"output": "s", "build": "b", "pages": []}, r"playbooks\.yaml: pages = \[\]: expected at least one entry$"),
        ({"build": "b", "pages": [{}]}, r"playbooks\.yaml: missing field output$"),
        (
            {"output": "s", "build": "b", "pages": [{"name": "a", "title": "A", "notebook": "notebooks/report.ipynb", "params": {}}]},
            r"playbooks\.yaml: pages\[0\] \(a\)\.params = \{\}: unknown key; allowed keys here: name, title, notebook, parameters",
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
        ({"output": "s", "build": "b", "pages": [{"name": "a", "notebook": "notebooks/report.ipynb"}]}, r"playbooks\.yaml: pages\[0\] \(a\): missing field title$"),
        (
            {"output": "s", "build": "b", "pages": [{"name": "a b", "title": "A", "notebook": "notebooks/report.ipynb"}]},
            r"playbooks\.yaml: pages\[0\] \(a b\)\.name = 'a b': a name may only use letters, digits",
        ),
        (
            {"output": "s", "build": "b", "pages": [{"name": "a", "title": "A", "notebook": "notebooks/report.ipynb", "parameters": [1]}]},
            r"playbooks\.yaml: pages\[0\] \(a\)\.parameters = \[1\]: expected a mapping",
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
    with pytest.raises(ConfigError, match="no study or page named 'clv'"):
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
    assert "no study or page named 'nope'" in capsys.readouterr().err

    # a typo in a parameter fails the page before any kernel starts
    assert main(["build", "--config", str(config_path), "--set", "report.regoin=x"]) == 1
    captured = capsys.readouterr()
    assert "no parameter 'regoin'" in captured.out
    assert "1 of 1 page failed" in captured.err
    assert "report" in captured.err and "no previous version" in captured.err
    site = tmp_path / "playbooks" / "site"
    assert not (site / "report.html").exists()
    index = (site / "index.html").read_text(encoding="utf-8")  # a first build still writes the index
    assert "Fixture report" in index and "failed" in index
    assert not list((tmp_path / "playbooks").glob(".site-*"))  # staging folder cleaned up


def test_cli_list(tmp_path, capsys):
    study = demo_study(languages=["en", "zh-CN"], variants=[{"name": "n", "title": "North"}, {"name": "s", "title": "South"}])
    config_path = make_playbook_repo(tmp_path, site_config(study))
    assert main(["build", "--config", str(config_path), "--list"]) == 0
    out = capsys.readouterr().out
    for name in ("demo-n.html", "demo-n-zh-CN.html", "demo-s.html", "demo-s-zh-CN.html"):
        assert name in out
    assert not (tmp_path / "site").exists()  # nothing built


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


def test_all_pages_failing_leaves_the_old_site_byte_identical(tmp_path, capsys):
    config_path = make_repo(tmp_path)
    site = tmp_path / "playbooks" / "site"
    site.mkdir(parents=True)
    (site / "report.html").write_text("previous good page", encoding="utf-8")
    (site / "index.html").write_text("previous index", encoding="utf-8")
    (site / "notes.txt").write_text("someone's notes", encoding="utf-8")
    before = site_files(site)
    assert main(["build", "--config", str(config_path), "--set", "report.regoin=x"]) == 1
    err = capsys.readouterr().err
    assert "site was left exactly as it was" in err
    assert "the previous version stays on the site" in err
    assert site_files(site) == before
    assert not [p for p in (tmp_path / "playbooks").iterdir() if p.name.startswith(".")]


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
    assert "[1/1] report: done in" in result.stdout
    assert "site -> " in result.stdout and "index.html" in result.stdout
    site = repo / "playbooks" / "site"
    page = site / "report.html"
    html = page.read_text(encoding="utf-8")
    assert "Fixture report" in html and "West" in html
    assert EMBEDDED_DATA_SOURCE in html  # no data_path parameter
    assert (repo / "build" / "executed" / "report.ipynb").is_file()
    # parameter paths resolve from the repo root, not from where the command ran
    assert (repo / "build" / "outputs" / "report" / "table.csv").is_file()
    index = (site / "index.html").read_text(encoding="utf-8")
    assert 'href="report.html"' in index and "Fixture report" in index
    assert "<script" not in index and "http:" not in index and "https:" not in index  # (http-equiv is the CSP tag)
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
    assert "report: FAILED" in result.stdout
    assert "second: done in" in result.stdout
    assert "1 of 2 pages failed" in result.stderr
    # the summary table: page, notebook, failing cell, then the message
    table = result.stderr.splitlines()
    header = next(i for i, line in enumerate(table) if line.split() == ["page", "notebook", "failing", "cell"])
    row = table[header + 2].split()
    assert row[:3] == ["report", "notebooks/failing.ipynb", "cell"] and "4 of 5" in table[header + 2]
    assert "data/tx.csv: column 'order_date': dates cannot be read" in table[header + 3]
    assert "previous version stays on the site, marked stale" in table[header + 4]

    assert page.read_bytes() == before  # the previous good page, as it was
    assert (site / "second.html").is_file()
    soup = BeautifulSoup((site / "index.html").read_text(encoding="utf-8"), "html.parser")
    stale = soup.find("a", href="report.html").find_parent("li")
    assert "stale" in stale.get_text() and "cell 4 of 5" in stale.get_text()
    # messages may quote data: build output only (the failing cell's code line, shown, is not data)
    assert "data/tx.csv: column 'order_date': dates cannot be read" not in stale.get_text()
    assert soup.find("a", href="second.html")
    manifest = json.loads((site / "site.json").read_text(encoding="utf-8"))
    assert manifest["pages"]["report"]["status"] == "stale"
    assert manifest["pages"]["second"]["status"] == "ok"
    assert not [p for p in (repo / "playbooks").iterdir() if p.name.startswith(".")]


@pytest.fixture(scope="module")
def studies_site(tmp_path_factory):
    """Two studies: variants in two languages with headlines and extra pages, and a
    study whose variants share one output folder."""
    root = tmp_path_factory.mktemp("studies")
    regions = demo_study(
        "regions", title={"en": "Regions", "zh-CN": "地区"}, languages=["en", "zh-CN"], extra_pages="pages",
        parameters={"output_dir": "build/outputs/{page}", "extra_pages": 2, "sleep_s": 0.3, "region": "{variant}"},
        variants=[{"name": "north", "title": {"en": "North", "zh-CN": "北区"}},
                  {"name": "south", "title": {"en": "South", "zh-CN": "南区"}}],
    )
    shared = demo_study(
        "shared", title="Shared output folder", parameters={"output_dir": "build/outputs/shared", "sleep_s": 1.0},
        variants=[{"name": "a", "parameters": {"region": "a"}}, {"name": "b", "parameters": {"region": "b"}}],
    )
    config_path = make_playbook_repo(root, site_config(regions, shared, title={"en": "Test site", "zh-CN": "测试站点"}, lang="en"))
    config = load_config(config_path)
    result = build(config, jobs=2, progress=False, out=open(root / "build.log", "w", encoding="utf-8"))
    return root, config, result


@pytest.mark.slow
def test_studies_build_every_variant_and_language(studies_site):
    root, config, result = studies_site
    assert [r.name for r in result.pages] == [
        "regions-north", "regions-north-zh-CN", "regions-south", "regions-south-zh-CN", "shared-a", "shared-b",
    ]
    assert all(r.ok for r in result.pages), [r.error for r in result.pages]
    site = root / "site"
    zh = (site / "regions-north-zh-CN.html").read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in zh and "合计 (north)" in zh  # language reached the notebook
    assert "<title>地区 — 北区</title>" in zh
    en = (site / "regions-north.html").read_text(encoding="utf-8")
    assert '<html lang="en"' in en and "Total (north)" in en
    # headline bundles are on the index, never on the page
    assert "retail-playbooks.headline" not in en and "Headline numbers for the site index" not in en


def test_pages_run_in_parallel_except_when_they_share_an_output_folder(tmp_path):
    """The scheduling decision, not wall-clock overlap (which a busy machine may never show):
    pages with their own output folders may run together; pages sharing an output folder, or
    in a ``parallel: false`` study, never do."""
    config_path = make_playbook_repo(
        tmp_path,
        {
            "output": "site",
            "build": "build",
            "studies": [
                {
                    "name": "regions", "title": "Regions", "notebook": "notebooks/demo.ipynb", "languages": ["en", "zh-CN"],
                    "parameters": {"output_dir": "build/outputs/{page}", "region": "{variant}"},
                    "variants": [{"name": "north"}, {"name": "south"}],
                },
                {
                    "name": "shared", "title": "Shared", "notebook": "notebooks/demo.ipynb",
                    "parameters": {"output_dir": "build/outputs/shared"},
                    "variants": [{"name": "a", "parameters": {"region": "a"}}, {"name": "b", "parameters": {"region": "b"}}],
                },
                {
                    "name": "serial", "title": "Serial", "notebook": "notebooks/demo.ipynb", "parallel": False,
                    "parameters": {"output_dir": "build/outputs/{page}", "region": "{variant}"},
                    "variants": [{"name": "x"}, {"name": "y"}],
                },
            ],
        },
    )
    config = load_config(config_path)
    jobs = {page.name: build_mod._prepare(config, page, config.output) for page in config.pages}
    regions = ["regions-north", "regions-north-zh-CN", "regions-south", "regions-south-zh-CN"]
    for i, a in enumerate(regions):
        for b in regions[i + 1:]:
            assert build_mod.may_run_together(config, jobs[a], jobs[b]), (a, b)
    assert not build_mod.may_run_together(config, jobs["shared-a"], jobs["shared-b"])
    assert not build_mod.may_run_together(config, jobs["serial-x"], jobs["serial-y"])
    assert build_mod.may_run_together(config, jobs["serial-x"], jobs["regions-north"])
    assert build_mod.may_run_together(config, jobs["shared-a"], jobs["regions-south"])
    shared = str((tmp_path / "build" / "outputs" / "shared").resolve())
    assert build_mod.exclusive_resources(config, jobs["shared-a"]) == [shared]
    assert "study:serial" in build_mod.exclusive_resources(config, jobs["serial-y"])


@pytest.mark.slow
def test_pages_sharing_an_output_folder_ran_one_after_the_other(studies_site):
    """In the real build the two pages sharing a folder both ran, the second after the first
    had finished: the first sleeps 1 s inside its run, and the second cannot start before the
    first releases the folder, so the gap is at least 1 s however busy the machine is."""
    root, _, _ = studies_site
    runs = (root / "build" / "outputs" / "shared" / "runs.log").read_text().split("\n")
    starts = sorted(float(line.split()[1]) for line in runs if line)
    assert len(starts) == 2
    assert starts[1] - starts[0] >= 1.0


@pytest.mark.slow
def test_index_groups_by_study_with_headlines_languages_and_extra_pages(studies_site):
    root, _, _ = studies_site
    site = root / "site"
    soup = BeautifulSoup((site / "index.html").read_text(encoding="utf-8"), "html.parser")
    assert soup.html["lang"] == "en" and soup.title.get_text() == "Test site"
    studies = soup.select("section.study")
    assert [s.h2.get_text() for s in studies] == ["Regions", "Shared output folder"]
    north = studies[0].select("ul.page-list > li")[0]
    assert north.find("a", class_="page-title")["href"] == "regions-north.html"
    assert north.find("a", class_="page-title").get_text() == "North"
    assert north.find("a", hreflang="zh-CN")["href"] == "regions-north-zh-CN.html"
    headline = {dt.get_text(): dd.get_text() for dt, dd in zip(north.select("dt"), north.select("dd"))}
    assert headline == {"Total": "6.00", "Rows": "3"}  # from the English page
    extra = [a["href"] for a in north.select(".extra-pages a")]
    assert extra == [
        "regions-north/segment-0.html", "regions-north/segment-1.html",
        "regions-north-zh-CN/segment-0.html", "regions-north-zh-CN/segment-1.html",
    ]
    assert north.select(".extra-pages a")[0].get_text() == "Segment 0 (north)"
    copied = (site / "regions-north" / "segment-0.html").read_text(encoding="utf-8")
    assert only_our_table_script(copied) and "cdn.example.com" not in copied  # made self-contained
    assert 'href="../index.html"' in copied  # the site bar leads back to the index
    for href in extra:
        assert (site / href).is_file()


@pytest.mark.slow
def test_pages_have_navigation_and_run_metadata(studies_site):
    root, _, _ = studies_site
    soup = BeautifulSoup((root / "site" / "regions-south.html").read_text(encoding="utf-8"), "html.parser")
    nav = soup.find("nav", class_="site-nav")
    assert nav.find("a", class_="nav-home")["href"] == "index.html"
    assert nav.find("a", hreflang="zh-CN")["href"] == "regions-south-zh-CN.html"
    study_nav = soup.find("nav", class_="study-nav")
    assert [a["href"] for a in study_nav.find_all("a")] == ["regions-north.html"]
    assert study_nav.find(attrs={"aria-current": "page"}).get_text() == "South"
    assert soup.find("a", rel="prev")["href"] == "regions-north.html"
    assert soup.find("a", rel="next")["href"] == "shared-a.html"
    footer = soup.find("footer").get_text(" ")
    assert "0.1.0" in footer and "Input files" in footer and "CDNOW_master.txt" in footer  # data_path "" = embedded data
    params = {tr.find_all("td")[0].get_text(): tr.find_all("td")[1].get_text() for tr in soup.select("table.params tbody tr")}
    assert params["region"] == "south" and params["language"] == "en"  # {variant}; language passed
    assert params["output_dir"] == "build/outputs/regions-south"
    zh = BeautifulSoup((root / "site" / "regions-south-zh-CN.html").read_text(encoding="utf-8"), "html.parser")
    assert zh.find("a", class_="nav-home").get_text() == "全部运营手册"
    assert zh.find("footer").h2.get_text() == "关于本次运行"


@pytest.mark.slow
def test_only_rebuilds_the_selection_and_keeps_the_rest(studies_site, tmp_path):
    root, config, _ = studies_site
    site = root / "site"
    before = site_files(site)
    result = build(config, only=["shared-b"], jobs=2, progress=False, out=open(tmp_path / "log", "w"))
    assert [r.name for r in result.pages] == ["shared-b"] and result.pages[0].cached
    after = site_files(site)
    assert set(after) == set(before)
    # pages not selected are copied as they were
    for name in ("regions-north.html", "regions-north/segment-0.html", "shared-a.html"):
        assert after[name] == before[name]


@pytest.mark.slow
def test_a_crash_while_assembling_leaves_the_old_site_byte_identical(studies_site, monkeypatch, tmp_path):
    root, config, _ = studies_site
    site = root / "site"
    before = site_files(site)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(build_mod, "write_index", broken)
    with pytest.raises(OSError, match="disk full"):
        build(config, jobs=2, progress=False, out=open(tmp_path / "log", "w"))  # every page from the cache
    assert site_files(site) == before
    assert not [p for p in root.iterdir() if p.name.startswith(".site-")]


def test_a_build_killed_between_the_two_renames_is_repaired(tmp_path):
    from helpers.site.index import recover, swap_in

    output = tmp_path / "site"
    output.mkdir()
    (output / "index.html").write_text("old", encoding="utf-8")
    staging = tmp_path / ".site-staging-x"
    staging.mkdir()
    (staging / "index.html").write_text("new", encoding="utf-8")
    swap_in(staging, output)
    assert (output / "index.html").read_text() == "new" and not staging.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # backup removed
    # killed after renaming the site to its backup: the next build puts it back
    output.rename(tmp_path / ".site-old-abc123")
    (tmp_path / ".site-staging-y").mkdir()
    recover(output)
    assert (output / "index.html").read_text() == "new"
    assert (tmp_path / ".site-staging-y").exists()  # recent leftovers stay (another build may own them)
    recover(output, older_than_s=-1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]


def test_every_notebook_is_on_the_site():
    config = load_config(REPO / "playbooks" / "playbooks.yaml")
    on_site = {page.notebook for page in config.pages}
    assert set((REPO / "notebooks").glob("*.ipynb")) == on_site


def test_the_build_reads_notebooks_without_compiling_the_iri_grammars():
    """jsonschema's optional rfc3987_syntax compiles lark grammars on import (about 2 s);
    the build goes without it, and nbformat still reads and validates notebooks."""
    code = (
        "import sys\n"
        "from helpers.site.build import _skip_iri_grammars\n"
        "_skip_iri_grammars()\n"
        "import nbformat\n"
        "from nbformat.v4 import new_notebook\n"
        "nbformat.validate(nbformat.reads(nbformat.writes(new_notebook()), as_version=4))\n"
        "assert sys.modules.get('rfc3987_syntax') is None and 'lark' not in sys.modules\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stderr


def test_inputs_shown_name_the_embedded_data(tmp_path):
    from types import SimpleNamespace

    from helpers.report.page import chrome_labels
    from helpers.site.cache import embedded_data_path

    labels = chrome_labels("en")
    own = tmp_path / "data" / "CDNOW_master.txt"  # the same name, not the embedded file
    own.parent.mkdir()
    own.write_text("x")
    config = SimpleNamespace(relative=lambda p: Path(p).relative_to(tmp_path).as_posix())
    job = SimpleNamespace(inputs=[embedded_data_path(), own, own.parent])
    assert build_mod._inputs_shown(config, job, labels) == (
        f"CDNOW_master.txt ({labels['embedded']}), data/CDNOW_master.txt, data/"
    )
    assert build_mod._inputs_shown(config, SimpleNamespace(inputs=[]), labels) == labels["no_inputs"]


@pytest.mark.slow
def test_pages_rendered_while_others_run_are_the_pages_a_render_at_the_end_gives(tmp_path, monkeypatch):
    """Pages are rendered as soon as their runs end, assuming the pages still running will
    succeed. Kept only when that held: they are then byte for byte what rendering at the end
    gives; a page failing later (with no previous version) has every page rendered again,
    without links to it."""
    regions = demo_study(
        "regions", title="Regions", languages=["en", "zh-CN"], extra_pages="pages", expected_seconds=60,
        parameters={"output_dir": "build/outputs/{page}", "extra_pages": 1, "region": "{variant}"},
        variants=[{"name": "north"}, {"name": "south"}],
    )
    late = demo_study("late", title="Late", expected_seconds=1, parameters={"output_dir": "build/outputs/late", "fail": True})
    config = load_config(make_playbook_repo(tmp_path, site_config(regions, late, lang="en")))
    taken: dict[str, bool] = {}
    real_take = build_mod._EarlyRenders.take

    def take(self, page, available):
        entry = real_take(self, page, available)
        taken[page.name] = entry is not None
        if entry is not None:  # what the assembly would have rendered instead
            fresh = tmp_path / "fresh" / page.name
            assert build_mod._render_page(config, page, self.ready, available, fresh, self.data_line) == entry
            for path in [fresh / f"{page.name}.html", *sorted((fresh / page.name).rglob("*.html"))]:
                assert path.read_bytes() == (self.staging / path.relative_to(fresh)).read_bytes(), path
        return entry

    monkeypatch.setattr(build_mod._EarlyRenders, "take", take)
    log = tmp_path / "build.log"
    with open(log, "w", encoding="utf-8") as out:
        failed = build(config, jobs=1, progress=False, out=out, force=True)  # one at a time: "late" ends last
    assert [r.name for r in failed.failed] == ["late"]
    assert taken == dict.fromkeys(["regions-north", "regions-north-zh-CN", "regions-south", "regions-south-zh-CN"], False)
    site = tmp_path / "site"
    assert not (site / "late.html").exists()
    assert not [p for p in site.rglob("*.html") if "late.html" in p.read_text(encoding="utf-8")]

    taken.clear()
    config = apply_overrides(config, ["late.fail=false"])
    kept = build_mod.memo_folder(config) / "kept.pickle"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(b"a load an earlier build kept")
    with open(log, "w", encoding="utf-8") as out:
        built = build(config, jobs=2, progress=False, out=out, force=True)
    assert not kept.exists()  # --force computes the shared loads again too
    assert not built.failed and taken == dict.fromkeys([p.name for p in config.pages], True)
    assert 'href="late.html"' in (site / "regions-south.html").read_text(encoding="utf-8")

    taken.clear()  # only "late" runs: the pages from the cache are rendered meanwhile
    config = apply_overrides(config, ["late.region=elsewhere"])
    with open(log, "w", encoding="utf-8") as out:
        built = build(config, jobs=2, progress=False, out=out)
    assert [r.name for r in built.pages if r.cached] == [p.name for p in config.pages if p.name != "late"]
    assert not built.failed and taken == dict.fromkeys([p.name for p in config.pages], True)

    taken.clear()  # nothing runs: the pages are rendered in two forked processes
    with open(log, "w", encoding="utf-8") as out:
        built = build(config, jobs=2, progress=False, out=out)
    assert all(r.cached for r in built.pages) and not built.failed
    assert taken == dict.fromkeys([p.name for p in config.pages], True)

    before = (site / "regions-south.html").read_bytes()  # a render failing in its process is redone and reported
    real_render = build_mod._render_one

    def render_one(config, page, *args, **kwargs):
        if page.name == "regions-south":
            raise RuntimeError("no render today")
        return real_render(config, page, *args, **kwargs)

    monkeypatch.setattr(build_mod, "_render_one", render_one)
    with open(log, "w", encoding="utf-8") as out:
        built = build(config, jobs=2, progress=False, out=out)
    assert [r.name for r in built.failed] == ["regions-south"] and built.failed[0].kept_previous
    assert "rendering failed" in built.failed[0].error and "no render today" in built.failed[0].error
    assert (site / "regions-south.html").read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_a_page_rendered_early_is_rendered_again_when_its_downloads_or_pages_changed(tmp_path):
    study = demo_study("lists", parameters={"output_dir": "build/outputs/lists"}, downloads=["*.csv"])
    config = load_config(make_playbook_repo(tmp_path, site_config(study)))
    page = config.pages[0]
    job = build_mod._prepare(config, page, config.output)
    lists = tmp_path / "build" / "outputs" / "lists"
    lists.mkdir(parents=True)
    (lists / "a.csv").write_text("id\n1\n", encoding="utf-8")
    early = build_mod._EarlyRenders(config, config.output, {page.name: job}, (), None)
    early.staging = tmp_path / "staging"
    available = frozenset([page.name])

    def rendered_early() -> None:
        (early.staging / page.name / "files").mkdir(parents=True, exist_ok=True)
        early.kept[page.name] = (available, {"file": f"{page.name}.html"}, early._stamp(page))

    rendered_early()
    assert early.take(page, available) == {"file": f"{page.name}.html"}
    rendered_early()
    (lists / "a.csv").write_text("id\n1\n2\n", encoding="utf-8")  # written again by a later run
    assert early.take(page, available) is None and not (early.staging / page.name).exists()
    rendered_early()
    (lists / "b.csv").write_text("id\n", encoding="utf-8")
    assert early.take(page, available) is None
    rendered_early()
    assert early.take(page, available | {"another-page"}) is None
