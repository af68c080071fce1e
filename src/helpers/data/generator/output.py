"""Generating whole datasets, in memory or streamed to files, and ``truth.json``."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from helpers.data.generator.block import simulate_block
from helpers.data.generator.campaigns import (
    CAMPAIGN_TABLES,
    CampaignTables,
    simulate_campaigns,
    write_campaign_tables,
)
from helpers.data.generator.config import (
    BLOCK_CUSTOMERS,
    GENERATOR_VERSION,
    GeneratorConfig,
)
from helpers.data.generator.context import build_context
from helpers.data.generator.tables import (
    TABLES,
    arrow_schema,
    block_tables,
    csv_frame,
    from_pandas,
    stores_table,
    to_pandas,
)
from helpers.errors import ConfigError, HelperError

FORMATS = ("csv", "parquet")
#: Parquet row groups hold exactly this many rows (the last one fewer), whatever the chunk
#: size, so streamed files are byte-identical to files written in one go.
ROW_GROUP_ROWS = 1_000_000
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "use_dictionary": True, "version": "2.6"}
#: Default customers per streamed chunk: bounds memory (roughly 1 GB at 100k customers).
DEFAULT_CHUNK_CUSTOMERS = 100_000
TRUTH_FILE = "truth.json"


@dataclass
class NewRetailData:
    """A generated dataset: one DataFrame per table plus the ground truth."""

    customers: pd.DataFrame
    transactions: pd.DataFrame
    loyalty_events: pd.DataFrame
    service_tickets: pd.DataFrame
    campaign_exposures: pd.DataFrame
    stores: pd.DataFrame
    truth_customers: pd.DataFrame
    truth: dict = field(default_factory=dict)
    #: tables of the extensions switched on in the config (e.g. ``coupons``), by name
    extras: dict = field(default_factory=dict)
    #: optional extensions by name, each with ``write(folder, fmt) -> paths`` (written after the core)
    extensions: dict = field(default_factory=dict)

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {**{name: getattr(self, name) for name in TABLES}, **self.extras}

    def purchases(self) -> pd.DataFrame:
        """Transaction rows that are purchases (returns removed): what a CLV study fits."""
        return self.transactions[~self.transactions["is_return"]].reset_index(drop=True)


# --- the chunked engine ----------------------------------------------------------------------


def iter_chunks(config: GeneratorConfig, chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS) -> Iterator[tuple]:
    """Yield ``(tables, customers_done)`` per chunk of whole blocks, then ``(None, stats)``.

    Chunks only bound memory: every block draws from its own seed, so the rows do not
    depend on ``chunk_customers`` (rounded up to a multiple of ``BLOCK_CUSTOMERS``).
    """
    if isinstance(chunk_customers, bool) or not isinstance(chunk_customers, int) or chunk_customers < 1:
        raise ConfigError(f"chunk_customers must be a whole number >= 1, not {chunk_customers!r}.")
    ctx = build_context(config)
    n = config.n_customers
    n_blocks = math.ceil(n / BLOCK_CUSTOMERS)
    per_chunk = math.ceil(chunk_customers / BLOCK_CUSTOMERS)
    stats: dict[str, float] = {}
    first_order = first_ticket = 0
    for first_block in range(0, n_blocks, per_chunk):  # loop over chunks
        pieces: dict[str, list[pa.Table]] = {name: [] for name in TABLES if name != "stores"}
        if first_block == 0:
            pieces["stores"] = [stores_table(ctx)]
        for b in range(first_block, min(first_block + per_chunk, n_blocks)):  # and blocks
            size = min(BLOCK_CUSTOMERS, n - b * BLOCK_CUSTOMERS)
            raw = simulate_block(ctx, b, size)
            tables = block_tables(
                raw, ctx, first_customer=b * BLOCK_CUSTOMERS, first_order=first_order, first_ticket=first_ticket
            )
            first_order += raw["stats"]["orders"]
            first_ticket += raw["stats"]["service_tickets"]
            for key, value in raw["stats"].items():  # a few dozen counters
                stats[key] = stats.get(key, 0) + value
            for name, table in tables.items():
                pieces[name].append(table)
        done = min((first_block + per_chunk) * BLOCK_CUSTOMERS, n)
        yield {name: pa.concat_tables(parts) for name, parts in pieces.items()}, done
    stats["stores"] = config.n_stores
    yield None, stats


def generate(config: GeneratorConfig | None = None) -> NewRetailData:
    """Generate a dataset in memory (use :func:`generate_to_folder` for millions of customers)."""
    config = config or GeneratorConfig()
    parts: dict[str, list[pa.Table]] = {name: [] for name in TABLES}
    for tables, info in iter_chunks(config, chunk_customers=max(config.n_customers, 1)):
        if tables is None:
            stats = info
            break
        for name, table in tables.items():
            parts[name].append(table)
    frames = {name: to_pandas(name, pa.concat_tables(p)) for name, p in parts.items()}
    data = NewRetailData(**frames, truth=build_truth(config, stats))
    if config.campaigns:
        extra = simulate_campaigns(data.customers, data.transactions, data.stores, config.seed, end=config.end)
        data.extras, data.truth["campaigns"] = extra.tables, extra.truth
    if config.community:
        from helpers.data.generator.community import from_generated

        community_tables, data.truth["community"] = from_generated(data)
        data.extras.update(community_tables)
    if config.tags_extension:
        from helpers.data.generator.tags import extend

        extend(data, config)
    return data


# --- writing ---------------------------------------------------------------------------------


class _Writer:
    """Appends tables to one file per table: CSV with fixed formatting, or Parquet in
    fixed-size row groups with fixed writer settings (both byte-deterministic)."""

    def __init__(self, folder: Path, fmt: str) -> None:
        if fmt not in FORMATS:
            raise ConfigError(f"format {fmt!r} is not supported; use one of {list(FORMATS)}.")
        self.folder, self.fmt = folder, fmt
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HelperError(f"cannot create the output folder {folder}: {exc.strerror or exc}") from exc
        self.paths = {name: folder / f"{name}.{fmt}" for name in TABLES}
        self._parquet: dict[str, pq.ParquetWriter] = {}
        self._pending: dict[str, list[pa.Table]] = {name: [] for name in TABLES}
        self._started: set[str] = set()

    def add(self, name: str, table: pa.Table) -> None:
        if self.fmt == "csv":
            self._write_csv(name, table)
            return
        self._pending[name].append(table)
        rows = sum(t.num_rows for t in self._pending[name])
        if rows >= ROW_GROUP_ROWS:
            merged = pa.concat_tables(self._pending[name])
            full = (rows // ROW_GROUP_ROWS) * ROW_GROUP_ROWS
            for start in range(0, full, ROW_GROUP_ROWS):  # a few row groups
                self._write_group(name, merged.slice(start, ROW_GROUP_ROWS))
            self._pending[name] = [merged.slice(full)]

    def _write_group(self, name: str, table: pa.Table) -> None:
        # contiguous arrays, so page layout cannot depend on how the rows were chunked
        self._parquet_writer(name).write_table(table.combine_chunks(), ROW_GROUP_ROWS)

    def _parquet_writer(self, name: str) -> pq.ParquetWriter:
        if name not in self._parquet:
            self._parquet[name] = pq.ParquetWriter(self.paths[name], arrow_schema(name), **PARQUET_OPTIONS)
        return self._parquet[name]

    def _write_csv(self, name: str, table: pa.Table) -> None:
        first = name not in self._started
        self._started.add(name)
        frame = csv_frame(name, to_pandas(name, table))
        frame.to_csv(
            self.paths[name], mode="w" if first else "a", header=first, index=False, float_format="%.2f",
            lineterminator="\n", encoding="utf-8",
        )

    def close(self) -> None:
        for name in TABLES:  # seven tables
            if self.fmt == "csv":
                if name not in self._started:
                    self._write_csv(name, arrow_schema(name).empty_table())
                continue
            rest = pa.concat_tables(self._pending[name]) if self._pending[name] else arrow_schema(name).empty_table()
            if rest.num_rows or name not in self._parquet:
                self._write_group(name, rest)
            self._parquet[name].close()


def _write_truth(folder: Path, truth: dict) -> None:
    text = json.dumps(truth, indent=2, ensure_ascii=False) + "\n"
    (folder / TRUTH_FILE).write_text(text, encoding="utf-8")


def write(data: NewRetailData, folder: str | os.PathLike, fmt: str = "csv") -> dict[str, Path]:
    """Write every table of ``data`` and ``truth.json`` into ``folder``; returns the paths."""
    writer = _Writer(Path(folder), fmt)
    try:
        for name in TABLES:
            writer.add(name, from_pandas(name, getattr(data, name)))
    finally:
        writer.close()
    campaign = {k: v for k, v in data.extras.items() if k in CAMPAIGN_TABLES}
    others = {k: v for k, v in data.extras.items() if k not in CAMPAIGN_TABLES}
    extra = {name: Path(folder) / f"{name}.{fmt}" for name in others}
    for name, frame in others.items():  # other extension tables: plain pandas writers
        if fmt == "csv":
            frame.to_csv(extra[name], index=False, float_format="%.2f", lineterminator="\n", encoding="utf-8")
        else:
            frame.to_parquet(extra[name], index=False)
    writer.paths.update(extra)
    _write_truth(Path(folder), data.truth)
    extra = write_campaign_tables(CampaignTables(campaign), folder) if campaign else {}
    extra.update({k: v for ext in data.extensions.values() for k, v in ext.write(Path(folder), fmt).items()})
    return {**writer.paths, **{k: Path(v) for k, v in extra.items()}, "truth": Path(folder) / TRUTH_FILE}


def generate_to_folder(
    config: GeneratorConfig,
    folder: str | os.PathLike,
    fmt: str = "parquet",
    chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS,
    progress: Callable[[int, int, dict], None] | None = None,
) -> dict:
    """Generate chunk by chunk straight to files (bounded memory); returns the truth dict.

    The files are byte-identical to ``write(generate(config), folder, fmt)`` whatever
    ``chunk_customers`` is. ``progress(customers_done, n_customers, rows_written)`` is called
    after each chunk.
    """
    if config.campaigns or config.community or config.tags_extension:
        raise ConfigError("the campaign, community and tags extensions are made in memory: "
                          "use write(generate(config), folder).")
    writer = _Writer(Path(folder), fmt)
    rows: dict[str, int] = {name: 0 for name in TABLES}
    try:
        for tables, info in iter_chunks(config, chunk_customers):
            if tables is None:
                stats = info
                break
            for name, table in tables.items():
                writer.add(name, table)
                rows[name] += table.num_rows
            if progress is not None:
                progress(info, config.n_customers, dict(rows))
    finally:
        writer.close()
    truth = build_truth(config, stats)
    _write_truth(Path(folder), truth)
    return truth


def generate_to_parquet(
    config: GeneratorConfig, folder: str | os.PathLike, chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS,
    progress: Callable[[int, int, dict], None] | None = None,
) -> dict:
    """Stream a (large) dataset to Parquet files in ``folder``; see :func:`generate_to_folder`."""
    return generate_to_folder(config, folder, "parquet", chunk_customers, progress)


# --- truth.json ------------------------------------------------------------------------------


def _r(x: float, digits: int = 6) -> float:
    return float(round(x, digits))


def build_truth(config: GeneratorConfig, s: dict) -> dict:
    c = config
    n_pilot, n_treated = s["pilot_customers"], s["pilot_treated"]
    n_control = n_pilot - n_treated
    tickets = max(s["service_tickets"], 1)
    linked = s["tickets_churn_linked"]
    other = s["service_tickets"] - linked
    return {
        "generator": "helpers.data.generator",
        "generator_version": GENERATOR_VERSION,
        "seed": c.seed,
        "block_customers": BLOCK_CUSTOMERS,
        "config": c.to_dict(),
        "purchase_model": {
            "model": "BG/NBD", "time_unit": "day", "r": c.r, "alpha": c.alpha, "a": c.a, "b": c.b,
            "mean_purchase_rate_per_day": _r(c.r / c.alpha, 8),
            "mean_dropout_probability": _r(c.a / (c.a + c.b)),
            "first_purchase": "the join date; repeat purchases follow on later days",
        },
        "spend_model": {
            "model": "Gamma-Gamma", "unit": "CNY per purchase day (net paid, before returns)",
            "p": c.p, "q": c.q, "v": c.v,
            "mean_spend_per_purchase_day": _r(c.p * c.v / (c.q - 1)) if c.q > 1 else None,
        },
        "pilot": {
            "campaign_id": c.campaign_id,
            "mechanism": "treated customers spend (1 + uplift) times as much per purchase day in the post "
                         "period; purchase frequency, and so conversion, is not affected",
            "relative_uplift_spend_per_purchase_day": c.pilot_uplift,
            "true_effect_on_conversion": 0.0,
            "customers": n_pilot, "treatment": n_treated, "control": n_control,
            "sample_average_treatment_effect_cny": _r((s["pilot_y1_cents"] - s["pilot_y0_cents"]) / max(n_pilot, 1) / 100, 4),
            "average_treatment_effect_on_treated_cny": _r(
                (s["pilot_treated_y1_cents"] - s["pilot_treated_y0_cents"]) / max(n_treated, 1) / 100, 4
            ),
            "mean_outcome_without_treatment_cny": _r(s["pilot_y0_cents"] / max(n_pilot, 1) / 100, 4),
            "purchase_days_uplifted": s["pilot_uplifted_purchase_days"],
            "conversion_rate_treatment": _r(s["pilot_converted_treated"] / max(n_treated, 1)),
            "conversion_rate_control": _r(s["pilot_converted_control"] / max(n_control, 1)),
            "pre_period": f"the {c.pilot_window_days} days before the exposure day",
            "post_period": f"the {c.pilot_window_days} days after the exposure day (the exposure day itself is in neither)",
        },
        "service": {
            "response_sla_hours": c.response_sla_hours, "resolution_sla_hours": c.resolution_sla_hours,
            "share_response_breached": _r(s["tickets_response_breach"] / tickets),
            "share_resolution_breached": _r(s["tickets_resolution_breach"] / tickets),
            "churn_link": f"tickets on a churning customer's final purchase are handled {c.churn_ticket_slowdown}x slower",
            "share_breached_churn_linked": _r(s["tickets_churn_linked_breached"] / max(linked, 1)),
            "share_breached_other": _r(s["tickets_other_breached"] / max(other, 1)),
            "open_at_end": s["tickets_open_at_end"],
        },
        "loyalty": {
            "points_credited": s["points_credited"], "points_redeemed": s["points_redeemed"],
            "points_expired": s["points_expired"], "tier_changes": s["tier_changes"],
            "tier_at_end": {t: s[f"end_tier_{t}"] for t in ("bronze", "silver", "gold")},
        },
        "counts": {
            "customers": s["customers"], "stores": s["stores"], "transaction_rows": s["transaction_rows"],
            "orders": s["orders"], "order_lines": s["order_lines"], "returns": s["returns"],
            "purchase_days": s["purchase_days"], "loyalty_events": s["loyalty_events"],
            "service_tickets": s["service_tickets"], "campaign_exposures": n_pilot,
        },
        "realised": {
            "alive_at_end": s["alive_at_end"],
            "repeat_purchases_in_process": s["repeat_purchases_process"],
            "repeat_purchases_moved_to_next_free_day": s["repeat_purchases_moved"],
            "repeat_purchases_dropped_past_window": s["repeat_purchases_dropped"],
        },
    }
