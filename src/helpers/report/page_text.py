"""Reader-facing text shared by the customer-base, omnichannel and service pages.

Every string a reader sees on those pages comes from a ``helpers`` function (this
module, :mod:`helpers.report.labels` and the ``*_narrative`` modules), never from the notebook,
so a translated page needs changes in the catalogs only (``helpers/locales``). Every
function takes ``language`` ("en" or "zh-CN", default English).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.i18n import DEFAULT_LANGUAGE, catalog, is_chinese, text
from helpers.report.labels import label
from helpers.report.tables import styled

#: Heading name -> catalog key (shared headings in ``labels``, the others in their page's domain).
HEADING_KEYS: dict[str, str] = {
    "answer": "labels.heading.answer",
    "actions": "labels.heading.actions",
    "evidence": "labels.heading.evidence",
    "method": "labels.heading.method",
    "data": "labels.heading.data",
    "outputs": "labels.heading.outputs",
    # customer base
    "cohorts": "base.heading.cohorts",
    "stages": "base.heading.stages",
    "spend": "base.heading.spend",
    # omnichannel
    "mix": "omnichannel.heading.mix",
    "multi": "omnichannel.heading.multi",
    "migration": "omnichannel.heading.migration",
    "online_offline": "omnichannel.heading.online_offline",
    # service
    "promises": "service.heading.promises",
    "breaches": "service.heading.breaches",
    "issues": "service.heading.issues",
    "after": "service.heading.after",
}

#: The headings in English, by name.
HEADINGS: dict[str, str] = {name: text(key) for name, key in HEADING_KEYS.items()}


def heading(key: str, level: int = 2, language: str = DEFAULT_LANGUAGE) -> str:
    """A Markdown heading (``key`` is a name of :data:`HEADING_KEYS`) in ``language``."""
    return f"{'#' * level} {text(HEADING_KEYS[key], language)}"


# ----------------------------------------------------------- joining pieces of text


def sentences(parts: Iterable[str], language: str = DEFAULT_LANGUAGE) -> str:
    """Sentences run together: a space between English ones, nothing between Chinese ones."""
    return ("" if is_chinese(language) else " ").join(p for p in parts if p)


def listing(items: Iterable[str], language: str = DEFAULT_LANGUAGE) -> str:
    """Items of a list inside a sentence: "a, b, c" (Chinese "a、b、c")."""
    return ("、" if is_chinese(language) else ", ").join(items)


def semicolons(items: Iterable[str], language: str = DEFAULT_LANGUAGE) -> str:
    """Clauses separated by semicolons: "a; b" (Chinese "a；b")."""
    return ("；" if is_chinese(language) else "; ").join(items)


def both(first: str, second: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Two items joined: "a and b" (Chinese "a和b")."""
    return f"{first}{'和' if is_chinese(language) else ' and '}{second}"


def numbered(items: Iterable[str]) -> str:
    """A Markdown numbered list."""
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))


# ---------------------------------------------------------------- data quality


@lru_cache(maxsize=None)
def _reason_patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    """The English data-quality reasons as patterns, by catalog key (placeholders as groups)."""
    prefix = "labels.quality.reasons."
    patterns = []
    for key, template in catalog(DEFAULT_LANGUAGE).items():
        if key.startswith(prefix):
            regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>.+)", re.escape(template))
            patterns.append((re.compile(f"^{regex}$"), key))
    return tuple(patterns)


def quality_reason(reason: object, language: str = DEFAULT_LANGUAGE) -> object:
    """A line of a data-quality table (written in English by the loaders) in ``language``.

    Reasons the catalog does not know are shown as they are.
    """
    if not isinstance(reason, str) or not is_chinese(language):
        return reason
    for pattern, key in _reason_patterns():
        match = pattern.match(reason)
        if match:
            values = match.groupdict()
            if "reason" in values:
                values["reason"] = quality_reason(values["reason"], language)
            return text(key, language, **values)
    return reason


def data_quality_view(frame: pd.DataFrame, language: str = DEFAULT_LANGUAGE) -> Styler:
    """The combined data-quality table (table, reason, rows) with readable headers."""
    view = frame.copy()
    if "table" in view:
        view["table"] = view["table"].map(lambda v: label(v, language))
    if "reason" in view:
        view["reason"] = view["reason"].map(lambda v: quality_reason(v, language))
    keys = {"table": "table", "reason": "what", "rows": "rows"}
    headers = {column: text(f"labels.quality.{key}", language) for column, key in keys.items()}
    view = view.rename(columns=headers)
    return styled(view, {headers["rows"]: "{:,.0f}"})


def sources_line(sources: Mapping[str, str | None], language: str = DEFAULT_LANGUAGE) -> str:
    """One Markdown line naming the file behind each table ("not provided" when absent)."""
    colon = "：" if is_chinese(language) else ": "
    parts = [
        f"{label(name, language)}{colon}`{path}`" if path
        else text("labels.sources.missing", language, table=label(name, language))
        for name, path in sources.items()
    ]
    return text("labels.sources.line", language, sources=semicolons(parts, language))


def outputs_line(paths: Mapping[str, Path], language: str = DEFAULT_LANGUAGE) -> str:
    """Where the study's files were written."""
    named = {k: text(f"labels.outputs.{k}", language) for k in ("csv", "tickets", "json", "figures")}
    parts = [f"{named.get(k, k)} `{v}`" for k, v in paths.items()]
    return text("labels.outputs.line", language, files=listing(parts, language))


def tables_source(domain: str, folder: str, generated: bool, seed: int, language: str = DEFAULT_LANGUAGE) -> str:
    """Where a study's tables came from: ``<domain>.source_generated`` (generated tables are
    said to be illustrations, with their seed) or ``<domain>.source_files`` naming the folder (escaped)."""
    if generated:
        return text(f"{domain}.source_generated", language, seed=seed)
    return text(f"{domain}.source_files", language, folder=html.escape(str(folder)))


def not_available(what: str, why: str, language: str = DEFAULT_LANGUAGE) -> str:
    """A short note for a section that cannot be shown with the data given."""
    return text("labels.not_available", language, what=what, why=why)


def publish(values: Mapping[str, object]) -> None:
    """Publish headline numbers to the site index when the renderer supports it
    (:func:`helpers.report.page.publish_headline`); otherwise do nothing."""
    from helpers.report.page import publish_headline

    publish_headline(dict(values))
