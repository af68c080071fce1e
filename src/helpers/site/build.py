"""Build the playbook site: run every study's notebooks and render the site.

Command line (see ``python -m helpers build --help``)::

    python -m helpers build [--config playbooks/playbooks.yaml] [--only NAME ...]
                            [--output DIR] [--set NAME.PARAM=VALUE ...]
                            [--jobs N] [--force] [--list] [--debug]

The config (``playbooks/playbooks.yaml``, see :mod:`helpers.site.config`) lists studies;
each study runs one notebook for one or more parameter sets (variants) in one or
more languages, one page each. The build:

1. checks every selected page's parameters against its notebook (a typo fails that
   page before any kernel starts) and works out its inputs and cache key
   (:mod:`helpers.site.cache`);
2. runs the pages whose key has no cached run with papermill, ``--jobs`` kernels at a
   time (default 2). Each worker keeps one kernel for all the pages it runs (cleared
   in between), so only its first page pays for the kernel start and the imports. The
   language versions of a page run one after another and reuse the first one's
   analyses (:mod:`helpers.memo`); between studies only the validated transactions are
   shared, as files in ``<build>/memo`` (``--force`` empties it first). The batches with
   the longest previous run times start first. Pages writing to the same output folder, and
   the pages of a study with ``parallel: false``, run one after another. One progress
   bar per study on a terminal, one line per page otherwise;
3. renders every page into a staging folder next to the output folder, with
   navigation, run metadata and the index (grouped by study, with the headline
   numbers each notebook published), then swaps the staging folder in
   (:mod:`helpers.site.index`). Pages are rendered while the other notebooks still run,
   once every language version of them has finished (:class:`_EarlyRenders`); the rest
   in ``--jobs`` processes. A page that failed keeps its previous good version, marked
   stale on the index. When every selected page failed, the old site is left
   untouched, byte for byte;
4. prints a summary table of the failures: page, notebook, failing cell, message.

Paths. The repo root is the parent of the folder holding the config file; ``output``,
``build`` and notebooks are relative to it and every notebook runs with it as its
working folder. ``--output`` is relative to the current folder.

Exit status: 0 all pages built; 1 at least one page failed; 2 a problem with the
config or the command line (nothing was built); 3 an unexpected internal error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import queue
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from helpers import __version__
from helpers.errors import ConfigError, HelperError
from helpers.site.cache import (
    RunCache,
    data_hash,
    input_paths,
    is_output_parameter,
    run_key,
)
from helpers.site.config import (
    CDNOW_SAMPLE_SOURCE,
    DEFAULT_CONFIG,
    EMBEDDED_DATA_SOURCE,
    Config,
    Page,
    apply_overrides,
    check_parameters,
    data_source_for,
    in_language,
    load_config,
    notebook_arguments,
    shown_path,
)
from helpers.site.index import (
    carry_over_unmanaged,
    copy_extra_pages,
    copy_previous,
    index_name,
    make_staging,
    managed_names,
    page_nav,
    read_manifest,
    recover,
    short_time,
    swap_in,
    write_index,
    write_manifest,
)

EXIT_OK, EXIT_PAGE_FAILED, EXIT_CONFIG, EXIT_INTERNAL = 0, 1, 2, 3
DEFAULT_JOBS = 2


# ------------------------------------------------------------------------ results


@dataclass
class PageResult:
    """What happened to one selected page."""

    name: str
    ok: bool
    html: Path | None = None
    seconds: float = 0.0
    error: str = ""  #: the full message (as printed)
    cached: bool = False  #: rendered from the run cache, nothing ran
    notebook: str = ""  #: relative to the repo root
    where: str = ""  #: the failing cell, e.g. "cell 4 of 27 (`x = 1`)"
    detail: str = ""  #: the message without notebook and cell
    kept_previous: bool = False  #: failed, and its previous version stays on the site


@dataclass
class BuildResult:
    pages: list[PageResult]
    index: Path | None = None
    swapped: bool = False  #: False when the old site was left as it was

    @property
    def failed(self) -> list[PageResult]:
        return [p for p in self.pages if not p.ok]


@dataclass
class _Job:
    page: Page
    arguments: dict  #: passed to papermill
    not_passed: dict  #: notebook defaults of the parameters not passed
    inputs: list[Path]
    data_hash: str
    key: str
    outputs: list[Path]  #: output folders named by output parameters
    extra_dir: Path | None
    entry: Any = None  #: the cache entry, once run or found
    cached: bool = False


# -------------------------------------------------------------------------- steps


def _prepare(config: Config, page: Page, output: Path, digests: dict[Path, str] | None = None) -> _Job:
    """Check the page's parameters and work out its inputs and cache key (``digests``: the
    input digests worked out for earlier pages of the build, see :func:`data_hash`)."""
    defaults = check_parameters(config, page)
    arguments = notebook_arguments(page, defaults)
    effective = {**defaults, **arguments}
    not_passed = {k: v for k, v in defaults.items() if k not in arguments}
    inputs = input_paths(effective, config.root, exclude=[config.build, output])
    digest = data_hash(inputs, config.root, digests)
    outputs = []
    for name, value in effective.items():
        if is_output_parameter(name) and isinstance(value, str) and value.strip():
            path = Path(os.path.expanduser(value))
            outputs.append((path if path.is_absolute() else config.root / path).resolve())
    extra_dir = None
    if page.extra_pages:
        base = effective.get("output_dir")
        if not isinstance(base, str) or not base.strip():
            raise ConfigError(
                f"page '{page.name}': extra_pages is relative to the output_dir parameter, but "
                f"{config.relative(page.notebook)} has no output_dir (or it is empty)"
            )
        base_path = Path(os.path.expanduser(base))
        extra_dir = (base_path if base_path.is_absolute() else config.root / base_path) / page.extra_pages
    key = run_key(page.notebook, arguments, digest)
    return _Job(page, arguments, not_passed, inputs, digest, key, outputs, extra_dir)


def _run(config: Config, job: _Job, cache: RunCache, session=None) -> None:
    """Execute the page's notebook (worker thread) and store the run in the cache;
    in ``session``'s kernel when given (see :func:`_run_all`)."""
    from helpers.site.run import execute_notebook

    page = job.page
    executed_path = config.build / "executed" / f"{page.name}.ipynb"
    started = time.time()
    nb = execute_notebook(page.notebook, job.arguments, executed_path, cwd=config.root, progress=False, session=session)
    extras: list[Path] = []
    if job.extra_dir is not None:
        if not job.extra_dir.is_dir():
            raise ConfigError(
                f"page '{page.name}': the notebook wrote no folder {shown_path(job.extra_dir)} "
                f"(extra_pages: {page.extra_pages})"
            )
        # only pages this run wrote: a page left over from an earlier run is not current
        extras = sorted(p for p in job.extra_dir.glob("*.html") if p.is_file() and p.stat().st_mtime >= started - 2)
    meta = _meta(config, job, nb)
    job.entry = cache.put(job.key, executed_path, meta, extras)


def _meta(config: Config, job: _Job, nb) -> dict:
    from helpers.report.page import RunInfo, collect_data_source, collect_headlines

    run = RunInfo.from_notebook(nb, data_source="")
    return {
        "page": job.page.name,
        "notebook": config.relative(job.page.notebook),
        "lang": job.page.lang,
        "parameters": job.arguments,
        "defaults": job.not_passed,
        "data_hash": job.data_hash,
        "inputs": [config.relative(p) for p in job.inputs],
        "started": run.started.isoformat(),
        "duration": run.duration_s,
        "headline": collect_headlines(nb),
        "data_source": collect_data_source(nb),
        "package_version": __version__,
    }


def _failure(config: Config, page: Page, err: BaseException, seconds: float, debug: bool) -> PageResult:
    from helpers.site.run import NotebookFailed

    notebook = config.relative(page.notebook)
    if isinstance(err, NotebookFailed):
        where, detail = err.where, err.detail
        message = str(err)
    elif isinstance(err, HelperError):
        where, detail, message = "", str(err), str(err)
    else:
        where = ""
        detail = f"unexpected {type(err).__name__}: {err}"
        if not debug:
            detail += " (re-run with --debug for the traceback)"
        message = detail
    return PageResult(page.name, False, seconds=seconds, error=message, notebook=notebook, where=where, detail=detail)


# ----------------------------------------------------------------------- progress


class _Progress:
    """One tqdm bar per study on a terminal; one line per finished page otherwise."""

    def __init__(self, config: Config, pages: list[Page], out: TextIO, enabled: bool | None) -> None:
        self.out = out
        self.totals: dict[str, int] = {}
        for page in pages:
            self.totals[page.study_name] = self.totals.get(page.study_name, 0) + 1
        self.done: dict[str, int] = dict.fromkeys(self.totals, 0)
        self.failed: dict[str, int] = dict.fromkeys(self.totals, 0)
        isatty = getattr(out, "isatty", lambda: False)()
        self.bars: dict[str, Any] = {}
        if enabled if enabled is not None else isatty:
            try:
                from tqdm import tqdm
            except ImportError:  # tqdm comes with papermill; plain lines without it
                tqdm = None
            if tqdm is not None:
                width = max(len(s) for s in self.totals)
                size = shutil.get_terminal_size((80, 24))
                columns, rows = size.columns or 80, max(size.lines or 24, len(self.totals) + 2)
                for position, study in enumerate(self.totals):
                    self.bars[study] = tqdm(
                        total=self.totals[study], desc=study.ljust(width), position=position,
                        file=out, unit="page", leave=True, ncols=min(max(columns, 40), 100), nrows=rows,
                        bar_format="{desc} {bar} {n_fmt}/{total_fmt} pages{postfix}",
                    )

    def say(self, text: str) -> None:
        if self.bars:
            from tqdm import tqdm

            tqdm.write(text, file=self.out)
        else:
            self.out.write(text + "\n")
            self.out.flush()

    def finished(self, page: Page, result: PageResult, target: str = "") -> None:
        study = page.study_name
        self.done[study] += 1
        if not result.ok:
            self.failed[study] += 1
        if self.bars:
            bar = self.bars[study]
            if self.failed[study]:
                bar.set_postfix_str(f"{self.failed[study]} failed", refresh=False)
            bar.update(1)
            if not result.ok:
                self.say(f"{page.name}: FAILED: {result.error}")
            return
        prefix = f"[{self.done[study]}/{self.totals[study]}] "
        prefix += page.name if study == page.name else f"{study} · {page.name}"
        if result.ok:
            how = "cached (inputs unchanged)" if result.cached else f"done in {_short_duration(result.seconds)}"
            self.say(f"{prefix}: {how}")
        else:
            self.say(f"{prefix}: FAILED")
            self.say("    " + result.error.replace("\n", "\n    "))

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def _short_duration(seconds: float) -> str:
    from helpers.report.page import format_duration

    return format_duration(seconds)


# -------------------------------------------------------------------------- build


def build(
    config: Config,
    *,
    only: Sequence[str] | None = None,
    output: Path | None = None,
    out: TextIO | None = None,
    debug: bool = False,
    jobs: int = DEFAULT_JOBS,
    force: bool = False,
    progress: bool | None = None,
) -> BuildResult:
    """Build the pages of ``config`` (all, or the studies/pages named in ``only``)
    into ``output`` (default: the config's ``output``). Failing pages are reported in
    the result, never raised; config problems raise ConfigError. ``force`` ignores the
    run cache; ``progress`` forces tqdm bars on or off (default: on a terminal)."""
    out = out or sys.stdout
    selected = config.select(only) if only else list(config.pages)
    output = Path(output).resolve() if output is not None else config.output
    recover(output)
    if output.exists() and not output.is_dir():
        raise ConfigError(f"the output {shown_path(output)} exists and is not a folder")
    cache = RunCache(config.build / "cache")
    results: dict[str, PageResult] = {}
    ready: dict[str, _Job] = {}

    progress_ui = _Progress(config, selected, out, progress)
    early = None
    try:
        # 0. the shared dataset, generated (or reused) before any page reads it
        data_line = _ensure_shared_data(config, progress_ui.say)
        # 1. check parameters, find inputs and cache keys
        to_run: list[_Job] = []
        digests: dict[Path, str] = {}
        for page in selected:
            started = time.monotonic()
            try:
                job = _prepare(config, page, output, digests)
            except Exception as err:  # noqa: BLE001 - one broken page must not stop the others
                if debug and not isinstance(err, HelperError):
                    traceback.print_exc(file=sys.stderr)
                results[page.name] = _failure(config, page, err, time.monotonic() - started, debug)
                progress_ui.finished(page, results[page.name])
                continue
            entry = None if force else cache.get(job.key, require=job.outputs)
            if entry is not None:
                job.entry, job.cached = entry, True
                ready[page.name] = job
                results[page.name] = PageResult(page.name, True, cached=True, notebook=config.relative(page.notebook))
                progress_ui.finished(page, results[page.name])
            else:
                to_run.append(job)

        # 2. run the rest, `jobs` at a time
        if to_run and force:  # computed again too: the loads the kernels share on disk
            shutil.rmtree(memo_folder(config), ignore_errors=True)
        if to_run:
            n = len(to_run)
            progress_ui.say(
                f"running {n} notebook{'s' if n != 1 else ''}"
                + (f" ({len(ready)} unchanged, from the cache)" if ready else "")
                + f", {min(max(1, jobs), n)} at a time …"
            )
        early = _EarlyRenders(config, output, ready, [job.page.name for job in to_run], data_line) if to_run else None
        _run_all(config, to_run, cache, max(1, jobs), results, ready, progress_ui, debug, early)
    except BaseException:
        if early is not None:
            early.discard()
        raise
    finally:
        progress_ui.close()

    # 3. the new site, in a staging folder; 4. swap it in
    index, swapped = _assemble(config, output, selected, results, ready, out, debug, data_line, early, max(1, jobs))
    ordered = [results[p.name] for p in selected]
    return BuildResult(ordered, index=index, swapped=swapped)


def memo_folder(config: Config) -> Path:
    """Where the build's kernels keep results for each other (:mod:`helpers.memo`, on disk)."""
    return config.build / "memo"


def exclusive_resources(config: Config, job: _Job) -> list[str]:
    """What a page's run holds exclusively, sorted: each output folder it writes, and its study
    when the study is ``parallel: false``. Two runs wait for each other exactly when these
    lists share a name (each name is one lock in :func:`_run_all`)."""
    names = {str(p) for p in job.outputs}
    if not config.study_of(job.page).parallel:
        names.add(f"study:{job.page.study_name}")
    return sorted(names)


def may_run_together(config: Config, a: _Job, b: _Job) -> bool:
    """The scheduling decision: may these two pages' notebooks run at the same time?"""
    return not set(exclusive_resources(config, a)) & set(exclusive_resources(config, b))


def _ensure_shared_data(config: Config, say) -> Callable[[Mapping[str, Any], str], str | None]:
    """Generate the config's shared dataset when it is missing or out of date; returns
    ``data_line(parameters, lang)``: the header line of a page that reads it, else None."""
    if config.data is None:
        return lambda parameters, lang: None
    from helpers.site.data import describe, ensure_data

    folder, truth, _ = ensure_data(config.data, config.root, say=say)
    folder = folder.resolve()
    lines = {}

    def data_line(parameters: Mapping[str, Any], lang: str) -> str | None:
        for name in ("data_path", "data_dir", "tickets_path", "customers_path"):
            value = parameters.get(name)
            if not isinstance(value, str) or not value.strip():
                continue
            path = Path(os.path.expanduser(value))
            path = (path if path.is_absolute() else config.root / path).resolve()
            if path.is_relative_to(folder):
                if lang not in lines:
                    lines[lang] = describe(config.data, truth, lang)
                return lines[lang]
        return None

    return data_line


def batches(config: Config, jobs: Sequence[_Job]) -> list[list[_Job]]:
    """The runs grouped for one kernel each: the language versions of a page (one
    group, :attr:`Page.group`) run one after another in the same kernel, in config
    order, so the later ones skip the kernel start and the imports and reuse the
    analyses the first one ran (:mod:`helpers.memo`). Batches in the order of the
    pages' first appearance."""
    grouped: dict[tuple, list[_Job]] = {}
    for job in jobs:
        grouped.setdefault(job.page.group, []).append(job)
    return list(grouped.values())


def previous_durations(cache: RunCache) -> dict[str, float]:
    """Each page's run time in seconds in its most recently used cached run."""
    latest: dict[str, tuple[float, float]] = {}
    if not cache.folder.is_dir():
        return {}
    for meta_path in cache.folder.glob("*/meta.json"):
        try:
            used = meta_path.stat().st_mtime
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            page, duration = str(meta.get("page", "")), float(meta.get("duration") or 0.0)
        except (OSError, ValueError, TypeError):
            continue
        if page and duration > 0 and (page not in latest or used > latest[page][0]):
            latest[page] = (used, duration)
    return {page: duration for page, (_, duration) in latest.items()}


def schedule(groups: Sequence[Sequence[_Job]], durations: Mapping[str, float]) -> list[list[_Job]]:
    """The order to start the batches in: longest expected first (longest-processing-time
    scheduling: with a few workers, a long page started last would run on alone at the
    end). A batch's expected time is the sum of its pages' previous run times; a batch
    with a page that never ran takes the config's ``expected_seconds`` hint (a fresh clone has
    no run times: without hints its first build would start in config order), and without a
    hint counts as longest (it might be). Ties keep config order."""

    def expected(batch: Sequence[_Job]) -> float:
        times = [durations.get(job.page.name) for job in batch]
        if all(t is not None for t in times):
            return float(sum(times))
        hints = [job.page.expected_seconds for job in batch if job.page.expected_seconds is not None]
        return float(max(hints)) if hints else float("inf")

    order = sorted(range(len(groups)), key=lambda i: (-expected(groups[i]), i))
    return [list(groups[i]) for i in order]


def _run_all(config, to_run, cache, jobs, results, ready, progress_ui, debug, early=None) -> None:
    if not to_run:
        return
    from helpers.site.run import KernelSession

    # One kernel per worker, kept from batch to batch: a kernel start and the imports cost
    # about 3 s of CPU, paid once per worker instead of once per batch.
    kernels = [KernelSession(config.root, memo_dir=memo_folder(config)) for _ in range(min(jobs, len(to_run)))]
    try:
        _run_batches(config, to_run, cache, jobs, results, ready, progress_ui, debug, kernels, early)
    finally:
        for session in kernels:
            session.close()


def _run_batches(config, to_run, cache, jobs, results, ready, progress_ui, debug, kernels, early) -> None:
    """Run the batches on ``jobs`` worker threads, each batch in one of ``kernels`` (a
    worker takes a free one: a kernel runs one batch at a time); the main thread renders
    the finished pages meanwhile (``early``, or None)."""
    locks: dict[str, threading.Lock] = {}
    for job in to_run:
        for name in exclusive_resources(config, job):
            locks.setdefault(name, threading.Lock())
    done_queue: list = []
    done_event = threading.Condition()

    def report(job: _Job, outcome) -> None:
        with done_event:
            done_queue.append((job, outcome))
            done_event.notify()

    sessions: queue.SimpleQueue = queue.SimpleQueue()
    for session in kernels:
        sessions.put(session)

    def task(batch: list[_Job]) -> None:
        names = sorted({name for job in batch for name in exclusive_resources(config, job)})
        with ExitStack() as stack:
            for name in names:  # sorted: no lock-order deadlock
                stack.enter_context(locks[name])
            session = sessions.get()
            try:
                session.new_group(shared=len(batch) > 1)
                for job in batch:
                    started = time.monotonic()
                    try:
                        _run(config, job, cache, session=session)
                    except Exception as err:  # noqa: BLE001 - reported per page
                        session.restart()  # the next page gets a fresh kernel
                        report(job, (err, time.monotonic() - started))
                    else:
                        report(job, time.monotonic() - started)
            finally:
                sessions.put(session)

    ordered = schedule(batches(config, to_run), previous_durations(cache))
    expected = len(to_run)
    with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="playbook") as pool:
        futures = [pool.submit(task, batch) for batch in ordered]
        try:
            if early is not None:
                early.start()
            received = 0
            while received < expected:
                with done_event:
                    while not done_queue:
                        crashed = [f for f in futures if f.done() and f.exception() is not None]
                        if crashed:
                            raise crashed[0].exception()
                        done_event.wait(timeout=1.0)
                    items, done_queue[:] = list(done_queue), []
                for job, outcome in items:
                    received += 1
                    page = job.page
                    if isinstance(outcome, tuple):
                        err, seconds = outcome
                        if debug and not isinstance(err, HelperError):
                            traceback.print_exception(err, file=sys.stderr)
                        results[page.name] = _failure(config, page, err, seconds, debug)
                    else:
                        ready[page.name] = job
                        results[page.name] = PageResult(page.name, True, seconds=outcome, notebook=config.relative(page.notebook))
                    progress_ui.finished(page, results[page.name])
                    if early is not None:
                        early.finished(job)
        except BaseException:
            for future in futures:
                future.cancel()
            raise


def _plan(config: Config, output: Path, old: Mapping[str, Mapping], rendered: Collection[str]) -> dict[str, str]:
    """What each page will be in the new site: "render" (the pages in ``rendered``), "copy"
    (its previous version stays) or "missing"."""
    plan: dict[str, str] = {}
    for page in config.pages:
        if page.name in rendered:
            plan[page.name] = "render"
        elif (output / f"{page.name}.html").is_file() or (old.get(page.name) and (output / str(old[page.name].get("file", ""))).is_file()):
            plan[page.name] = "copy"
        else:
            plan[page.name] = "missing"
    return plan


def _available(plan: Mapping[str, str]) -> frozenset[str]:
    """The pages the site links to under ``plan``."""
    return frozenset(n for n, how in plan.items() if how != "missing")


def _render_page(config, page, ready, available, staging, data_line) -> dict:
    """Render ``page`` (in ``ready``) into ``staging``, linked to the ``available`` pages;
    returns its manifest entry."""
    from helpers.report.page import (
        RunInfo,
        chrome_labels,
        language_name,
        make_self_contained,
        render_page,
    )

    return _render_one(
        config, page, ready[page.name], staging,
        page_nav(page, available, list(config.pages), language_name, config.lang),
        render_page, RunInfo, chrome_labels, make_self_contained, data_line,
        _extra_nav(config, page, ready, available, chrome_labels, language_name),
    )


def _remove_rendered(staging: Path, name: str) -> None:
    (staging / f"{name}.html").unlink(missing_ok=True)
    shutil.rmtree(staging / name, ignore_errors=True)


class _EarlyRenders:
    """Pages rendered while other notebooks still run (the main thread would only wait for
    them), so that little is left to render after the last run. A page is rendered once
    every language version of it has finished (its extra pages link theirs), into the
    staging folder, assuming that every page still running will succeed. The assembly
    keeps a render only when the site gets exactly the pages it assumed and the page's
    downloads did not change since, else renders the page again."""

    def __init__(self, config: Config, output: Path, ready: dict[str, _Job], pending: Collection[str], data_line) -> None:
        self.config, self.output, self.ready, self.data_line = config, output, ready, data_line
        self.pending = set(pending)
        self.old = read_manifest(output)
        self.staging: Path | None = None
        self.kept: dict[str, tuple[frozenset[str], dict, list]] = {}

    def start(self) -> None:
        """Render the pages from the run cache whose language versions all come from it
        (main thread, while the first notebooks run)."""
        for group in dict.fromkeys(p.group for p in self.config.pages if p.name in self.ready):
            self._render_group(group)

    def finished(self, job: _Job) -> None:
        """``job``'s run ended, well or not (main thread)."""
        self.pending.discard(job.page.name)
        self._render_group(job.page.group)

    def _render_group(self, group: tuple) -> None:
        pages = [p for p in self.config.pages if p.group == group]
        if any(p.name in self.pending for p in pages):
            return
        available = _available(_plan(self.config, self.output, self.old, set(self.ready) | self.pending))
        for page in pages:
            if page.name in self.ready and page.name not in self.kept:
                self._render(page, available)

    def folder(self) -> Path:
        """The staging folder (made on first use)."""
        if self.staging is None:
            self.staging = make_staging(self.output)
        return self.staging

    def _render(self, page: Page, available: frozenset[str]) -> None:
        stamp = self._stamp(page)
        entry = None if stamp is None else _render_quietly(self.config, page, self.ready, available, self.folder(), self.data_line)
        if entry is not None:
            self.kept[page.name] = (available, entry, stamp)

    def _stamp(self, page: Page) -> list | None:
        """The page's downloads as they are before it is rendered (a page sharing its output
        folder may write them again meanwhile); None when they cannot be listed: the
        assembly's render reports it."""
        try:
            return _downloads_stamp(self.config, self.ready[page.name])
        except (HelperError, OSError):
            return None

    def render_in_processes(self, pages: Sequence[Page], available: frozenset[str], workers: int) -> None:
        """Render ``pages`` in ``workers`` forked processes, each page on one core (rendering
        is most of a build with little to run); kept like the pages rendered early. Where
        processes cannot be forked, or for a page or two, nothing is done: the assembly
        renders them itself, as it renders a page whose render failed here."""
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        stamps = {p.name: self._stamp(p) for p in pages if p.name not in self.kept}
        pages = [p for p in pages if stamps.get(p.name) is not None]
        if workers < 2 or len(pages) < 2 * workers or "fork" not in multiprocessing.get_all_start_methods():
            return
        # the largest notebooks first, so that no long render starts last
        pages.sort(key=lambda p: -self.ready[p.name].entry.executed.stat().st_size)
        global _FORKED
        _FORKED = (self, available)
        staging = self.folder()
        try:
            with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
                rendered = list(pool.map(_render_forked, [p.name for p in pages]))
        except Exception:  # noqa: BLE001 - e.g. a killed process: the assembly renders them itself
            rendered = [None] * len(pages)
        finally:
            _FORKED = None
        for page, entry in zip(pages, rendered):
            if entry is not None:
                self.kept[page.name] = (available, entry, stamps[page.name])
            else:
                _remove_rendered(staging, page.name)

    def take(self, page: Page, available: frozenset[str]) -> dict | None:
        """The manifest entry of ``page`` rendered early, when still right; else None
        (and its files are removed)."""
        assumed, entry, stamp = self.kept.pop(page.name, (None, None, None))
        if entry is None:
            return None
        if assumed == available and stamp == _downloads_stamp(self.config, self.ready[page.name]):
            return entry
        _remove_rendered(self.staging, page.name)
        return None

    def forget(self) -> None:
        """The staging folder was emptied of pages: nothing rendered early is left."""
        self.kept.clear()

    def discard(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        self.kept.clear()


#: What a forked render process renders from (:meth:`_EarlyRenders.render_in_processes`).
_FORKED: tuple | None = None


def _render_forked(name: str) -> dict | None:
    early, available = _FORKED
    page = next(p for p in early.config.pages if p.name == name)
    return _render_quietly(early.config, page, early.ready, available, early.folder(), early.data_line)


def _render_quietly(config, page, ready, available, staging, data_line) -> dict | None:
    """:func:`_render_page`, or None (and no files) when it fails: the assembly renders the
    page again and reports the failure."""
    try:
        return _render_page(config, page, ready, available, staging, data_line)
    except Exception:  # noqa: BLE001 - reported by the assembly's own render
        _remove_rendered(staging, page.name)
        return None


def _assemble(config, output, selected, results, ready, out, debug, data_line=None, early=None, jobs=1) -> tuple[Path | None, bool]:
    """Render the new site into a staging folder and swap it in (see module doc); with
    ``early`` (:class:`_EarlyRenders`), its staging folder and the pages rendered there.
    The pages left to render are rendered in ``jobs`` processes."""
    from helpers.report.page import language_name

    old = read_manifest(output)
    selected_names = {p.name for p in selected}
    succeeded = [n for n in selected_names if results[n].ok]
    failed = [n for n in selected_names if not results[n].ok]
    if failed and not succeeded and output.is_dir() and any(output.iterdir()):
        for name in failed:
            results[name].kept_previous = (output / f"{name}.html").is_file()
        if early is not None:
            early.discard()
        return None, False  # nothing new: the old site stays exactly as it was

    now = dt.datetime.now().astimezone().isoformat(timespec="seconds")
    early = early if early is not None else _EarlyRenders(config, output, ready, (), data_line)
    staging = early.folder()
    try:
        manifest: dict[str, dict] = {}
        plan = _plan(config, output, old, ready)
        early.render_in_processes([p for p in config.pages if plan[p.name] == "render"], _available(plan), jobs)

        while True:  # a render that fails falls back to a copy; then links are redone
            available = _available(plan)
            broken = None
            for page in config.pages:
                if plan[page.name] != "render":
                    continue
                try:
                    entry = early.take(page, available)
                    if entry is None:
                        entry = _render_page(config, page, ready, available, staging, data_line)
                    manifest[page.name] = entry
                    results[page.name].html = output / f"{page.name}.html"
                except Exception as err:  # noqa: BLE001 - fall back to the previous version
                    if debug:
                        traceback.print_exc(file=sys.stderr)
                    results[page.name] = _failure(config, page, err, results[page.name].seconds, debug)
                    results[page.name].detail = "rendering failed: " + results[page.name].detail
                    results[page.name].error = f"{page.name}: rendering failed: {results[page.name].error}"
                    ready.pop(page.name)
                    has_old = (output / f"{page.name}.html").is_file()
                    plan[page.name] = "copy" if has_old else "missing"
                    broken = page.name
                    break
            if broken is None:
                break
            for page in config.pages:  # start again with the new set of pages
                _remove_rendered(staging, page.name)
            manifest.clear()
            early.forget()

        for page in config.pages:
            if plan[page.name] != "copy":
                continue
            entry = dict(old.get(page.name) or {"title": page.title, "study": page.study_name, "lang": page.lang, "file": f"{page.name}.html"})
            copy_previous(output, staging, page.name, entry)
            result = results.get(page.name)
            if result is not None and not result.ok:
                result.kept_previous = True
                entry.update(status="stale", error=_short_error(result), failed_at=now)
            manifest[page.name] = entry

        carry_over_unmanaged(output, staging, managed_names(old, config.names))
        write_manifest(staging, manifest)
        languages = _site_languages(config)
        for lang in languages:
            alternates = [
                {"label": language_name(other), "href": index_name(other, config.lang), "lang": other}
                for other in languages if other != lang
            ]
            written = write_index(
                staging, title=in_language(config.title_text or config.title, lang), lang=lang,
                studies=_index_studies(config, manifest, results, lang), file_name=index_name(lang, config.lang),
                alternates=alternates,
            )
            if lang == config.lang:
                index = written
        swap_in(staging, output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # keep the runs the site uses and the latest few of each page
    RunCache(config.build / "cache").prune(keep={e.get("key") for e in manifest.values() if e.get("key")})
    return output / index.name, True


#: A file of this name next to a page's data marks the data as made by the data generator.
GENERATOR_TRUTH = "truth.json"


def page_data_source(config: Config, job: _Job, published: Mapping | None, labels: Mapping[str, str]) -> dict:
    """What data a page ran on, as ``{"label", "kind"}`` (kind real, simulated or generated).

    The notebook's own word comes first (:func:`helpers.report.page.publish_data_source`);
    otherwise the ``data_path`` parameter (flagged "generated" when the data generator's
    ``truth.json`` sits beside it), or the embedded CDNOW data."""
    if published:
        return {"label": str(published["label"]), "kind": str(published.get("kind", "real"))}
    source = data_source_for({**job.not_passed, **job.arguments})
    if source == EMBEDDED_DATA_SOURCE:
        return {"label": labels["embedded_data_source"], "kind": "real"}
    if source == CDNOW_SAMPLE_SOURCE:
        return {"label": labels["cdnow_sample_source"], "kind": "real"}
    path = Path(os.path.expanduser(source))
    path = path if path.is_absolute() else config.root / path
    folder = path if path.is_dir() else path.parent
    return {"label": source, "kind": "generated" if (folder / GENERATOR_TRUTH).is_file() else "real"}


def _publish_downloads(config: Config, job: _Job, staging: Path) -> dict[str, str]:
    """Copy the page's ``downloads`` into ``<staging>/<page>/files/`` (published once per run,
    kept in its cache entry); returns how the page mentions each file (its path as
    written) -> its href relative to the page's folder."""
    page = job.page
    if not page.downloads:
        return {}
    from helpers.site.downloads import FOLDER, publish_csv_kept

    base, folder, sources = _download_sources(config, job)
    mentions: dict[str, str] = {}
    for source in sources:
        href = f"{FOLDER}/{source.name}"
        publish_csv_kept(source, staging / page.name / href, job.entry.folder / "downloads")
        relative = source.relative_to(folder).as_posix()
        for shown in {config.relative(source), f"{base.rstrip('/')}/{relative}", f"{Path(base).as_posix().rstrip('/')}/{relative}"}:
            mentions[shown] = href
    return mentions


def _download_sources(config: Config, job: _Job) -> tuple[str, Path, list[Path]]:
    """The page's ``output_dir`` as configured, the folder it names (the ``downloads``
    patterns are relative to it) and the files the patterns match."""
    from helpers.site.downloads import find_downloads

    page = job.page
    base = {**job.not_passed, **job.arguments}.get("output_dir")
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(f"page '{page.name}': downloads are relative to the output_dir parameter, which is empty")
    base_path = Path(os.path.expanduser(base))
    folder = base_path if base_path.is_absolute() else config.root / base_path
    return base, folder, find_downloads(folder, list(page.downloads))


def _downloads_stamp(config: Config, job: _Job) -> list:
    """Which files a page publishes, with their sizes and modification times."""
    if not job.page.downloads:
        return []
    return [(str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in _download_sources(config, job)[2]]


def _site_languages(config: Config) -> list[str]:
    """The site's language first, then every other page language, in config order."""
    languages = [config.lang]
    for page in config.pages:
        if page.lang not in languages:
            languages.append(page.lang)
    return languages


def _extra_nav(config, page, ready, available, chrome_labels, language_name):
    """For the extra pages of ``page`` (per segment, per design): a filter adding a bar
    with the link back to the index in the page's language and to the same extra page
    in the other languages."""
    from helpers.report.page import add_table_script
    from helpers.site.index import with_site_nav

    labels = chrome_labels(page.lang)
    translations = [p for p in config.pages if p.group == page.group and p.name != page.name and p.name in available]

    def add_nav(html: str, file_name: str) -> str:
        alternates = []
        for other in translations:
            job = ready.get(other.name)
            if job is not None and job.entry is not None and (job.entry.extra / file_name).is_file():
                alternates.append({"label": language_name(other.lang), "href": f"../{other.name}/{file_name}", "lang": other.lang})
        return add_table_script(with_site_nav(
            html, index_href="../" + index_name(page.lang, config.lang), index_label=labels["index"],
            alternates=alternates, nav_label=labels["site_nav"],
        ))

    return add_nav


def _render_one(config, page, job, staging, nav, render_page, RunInfo, chrome_labels, clean, data_line=None,
                extra_nav=None) -> dict:
    import nbformat

    from helpers.report.page import (
        collect_data_source,
        collect_headlines,
        data_source_text,
    )

    meta = job.entry.meta
    nb = nbformat.read(job.entry.executed, as_version=4)
    labels = chrome_labels(page.lang)
    effective = {**job.not_passed, **job.arguments}
    mentions = _publish_downloads(config, job, staging)
    if mentions:
        nav = {**nav, "downloads": [{"href": f"{page.name}/{href}", "label": Path(href).name} for href in dict.fromkeys(mentions.values())]}
    published = meta.get("data_source") or collect_data_source(nb)
    shared = data_line(effective, page.lang) if data_line is not None else None
    # the config's shared business when the page read it (unless the notebook says it simulated
    # its own data), else the notebook's own word, else the data path
    if shared and (published or {}).get("kind") != "simulated":
        source = {"label": shared, "kind": "generated"}
    else:
        source = page_data_source(config, job, published, labels)
    run_info = RunInfo.from_notebook(
        nb,
        data_source=data_source_text(source, page.lang),
        parameters=job.arguments,
        default_parameters=job.not_passed,
        extra={labels["notebook"]: config.relative(page.notebook), labels["inputs"]: _inputs_shown(config, job, labels)},
        data_hash=job.data_hash if job.inputs else "",
        cached=job.cached,
    )
    html_path = render_page(nb, staging / f"{page.name}.html", title=page.title, run_info=run_info, lang=page.lang, nav=nav)
    if mentions:
        from helpers.files import write_text_atomic
        from helpers.site.downloads import link_mentions

        html_path = Path(html_path)
        linked = link_mentions(html_path.read_text(encoding="utf-8"), {k: f"{page.name}/{v}" for k, v in mentions.items()})
        write_text_atomic(html_path, linked)
        if extra_nav is not None:
            from helpers.site.downloads import link_mentions as _link

            add_nav = extra_nav
            extra_nav = lambda html, name: _link(add_nav(html, name), mentions)  # noqa: E731
    extra = []
    if job.entry.extra.is_dir():
        extra = copy_extra_pages(sorted(job.entry.extra.glob("*.html")), staging / page.name, clean, extra_nav)
    return {
        "title": page.title,
        "label": page.short_title,
        "study": page.study_name,
        "variant": page.variant,
        "lang": page.lang,
        "file": f"{page.name}.html",
        "extra": extra,
        "headline": meta.get("headline") or collect_headlines(nb),
        "data_source": source,
        "key": job.key,
        "data_hash": job.data_hash,
        "parameters": job.arguments,
        "notebook": config.relative(page.notebook),
        "run_started": meta.get("started"),
        "status": "ok",
    }


def _inputs_shown(config: Config, job: _Job, labels: Mapping[str, str]) -> str:
    from helpers.data.datasets import MASTER_FILE
    from helpers.site.cache import embedded_data_path

    if not job.inputs:
        return labels["no_inputs"]
    shown = []
    for path in job.inputs:
        # the name first: finding the embedded file imports lifetimes (1 s) for nothing
        if path.name == MASTER_FILE and path == embedded_data_path():
            shown.append(f"{path.name} ({labels['embedded']})")
        else:
            shown.append(config.relative(path) + ("/" if path.is_dir() else ""))
    return ", ".join(shown)


def _short_error(result: PageResult) -> str:
    """What the index says about a failure: where it failed, not the message (which
    may quote values from the data); the full message is in the build output."""
    where = result.where or "before the notebook ran"
    return f"{where}; see the build output"


def _index_studies(
    config: Config, manifest: Mapping[str, Mapping], results: Mapping[str, PageResult], lang: str | None = None
) -> list[dict]:
    """The index's studies in ``lang`` (default: the site's language): each row links its
    version in that language first, with its titles and headline numbers."""
    from helpers.report.page import language_name

    lang = lang or config.lang
    studies = []
    for study in config.studies:
        rows: dict[tuple, dict] = {}
        ordered = sorted(study.pages, key=lambda p: p.lang != lang)  # this language's version first
        for page in ordered:
            entry = manifest.get(page.name)
            result = results.get(page.name)
            if entry is not None:
                status = entry.get("status", "ok")
            elif result is not None and not result.ok:
                status = "failed"
            else:
                status = "missing"
            version = {
                "lang": page.lang,
                "label": language_name(page.lang),
                "href": entry.get("file") if entry else None,
                "status": status,
                "error": (entry or {}).get("error") or (_short_error(result) if status == "failed" else ""),
                "updated": short_time((entry or {}).get("run_started")),
                "failed_at": short_time((entry or {}).get("failed_at")),
                "headline": (entry or {}).get("headline") or [],
                "data_source": (entry or {}).get("data_source"),
                "extra": (entry or {}).get("extra") or [],
            }
            row = rows.setdefault(page.group, {"title": page.short_title if page.variant else (page.study_title or study.title), "versions": []})
            if page.lang == lang:
                row["title"] = page.short_title if page.variant else (page.study_title or study.title)
            row["versions"].append(version)
        for row in rows.values():
            versions = row["versions"]
            preferred = next((v for v in versions if v["lang"] == lang and v["headline"]), None)
            row["headline"] = (preferred or next((v for v in versions if v["headline"]), {"headline": []}))["headline"]
            shown = preferred or next((v for v in versions if v.get("data_source")), None)
            row["data_source"] = (shown or {}).get("data_source")
            multi = len(versions) > 1
            row["extra"] = [
                {"label": v["label"] if multi else "", "pages": [{"title": e["title"], "href": e["file"]} for e in v["extra"]]}
                for v in versions
                if v["extra"]
            ]
        title = next((p.study_title for p in study.pages if p.lang == lang and p.study_title), study.title)
        description = in_language(study.description_text, lang) if study.description_text else study.description
        studies.append({"name": study.name, "title": title, "description": description, "rows": list(rows.values())})
    return studies


# ------------------------------------------------------------------------ summary


def _failure_table(results: Sequence[PageResult]) -> list[str]:
    failed = [r for r in results if not r.ok]
    if not failed:
        return []
    head = ("page", "notebook", "failing cell")
    rows = [(r.name, r.notebook or "-", r.where or "-") for r in failed]
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(head)]
    widths[2] = min(widths[2], 70)
    line = lambda cells: "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    lines = [line(head), line(["-" * w for w in widths])]
    for r, row in zip(failed, rows):
        lines.append(line(row))
        lines.append("      " + (r.detail or r.error).replace("\n", "\n      "))
        lines.append(
            "      -> "
            + ("the previous version stays on the site, marked stale" if r.kept_previous else "no previous version: not on the site")
        )
    return lines


# ------------------------------------------------------------------------------ CLI


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers",
        description="Tools for the retail playbook notebooks.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    b = sub.add_parser(
        "build",
        help="run the studies' notebooks and render the playbook site",
        description=(
            "Run each page's notebook with papermill (in parallel, skipping runs whose notebook, "
            "parameters, data and code are unchanged) and render the self-contained playbook site."
        ),
        epilog=(
            "Relative paths in the config resolve from the repo root (the config file's "
            "parent's parent); --output resolves from the current folder. Exit status: "
            "0 built, 1 a page failed, 2 config or command-line problem, 3 internal error."
        ),
    )
    b.add_argument("--config", type=Path, help=f"config file (default: {DEFAULT_CONFIG.as_posix()} here or in a parent folder)")
    b.add_argument(
        "--only", nargs="+", action="extend", metavar="NAME",
        help="build only these studies or pages (the site keeps the others as they were)",
    )
    b.add_argument("--output", type=Path, metavar="DIR", help="write the site here instead of the config's 'output'")
    b.add_argument(
        "--set",
        dest="assignments",
        action="append",
        default=[],
        metavar="NAME.PARAM=VALUE",
        help="override a parameter of a study (all its pages) or a page; VALUE is read as YAML (42, true, text, [a, b])",
    )
    b.add_argument(
        "--data-customers", type=int, metavar="N",
        help="generate the shared dataset (the config's data: block) with N customers instead of its own "
        "number: a quick development build of the same business",
    )
    b.add_argument("--jobs", "-j", type=int, default=DEFAULT_JOBS, metavar="N", help=f"notebooks run at the same time (default {DEFAULT_JOBS})")
    b.add_argument("--force", action="store_true", help="run every selected notebook, even when a cached run has the same inputs (and read their data again)")
    b.add_argument("--list", action="store_true", help="list the studies and pages of the config and exit")
    b.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bars (default: on a terminal)")
    b.add_argument("--debug", action="store_true", help="show tracebacks for unexpected errors")
    return parser


def _list(config: Config, out: TextIO) -> None:
    for study in config.studies:
        _say(out, f"{study.name}: {study.title}")
        for page in study.pages:
            _say(out, f"  {page.name}.html  [{page.lang}]  {page.title}  ({config.relative(page.notebook)})")


def _say(stream: TextIO, text: str = "", end: str = "\n") -> None:
    stream.write(text + end)
    stream.flush()


def run_build(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    config = load_config(args.config)
    config = apply_overrides(config, args.assignments)
    customers = getattr(args, "data_customers", None)
    if customers is not None:
        if config.data is None:
            raise ConfigError(f"--data-customers: {config.shown} has no data: block (no shared dataset to size)")
        from dataclasses import replace as _replace

        config = _replace(config, data=config.data.with_customers(customers))
    if args.only:
        config.select(args.only)
    if getattr(args, "list", False):
        _list(config, out)
        return EXIT_OK
    if args.jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {args.jobs}")
    result = build(
        config, only=args.only, output=args.output, out=out, debug=args.debug,
        jobs=args.jobs, force=args.force, progress=getattr(args, "progress", None),
    )
    failed = result.failed
    if result.index is not None:
        _say(out, f"site -> {shown_path(result.index)}")
    if failed:
        n = len(result.pages)
        _say(err, f"{len(failed)} of {n} page{'s' if n != 1 else ''} failed:")
        for line in _failure_table(result.pages):
            _say(err, line)
        if not result.swapped:
            _say(err, "No page was built, so the site was left exactly as it was.")
        return EXIT_PAGE_FAILED
    return EXIT_OK


def _skip_iri_grammars() -> None:
    """Import jsonschema (through nbformat) without rfc3987_syntax: on import it compiles
    lark grammars (about 2 s, a tenth of a cached build) for jsonschema's "iri" format
    check, which nothing in the build uses (nbformat validates with no format checker).
    jsonschema treats the module as not installed. Too late once jsonschema is imported."""
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def main(argv: Sequence[str] | None = None) -> int:
    _skip_iri_grammars()
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
        _say(sys.stderr, "interrupted; the site was left as it was")
        return 130
    except Exception as err:  # noqa: BLE001 - the command line never shows a bare traceback
        if debug:
            traceback.print_exc(file=sys.stderr)
            _say(sys.stderr, f"error: unexpected {type(err).__name__}: {err}")
        else:
            _say(sys.stderr, f"error: unexpected {type(err).__name__}: {err} (re-run with --debug for the traceback)")
        return EXIT_INTERNAL
