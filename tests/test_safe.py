"""Issue 12, "safe by construction": escaped tables and pages, a Content-Security-Policy
on every page, formula-safe CSV exports, deterministic table ids."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from helpers.report import page as page_mod
from helpers.report.exports import FORMULA_PREFIXES, csv_text, neutralise_formulas
from helpers.report.page import (
    RunInfo,
    content_security_policy,
    make_self_contained,
    render_page,
    script_hash,
    tables_script,
)
from helpers.report.tables import styled

HOSTILE = "<img src=x onerror=alert(1)>"
FORMULA = '=HYPERLINK("http://evil.example","x")'


def live_problems(html: str) -> list[str]:
    """Everything in ``html`` that a browser would run or load: handler attributes,
    scripts, non-embedded images, javascript: URLs."""
    soup = BeautifulSoup(html, "html.parser")
    found = []
    for tag in soup.find_all(True):
        for attr, value in tag.attrs.items():
            if attr.lower().startswith("on"):
                found.append(f"<{tag.name} {attr}>")
            if attr in ("href", "src") and str(value).strip().lower().startswith("javascript:"):
                found.append(f"<{tag.name} {attr}={value}>")
        if tag.name == "script" and tag.string != tables_script():  # the page's own, CSP-hashed script
            found.append("<script>")
        if tag.name == "img" and not str(tag.get("src", "")).startswith("data:image/"):
            found.append(f"<img src={tag.get('src')}>")
    return found


def csp_of(html: str) -> str:
    meta = BeautifulSoup(html, "html.parser").find("meta", attrs={"http-equiv": "Content-Security-Policy"})
    assert meta is not None, "no Content-Security-Policy meta tag"
    return meta["content"]


# ------------------------------------------------------------------- tables


def test_styled_escapes_cells_and_headers():
    frame = pd.DataFrame({"<b>id</b>": [HOSTILE, "a&b"], "value": [1234.5, None]})
    html = styled(frame, {"value": "{:,.0f}"}).to_html()
    soup = BeautifulSoup(html, "html.parser")
    assert soup.find("img") is None and soup.find("b") is None
    cells = [td.get_text() for td in soup.find_all("td")]
    assert cells == [HOSTILE, "1,234", "a&b", "–"]  # shown as text, exactly
    assert [th.get_text() for th in soup.find_all("th")] == ["<b>id</b>", "value"]


def test_styled_escapes_columns_with_their_own_format():
    # a format for a text column must not switch escaping off for it
    frame = pd.DataFrame({"id": [HOSTILE], "n": [1]})
    html = styled(frame, {"id": "{}", "n": "{:,.0f}"}).to_html()
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_styled_table_ids_are_deterministic_and_distinct():
    frame = pd.DataFrame({"a": [1, 2]})
    first, second = styled(frame).to_html(), styled(frame).to_html()
    ids = [BeautifulSoup(h, "html.parser").find("table")["id"] for h in (first, second)]
    assert ids[0] != ids[1]  # two tables on one page never share an id
    # a fresh process makes the same ids in the same order (no uuid4)
    import subprocess
    import sys

    code = (
        "import pandas as pd; from helpers.report.tables import styled; f = pd.DataFrame({'a': [1, 2]});"
        "from bs4 import BeautifulSoup as B;"
        "print(*[B(styled(f).to_html(), 'html.parser').find('table')['id'] for _ in range(2)])"
    )
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout for _ in range(2)}
    assert len(runs) == 1 and len(set(runs.pop().split())) == 2


# -------------------------------------------------------------------- pages


def _run(**kw) -> RunInfo:
    return RunInfo(data_source="d.csv", parameters={"x": 1}, started=dt.datetime(2026, 1, 2, tzinfo=dt.timezone.utc),
                   duration_s=1.0, **kw)


def _hostile_notebook() -> object:
    """Every way a notebook output can carry data: an unescaped HTML table, Markdown text,
    a Styler table, plain text, an error message."""
    raw_html = pd.DataFrame({"customer_id": [HOSTILE]}).to_html(escape=False)
    outputs = [
        new_output("display_data", data={"text/html": raw_html}),
        new_output("display_data", data={"text/markdown": f"Top customer: {HOSTILE} [x](javascript:alert(1))"}),
        new_output("display_data", data={"text/html": styled(pd.DataFrame({"id": [HOSTILE]})).to_html()}),
        new_output("display_data", data={"text/html": '<a href="javascript:alert(1)" onclick="x()">a</a><iframe src="x"></iframe>'
                                                      '<svg onload="alert(1)"></svg><form action="http://e"><input></form>'}),
        new_output("stream", name="stdout", text=HOSTILE),
    ]
    return new_notebook(cells=[new_markdown_cell("# Report"), new_code_cell("x", outputs=outputs)])


def test_rendered_page_has_no_live_element_from_data(tmp_path):
    html = render_page(_hostile_notebook(), tmp_path / "p.html", title=HOSTILE, run_info=_run(extra={HOSTILE: HOSTILE}),
                       nav={"index": "index.html", "study": HOSTILE, "siblings": [], "alternates": [], "prev": None,
                            "next": None}).read_text(encoding="utf-8")
    assert live_problems(html) == []
    assert HOSTILE in BeautifulSoup(html, "html.parser").get_text()  # the escaped id is still shown as text


def test_every_page_has_a_strict_content_security_policy(tmp_path):
    html = render_page(_hostile_notebook(), tmp_path / "p.html", title="t", run_info=_run()).read_text(encoding="utf-8")
    policy = csp_of(html)
    from helpers.report.page import script_hash

    # the only script allowed is the page's own table script, by hash
    assert policy == content_security_policy([script_hash(tables_script())])
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'" and directives["script-src"] == f"'sha256-{script_hash(tables_script())}'"
    assert directives["img-src"] == "data:"  # no remote loads, figures are data: URIs
    assert "unsafe-inline" not in directives["script-src"]  # no inline event handlers
    assert len(BeautifulSoup(html, "html.parser").find_all("meta", attrs={"http-equiv": "Content-Security-Policy"})) == 1
    # extra pages copied into the site get the same policy
    extra = make_self_contained("<html><head><title>x</title></head><body><p>x</p></body></html>")
    assert csp_of(extra) == content_security_policy()


def test_template_scripts_are_kept_and_allowed_by_hash(monkeypatch):
    script = "document.documentElement.classList.add('js');"
    monkeypatch.setattr(page_mod, "trusted_script_hashes", lambda: frozenset({script_hash(script)}))
    html = make_self_contained(f"<html><head><meta charset='utf-8'></head><body><script>{script}</script>"
                               "<script>alert(1)</script></body></html>")
    scripts = [s.string for s in BeautifulSoup(html, "html.parser").find_all("script")]
    assert scripts == [script]  # the template's own script stays, any other goes
    expected = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{expected}'" in csp_of(html)


def test_static_templates_carry_the_same_policy():
    for name in ("segment/page.html.j2", "site/index.html.j2", "playbook/index.html.j2"):
        text = (page_mod.TEMPLATES_DIR / name).read_text(encoding="utf-8")
        assert f'content="{content_security_policy()}"' in text, name


def test_two_renders_of_one_executed_notebook_are_identical(tmp_path):
    nb = _hostile_notebook()
    a = render_page(nb, tmp_path / "a.html", title="t", run_info=_run()).read_bytes()
    b = render_page(nb, tmp_path / "b.html", title="t", run_info=_run()).read_bytes()
    assert a == b


# ------------------------------------------------------------------ exports


def test_csv_cells_that_start_a_formula_are_neutralised():
    frame = pd.DataFrame({
        "customer_id": [FORMULA, "+1", "-2", "@SUM(A1)", "\tx", "\rx", "ok", None],
        "amount": [-12.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        "count": [-3, 1, 2, 3, 4, 5, 6, 7],
    })
    text = csv_text(frame)
    assert "'\rx" in text  # a bare CR is not quoted by pandas, so check it in the text
    back = pd.read_csv(io.StringIO(text.replace("\r", "")), keep_default_na=False, dtype=str)
    ids = back["customer_id"].tolist()
    assert ids[:5] == ["'" + v for v in frame["customer_id"][:5]]
    assert ids[5:] == ["'x", "ok", ""]
    assert not any(v.startswith(FORMULA_PREFIXES) for v in ids)
    assert back["amount"].tolist()[0] == "-12.5" and back["count"].tolist()[0] == "-3"  # numbers unchanged


def test_neutralising_leaves_the_callers_frame_as_it_was():
    """Columns without formulas are shared with the caller's frame, not copied: changing
    either afterwards must not reach the other."""
    frame = pd.DataFrame({"customer_id": [FORMULA, "ok"], "amount": [-12.5, 1.0]}, index=["=i", "j"])
    before = frame.copy()
    safe = neutralise_formulas(frame)
    assert frame.equals(before) and frame.index.tolist() == ["=i", "j"]
    assert safe["customer_id"].tolist() == ["'" + FORMULA, "ok"] and safe.index.tolist() == ["'=i", "j"]
    safe.loc["j", "amount"] = 99.0
    frame.loc["=i", "amount"] = 7.0
    assert frame["amount"].tolist() == [7.0, 1.0] and safe["amount"].tolist() == [-12.5, 99.0]


def test_index_and_headers_are_neutralised_too():
    frame = pd.DataFrame({"=cmd": ["a"]}, index=pd.Index(["-x"], name="segment"))
    text = csv_text(frame, index=True)
    assert text.splitlines() == ["segment,'=cmd", "'-x,a"]
    assert neutralise_formulas(frame).index.name == "segment"


@pytest.mark.parametrize("writer", ["clv", "segments", "study", "loyalty", "pilot"])
def test_every_export_writer_uses_csv_text(writer):
    """One function writes every CSV: no study calls DataFrame.to_csv itself (write_csv_atomic
    writes csv_text's bytes a block of rows at a time, tests/test_csv_text.py)."""
    import inspect

    import helpers.report.exports as exports
    import helpers.studies.clv.exports as clv
    import helpers.studies.loyalty.pages as loyalty
    import helpers.studies.pilot.analysis as pilot
    import helpers.studies.segments.actions as actions
    import helpers.studies.segments.study as seg

    module = {"clv": clv, "segments": actions, "study": seg, "loyalty": loyalty, "pilot": pilot}[writer]
    source = inspect.getsource(module)
    assert ".to_csv(" not in source and ("csv_text(" in source or "write_csv_atomic(" in source)
    assert ".to_csv(" in inspect.getsource(exports.csv_text)
    assert "csv_text(" in inspect.getsource(exports.write_csv_atomic)


def test_index_escapes_headlines_titles_and_errors(tmp_path):
    from helpers.report.page import headline_items
    from helpers.site.index import write_index

    studies = [{
        "name": "clv", "title": HOSTILE, "description": HOSTILE,
        "rows": [{
            "title": HOSTILE, "headline": headline_items({HOSTILE: HOSTILE, "n": 3}), "extra": [],
            "versions": [{"lang": "en", "label": "English", "href": "clv.html", "status": "stale", "error": HOSTILE,
                          "updated": "", "failed_at": ""}],
        }],
    }]
    html = write_index(tmp_path, title=HOSTILE, lang="en", studies=studies).read_text(encoding="utf-8")
    assert live_problems(html) == [] and "<img" not in html
    assert BeautifulSoup(html, "html.parser").get_text().count(HOSTILE) >= 5  # shown, as text
    assert csp_of(html) == content_security_policy()


def test_segment_page_template_escapes_data():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(page_mod.TEMPLATES_DIR / "segment")), autoescape=True)
    # the segment pages module renders with autoescape on; the template has no |safe on data
    source = (page_mod.TEMPLATES_DIR / "segment" / "page.html.j2").read_text(encoding="utf-8")
    assert "|safe" not in source.replace(" ", "") and "Markup" not in source
    from helpers.studies.segments import pages as seg_pages

    assert seg_pages._environment().autoescape in (True,) or callable(seg_pages._environment().autoescape)
    assert env.from_string("{{ x }}").render(x=HOSTILE) == "&lt;img src=x onerror=alert(1)&gt;"


def test_column_table_keeps_column_order_formats_numbers_and_escapes_headers():
    from helpers.report.tables import column_table

    headers = {"name": "<b>Name</b>", "n": "Customers", "share": "Share"}
    styler = column_table(
        [("name", ["<i>a</i>", "b"], None), ("n", [1234, 5], "{:,.0f}"), ("share", [0.125, 0.5], "{:.1%}")],
        headers.__getitem__,
    )
    assert list(styler.data.columns) == ["<b>Name</b>", "Customers", "Share"]
    html = styler.to_html()
    assert "1,234" in html and "12.5%" in html and "50.0%" in html
    assert "<b>" not in html and "<i>" not in html and "&lt;b&gt;Name&lt;/b&gt;" in html


def test_the_table_script_is_allowed_by_the_pages_policy(tmp_path):
    """The one script a page keeps (the sortable-table script) is in its CSP by hash, so the
    browser runs it; nothing else is allowed."""
    from helpers.report.page import script_hash

    html = render_page(_hostile_notebook(), tmp_path / "p.html", title="t", run_info=_run()).read_text(encoding="utf-8")
    policy = csp_of(html)
    scripts = policy.split("script-src", 1)[1].split(";")[0].split()
    assert scripts == [f"'sha256-{script_hash(tables_script())}'"]
    inline = [s.string for s in BeautifulSoup(html, "html.parser").find_all("script")]
    assert inline == [tables_script()]


def test_the_table_script_is_added_once(tmp_path):
    """Design pages are rendered (script added) and then given the site bar (script added
    again): the page keeps one copy and one hash in its policy."""
    from helpers.report.page import add_table_script

    html = render_page(_hostile_notebook(), tmp_path / "p.html", title="t", run_info=_run()).read_text(encoding="utf-8")
    twice = add_table_script(html)
    assert twice.count("<script>") == 1
    assert csp_of(twice) == csp_of(html)
