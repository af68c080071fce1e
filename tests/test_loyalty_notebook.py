"""Smoke runs of notebooks/loyalty_lab.ipynb through papermill and the page renderer, in
English and in Chinese."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.report.page import RunInfo, collect_headlines, render_page
from helpers.site.run import NotebookFailed, execute_notebook

from ._playbook_repo import only_our_table_script

ROOT = Path(__file__).resolve().parents[1]
LAB = ROOT / "notebooks" / "loyalty_lab.ipynb"
DESIGNS = sorted((ROOT / "playbooks" / "designs").glob("*.yaml"))
SMOKE = {"customers": 1500, "runs": 20, "analysis_runs": 10}
SMOKE_ZH = {"customers": 800, "runs": 10, "analysis_runs": 5, "language": "zh-CN", "currency": "¥",
            "pages_link": "loyalty_lab-zh-CN"}

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
    return out, page.read_text(encoding="utf-8"), nb


@pytest.fixture(scope="module")
def lab_run_zh(tmp_path_factory):
    out = tmp_path_factory.mktemp("loyalty_zh")
    params = {**SMOKE_ZH, "output_dir": str(out / "outputs")}
    nb = execute_notebook(LAB, params, out / "executed.ipynb", cwd=ROOT, progress=False)
    page = render_page(
        nb, out / "loyalty_lab-zh-CN.html", title="会员计划设计实验室", lang="zh-CN",
        run_info=RunInfo.from_notebook(nb, data_source="CDNOW", parameters=params),
    )
    return out, page.read_text(encoding="utf-8"), nb


def test_lab_writes_metrics_runs_and_pseudonymised_customer_results(lab_run):
    out, _, _ = lab_run
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
    _, html, nb = lab_run
    assert '<html lang="en"' in html
    assert "The answer" in html and "What to do" in html
    assert "Break-even lift" in html and "Points liability" in html
    assert html.count('src="data:image/png;base64,') >= 4
    for path in DESIGNS:
        assert f'href="loyalty_lab/{path.stem}.html"' in html
    assert "Kivetz" in html and "Kopalle" in html  # the cited defaults
    assert "Acceleration near a reward" in html and "Redemption propensity" in html
    assert "def " not in html and "import " not in html and "\\x89PNG" not in html
    headline = {item["label"]: item["value"] for item in collect_headlines(nb)}
    assert list(headline) == ["Most profitable design", "Expected profit, 12 months", "Its expected ROI",
                              "Break-even lift"]
    assert headline["Most profitable design"] in {"Simple points", "Bronze, silver, gold", "Monthly triggers"}


def test_one_page_per_design_from_the_same_run(lab_run):
    out, _, _ = lab_run
    pages = sorted((out / "outputs" / "pages").glob("*.html"))
    assert [p.stem for p in pages] == [p.stem for p in DESIGNS]
    tiered = (out / "outputs" / "pages" / "tiered.html").read_text(encoding="utf-8")
    assert 'href="../loyalty_lab.html"' in tiered
    assert "Which assumptions matter" in tiered and "Members over time" in tiered and "By customer segment" in tiered
    assert "silver" in tiered and "gold" in tiered
    assert tiered.count('src="data:image/png;base64,') >= 5
    assert only_our_table_script(tiered)  # the sortable-table script, nothing else
    assert '<html lang="en"' in tiered and "Loyalty design: Bronze, silver, gold" in tiered


def test_comparison_page_in_chinese(lab_run_zh):
    _, html, nb = lab_run_zh
    assert '<html lang="zh-CN"' in html
    for text in ("会员计划设计实验室：哪种方案能赚钱", "结论", "建议行动", "各方案对比", "各方案详情", "假设", "方法",
                 "数据与模型", "盈亏平衡提升", "积分负债（¥）", "基础积分", "铜卡、银卡、金卡", "月度触发奖励",
                 "敏感性分析（龙卷风图）", "临近奖励时的加速", "默认值出处", "签到"):
        assert text in html, text
    for english in ("The answer", "What to do", "The designs side by side", "Each design", "Data and models",
                    "Break-even lift", "Points liability", "Acceleration near a reward", "Full page for",
                    "Simple points", "expected profit"):
        assert english not in html, english
    for path in DESIGNS:
        assert f'href="loyalty_lab-zh-CN/{path.stem}.html"' in html
    assert "Kivetz" in html  # references stay as published
    headline = {item["label"]: item["value"] for item in collect_headlines(nb)}
    assert list(headline) == ["利润最高的方案", "12 个月预期利润", "该方案预期 ROI", "盈亏平衡提升"]
    assert headline["利润最高的方案"] in {"基础积分", "铜卡、银卡、金卡", "月度触发奖励"}
    assert headline["12 个月预期利润"].startswith(("¥", "-¥"))


def test_design_pages_in_chinese(lab_run_zh):
    out, _, _ = lab_run_zh
    pages = sorted((out / "outputs" / "pages").glob("*.html"))
    assert [p.stem for p in pages] == [p.stem for p in DESIGNS]
    for page in pages:
        html = page.read_text(encoding="utf-8")
        assert '<html lang="zh-CN"' in html, page.name
        assert 'href="../loyalty_lab-zh-CN.html"' in html and "返回方案对比" in html
        for heading in ("结论", "方案规则", "钱花在哪里", "哪些假设最关键", "会员人数变化", "按客户分群", "使用的假设"):
            assert heading in html, (page.name, heading)
        for english in ("The answer", "The rules", "Where the money goes", "Which assumptions matter",
                        "Members over time", "By customer segment", "Assumptions used", "Break-even:",
                        "All designs compared", "Design file:"):
            assert english not in html, (page.name, english)
        assert "关于本次运行" in html and "方案文件" in html  # the page frame and its footer rows
    tiered = (out / "outputs" / "pages" / "tiered.html").read_text(encoding="utf-8")
    assert "会员计划方案：铜卡、银卡、金卡" in tiered
    assert "银卡" in tiered and "金卡" in tiered and "每笔消费享 5% 折扣" in tiered
    assert tiered.count('src="data:image/png;base64,') >= 5


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
