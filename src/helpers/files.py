"""Writing files so that a failure never destroys what was there before; reading YAML configs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from helpers.errors import ConfigError


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same folder and
    ``os.replace``: readers see the old file or the new one, never half of one, and a
    failure leaves the old file untouched."""
    return write_bytes_atomic(path, [text.encode("utf-8")])


def write_bytes_atomic(path: Path, pieces: Iterable[bytes | memoryview]) -> Path:
    """Write ``pieces`` one after another to ``path``, atomically as :func:`write_text_atomic`
    does: large text can be written piece by piece, without one string of all of it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            for piece in pieces:
                fh.write(piece)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return path


# ------------------------------------------------------------------ the project folder

#: Environment variable naming the project folder explicitly (overrides the search).
PROJECT_ENV = "HELPERS_PROJECT_ROOT"
#: What marks the project folder: the study config folder or the package's project file.
_PROJECT_MARKERS = ("playbooks", "pyproject.toml")


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The project folder: ``$HELPERS_PROJECT_ROOT`` when set, else the nearest of
    ``start`` (default: the working folder) and its parents that holds a ``playbooks/``
    folder or a ``pyproject.toml``, else ``start`` itself.

    JupyterLab starts each kernel in the notebook's folder (``notebooks/``); the project
    folder is its parent, where ``playbooks/``, ``data/`` and ``build/`` live."""
    explicit = os.environ.get(PROJECT_ENV, "").strip()
    if explicit:
        return Path(explicit).resolve()
    here = Path(start if start is not None else os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if any((folder / marker).exists() for marker in _PROJECT_MARKERS):
            return folder
    return here


def project_path(path: str | os.PathLike[str], *more: str | os.PathLike[str]) -> Path:
    """``path`` (joined with ``more``) taken from the project folder (:func:`project_root`)
    when relative; an absolute path is returned as it is."""
    joined = Path(path, *more)
    return joined if joined.is_absolute() else project_root() / joined


def enter_project() -> Path:
    """Make the project folder the working folder and return it.

    Notebooks call it first, so that relative paths in their parameters (data files,
    ``playbooks/segment_map.yaml``, ``playbooks/designs/*.yaml``) and their outputs
    (``build/outputs/...``) mean the same whether the kernel was started in the project
    folder (the build, ``python -m helpers run``, papermill from the project) or in
    ``notebooks/`` (JupyterLab). A no-op when the working folder is the project folder."""
    root = project_root()
    if Path.cwd().resolve() != root:
        os.chdir(root)
    return root


#: libyaml's parser when PyYAML was built with it: the same values as ``yaml.SafeLoader``, about
#: ten times faster (every page reads the string catalogs, 0.5-1 s with the pure-Python parser).
_FAST_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml_text(text: str) -> Any:
    """``yaml.safe_load(text)``, parsed by libyaml when available. Invalid YAML is parsed again by
    the pure-Python parser, so errors (and their messages) are exactly ``yaml.safe_load``'s."""
    try:
        return yaml.load(text, Loader=_FAST_SAFE_LOADER)  # noqa: S506 - a safe loader
    except yaml.YAMLError:
        return yaml.safe_load(text)


def read_yaml(path: Path, what: str = "config file", shown: str | None = None) -> Any:
    """The parsed YAML of a config file; a missing, unreadable or invalid file is a one-line
    :class:`ConfigError` (``what`` names the kind of file, ``shown`` the path as messages show it)."""
    path = Path(path)
    shown = str(path) if shown is None else shown
    if not path.is_file():
        raise ConfigError(f"{what} not found: {shown}")
    try:
        return load_yaml_text(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{shown}: not valid YAML{at}: {err.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{shown}: cannot be read: {err}") from None
