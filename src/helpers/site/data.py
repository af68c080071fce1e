"""The site's shared dataset: one generated business every page runs on.

The ``data:`` block of ``playbooks/playbooks.yaml`` names the dataset and holds the
settings of :mod:`helpers.data.generator` (any :class:`GeneratorConfig` field; tables
other developers add behind flags are switched on here too)::

    data:
      name: {en: Xianlin Market (generated brand), zh-CN: 鲜邻超市（生成数据）}
      folder: build/data/brand          # the tables and truth.json are written here
      generator: {seed: 2025, n_customers: 60000, start: "2023-01-01", end: "2025-06-30"}

Before any page runs, the build calls :func:`ensure_data`: the data are generated from
the seed into ``folder`` (a few seconds per 10k customers) unless the folder already
holds data made by the same settings and the same generator version (a stamp file
records both), so a warm build does not regenerate. Pages refer to the folder as
``{data}`` in their parameters; :func:`describe` is the data line of page headers and
index cards (name, generated, date window, customers).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from helpers.errors import ConfigError, HelperError

#: stamp written next to the generated tables: the key of the settings that made them
STAMP_FILE = ".generated.json"
DATA_KEYS = {"name", "folder", "generator", "format"}
FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class DataSpec:
    """The ``data:`` block: what the shared dataset is and how to make it."""

    name: str | dict  #: text or {language: text}
    folder: str  #: relative to the repo root (posix), or absolute
    generator: dict = field(default_factory=dict)  #: GeneratorConfig settings
    format: str = "csv"

    def config(self):
        """The validated :class:`GeneratorConfig`."""
        from helpers.data.generator import GeneratorConfig

        return GeneratorConfig.from_dict(self.generator)

    def with_customers(self, n: int) -> "DataSpec":
        """The same business with ``n`` customers (quick development builds)."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 100:
            raise ConfigError(f"--data-customers must be a whole number >= 100, not {n!r}")
        spec = replace(self, generator={**self.generator, "n_customers": n})
        spec.config()
        return spec

    def key(self) -> str:
        """Changes whenever the data would: settings, file format, generator version."""
        from helpers.data.generator import BLOCK_CUSTOMERS, GENERATOR_VERSION

        payload = {
            "config": self.config().to_dict(),
            "format": self.format,
            "generator_version": GENERATOR_VERSION,
            "block_customers": BLOCK_CUSTOMERS,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True).encode("utf-8")).hexdigest()[:16]

    def path(self, root: Path) -> Path:
        path = Path(os.path.expanduser(self.folder))
        return path if path.is_absolute() else Path(root) / path


def parse_data_spec(raw: Any, where: str) -> DataSpec:
    """Validate the ``data:`` block; every problem is a ConfigError naming ``where``."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping with keys {', '.join(sorted(DATA_KEYS))}")
    unknown = sorted(set(map(str, raw)) - DATA_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key {', '.join(map(repr, unknown))} (allowed: {', '.join(sorted(DATA_KEYS))})")
    name = raw.get("name")
    if not (isinstance(name, str) and name.strip()) and not (
        isinstance(name, dict) and name and all(isinstance(v, str) and v.strip() for v in name.values())
    ):
        raise ConfigError(f"{where}: 'name' must be text or {{en: ..., zh-CN: ...}}")
    folder = raw.get("folder")
    if not isinstance(folder, str) or not folder.strip():
        raise ConfigError(f"{where}: 'folder' must be a folder path, e.g. build/data/brand")
    folder = PurePosixPath(folder.strip().replace("\\", "/")).as_posix()
    generator = raw.get("generator") or {}
    if not isinstance(generator, dict):
        raise ConfigError(f"{where}: 'generator' must be a mapping of generator settings (see data/README.md)")
    fmt = raw.get("format", "csv")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: 'format' must be one of {', '.join(FORMATS)}, not {fmt!r}")
    generator = {str(k): (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in generator.items()}
    spec = DataSpec(name=name, folder=folder, generator=generator, format=fmt)
    try:
        spec.config()
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    except TypeError as err:  # a mistyped value the dataclass refused
        raise ConfigError(f"{where}: generator settings: {err}") from None
    return spec


def read_stamp(folder: Path) -> dict | None:
    try:
        stamp = json.loads((Path(folder) / STAMP_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return stamp if isinstance(stamp, dict) else None


def is_current(spec: DataSpec, folder: Path) -> bool:
    """True when ``folder`` holds complete data made by ``spec``'s settings."""
    from helpers.data.generator import TABLES
    from helpers.data.generator.output import TRUTH_FILE

    stamp = read_stamp(folder)
    if stamp is None or stamp.get("key") != spec.key():
        return False
    return (folder / TRUTH_FILE).is_file() and all((folder / f"{t}.{spec.format}").is_file() for t in TABLES)


def ensure_data(spec: DataSpec, root: Path, say: Callable[[str], None] | None = None) -> tuple[Path, dict, bool]:
    """Make sure the shared dataset exists and is current; returns (folder, truth, generated).

    Generates into a temporary folder next to the target and swaps it in, so an
    interrupted run never leaves half a dataset that looks current."""
    import time

    from helpers.data.generator import generate_to_folder
    from helpers.data.generator.output import TRUTH_FILE

    folder = spec.path(root)
    if is_current(spec, folder):
        return folder, json.loads((folder / TRUTH_FILE).read_text(encoding="utf-8")), False
    config = spec.config()
    say = say or (lambda text: None)
    say(f"generating the shared data: {config.n_customers:,} customers (seed {config.seed}, "
        f"{config.start} .. {config.end}) into {spec.folder} …")
    began = time.perf_counter()
    tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        truth = generate_to_folder(config, tmp, spec.format)
        (tmp / STAMP_FILE).write_text(
            json.dumps({"key": spec.key(), "config": config.to_dict(), "format": spec.format}, indent=1),
            encoding="utf-8",
        )
        if folder.exists():
            shutil.rmtree(folder)
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(folder)
    except HelperError:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    except OSError as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ConfigError(f"cannot write the shared data to {folder}: {err.strerror or err}") from None
    say(f"shared data ready in {time.perf_counter() - began:.1f} s")
    return folder, truth, True


def describe(spec: DataSpec, truth: Mapping[str, Any] | None, lang: str = "en") -> str:
    """One line for page headers and index cards: name, generated, window, customers."""
    from helpers.report.i18n import in_language
    from helpers.report.page import chrome_labels

    config = spec.config()
    customers = (truth or {}).get("counts", {}).get("customers", config.n_customers)
    return chrome_labels(lang)["data_line_generated"].format(
        name=in_language(spec.name, lang), start=config.start, end=config.end,
        customers=f"{int(customers):,}", seed=config.seed,
    )
