"""The study config: studies, variants, languages, placeholders and their checks."""

from __future__ import annotations

import pytest

from helpers.errors import ConfigError
from helpers.site.config import (
    apply_overrides,
    in_language,
    load_config,
    notebook_arguments,
    substitute,
)

from ._playbook_repo import make_repo, site_config, write_config


def config_with(tmp_path, *studies, **top):
    return make_repo(tmp_path, site_config(*studies, **top))


def test_a_study_without_variants_is_one_page(tmp_path):
    config = load_config(config_with(tmp_path, {"name": "clv", "title": "CLV", "notebook": "notebooks/demo.ipynb"}))
    (page,) = config.pages
    assert (page.name, page.title, page.lang, page.study_name, page.variant) == ("clv", "CLV", "en", "clv", "")
    assert [s.name for s in config.studies] == ["clv"]


def test_variants_and_languages_expand_with_names_titles_and_parameters(tmp_path):
    config = load_config(
        config_with(
            tmp_path,
            {
                "name": "regions",
                "title": {"en": "By region", "zh-CN": "分地区"},
                "notebook": "notebooks/demo.ipynb",
                "languages": ["en", "zh-CN"],
                "parameters": {"output_dir": "build/outputs/{page}", "region": "{variant}", "sleep_s": 1.0, "tags": ["{lang}", "{study}"]},
                "variants": [
                    {"name": "north", "title": {"en": "North", "zh-CN": "北区"}, "parameters": {"sleep_s": 2.0}},
                    {"name": "south", "notebook": "notebooks/report.ipynb", "lang": "zh-CN", "extra_pages": "pages"},
                ],
            },
            lang="en",
        )
    )
    names = [p.name for p in config.pages]
    assert names == ["regions-north", "regions-north-zh-CN", "regions-south"]
    north, north_zh, south = config.pages
    assert north.title == "By region — North" and north_zh.title == "分地区 — 北区"
    assert north.short_title == "North" and north_zh.short_title == "北区"
    assert north_zh.study_title == "分地区"
    assert north.parameters == {"output_dir": "build/outputs/regions-north", "region": "north", "sleep_s": 2.0, "tags": ["en", "regions"]}
    assert north_zh.parameters["output_dir"] == "build/outputs/regions-north-zh-CN"
    assert north_zh.parameters["tags"] == ["zh-CN", "regions"]
    assert north.group == north_zh.group != south.group
    # a variant's lang replaces the study's languages; its notebook and extra pages too
    assert (south.lang, south.notebook.name, south.extra_pages, south.short_title) == ("zh-CN", "report.ipynb", "pages", "south")
    assert config.studies[0].title == "By region"  # in the site language
    assert [p.name for p in config.select(["regions"])] == names
    assert [p.name for p in config.select(["regions-south"])] == ["regions-south"]


def test_the_flat_pages_form_is_still_read(tmp_path):
    path = make_repo(
        tmp_path,
        {
            "output": "site",
            "build": "build",
            "lang": "zh-CN",
            "pages": [{"name": "clv", "title": "CLV", "notebook": "notebooks/demo.ipynb", "parameters": {"output_dir": "x"}}],
        },
    )
    config = load_config(path)
    assert [(p.name, p.lang, p.parameters) for p in config.pages] == [("clv", "zh-CN", {"output_dir": "x"})]
    assert [s.name for s in config.studies] == ["clv"]


@pytest.mark.parametrize(
    "study, message",
    [
        ({"name": "a", "title": "A"}, r"'notebook' is missing \(set it on the study or on the variant\)"),
        ({"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "lang": "en", "languages": ["en"]}, r"playbooks\.yaml: studies\[0\] \(a\): set either 'lang'.*or 'languages'"),
        ({"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "languages": ["en", "en"]}, r"playbooks\.yaml: studies\[0\] \(a\)\.languages = \['en', 'en'\]: 'languages' lists a language twice$"),
        ({"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "languages": "en"}, r"playbooks\.yaml: studies\[0\] \(a\)\.languages = 'en': expected a list$"),
        ({"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "lang": "Chinese please"}, r"playbooks\.yaml: studies\[0\] \(a\)\.lang = 'Chinese please': lang must be a language tag"),
        ({"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "variants": []}, r"playbooks\.yaml: studies\[0\] \(a\)\.variants = \[\]: expected at least one entry$"),
        (
            {"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "variants": [{"name": "x"}, {"name": "x"}]},
            r"variants\[1\] \(x\): variant name 'x' is used twice",
        ),
        ({"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "variants": [{"name": "x y"}]}, r"playbooks\.yaml: studies\[0\] \(a\)\.variants\[0\] \(x y\)\.name = 'x y': a name may only use letters"),
        ({"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "variants": [{"name": "x", "colour": 1}]}, r"playbooks\.yaml: studies\[0\] \(a\)\.variants\[0\] \(x\)\.colour = 1: unknown key; allowed keys here: name, title"),
        ({"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "extra_pages": "../up"}, r"playbooks\.yaml: studies\[0\] \(a\)\.extra_pages = '\.\./up': 'extra_pages' must be a folder inside the page's output_dir"),
        ({"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "parallel": "yes"}, r"playbooks\.yaml: studies\[0\] \(a\)\.parallel = 'yes': expected true or false$"),
        ({"name": "a", "title": {"en": ""}, "notebook": "notebooks/demo.ipynb"}, r"playbooks\.yaml: studies\[0\] \(a\)\.title\.en = '': expected non-empty text$"),
        (
            {"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "lang": "en", "parameters": {"language": "zh-CN"}},
            r"parameters.language is 'zh-CN' but the page language is en",
        ),
        ({"name": "index", "title": "A", "notebook": "notebooks/demo.ipynb"}, r"already used by the site index"),
    ],
)
def test_bad_studies_are_config_errors(tmp_path, study, message):
    with pytest.raises(ConfigError, match=message):
        load_config(config_with(tmp_path, study))


def test_page_names_must_be_unique_across_studies(tmp_path):
    path = config_with(
        tmp_path,
        {"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "variants": [{"name": "b"}]},
        {"name": "a-b", "title": "B", "notebook": "notebooks/demo.ipynb"},
    )
    with pytest.raises(ConfigError, match=r"studies\[1\] \(a-b\): page name 'a-b' is already used by studies\[0\] \(a\): variants\[0\] \(b\)"):
        load_config(path)
    make_repo(tmp_path, {"output": "s", "build": "b", "studies": [], "pages": []})
    with pytest.raises(ConfigError, match="not both"):
        load_config(write_config(tmp_path, {"output": "s", "build": "b", "studies": [], "pages": []}))


def test_language_parameter_sets_the_page_language_when_lang_is_not_given(tmp_path):
    config = load_config(
        config_with(tmp_path, {"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "parameters": {"language": "zh-CN"}})
    )
    assert config.pages[0].lang == "zh-CN"


def test_notebook_arguments_pass_the_language_only_to_notebooks_that_declare_it(tmp_path):
    config = load_config(
        config_with(tmp_path, {"name": "a", "title": "A", "notebook": "notebooks/demo.ipynb", "lang": "zh-CN", "parameters": {"region": "x"}})
    )
    page = config.pages[0]
    assert notebook_arguments(page, {"region": "all", "language": "en"}) == {"region": "x", "language": "zh-CN"}
    assert notebook_arguments(page, {"region": "all"}) == {"region": "x"}
    assert notebook_arguments(page, None) == {"region": "x"}


def test_set_on_a_study_reaches_all_its_pages_with_placeholders(tmp_path):
    config = load_config(
        config_with(
            tmp_path,
            {"name": "s", "title": "S", "notebook": "notebooks/demo.ipynb", "languages": ["en", "zh-CN"], "variants": [{"name": "x"}, {"name": "y"}]},
        )
    )
    config = apply_overrides(config, ["s.output_dir=out/{page}", "s-y.sleep_s=2"])
    assert {p.name: p.parameters for p in config.pages} == {
        "s-x": {"output_dir": "out/s-x"},
        "s-x-zh-CN": {"output_dir": "out/s-x-zh-CN"},
        "s-y": {"output_dir": "out/s-y", "sleep_s": 2},
        "s-y-zh-CN": {"output_dir": "out/s-y-zh-CN"},
    }
    assert [p.parameters for p in config.studies[0].pages] == [p.parameters for p in config.pages]


def test_in_language_and_substitute():
    assert in_language({"en": "Hi", "zh-CN": "你好"}, "zh-CN") == "你好"
    assert in_language({"en": "Hi", "zh-CN": "你好"}, "zh-Hans") == "你好"
    assert in_language({"en": "Hi", "zh-CN": "你好"}, "fr") == "Hi"
    assert in_language("Hi", "zh-CN") == "Hi"
    names = {"study": "s", "variant": "v", "page": "s-v", "lang": "en"}
    assert substitute({"a": "x/{page}/{lang}", "b": ["{study}", 1], "c": "{other} {}"}, names) == {
        "a": "x/s-v/en", "b": ["s", 1], "c": "{other} {}",
    }


def test_expected_seconds_reach_every_page_and_a_variant_may_set_its_own(tmp_path):
    config = load_config(
        config_with(
            tmp_path,
            {"name": "slow", "title": "Slow", "notebook": "notebooks/demo.ipynb", "languages": ["en", "zh-CN"],
             "expected_seconds": 90, "variants": [{"name": "a"}, {"name": "b", "expected_seconds": 12.5}]},
            {"name": "plain", "title": "Plain", "notebook": "notebooks/demo.ipynb"},
        )
    )
    assert {p.name: p.expected_seconds for p in config.pages} == {
        "slow-a": 90.0, "slow-a-zh-CN": 90.0, "slow-b": 12.5, "slow-b-zh-CN": 12.5, "plain": None,
    }


@pytest.mark.parametrize("value", [0, -5, "soon"])
def test_expected_seconds_must_be_a_positive_number(tmp_path, value):
    path = config_with(tmp_path, {"name": "clv", "title": "CLV", "notebook": "notebooks/demo.ipynb", "expected_seconds": value})
    with pytest.raises(ConfigError, match="expected_seconds"):
        load_config(path)
