"""Run a parameterised notebook with papermill (the site's engine room).

:func:`execute_notebook` runs a notebook with typed parameters (a dict, never string
``-p`` flags) in the ``python3`` kernel and writes the executed copy (e.g.
``build/executed/clv.ipynb``). A failing cell becomes a :class:`NotebookFailed` whose
message names the notebook, the cell and the error. Rendering the executed notebook
as a page is :mod:`helpers.report.page`.
"""

from __future__ import annotations

import argparse
import ast
import logging
import os
import re
import sys
import tempfile
import threading
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import nbformat
from nbformat import NotebookNode

from helpers.errors import ConfigError, HelperError
from helpers.memo import DIR_ENV as MEMO_DIR_ENV
from helpers.memo import ENV as MEMO_ENV
from helpers.report.page import strip_ansi

__all__ = ["KERNEL_NAME", "KernelSession", "NotebookFailed", "execute_notebook", "helper_error_names", "notebook_parameters"]

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


#: CPython 3.11 before 3.11.8 can fail with "AST constructor recursion depth mismatch" when
#: two threads parse at once (the build renders and reports pages from worker threads).
_AST_LOCK = threading.Lock()


def parse_source(source: str) -> ast.Module:
    """``ast.parse`` under a process-wide lock (see :data:`_AST_LOCK`)."""
    with _AST_LOCK:
        return ast.parse(source)


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
            tree = parse_source(source.read_text(encoding="utf-8"))
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


_CELL_FRAME_RE = re.compile(r"(?:Cell In\[\d+\]|<ipython-input-\d+-[0-9a-f]+>), line (\d+)")
_IMPORT_RE = re.compile(r"^(?:from\s+\S+\s+import\b|import\s)")


def _failing_line(source: str, traceback: list[str] | None) -> str:
    """The line of the cell that raised, from the kernel's traceback ("Cell In[3], line 12");
    else the cell's first line that is not an import."""
    text = strip_ansi("\n".join(traceback or []))
    found = _CELL_FRAME_RE.search(text)
    lines = source.splitlines()
    if found and 0 < int(found.group(1)) <= len(lines) and lines[int(found.group(1)) - 1].strip():
        return _first_line(lines[int(found.group(1)) - 1])
    return _first_line("\n".join(line for line in lines if not _IMPORT_RE.match(line.strip())))


def _section(source_nb: NotebookNode, index: int | None) -> str:
    """The first line of the nearest Markdown cell above cell ``index`` (its heading)."""
    if index is None:
        return ""
    for cell in reversed(source_nb.cells[:index]):
        if cell.cell_type == "markdown":
            return _first_line(cell.source.lstrip("# ").replace("`", ""), limit=60).lstrip("# ")
    return ""


def describe_cell(source_nb: NotebookNode, index: int | None, source: str, traceback: list[str] | None = None) -> str:
    """A failing cell named by what it does: ``cell 4 of 9 under "The answer" (`study =
    clv_study(...)`)``: its position, the heading above it and the comment it starts with,
    or else the line that raised (never its first import line)."""
    if index is None:
        return "the injected parameters cell"
    where = f"cell {index + 1} of {len(source_nb.cells)}"
    section = _section(source_nb, index)
    if section:
        where += f' under "{section}"'
    first = _first_line(source)
    what = first if first.startswith("#") else _failing_line(source, traceback)
    return where + (f" (`{what}`)" if what else "")


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
        tree = parse_source(source)
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


class _QuietPapermill(logging.Filter):
    """Lines papermill's logger prints that :func:`execute_notebook` says better itself.

    papermill parses the parameters cell line by line and warns about every line with a
    second ``=`` (in a comment, say) and then about "unknown" parameters it failed to
    parse: execute_notebook checks parameter names itself. nbclient logs "Kernel died
    while waiting for execute reply." through the same logger: the :class:`NotebookFailed`
    message names the cell."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(("Unable to parse line", "Passed unknown parameter", "Kernel died while waiting"))


# -------------------------------------------------------------------------- execute


#: The kernel's own log level (see execute_notebook).
KERNEL_LOG_LEVEL = "--IPKernelApp.log_level=CRITICAL"


class KernelSession:
    """One kernel that runs several notebooks one after another: the later ones skip the
    kernel start and the imports. With ``shared=True`` a notebook reuses the results of
    the analyses the earlier ones of its group ran (:mod:`helpers.memo`, switched on in
    the kernel by the ``HELPERS_MEMO`` variable); the language versions of one page are
    such a group. :meth:`new_group` starts another group: the kept results are dropped
    and sharing is switched on or off for it, so one kernel can run the pages of many
    studies (the site build keeps one per worker) and share only within a page.

    Before every notebook but the first the kernel's namespace is cleared (``%reset -f``)
    (``reset(new_session=True)``: cell numbers restart at 1) and open figures are closed,
    so a notebook sees none of the previous one's variables.
    Use as a context manager; :meth:`close` shuts the kernel down. After a failed
    notebook, call :meth:`restart` (a fresh kernel) before running the next one.

    The kernel's own stderr goes to a temporary file, not the terminal: a clean run
    prints nothing but its message, and libzmq may abort a kernel that is shutting down
    with "Assertion failed: pfd.revents & POLLIN" on the way out. :meth:`last_words`
    reads the end of it when the kernel died."""

    def __init__(self, cwd: Path | None = None, *, shared: bool = False, memo_dir: Path | None = None) -> None:
        self.cwd = Path(cwd).resolve() if cwd is not None else None
        self.shared = shared
        self.memo_dir = memo_dir  # where helpers.memo keeps results on disk (its default when None)
        self.km = None
        self.stderr = None  # the running kernel's stderr file
        self.used = False
        self.regroup = False

    def new_group(self, *, shared: bool) -> None:
        """The next notebooks are another group: forget the kept results, share (or not)
        among these."""
        self.shared = shared
        self.regroup = True

    def __enter__(self) -> KernelSession:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def kernel(self):
        """The running kernel's manager (started on first use). Raises jupyter_client's
        ``NoSuchKernel`` when there is no ``python3`` kernel (:func:`execute_notebook` says so in
        one line that names the notebook)."""
        if self.km is None or not self.km.has_kernel:
            from jupyter_client.manager import AsyncKernelManager
            from jupyter_core.utils import run_sync

            env = dict(os.environ)
            if self.shared:
                env[MEMO_ENV] = "1"
            else:
                env.pop(MEMO_ENV, None)
            if self.memo_dir is not None:
                env[MEMO_DIR_ENV] = str(self.memo_dir)
            km = AsyncKernelManager(kernel_name=KERNEL_NAME)
            stderr = tempfile.TemporaryFile()
            try:
                kwargs = {"cwd": str(self.cwd)} if self.cwd is not None else {}
                run_sync(km.start_kernel)(extra_arguments=[KERNEL_LOG_LEVEL], env=env, stderr=stderr, **kwargs)
            except BaseException:
                stderr.close()
                raise
            self._close_stderr()
            # a new kernel starts with nothing kept and the sharing of the current group
            self.km, self.stderr, self.used, self.regroup = km, stderr, False, False
        return self.km

    def last_words(self, limit: int = 200) -> str:
        """The last line the kernel wrote to its stderr (at most ``limit`` characters;
        empty when it wrote none)."""
        if self.stderr is None:
            return ""
        self.stderr.seek(0, os.SEEK_END)
        size = self.stderr.tell()
        self.stderr.seek(max(0, size - 4096))
        lines = [line.strip() for line in self.stderr.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1][:limit] if lines else ""

    def exit_code(self) -> int | None:
        """The kernel process's exit code (minus the signal number when a signal ended
        it); None while it runs or when unknown."""
        process = getattr(getattr(self.km, "provisioner", None), "process", None)
        try:
            return process.poll() if process is not None else None
        except Exception:  # noqa: BLE001 - only used for a message
            return None

    def _close_stderr(self) -> None:
        stderr, self.stderr = self.stderr, None
        if stderr is not None:
            stderr.close()

    def prepare(self) -> None:
        """Before a notebook: a clean namespace when the kernel already ran one (and no
        kept results when it ran another group)."""
        km = self.kernel()
        if self.used:
            from jupyter_core.utils import run_sync

            code = _RESET_CODE + (_group_code(self.shared) if self.regroup else "")
            run_sync(_reset_namespace)(km, code)
        self.used, self.regroup = True, False

    def restart(self) -> None:
        self.close()

    def close(self) -> None:
        km, self.km = self.km, None
        if km is None:
            return
        from jupyter_core.utils import run_sync

        try:
            run_sync(km.shutdown_kernel)(now=False)
        except Exception:  # noqa: BLE001 - already dead
            try:
                run_sync(km.shutdown_kernel)(now=True)
            except Exception:  # noqa: BLE001
                pass
        finally:
            self._close_stderr()


#: Run in a kept kernel between two notebooks: clears the user namespace (modules stay
#: imported, which is the point), starts a new history session (cells count from 1 again),
#: closes pyplot's figures and numbers tables from 1 again (their ids, as in a new kernel).
_RESET_CODE = """\
get_ipython().reset(new_session=True)
import sys as _sys
if "matplotlib.pyplot" in _sys.modules:
    _sys.modules["matplotlib.pyplot"].close("all")
if hasattr(_sys.modules.get("helpers.report.tables"), "reset_table_ids"):
    _sys.modules["helpers.report.tables"].reset_table_ids()
del _sys
import gc as _gc
_gc.collect()
del _gc
"""


def _group_code(shared: bool) -> str:
    """Run in a kept kernel before another group's first notebook: drop the kept results
    (:func:`helpers.memo.clear`) and switch sharing on or off (``HELPERS_MEMO``, which
    :func:`helpers.memo.enabled` reads at every call)."""
    switch = f'_os.environ["{MEMO_ENV}"] = "1"' if shared else f'_os.environ.pop("{MEMO_ENV}", None)'
    return (
        "import os as _os, sys as _sys\n"
        f"{switch}\n"
        'if "helpers.memo" in _sys.modules:\n'
        '    _sys.modules["helpers.memo"].clear()\n'
        "del _os, _sys\n"
    )


async def _reset_namespace(km, code: str = _RESET_CODE) -> None:
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=60)
        reply = await kc.execute_interactive(code, store_history=False, timeout=120, output_hook=lambda msg: None)
        if reply.get("content", {}).get("status") != "ok":
            raise RuntimeError(f"could not clear the kernel between notebooks: {reply.get('content')}")
    finally:
        kc.stop_channels()


def execute_notebook(
    notebook: Path,
    parameters: dict,
    executed_path: Path,
    *,
    cwd: Path | None = None,
    progress: bool = True,
    timeout: int | None = None,
    session: KernelSession | None = None,
) -> NotebookNode:
    """Run ``notebook`` with ``parameters`` and write the executed copy to ``executed_path``.

    Parameters are passed to papermill as a dict of typed values (str, int, float,
    bool, None, lists and dicts of those); papermill writes them into an
    ``injected-parameters`` cell after the cell tagged ``parameters``. The kernel is
    ``python3``. ``cwd`` is the kernel's working folder (relative paths inside the
    notebook and in parameter values resolve from there; default: the current folder).
    ``timeout`` is the limit per cell in seconds (default: none). ``session``: run in
    that :class:`KernelSession`'s kernel (its working folder wins over ``cwd``) instead
    of a new kernel (which is started in a session of its own and shut down after).

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

    quiet = _QuietPapermill()
    pm_logger = logging.getLogger("papermill")
    pm_logger.addFilter(quiet)
    own_session = session is None
    if own_session:  # a kernel whose stderr is kept off the terminal, as the build's
        session = KernelSession(cwd)
    try:
        session.prepare()
        return papermill.execute_notebook(
            str(notebook.resolve()),
            str(executed_path.resolve()),
            parameters=parameters,
            kernel_name=KERNEL_NAME,
            language="python",
            progress_bar=progress,
            log_output=False,
            request_save_on_cell_execute=True,
            # The kernel starts in ``cwd`` (nbclient passes it to the kernel's process).
            # papermill's own ``cwd=`` would os.chdir this whole process, which races
            # when the build runs pages in threads: one page's chdir-back can start
            # another page's kernel in the wrong folder.
            resources={"metadata": {"path": str(Path(cwd).resolve())}} if cwd is not None else {},
            execution_timeout=timeout,
            # The kernel's own log is not the notebook's output (a failing cell reaches us
            # as a message, a dead kernel as DeadKernelError): ipykernel 7 warns "running
            # over TCP without encryption", and jupyter_client interrupts (SIGINT) every
            # kernel it shuts down, which ipykernel may log as "ERROR | KeyboardInterrupt
            # caught in kernel" in the middle of a clean build. Only critical lines.
            extra_arguments=[KERNEL_LOG_LEVEL],
            km=session.km,
        )
    except PapermillExecutionError as err:
        source_nb = nbformat.read(notebook, as_version=4)
        index = _source_cell_index(source_nb, err.cell_index, parameters)
        first = _first_line(err.source or "")
        ename, evalue = strip_ansi(err.ename or ""), strip_ansi(err.evalue or "").strip()
        where = describe_cell(source_nb, index, err.source or "", err.traceback)
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
            cause = _death_cause(session.exit_code(), session.last_words())
            detail = f"the kernel died ({cause})"
            message = f"the kernel died while running {where} ({cause})"
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
        if own_session:
            session.close()


def _death_cause(code: int | None, last_words: str) -> str:
    """Why the kernel died, as far as its exit code and last stderr line tell."""
    import signal

    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        cause = {
            "SIGKILL": "killed by SIGKILL, usually the system running out of memory",
            "SIGSEGV": "SIGSEGV, a crash in compiled code",
            "SIGABRT": "SIGABRT, aborted by compiled code",
        }.get(name, f"ended by {name}")
    elif code is not None:
        cause = f"exit code {code}"
    else:
        cause = "it stopped answering; it may have run out of memory"
    return cause + (f"; its last stderr line: {last_words}" if last_words else "")


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
    return describe_cell(source_nb, index, executed.cells[last].source)


# ---------------------------------------------------------------- command line

#: Exit codes of ``python -m helpers run`` (the same as ``python -m helpers build``).
EXIT_OK, EXIT_FAILED, EXIT_CONFIG, EXIT_INTERNAL = 0, 1, 2, 3


def _parse_yaml_parameters(texts: list[str], files: list[Path]) -> dict:
    import yaml

    params: dict = {}
    sources = [(f"parameters file {f}", f.read_text(encoding="utf-8") if f.is_file() else None) for f in files]
    sources += [("-y", text) for text in texts]
    for label, text in sources:
        if text is None:
            raise ConfigError(f"{label} not found")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
            raise ConfigError(f"{label}: the parameters are not valid YAML{at}: {getattr(err, 'problem', err)}") from None
        if value is None:
            continue
        if not isinstance(value, Mapping):
            raise ConfigError(f"{label}: parameters must be a YAML mapping such as \"{{sample_customers: 2000}}\", got {text!r}")
        params.update(value)
    return params


def make_run_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers run",
        description="Run one notebook with typed YAML parameters. On failure print one line saying which cell "
        "failed and why (no papermill or cell traceback) and exit non-zero.",
    )
    parser.add_argument("notebook", type=Path, help="the notebook, e.g. notebooks/clv.ipynb")
    parser.add_argument("-y", "--yaml", action="append", default=[], metavar="YAML",
                        help='parameters as YAML, e.g. -y "{sample_customers: 2000, language: zh-CN}" (repeatable)')
    parser.add_argument("-f", "--parameters-file", action="append", default=[], type=Path, metavar="FILE",
                        help="parameters from a YAML file (repeatable; -y values win)")
    parser.add_argument("-o", "--output", type=Path, metavar="OUT",
                        help="executed copy of the notebook (default: build/run/<notebook>.ipynb in the project)")
    parser.add_argument("--html", type=Path, metavar="PAGE", help="also render the executed notebook as a page here")
    parser.add_argument("--cwd", type=Path, help="the kernel's working folder (default: the current folder)")
    parser.add_argument("--timeout", type=int, default=None, metavar="S", help="limit per cell in seconds")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="progress bar (default: on a terminal)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an unexpected error")
    return parser


def run_main(argv: list[str] | None = None, out=None, err=None) -> int:
    """``python -m helpers run NOTEBOOK -y PARAMS [-o OUT] [--html PAGE]``: run one notebook,
    print where the executed copy (and page) went, or one line saying what failed."""
    out = out or sys.stdout
    err = err or sys.stderr
    args = make_run_parser().parse_args(argv)
    try:
        from helpers.files import project_path

        params = _parse_yaml_parameters(args.yaml, args.parameters_file)
        output = args.output or project_path("build", "run", Path(args.notebook).with_suffix(".ipynb").name)
        progress = err.isatty() if args.progress is None and hasattr(err, "isatty") else bool(args.progress)
        executed = execute_notebook(args.notebook, params, output, cwd=args.cwd, progress=progress, timeout=args.timeout)
        print(f"ran {_display(args.notebook)} -> {_display(output)}", file=out)
        if args.html:
            from helpers.report.page import RunInfo, render_page

            run_info = RunInfo.from_notebook(executed, data_source=str(params.get("data_path", "") or "default data"),
                                             extra={"Notebook": _display(args.notebook)})
            render_page(executed, args.html, title=Path(args.notebook).stem, run_info=run_info,
                        lang=str(params.get("language", "en")))
            print(f"page -> {_display(args.html)}", file=out)
        return EXIT_OK
    except NotebookFailed as failure:
        print(f"error: {failure}", file=err)
        return EXIT_FAILED
    except HelperError as failure:
        print(f"error: {failure}", file=err)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print("interrupted", file=err)
        return 130
    except Exception as failure:  # noqa: BLE001 - the command line never shows a bare traceback
        if args.debug:
            import traceback

            traceback.print_exc(file=err)
        hint = "" if args.debug else " (re-run with --debug for the traceback)"
        print(f"error: unexpected {type(failure).__name__}: {failure}{hint}", file=err)
        return EXIT_INTERNAL


