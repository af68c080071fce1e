"""Smoke runs of the monitoring, KPI and community notebooks in English and Chinese on a small
generated dataset (600 customers: seconds per run)."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from helpers.data.generator import GeneratorConfig, generate, write
from helpers.report.page import RunInfo, render_page
from helpers.site.run import execute_notebook

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    folder = tmp_path_factory.mktemp("small")
    write(generate(GeneratorConfig(n_customers=600, seed=4)), folder, "csv")
    return folder


def _run(name, params, tmp, language):
    out = tmp / f"{name}-{language}"
    nb = execute_notebook(ROOT / "notebooks" / f"{name}.ipynb", params | {"language": language, "output_dir": str(out / "outputs")},
                          out / "executed.ipynb", cwd=ROOT, progress=False)
    page = render_page(nb, out / f"{name}.html", title=name, lang=language,
                       run_info=RunInfo.from_notebook(nb, data_source="small", parameters=params))
    return out, page.read_text(encoding="utf-8")


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_monitoring_notebook(small, tmp_path, language):
    params = {"data_dir": str(small), "calibrate_lab": language == "en", "lab_runs": 2, "lab_customers": 300}
    out, html = _run("monitoring", params, tmp_path, language)
    metrics = json.loads((out / "outputs" / "monitoring_metrics.json").read_text())
    truth = json.loads((small / "truth.json").read_text())["loyalty"]
    assert metrics["points_issued"] == truth["points_credited"] and metrics["points_expired"] == truth["points_expired"]
    assert ("Breakage" in html and "deferred revenue" in html) if language == "en" else ("沉淀率" in html and "递延收入" in html)
    if language == "en":
        assert "Lab with the observed propensity" in html and len(metrics["lab"]) == 2
    assert html.count('src="data:image/png;base64,') >= 1
    assert "Traceback" not in html and "import " not in html


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_kpi_notebook(small, tmp_path, language):
    params = {"data_dir": str(small), "targets": {"repeat_rate": {"value": 0.3, "source": {"en": "plan", "zh-CN": "计划"}}}}
    out, html = _run("kpi", params, tmp_path, language)
    table = pd.read_csv(out / "outputs" / "kpi_monthly.csv")
    assert len(table) == 24 and {"repeat_rate", "order_value", "churn_rate"} <= set(table.columns)
    assert ("Repeat rate (复购率)" in html and "year on year" in html) if language == "en" else ("复购率" in html and "同比" in html)
    assert "Traceback" not in html


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_community_notebook_generates_its_tables_and_hides_ids(small, tmp_path, language):
    params = {"data_dir": str(small), "cache_dir": str(tmp_path / "cache")}
    out, html = _run("community", params, tmp_path, language)
    assert ("K-factor" in html and "Deal groups (福利群)" in html) if language == "en" else ("K 因子" in html and "福利群" in html)
    cells = re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", html)
    assert not [c for c in cells if re.fullmatch(r"M\d{6}", c)]  # raw ids never shown
    assert any(re.fullmatch(r"C-[0-9a-f]{12}", c) for c in cells)
    metrics = json.loads((out / "outputs" / "community_metrics.json").read_text())
    assert metrics["generated"] is True and metrics["referrals"]["customers"] == 600
