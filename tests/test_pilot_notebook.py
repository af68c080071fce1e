"""Smoke runs of the pilot readout notebook through papermill and the page renderer:
the simulated default (in English and in Chinese), a Chinese GBK export, the data
generator's campaign table, and a bad file through the build."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers.data.pilot import simulate_pilot

from ._notebooks import NOTEBOOKS, build_keeps_the_old_page, run_page

NOTEBOOK = NOTEBOOKS / "pilot_readout.ipynb"

pytestmark = pytest.mark.slow


def _run(tmp: Path, params: dict, title: str = "Pilot readout", lang: str = "en") -> tuple[dict, str]:
    params = {"bootstrap_samples": 500, "output_dir": str(tmp / "outputs"), **params}
    run = run_page(NOTEBOOK, params, tmp, title=title, lang=lang, page="pilot",
                   data_source=params.get("data_path") or "simulated")
    readout = json.loads((tmp / "outputs" / "pilot_readout.json").read_text(encoding="utf-8"))
    return readout, run.html


@pytest.fixture(scope="module")
def default_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("pilot"), {})


def test_default_page_reads_out_the_simulated_pilot(default_run):
    readout, html = default_run
    truth = readout["truth"]
    assert truth["kind"] == "simulated" and truth["true_effect"] == 10.0
    assert readout["truth_covered"] is True
    assert readout["cuped"]["variance_reduction"] == pytest.approx(0.49, abs=0.05)  # rho = 0.7
    # the one expected answer on this seeded pilot: recomputed independently (numpy slope, scipy's
    # Welch interval on the CUPED-adjusted outcomes), the 95% interval is about 2.6 to 19.4, all
    # above zero, so the page's rule says roll out
    pilot = simulate_pilot(10_000, 10.0, 0.7, 42, treatment_share=0.5)
    f = pilot.frame
    y, x, treated = f["outcome"].to_numpy(), f["pre_metric"].to_numpy(), (f["group"] == "treatment").to_numpy()
    adjusted = y - np.polyfit(x, y, 1)[0] * (x - x.mean())
    ci = stats.ttest_ind(adjusted[treated], adjusted[~treated], equal_var=False).confidence_interval(0.95)
    assert ci.low > 0
    assert readout["cuped"]["adjusted"]["ci_low"] == pytest.approx(ci.low, rel=1e-6)
    assert readout["decision"]["action"] == "roll out"
    for heading in ("The answer", "What to do", "Was the split fair?", "with and without CUPED",
                    "bootstrap", "Effect by segment", "Planning the next pilot", "Assumptions and method"):
        assert heading in html, heading
    assert "simulated pilot" in html and "Known truth" in html
    assert "The rule on this page" in html
    assert "raised spend per customer by" in html  # the default metric name
    assert html.count('src="data:image/png;base64,') >= 4
    assert "def " not in html and "import " not in html
    assert "Traceback" not in html


def test_default_outputs(default_run, tmp_path_factory):
    readout, _ = default_run
    assert readout["segments"]["segments"] == 3
    assert readout["plan_cuped"]["n_total"] < readout["plan_raw"]["n_total"]
    assert readout["input"]["customers"] == 10_000


def test_default_page_in_chinese(tmp_path):
    readout, html = _run(tmp_path, {"language": "zh-CN"}, title="试点复盘", lang="zh-CN")
    assert '<html lang="zh-CN"' in html
    # the same pilot and numbers as the English page: only the words change
    assert readout["truth"]["kind"] == "simulated" and readout["truth_covered"] is True
    assert readout["decision"]["action"] == "roll out"  # the same seeded pilot as the English page
    for heading in ("试点复盘：活动有没有效果", "结论", "建议行动", "分组是否公平？", "活动效应：做与不做 CUPED 调整",
                    "复核：自助法置信区间", "购买的客户变多了吗？", "分群效应", "规划下一次试点", "假设与方法"):
        assert heading in html, heading
    for english in ("The answer", "What to do", "Was the split fair?", "Effect by segment",
                    "Planning the next pilot", "Assumptions and method", "Known truth", "The rule on this page",
                    "spend per customer", "simulated pilot", "Raw difference", "rows read"):
        assert english not in html, english
    assert "本页使用的是模拟试点" in html and "已知真实值" in html and "本页的决策规则" in html
    assert "人均消费" in html  # the default metric name in Chinese
    assert "低消费客户" in html and "对照组均值（¥）" in html and "读取行数" in html
    assert "样本比例失衡检验" in html and "统计功效" in html and "自助法" in html
    assert "**" not in html  # every bold span closed (CommonMark rules for CJK punctuation)
    assert html.count('src="data:image/png;base64,') >= 4
    assert "Traceback" not in html


def test_notebook_reads_a_chinese_gbk_pilot_export(tmp_path):
    sim = simulate_pilot(3000, 30.0, 0.6, 7).frame
    export = pd.DataFrame(
        {
            "会员编号": sim["customer_id"],
            "手机号": "13800138000",
            "组别": sim["group"].map({"control": "对照组", "treatment": "实验组"}),
            "活动前消费": sim["pre_metric"].map(lambda v: f"{v:,.2f}"),
            "活动后消费": sim["outcome"].map(lambda v: f"{v:,.2f}"),
            "会员等级": sim["segment"].map({"light": "普通", "medium": "银卡", "heavy": "金卡"}),
        }
    )
    path = tmp_path / "试点结果.csv"
    export.to_csv(path, index=False, encoding="gbk")
    params = {
        "data_path": str(path),
        "column_map": {"customer_id": "会员编号", "group": "组别", "pre_metric": "活动前消费",
                       "outcome": "活动后消费", "segment": "会员等级"},
        "control_label": "对照组",
        "treatment_label": "实验组",
        "metric_name": "人均消费",
    }
    readout, html = _run(tmp_path, params)
    assert readout["input"]["columns"]["pre_metric"] == "活动前消费"
    assert readout["srm"]["n_control"] + readout["srm"]["n_treatment"] == 3000
    assert {row["segment"] for row in readout["segments"]["table"]} == {"普通", "银卡", "金卡"}
    assert readout["conversion"] is None and readout["truth"] is None
    assert "人均消费" in html and "金卡" in html
    assert "13800138000" not in (tmp_path / "executed.ipynb").read_text(encoding="utf-8")
    assert "13800138000" not in html


def test_notebook_reads_the_generator_campaign_table_and_truth(tmp_path):
    from helpers.data.generator import GeneratorConfig, generate_to_folder

    folder = tmp_path / "newretail"
    truth = generate_to_folder(GeneratorConfig(n_customers=6000, seed=11), folder, "parquet")
    params = {
        "data_path": str(folder / "campaign_exposures.parquet"),
        "column_map": {"customer_id": "customer_id", "group": "group", "pre_metric": "pre_period_spend",
                       "outcome": "outcome_spend", "converted": "converted"},
        "truth_path": str(folder / "truth.json"),
    }
    readout, html = _run(tmp_path, params)
    pilot = truth["pilot"]
    assert readout["truth"]["true_effect"] == pytest.approx(pilot["sample_average_treatment_effect_cny"])
    assert readout["srm"]["n_treatment"] == pilot["treatment"] and readout["srm"]["n_control"] == pilot["control"]
    assert readout["conversion"]["treatment_mean"] == pytest.approx(pilot["conversion_rate_treatment"], abs=1e-6)
    assert readout["truth_covered"] in (True, False)
    assert "Known truth" in html and "data generator" in html
    assert readout["segments"] is None and "no segment column" in html


def test_build_with_a_bad_pilot_file_names_the_problem_and_keeps_the_old_page(tmp_path):
    bad = tmp_path / "pilot.csv"
    bad.write_text(
        "customer_id,group,pre_metric,outcome\n1,control,10,12\n2,treatment,8,9\n3,holdout,5,5\n4,treatment,1,2\n"
        "5,control,3,3\n",
        encoding="utf-8",
    )
    output = build_keeps_the_old_page(tmp_path, NOTEBOOK, {"data_path": str(bad)})
    assert "pilot.csv" in output and "'group'" in output and "row 4" in output and "holdout" in output
    assert re.search(r"control_label", output)
