"""Smoke runs of notebooks/segments.ipynb: overview page, per-segment pages, activation lists.

One run on a CDNOW slice, the same in Simplified Chinese, one on data from the new-retail
generator (with categories), and one with a broken segment map. The site layout is the one the build produces:
``<site>/segments.html`` next to ``<site>/segments/<segment>.html``.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from bs4 import BeautifulSoup

from helpers.data.generator import GeneratorConfig, generate, write
from helpers.data.loading import load_default_transactions, read_transactions
from helpers.data.privacy import pseudonymise, resolve_key
from helpers.report.page import collect_headlines
from helpers.studies.clv.study import sample_of_customers
from helpers.studies.segments.actions import ACTIVATION_COLUMNS, load_action_library
from helpers.studies.segments.analysis import load_segment_map

from ._notebooks import NOTEBOOKS, ROOT, failure, run_page
from .test_render import external_loads

SEGMENTS = NOTEBOOKS / "segments.ipynb"
MAP = ROOT / "playbooks" / "segment_map.yaml"
SMOKE_CUSTOMERS = 1500

pytestmark = pytest.mark.slow


#: Headings of a segment page in each language.
PAGE_HEADINGS = {
    "en": ("Who they are", "Key numbers", "Objective", "What to do", "Channels", "Offer guardrail", "Trigger", "Timing",
           "KPIs to watch", "What not to do", "How the segment changed", "Activation list", "About this page",
           "All segments"),
    "zh-CN": ("他们是谁", "关键数字", "目标", "行动", "触达渠道", "优惠上限", "触发条件", "时机与频率", "关注指标",
              "避免事项", "分群变化", "触达名单", "关于本页", "全部分群"),
}
#: Headings of the overview in each language.
OVERVIEW_HEADINGS = {
    "en": ("The answer", "What to do first", "Segments at a glance", "Segment playbooks", "How customers moved",
           "The same customers, three other ways", "Value x growth tiers", "CLV tiers", "Lifecycle stages",
           "Next best category", "Activation lists", "Method, data and assumptions"),
    "zh-CN": ("结论", "优先行动", "分群概览", "分群运营手册", "客户在分群之间如何流动", "换三个角度看同一批客户",
              "价值 × 成长分层", "CLV 分层", "生命周期阶段", "下一个推荐品类", "触达名单", "方法、数据与假设"),
}


def _headings(soup: BeautifulSoup) -> set[str]:
    return {h.get_text(" ", strip=True) for h in soup.find_all(["h1", "h2", "h3"])}


def run_site(out: Path, params: dict) -> Path:
    """Run the notebook, render the overview and lay the segment pages out as the build does."""
    site = run_page(SEGMENTS, params, out, title="Customer segments", lang=params.get("language", "en"),
                    page="site/segments").page.parent
    shutil.copytree(Path(params["output_dir"]) / "pages", site / "segments")
    return site


def activation(outputs: Path) -> pd.DataFrame:
    files = sorted((outputs / "activation").glob("*.csv"))
    return pd.concat([pd.read_csv(f, dtype={"customer_id": str}).assign(file=f.stem) for f in files],
                     ignore_index=True)


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory):
    out = tmp_path_factory.mktemp("segments")
    params = {"sample_customers": SMOKE_CUSTOMERS, "output_dir": str(out / "outputs")}
    return out / "outputs", run_site(out, params)


def test_overview_links_a_self_contained_page_per_segment(cdnow):
    _, site = cdnow
    keys = load_segment_map(MAP).keys
    overview = (site / "segments.html").read_text(encoding="utf-8")
    links = set(re.findall(r'href="(segments/[a-z_]+\.html)"', overview))
    assert links == {f"segments/{k}.html" for k in keys}
    assert "The answer" in overview and "How customers moved" in overview and "Max discount" in overview
    assert set(OVERVIEW_HEADINGS["en"]) <= _headings(BeautifulSoup(overview, "html.parser"))
    assert overview.count('src="data:image/png;base64,') >= 3  # grid, shares, migration
    assert "The data has no product category" in overview  # CDNOW has none
    for key in keys:
        page = (site / "segments" / f"{key}.html").read_text(encoding="utf-8")
        soup = BeautifulSoup(page, "html.parser")
        assert not soup.find_all("script") and external_loads(page) == []
        hrefs = {a["href"] for a in soup.find_all("a")}
        assert "../segments.html" in hrefs and all((site / "segments" / h).resolve().is_file() for h in hrefs), key
        text = soup.get_text(" ", strip=True)
        assert soup.html["lang"] == "en"
        for heading in PAGE_HEADINGS["en"]:
            assert heading in text, (key, heading)
        grid = soup.find("table", class_="score-grid")  # the segment's cells, coloured, in a table
        assert grid is not None and len(grid.find_all("td")) == 25 and grid.find_all("td", class_="own"), key


@pytest.fixture(scope="module")
def cdnow_zh(tmp_path_factory):
    out = tmp_path_factory.mktemp("segments_zh")
    params = {"sample_customers": SMOKE_CUSTOMERS, "output_dir": str(out / "outputs"), "language": "zh-CN"}
    return out / "outputs", run_site(out, params)


def test_chinese_pages_have_chinese_headings_names_and_figures(cdnow, cdnow_zh):
    outputs, site = cdnow_zh
    smap = load_segment_map(MAP)
    chinese = smap.localised("zh-CN")
    overview = (site / "segments.html").read_text(encoding="utf-8")
    soup = BeautifulSoup(overview, "html.parser")
    assert soup.html["lang"] == "zh-CN"
    headings = _headings(soup)
    assert set(OVERVIEW_HEADINGS["zh-CN"]) <= headings
    assert not set(OVERVIEW_HEADINGS["en"]) & headings
    text = soup.get_text(" ", strip=True)
    assert "客户分群：我们的客户是谁" in text and "最大优惠幅度" in text and "数据中没有商品品类" in text
    for phrase in ("The answer", "customers fall into", "Max discount", "The data has no product category",
                   "Outputs written", "CLV model check", "Each square is one combination"):
        assert phrase not in text, phrase
    assert all(label in text for label in chinese.labels.values())
    assert not any(re.search(rf"\b{re.escape(label)}\b", text) for label in smap.labels.values())
    links = set(re.findall(r'href="(segments/[a-z_]+\.html)"', overview))
    assert links == {f"segments/{k}.html" for k in smap.keys}
    assert overview.count('src="data:image/png;base64,') >= 3
    # the figures are drawn again for the Chinese page, not copied from the English one
    en_outputs, _ = cdnow
    for name in ("segment_grid", "segment_shares", "segment_migration"):
        png = f"figures/{name}.png"
        assert (outputs / png).read_bytes() != (en_outputs / png).read_bytes()

    for key in smap.keys:
        page = (site / "segments" / f"{key}.html").read_text(encoding="utf-8")
        seg = BeautifulSoup(page, "html.parser")
        assert seg.html["lang"] == "zh-CN", key
        assert seg.title.get_text() == f"{chinese.labels[key]} – 分群运营手册"
        words = seg.get_text(" ", strip=True)
        for heading in PAGE_HEADINGS["zh-CN"]:
            assert heading in words, (key, heading)
        for heading in PAGE_HEADINGS["en"]:
            assert heading not in words, (key, heading)
        assert chinese.segment(key).definition in words
        assert load_action_library(ROOT / "playbooks" / "actions.yaml", smap).localised("zh-CN")[key].objective in words
        hrefs = {a["href"] for a in seg.find_all("a")}
        assert "../segments.html" in hrefs and all((site / "segments" / h).resolve().is_file() for h in hrefs)
        assert not seg.find_all("script") and external_loads(page) == []

    rows = activation(outputs)
    assert set(rows["segment_label"]) <= set(chinese.labels.values()) and set(rows["segment"]) <= set(smap.keys)
    assert list(rows.columns[:-1]) == ACTIVATION_COLUMNS
    executed = json.loads((outputs.parent / "executed.ipynb").read_text(encoding="utf-8"))
    labels = [item["label"] for item in collect_headlines(executed)]
    assert labels[:2] == ["客户数", "有客户的分群"]


def test_activation_lists_hold_every_customer_once_with_pseudonymised_ids(cdnow):
    outputs, site = cdnow
    rows = activation(outputs)
    assert list(rows.columns[:-1]) == ACTIVATION_COLUMNS
    assert len(rows) == SMOKE_CUSTOMERS and rows["customer_id"].is_unique
    assert (rows["segment"] == rows["file"]).all()
    assert rows["customer_id"].str.fullmatch(r"C-[0-9a-f]{12}").all()
    metrics = json.loads((outputs / "segment_metrics.json").read_text(encoding="utf-8"))
    assert rows["predicted_clv"].sum() == pytest.approx(metrics["clv_total"], rel=1e-3)
    counts = {s["key"]: s["customers"] for s in metrics["segments"]}
    assert rows["segment"].value_counts().to_dict() == {k: v for k, v in counts.items() if v}
    # recency and frequency recomputed from the same transactions, matched through the pseudonyms
    tx = sample_of_customers(load_default_transactions().transactions, SMOKE_CUSTOMERS, 42)
    days = tx.assign(day=tx["timestamp"].dt.normalize()).groupby("customer_id")["day"].agg(["max", "nunique"])
    days.index = pseudonymise(days.index.to_series(), resolve_key(None)[0]).to_numpy()
    mine = rows.set_index("customer_id")
    assert (mine["purchase_days"] == days.loc[mine.index, "nunique"]).all()
    assert (mine["days_since_last_purchase"] == (pd.Timestamp("1998-06-30") - days.loc[mine.index, "max"]).dt.days).all()
    # raw CDNOW ids (5 digits) appear nowhere: not in the lists, the overview or the segment pages
    texts = [p.read_text(encoding="utf-8") for p in (outputs / "activation").glob("*.csv")]
    texts += [p.read_text(encoding="utf-8") for p in site.rglob("*.html")]
    raw = set(tx["customer_id"])
    for text in texts:
        assert not raw & set(re.findall(r"\b\d{5}\b", text))


def test_generated_new_retail_data_with_categories(tmp_path):
    write(generate(GeneratorConfig(n_customers=SMOKE_CUSTOMERS, seed=5)), tmp_path / "data", "csv")
    params = {
        "data_path": str(tmp_path / "data" / "transactions.csv"),
        "column_map": {"customer_id": "customer_id", "timestamp": "timestamp", "amount": "amount",
                       "category": "category"},
        "calibration_end": "2024-06-30",
        "observation_end": "2024-12-31",
        "currency": "¥",
        "gross_margin": 0.45,
        "output_dir": str(tmp_path / "outputs"),
    }
    site = run_site(tmp_path, params)
    overview = (site / "segments.html").read_text(encoding="utf-8")
    assert "Next best category" in overview and "Customers buying both" in overview and "¥" in overview
    keys = load_segment_map(MAP).keys
    assert sorted(p.stem for p in (site / "segments").glob("*.html")) == sorted(keys)
    assert "Most suggested next categories" in (site / "segments" / "champions.html").read_text(encoding="utf-8")

    rows = activation(tmp_path / "outputs").set_index("customer_id")
    # the rows the study used: the loader nets returns (a day whose returns exceed its purchases is dropped)
    tx = read_transactions(params["data_path"], params["column_map"], observation_end="2024-12-31").transactions
    bought = tx.groupby("customer_id")["category"].agg(set)
    bought.index = pseudonymise(bought.index.to_series(), resolve_key(None)[0]).to_numpy()
    assert set(rows.index) == set(bought.index)
    suggested = rows["next_best_category"].dropna()
    assert len(suggested) > 0.9 * len(rows)
    assert not any(cat in bought[cid] for cid, cat in suggested.items())  # never what they already bought
    migration = pd.read_csv(tmp_path / "outputs" / "segment_migration.csv", index_col=0)
    assert migration.loc["_new"].sum() > 0  # customers joined in the last six months
    for path in [*(tmp_path / "outputs").rglob("*.csv"), *site.rglob("*.html")]:  # raw ids are M + 6 digits
        assert not re.search(r"\bM\d{6}\b", path.read_text(encoding="utf-8")), path.name


def test_a_broken_segment_map_stops_the_page_with_its_cells(tmp_path):
    raw = yaml.safe_load(MAP.read_text(encoding="utf-8"))
    raw["segments"] = [s for s in raw["segments"] if s["key"] != "need_attention"]
    bad = tmp_path / "my_map.yaml"
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    message = str(failure(SEGMENTS, {"segment_map": str(bad), "output_dir": str(tmp_path / "out")}, tmp_path))
    assert "my_map.yaml" in message and "R3 F3" in message
