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


# ----------------------------------------------------------------- glossary


def _glossary_pairs():
    """(where, English, Chinese) of every catalog string and every segment-map text."""
    import yaml

    en, zh = catalog("en"), catalog("zh-CN")
    pairs = [(f"catalog {key}", en[key], zh[key]) for key in en]
    smap = yaml.safe_load((ROOT / "playbooks" / "segment_map.yaml").read_text(encoding="utf-8"))
    for seg in smap["segments"]:
        for field in ("label", "definition"):
            value = seg.get(field)
            if isinstance(value, dict):
                pairs.append((f"segment_map {seg['key']}.{field}", value["en"], value["zh-CN"]))
    return pairs


def _glossary_problems(terms, pairs):
    problems = []
    for term in terms:
        pattern = re.compile(r"(?<![A-Za-z])" + re.escape(term["en"]).replace(r"\ ", "[ -]"), re.IGNORECASE)
        stem = term.get("stem", term["zh-CN"])
        for where, en, zh in pairs:
            en = re.sub(r"\{[a-z_]+\}", "", en)  # placeholders are not words
            for other in term.get("not_en", []):  # phrases that contain the term but are not it
                en = re.sub(re.escape(other), "", en, flags=re.IGNORECASE)
            uses = bool(pattern.search(en))
            if uses and stem not in zh:
                problems.append(f"{where}: '{term['en']}' is not translated as {term['zh-CN']}")
            if term["zh-CN"] in zh and not pattern.search(en):
                problems.append(f"{where}: {term['zh-CN']} names something the English does not call '{term['en']}'")
            problems += [f"{where}: {bad} is the old translation of '{term['en']}'" for bad in term.get("avoid", []) if bad in zh]
    return problems


def test_glossary_terms_are_translated_one_way():
    """Every glossary term has one Chinese translation, and that translation names nothing else."""
    import yaml

    from helpers.report.i18n import LOCALES_DIR

    terms = yaml.safe_load((LOCALES_DIR / "glossary.yaml").read_text(encoding="utf-8"))["terms"]
    assert {"Champions", "P(alive)", "Sleeping", "Lapsed", "Loyal"} <= {t["en"] for t in terms}
    assert _glossary_problems(terms, _glossary_pairs()) == []


def test_the_glossary_check_flags_a_term_translated_two_ways():
    terms = [{"en": "Sleeping", "zh-CN": "沉睡客户", "stem": "沉睡", "avoid": ["休眠客户"]}]
    pairs = [
        ("a", "Sleeping customers", "沉睡客户"),  # fine
        ("b", "Sleeping", "休眠客户"),  # translated another way
        ("c", "About to sleep", "即将沉睡客户"),  # the term names another group
    ]
    problems = _glossary_problems(terms, pairs)
    assert any(p.startswith("b: 'Sleeping' is not translated") for p in problems)
    assert any(p.startswith("b: 休眠客户 is the old translation") for p in problems)
    assert any(p.startswith("c: 沉睡客户 names something") for p in problems)
    assert not any(p.startswith("a:") for p in problems)
