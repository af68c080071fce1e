"""One playbook page per design, written from the same run as the comparison page, and
the lab's exported files.

Running the notebook once per design would refit the models and re-simulate the
baseline for each page, so the comparison notebook (``notebooks/loyalty_lab.ipynb``)
writes the design pages itself: each is a small notebook built from the results
(Markdown, embedded PNG figures, HTML tables; no code) and rendered with the same
:func:`helpers.report.page.render_page` as every other page, so it looks the same and has the
same "About this run" footer. Pages go to ``<output_dir>/pages/<design>.html``; the site
build copies that folder to ``<site>/<pages_link>/`` next to the comparison page
(``extra_pages: pages`` in the study config), so the comparison page links
``<pages_link>/<design>.html`` and each design page links back to ``../<pages_link>.html``.
Design pages are written in the comparison page's language (``lang``): headings, text,
tables, figures and the page's ``<html lang>`` (catalog ``loyalty.page`` and the rest of
``loyalty``).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from nbformat import NotebookNode
from pandas.io.formats.style import Styler

from helpers.data.privacy import display_ids
from helpers.errors import ConfigError
from helpers.files import write_text_atomic
from helpers.report.exports import csv_text
from helpers.report.figures import to_png
from helpers.report.i18n import normalise_language, text
from helpers.studies.loyalty import figures, narrative, tables
from helpers.studies.loyalty.engine import describe_earn_notes
from helpers.studies.loyalty.results import DesignResult, Lab, metrics_dict

PAGES_DIR = "pages"
_LINK_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
METRICS_JSON = "loyalty_metrics.json"
RUNS_CSV = "loyalty_runs.csv"
CUSTOMERS_CSV = "loyalty_customers.csv"
COMPARISON_CSV = "loyalty_comparison.csv"


def check_pages_link(pages_link: str) -> str:
    """``pages_link`` is the comparison page's name in the site (the folder its design pages are
    copied to): letters, digits, ``-`` and ``_``."""
    if not isinstance(pages_link, str) or not _LINK_RE.match(pages_link):
        raise ConfigError(
            f"pages_link {pages_link!r} must be the comparison page's name: letters, digits, '-' and '_' "
            "(e.g. loyalty_lab)"
        )
    return pages_link


class PageBuilder:
    """Collects Markdown, figures and tables as the cells of an executed notebook."""

    def __init__(self, figure_dir: Path | None = None, prefix: str = "") -> None:
        self.cells: list = []
        self.figure_dir = Path(figure_dir) if figure_dir is not None else None
        self.prefix = prefix

    def md(self, text: str) -> None:
        self.cells.append(nbformat.v4.new_markdown_cell(text))

    def _output(self, data: dict) -> None:
        cell = nbformat.v4.new_code_cell("")
        cell.outputs = [nbformat.v4.new_output("display_data", data=data)]
        self.cells.append(cell)

    def figure(self, fig: Figure, name: str) -> None:
        png = to_png(fig)
        plt.close(fig)
        if self.figure_dir is not None:
            self.figure_dir.mkdir(parents=True, exist_ok=True)
            (self.figure_dir / f"{self.prefix}{name}.png").write_bytes(png)
        self._output({"image/png": base64.b64encode(png).decode("ascii"), "text/plain": name})

    def table(self, table: Styler | pd.DataFrame) -> None:
        html = table.to_html() if isinstance(table, Styler) else table.to_html(index=False, classes="dataframe")
        self._output({"text/html": html, "text/plain": ""})

    def notebook(self) -> NotebookNode:
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = self.cells
        return nb


def design_page(r: DesignResult, lab: Lab, *, currency: str = "$", pages_link: str = "loyalty_lab",
                figure_dir: Path | None = None, language: str = "en") -> NotebookNode:
    """The cells of one design's page, in ``language``."""
    lang = language

    def t(key: str, **values) -> str:
        return text(f"loyalty.page.{key}", lang, **values)

    p = PageBuilder(figure_dir, prefix=f"{r.design.slug}_")
    p.md(t("back", pages_link=pages_link) + "\n\n" + r.design.display_description(lang))
    p.md(t("answer"))
    p.md(narrative.design_headline(r, lab, currency, lang))
    p.md(t("rules"))
    p.md(narrative.rules_md(r.design, currency, lang))
    p.md(t("money"))
    p.figure(figures.cost_breakdown([r], currency, lang), "costs")
    p.md(narrative.costs_text(_single(lab, r), currency, lang))
    p.table(tables.results(r, currency, lang))
    if r.sensitivity is not None:
        p.md(t("sensitivity"))
        p.figure(figures.tornado(r.sensitivity, language=lang), "tornado")
        p.md(narrative.tornado_text(r, lang))
        p.table(tables.sensitivity(r, lang))
    if r.break_even is not None:
        p.md(narrative.break_even_detail(r, currency, lang))
    p.md(t("members"))
    p.figure(figures.tier_distribution(r.tiers, lang, r.design), "tiers")
    p.md(narrative.tiers_text(r, lab, lang))
    if r.metric("points_earned") > 0:
        p.md(t("points"))
        p.figure(figures.points_flow(r.monthly, r.design.burn.point_value, currency, lang), "points")
        p.md(narrative.points_text(r, lab, currency, lang))
    p.md(t("segments"))
    p.figure(figures.segment_contribution(r.segments, currency, lang), "segments")
    p.md(narrative.segments_text(r, currency, lang))
    p.table(tables.segments(r, currency, lang))
    p.md(t("assumptions"))
    p.md(t("assumptions_note"))
    p.table(tables.assumptions(r.sim.values, r.design, lang))
    if r.design.earn.activities:
        p.table(tables.activity_rates(r.sim.values, lang))
    notes = describe_earn_notes(r.sim.earn_notes, lang) if r.sim.earn_notes else r.sim.earn_note
    if notes:
        p.md(text("loyalty.multipliers.line", lang, notes=notes))
    p.md(t("method"))
    p.md(narrative.method_md(lab, lang))
    p.md(narrative.references_section(lang))
    p.md(t("design_file", path=r.design.source))
    return p.notebook()


def _single(lab: Lab, r: DesignResult) -> Lab:
    return Lab([r], lab.base, lab.settings, lab.assumptions, lab.gross_margin)


def write_design_pages(
    lab: Lab,
    output_dir: str | Path,
    *,
    currency: str = "$",
    pages_link: str = "loyalty_lab",
    data_source: str = "",
    parameters: dict | None = None,
    lang: str = "en",
) -> list[Path]:
    """Render every design's page to ``<output_dir>/pages/<design>.html`` in the page language
    ``lang`` ("en" or "zh-CN"); returns the paths."""
    from helpers.report.page import RunInfo, render_page

    check_pages_link(pages_link)
    lang = normalise_language(lang)
    folder = Path(output_dir) / PAGES_DIR
    written = []
    for r in lab.results:
        started = dt.datetime.now(dt.timezone.utc)
        clock = time.monotonic()
        nb = design_page(r, lab, currency=currency, pages_link=pages_link, figure_dir=Path(output_dir) / "figures",
                         language=lang)
        info = RunInfo(
            data_source=data_source,
            parameters=dict(parameters or {}),
            started=started,
            duration_s=time.monotonic() - clock,
            extra={
                text("loyalty.page.notebook_label", lang): text(
                    "loyalty.page.notebook_value", lang, notebook="notebooks/loyalty_lab.ipynb"
                ),
                text("loyalty.page.design_file_label", lang): r.design.source,
            },
        )
        title = text("loyalty.page.title", lang, name=r.display_name(lang))
        written.append(render_page(nb, folder / f"{r.design.slug}.html", title=title, run_info=info, lang=lang))
    return written


def write_outputs(
    lab: Lab, output_dir: str | Path, *, allow_raw_ids: bool = False, id_key: str | None = None
) -> dict[str, Path]:
    """Write the metrics JSON, the design comparison CSV (one row per design: the page's comparison
    table with intervals), the per-run CSV and the per-customer CSV (ids pseudonymised)."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"json": folder / METRICS_JSON, "comparison": folder / COMPARISON_CSV, "runs": folder / RUNS_CSV,
             "customers": folder / CUSTOMERS_CSV}
    write_text_atomic(paths["json"], json.dumps(metrics_dict(lab), indent=2, ensure_ascii=False, default=_plain))
    write_text_atomic(paths["comparison"], csv_text(lab.comparison, float_format="%.6g"))
    runs = pd.concat([r.runs.reset_index().assign(design=r.name) for r in lab.results], ignore_index=True)
    runs = runs[["design"] + [c for c in runs.columns if c != "design"]]
    write_text_atomic(paths["runs"], csv_text(runs, float_format="%.6g"))
    frames = []
    for r in lab.results:
        pc = r.sim.per_customer
        gm = r.gross_margin
        frame = pd.DataFrame(
            {
                "design": r.name,
                "customer_id": display_ids(pd.Series(pc.index), allow_raw_ids=allow_raw_ids, key=id_key).to_numpy(),
                "segment": lab.base.segments.reindex(pc.index).to_numpy(),
                "p_member": pc["p_member"].to_numpy(),
                "p_upper_tier": pc["p_upper_tier"].to_numpy(),
                "incremental_revenue": pc["incremental_revenue"].to_numpy(),
                "incremental_margin": gm * pc["incremental_revenue"].to_numpy(),
                "variable_cost": pc["variable_cost"].to_numpy(),
                "outstanding_points": pc["outstanding_points"].to_numpy(),
            }
        )
        frame["contribution"] = frame["incremental_margin"] - frame["variable_cost"]
        frames.append(frame.sort_values(["contribution", "customer_id"], ascending=[False, True], kind="stable"))
    write_text_atomic(paths["customers"], csv_text(pd.concat(frames, ignore_index=True), float_format="%.6g"))
    return paths


def _plain(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
