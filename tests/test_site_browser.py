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
    assert zh.inner_text(".site-nav .nav-home") == "全部手册"
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
