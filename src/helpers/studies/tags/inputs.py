"""The tables of the tags study: read from a data folder, or generated from its core tables.

A retailer's folder holds ``transactions`` (with ``discount`` and ``promotion`` columns when
they have them), ``customers``, ``behaviour_events`` and ``customer_birthdays``. When the
folder has no events file (the committed ``data/newretail`` has none, to stay small), the
generator's tags extension (:mod:`helpers.data.generator.tags`) is run on its core
customers and transactions, seeded, and the result cached under ``build/generated/tags/<key>``
(the key hashes the core files and the extension's settings), so the page runs anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.data import events as E
from helpers.data import tables_io
from helpers.data.generator.tags import (
    TAGS_EXTENSION_VERSION,
    TagDataConfig,
    simulate_tag_data,
    write_tag_tables,
)
from helpers.data.loading import LoadResult
from helpers.errors import DataError
from helpers.memo import shared

EVENTS_FILE = "behaviour_events"
BIRTHDAYS_FILE = "customer_birthdays"
NOTEBOOK = "tags"
#: How the generated folder stores its tables; part of the cache key, so a folder written in an
#: older layout (events and transactions as CSV, twice the reading time) is generated again
#: instead of being read as it is for ever. Bump it when write_tag_tables' formats change.
CACHE_LAYOUT = 2


def _find(folder: Path, stem: str) -> Path | None:
    for ext in ("csv", "parquet", "xlsx"):
        path = folder / f"{stem}.{ext}"
        if path.exists():
            return path
    return None


@dataclass
class TagTables:
    transactions: LoadResult
    customers: tables_io.TableLoad | None
    events: tables_io.TableLoad | None
    birthdays: tables_io.TableLoad | None
    #: True when events, birthdays and promotions were generated from the core tables
    generated: bool
    folder: str

    def customers_frame(self) -> pd.DataFrame | None:
        """Customers with their birth month and day (when known)."""
        if self.customers is None:
            return None
        frame = self.customers.table
        if self.birthdays is not None:
            frame = frame.merge(self.birthdays.table, on="customer_id", how="left")
        return frame

    def quality(self) -> pd.DataFrame:
        return tables_io.quality_table({
            "transactions": self.transactions, "customers": self.customers, "behaviour_events": self.events,
            "customer_birthdays": self.birthdays,
        })

    def sources(self) -> dict:
        return {name: (None if t is None else t.source) for name, t in (
            ("transactions", self.transactions), ("customers", self.customers), ("behaviour_events", self.events),
            ("customer_birthdays", self.birthdays))}


def _key(paths: list[Path], cfg: TagDataConfig, end: str) -> str:
    digest = hashlib.sha256()
    for path in paths:  # two files
        digest.update(path.read_bytes())
    digest.update(json.dumps([cfg.to_dict(), end, TAGS_EXTENSION_VERSION], sort_keys=True).encode())
    digest.update(f"layout {CACHE_LAYOUT}".encode())
    return digest.hexdigest()[:16]


def generated_folder(data_dir: str | Path, cache_dir: str | Path, observation_end: str, seed: int = 14) -> Path:
    """The tags extension for ``data_dir``'s core tables, generated once into ``cache_dir``."""
    folder = Path(tables_io.locate(str(data_dir)))
    tx_path, cu_path = _find(folder, "transactions"), _find(folder, "customers")
    if tx_path is None or cu_path is None:
        raise DataError(
            f"the {NOTEBOOK} notebook needs transactions and customers files in the data folder to generate "
            "behaviour events from, and found none", file=str(folder),
            hint="Set data_dir to a folder with transactions.csv and customers.csv, plus behaviour_events.csv "
            "for your own events (data/README.md describes the columns).",
        )
    cfg = TagDataConfig(seed=seed)
    out = Path(cache_dir) / _key([tx_path, cu_path], cfg, observation_end)
    if (out / "truth_tags.json").exists():
        return out
    read = (lambda p: pd.read_parquet(p)) if tx_path.suffix == ".parquet" else (lambda p: pd.read_csv(p))
    customers = read(cu_path)
    transactions = read(tx_path)
    needed = {"customer_id", "order_id", "timestamp", "category", "amount", "discount", "is_return"}
    if not needed <= set(transactions.columns) or "join_date" not in customers:
        raise DataError(
            "behaviour events can only be generated for the generator's own tables "
            f"(columns {sorted(needed)} and customers.join_date)", file=str(tx_path),
            hint="For your own data put behaviour_events.csv next to transactions.csv.",
        )
    customers["join_date"] = pd.to_datetime(customers["join_date"])
    transactions["timestamp"] = pd.to_datetime(transactions["timestamp"])
    data = simulate_tag_data(customers, transactions, end=observation_end, config=cfg)
    # a folder of this process's own: the two language pages of a build may generate at the same time
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{out.name}.tmp", dir=out.parent))
    os.chmod(tmp, 0o755)  # mkdtemp makes it private; the finished folder is an ordinary one
    # events and transactions (nearly all of the rows) as Parquet: writing and reading them back
    # as CSV took most of a cold build's tags page; the tables loaded from either are the same
    write_tag_tables(data, tmp, "csv", parquet=(EVENTS_FILE, "transactions"))
    for name in ("customers", "stores"):
        src = _find(folder, name)
        if src is not None and src.suffix == ".csv":
            (tmp / src.name).write_bytes(src.read_bytes())
    try:
        os.replace(tmp, out)
    except OSError:  # another run finished first: its tables are the same
        shutil.rmtree(tmp, ignore_errors=True)
    return out


@shared(by_name=("cache_dir",))
def load_tag_tables(
    data_dir: str,
    *,
    observation_end: str,
    cache_dir: str = "build/generated/tags",
    column_map: dict | None = None,
    customers_column_map: dict | None = None,
    events_column_map: dict | None = None,
    encoding: str = "",
) -> TagTables:
    """The study's tables from ``data_dir`` (generating events, birthdays and promotions when the
    folder has no events file)."""
    folder = Path(tables_io.locate(str(data_dir)))
    if not str(data_dir).strip() or not folder.is_dir():
        raise DataError(
            f"the {NOTEBOOK} notebook needs a data folder, and {str(data_dir)!r} is not one",
            hint="Set data_dir to the folder holding transactions, customers and behaviour_events files.",
        )
    generated = _find(folder, EVENTS_FILE) is None
    source = generated_folder(folder, cache_dir, observation_end) if generated else folder
    tx_path = _find(source, "transactions")
    transactions = tables_io.load_transactions(
        str(tx_path) if tx_path else "", column_map, notebook=NOTEBOOK, encoding=encoding or None,
        observation_end=observation_end, returns_policy="drop",
    )
    cu_path = _find(source, "customers") or _find(folder, "customers")
    customers = tables_io.load_optional(
        str(cu_path) if cu_path else "", tables_io.read_customers, customers_column_map,
        observation_end=observation_end, encoding=encoding or None,
    )
    ev_path = _find(source, EVENTS_FILE)
    events = tables_io.load_optional(
        str(ev_path) if ev_path else "", E.read_events, events_column_map,
        observation_end=observation_end, encoding=encoding or None,
    )
    bd_path = _find(source, BIRTHDAYS_FILE)
    birthdays = tables_io.load_optional(str(bd_path) if bd_path else "", E.read_birthdays, None,
                                        encoding=encoding or None)
    return TagTables(transactions, customers, events, birthdays, generated, str(source))
