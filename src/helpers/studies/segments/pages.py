"""One self-contained HTML playbook page per segment, written by the segments notebook.

Running a notebook per segment would cost a kernel start and a CLV study each, so the
overview notebook (``notebooks/segments.ipynb``) renders these pages itself from a small
Jinja template (``templates/segment/page.html.j2``): the playbook stylesheet inlined,
the score grid as an HTML table, no scripts, nothing loaded from the network, relative
links only. Pages go to ``<output_dir>/pages/<segment>.html``. The site build copies
that folder next to the overview page as ``<site>/<page name>/`` (``extra_pages: pages``
in ``playbooks/playbooks.yaml``), so with ``pages_link`` = the page name (``"{page}"``
in the config) the overview links ``<pages_link>/<segment>.html`` and every segment
page links back to ``../<pages_link>.html`` and to its neighbours.

Pages are written in the page language (``language``: ``"en"`` or ``"zh-CN"``): the
template's words come from the ``segments`` catalog (``page`` keys), the segment's name,
definition and playbook from the segment map and action library in that language, and
``<html lang>`` is set to it.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from helpers import __version__
from helpers.data.columns import CUSTOMER_ID
from helpers.errors import ConfigError
from helpers.files import write_text_atomic
from helpers.report.formatting import pct
from helpers.report.i18n import normalise_language, text
from helpers.report.page import CSS_PATH, TEMPLATES_DIR
from helpers.studies.segments import narrative as story
from helpers.studies.segments.analysis import N_SCORES, SegmentMap
from helpers.studies.segments.figures import GREY, label_cell, score_cell_counts, segment_colours
from helpers.studies.segments.recommend import suggestion_summary
from helpers.studies.segments.study import SegmentStudy

TEMPLATE = "page.html.j2"
_LINK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
#: Rows of the activation list previewed on a page (the CSV holds all of them).
PREVIEW_ROWS = 5


def check_pages_link(pages_link: str) -> str:
    """``pages_link`` names the site folder of the segment pages (and the overview page
    ``<pages_link>.html``): letters, digits, ``-`` and ``_``, like a page name."""
    if not isinstance(pages_link, str) or not _LINK_RE.match(pages_link):
        raise ConfigError(
            f"pages_link {pages_link!r} must be a folder name of letters, digits, '-' and '_' (the overview page's "
            "name, e.g. segments)"
        )
    return pages_link


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "segment")),
        autoescape=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


#: Words of the page template, by template name (``t.<name>``), from ``segments.page.<name>``.
TEMPLATE_WORDS = (
    "all_segments", "kicker", "who", "grid_alt", "key_numbers", "objective", "what_to_do", "channels", "trigger",
    "timing", "guardrail", "bound", "share_of_order", "kpis", "avoid", "changed", "next_category", "activation",
    "about",
)


def score_grid(segment_map: SegmentMap, counts: pd.DataFrame, key: str, language: str) -> dict | None:
    """The score grid of ``key``'s page as table cells: customers per cell (``counts`` from
    :func:`score_cell_counts`), the segment's cells in its colour of the overview grid and the
    others grey, its name in its central cell. None for maps without a flat grid (not two axes).

    A table, not a picture: the counts stay text (readable, selectable, sharp at any zoom),
    and ten pages' grids cost no drawing."""
    if len(segment_map.axes) != 2:
        return None
    segment_map = segment_map.localised(language)
    rows, cols = segment_map.axes
    mine = segment_map.keys.index(key)
    colour = segment_colours(segment_map)[mine]
    label_at = label_cell(segment_map.segment(key).cells)

    def cell(row_score: int, col_score: int) -> dict:
        own = int(segment_map.lookup[row_score - 1, col_score - 1]) == mine
        background = colour if own else GREY
        return {"count": f"{int(counts.loc[row_score, col_score]):,}", "background": background,
                "ink": readable_ink(background), "own": own,
                "label": segment_map.labels[key] if (row_score, col_score) == label_at else ""}

    return {
        "title": text("segments.figure.grid_title_segment", language, segment=segment_map.labels[key]),
        "row_letter": rows,
        "col_letter": cols,
        "row_axis": text("segments.figure.score_axis", language, axis=rows),
        "col_axis": text("segments.figure.score_axis", language, axis=cols),
        "col_scores": list(range(1, N_SCORES + 1)),
        "rows": [{"score": r, "cells": [cell(r, c) for c in range(1, N_SCORES + 1)]} for r in range(N_SCORES, 0, -1)],
    }


def readable_ink(background: str) -> str:
    """Black or white, whichever contrasts more with ``background`` (``#rrggbb``), by the
    WCAG relative luminance: black text on the darker palette colours would fall below 4.5:1."""
    channels = np.array([int(background[i:i + 2], 16) for i in (1, 3, 5)]) / 255.0
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    luminance = float(linear @ np.array([0.2126, 0.7152, 0.0722]))
    return "#000000" if (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) else "#ffffff"


def _preview(study: SegmentStudy, key: str, currency: str, language: str = "en") -> tuple[list[str], list[list[str]]]:
    # the first rows by position: filtering the whole table would copy every row of the segment
    first = np.flatnonzero((study.activation["segment"] == key).to_numpy())[:PREVIEW_ROWS]
    rows = study.activation.iloc[first]

    def column(name: str) -> str:
        return text(f"segments.page.preview.{name}", language, currency=currency)

    columns = [column("customer"), column("p_alive"), column("clv"), column("max_discount")]
    has_cat = rows["next_best_category"].notna().any()
    if has_cat:
        columns.append(column("next_category"))
    out = []
    for _, r in rows.iterrows():  # at most PREVIEW_ROWS rows
        line = [str(r[CUSTOMER_ID]), pct(r["p_alive"]), f"{r['predicted_clv']:,.2f}", f"{r['max_discount']:,.2f}"]
        if has_cat:
            line.append("" if pd.isna(r["next_best_category"]) else str(r["next_best_category"]))
        out.append(line)
    return columns, out


def _grid_counts(study: SegmentStudy) -> pd.DataFrame | None:
    """Customers per score cell of a two-axis map (None for other maps)."""
    if len(study.segment_map.axes) != 2:
        return None
    return score_cell_counts(study.customers, *study.segment_map.axes)


def _category_summary(study: SegmentStudy) -> pd.DataFrame | None:
    """The most suggested categories of every segment (None without categories)."""
    if study.suggestions is None:
        return None
    return suggestion_summary(study.suggestions, study.customers["segment"])


def page_context(
    study: SegmentStudy,
    key: str,
    *,
    currency: str,
    data_source: str,
    pages_link: str,
    activation_folder: str,
    horizon_months: int,
    model_label: str,
    allow_raw_ids: bool,
    written: str,
    lang: str = "en",
    language: str | None = None,
    category_summary: pd.DataFrame | None = None,
    grid_counts: pd.DataFrame | None = None,
) -> dict:
    """Everything the template needs for one segment's page, in ``language`` (``lang``
    is its older name; ``language`` wins when both are given). ``category_summary``: the
    study's :func:`suggestion_summary` by segment when the caller has it (one for all pages);
    ``grid_counts``: :func:`score_cell_counts` of the study's customers, likewise."""
    lang = normalise_language(language or lang)
    smap = study.segment_map.localised(lang)
    library = study.library.localised(lang)
    keys = smap.keys
    pos = keys.index(key)
    row = study.summary.loc[key]
    play = library[key]
    g = study.guardrails[key]
    came, went = story.segment_moves(study.migration, smap, key, migration_from=study.migration_from, language=lang)

    bounds = []
    if g.offers > 0 and np.isfinite(g.clv_depth):
        offers = text(
            "segments.guardrail.offers_one" if g.offers == 1 else "segments.guardrail.offers_many", lang,
            count=g.offers,
        )
        bounds = [
            (text("segments.page.bounds.policy", lang), pct(g.policy_depth, 1)),
            (text("segments.page.bounds.margin", lang, share=pct(library.max_share_of_margin),
                  margin=pct(study.gross_margin)), pct(g.margin_depth, 1)),
            (text("segments.page.bounds.clv", lang, share=pct(play.offer.clv_share), offers=offers),
             pct(g.clv_depth, 1)),
        ]
    categories = None
    if study.suggestions is not None:
        top = category_summary if category_summary is not None else _category_summary(study)
        categories = story.segment_categories(top[top["group"] == key], lang)

    n_rows = int(row["customers"])
    file = f"{activation_folder.rstrip('/')}/{key}.csv"
    ids = text("segments.page.ids_raw" if allow_raw_ids else "segments.page.ids_pseudo", lang)
    columns, preview = _preview(study, key, currency, lang)
    activation_text = text(
        "segments.page.activation_text_category" if study.suggestions is not None
        else "segments.page.activation_text",
        lang, file=file, customers=story.count(n_rows), ids=ids,
    )
    if preview:
        activation_text = story.join_sentences([activation_text, text("segments.page.first_rows", lang)], lang)

    def link(i: int) -> dict | None:
        if 0 <= i < len(keys):
            return {"label": smap.labels[keys[i]], "href": f"{keys[i]}.html"}
        return None

    def about(name: str) -> str:
        return text(f"segments.page.about_rows.{name}", lang)

    return {
        "lang": lang,
        "t": {name: text(f"segments.page.{name}", lang) for name in TEMPLATE_WORDS},
        "page_title": text("segments.page.title", lang, segment=smap.labels[key]),
        "clv_note": text("segments.page.clv_note", lang, months=horizon_months),
        "css": Markup(CSS_PATH.read_text(encoding="utf-8")),  # noqa: S704 - our own stylesheet
        "package_version": __version__,
        "title": smap.labels[key],
        "run_line": [
            text("segments.page.run_data", lang, source=data_source),
            text("segments.page.run_customers", lang, date=study.as_of),
            text("segments.page.run_written", lang, time=written),
        ],
        "nav": {"overview": f"../{pages_link}.html", "prev": link(pos - 1), "next": link(pos + 1)},
        "lead": story.segment_lead(row, currency, lang),
        "definition": smap.segment(key).definition,
        "scores": story.segment_scores_text(smap, key, lang),
        "grid": score_grid(smap, grid_counts if grid_counts is not None else _grid_counts(study), key, lang),
        "numbers": story.segment_numbers(row, currency, study.settings.monetary, lang),
        "horizon_months": horizon_months,
        "play": play,
        "guardrail": story.guardrail_text(
            g, currency=currency, gross_margin=study.gross_margin,
            max_share_of_margin=library.max_share_of_margin, clv_share=play.offer.clv_share,
            horizon_months=horizon_months, language=lang,
        ),
        "bounds": bounds,
        "came": came,
        "went": went,
        "categories": categories,
        "activation": {
            "text": activation_text,
            "columns": columns,
            "preview": preview,
            "align": ["left", "right", "right", "right", "left"][: len(columns)],
        },
        "about": [
            (about("data_source"), data_source),
            (about("as_of"), study.as_of),
            (about("migration"), study.migration_from),
            (about("clv"), text("segments.page.about_rows.clv_value", lang, model=model_label, months=horizon_months,
                                margin=pct(study.gross_margin))),
            (about("segment_map"), story.parenthesised(smap.path, smap.name, lang)),
            (about("library"), story.parenthesised(library.path, library.name, lang)),
            ("retail-playbooks", __version__),
            (about("written"), written),
        ],
    }


def render_segment_pages(
    folder: str | Path,
    study: SegmentStudy,
    *,
    currency: str = "$",
    data_source: str = "",
    pages_link: str = "segments",
    activation_folder: str = "activation",
    horizon_months: int = 12,
    model_label: str = "",
    allow_raw_ids: bool = False,
    lang: str = "en",
    language: str | None = None,
) -> dict[str, Path]:
    """Write ``<folder>/<segment>.html`` for every segment of the map (atomically) and
    remove pages of segments no longer in the map; return key -> path.

    Pages are in ``language`` ("en" or "zh-CN"; ``lang`` is its older name)."""
    check_pages_link(pages_link)
    lang = normalise_language(language or lang)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    template = _environment().get_template(TEMPLATE)
    written = f"{dt.datetime.now().astimezone():%Y-%m-%d %H:%M}"
    paths = {}
    top = _category_summary(study)  # once over all customers, not once per page
    counts = _grid_counts(study)  # once over all customers, not once per page
    for key in study.segment_map.keys:  # a handful of segments
        context = page_context(
            study, key, currency=currency, data_source=data_source, pages_link=pages_link,
            activation_folder=activation_folder, horizon_months=horizon_months, model_label=model_label,
            allow_raw_ids=allow_raw_ids, written=written, lang=lang, category_summary=top, grid_counts=counts,
        )
        paths[key] = write_text_atomic(folder / f"{key}.html", template.render(**context))
    for stale in folder.glob("*.html"):
        if stale.stem not in paths:
            stale.unlink()
    return paths
