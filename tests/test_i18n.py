import json
import re
import string
from pathlib import Path

import nbformat
import pytest

from helpers.errors import ConfigError
from helpers.report import formatting as narrative
from helpers.report.i18n import (
    LANGUAGES,
    catalog,
    localise_notebook,
    normalise_language,
    text,
)

ROOT = Path(__file__).resolve().parents[1]


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_every_key_with_the_same_placeholders():
    english = catalog("en")
    for language in LANGUAGES:
        strings = catalog(language)
        assert set(strings) == set(english), language
        for key, template in strings.items():
            assert _placeholders(template) == _placeholders(english[key]), (language, key)


def test_each_language_has_the_same_catalog_files():
    from helpers.report.i18n import LOCALES_DIR

    files = {lang: sorted(p.name for p in (LOCALES_DIR / lang).glob("*.yaml")) for lang in LANGUAGES}
    assert all(names == files["en"] for names in files.values()), files


def test_chinese_catalog_is_chinese():
    chinese = catalog("zh-CN")
    translated = [k for k, v in chinese.items() if re.search(r"[\u4e00-\u9fff]", v)]
    # everything but abbreviations (AIC, BIC) is written in Chinese
    assert len(translated) >= len(chinese) - 3


def test_keys_used_in_the_code_exist():
    keys = set()
    for path in (ROOT / "src" / "helpers").rglob("*.py"):
        keys |= set(re.findall(r'\btext\(\s*"([a-z_.]+)"', path.read_text(encoding="utf-8")))
    assert keys, "no text() calls found"
    missing = sorted(k for k in keys if k not in catalog("en"))
    assert not missing


def test_notebook_markdown_matches_the_english_catalog():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = json.loads(path.read_text(encoding="utf-8"))
        for cell in nb["cells"]:
            key = cell.get("metadata", {}).get("i18n")
            if key:
                assert "".join(cell["source"]).strip() == text(key, "en").strip(), (path.name, key)


def test_language_names():
    assert normalise_language("zh") == "zh-CN"
    assert normalise_language("中文") == "zh-CN"
    assert normalise_language("") == "en"
    with pytest.raises(ConfigError, match="fr"):
        normalise_language("fr")


def test_localise_notebook_swaps_keyed_markdown_only():
    nb = nbformat.v4.new_notebook()
    keyed = nbformat.v4.new_markdown_cell("## The answer")
    keyed.metadata["i18n"] = "clv.notebook.answer"
    plain = nbformat.v4.new_markdown_cell("kept as is")
    nb.cells = [keyed, plain]
    out = localise_notebook(nb, "zh-CN")
    assert out.cells[0].source == "## 结论"
    assert out.cells[1].source == "kept as is"
    assert nb.cells[0].source == "## The answer"  # the input is not changed
    assert localise_notebook(nb, "en") is nb


def test_money_in_chinese_uses_wan_and_yi():
    assert narrative.money(234_000, "¥", "zh-CN") == "¥23.4万"
    assert narrative.money(123_000_000, "¥", "zh-CN") == "¥1.2亿"
    assert narrative.money(812, "¥", "zh-CN") == "¥812"
    assert narrative.money(233_900, "$") == "\\$233.9k"


def test_chinese_bold_spans_close_where_commonmark_allows():
    # "**标题：**正文" does not render as bold: a closing ** after punctuation must be followed
    # by whitespace or punctuation, so punctuation goes outside: "**标题**：正文".
    for key, template in catalog("zh-CN").items():
        assert not re.search(r"[：？。，）)]\*\*[^\s\W]", template), key
