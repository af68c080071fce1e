"""Hostile ids through a real build (issue 12, items 1 and 2): with ``allow_raw_ids: true``
an id ``<img src=x onerror=alert(1)>`` is shown as text on every page, never as a live
element, and an id ``=HYPERLINK(...)`` reaches the CSV exports neutralised. Every page of
the site carries the Content-Security-Policy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup

from helpers.report.exports import FORMULA_PREFIXES
from helpers.report.page import content_security_policy, script_hash, tables_script
from helpers.site.build import build
from helpers.site.config import load_config

from ._cdnow import sample
from .test_safe import FORMULA, HOSTILE, csp_of, live_problems

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = 600  # as tests/test_site_privacy.py: 300 leaves the CLV holdout error undefined (a CLV-page bug)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=[True, False], ids=["raw_ids", "pseudonymised"])
def hostile_site(request, tmp_path_factory):
    allow_raw = request.param
    root = tmp_path_factory.mktemp("hostile")
    data = sample()
    keep = data["customer_id"].drop_duplicates().iloc[:CUSTOMERS]
    data = data[data["customer_id"].isin(keep)].copy()
    # the two best customers get the hostile ids, so they head every customer table
    best = data.groupby("customer_id")["amount"].sum().sort_values(ascending=False).index
    names = {best[0]: HOSTILE, best[1]: FORMULA, best[2]: "+cmd|' /C calc'!A0", best[3]: "@SUM(1+1)*cmd"}
    data["customer_id"] = data["customer_id"].map(lambda c: names.get(c, f"C{c}"))
    (root / "data").mkdir()
    data[["customer_id", "timestamp", "amount"]].to_csv(root / "data" / "orders.csv", index=False)
    (root / "notebooks").mkdir()
    for name in ("clv", "segments"):
        shutil.copy(ROOT / "notebooks" / f"{name}.ipynb", root / "notebooks" / f"{name}.ipynb")
    shutil.copytree(ROOT / "playbooks", root / "playbooks", ignore=shutil.ignore_patterns("site", "site.*", "playbooks.yaml"))
    common = {"data_path": "data/orders.csv", "allow_raw_ids": allow_raw, "output_dir": "build/outputs/{page}"}
    config = {
        "output": "site",
        "build": "build",
        "studies": [
            {"name": "clv", "title": "CLV <b>", "notebook": "notebooks/clv.ipynb", "parameters": common},
            {"name": "segments", "title": "Segments", "notebook": "notebooks/segments.ipynb", "extra_pages": "pages",
             "parameters": {**common, "pages_link": "{page}"}},
        ],
    }
    (root / "playbooks" / "playbooks.yaml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    result = build(load_config(root / "playbooks" / "playbooks.yaml"), jobs=1, progress=False, out=open(os.devnull, "w"))
    assert all(r.ok for r in result.pages), [r.error for r in result.pages]
    return root, allow_raw


def test_no_page_has_a_live_element_from_data(hostile_site):
    root, allow_raw = hostile_site
    pages = sorted((root / "site").rglob("*.html"))
    assert len(pages) >= 4  # index, clv, segments and the segment pages
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert live_problems(html) == [], page.relative_to(root)
        # the policy allows exactly the page's own inline scripts, and those are only the table script
        scripts = [tag.string or "" for tag in BeautifulSoup(html, "html.parser").find_all("script")]
        assert all(source == tables_script() for source in scripts), page.relative_to(root)
        assert csp_of(html) == content_security_policy([script_hash(s) for s in scripts]), page.relative_to(root)
    if allow_raw:  # the hostile id is shown, as text, in the CLV customer tables
        text = BeautifulSoup((root / "site" / "clv.html").read_text(encoding="utf-8"), "html.parser").get_text()
        assert HOSTILE in text and FORMULA in text


def test_exports_neutralise_formulas(hostile_site):
    root, allow_raw = hostile_site
    csvs = sorted((root / "build" / "outputs").rglob("*.csv"))
    assert any(p.name == "customer_clv.csv" for p in csvs) and any(p.parent.name == "activation" for p in csvs)
    seen = set()
    for path in csvs:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        for column in table.columns:
            values = table[column]
            if column in ("customer_id",):
                assert not values.str.startswith(FORMULA_PREFIXES).any(), (path.name, column)
                seen.update(values[values.str.startswith("'")])
            numeric = pd.to_numeric(values, errors="coerce")
            if numeric.notna().all():
                continue  # numeric columns keep their sign
            assert not values[numeric.isna()].str.startswith(FORMULA_PREFIXES).any(), (path.name, column)
    if allow_raw:
        assert {"'" + FORMULA, "'+cmd|' /C calc'!A0", "'@SUM(1+1)*cmd"} <= seen
    clv = pd.read_csv(root / "build" / "outputs" / "clv" / "customer_clv.csv")
    assert pd.api.types.is_numeric_dtype(clv["clv"])  # numbers stay numbers
