"""Benchmark: the loyalty simulation at the size issue 5 asks for (100k customers x 12 months x 200 runs).

    .venv/bin/python benchmarks/loyalty_sim.py                       # tiered design, 1 and 2 workers
    .venv/bin/python benchmarks/loyalty_sim.py --designs all --workers 2
    .venv/bin/python benchmarks/loyalty_sim.py --customers 20000 --runs 50   # a quick look

The base is the CDNOW master data (models fitted on its 23,570 customers) resampled with
replacement to ``--customers`` customers, so rates and spends have the real
distribution. Prints, per design and worker count, the simulation time (both arms,
every rule, all runs), cells per second, the peak resident memory of this process
(``ru_maxrss``, worker processes not included) and the load average before the run (the
machine may be shared), then one line for the README.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from helpers.data.loading import load_default_transactions
from helpers.models import lifetimes_adapter as la
from helpers.models.summary import customer_summary
from helpers.studies.clv import analysis as clv
from helpers.studies.loyalty import SimSettings, load_designs, simulate
from helpers.studies.loyalty.base import build_base

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = sorted((ROOT / "playbooks" / "designs").glob("*.yaml"))


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def resampled_base(customers: int, seed: int):
    """CDNOW models, and ``customers`` customers drawn with replacement from CDNOW's histories."""
    full = customer_summary(load_default_transactions().transactions, "1998-06-30", "W")
    purchase = clv.fit_purchase_model(full, "bgnbd")
    spend = la.fit_gamma_gamma(full["frequency"], full["monetary_value"])
    rng = np.random.default_rng(seed)
    rows = full.iloc[rng.integers(0, len(full), size=customers)].copy()
    rows.index = pd.Index([f"B{i:07d}" for i in range(customers)], name="customer_id")
    return build_base(rows, purchase, spend, time_unit="W")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--designs", default="tiered", help="a design file stem, or 'all'")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    began = time.perf_counter()
    base = resampled_base(args.customers, args.seed)
    print(f"base: {base.n:,} customers (CDNOW histories resampled) in {time.perf_counter() - began:.1f} s")
    designs = load_designs(DESIGNS if args.designs == "all" else [ROOT / "playbooks" / "designs" / f"{args.designs}.yaml"])
    cells = args.customers * args.runs
    lines = []
    for design in designs:
        for workers in args.workers:
            load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
            settings = SimSettings(horizon_months=args.months, runs=args.runs, seed=args.seed, workers=workers)
            start = time.perf_counter()
            sim = simulate(design, base, settings)
            seconds = time.perf_counter() - start
            inc = (sim.monthly["revenue_design"] - sim.monthly["revenue_base"]).sum(1).mean()
            print(
                f"{design.name}: {args.customers:,} customers x {args.months} months x {args.runs} runs, "
                f"{workers} worker(s): {seconds:.1f} s ({cells * args.months / seconds / 1e6:.1f}M customer-months/s), "
                f"peak RSS {_peak_rss_mb():,.0f} MB, load before {load:.1f}; mean incremental revenue {inc:,.0f}"
            )
            lines.append(f"| {design.name} | {args.customers:,} x {args.months} x {args.runs} | {workers} | {seconds:.0f} s |")
    print("\n| Design | Customers x months x runs | Workers | Time |\n| --- | --- | --- | --- |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
