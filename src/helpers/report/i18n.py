"""Page language: English or Simplified Chinese.

Every reader-facing string lives in a catalog (``src/helpers/locales/<language>/*.yaml``,
one file per page or domain, e.g. ``clv.yaml``, whose top-level key is that domain),
looked up by a dotted key with named placeholders::

    text("clv.headline.lead", "zh-CN", customers="23,570", ...)

Narrative, table and figure functions take a ``language`` argument and call :func:`text`.
Markdown cells of a notebook are translated at render time: a cell whose metadata has
``"i18n": "<key>"`` is shown in the page language from the catalog (its own source is the
English text, so the notebook still reads naturally in JupyterLab); see
:func:`localise_notebook`. A test checks that every key exists in every language.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import PlainValidator, WithJsonSchema

from helpers.errors import ConfigError, located
from helpers.files import load_yaml_text

LANGUAGES: tuple[str, ...] = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
LOCALES_DIR = Path(__file__).parent / "locales"

_ALIASES = {
    "en": "en", "en-us": "en", "en-gb": "en", "english": "en",
    "zh": "zh-CN", "zh-cn": "zh-CN", "zh-hans": "zh-CN", "cn": "zh-CN", "chinese": "zh-CN",
    "中文": "zh-CN", "简体中文": "zh-CN",
}


def normalise_language(language: str | None) -> str:
    """The canonical code ("en" or "zh-CN") for a user's spelling; empty means English."""
    if not language:
        return DEFAULT_LANGUAGE
    code = _ALIASES.get(str(language).strip().lower())
    if code is None:
        raise ConfigError(f"language {language!r} is not available; use one of {', '.join(LANGUAGES)}.")
    return code


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{path}."))
        else:
            flat[path] = str(value)
    return flat


@lru_cache(maxsize=None)
def catalog(language: str) -> dict[str, str]:
    """All strings of one language, by dotted key (every file of its locale folder)."""
    code = normalise_language(language)
    strings: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / code).glob("*.yaml")):
        part = _flatten(load_yaml_text(path.read_text(encoding="utf-8")) or {})
        clash = set(part) & set(strings)
        if clash:
            raise ValueError(f"{path}: keys defined twice in locale {code}: {sorted(clash)[:5]}")
        strings.update(part)
    return strings


def text(key: str, language: str = DEFAULT_LANGUAGE, /, **values: Any) -> str:
    """The string ``key`` in ``language`` with ``values`` filled in.

    A key missing from the language falls back to English (tests keep the catalogs
    complete); a key missing everywhere is a programming error and raises KeyError.
    """
    strings = catalog(language)
    template = strings.get(key)
    if template is None:
        template = catalog(DEFAULT_LANGUAGE)[key]
    return template.format(**values) if values else template


def is_chinese(language: str) -> bool:
    return normalise_language(language) == "zh-CN"


def localise_notebook(nb: Any, language: str) -> Any:
    """A copy of a notebook whose i18n-keyed Markdown cells are in ``language``."""
    code = normalise_language(language)
    if code == DEFAULT_LANGUAGE:
        return nb
    out = copy.deepcopy(nb)
    for cell in out.cells:
        key = cell.get("metadata", {}).get("i18n")
        if cell.get("cell_type") == "markdown" and key:
            cell["source"] = text(key, code)
    return out


# ------------------------------------------------------------ texts of config files

#: A space between two Chinese characters (or full-width punctuation) left by a YAML line break.
_CJK_GAP = re.compile(r"(?<=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]) (?=[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef])")


def clean_text(value: str) -> str:
    """Whitespace collapsed to single spaces, none left between two Chinese characters."""
    return _CJK_GAP.sub("", " ".join(value.split()))


def _one_text(value: Any, many: bool) -> str | tuple[str, ...]:
    if many:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise ValueError("expected a non-empty list of text")
        return tuple(_one_text(v, False) for v in items)  # type: ignore[misc]
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected non-empty text")
    return clean_text(value)


def _bilingual(value: Any, many: bool) -> Any:
    """Text (or with ``many`` a list of texts) used in every language, or a mapping by page
    language whose keys may be any spelling :func:`normalise_language` knows."""
    if not isinstance(value, dict):
        return _one_text(value, many)
    if not value:
        raise ValueError("the mapping of languages is empty; write the text, or {en: ..., zh-CN: ...}")
    given: dict[str, Any] = {}
    for name, item in value.items():
        try:
            code = normalise_language(str(name))
        except ConfigError:
            raise located(
                str(name), item, f"unknown language; use {', '.join(LANGUAGES)} as keys, or write one text for every language"
            ) from None
        if code in given:
            raise located(str(name), item, f"the language {code} is given twice")
        try:
            given[code] = _one_text(item, many)
        except ValueError as err:
            raise located(str(name), item, str(err)) from None
    return given


def _text_schema(item: dict) -> dict:
    return {"anyOf": [item, {"type": "object", "propertyNames": {"enum": list(LANGUAGES)}, "additionalProperties": item}]}


_ONE = {"type": "string", "minLength": 1}
_MANY = {"anyOf": [_ONE, {"type": "array", "items": _ONE, "minItems": 1}]}

#: The one bilingual text type of every config file: ``Champions`` (every language) or
#: ``{en: Champions, zh-CN: 冠军客户}``. Validates to the cleaned text or a ``{code: text}`` dict.
Text = Annotated[Any, PlainValidator(lambda v: _bilingual(v, False)), WithJsonSchema(_text_schema(_ONE))]
#: The same for a list of texts (a single text counts as a list of one): validates to a tuple or a ``{code: tuple}`` dict.
Texts = Annotated[Any, PlainValidator(lambda v: _bilingual(v, True)), WithJsonSchema(_text_schema(_MANY))]


def by_language(value: Any, empty: Any = "") -> dict[str, Any]:
    """A validated :data:`Text` / :data:`Texts` in every page language: a mapping's missing
    languages use its English text, else its first; ``None`` gives ``empty`` everywhere."""
    if value is None:
        return {lang: empty for lang in LANGUAGES}
    if not isinstance(value, dict):
        return {lang: value for lang in LANGUAGES}
    fallback = value.get(DEFAULT_LANGUAGE, next(iter(value.values())))
    return {lang: value.get(lang, fallback) for lang in LANGUAGES}


def in_every_language(make: Any, *, name: Any, description: Any) -> Any:
    """The same config object in every page language, in :data:`DEFAULT_LANGUAGE`: ``make(language=...,
    name=..., description=..., versions=...)`` builds one, ``name`` and ``description`` are
    validated :data:`Text` (or ``None``); every version holds the dict of all of them."""
    names, descriptions = by_language(name), by_language(description)
    versions: dict[str, Any] = {}
    for lang in LANGUAGES:
        versions[lang] = make(language=lang, name=names[lang], description=descriptions[lang], versions=versions)
    return versions[DEFAULT_LANGUAGE]


def in_language(text: str | Mapping[str, str] | None, lang: str) -> str:
    """``text`` in ``lang``: itself when it is plain text; from a ``{lang: text}``
    mapping the exact tag, else one with the same primary language, else the first."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if lang in text:
        return text[lang]
    primary = lang.split("-")[0].lower()
    for key, value in text.items():
        if key.split("-")[0].lower() == primary:
            return value
    return next(iter(text.values()))
