"""Writing files so that a failure never destroys what was there before; reading YAML configs."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml

from helpers.errors import ConfigError


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` via a temporary file in the same folder and
    ``os.replace``: readers see the old file or the new one, never half of one, and a
    failure leaves the old file untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
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


def read_yaml(path: Path, what: str = "config file", shown: str | None = None) -> Any:
    """The parsed YAML of a config file; a missing, unreadable or invalid file is a one-line
    :class:`ConfigError` (``what`` names the kind of file, ``shown`` the path as messages show it)."""
    path = Path(path)
    shown = str(path) if shown is None else shown
    if not path.is_file():
        raise ConfigError(f"{what} not found: {shown}")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise ConfigError(f"{shown}: not valid YAML{at}: {err.problem}") from None
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as err:
        raise ConfigError(f"{shown}: cannot be read: {err}") from None
