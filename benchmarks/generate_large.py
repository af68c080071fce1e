"""Benchmark: stream 1M customers (10M+ transaction rows) to Parquet.

    .venv/bin/python benchmarks/generate_large.py [--customers 1000000] [--chunk-customers 100000]

Writes into a temporary folder (deleted afterwards unless --keep), then prints the time,
the peak resident memory of this process (resource.getrusage) and one line for the README.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

from helpers.data.generator import GeneratorConfig, generate_to_parquet


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, KiB on Linux


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--chunk-customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", help="write into this folder and keep the files")
    args = parser.parse_args(argv)

    config = GeneratorConfig(n_customers=args.customers, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="newretail-") as tmp:
        folder = Path(args.keep or tmp)
        began = time.perf_counter()

        def progress(done: int, total: int, rows: dict) -> None:
            print(f"  {done:>9,} / {total:,} customers, {rows['transactions']:>11,} transaction rows, "
                  f"{time.perf_counter() - began:6.1f} s, peak RSS {_peak_rss_mb():,.0f} MB", flush=True)

        truth = generate_to_parquet(config, folder, chunk_customers=args.chunk_customers, progress=progress)
        seconds = time.perf_counter() - began
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        peak = _peak_rss_mb()
    counts = truth["counts"]
    print(f"customers {counts['customers']:,}; orders {counts['orders']:,}; transaction rows "
          f"{counts['transaction_rows']:,}; loyalty events {counts['loyalty_events']:,}; "
          f"tickets {counts['service_tickets']:,}")
    print(f"time {seconds:.1f} s; peak RSS {peak:,.0f} MB; Parquet size {size_mb:,.0f} MB")
    print(
        f"README: `python benchmarks/generate_large.py` streams {counts['customers']:,} customers "
        f"({counts['transaction_rows'] / 1e6:.1f}M transaction rows, {counts['loyalty_events'] / 1e6:.1f}M loyalty "
        f"events) to Parquet in {seconds:.0f} s with peak memory {peak / 1024:.1f} GB "
        f"(chunks of {args.chunk_customers:,} customers; {size_mb:,.0f} MB on disk)."
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
