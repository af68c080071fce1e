"""Smoke runs of notebooks/loyalty_lab.ipynb through papermill and the page renderer."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.render import NotebookFailed, RunInfo, execute_notebook, render_page

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "notebooks" / "loyalty_lab.ipynb"
DESIGNS = sorted((ROOT / "playbooks" / "designs").glob("*.yaml"))
SMOKE = {"customers": 1500, "runs": 20, "analysis_runs": 10}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("loyalty")
    params = {**SMOKE, "output_dir": str(out / "outputs")}
    nb = execute_notebook(LAB, params, out / "executed.ipynb", cwd=ROOT, progress=False)
    page = render_page(
        nb, out / "loyalty_lab.html", title="Loyalty design lab",
        run_info=RunInfo.from_notebook(nb, data_source="CDNOW sample of 1,500", parameters=params),
    )
    return out, page.read_text(encoding="utf-8")


def test_lab_writes_metrics_runs_and_pseudonymised_customer_results(lab_run):
    out, _ = lab_run
    metrics = json.loads((out / "outputs" / "loyalty_metrics.json").read_text())
    assert metrics["customers_simulated"] == SMOKE["customers"] and metrics["runs"] == SMOKE["runs"]
    assert metrics["customers_in_base"] == 23570
    assert len(metrics["designs"]) == len(DESIGNS)
    for design in metrics["designs"]:
        summary = design["summary"]
        assert summary["roi"]["low"] <= summary["roi"]["mean"] <= summary["roi"]["high"]
        assert design["break_even_lift"] is None or design["break_even_lift"] >= 0
        assert design["sensitivity"]
    runs = pd.read_csv(out / "outputs" / "loyalty_runs.csv")
    assert len(runs) == SMOKE["runs"] * len(DESIGNS)
    assert (runs["profit"] - (runs["incremental_margin"] - runs["total_cost"])).abs().max() < 1e-3 * runs["total_cost"].max()
    customers = pd.read_csv(out / "outputs" / "loyalty_customers.csv", dtype={"customer_id": str})
    assert len(customers) == SMOKE["customers"] * len(DESIGNS)
    assert customers["customer_id"].str.fullmatch(r"C-[0-9a-f]{12}").all()


def test_comparison_page_has_the_headline_table_figures_links_and_assumptions(lab_run):
    _, html = lab_run
    assert "The answer" in html and "What to do" in html
    assert "Break-even lift" in html and "Points liability" in html
    assert html.count('src="data:image/png;base64,') >= 4
    for path in DESIGNS:
        assert f'href="loyalty_lab/{path.stem}.html"' in html
    assert "Kivetz" in html and "Kopalle" in html  # the cited defaults
    assert "Acceleration near a reward" in html and "Redemption propensity" in html
    assert "def " not in html and "import " not in html and "\\x89PNG" not in html


def test_one_page_per_design_from_the_same_run(lab_run):
    out, _ = lab_run
    pages = sorted((out / "outputs" / "pages").glob("*.html"))
    assert [p.stem for p in pages] == [p.stem for p in DESIGNS]
    tiered = (out / "outputs" / "pages" / "tiered.html").read_text(encoding="utf-8")
    assert 'href="../loyalty_lab.html"' in tiered
    assert "Which assumptions matter" in tiered and "Members over time" in tiered and "By customer segment" in tiered
    assert "silver" in tiered and "gold" in tiered
    assert tiered.count('src="data:image/png;base64,') >= 5
    assert "<script" not in tiered


def test_a_mistake_in_a_design_file_stops_the_page_naming_file_key_and_value(tmp_path):
    bad = yaml.safe_load(DESIGNS[0].read_text(encoding="utf-8"))
    bad["burn"]["expiry_month"] = 12
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(bad), encoding="utf-8")
    with pytest.raises(NotebookFailed) as err:
        execute_notebook(LAB, {"design_files": [str(path)], **SMOKE, "output_dir": str(tmp_path / "out")},
                         tmp_path / "executed.ipynb", cwd=ROOT, progress=False)
    message = str(err.value)
    assert "typo.yaml" in message and "burn.expiry_month" in message and "unknown key" in message
    assert re.search(r"expiry_months", message)  # says what is allowed
