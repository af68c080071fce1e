"""Smoke runs of the tags notebook through papermill on small generated data, in English and
Chinese (a few seconds each: 400 customers, 3 month ends)."""

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
def pages(tmp_path_factory):
    base = tmp_path_factory.mktemp("tags")
    write(generate(GeneratorConfig(n_customers=400, seed=5, tags_extension=True)), base / "data", "csv")

    def run(lang):
        out = base / lang
        params = {"data_dir": str(base / "data"), "months": 3, "language": lang, "output_dir": str(out / "outputs"),
                  "cache_dir": str(base / "cache")}
        nb = execute_notebook(ROOT / "notebooks" / "tags.ipynb", params, out / "executed.ipynb", cwd=ROOT, progress=False)
        page = render_page(nb, out / "page.html", title="Tags", lang=lang,
                           run_info=RunInfo.from_notebook(nb, data_source="generated", parameters=params))
        return out, page.read_text(encoding="utf-8")

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(zip(("en", "zh-CN"), pool.map(run, ("en", "zh-CN"))))


def _cells(html):
    return re.findall(r"<td[^>]*>\s*([^<]*?)\s*</td>", html)


@pytest.mark.parametrize("lang, headings", [
    ("en", ("The answer", "What to do", "Tags overview", "Portrait per segment", "Price sensitivity and promotion dependence",
            "Offer guardrails", "Method and assumptions", "Data quality")),
    ("zh-CN", ("结论", "建议行动", "标签总览", "分群画像", "价格敏感度与促销依赖", "优惠护栏", "方法与假设", "数据质量")),
])
def test_pages_read_like_a_report_in_both_languages(pages, lang, headings):
    _, html = pages[lang]
    for heading in headings:
        assert heading in html, (lang, heading)
    assert "Traceback" not in html and "def " not in html and "import " not in html
    assert "**" not in html  # every bold span was parsed (Chinese punctuation stays outside them)
    assert html.count('src="data:image/png;base64,') >= 6
    assert "M000" not in " ".join(_cells(html))  # no raw member ids on the page


def test_chinese_page_names_tags_in_chinese(pages):
    _, html = pages["zh-CN"]
    assert "促销敏感" in html and "兴趣品类" in html and "Promotion sensitive" not in html


def test_export_is_one_pseudonymised_row_per_customer_with_tags(pages):
    out, _ = pages["en"]
    table = pd.read_csv(out / "outputs" / "customer_tags.csv")
    assert table["customer_id"].is_unique and table["customer_id"].str.fullmatch(r"C-[0-9a-f]{12}").all()
    assert {"tags", "promotion_score", "max_discount", "tag:promotion_sensitive"} <= set(table.columns)
    metrics = json.loads((out / "outputs" / "tags_metrics.json").read_text())
    assert metrics["customers"] == len(table)
    shares = table.filter(like="tag:").mean()
    assert metrics["coverage"]["promotion_sensitive"] == pytest.approx(shares["tag:promotion_sensitive"], abs=1e-6)
