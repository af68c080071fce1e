"""Run a parameterised notebook with papermill and render it as a playbook page.

Two steps, kept separate so each can be tested and retried on its own:

- :func:`execute_notebook` runs a notebook with typed parameters (a dict, never
  string ``-p`` flags) in the ``python3`` kernel and writes the executed copy
  (e.g. ``build/executed/clv.ipynb``). A failing cell becomes a
  :class:`NotebookFailed` whose message names the notebook, the cell and the error.
- :func:`render_page` turns an executed notebook into one self-contained HTML file
  for readers: no code, no prompts, no stderr (warnings, progress bars), no
  JavaScript and nothing loaded from the network. Figures stay embedded as
  ``data:`` URIs. A header and a footer show how the page was produced
  (:class:`RunInfo`). The file is written atomically, so a failed render never
  destroys the previous good page.

Cell tags the page honours: ``remove-cell`` (drop the cell) and ``remove-output``
(drop its outputs). Code inputs are never shown, so ``remove-input`` is not needed.

Headline numbers for the site index: a notebook calls :func:`publish_headline`
(``publish_headline({"Customers": 23570, "Expected CLV": "$1.2m"})``). It displays a
bundle of type :data:`HEADLINE_MIME`, which the page leaves out and the build reads
back with :func:`collect_headlines`.

The words of the page frame (navigation, header, "About this run") follow the page
language: :func:`chrome_labels`.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from . import __version__
from .errors import ConfigError, HelperError
from .files import write_text_atomic
from .i18n import LANGUAGES, localise_notebook

__all__ = [
    "HEADLINE_MIME",
    "KERNEL_NAME",
    "NotebookFailed",
    "RunInfo",
    "chrome_labels",
    "collect_headlines",
    "execute_notebook",
    "language_name",
    "notebook_parameters",
    "publish_headline",
    "render_page",
    "strip_ansi",
    "write_text_atomic",
]

#: The kernel every playbook notebook runs in: the current interpreter's ipykernel.
KERNEL_NAME = "python3"

TEMPLATES_DIR = Path(__file__).parent / "templates"
PAGE_TEMPLATE = "playbook"
CSS_PATH = TEMPLATES_DIR / PAGE_TEMPLATE / "static" / "playbook.css"

_ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
_LANG_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")
# Bare object reprs ("<Figure size 640x480 with 1 Axes>", "[<matplotlib.lines.Line2D at 0x7f...>]")
# are leftovers of a missing ";" in the notebook, not content.
_OBJECT_REPR_RE = re.compile(r"^\[?\s*<[^<>]*(?: at 0x[0-9a-fA-F]+|Figure size [^<>]*)>(?:,\s*<[^<>]*>)*\s*\]?$")
#: MIME type of the headline numbers a notebook publishes for the site index
#: (:func:`publish_headline`); never shown on the page itself.
HEADLINE_MIME = "application/vnd.retail-playbooks.headline+json"
_DROPPED_MIMETYPES = ("application/javascript", "application/vnd.jupyter.widget-view+json")
_PAPERMILL_ERROR_TAG = "papermill-error-cell-tag"


def strip_ansi(text: str) -> str:
    """Remove ANSI colour and cursor codes (as in IPython tracebacks) from ``text``."""
    return _ANSI_RE.sub("", text)


# --------------------------------------------------------------------------- errors


class NotebookFailed(HelperError):
    """A notebook cell raised while the notebook ran.

    The message names the notebook, the failing cell (``cell 4 of 9``: counted from 1,
    markdown cells included, as the notebook shows them from the top) with the first
    line of its source, and the error. For a :class:`~helpers.errors.HelperError`
    raised in the notebook (``DataError``, ``ConfigError``...) only its message is
    shown, since it already says file, column, rows and values; for anything else the
    message shows ``ename: evalue`` and where the full traceback is.

    Attributes: ``notebook``, ``cell_index`` (0-based index in the source notebook, or
    None), ``cell_first_line``, ``ename``, ``evalue``, ``traceback`` (lines, ANSI codes
    stripped), ``executed_path`` (the executed copy holding the error output),
    ``where`` (the failing cell as the message names it) and ``detail`` (the message
    without notebook and cell).
    """

    def __init__(
        self,
        message: str,
        *,
        notebook: Path,
        cell_index: int | None = None,
        cell_first_line: str = "",
        ename: str = "",
        evalue: str = "",
        traceback: list[str] | None = None,
        executed_path: Path | None = None,
        where: str = "",
        detail: str = "",
    ) -> None:
        super().__init__(message)
        self.notebook = notebook
        self.cell_index = cell_index
        self.cell_first_line = cell_first_line
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback or []
        self.executed_path = executed_path
        #: the failing cell as the message names it ("cell 4 of 9 (`x = 1`)")
        self.where = where
        #: the message without the notebook and the cell
        self.detail = detail or message


@lru_cache(maxsize=1)
def helper_error_names() -> frozenset[str]:
    """Class names of every HelperError subclass defined in this package.

    Found by reading the package's source (no imports), so subclasses defined in
    modules the building process never imported are recognised too.
    """
    known = {"HelperError", "NotebookFailed"}
    bases_by_class: dict[str, set[str]] = {}
    for source in Path(__file__).parent.glob("*.py"):
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (OSError, SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                names = {b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases}
                bases_by_class.setdefault(node.name, set()).update(names)
    changed = True
    while changed:
        changed = False
        for name, bases in bases_by_class.items():
            if name not in known and bases & known:
                known.add(name)
                changed = True
    return frozenset(known)


def _display(path: Path) -> str:
    """A path as the user typed it or relative to the current folder when possible."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _first_line(source: str, limit: int = 80) -> str:
    for line in source.splitlines():
        if line.strip():
            line = line.strip()
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""


def _source_cell_index(source_nb: NotebookNode, executed_index: int, parameters: Mapping) -> int | None:
    """Map an index in the executed notebook back to the source notebook.

    papermill inserts an ``injected-parameters`` cell after the cell tagged
    ``parameters`` (or at the top when there is none) unless the notebook already has
    one. Returns None when the failing cell is the injected cell itself.
    """
    tags = [c.get("metadata", {}).get("tags", []) for c in source_nb.cells]
    if not parameters or any("injected-parameters" in t for t in tags):
        return executed_index
    param_cells = [i for i, t in enumerate(tags) if "parameters" in t]
    injected_at = param_cells[0] + 1 if param_cells else 0
    if executed_index == injected_at:
        return None
    return executed_index - 1 if executed_index > injected_at else executed_index


def _kernel_hint(ename: str, evalue: str) -> str:
    if ename == "ModuleNotFoundError" and evalue.strip() == "No module named 'helpers'":
        return (
            f" The '{KERNEL_NAME}' Jupyter kernel is not running this environment's Python "
            f"({sys.executable}); run `{sys.executable} -m ipykernel install --sys-prefix` "
            "or remove the other 'python3' kernelspec."
        )
    return ""


# ----------------------------------------------------------------------- parameters


def notebook_parameters(notebook: Path | NotebookNode) -> dict[str, Any] | None:
    """The notebook's parameters and default values, read from the first cell tagged
    ``parameters``; None when there is no such cell.

    Read with :mod:`ast`, so annotated assignments with comments
    (``horizon_months: int = 12  # 12 = one year``) work, unlike papermill's line
    parser. Defaults that are not Python literals are kept as their source text.
    """
    if isinstance(notebook, (str, os.PathLike)):
        try:
            nb = nbformat.read(Path(notebook), as_version=4)
        except Exception as err:  # noqa: BLE001 - not JSON, not a notebook, unreadable
            raise ConfigError(f"{_display(notebook)} cannot be read as a notebook: {err}") from None
    else:
        nb = notebook
    cell = next((c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])), None)
    if cell is None:
        return None
    # IPython magics and shell escapes are not Python: blank them, keep line numbers.
    source = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in cell.source.splitlines())
    where = _display(notebook) if isinstance(notebook, (str, os.PathLike)) else "the notebook"
    try:
        tree = ast.parse(source)
    except SyntaxError as err:
        raise ConfigError(f"{where}: the cell tagged 'parameters' is not valid Python (line {err.lineno}): {err.msg}") from None
    params: dict[str, Any] = {}

    def value_of(node: ast.expr) -> Any:
        try:
            return ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return ast.get_source_segment(source, node)

    for node in tree.body:
        if isinstance(node, ast.Assign):
            for target in node.targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                for name in names:
                    if isinstance(name, ast.Name):
                        params[name.id] = value_of(node.value) if len(names) == 1 else None
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            params[node.target.id] = value_of(node.value)
    return params


class _QuietPapermillInference(logging.Filter):
    """papermill parses the parameters cell line by line and warns about every line
    with a second ``=`` (in a comment, say) and then about "unknown" parameters it
    failed to parse. :func:`execute_notebook` checks parameter names itself."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(("Unable to parse line", "Passed unknown parameter"))


# -------------------------------------------------------------------------- execute


def execute_notebook(
    notebook: Path,
    parameters: dict,
    executed_path: Path,
    *,
    cwd: Path | None = None,
    progress: bool = True,
    timeout: int | None = None,
) -> NotebookNode:
    """Run ``notebook`` with ``parameters`` and write the executed copy to ``executed_path``.

    Parameters are passed to papermill as a dict of typed values (str, int, float,
    bool, None, lists and dicts of those); papermill writes them into an
    ``injected-parameters`` cell after the cell tagged ``parameters``. The kernel is
    ``python3``. ``cwd`` is the kernel's working folder (relative paths inside the
    notebook and in parameter values resolve from there; default: the current folder).
    ``timeout`` is the limit per cell in seconds (default: none).

    Returns the executed notebook. Raises :class:`NotebookFailed` when a cell raises,
    times out or the kernel dies, and :class:`~helpers.errors.ConfigError` when the
    notebook or the kernel cannot be found or a parameter is not one the notebook's
    ``parameters`` cell declares (a typo would otherwise be silently ignored).
    """
    import papermill
    from jupyter_client.kernelspec import NoSuchKernel
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    notebook = Path(notebook)
    executed_path = Path(executed_path)
    if not notebook.is_file():
        raise ConfigError(f"notebook not found: {_display(notebook)}")
    if not isinstance(parameters, Mapping):
        raise ConfigError(f"{_display(notebook)}: parameters must be a mapping of name to value, got {parameters!r}")
    parameters = dict(parameters)
    shown = _display(notebook)
    declared = notebook_parameters(notebook)
    if parameters and declared is None:
        raise ConfigError(f"{shown} has no cell tagged 'parameters', so it cannot take the parameters {', '.join(parameters)}")
    unknown = [name for name in parameters if name not in (declared or {})]
    if unknown:
        raise ConfigError(
            f"{shown} has no parameter {', '.join(map(repr, unknown))}; its parameters are: {', '.join(declared or {}) or 'none'}"
        )
    executed_path.parent.mkdir(parents=True, exist_ok=True)

    quiet = _QuietPapermillInference()
    pm_logger = logging.getLogger("papermill")
    pm_logger.addFilter(quiet)
    try:
        return papermill.execute_notebook(
            str(notebook.resolve()),
            str(executed_path.resolve()),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=progress,
            log_output=False,
            request_save_on_cell_execute=True,
            cwd=str(cwd) if cwd is not None else None,
            execution_timeout=timeout,
            # The kernel's own log (e.g. ipykernel 7's "running over TCP without
            # encryption" warning) is not the notebook's output: only errors.
            extra_arguments=["--IPKernelApp.log_level=ERROR"],
        )
    except PapermillExecutionError as err:
        source_nb = nbformat.read(notebook, as_version=4)
        index = _source_cell_index(source_nb, err.cell_index, parameters)
        first = _first_line(err.source or "")
        ename, evalue = strip_ansi(err.ename or ""), strip_ansi(err.evalue or "").strip()
        if index is None:
            where = "the injected parameters cell"
        else:
            where = f"cell {index + 1} of {len(source_nb.cells)}"
        if first:
            where += f" (`{first}`)"
        if ename in helper_error_names():
            detail = evalue or ename
        else:
            detail = f"{ename}: {evalue}" if evalue else ename
            detail += _kernel_hint(ename, evalue)
            detail += f" (full traceback in {_display(executed_path)})"
        raise NotebookFailed(
            f"{shown}: {where} failed: {detail}",
            notebook=notebook,
            cell_index=index,
            cell_first_line=first,
            ename=ename,
            evalue=evalue,
            traceback=[strip_ansi(line) for line in (err.traceback or [])],
            executed_path=executed_path,
            where=where,
            detail=detail,
        ) from None
    except CellTimeoutError:
        where = _last_started_cell(notebook, executed_path, parameters)
        raise NotebookFailed(
            f"{shown}: {where} did not finish within {timeout} s",
            notebook=notebook,
            ename="CellTimeoutError",
            executed_path=executed_path,
            where=where,
            detail=f"did not finish within {timeout} s",
        ) from None
    except DeadKernelError as err:
        where = _last_started_cell(notebook, executed_path, parameters)
        raise NotebookFailed(
            f"{shown}: the kernel died while running {where} ({strip_ansi(str(err))}); "
            "it may have run out of memory",
            notebook=notebook,
            ename="DeadKernelError",
            executed_path=executed_path,
            where=where,
            detail=f"the kernel died ({strip_ansi(str(err))}); it may have run out of memory",
        ) from None
    except NoSuchKernel:
        raise ConfigError(
            f"no Jupyter kernel named '{KERNEL_NAME}' to run {shown}; "
            f"run `{sys.executable} -m ipykernel install --sys-prefix`"
        ) from None
    finally:
        pm_logger.removeFilter(quiet)


def _last_started_cell(notebook: Path, executed_path: Path, parameters: Mapping) -> str:
    """Describe the cell that was running, from papermill's per-cell metadata."""
    try:
        executed = nbformat.read(executed_path, as_version=4)
        source_nb = nbformat.read(notebook, as_version=4)
    except Exception:  # noqa: BLE001 - best effort, only used for a message
        return "a cell"
    last = None
    for i, cell in enumerate(executed.cells):
        if cell.get("metadata", {}).get("papermill", {}).get("start_time"):
            last = i
    if last is None:
        return "a cell"
    index = _source_cell_index(source_nb, last, parameters)
    if index is None:
        return "the injected parameters cell"
    first = _first_line(executed.cells[last].source)
    return f"cell {index + 1} of {len(source_nb.cells)}" + (f" (`{first}`)" if first else "")


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
        "embedded_data_source": "CDNOW master transaction log shipped inside lifetimes 0.11.3 (embedded default data)",
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
    },
    "zh-CN": {
        "kicker": "分析手册",
        "site_kicker": "分析手册",
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
        "embedded_data_source": "lifetimes 0.11.3 内置的 CDNOW 完整交易记录（默认数据）",
        "parameters": "参数",
        "name": "名称",
        "value": "取值",
        "none": "无。",
        "notebook_default": "（笔记本默认值）",
        "cached": "取自构建缓存：笔记本、参数、数据和代码自本次运行以来均未改变。",
        "site_nav": "站点导航",
        "index": "全部手册",
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
    :mod:`helpers.cache`), ``cached`` says the page was rendered from a cached run.
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


def format_duration(seconds: float) -> str:
    """``4.2 s``, ``42 s``, ``3 min 05 s``, ``1 h 02 min``."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 120:
        return f"{seconds} s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


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


def _run_context(run: RunInfo) -> dict:
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
        "duration": format_duration(run.duration_s),
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
        if HEADLINE_MIME in data:
            return None  # headline numbers are for the site index (publish_headline)
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


def _exporter():
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
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


def _make_self_contained(html: str) -> str:
    """Remove scripts and anything that would load from the network.

    Links (``<a href>``) are kept: following one is the reader's choice, not a load.
    An external image is replaced by a visible note so the author notices.
    """
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, features="html.parser")
    changed = False
    for tag in soup.find_all("script"):
        tag.decompose()
        changed = True
    for tag in soup.find_all(["img", "iframe", "link", "video", "audio", "source", "embed", "object", "track", "input"]):
        urls = [tag.get(attr) or "" for attr in ("src", "href", "data", "poster", "srcset")]
        external = [u for u in urls if _EXTERNAL_RE.match(u) or "http://" in u or "https://" in u]
        if not external:
            continue
        changed = True
        if tag.name == "img":
            note = soup.new_tag("span", attrs={"class": "missing-img"})
            note.string = f"[image not embedded: {external[0]}]"
            tag.replace_with(note)
        else:
            tag.decompose()
    for style in soup.find_all("style"):
        text = style.string or ""
        if re.search(r"@import|url\(\s*['\"]?(?:https?:)?//", text):
            style.string = re.sub(r"@import[^;]*;", "", text)
            style.string = re.sub(r"url\(\s*['\"]?(?:https?:)?//[^)]*\)", "none", style.string)
            changed = True
    if not changed:
        return html
    out = str(soup)
    return out if out.lstrip().lower().startswith("<!doctype") else "<!DOCTYPE html>\n" + out


def make_self_contained(html: str) -> str:
    """``html`` without scripts or anything loaded from the network (see
    :func:`render_page`); used for the extra pages a notebook writes."""
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
    :func:`helpers.build.build`) adds site navigation: ``index`` (href),
    ``study`` (title), ``siblings`` and ``alternates`` (lists of mappings with
    ``title``/``href``/``current`` and ``label``/``href``/``lang``), ``prev`` and
    ``next`` (mappings with ``title`` and ``href``, or None). The file is replaced
    atomically; returns ``html_path``.
    """
    if not _LANG_RE.match(lang or ""):
        raise ConfigError(f"page language {lang!r} is not a language tag such as 'en' or 'zh-CN'")
    if isinstance(executed, (str, os.PathLike)):
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
            "run": _run_context(run_info),
            "t": chrome_labels(lang),
            "nav": dict(nav) if nav else None,
        },
    }
    html, _ = _exporter().from_notebook_node(nb, resources=resources)
    html = _make_self_contained(html)
    return write_text_atomic(Path(html_path), html)
