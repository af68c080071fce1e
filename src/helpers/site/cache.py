"""The run cache: skip a notebook run whose inputs have not changed.

A run's **key** is the SHA-256 of

- the notebook file's bytes,
- the parameters passed to it, as canonical JSON (sorted keys),
- the **data hash**: the contents of every input file the parameters point to, and
- the **code fingerprint**: the package version and the source of every module of
  ``helpers`` (a changed helper re-runs every page).

Input files are found by looking at every text value of the page's effective
parameters (configured values over notebook defaults, inside lists and mappings too):
a value that names an existing file or folder, relative to the repo root, is an input.
A file counts with its content; a folder with every file under it (relative path and
content; hidden files and ``__pycache__`` are skipped). Parameters whose name says
output (``output_dir``, ``out_path``, ``output``...) are where a run writes, not what
it reads, and are left out, as are the repo root itself and folders holding the build
or site folder. When the page reads the embedded CDNOW data (``data_path`` empty),
the embedded file inside ``lifetimes`` is the input.

A cache entry (``<build>/cache/<key>/``) holds the executed notebook, a ``meta.json``
(parameters, data hash, run time, headline numbers) and copies of the extra pages;
pages are re-rendered from it, so navigation and the index stay current. An entry is
used only while the run's output folders still exist (delete them to re-run).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from helpers.memo import package_fingerprint

#: Parameter names that are outputs of a run, never inputs.
OUTPUT_PARAMETER_RE = re.compile(r"(?:^|_)(?:output|outputs|out)(?:_|$)", re.IGNORECASE)
_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _skipped(name: str) -> bool:
    return name.startswith(".") or name == "__pycache__"


def tree_digest(folder: Path) -> str:
    """SHA-256 over every file under ``folder``: its path relative to the folder and
    its content, in sorted order. Hidden entries and ``__pycache__`` are skipped."""
    folder = Path(folder)
    digest = hashlib.sha256()
    files = []
    for current, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _skipped(d))
        for name in names:
            if not _skipped(name):
                files.append(Path(current) / name)
    for path in sorted(files, key=lambda p: p.relative_to(folder).as_posix()):
        rel = path.relative_to(folder).as_posix()
        digest.update(b"F\0" + rel.encode("utf-8") + b"\0" + file_digest(path).encode("ascii") + b"\n")
    return digest.hexdigest()


def path_digest(path: Path) -> str:
    return tree_digest(path) if Path(path).is_dir() else file_digest(path)


def is_output_parameter(name: str) -> bool:
    """``output_dir``, ``out_path``, ``outputs``...: where a run writes."""
    return bool(OUTPUT_PARAMETER_RE.search(name))


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


def _existing_path(text: str, root: Path) -> Path | None:
    text = text.strip()
    if not text or text in (".", "./") or "\0" in text or len(text) > 4096 or "\n" in text:
        return None
    try:
        path = Path(os.path.expanduser(text))
        path = path if path.is_absolute() else root / path
        if path.exists():
            return path.resolve()
    except (OSError, ValueError):
        return None
    return None


def input_paths(
    parameters: Mapping[str, Any],
    root: Path,
    *,
    exclude: Iterable[Path] = (),
) -> list[Path]:
    """Existing files and folders named by the parameters' text values (see the module
    docstring), resolved and sorted, without duplicates. ``exclude``: folders (e.g.
    the build and site folders) that neither count nor may be inside an input folder."""
    root = Path(root).resolve()
    excluded = [Path(p).resolve() for p in exclude]
    found: dict[str, Path] = {}
    for name, value in parameters.items():
        if is_output_parameter(str(name)):
            continue
        for text in _strings(value):
            path = _existing_path(text, root)
            if path is None:
                continue
            if path == root or path in root.parents:
                continue  # the whole repo (".") is not an input
            if any(path == e or e.is_relative_to(path) for e in excluded):
                continue  # an ancestor of the build or site folder
            found[str(path)] = path
    if "data_path" in parameters and not str(parameters.get("data_path") or "").strip():
        embedded = embedded_data_path()
        if embedded is not None:
            found[str(embedded)] = embedded
    return [found[k] for k in sorted(found)]


@lru_cache(maxsize=1)
def embedded_data_path() -> Path | None:
    """The CDNOW master file inside the installed ``lifetimes`` (the default data)."""
    try:
        from helpers.data.datasets import cdnow_master_path

        return Path(cdnow_master_path()).resolve()
    except Exception:  # noqa: BLE001 - no lifetimes: nothing to hash
        return None


def data_hash(paths: Iterable[Path], root: Path | None = None, digests: dict[Path, str] | None = None) -> str:
    """SHA-256 over the inputs: each path (relative to ``root`` when inside it) and its
    content digest. Empty input gives the hash of nothing. ``digests``: the content
    digests of paths read before, kept there (one build reads the shared data once for
    all its pages, not once per page; files do not change within a build)."""
    digest = hashlib.sha256()
    for path in paths:
        shown = _shown(path, root)
        if digests is None:
            content = path_digest(path)
        elif (content := digests.get(path)) is None:
            content = digests[path] = path_digest(path)
        digest.update(b"P\0" + shown.encode("utf-8") + b"\0" + content.encode("ascii") + b"\n")
    return digest.hexdigest()


def _shown(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return Path(path).resolve().relative_to(Path(root).resolve()).as_posix()
        except ValueError:
            pass
    return Path(path).as_posix()


def code_fingerprint() -> str:
    """The package version and a digest of every ``helpers`` module and data file shipped with
    it (templates are left out: pages are re-rendered anyway); see
    :func:`helpers.memo.package_fingerprint`."""
    return package_fingerprint()


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def run_key(notebook: Path, parameters: Mapping[str, Any], data: str, code: str | None = None) -> str:
    """The cache key of one run (see the module docstring)."""
    digest = hashlib.sha256()
    digest.update(b"notebook\0" + file_digest(notebook).encode() + b"\n")
    digest.update(b"parameters\0" + canonical_json(dict(parameters)).encode("utf-8") + b"\n")
    digest.update(b"data\0" + data.encode() + b"\n")
    digest.update(b"code\0" + (code if code is not None else code_fingerprint()).encode() + b"\n")
    return digest.hexdigest()


# -------------------------------------------------------------------------- store


@dataclass(frozen=True)
class Entry:
    key: str
    folder: Path

    @property
    def executed(self) -> Path:
        return self.folder / "executed.ipynb"

    @property
    def extra(self) -> Path:
        return self.folder / "extra"

    @property
    def meta(self) -> dict:
        return json.loads((self.folder / "meta.json").read_text(encoding="utf-8"))


class RunCache:
    """Cache entries under ``folder`` (``<build>/cache``), one folder per key."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def get(self, key: str, *, require: Iterable[Path] = ()) -> Entry | None:
        """The entry for ``key`` when complete and every path in ``require`` (the
        run's output folders) still exists; else None."""
        entry = Entry(key, self.folder / key)
        if not (entry.executed.is_file() and (entry.folder / "meta.json").is_file()):
            return None
        if not all(Path(p).exists() for p in require):
            return None
        try:
            os.utime(entry.folder / "meta.json")  # last used, for pruning
        except OSError:
            pass
        return entry

    def put(self, key: str, executed: Path, meta: Mapping[str, Any], extra: Iterable[Path] = ()) -> Entry:
        """Store a run: written to a temporary folder first, then renamed into place."""
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{key[:12]}-", dir=self.folder))
        try:
            shutil.copy2(executed, tmp / "executed.ipynb")
            extra = list(extra)
            if extra:
                (tmp / "extra").mkdir()
                for path in extra:
                    shutil.copy2(path, tmp / "extra" / Path(path).name)
            (tmp / "meta.json").write_text(json.dumps(dict(meta), indent=1, ensure_ascii=False, default=str), encoding="utf-8")
            target = self.folder / key
            if target.exists():
                shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return Entry(key, target)

    def prune(self, keep: Iterable[str], *, per_page: int = 3) -> None:
        """Remove entries not in ``keep`` beyond the ``per_page`` most recently used
        ones of each page, and any temporary folders left by an interrupted run."""
        if not self.folder.is_dir():
            return
        keep = set(keep)
        by_page: dict[str, list[tuple[float, Path]]] = {}
        for folder in self.folder.iterdir():
            if not folder.is_dir():
                continue
            if folder.name.startswith("."):
                if time.time() - folder.stat().st_mtime > 3600:
                    shutil.rmtree(folder, ignore_errors=True)
                continue
            meta_path = folder / "meta.json"
            try:
                page = json.loads(meta_path.read_text(encoding="utf-8")).get("page", "")
                used = meta_path.stat().st_mtime
            except (OSError, ValueError):
                shutil.rmtree(folder, ignore_errors=True)
                continue
            by_page.setdefault(page, []).append((used, folder))
        for entries in by_page.values():
            entries.sort(reverse=True)
            for _, folder in entries[per_page:]:
                if folder.name not in keep:
                    shutil.rmtree(folder, ignore_errors=True)
