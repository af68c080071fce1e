"""One business, one set of numbers: build a small version of the default site (the repo's
playbooks.yaml with a 1,500-customer brand, English pages of the studies that share
numbers) and check that every number two pages share agrees: in the headline numbers
the index shows, and in the exports behind them."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.report.i18n import text
from helpers.site.build import build
from helpers.site.config import load_config
from helpers.site.data import describe

REPO = Path(__file__).resolve().parents[1]
SHARED = ["clv", "segments", "customer_base", "pilot_readout"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def small_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("brand_repo")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    shutil.copytree(REPO / "playbooks", root / "playbooks", ignore=shutil.ignore_patterns("site"))
    raw = yaml.safe_load((REPO / "playbooks" / "playbooks.yaml").read_text(encoding="utf-8"))
    raw["studies"] = [{**s, "languages": ["en"]} for s in raw["studies"] if s["name"] in SHARED]
    (root / "playbooks" / "playbooks.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    config = load_config(root / "playbooks" / "playbooks.yaml")
    config = dataclasses.replace(config, data=config.data.with_customers(1500))
    result = build(config, jobs=2, progress=False, out=io.StringIO())
    assert not result.failed, [(p.name, p.error) for p in result.failed]
    site = json.loads((config.output / "site.json").read_text(encoding="utf-8"))
    return config, site["pages"], root


def _headline(pages, page, key, **values):
    label = text(key, "en", **values)
    items = {h["label"]: h for h in pages[page]["headline"]}
    assert label in items, (page, label, list(items))
    return items[label]


def test_every_page_names_the_same_data(small_site):
    config, pages, root = small_site
    truth = json.loads((config.data.path(root) / "truth.json").read_text(encoding="utf-8"))
    line = describe(config.data, truth, "en")
    assert "1,500 customers" in line and "generated" in line
    for name in SHARED:
        assert pages[name]["data_source"] == {"label": line, "kind": "generated"}, name
        html = (config.output / f"{name}.html").read_text(encoding="utf-8")
        assert line in html, name


def test_customers_and_clv_agree_across_pages(small_site):
    config, pages, root = small_site
    base = json.loads((root / "build/outputs/customer_base/customer_base_metrics.json").read_text())
    seg = json.loads((root / "build/outputs/segments/segment_metrics.json").read_text())
    clv = json.loads((root / "build/outputs/clv/clv_metrics.json").read_text())
    customers = {
        "clv": _headline(pages, "clv", "clv.index.customers")["value"],
        "segments": _headline(pages, "segments", "segments.headline_numbers.customers")["value"],
        "customer_base": _headline(pages, "customer_base", "base.index.customers")["value"],
    }
    assert len(set(customers.values())) == 1, customers
    assert customers["clv"] == f"{base['buyers']:,}" == f"{seg['customers']:,}" == f"{clv['customers']:,}"
    # the predicted CLV: the same fit, the same total, the same words on the index
    clv_value = _headline(pages, "clv", "clv.index.clv_dated", horizon=12, start="2025-07-01", end="2026-06-30")["value"]
    assert clv_value == _headline(pages, "segments", "segments.headline_numbers.clv")["value"]
    per_customer = pd.read_csv(root / "build/outputs/clv/customer_clv.csv")
    assert per_customer["clv"].sum() == pytest.approx(seg["clv_total"], rel=1e-6)
    # past revenue: both pages count the same purchases
    assert base["total_spend"] == pytest.approx(seg["revenue_total"], abs=0.01)


def test_lifecycle_counts_agree_between_customer_base_and_segments(small_site):
    config, pages, root = small_site
    base = json.loads((root / "build/outputs/customer_base/customer_base_metrics.json").read_text())
    seg = json.loads((root / "build/outputs/segments/segment_metrics.json").read_text())
    seg_counts = {row["lifecycle"]: row["customers"] for row in seg["tiers"]["lifecycle"]}
    base_counts = {k: v for k, v in base["stage_counts"].items() if k != "prospect"}
    assert seg_counts == base_counts
    # per customer, not just in total
    stages = pd.read_csv(root / "build/outputs/customer_base/customer_stages.csv").set_index("customer_id")["stage"]
    lifecycle = pd.read_csv(root / "build/outputs/segments/customer_segments.csv").set_index("customer_id")["lifecycle"]
    assert (stages.sort_index() == lifecycle.sort_index()).all()
    # the index shows the same counts
    assert _headline(pages, "customer_base", "base.index.loyal")["raw"] == seg_counts["loyal"]
    assert _headline(pages, "customer_base", "base.index.lapsing")["raw"] == seg_counts["lapsing"]
    # and the one definition came from the config
    for key, concept in (("new_days", "new_days"), ("lapsed_days", "lapsed_days"), ("sleeping_days", "sleeping_days"),
                         ("loyal_min_purchases", "loyal_min_purchases"), ("loyal_window_days", "loyal_window_days")):
        assert seg["settings"][key] == config.definitions[concept]


def test_the_pilot_is_drawn_from_the_same_customers(small_site):
    config, pages, root = small_site
    folder = config.data.path(root)
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    shown = _headline(pages, "pilot_readout", "pilot.index.customers")["value"]
    assert shown == f"{truth['pilot']['customers']:,}"
    exposed = pd.read_csv(folder / "campaign_exposures.csv")["customer_id"]
    members = set(pd.read_csv(folder / "customers.csv")["customer_id"])
    assert exposed.isin(members).all() and exposed.is_unique
