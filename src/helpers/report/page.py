"""Render an executed notebook as a self-contained playbook page.

:func:`render_page` turns an executed notebook into one HTML file for readers: no code,
no prompts, no stderr (warnings, progress bars), nothing loaded from the network.
Figures stay embedded as ``data:`` URIs. A header and a footer show how the page was
produced (:class:`RunInfo`). The file is written atomically, so a failed render never
destroys the previous good page.

Cell tags the page honours: ``remove-cell`` (drop the cell) and ``remove-output``
(drop its outputs). Code inputs are never shown, so ``remove-input`` is not needed.

Headline numbers for the site index: a notebook calls :func:`publish_headline`
(``publish_headline({"Customers": 23570, "Expected CLV": "¥1.2m"})``). It displays a
bundle of type :data:`HEADLINE_MIME`, which the page leaves out and the build reads
back with :func:`collect_headlines`.

The words of the page frame (navigation, header, "About this run") follow the page
language: :func:`chrome_labels`. Sub-pages written by a study (one per segment, one
per design) use the same template and stylesheet (:data:`TEMPLATES_DIR`, :data:`CSS_PATH`).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
import re
import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from helpers import __version__
from helpers.errors import ConfigError
from helpers.files import write_text_atomic
from helpers.report.i18n import LANGUAGES, localise_notebook, text

if TYPE_CHECKING:  # nbformat is imported where a notebook is read: notebooks that only publish
    from nbformat import NotebookNode  # headline numbers skip its import (jsonschema, 2-7 s per kernel)

TEMPLATES_DIR = Path(__file__).parent / "templates"
PAGE_TEMPLATE = "playbook"
CSS_PATH = TEMPLATES_DIR / PAGE_TEMPLATE / "static" / "playbook.css"
#: The one script a page carries: sortable, filterable long tables. Inlined verbatim (a
#: Content-Security-Policy can allow it by the SHA-256 of this file's text).
TABLES_JS_PATH = TEMPLATES_DIR / PAGE_TEMPLATE / "static" / "tables.js"


def tables_script() -> str:
    """The text of the table script, exactly as inlined between ``<script>`` tags."""
    return TABLES_JS_PATH.read_text(encoding="utf-8")


_CSP_META_RE = re.compile(r"<meta[^>]*Content-Security-Policy[^>]*>", re.I)
_SCRIPT_SRC_RE = re.compile(r"(script-src )([^\";]*)")


def add_table_script(html: str) -> str:
    """``html`` with the table script inlined before ``</body>`` (after every other
    script was removed: it is the only one a page runs), and its hash added to the page's
    Content-Security-Policy, so the browser runs it and nothing else. A page that already
    has it (a design page rendered by :func:`render_page`, then given the site bar) keeps one copy."""
    source = tables_script()
    tag = f"<script>{source}</script>\n"
    if f"<script>{source}</script>" not in html:
        at = html.lower().rfind("</body>")
        html = html[:at] + tag + html[at:] if at >= 0 else html + tag
    allowed = f"'sha256-{script_hash(source)}'"

    def allow(match: re.Match) -> str:
        kept = [v for v in match.group(2).split() if v != "'none'" and v != allowed]
        return match.group(1) + " ".join([*kept, allowed])

    return _CSP_META_RE.sub(lambda meta: _SCRIPT_SRC_RE.sub(allow, meta.group(0)), html)

_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
# Bare object reprs ("<Figure size 640x480 with 1 Axes>", "[<matplotlib.lines.Line2D at 0x7f...>]")
# are leftovers of a missing ";" in the notebook, not content.
_OBJECT_REPR_RE = re.compile(r"^\[?\s*<[^<>]*(?: at 0x[0-9a-fA-F]+|Figure size [^<>]*)>(?:,\s*<[^<>]*>)*\s*\]?$")
#: MIME type of the headline numbers a notebook publishes for the site index
#: (:func:`publish_headline`); never shown on the page itself.
HEADLINE_MIME = "application/vnd.retail-playbooks.headline+json"
#: MIME type of the data a notebook says it ran on (:func:`publish_data_source`); read by
#: the build for the page header and the index card, never shown in the page body.
DATA_SOURCE_MIME = "application/vnd.retail-playbooks.data-source+json"
#: Kinds of data a page can run on; anything but "real" is flagged on the page and the index.
DATA_KINDS = ("real", "simulated", "generated")
_DROPPED_MIMETYPES = ("application/javascript", "application/vnd.jupyter.widget-view+json")
_PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes (tracebacks from the kernel carry them)."""
    return _ANSI_RE.sub("", text)


# ------------------------------------------------------------------- headlines


def _format_headline_value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:  # NaN
            return "–"
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:,.3g}" if abs(value) < 1 else f"{value:,.2f}"
    return str(value)


def headline_items(values: Mapping[str, Any]) -> list[dict]:
    """``{"label": value}`` as the list stored in a headline bundle: each item has
    ``label``, ``value`` (the text shown) and ``raw`` (the number, or None for text).
    Labels must be non-empty text; values text, numbers or booleans."""
    if not isinstance(values, Mapping) or not values:
        raise ConfigError(f"publish_headline expects a non-empty mapping of label to value, got {values!r}")
    items = []
    for label, value in values.items():
        if not isinstance(label, str) or not label.strip():
            raise ConfigError(f"publish_headline: label {label!r} must be non-empty text")
        if value is not None and not isinstance(value, (str, int, float)):
            # numpy scalars: take their Python value; anything else is a mistake
            item = getattr(value, "item", None)
            value = item() if callable(item) else value
            if not isinstance(value, (str, int, float)):
                raise ConfigError(
                    f"publish_headline: value of {label!r} is a {type(value).__name__}; "
                    "pass text or a number (format money with the page's currency first)"
                )
        raw = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        items.append({"label": label.strip(), "value": "–" if value is None else _format_headline_value(value), "raw": raw})
    return items


def publish_headline(values: Mapping[str, Any]) -> None:
    """Publish a notebook's headline numbers to the site index.

    Call it in a notebook cell, e.g.
    ``publish_headline({"Customers": 23570, "Expected 12-month margin": "$1.2m"})``.
    Labels are shown as given (write them in the page language); ints get thousands
    separators, floats two decimals (none from 1,000; three significant digits below
    1), text is shown as it is (no Markdown escapes such as ``\\$``). The
    numbers are displayed as a bundle of type :data:`HEADLINE_MIME` which the page
    leaves out; in Jupyter the cell shows them as one line of text. Calling it again
    adds labels or replaces the value of a label already published.
    """
    from IPython.display import display

    items = headline_items(values)
    text = "Headline numbers for the site index: " + "; ".join(f"{i['label']}: {i['value']}" for i in items)
    display({HEADLINE_MIME: {"items": items}, "text/plain": text}, raw=True)


def publish_data_source(label: str, kind: str = "real") -> None:
    """Say what data the page ran on: ``label`` (page language) and ``kind``, one of
    :data:`DATA_KINDS` ("simulated": made up inside the notebook; "generated": a file from the
    data generator). The build shows it in the page header and on the index card, with a
    flag for simulated or generated data, in place of what it would guess from ``data_path``."""
    from IPython.display import display

    if kind not in DATA_KINDS:
        raise ConfigError(f"publish_data_source: kind must be one of {', '.join(DATA_KINDS)}, not {kind!r}")
    if not isinstance(label, str) or not label.strip():
        raise ConfigError(f"publish_data_source: label must be non-empty text, not {label!r}")
    bundle = {"label": label.strip(), "kind": kind}
    display({DATA_SOURCE_MIME: bundle, "text/plain": f"Data source for the site: {label.strip()} ({kind})"}, raw=True)


def collect_data_source(executed: NotebookNode) -> dict | None:
    """The last data source a notebook published (:func:`publish_data_source`), or None."""
    found = None
    for cell in executed.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data", {}) if output.get("output_type") in ("display_data", "execute_result") else {}
            bundle = data.get(DATA_SOURCE_MIME)
            if isinstance(bundle, str):
                try:
                    bundle = json.loads(bundle)
                except ValueError:
                    continue
            if isinstance(bundle, Mapping) and isinstance(bundle.get("label"), str) and bundle.get("kind") in DATA_KINDS:
                found = {"label": bundle["label"], "kind": bundle["kind"]}
    return found


def data_source_text(source: Mapping[str, str], language: str = "en") -> str:
    """A published data source as the page header shows it: the label, flagged unless real."""
    if source.get("kind", "real") == "real":
        return source["label"]
    return f"{source['label']} ({chrome_labels(language)[source['kind'] + '_data']})"


def collect_headlines(executed: NotebookNode) -> list[dict]:
    """Headline items a notebook published (:func:`publish_headline`), in order of
    first appearance; a label published again keeps its last value."""
    found: dict[str, dict] = {}
    for cell in executed.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data", {}) if output.get("output_type") in ("display_data", "execute_result") else {}
            bundle = data.get(HEADLINE_MIME)
            if isinstance(bundle, str):  # stored as text by an old writer
                try:
                    bundle = json.loads(bundle)
                except ValueError:
                    continue
            if not isinstance(bundle, Mapping):
                continue
            for item in bundle.get("items", []) or []:
                if isinstance(item, Mapping) and isinstance(item.get("label"), str):
                    found[item["label"]] = {"label": item["label"], "value": str(item.get("value", "")), "raw": item.get("raw")}
    return list(found.values())


# ------------------------------------------------------------- page frame words

#: Words of the page frame (header, navigation, footer, index) by language. The page
#: content is the notebook's own; these are the words around it.
CHROME_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "kicker": "Playbook",
        "site_kicker": "Playbooks",
        "data": "Data",
        "run": "Run",
        "took": "took",
        "about": "About this run",
        "data_source": "Data source",
        "data_hash": "Data hash (SHA-256 of the inputs)",
        "run_started": "Run started",
        "duration": "Duration",
        "notebook": "Notebook",
        "inputs": "Input files",
        "no_inputs": "none",
        "embedded": "embedded in lifetimes",
        "embedded_data_source": "CDNOW master transaction log: real data (US online CD store), 1997-01-01 to 1998-06-30, 23,570 customers; shipped inside lifetimes 0.11.3",
        "simulated_data": "simulated data",
        "generated_data": "generated data",
        "data_line_generated": "{name}: generated data (seed {seed}), {start} to {end}, {customers} customers",
        "data_line_real": "{name}: real data, {start} to {end}, {customers} customers",
        "cdnow_sample_source": "CDNOW 1/10 sample: real data (US online CD store), 1997-01-01 to 1998-06-30, 2,357 customers; shipped inside lifetimes 0.11.3",
        "parameters": "Parameters",
        "name": "Name",
        "value": "Value",
        "none": "None.",
        "notebook_default": "(notebook default)",
        "cached": "Reused from the build cache: notebook, parameters, data and code unchanged since this run.",
        "site_nav": "Site navigation",
        "index": "All playbooks",
        "in_this_study": "In this study",
        "other_languages": "Other languages",
        "previous": "Previous",
        "next": "Next",
        "updated": "updated",
        "not_built": "not built yet",
        "failed": "failed",
        "stale": "stale",
        "stale_note": "the latest run failed; this is the previous good version",
        "more_pages": "More pages",
        "index_written": "Index written {written} by retail-playbooks {version}.",
        "headline": "Headline numbers",
        "figure": "Figure",
        "downloads": "Downloads (CSV, UTF-8, customer ids pseudonymised as on the page)",
    },
    "zh-CN": {
        "kicker": "运营手册",
        "site_kicker": "运营手册",
        "data": "数据",
        "run": "运行于",
        "took": "耗时",
        "about": "关于本次运行",
        "data_source": "数据来源",
        "data_hash": "数据哈希（输入文件的 SHA-256）",
        "run_started": "开始运行",
        "duration": "耗时",
        "notebook": "笔记本",
        "inputs": "输入文件",
        "no_inputs": "无",
        "embedded": "lifetimes 内置数据",
        "embedded_data_source": "CDNOW 完整交易记录：真实数据（美国在线唱片店），1997-01-01 至 1998-06-30，23,570 位客户；随 lifetimes 0.11.3 提供",
        "simulated_data": "模拟数据",
        "generated_data": "生成的数据",
        "data_line_generated": "{name}：生成数据（随机种子 {seed}），{start} 至 {end}，{customers} 位客户",
        "data_line_real": "{name}：真实数据，{start} 至 {end}，{customers} 位客户",
        "cdnow_sample_source": "CDNOW 1/10 样本：真实数据（美国在线唱片店），1997-01-01 至 1998-06-30，2,357 位客户；随 lifetimes 0.11.3 提供",
        "parameters": "参数",
        "name": "名称",
        "value": "取值",
        "none": "无。",
        "notebook_default": "（笔记本默认值）",
        "cached": "取自构建缓存：笔记本、参数、数据和代码自本次运行以来均未改变。",
        "site_nav": "站点导航",
        "index": "全部运营手册",
        "in_this_study": "本研究的其他页面",
        "other_languages": "其他语言",
        "previous": "上一页",
        "next": "下一页",
        "updated": "更新于",
        "not_built": "尚未生成",
        "failed": "运行失败",
        "stale": "已过期",
        "stale_note": "最近一次运行失败；此处为上一次成功的版本",
        "more_pages": "更多页面",
        "index_written": "索引由 retail-playbooks {version} 生成于 {written}。",
        "headline": "关键数字",
        "figure": "图表",
        "downloads": "下载（CSV，UTF-8 编码，客户编号与页面一致地匿名化）",
    },
}

#: Each language's name in itself, for language switches.
LANGUAGE_NAMES = {"en": "English", "zh-CN": "中文"}


def _label_language(lang: str) -> str:
    if lang in CHROME_LABELS:
        return lang
    primary = (lang or "").split("-")[0].lower()
    if primary == "zh":
        return "zh-CN"
    return next((key for key in CHROME_LABELS if key.split("-")[0].lower() == primary), "en")


def chrome_labels(lang: str) -> dict[str, str]:
    """The page-frame words for ``lang`` (``zh``/``zh-Hans``... use zh-CN; any
    language without its own table uses English)."""
    return {**CHROME_LABELS["en"], **CHROME_LABELS[_label_language(lang)]}


def language_name(lang: str) -> str:
    """``lang``'s name in itself (``zh-CN`` -> ``中文``), or the tag itself."""
    if lang in LANGUAGE_NAMES:
        return LANGUAGE_NAMES[lang]
    primary = (lang or "").split("-")[0].lower()
    return {"zh": LANGUAGE_NAMES["zh-CN"], "en": LANGUAGE_NAMES["en"]}.get(primary, lang)


# ---------------------------------------------------------------------- run info


@dataclass
class RunInfo:
    """How a page was produced; shown in the page's header and footer.

    ``parameters`` are the values passed to the notebook; ``default_parameters`` are
    the notebook's own defaults for the parameters that were not passed (shown with a
    "notebook default" note). ``extra`` adds rows to the footer table (e.g. the
    notebook path). ``data_hash`` is the SHA-256 of the input files (see
    :mod:`helpers.site.cache`), ``cached`` says the page was rendered from a cached run.
    """

    data_source: str
    parameters: dict
    started: dt.datetime
    duration_s: float
    package_version: str = __version__
    extra: dict = field(default_factory=dict)
    default_parameters: dict = field(default_factory=dict)
    data_hash: str = ""
    cached: bool = False

    @classmethod
    def from_notebook(
        cls,
        executed: NotebookNode,
        *,
        data_source: str,
        parameters: Mapping | None = None,
        default_parameters: Mapping | None = None,
        extra: Mapping | None = None,
        data_hash: str = "",
        cached: bool = False,
    ) -> RunInfo:
        """Build from an executed notebook: start time and duration come from
        ``metadata.papermill`` (now and 0 s when the notebook was not run by papermill);
        ``parameters`` default to the ones papermill recorded."""
        meta = executed.get("metadata", {}).get("papermill", {}) or {}
        started = _parse_time(meta.get("start_time")) or dt.datetime.now(dt.timezone.utc)
        duration = meta.get("duration")
        if duration is None:
            ended = _parse_time(meta.get("end_time"))
            duration = (ended - started).total_seconds() if ended else 0.0
        if parameters is None:
            parameters = meta.get("parameters") or {}
        return cls(
            data_source=data_source,
            parameters=dict(parameters),
            started=started,
            duration_s=float(duration),
            extra=dict(extra or {}),
            default_parameters=dict(default_parameters or {}),
            data_hash=data_hash,
            cached=cached,
        )


def _parse_time(value: Any) -> dt.datetime | None:
    if not value:
        return None
    if isinstance(value, dt.datetime):
        return value
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)


def format_duration(seconds: float, language: str = "en") -> str:
    """A run's duration in the page's language: ``4.2 s``, ``42 s``, ``3 min 05 s``,
    ``1 h 02 min`` in English; ``4.2 秒``, ``42 秒``, ``3 分钟 5 秒``, ``1 小时 2 分钟`` in
    Chinese (the words come from the ``common.duration`` catalog keys; a language
    without a catalog uses English, as the page frame does)."""
    lang = _label_language(language)
    if seconds < 10:
        return text("common.duration.seconds", lang, value=f"{seconds:.1f}")
    seconds = round(seconds)
    if seconds < 120:
        return text("common.duration.seconds", lang, value=str(seconds))
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return text("common.duration.minutes", lang, minutes=minutes, seconds=secs)
    hours, minutes = divmod(minutes, 60)
    return text("common.duration.hours", lang, hours=hours, minutes=minutes)


def format_time(moment: dt.datetime) -> str:
    """Local time with its UTC offset, e.g. ``2026-05-09 15:35:02 (UTC+08:00)``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    local = moment.astimezone()
    offset = local.strftime("%z")
    offset = f"{offset[:3]}:{offset[3:]}" if offset else ""
    return f"{local:%Y-%m-%d %H:%M:%S} (UTC{offset})"


def format_value(value: Any) -> str:
    """A parameter value as a reader sees it in the page's parameter table."""
    if isinstance(value, str):
        return value if value else '""'
    return repr(value)


def _dist(name: str) -> str:
    try:
        return dist_version(name)
    except PackageNotFoundError:
        return "not installed"


def _run_context(run: RunInfo, lang: str = "en") -> dict:
    params = [(str(k), format_value(v), False) for k, v in run.parameters.items()]
    params += [
        (str(k), format_value(v), True) for k, v in run.default_parameters.items() if k not in run.parameters
    ]
    return {
        "data_source": run.data_source,
        "data_hash": run.data_hash,
        "data_hash_short": run.data_hash[:12],
        "cached": run.cached,
        "started": format_time(run.started),
        "duration": format_duration(run.duration_s, lang),
        "package_version": run.package_version,
        "lifetimes_version": _dist("lifetimes"),
        "python_version": sys.version.split()[0],
        "parameters": params,
        "extra": [(str(k), format_value(v)) for k, v in run.extra.items()],
    }


# --------------------------------------------------------------------------- render


def _clean_output(output: NotebookNode) -> NotebookNode | None:
    """The output as it should reach the page, or None to leave it out."""
    kind = output.get("output_type")
    if kind == "stream":
        if output.get("name") != "stdout":
            return None  # stderr: warnings, progress bars, logging
        output.text = strip_ansi(output.get("text", ""))
        return output if output.text.strip() else None
    if kind == "error":
        output.ename = strip_ansi(output.get("ename", ""))
        output.evalue = strip_ansi(output.get("evalue", ""))
        output.traceback = []
        return output
    if kind in ("display_data", "execute_result"):
        data = output.get("data", {})
        if "application/vnd.jupyter.widget-view+json" in data:
            return None  # an interactive widget (e.g. a progress bar) means nothing on a static page
        if HEADLINE_MIME in data or DATA_SOURCE_MIME in data:
            return None  # headline numbers and the data source are for the site (publish_headline / _data_source)
        for mime in _DROPPED_MIMETYPES:
            data.pop(mime, None)
        for mime in ("text/plain", "text/markdown", "text/latex"):
            if isinstance(data.get(mime), str):
                data[mime] = strip_ansi(data[mime])
        if not data:
            return None
        if set(data) == {"text/plain"} and _OBJECT_REPR_RE.match(data["text/plain"].strip()):
            return None
        return output
    return None


def prepare_for_page(nb: NotebookNode) -> NotebookNode:
    """A copy of ``nb`` with only what belongs on a page (see the module docstring)."""
    nb = copy.deepcopy(nb)
    cells = []
    for cell in nb.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & {"remove-cell", "remove_cell", _PAPERMILL_ERROR_TAG}:
            continue
        if cell.cell_type == "code":
            if tags & {"remove-output", "remove_output"}:
                cell.outputs = []
            else:
                cell.outputs = [o for o in (_clean_output(o) for o in cell.get("outputs", [])) if o is not None]
        cells.append(cell)
    nb.cells = cells
    return nb


_EXPORTERS = threading.local()


def _exporter():
    """The page exporter, made once per thread: setting one up and compiling its templates
    costs more than rendering a page (nbconvert's own command line also converts every
    notebook with one exporter); one per thread because rendering registers filters on it."""
    exporter = getattr(_EXPORTERS, "page", None)
    if exporter is None:
        exporter = _EXPORTERS.page = _new_exporter()
    return exporter


def _new_exporter():
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    # validate the notebook once after the preprocessors, not after each of the fourteen
    # (a third of nbconvert's own time per page); the result is the same
    config.HTMLExporter.optimistic_validation = True
    config.HTMLExporter.display_data_priority = [
        "text/html",
        "text/markdown",
        "image/svg+xml",
        "image/png",
        "image/jpeg",
        "text/latex",
        "text/vnd.mermaid",
        "text/plain",
    ]
    exporter = HTMLExporter(
        config=config,
        template_name=PAGE_TEMPLATE,
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        exclude_anchor_links=True,
        embed_images=True,
    )
    return exporter


_EXTERNAL_RE = re.compile(r"^\s*(?:[a-zA-Z][a-zA-Z0-9+.-]*:)?//")
#: Elements that run code, embed other documents or submit data: never on a page.
_ACTIVE_TAGS = ("script", "iframe", "frame", "frameset", "object", "embed", "applet", "base", "form", "noscript")
#: Attributes holding a URL that a browser may follow or load.
_URL_ATTRS = ("href", "src", "action", "formaction", "data", "poster", "srcset", "xlink:href", "background", "ping")
_BAD_SCHEME_RE = re.compile(r"^\s*(?:javascript|vbscript|data(?!:image/(?:png|jpeg|gif|webp)[;,]))\s*:", re.IGNORECASE)
#: Content-Security-Policy of every page: nothing loaded from anywhere but the page itself
#: (images as data: URIs, the inlined stylesheet), no inline event handlers, no plugins,
#: no forms; scripts only those inlined by the page template, each allowed by its hash.
CSP_BASE = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_CSP_NAME = "Content-Security-Policy"


def content_security_policy(script_hashes: list[str] | tuple[str, ...] = ()) -> str:
    """The page's Content-Security-Policy; ``script_hashes`` are base64 SHA-256 digests of
    the page's own inline scripts (``script-src 'none'`` when there are none)."""
    scripts = " ".join(f"'sha256-{h}'" for h in script_hashes) or "'none'"
    return f"{CSP_BASE}; script-src {scripts}"


def script_hash(source: str) -> str:
    """Base64 SHA-256 of an inline script's text, as CSP ``'sha256-...'`` expects."""
    import base64
    import hashlib

    return base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii")


def trusted_script_hashes() -> frozenset[str]:
    """Hashes (:func:`script_hash`) of the scripts the page templates ship
    (``templates/*/static/*.js``): the only scripts a page may keep, inlined."""
    return frozenset(script_hash(p.read_text(encoding="utf-8")) for p in sorted(TEMPLATES_DIR.glob("*/static/*.js")))


def _sanitise(soup) -> None:
    """Make every element of ``soup`` inert: no active elements (no scripts but the
    templates' own, :func:`trusted_script_hashes`), no ``on*`` handler attributes, no
    ``javascript:`` URLs, no images but embedded ``data:image`` ones (others are replaced
    by a visible note)."""
    trusted = trusted_script_hashes()
    for tag in soup.find_all(_ACTIVE_TAGS):
        if tag.name == "script" and not tag.get("src") and script_hash(tag.string or "") in trusted:
            continue
        tag.decompose()
    for tag in soup.find_all("meta"):
        if str(tag.get("http-equiv", "")).lower() in ("refresh", "set-cookie"):
            tag.decompose()
    for tag in soup.find_all(True):
        for attr in list(tag.attrs):
            name = attr.lower()
            value = tag.attrs[attr]
            value = " ".join(value) if isinstance(value, list) else str(value)
            if name.startswith("on") or name in ("srcdoc", "formaction"):
                del tag.attrs[attr]
            elif name in _URL_ATTRS and value != "data:," and _BAD_SCHEME_RE.match(value):
                del tag.attrs[attr]
    for tag in soup.find_all(["img", "iframe", "link", "video", "audio", "source", "embed", "object", "track", "input"]):
        urls = [tag.get(attr) or "" for attr in ("src", "href", "data", "poster", "srcset")]
        if tag.name == "link" and tag.get("href") == "data:,":
            continue  # the empty favicon that stops browsers asking for one
        loaded = [u for u in urls if u and not u.startswith("data:image/")]
        if tag.name == "img" and not tag.get("src"):
            loaded = loaded or ["(no source)"]
        if not loaded:
            continue
        if tag.name == "img":
            note = soup.new_tag("span", attrs={"class": "missing-img"})
            note.string = f"[image not embedded: {loaded[0]}]"
            tag.replace_with(note)
        else:
            tag.decompose()
    for style in soup.find_all("style"):
        text = style.string or ""
        if re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", text):
            text = re.sub(r"@import[^;]*;", "", text)
            style.string = re.sub(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)", "none", text)


def _add_csp(soup) -> None:
    """Put the page's Content-Security-Policy first in ``<head>``, allowing its inline
    scripts by hash (replaces any policy already there)."""
    for old in soup.find_all("meta"):
        if str(old.get("http-equiv", "")).lower() == _CSP_NAME.lower():
            old.decompose()
    hashes = [script_hash(tag.string or "") for tag in soup.find_all("script") if not tag.get("src")]
    meta = soup.new_tag("meta", attrs={"http-equiv": _CSP_NAME, "content": content_security_policy(hashes)})
    head = soup.head
    if head is None:
        head = soup.new_tag("head")
        (soup.html or soup).insert(0, head)
    charset = head.find("meta", attrs={"charset": True})
    if charset is not None:
        charset.insert_after(meta)
    else:
        head.insert(0, meta)


def _make_self_contained(html: str) -> str:
    """Remove scripts, active elements, event handlers and anything that would load from
    the network, and add the Content-Security-Policy meta tag.

    Links (``<a href>``) are kept: following one is the reader's choice, not a load.
    An image that is not embedded is replaced by a visible note so the author notices.
    Inline scripts shipped by the page templates are kept (allowed by their hash).
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, features="html.parser")
    _sanitise(soup)
    _add_csp(soup)
    out = str(soup)
    return out if out.lstrip().lower().startswith("<!doctype") else "<!DOCTYPE html>\n" + out


def make_self_contained(html: str) -> str:
    """``html`` without scripts or anything loaded from the network, with the pages'
    Content-Security-Policy (see :func:`render_page`); used for the extra pages a
    notebook writes."""
    return _make_self_contained(html)


def render_page(
    executed: Path | NotebookNode,
    html_path: Path,
    *,
    title: str,
    run_info: RunInfo,
    lang: str = "en",
    nav: Mapping | None = None,
) -> Path:
    """Render an executed notebook to a self-contained playbook page at ``html_path``.

    ``executed`` is the executed notebook or its path. ``lang`` goes into
    ``<html lang>`` (a BCP 47 tag such as ``en`` or ``zh-CN``) and picks the words of
    the page frame (:func:`chrome_labels`). ``nav`` (optional, from
    :func:`helpers.site.build.build`) adds site navigation: ``index`` (href),
    ``study`` (title), ``siblings`` and ``alternates`` (lists of mappings with
    ``title``/``href``/``current`` and ``label``/``href``/``lang``), ``prev`` and
    ``next`` (mappings with ``title`` and ``href``, or None). The file is replaced
    atomically; returns ``html_path``.
    """
    if not _LANG_RE.match(lang or ""):
        raise ConfigError(f"page language {lang!r} is not a language tag such as 'en' or 'zh-CN'")
    if isinstance(executed, (str, os.PathLike)):
        import nbformat

        executed_nb = nbformat.read(Path(executed), as_version=4)
    else:
        executed_nb = executed
    nb = prepare_for_page(executed_nb)
    if lang in LANGUAGES:
        nb = localise_notebook(nb, lang)  # Markdown cells keyed "i18n" in the page language

    input_path = executed_nb.get("metadata", {}).get("papermill", {}).get("input_path")
    if input_path:
        base = Path(input_path).parent
    elif isinstance(executed, (str, os.PathLike)):
        base = Path(executed).parent
    else:
        base = Path.cwd()
    resources = {
        "metadata": {"name": title, "path": str(base)},
        "playbook": {
            "title": title,
            "lang": lang,
            "css": CSS_PATH.read_text(encoding="utf-8"),
            "run": _run_context(run_info, lang),
            "t": chrome_labels(lang),
            "nav": dict(nav) if nav else None,
        },
    }
    html, _ = _exporter().from_notebook_node(nb, resources=resources)
    html = add_table_script(_make_self_contained(html))
    return write_text_atomic(Path(html_path), html)
