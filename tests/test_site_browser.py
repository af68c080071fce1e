"""The built site in a real browser: headless Debian Chromium driven by Playwright.

One site is built for the module (the CLV study on a 1,500-customer sample in English
and Chinese, and a small generated study with figures and extra pages); then every
HTML page is opened from disk and checked: no console errors, no request to anything
but ``file:`` and ``data:``, every link resolves, every image is decoded and visible,
``<html lang>`` is right, Chinese pages show Chinese. A phone-sized viewport shows no
horizontal overflow (wide tables scroll inside their wrapper), and the print layout
hides navigation and prints to PDF.

Needs the ``playwright`` Python package (no browser download) and Chromium at
``/usr/bin/chromium`` (Debian package ``chromium``; another path via
``$CHROMIUM_PATH``). ``.ci/run`` installs both; without them the tests are skipped
locally and fail in CI.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest

from helpers.site.build import build
from helpers.site.config import load_config

from ._playbook_repo import make_repo

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}
CJK = re.compile(r"[\u4e00-\u9fff]")

pytestmark = pytest.mark.slow


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason} (.ci/run installs them)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("browser-site")
    config_path = make_repo(
        root,
        {
            "output": "site",
            "build": "build",
            "title": {"en": "Playbooks", "zh-CN": "分析手册"},
            "studies": [
                {
                    "name": "clv",
                    "title": {"en": "Customer lifetime value", "zh-CN": "客户终身价值"},
                    "notebook": "notebooks/clv.ipynb",
                    "languages": ["en", "zh-CN"],
                    "parameters": {"sample_customers": 1500, "output_dir": "build/outputs/{page}"},
                },
                {
                    "name": "demo",
                    "title": "Demo",
                    "notebook": "notebooks/demo.ipynb",
                    "extra_pages": "pages",
                    "parameters": {"output_dir": "build/outputs/{page}", "extra_pages": 2, "region": "{variant}"},
                    "variants": [{"name": "north", "title": "North"}, {"name": "south", "title": "South"}],
                },
            ],
        },
        figure=True,
    )
    (root / "notebooks" / "clv.ipynb").write_bytes((ROOT / "notebooks" / "clv.ipynb").read_bytes())
    result = build(load_config(config_path), jobs=2, progress=False, out=open(os.devnull, "w"))
    assert all(r.ok for r in result.pages), [r.error for r in result.pages]
    return root / "site"


@pytest.fixture(scope="module")
def browser():
    if importlib.util.find_spec("playwright") is None:
        _unavailable("the playwright package is not installed (pip install playwright)")
    if not Path(CHROMIUM).is_file():
        _unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-sync"],
        )
        yield chromium
        chromium.close()


def manifest(site: Path) -> dict:
    return json.loads((site / "site.json").read_text(encoding="utf-8"))["pages"]


def all_pages(site: Path) -> list[Path]:
    return sorted(site.rglob("*.html"))


def open_page(browser, path: Path, **context_args):
    """Open ``path``; returns (page, console errors, requests)."""
    context = browser.new_context(**context_args)
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type in ("error", "assert") else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    return page, errors, requests


def test_the_site_has_every_page(site):
    pages = manifest(site)
    assert set(pages) == {"clv", "clv-zh-CN", "demo-north", "demo-south"}
    names = {p.relative_to(site).as_posix() for p in all_pages(site)}
    assert {"index.html", "clv.html", "clv-zh-CN.html", "demo-north/segment-0.html", "demo-south/segment-1.html"} <= names


def test_every_page_loads_cleanly_offline_with_working_links_and_figures(site, browser):
    pages = manifest(site)
    langs = {f"{name}.html": entry["lang"] for name, entry in pages.items()} | {"index.html": "en"}
    problems: list[str] = []
    images = 0
    for path in all_pages(site):
        rel = path.relative_to(site).as_posix()
        page, errors, requests = open_page(browser, path)
        problems += [f"{rel}: {e}" for e in errors]
        problems += [f"{rel}: request to {u}" for u in requests if not u.startswith(("file://", "data:"))]
        # links
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            if href.startswith(("http://", "https://", "mailto:")):
                continue  # a link the reader may follow; nothing is loaded
            target = urlparse(urljoin(path.as_uri(), href))
            if target.scheme != "file":
                problems.append(f"{rel}: link {href!r} is not a file link")
                continue
            file = Path(unquote(target.path))
            if not file.is_file():
                problems.append(f"{rel}: link {href!r} points to a missing file")
            elif target.fragment and file == path and not page.query_selector(f"[id='{target.fragment}'], a[name='{target.fragment}']"):
                problems.append(f"{rel}: anchor {href!r} not found")
        # figures: decoded and visible
        for img in page.query_selector_all("img"):
            state = img.evaluate("i => ({w: i.naturalWidth, ok: i.complete, r: i.getBoundingClientRect().width})")
            if not (state["ok"] and state["w"] > 0 and state["r"] > 0 and img.is_visible()):
                problems.append(f"{rel}: image not shown {state}")
            images += 1
        # language
        if rel in langs:
            lang = page.evaluate("document.documentElement.lang")
            if lang != langs[rel]:
                problems.append(f"{rel}: <html lang={lang!r}>, expected {langs[rel]!r}")
        page.context.close()
    assert not problems, "\n".join(problems)
    assert images >= 18  # 8+ CLV figures per language and the demo figures


def test_chinese_and_english_pages(site, browser):
    zh, errors, _ = open_page(browser, site / "clv-zh-CN.html")
    assert not errors
    assert zh.inner_text(".site-nav .nav-home") == "全部运营手册"
    assert zh.inner_text("footer h2") == "关于本次运行"
    assert zh.eval_on_selector("a[hreflang='en']", "a => a.getAttribute('href')") == "clv.html"
    assert zh.title() == "客户终身价值"
    main_zh = zh.inner_text("main")
    zh.context.close()
    en, errors, _ = open_page(browser, site / "clv.html")
    assert not errors
    assert en.inner_text("footer h2") == "About this run"
    assert en.eval_on_selector("a[hreflang='zh-CN']", "a => a.getAttribute('href')") == "clv-zh-CN.html"
    main_en = en.inner_text("main")
    en.context.close()
    assert len(CJK.findall(main_en)) < 5
    if importlib.util.find_spec("helpers.report.i18n") is None:
        pytest.skip("page content is translated by helpers.report.i18n, which is not in this checkout yet")
    assert len(CJK.findall(main_zh)) > 200, main_zh[:500]


def test_index_lists_studies_headlines_and_extra_pages(site, browser):
    page, errors, _ = open_page(browser, site / "index.html")
    assert not errors
    assert page.eval_on_selector_all("section.study h2", "hs => hs.map(h => h.textContent)") == ["Customer lifetime value", "Demo"]
    hrefs = page.eval_on_selector_all("a", "as => as.map(a => a.getAttribute('href'))")
    for href in ("clv.html", "clv-zh-CN.html", "demo-north.html", "demo-south.html", "demo-north/segment-0.html", "demo-south/segment-1.html"):
        assert href in hrefs
    demo = page.inner_text("#study-demo")
    assert "Total" in demo and "6.00" in demo
    page.context.close()


def test_pages_fit_a_phone_and_tables_scroll_inside_their_wrapper(site, browser):
    problems = []
    names = ["index.html", *(entry["file"] for entry in manifest(site).values())]
    for name in names:
        page, _, _ = open_page(browser, site / name, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            problems.append(f"{name}: page is {overflow}px wider than the phone")
        tables = page.evaluate(
            """() => [...document.querySelectorAll('table')].map(t => {
                let el = t;
                while (el && !['auto', 'scroll'].includes(getComputedStyle(el).overflowX)) el = el.parentElement;
                return {wrapped: !!el, right: el ? el.getBoundingClientRect().right : null, wide: t.scrollWidth > window.innerWidth};
            })"""
        )
        for i, t in enumerate(tables):
            if not t["wrapped"] or t["right"] > PHONE["width"] + 1:
                problems.append(f"{name}: table {i} is not inside a scrolling wrapper that fits the screen: {t}")
        page.context.close()
    assert not problems, "\n".join(problems)


def test_pages_print(site, browser, tmp_path):
    page, _, _ = open_page(browser, site / "clv.html")
    page.emulate_media(media="print")
    assert page.evaluate("getComputedStyle(document.querySelector('.site-nav')).display") == "none"
    pdf = page.pdf(format="A4")
    page.context.close()
    assert pdf.startswith(b"%PDF") and len(pdf) > 50_000


# --------------------------------------------------- the one-business site (issue 13)

DESKTOP = {"width": 1366, "height": 768}
A4 = {"width": 794, "height": 1123}  # A4 at 96 dpi; @page margins leave about 680 px
BRAND_STUDIES = ["segments", "customer_base"]


@pytest.fixture(scope="module")
def brand_site(tmp_path_factory) -> Path:
    """The repo's own config on a 1,500-customer brand: segments (long tables, per-segment
    pages, activation lists) and customer base, in English and Chinese."""
    import dataclasses

    import yaml

    root = tmp_path_factory.mktemp("brand-site")
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    shutil.copytree(ROOT / "playbooks", root / "playbooks", ignore=shutil.ignore_patterns("site"))
    raw = yaml.safe_load((ROOT / "playbooks" / "playbooks.yaml").read_text(encoding="utf-8"))
    raw["studies"] = [s for s in raw["studies"] if s["name"] in BRAND_STUDIES]
    (root / "playbooks" / "playbooks.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = load_config(root / "playbooks" / "playbooks.yaml")
    config = dataclasses.replace(config, data=config.data.with_customers(1500))
    result = build(config, jobs=2, progress=False, out=open(os.devnull, "w"))
    assert all(r.ok for r in result.pages), [r.error for r in result.pages]
    return config.output


def _column_problems(page, name: str) -> list[str]:
    """Tables whose columns do not all fit: the table is wider than its box."""
    tables = page.evaluate(
        """() => [...document.querySelectorAll('table')].filter(t => t.offsetParent !== null).map((t, i) => {
            const box = t.closest('.scroll') || t.parentElement;
            return {i, table: Math.ceil(t.getBoundingClientRect().width), box: Math.floor(box.clientWidth),
                    scroll: t.scrollWidth - t.clientWidth, head: t.tHead ? t.tHead.innerText.slice(0, 60) : ''};
        })"""
    )
    return [f"{name}: table {t['i']} ({t['head']!r}) is {t['table']}px in a {t['box']}px box" for t in tables
            if t["table"] > t["box"] + 1 or t["scroll"] > 1]


def test_brand_pages_show_every_column_at_1366px_and_in_a4_print(brand_site, browser):
    problems = []
    for path in all_pages(brand_site):
        name = path.relative_to(brand_site).as_posix()
        page, _, _ = open_page(browser, path, viewport=DESKTOP)
        problems += _column_problems(page, f"{name} @1366")
        page.set_viewport_size(A4)
        page.emulate_media(media="print")
        problems += _column_problems(page, f"{name} @A4 print")
        page.context.close()
    assert not problems, "\n".join(problems)


def test_brand_pages_do_not_overflow_a_phone(brand_site, browser):
    problems = []
    for path in all_pages(brand_site):
        name = path.relative_to(brand_site).as_posix()
        page, _, _ = open_page(browser, path, viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        if overflow > 1:
            problems.append(f"{name}: page is {overflow}px wider than the phone")
        page.context.close()
    assert not problems, "\n".join(problems)


def test_every_csv_link_resolves_and_opens_in_a_spreadsheet(brand_site, browser):
    import pandas as pd

    seen = set()
    for path in all_pages(brand_site):
        page, _, _ = open_page(browser, path)
        for href in page.eval_on_selector_all("a[href$='.csv']", "els => els.map(e => e.getAttribute('href'))"):
            target = Path(unquote(urlparse(urljoin(path.as_uri(), href)).path))
            assert target.is_file(), f"{path.name}: {href} is missing"
            seen.add(target)
        page.context.close()
    names = {p.name for p in seen}
    assert {"champions.csv", "customer_stages.csv", "customer_segments.csv"} <= names, names
    for target in seen:
        raw = target.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf"), target  # UTF-8 with BOM: Excel reads Chinese
        frame = pd.read_csv(target, encoding="utf-8-sig", dtype=str, keep_default_na=False)
        if "customer_id" in frame:
            assert frame["customer_id"].str.startswith("C-").all(), target  # pseudonymised, not M000123
        text_cells = frame.stack()  # every cell is text (dtype=str)
        assert not text_cells.str.match(r"^[=@]").any(), target  # formula-injection safe
    # a segment page links its own activation list
    seg = brand_site / "segments" / "champions.html"
    assert 'href="files/champions.csv"' in seg.read_text(encoding="utf-8")


def test_long_tables_sort_and_filter_and_degrade_without_javascript(brand_site, browser):
    page, errors, _ = open_page(browser, brand_site / "segments.html")
    assert not errors
    table = page.query_selector("table[data-enhanced]")
    assert table is not None, "no long table was made sortable"
    n = table.evaluate("t => t.tBodies[0].rows.length")
    # sort by the first column whose cells are all numbers
    col = table.evaluate(
        """t => [...t.tHead.rows[t.tHead.rows.length - 1].cells].findIndex((c, i) =>
            [...t.tBodies[0].rows].every(r => /^[-+]?[¥$]?[\\d,.]+[%k万]?$/.test((r.cells[i] || {}).textContent.trim())))"""
    )
    assert col >= 0
    header = table.query_selector_all("thead tr:last-child th")[col]
    header.query_selector("button.sort").click()
    assert header.get_attribute("aria-sort") == "ascending"
    values = table.evaluate(
        f"""t => [...t.tBodies[0].rows].map(r => parseFloat(r.cells[{col}].textContent.replace(/[^\\d.-]/g, '')))"""
    )
    assert values == sorted(values) and len(values) == n
    header.query_selector("button.sort").click()
    values = table.evaluate(
        f"""t => [...t.tBodies[0].rows].map(r => parseFloat(r.cells[{col}].textContent.replace(/[^\\d.-]/g, '')))"""
    )
    assert values == sorted(values, reverse=True)
    # filter: the rows containing a word stay, the others hide
    word = table.evaluate("t => t.tBodies[0].rows[0].cells[0].textContent.trim()")
    box = page.query_selector(".table-filter input")
    box.fill(word)
    visible = table.evaluate("t => [...t.tBodies[0].rows].filter(r => !r.hidden).map(r => r.textContent)")
    assert visible and all(word.lower() in v.lower() for v in visible) and len(visible) < n
    box.fill("")
    assert table.evaluate("t => [...t.tBodies[0].rows].filter(r => !r.hidden).length") == n
    page.context.close()
    # without JavaScript: a plain table, nothing missing
    plain, errors, _ = open_page(browser, brand_site / "segments.html", java_script_enabled=False)
    assert plain.query_selector(".table-filter") is None and plain.query_selector("table[data-enhanced]") is None
    assert plain.evaluate("document.querySelectorAll('main table').length") > 0
    plain.context.close()


def test_chinese_index_and_language_switches_resolve_on_every_page(brand_site, browser):
    zh_index = brand_site / "index-zh-CN.html"
    assert zh_index.is_file()
    page, errors, _ = open_page(browser, zh_index)
    assert not errors and page.evaluate("document.documentElement.lang") == "zh-CN"
    assert page.eval_on_selector("a[hreflang='en']", "a => a.getAttribute('href')") == "index.html"
    assert len(CJK.findall(page.inner_text("main"))) > 20
    assert "segments-zh-CN.html" in page.eval_on_selector_all("a.page-title", "as => as.map(a => a.getAttribute('href'))")
    page.context.close()
    en, _, _ = open_page(browser, brand_site / "index.html")
    assert en.eval_on_selector("a[hreflang='zh-CN']", "a => a.getAttribute('href')") == "index-zh-CN.html"
    en.context.close()
    problems = []
    for path in all_pages(brand_site):
        name = path.relative_to(brand_site).as_posix()
        if name.startswith("index"):
            continue
        page, _, requests = open_page(browser, path)
        lang = page.evaluate("document.documentElement.lang")
        home = page.eval_on_selector(".site-nav a.nav-home", "a => a.getAttribute('href')") if page.query_selector(".site-nav a.nav-home") else None
        expected = ("../" if "/" in name else "") + ("index-zh-CN.html" if lang == "zh-CN" else "index.html")
        if home != expected:
            problems.append(f"{name}: back to index is {home!r}, expected {expected!r}")
        switches = page.eval_on_selector_all(".site-nav .nav-langs a", "as => as.map(a => a.getAttribute('href'))")
        if not switches:
            problems.append(f"{name}: no language switch")
        for href in switches:
            if not Path(unquote(urlparse(urljoin(path.as_uri(), href)).path)).is_file():
                problems.append(f"{name}: language switch {href} is missing")
        problems += [f"{name}: request to {u}" for u in requests if not u.startswith(("file://", "data:"))]
        page.context.close()
    assert not problems, "\n".join(problems)


def test_brand_figures_are_sharp_and_described(brand_site, browser):
    page, _, _ = open_page(browser, brand_site / "customer_base.html")
    imgs = page.eval_on_selector_all(
        "main img", "is => is.map(i => ({n: i.naturalWidth, w: i.getBoundingClientRect().width, alt: i.alt}))"
    )
    page.context.close()
    assert imgs
    for img in imgs:
        assert img["n"] >= 1.9 * img["w"], img  # drawn at 2x
        assert img["alt"] and img["alt"] not in ("Figure", "图表"), img
