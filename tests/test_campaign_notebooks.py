"""Smoke runs of the triggers and campaign readout notebooks on small generated data.

One small dataset has the campaign tables (read from the folder), the other only the core
tables (the notebooks generate the campaign tables and cache them). Each page runs in
English and in Chinese.
"""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest

from helpers.data.generator import GeneratorConfig, generate, write
from helpers.report.page import RunInfo, render_page
from helpers.site.run import execute_notebook

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("campaign_pages")
    with_tables, core_only = base / "with_tables", base / "core_only"
    write(generate(GeneratorConfig(n_customers=800, seed=5, campaigns=True)), with_tables)
    write(generate(GeneratorConfig(n_customers=800, seed=6)), core_only)
    jobs = [("campaigns", "en", with_tables), ("triggers", "zh-CN", with_tables),
            ("triggers", "en", core_only), ("campaigns", "zh-CN", core_only)]

    def run(job):
        name, lang, data = job
        out = base / f"{name}-{lang}-{data.name}"
        params = {"data_dir": str(data), "language": lang, "output_dir": str(out / "outputs"),
                  "cache_dir": str(base / "cache"), "observation_end": ""}
        if name == "triggers":
            params["backtest_weeks"] = 6
        nb = execute_notebook(ROOT / "notebooks" / f"{name}.ipynb", params, out / "executed.ipynb", cwd=ROOT,
                              progress=False)
        page = render_page(nb, out / "page.html", title=name, lang=lang,
                           run_info=RunInfo.from_notebook(nb, data_source=str(data), parameters=params))
        return out, page.read_text(encoding="utf-8")

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip([(n, lang) for n, lang, _ in jobs], pool.map(run, jobs)))


def _cells(html):
    return re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", html)


@pytest.mark.parametrize("key", [("campaigns", "en"), ("triggers", "zh-CN"), ("triggers", "en"), ("campaigns", "zh-CN")])
def test_pages_read_like_a_report(runs, key):
    _, html = runs[key]
    headings = ("The answer", "What to do", "Method and assumptions", "Data quality") if key[1] == "en" else (
        "结论", "建议行动", "方法与假设", "数据质量")
    for heading in headings:
        assert heading in html, (key, heading)
    assert "Traceback" not in html and "def " not in html
    assert html.count('src="data:image/png;base64,') >= 2
    assert "M00" not in " ".join(_cells(html))  # no raw member ids on the page


def test_generated_campaign_tables_are_said_to_be_illustrations(runs):
    assert "generated from this folder" in runs[("triggers", "en")][1]
    assert "generated from this folder" not in runs[("campaigns", "en")][1]
    assert "用于演示方法" in runs[("campaigns", "zh-CN")][1]


def test_exports_are_pseudonymised(runs):
    folder, _ = runs[("triggers", "en")]
    audiences = pd.read_csv(folder / "outputs" / "trigger_audiences.csv")
    assert len(audiences) and audiences["customer_id"].str.fullmatch(r"C-[0-9a-f]{12}").all()
    metrics = json.loads((folder / "outputs" / "trigger_metrics.json").read_text(encoding="utf-8"))
    assert metrics["weeks"] == 6
    folder, _ = runs[("campaigns", "en")]
    table = pd.read_csv(folder / "outputs" / "campaign_customers.csv")
    assert table["customer_id"].str.fullmatch(r"C-[0-9a-f]{12}").all() and "predicted_uplift" in table
