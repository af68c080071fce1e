"""Run a parameterised notebook with papermill (the site's engine room).

:func:`execute_notebook` runs a notebook with typed parameters (a dict, never string
``-p`` flags) in the ``python3`` kernel and writes the executed copy (e.g.
``build/executed/clv.ipynb``). A failing cell becomes a :class:`NotebookFailed` whose
message names the notebook, the cell and the error. Rendering the executed notebook
as a page is :mod:`helpers.report.page`.
"""

from __future__ import annotations

import ast
import logging
import os
import sys
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from helpers.errors import ConfigError, HelperError
from helpers.report.page import strip_ansi

__all__ = ["KERNEL_NAME", "NotebookFailed", "execute_notebook", "helper_error_names", "notebook_parameters"]

#: The kernel every playbook notebook runs in: the current interpreter's ipykernel.
KERNEL_NAME = "python3"


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
    for source in Path(__file__).resolve().parents[1].rglob("*.py"):
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
    except (CellTimeoutError, DeadKernelError) as err:  # the kernel stopped: name the cell it was running
        where = _last_started_cell(notebook, executed_path, parameters)
        if isinstance(err, CellTimeoutError):
            detail, message = f"did not finish within {timeout} s", f"{where} did not finish within {timeout} s"
        else:
            detail = f"the kernel died ({strip_ansi(str(err))}); it may have run out of memory"
            message = f"the kernel died while running {where} ({strip_ansi(str(err))}); it may have run out of memory"
        raise NotebookFailed(
            f"{shown}: {message}", notebook=notebook, ename=type(err).__name__, executed_path=executed_path,
            where=where, detail=detail,
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


