"""Privacy by default: personal data planted in the input reaches no file of the site,
the exports or the build folder; customer ids appear only pseudonymised."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers.site.build import build
from helpers.site.config import load_config

from ._cdnow import sample

ROOT = Path(__file__).resolve().parents[1]
CUSTOMERS = 600
PLANTED = ["张三", "13912345678", "zhang.san@example.com", "VIP-000123"]

pytestmark = pytest.mark.slow


def forms(text: str) -> list[bytes]:
    """``text`` as it could be written: UTF-8, JSON escapes, HTML entities."""
    return [
        text.encode("utf-8"),
        json.dumps(text).strip('"').encode("ascii"),
        "".join(f"&#{ord(c)};" if ord(c) > 127 else c for c in text).encode("ascii"),
        "".join(f"&#x{ord(c):x};" if ord(c) > 127 else c for c in text).encode("ascii"),
    ]


@pytest.fixture(scope="module")
def private_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("privacy")
    data = sample()
    keep = data["customer_id"].drop_duplicates().iloc[:CUSTOMERS]
    data = data[data["customer_id"].isin(keep)].copy()
    rank = data["customer_id"].rank(method="dense").astype(int)
    export = pd.DataFrame(
        {
            "会员编号": rank.map(lambda i: f"VIP-{i:06d}"),
            "姓名": "张三",
            "手机号": "13912345678",
            "email": "zhang.san@example.com",
            "下单时间": data["timestamp"].dt.strftime("%Y-%m-%d"),
            "实付金额": data["amount"].round(2),
        }
    )
    assert (export["会员编号"] == "VIP-000123").any()
    (root / "data").mkdir()
    export.to_csv(root / "data" / "members.csv", index=False, encoding="utf-8")
    (root / "notebooks").mkdir()
    (root / "notebooks" / "clv.ipynb").write_bytes((ROOT / "notebooks" / "clv.ipynb").read_bytes())
    (root / "playbooks").mkdir()
    (root / "playbooks" / "playbooks.yaml").write_text(
        yaml.safe_dump(
            {
                "output": "site",
                "build": "build",
                "studies": [
                    {
                        "name": "clv",
                        "title": "CLV",
                        "notebook": "notebooks/clv.ipynb",
                        "languages": ["en", "zh-CN"],
                        "parameters": {"data_path": "data/members.csv", "currency": "¥", "output_dir": "build/outputs/{page}"},
                    }
                ],
            },
            allow_unicode=True,
        ),
        encoding="utf-8",
    )
    result = build(load_config(root / "playbooks" / "playbooks.yaml"), jobs=2, progress=False, out=open(os.devnull, "w"))
    assert all(r.ok for r in result.pages), [r.error for r in result.pages]
    return root


def test_planted_personal_data_appears_nowhere(private_site):
    checked = 0
    for folder in ("site", "build"):
        for path in (private_site / folder).rglob("*"):
            if not path.is_file():
                continue
            content = path.read_bytes()
            checked += 1
            for value in PLANTED:
                for form in forms(value):
                    assert form not in content, f"{value!r} found in {path.relative_to(private_site)}"
            assert not re.search(rb"VIP-\d{6}", content), f"a raw customer id in {path.relative_to(private_site)}"
    assert checked > 10
    assert (private_site / "site" / "clv.html").is_file() and (private_site / "site" / "clv-zh-CN.html").is_file()


def test_pages_and_exports_show_pseudonymised_ids(private_site):
    for page in ("clv", "clv-zh-CN"):
        table = pd.read_csv(private_site / "build" / "outputs" / page / "customer_clv.csv", dtype={"customer_id": str})
        assert len(table) == CUSTOMERS
        assert table["customer_id"].str.fullmatch(r"C-[0-9a-f]{12}").all()
        html = (private_site / "site" / f"{page}.html").read_text(encoding="utf-8")
        assert len(set(re.findall(r">(C-[0-9a-f]{12})<", html)) & set(table["customer_id"])) >= 10
