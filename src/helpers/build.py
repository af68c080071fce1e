"""Build the playbook site: run every page's notebook and render it to HTML.

Command line (see ``python -m helpers build --help``)::

    python -m helpers build [--config playbooks/playbooks.yaml] [--only NAME ...]
                            [--output DIR] [--set NAME.PARAM=VALUE ...] [--debug]

The config (``playbooks/playbooks.yaml``) lists the pages::

    output: playbooks/site        # where the HTML pages and index.html go
    build: build                  # executed notebooks go to <build>/executed/<name>.ipynb
    title: Playbooks              # optional: index page title
    lang: en                      # optional: default <html lang> of every page
    pages:
      - name: clv                 # file name of the page: <output>/clv.html
        title: Customer lifetime value
        notebook: notebooks/clv.ipynb
        parameters:               # typed YAML; parameters not listed keep the notebook's defaults
          output_dir: build/outputs/clv
        lang: en                  # optional, overrides the top-level lang

Paths. The repo root is the parent of the folder holding the config file
(``playbooks/playbooks.yaml`` -> the repo root), whether the config was found by
looking upwards from the current folder (the default) or given with ``--config``.
``output``, ``build`` and each ``notebook`` are relative to that root, and every
notebook runs with the root as its working folder, so relative paths in parameter
values (``data_path: data/tx.csv``) also resolve from the root. ``--output`` given on
the command line is relative to the current folder, like any command-line path.

Each page is executed, rendered into a staging folder next to the output folder
(``playbooks/.site-*``) and moved into place with ``os.replace``; a page that fails
leaves its previous HTML untouched and the other pages still run.

Exit status: 0 all pages built; 1 at least one page failed; 2 a problem with the
config or the command line (nothing was built); 3 an unexpected internal error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import keyword
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO

import yaml

from . import __version__
from .errors import ConfigError, HelperError

DEFAULT_CONFIG = Path("playbooks") / "playbooks.yaml"

#: Shown as the data source of a page whose ``data_path`` parameter is empty or absent.
EMBEDDED_DATA_SOURCE = "CDNOW master transaction log shipped inside lifetimes 0.11.3 (embedded default data)"

TOP_KEYS = {"output", "build", "pages", "title", "lang"}
PAGE_KEYS = {"name", "title", "notebook", "parameters", "lang"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")

EXIT_OK, EXIT_PAGE_FAILED, EXIT_CONFIG, EXIT_INTERNAL = 0, 1, 2, 3


def data_source_for(parameters: Mapping[str, Any]) -> str:
    """What the page header names as its data: ``data_path`` when given and non-empty,
    else the embedded CDNOW data. ``parameters`` are the page's effective parameters
    (config values over notebook defaults)."""
    value = parameters.get("data_path")
    if value is not None and str(value).strip():
        return str(value)
    return EMBEDDED_DATA_SOURCE


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class Page:
    name: str
    title: str
    notebook: Path  #: absolute
    parameters: dict = field(default_factory=dict)
    lang: str = "en"


@dataclass(frozen=True)
class Config:
    path: Path  #: the config file, absolute
    root: Path  #: the repo root: the config file's parent's parent
    output: Path  #: absolute
    build: Path  #: absolute
    pages: tuple[Page, ...]
    title: str = "Playbooks"
    lang: str = "en"

    def page(self, name: str) -> Page:
        for page in self.pages:
            if page.name == name:
                return page
        raise ConfigError(f"no page named '{name}' in {self.shown}; pages: {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.pages]

    @property
    def shown(self) -> str:
        return shown_path(self.path)

    def relative(self, path: Path) -> str:
        """``path`` relative to the repo root when it is inside it."""
        try:
            return Path(path).relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def shown_path(path: Path) -> str:
    """A path relative to the current folder when it is inside it, else absolute."""
    path = Path(path)
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(path)


def find_config(start: Path | None = None) -> Path:
    """``playbooks/playbooks.yaml`` in ``start`` (default: the current folder) or the
    nearest parent folder that has one."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        candidate = folder / DEFAULT_CONFIG
        if candidate.is_file():
            return candidate
    raise ConfigError(
        f"no {DEFAULT_CONFIG.as_posix()} in {start} or any folder above it; "
        "run from the repository or pass --config PATH"
    )


def _typed(value: Any, where: str) -> Any:
    """Parameter values papermill can pass on: YAML dates become ISO text."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, list):
        return [_typed(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _typed(v, where) for k, v in value.items()}
    raise ConfigError(f"{where}: value {value!r} is a {type(value).__name__}; use text, numbers, true/false, lists or mappings")


def _check_parameter_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError(f"{where}: parameter name {name!r} is not a Python variable name")
    return name


def _resolve(root: Path, value: str) -> Path:
    path = Path(os.path.expanduser(value))
    return path if path.is_absolute() else root / path


def _check_lang(value: Any, where: str) -> str:
    if not isinstance(value, str) or not re.match(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$", value):
        raise ConfigError(f"{where}: lang must be a language tag such as 'en' or 'zh-CN', got {value!r}")
    return value


def load_config(path: Path | None = None) -> Config:
    """Read and validate the config; every problem is a :class:`ConfigError` naming
    the file and the entry. ``path`` default: :func:`find_config`."""
    path = Path(path) if path is not None else find_config()
    shown = shown_path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {shown}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{shown}: not valid YAML{at}: {err.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{shown}: cannot be read: {err}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{shown}: expected a mapping with keys {', '.join(sorted(TOP_KEYS))}")
    unknown = sorted(set(map(str, raw)) - TOP_KEYS)
    if unknown:
        raise ConfigError(f"{shown}: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(TOP_KEYS))})")

    path = path.resolve()
    root = path.parent.parent
    for key in ("output", "build"):
        if key not in raw or not isinstance(raw[key], str) or not raw[key].strip():
            raise ConfigError(f"{shown}: '{key}' must be a folder path (e.g. {'playbooks/site' if key == 'output' else 'build'})")
    title = raw.get("title", "Playbooks")
    if not isinstance(title, str) or not title.strip():
        raise ConfigError(f"{shown}: 'title' must be text")
    lang = _check_lang(raw.get("lang", "en"), shown)

    pages_raw = raw.get("pages")
    if not isinstance(pages_raw, list) or not pages_raw:
        raise ConfigError(f"{shown}: 'pages' must be a list with at least one page")
    pages: list[Page] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(pages_raw):
        where = f"{shown}: pages[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where}: expected a mapping with keys {', '.join(sorted(PAGE_KEYS))}")
        if isinstance(entry.get("name"), str):
            where += f" ({entry['name']})"
        unknown = sorted(set(map(str, entry)) - PAGE_KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(PAGE_KEYS))})")
        for key in ("name", "title", "notebook"):
            if not isinstance(entry.get(key), str) or not entry[key].strip():
                raise ConfigError(f"{where}: '{key}' is missing or not text")
        name = entry["name"]
        if not _NAME_RE.match(name):
            raise ConfigError(f"{where}: name {name!r} may only use letters, digits, '-' and '_' (it becomes the file name)")
        if name in seen or name == "index":
            other = f"pages[{seen[name]}]" if name in seen else "the site index (index.html)"
            raise ConfigError(f"{where}: page name '{name}' is already used by {other}")
        seen[name] = i
        notebook = _resolve(root, entry["notebook"])
        if notebook.suffix != ".ipynb":
            raise ConfigError(f"{where}: notebook {entry['notebook']!r} is not an .ipynb file")
        if not notebook.is_file():
            raise ConfigError(f"{where}: notebook not found: {entry['notebook']} (looked for {notebook})")
        params_raw = entry.get("parameters") or {}
        if not isinstance(params_raw, dict):
            raise ConfigError(f"{where}: 'parameters' must be a mapping of name: value")
        parameters = {
            _check_parameter_name(k, f"{where}: parameters"): _typed(v, f"{where}: parameters.{k}")
            for k, v in params_raw.items()
        }
        page_lang = _check_lang(entry.get("lang", lang), where)
        pages.append(Page(name=name, title=entry["title"].strip(), notebook=notebook, parameters=parameters, lang=page_lang))

    return Config(
        path=path,
        root=root,
        output=_resolve(root, raw["output"]),
        build=_resolve(root, raw["build"]),
        pages=tuple(pages),
        title=title.strip(),
        lang=lang,
    )


def apply_overrides(config: Config, assignments: Sequence[str]) -> Config:
    """Apply ``--set NAME.PARAM=VALUE`` assignments; VALUE is read as YAML
    (``42`` -> int, ``true`` -> bool, empty -> None, ``a b`` -> text)."""
    pages = {p.name: p for p in config.pages}
    for text in assignments:
        target, sep, value_text = text.partition("=")
        page_name, dot, param = target.strip().partition(".")
        if not sep or not dot or not page_name or not param:
            raise ConfigError(f"--set {text!r}: expected NAME.PARAM=VALUE, e.g. --set clv.output_dir=build/tmp")
        page = pages.get(page_name) or config.page(page_name)
        _check_parameter_name(param, f"--set {text!r}")
        try:
            value = yaml.safe_load(value_text) if value_text.strip() else None
        except yaml.YAMLError as err:
            raise ConfigError(f"--set {text!r}: value is not valid YAML ({getattr(err, 'problem', err)})") from None
        value = _typed(value, f"--set {text!r}")
        pages[page_name] = replace(page, parameters={**page.parameters, param: value})
    return replace(config, pages=tuple(pages[p.name] for p in config.pages))


def check_parameters(config: Config, page: Page) -> dict[str, Any]:
    """The notebook defaults of ``page`` after checking that every configured
    parameter exists in the notebook (a typo would otherwise be silently ignored)."""
    shown_nb = config.relative(page.notebook)
    from .render import notebook_parameters

    defaults = notebook_parameters(page.notebook)
    if defaults is None:
        if page.parameters:
            raise ConfigError(
                f"{shown_nb} has no cell tagged 'parameters', so it cannot take the parameters "
                f"{', '.join(page.parameters)} set for page '{page.name}'"
            )
        return {}
    unknown = [name for name in page.parameters if name not in defaults]
    if unknown:
        raise ConfigError(
            f"{shown_nb} has no parameter {', '.join(map(repr, unknown))} (set for page '{page.name}' "
            f"in {config.shown} or --set); its parameters are: {', '.join(defaults) or 'none'}"
        )
    return defaults


# ---------------------------------------------------------------------------- build


@dataclass
class PageResult:
    name: str
    ok: bool
    html: Path | None = None
    seconds: float = 0.0
    error: str = ""


@dataclass
class BuildResult:
    pages: list[PageResult]
    index: Path | None = None

    @property
    def failed(self) -> list[PageResult]:
        return [p for p in self.pages if not p.ok]


def build_page(config: Config, page: Page, html_path: Path) -> Path:
    """Execute ``page``'s notebook to ``<build>/executed/<name>.ipynb`` and render it
    to ``html_path`` (atomically)."""
    from .render import RunInfo, execute_notebook, render_page

    defaults = check_parameters(config, page)
    executed_path = config.build / "executed" / f"{page.name}.ipynb"
    nb = execute_notebook(
        page.notebook,
        page.parameters,
        executed_path,
        cwd=config.root,
        progress=False,
    )
    not_passed = {k: v for k, v in defaults.items() if k not in page.parameters}
    run_info = RunInfo.from_notebook(
        nb,
        data_source=data_source_for({**not_passed, **page.parameters}),
        parameters=page.parameters,
        default_parameters=not_passed,
        extra={"Notebook": config.relative(page.notebook)},
    )
    return render_page(nb, html_path, title=page.title, run_info=run_info, lang=page.lang)


def _say(stream: TextIO, text: str = "", end: str = "\n") -> None:
    stream.write(text + end)
    stream.flush()


def build(
    config: Config,
    *,
    only: Sequence[str] | None = None,
    output: Path | None = None,
    out: TextIO | None = None,
    debug: bool = False,
) -> BuildResult:
    """Build the pages of ``config`` (or those named in ``only``) into ``output``
    (default: the config's ``output``) and refresh ``index.html``. Failing pages are
    reported in the result, never raised; config problems raise ConfigError."""
    out = out or sys.stdout
    pages = [config.page(name) for name in dict.fromkeys(only)] if only else list(config.pages)
    output = Path(output).resolve() if output is not None else config.output
    output.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{output.name}-", dir=output.parent))
    results: list[PageResult] = []
    try:
        for i, page in enumerate(pages, start=1):
            _say(out, f"[{i}/{len(pages)}] {page.name}: running {config.relative(page.notebook)} … ", end="")
            started = time.monotonic()
            target = output / f"{page.name}.html"
            try:
                staged = build_page(config, page, staging / f"{page.name}.html")
                os.replace(staged, target)
            except HelperError as err:
                message = str(err)
                _say(out, "FAILED")
                _say(out, "    " + message.replace("\n", "\n    "))
                if debug and getattr(err, "traceback", None):
                    _say(sys.stderr, "\n".join(err.traceback))
                results.append(PageResult(page.name, False, seconds=time.monotonic() - started, error=message))
                continue
            except Exception as err:  # noqa: BLE001 - one broken page must not stop the others
                message = f"unexpected {type(err).__name__}: {err}"
                _say(out, "FAILED")
                if debug:
                    traceback.print_exc(file=sys.stderr)
                else:
                    message += " (re-run with --debug for the traceback)"
                _say(out, "    " + message)
                results.append(PageResult(page.name, False, seconds=time.monotonic() - started, error=message))
                continue
            seconds = time.monotonic() - started
            _say(out, f"done in {_short_duration(seconds)} -> {shown_path(target)}")
            results.append(PageResult(page.name, True, html=target, seconds=seconds))
        index = write_index(config, output)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return BuildResult(results, index=index)


def _short_duration(seconds: float) -> str:
    from .render import format_duration

    return format_duration(seconds)


def write_index(config: Config, output: Path) -> Path:
    """Write ``<output>/index.html``: every page of the config, linked when built."""
    import jinja2
    from markupsafe import Markup

    from .render import CSS_PATH, TEMPLATES_DIR, write_text_atomic

    entries = []
    for page in config.pages:
        html = output / f"{page.name}.html"
        if html.is_file():
            updated = dt.datetime.fromtimestamp(html.stat().st_mtime).astimezone()
            entries.append({"title": page.title, "href": html.name, "updated": f"{updated:%Y-%m-%d %H:%M}"})
        else:
            entries.append({"title": page.title, "href": None, "updated": None})
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR / "site")),
        autoescape=True,
        keep_trailing_newline=True,
    )
    now = dt.datetime.now().astimezone()
    text = env.get_template("index.html.j2").render(
        title=config.title,
        lang=config.lang,
        css=Markup(CSS_PATH.read_text(encoding="utf-8")),  # noqa: S704 - our own stylesheet
        pages=entries,
        package_version=__version__,
        written=f"{now:%Y-%m-%d %H:%M}",
    )
    return write_text_atomic(output / "index.html", text)


# ------------------------------------------------------------------------------ CLI


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers",
        description="Tools for the retail playbook notebooks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser(
        "build",
        help="run the playbook notebooks and render the HTML pages",
        description="Run each page's notebook with papermill and render it to a self-contained HTML page.",
        epilog=(
            "Relative paths in the config resolve from the repo root (the config file's "
            "parent's parent); --output resolves from the current folder. Exit status: "
            "0 built, 1 a page failed, 2 config or command-line problem, 3 internal error."
        ),
    )
    b.add_argument("--config", type=Path, help=f"config file (default: {DEFAULT_CONFIG.as_posix()} here or in a parent folder)")
    b.add_argument("--only", nargs="+", action="extend", metavar="NAME", help="build only these pages (the index still lists all)")
    b.add_argument("--output", type=Path, metavar="DIR", help="write the site here instead of the config's 'output'")
    b.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="NAME.PARAM=VALUE",
        help="override a page parameter; VALUE is read as YAML (42, true, text, [a, b])",
    )
    b.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    return parser


def run_build(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config)
    config = apply_overrides(config, args.assignments)
    if args.only:
        for name in args.only:
            config.page(name)
    result = build(config, only=args.only, output=args.output, out=out, debug=args.debug)
    failed = result.failed
    if result.index is not None:
        _say(out, f"index -> {shown_path(result.index)}")
    if failed:
        _say(err, f"{len(failed)} of {len(result.pages)} page{'s' if len(result.pages) != 1 else ''} failed "
             "(their previous HTML, if any, was left as it was):")
        for page in failed:
            _say(err, f"  {page.name}: {page.error}")
        return EXIT_PAGE_FAILED
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_CONFIG
    debug = getattr(args, "debug", False)
    try:
        return run_build(args, sys.stdout, sys.stderr)
    except HelperError as err:
        _say(sys.stderr, f"error: {err}")
        return EXIT_CONFIG
    except KeyboardInterrupt:
        _say(sys.stderr, "interrupted")
        return 130
    except Exception as err:  # noqa: BLE001 - the command line never shows a bare traceback
        if debug:
            traceback.print_exc(file=sys.stderr)
            _say(sys.stderr, f"error: unexpected {type(err).__name__}: {err}")
        else:
            _say(sys.stderr, f"error: unexpected {type(err).__name__}: {err} (re-run with --debug for the traceback)")
        return EXIT_INTERNAL
