"""Executing notebooks with papermill and rendering playbook pages."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import helpers
from helpers.errors import ConfigError, HelperError
from helpers.report.page import (
    CSS_PATH,
    RunInfo,
    prepare_for_page,
    render_page,
    strip_ansi,
)
from helpers.site.run import NotebookFailed, execute_notebook, notebook_parameters

from ._playbook_repo import only_our_table_script

FIXTURES = Path(__file__).parent / "fixtures"
REPORT = FIXTURES / "report.ipynb"
FAILING = FIXTURES / "failing.ipynb"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}


def external_loads(html: str) -> list[str]:
    """Every resource the page would fetch from elsewhere (links to follow are fine)."""
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for tag in soup.find_all(True):
        if tag.name == "a":
            continue
        for attr in ("src", "href", "data", "poster", "srcset"):
            value = tag.get(attr)
            if value and (re.match(r"\s*([a-z][a-z0-9+.-]*:)?//", value, re.I) or "http" in value):
                found.append(f"<{tag.name} {attr}={value}>")
    for style in soup.find_all("style"):
        found += re.findall(r"@import[^;]*|url\(\s*['\"]?(?:https?:)?//[^)]*\)", style.get_text())
    return found


# --------------------------------------------------------------- one real run


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    work = tmp_path_factory.mktemp("run")
    nb = execute_notebook(
        REPORT,
        {"region": "Nord", "n_customers": 4},
        work / "build" / "executed" / "report.ipynb",
        cwd=work,
        progress=False,
    )
    return nb, work


@pytest.fixture(scope="module")
def page(executed):
    nb, work = executed
    run = RunInfo.from_notebook(
        nb,
        data_source="fixture transactions",
        default_parameters={"output_dir": None},
        extra={"Notebook": "tests/fixtures/report.ipynb"},
    )
    path = render_page(nb, work / "site" / "report.html", title="Fixture report", run_info=run)
    return path, path.read_text(encoding="utf-8")


@pytest.mark.slow
def test_executed_notebook_is_written_with_parameters(executed):
    nb, work = executed
    on_disk = nbformat.read(work / "build" / "executed" / "report.ipynb", as_version=4)
    assert on_disk.metadata.papermill.parameters == {"region": "Nord", "n_customers": 4}
    injected = [c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert len(injected) == 1 and "region = \"Nord\"" in injected[0].source


@pytest.mark.slow
def test_page_is_self_contained(page):
    _, html = page
    assert only_our_table_script(html)
    assert external_loads(html) == []
    for cdn in ("cdnjs", "require.js", "mathjax", "unpkg", "jsdelivr"):
        assert cdn not in html.lower()
    assert '<meta name="viewport"' in html or 'name="viewport"' in html
    assert re.search(r'<html lang="en"', html)


@pytest.mark.slow
def test_page_shows_results_but_no_code(page):
    _, html = page
    # code inputs never reach the page
    assert "SECRET_CODE_MARKER" not in html
    assert "import pandas" not in html
    assert "plt.subplots" not in html
    assert "In&nbsp;[" not in html and "Out[" not in html
    # markdown cells, pandas table, Markdown display, PNG figure, stdout text
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("h1", string=re.compile("Fixture report"))
    table = soup.find("table", class_="dataframe")
    assert table is not None and "C003" in table.get_text() and "50.0" in table.get_text()
    assert "<strong>Region:</strong> Nord" in html
    assert '<img alt="Figure" src="data:image/png;base64,' in html or '<img src="data:image/png;base64,' in html
    assert "coloured stdout line" in html


@pytest.mark.slow
def test_page_drops_stderr_and_ansi(page):
    _, html = page
    assert "stderr noise" not in html
    assert "a warning nobody should read" not in html
    assert "\x1b" not in html and "[31m" not in html


@pytest.mark.slow
def test_page_has_run_metadata(page):
    _, html = page
    soup = BeautifulSoup(html, "html.parser")
    header, footer = soup.find("header"), soup.find("footer")
    assert "fixture transactions" in header.get_text()
    text = footer.get_text(" ")
    assert helpers.__version__ in text
    assert "lifetimes" in text and "0.11.3" in text
    assert "tests/fixtures/report.ipynb" in text
    rows = {tr.find_all("td")[0].get_text(): tr.find_all("td")[1].get_text() for tr in footer.select("table.params tbody tr")}
    assert rows["region"] == "Nord"
    assert rows["n_customers"] == "4"
    assert rows["output_dir"].startswith("None") and "notebook default" in rows["output_dir"]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(UTC[+-]\d\d:\d\d\)", text)  # run start
    assert re.search(r"\d+(\.\d)? s", text)  # duration


@pytest.mark.slow
def test_page_is_small(page):
    path, _ = page
    assert path.stat().st_size < 300_000
    assert CSS_PATH.stat().st_size < 15_000
    css = CSS_PATH.read_text(encoding="utf-8")
    for needle in ('"PingFang SC"', '"Microsoft YaHei"', '"Noto Sans CJK SC"', "@media print", "max-width: 100%", "overflow-x: auto"):
        assert needle in css


@pytest.mark.slow
def test_lang_is_a_parameter(executed, tmp_path):
    nb, _ = executed
    run = RunInfo.from_notebook(nb, data_source="x")
    html = render_page(nb, tmp_path / "zh.html", title="客户价值", run_info=run, lang="zh-CN").read_text(encoding="utf-8")
    assert '<html lang="zh-CN"' in html
    assert "<title>客户价值</title>" in html
    with pytest.raises(ConfigError, match="language tag"):
        render_page(nb, tmp_path / "bad.html", title="x", run_info=run, lang="Chinese please")
    assert not (tmp_path / "bad.html").exists()


@pytest.mark.slow
def test_failed_render_keeps_the_previous_page(executed, tmp_path, monkeypatch):
    nb, _ = executed
    run = RunInfo.from_notebook(nb, data_source="x")
    target = render_page(nb, tmp_path / "page.html", title="First", run_info=run)
    before = target.read_bytes()

    def broken(html):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("helpers.report.page._make_self_contained", broken)
    with pytest.raises(RuntimeError):
        render_page(nb, target, title="Second", run_info=run)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"]  # no temp files left


# ----------------------------------------------------------------- failures


@pytest.mark.slow
def test_helper_error_in_a_cell_becomes_notebook_failed(tmp_path):
    executed_path = tmp_path / "failing.ipynb"
    with pytest.raises(NotebookFailed) as caught:
        execute_notebook(FAILING, {"data_path": "data/tx.csv"}, executed_path, cwd=tmp_path, progress=False)
    err = caught.value
    assert isinstance(err, HelperError)
    # cell 3 of the source notebook (0-based; markdown cells count, the injected cell does not)
    assert err.cell_index == 3
    assert err.ename == "DataError"
    message = str(err)
    assert "failing.ipynb" in message
    assert "cell 4 of 5" in message
    assert "`from helpers.errors import DataError`" not in message  # named by what it does, not its import
    assert "(`raise DataError('dates cannot be read'" in message
    assert "data/tx.csv: column 'order_date': dates cannot be read (2 rows)" in message
    assert "row 7: '2024-13-01'" in message
    assert "DataError: " not in message  # a helpers error shows its own message only
    assert err.where.startswith('cell 4 of 5 under "Loading the data." (`raise DataError(')
    assert err.detail.startswith("data/tx.csv: column 'order_date': dates cannot be read")
    assert "Traceback" not in message and "\x1b" not in message
    assert executed_path.exists()  # the executed copy keeps the error output


@pytest.mark.slow
def test_other_errors_show_name_and_value_without_ansi(tmp_path):
    nb = new_notebook(
        cells=[new_markdown_cell("# t"), new_code_cell("x = 1"), new_code_cell("\n# divide\nx / 0\n")],
        metadata={"kernelspec": KERNELSPEC},
    )
    source = tmp_path / "zero.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(NotebookFailed) as caught:
        execute_notebook(source, {}, tmp_path / "out" / "zero.ipynb", progress=False)
    message = str(caught.value)
    assert 'cell 3 of 3 under "t" (`# divide`)' in message
    assert "ZeroDivisionError: division by zero" in message
    assert "full traceback in" in message
    assert caught.value.traceback and not any("\x1b" in line for line in caught.value.traceback)


def test_unknown_parameter_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match=r"no parameter 'regoin'.*region, n_customers, output_dir"):
        execute_notebook(REPORT, {"regoin": "x"}, tmp_path / "x.ipynb")
    assert not (tmp_path / "x.ipynb").exists()


def test_missing_notebook_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="notebook not found"):
        execute_notebook(tmp_path / "nope.ipynb", {}, tmp_path / "x.ipynb")


# ------------------------------------------------------------- no kernel needed


def test_notebook_parameters_reads_annotated_defaults_with_comments():
    cell = new_code_cell(
        "# Parameters\n"
        'data_path: str = ""  # file; "" = embedded data\n'
        "horizon: int = 12  # months (12 = one year)\n"
        "rate = 0.10\n"
        "%matplotlib inline\n"
        "cutoff = pd.Timestamp('2024-01-01')\n"
    )
    cell.metadata["tags"] = ["parameters"]
    nb = new_notebook(cells=[cell])
    assert notebook_parameters(nb) == {
        "data_path": "",
        "horizon": 12,
        "rate": 0.10,
        "cutoff": "pd.Timestamp('2024-01-01')",
    }
    assert notebook_parameters(new_notebook(cells=[new_code_cell("x = 1")])) is None


def test_prepare_for_page_keeps_only_what_readers_need():
    code = new_code_cell(
        "...",
        outputs=[
            new_output("stream", name="stderr", text="UserWarning: noise\n"),
            new_output("stream", name="stdout", text="\x1b[1;32mgreen\x1b[0m\n"),
            new_output("display_data", data={"application/javascript": "alert(1)"}),
            new_output("display_data", data={"application/vnd.jupyter.widget-view+json": {}, "text/plain": "HBox()"}),
            new_output("execute_result", data={"text/plain": "[<matplotlib.lines.Line2D at 0x7f3a2c1b2d30>]"}, execution_count=1),
            new_output("display_data", data={"text/plain": "<Figure size 640x480 with 1 Axes>"}),
            new_output("display_data", data={"text/markdown": "**kept**", "text/plain": "kept"}),
            new_output("error", ename="ValueError", evalue="\x1b[31mbad\x1b[0m", traceback=["\x1b[31mtb\x1b[0m"]),
        ],
    )
    removed = new_code_cell("...", outputs=[new_output("stream", name="stdout", text="secret")])
    removed.metadata["tags"] = ["remove-cell"]
    quiet = new_code_cell("...", outputs=[new_output("stream", name="stdout", text="hidden output")])
    quiet.metadata["tags"] = ["remove-output"]
    nb = new_notebook(cells=[new_markdown_cell("# Title"), code, removed, quiet])

    page_nb = prepare_for_page(nb)

    assert len(page_nb.cells) == 3
    outputs = page_nb.cells[1].outputs
    assert [o.output_type for o in outputs] == ["stream", "display_data", "error"]
    assert outputs[0].text == "green\n"
    assert outputs[1].data == {"text/markdown": "**kept**", "text/plain": "kept"}
    assert outputs[2].evalue == "bad" and outputs[2].traceback == []
    assert page_nb.cells[2].outputs == []
    assert len(nb.cells[1].outputs) == 8  # the input notebook is not modified


def test_external_resources_are_removed(tmp_path):
    cell = new_code_cell(
        "...",
        outputs=[
            new_output(
                "display_data",
                data={
                    "text/html": (
                        '<script src="https://cdn.example.com/lib.js"></script>'
                        '<img src="https://example.com/logo.png">'
                        '<link rel="stylesheet" href="//fonts.example.com/a.css">'
                        '<a href="https://example.com/docs">docs</a>'
                    )
                },
            )
        ],
    )
    nb = new_notebook(cells=[cell])
    run = RunInfo(data_source="d", parameters={}, started=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc), duration_s=1.5)
    html = render_page(nb, tmp_path / "p.html", title="t", run_info=run).read_text(encoding="utf-8")
    assert only_our_table_script(html) and "alert(1)" not in html and "lib.js" not in html
    assert external_loads(html) == []
    assert "image not embedded: https://example.com/logo.png" in html
    assert '<a href="https://example.com/docs">docs</a>' in html


def test_run_info_from_papermill_metadata():
    nb = new_notebook()
    nb.metadata["papermill"] = {
        "start_time": "2026-05-09T07:35:25.123456+00:00",
        "end_time": "2026-05-09T07:36:07.123456+00:00",
        "duration": 42.0,
        "parameters": {"output_dir": "build/outputs/clv"},
    }
    run = RunInfo.from_notebook(nb, data_source="d")
    assert run.started == dt.datetime(2026, 5, 9, 7, 35, 25, 123456, tzinfo=dt.timezone.utc)
    assert run.duration_s == 42.0
    assert run.parameters == {"output_dir": "build/outputs/clv"}
    assert run.package_version == helpers.__version__


def test_strip_ansi():
    assert strip_ansi("\x1b[0;31mValueError\x1b[0m: x\x1b[?25l") == "ValueError: x"


# ------------------------------------------------------- headlines, frame, nav


def test_headline_values_are_formatted_and_checked():
    import numpy as np

    from helpers.report.page import headline_items

    items = headline_items({"Customers": 23570, "CLV": 1234567.891, "Share": 0.6512, "Mean": 36.456, "Model": "BG/NBD", "n": np.int64(7)})
    assert [(i["label"], i["value"]) for i in items] == [
        ("Customers", "23,570"), ("CLV", "1,234,568"), ("Share", "0.651"), ("Mean", "36.46"), ("Model", "BG/NBD"), ("n", "7"),
    ]
    assert items[0]["raw"] == 23570 and items[4]["raw"] is None
    with pytest.raises(ConfigError, match="non-empty mapping"):
        headline_items({})
    with pytest.raises(ConfigError, match="value of 'x' is a list"):
        headline_items({"x": [1, 2]})
    with pytest.raises(ConfigError, match="label 3 must be non-empty text"):
        headline_items({3: 1})


def test_headlines_are_collected_and_never_shown_on_the_page(tmp_path):
    from helpers.report.page import HEADLINE_MIME, collect_headlines, headline_items

    def bundle(values):
        return new_output("display_data", data={HEADLINE_MIME: {"items": headline_items(values)}, "text/plain": "Headline numbers for the site index: ..."})

    nb = new_notebook(
        cells=[
            new_code_cell("...", outputs=[bundle({"Customers": 10, "CLV": "$5"})]),
            new_code_cell("...", outputs=[new_output("stream", name="stdout", text="shown\n"), bundle({"CLV": "$6", "Active": 0.5})]),
        ]
    )
    assert [(i["label"], i["value"]) for i in collect_headlines(nb)] == [("Customers", "10"), ("CLV", "$6"), ("Active", "0.5")]
    run = RunInfo(data_source="d", parameters={}, started=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), duration_s=1)
    html = render_page(nb, tmp_path / "p.html", title="t", run_info=run).read_text(encoding="utf-8")
    assert "shown" in html
    assert "Headline numbers" not in html and "retail-playbooks.headline" not in html and "$6" not in html


def test_navigation_metadata_and_frame_words_follow_the_language(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# 内容")])
    run = RunInfo(
        data_source="data/x.csv", parameters={"language": "zh-CN"}, started=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc),
        duration_s=1, data_hash="ab" * 32, cached=True,
    )
    nav = {
        "index": "index.html",
        "study": "地区",
        "siblings": [{"title": "北区", "href": "r-north-zh-CN.html", "current": False}, {"title": "南区", "href": "r-south-zh-CN.html", "current": True}],
        "alternates": [{"label": "English", "href": "r-south.html", "lang": "en"}],
        "prev": {"title": "地区 — 北区", "href": "r-north-zh-CN.html"},
        "next": None,
    }
    html = render_page(nb, tmp_path / "p.html", title="地区 — 南区", run_info=run, lang="zh-CN", nav=nav).read_text(encoding="utf-8")
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("a", class_="nav-home").get_text() == "全部运营手册"
    assert soup.find("a", hreflang="en")["href"] == "r-south.html"
    assert [a["href"] for a in soup.select("nav.study-nav a")] == ["r-north-zh-CN.html"]
    assert soup.select_one("nav.study-nav [aria-current=page]").get_text() == "南区"
    assert soup.find("a", rel="prev")["href"] == "r-north-zh-CN.html" and soup.find("a", rel="next") is None
    footer = soup.find("footer").get_text(" ")
    assert "关于本次运行" in footer and "ab" * 32 in footer and "取自构建缓存" in footer
    assert "SHA-256" in soup.find("header").get_text() and "abababababab" in soup.find("header").get_text()
    assert soup.find("link", rel="icon")["href"] == "data:,"  # no favicon request
    # without nav (plain render_page) there is no navigation, and English words
    plain = render_page(nb, tmp_path / "q.html", title="t", run_info=run).read_text(encoding="utf-8")
    assert BeautifulSoup(plain, "html.parser").find("nav") is None and "About this run" in plain


def test_durations_are_written_in_the_page_language():
    from helpers.report.page import format_duration

    # 4.2 s; 11 s; 185 s = 3 min 5 s; 3725 s = 1 h 2 min 5 s, shown to the minute
    cases = [(4.2, "4.2 s", "4.2 秒"), (11.4, "11 s", "11 秒"), (185, "3 min 05 s", "3 分钟 5 秒"), (3725, "1 h 02 min", "1 小时 2 分钟")]
    for seconds, english, chinese in cases:
        assert format_duration(seconds) == format_duration(seconds, "en") == format_duration(seconds, "fr") == english
        assert format_duration(seconds, "zh-CN") == format_duration(seconds, "zh-Hans") == chinese


def test_the_page_frame_shows_the_duration_in_chinese(tmp_path):
    nb = new_notebook(cells=[new_markdown_cell("# 内容")])
    run = RunInfo(data_source="d", parameters={}, started=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), duration_s=11.2)
    soup = BeautifulSoup(render_page(nb, tmp_path / "p.html", title="t", run_info=run, lang="zh-CN").read_text(encoding="utf-8"), "html.parser")
    assert "耗时 11 秒" in soup.find("header").get_text()
    assert soup.find("th", string="耗时").find_next("td").get_text() == "11 秒"
    assert not re.search(r"\d s\b", soup.get_text())
    english = BeautifulSoup(render_page(nb, tmp_path / "e.html", title="t", run_info=run).read_text(encoding="utf-8"), "html.parser")
    assert "took 11 s" in english.find("header").get_text()


def test_chrome_labels_and_language_names():
    from helpers.report.page import CHROME_LABELS, chrome_labels, language_name

    assert set(CHROME_LABELS["zh-CN"]) == set(CHROME_LABELS["en"])
    assert chrome_labels("zh-Hans")["about"] == chrome_labels("zh-CN")["about"] == "关于本次运行"
    assert chrome_labels("fr")["about"] == "About this run"
    assert (language_name("zh-CN"), language_name("en"), language_name("zh"), language_name("fr")) == ("中文", "English", "中文", "fr")


def test_pages_rendered_one_after_another_match_a_fresh_exporter(tmp_path, monkeypatch):
    """The exporter is made once per thread and reused: a page must not carry anything
    (language, lexer, title, images) over from the page rendered before it."""
    import threading

    from helpers.report import page as page_mod

    run = RunInfo(data_source="d", parameters={}, started=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), duration_s=1)
    first = new_notebook(
        cells=[new_markdown_cell("# 内容 ![x](data:image/png;base64,iVBORw0KGgo=)"), new_code_cell("1", outputs=[
            new_output("execute_result", data={"text/plain": "1", "text/html": "<b>one</b>"}, execution_count=1)])],
        metadata={"kernelspec": KERNELSPEC, "language_info": {"name": "python", "pygments_lexer": "ipython3"}},
    )
    second = new_notebook(
        cells=[new_markdown_cell("# Second\n\n| a | b |\n|---|---|\n| 1 | 2 |"), new_code_cell("x", outputs=[
            new_output("stream", name="stdout", text="plain text\n")])],
        metadata={"language_info": {"name": "R"}},
    )
    render_page(first, tmp_path / "first.html", title="第一", run_info=run, lang="zh-CN")
    reused = render_page(second, tmp_path / "reused.html", title="Second", run_info=run).read_text(encoding="utf-8")
    monkeypatch.setattr(page_mod, "_EXPORTERS", threading.local())  # the next render makes a new exporter
    fresh = render_page(second, tmp_path / "fresh.html", title="Second", run_info=run).read_text(encoding="utf-8")
    assert reused == fresh and "第一" not in reused and "内容" not in reused


def test_a_page_is_validated_once(tmp_path, monkeypatch):
    """nbconvert validates the notebook after every preprocessor unless told to do it once
    at the end (a third of its time per page); an invalid notebook still fails."""
    from nbconvert.exporters import exporter as exporter_mod

    run = RunInfo(data_source="d", parameters={}, started=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc), duration_s=1)
    good = new_notebook(cells=[new_markdown_cell("# One")])
    broken = new_notebook(cells=[new_markdown_cell("# One")])
    broken.cells[0]["cell_type"] = "nonsense"
    calls = []
    real = exporter_mod.nbformat.validate
    monkeypatch.setattr(exporter_mod.nbformat, "validate", lambda nb, **kw: calls.append(1) or real(nb, **kw))
    render_page(good, tmp_path / "p.html", title="t", run_info=run)
    assert len(calls) == 1
    with pytest.raises(Exception, match="(?i)valid"):
        render_page(broken, tmp_path / "q.html", title="t", run_info=run)
    assert not (tmp_path / "q.html").exists()
