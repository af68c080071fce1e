"""Smoke runs of the customer-base, omnichannel and service notebooks through papermill.

The three notebooks run on the committed generated data (``data/newretail``); the
service notebook also runs without a tickets file (it must stop with a clean message),
and the omnichannel notebook runs on a GBK export with Chinese headers.
"""

import json
import re
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from ._notebooks import NOTEBOOKS, ROOT, execute, failure, run_page

DATA = ROOT / "data" / "newretail"
PAGES = {"customer_base": "Customer base", "omnichannel": "Omnichannel", "service": "Service and feedback loop"}

pytestmark = pytest.mark.slow


def _run_all(out, language=None):
    """Run the three notebooks on the default data, two kernels at a time."""

    def run(name):
        params = {"output_dir": str(out / name / "outputs")}
        if language:
            params["language"] = language
        run = run_page(NOTEBOOKS / f"{name}.ipynb", params, out / name, title=PAGES[name], lang=language or "en",
                       page="page", data_source="data/newretail")
        return out / name, run.html

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(PAGES, pool.map(run, PAGES)))


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return _run_all(tmp_path_factory.mktemp("issue3"))


@pytest.fixture(scope="module")
def zh_runs(tmp_path_factory):
    return _run_all(tmp_path_factory.mktemp("issue3_zh"), "zh-CN")


def _cells(html):
    return re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", html)


@pytest.mark.parametrize("name", list(PAGES))
def test_pages_read_like_a_report_without_code(runs, name):
    _, html = runs[name]
    for heading in ("The answer", "What to do", "Method and assumptions", "Data quality"):
        assert heading in html, (name, heading)
    assert "def " not in html and "import " not in html and "Traceback" not in html
    assert html.count('src="data:image/png;base64,') >= 4
    assert "M00" not in " ".join(_cells(html))  # no raw member ids on the page


def test_customer_base_outputs(runs):
    folder, html = runs["customer_base"]
    table = pd.read_csv(folder / "outputs" / "customer_stages.csv")
    assert len(table) == 3000
    assert table["customer_id"].str.fullmatch(r"C-[0-9a-f]{12}").all()
    metrics = json.loads((folder / "outputs" / "customer_base_metrics.json").read_text())
    assert sum(metrics["stage_counts"].values()) == 3000
    assert table["stage"].value_counts().to_dict() == {k: v for k, v in metrics["stage_counts"].items() if v}
    assert metrics["data_quality"]["rows_read"] == 20029
    assert {"cohort_heatmap", "repeat_curves", "lifecycle_stages", "spend_distribution"} <= {
        p.stem for p in (folder / "outputs" / "figures").glob("*.png")}
    assert "more than 180 days ago" in html  # the stage rules are stated on the page


def test_omnichannel_outputs(runs):
    folder, html = runs["omnichannel"]
    metrics = json.loads((folder / "outputs" / "omnichannel_metrics.json").read_text())
    assert metrics["customers"] == 3000 and metrics["top_channel"] == "store"
    assert metrics["clv"]["model_label"] == "BG/NBD"
    table = pd.read_csv(folder / "outputs" / "customer_channels.csv")
    assert set(table["group"]) == {"single", "multi"}
    assert "association" in html.lower()


def test_service_outputs_match_the_generators_truth(runs):
    folder, html = runs["service"]
    metrics = json.loads((folder / "outputs" / "service_metrics.json").read_text())
    truth = json.loads((DATA / "truth.json").read_text())["service"]
    assert metrics["response_breach_rate"] == pytest.approx(truth["share_response_breached"], abs=1e-6)
    assert metrics["after_ticket"]["difference_low"] < metrics["after_ticket"]["difference_high"]
    tickets = pd.read_csv(folder / "outputs" / "tickets.csv")
    assert len(tickets) == 212 and tickets["customer_id"].str.fullmatch(r"C-[0-9a-f]{12}").all()
    assert "15 min" in html and "24 h" in html  # both promises on the page


def test_service_notebook_without_tickets_names_the_missing_table(tmp_path):
    err = failure(NOTEBOOKS / "service.ipynb", {"tickets_path": "", "output_dir": str(tmp_path / "out")}, tmp_path)
    text = str(err)
    assert "the service notebook needs a service-tickets file" in text and "tickets_path" in text
    assert err.ename == "DataError"


def test_omnichannel_notebook_runs_on_a_chinese_gbk_export(tmp_path):
    tx = pd.read_csv(DATA / "transactions.csv", dtype={"customer_id": str})
    keep = tx["customer_id"].drop_duplicates().iloc[:600]
    tx = tx[tx["customer_id"].isin(keep) & ~tx["is_return"]]
    ts = pd.to_datetime(tx["timestamp"])
    export = pd.DataFrame(
        {
            "会员编号": tx["customer_id"],
            "订单号": tx["order_id"],
            "下单时间": ts.dt.year.astype(str) + "年" + ts.dt.month.astype(str) + "月" + ts.dt.day.astype(str) + "日 "
            + ts.dt.strftime("%H:%M"),
            "实付金额": tx["amount"].map(lambda v: f"{v:,.2f}"),
            "购买渠道": tx["channel"],  # not a known alias: named in the column map
            "手机号": "13800138000",
        }
    )
    path = tmp_path / "订单导出.csv"
    export.to_csv(path, index=False, encoding="gbk")
    params = {"data_path": str(path), "column_map": {"channel": "购买渠道"}, "include_clv": False,
              "output_dir": str(tmp_path / "out")}
    execute(NOTEBOOKS / "omnichannel.ipynb", params, tmp_path)
    metrics = json.loads((tmp_path / "out" / "omnichannel_metrics.json").read_text())
    assert metrics["customers"] == 600
    assert metrics["orders"] == tx["order_id"].nunique()
    expected_store = tx.loc[tx["channel"] == "store", "amount"].sum() / tx["amount"].sum()
    page = (tmp_path / "executed.ipynb").read_text(encoding="utf-8")
    assert "13800138000" not in page
    assert f"Store brings {expected_store:.0%} of revenue" in page


#: Text each Chinese page must show (its title and a sentence of its own), and English it must not.
ZH_PAGES = {
    "customer_base": (["客群概况：谁在购买", "同期群：新客户会回来吗？", "生命周期阶段", "最近一次购买距今超过 180 天",
                       "位客户在 2023-01-01 至 2024-12-31 期间共消费"],
                      ["Cohorts: do new customers come back?", "Lifecycle stages", "customers bought"]),
    "omnichannel": (["全渠道：客户在哪里购买", "渠道结构", "单渠道与多渠道客户", "门店贡献了", "是相关，不是因果"],
                    ["Channel mix", "Single- vs multi-channel customers", "Store brings", "Read with care"]),
    "service": (["服务与反馈闭环", "首次响应与解决时长：对照服务承诺", "15 分钟内首次响应", "24 小时内解决", "包裹破损",
                 "哪里超时：接入渠道与严重程度"],
                ["Response and resolution against the promises", "15 min", "Damaged parcel", "Typical ticket"]),
}


@pytest.mark.parametrize("name", list(PAGES))
def test_pages_in_chinese(zh_runs, name):
    folder, html = zh_runs[name]
    assert '<html lang="zh-CN"' in html
    for heading in ("结论", "建议行动", "方法与假设", "数据质量"):
        assert f">{heading}</h2>" in html, (name, heading)
    for heading in ("The answer", "What to do", "Method and assumptions", "Data quality", "Outputs written"):
        assert heading not in html, (name, heading)
    chinese, english = ZH_PAGES[name]
    for phrase in chinese:
        assert phrase in html, (name, phrase)
    for phrase in english:
        assert phrase not in html, (name, phrase)
    assert "Traceback" not in html and "M00" not in " ".join(_cells(html))
    assert html.count('src="data:image/png;base64,') >= 4
    # the data-quality table is translated, and the outputs are the same files as in English
    assert "读取行数" in html and "rows read" not in html
    metrics = next((folder / "outputs").glob("*_metrics.json"))
    assert json.loads(metrics.read_text())["package_version"]
