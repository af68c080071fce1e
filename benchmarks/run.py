"""Benchmark suite: one command, figures against the targets of issue 7.

    .venv/bin/python benchmarks/run.py              # everything (about 10 minutes on 2 cores)
    .venv/bin/python benchmarks/run.py --only summary fit_bgnbd
    .venv/bin/python benchmarks/run.py --list

Writes ``benchmarks/results.json`` (every measurement) and ``benchmarks/RESULTS.md`` (the
table for the README, with the machine it ran on). Each case runs in a fresh Python process
so its peak memory (``ru_maxrss``) is its own. Benchmark data is generated once by the
synthetic new-retail generator (``benchmarks/generate_large.py``) into ``build/bench/``
(not in git) and reused.

Timing lives here, never in the test suite: tests check results, this script measures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = ROOT / "benchmarks"
DATA = ROOT / "build" / "bench"
GENERATED = DATA / "generated"  # 1.5M customers, ~10.1M purchase lines
CUSTOMERS = 1_500_000
SEED = 7
OBSERVATION_END = "2024-12-31"

# --------------------------------------------------------------------------- helpers


def peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


class Timer:
    """Wall seconds of a block, and the process's CPU seconds in it (``user``: the code's own
    work; ``system``: the kernel's, mostly page faults on memory the process takes new)."""

    def __enter__(self) -> "Timer":
        self.start, self._cpu = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        self.user, self.system = cpu.ru_utime - self._cpu.ru_utime, cpu.ru_stime - self._cpu.ru_stime


def ensure_data() -> Path:
    """The generated transaction table (Parquet), made once."""
    table = GENERATED / "transactions.parquet"
    if table.exists():
        return table
    DATA.mkdir(parents=True, exist_ok=True)
    script = HERE / "generate_large.py"
    print(f"generating {CUSTOMERS:,} customers into {GENERATED} ...", flush=True)
    if script.exists():
        subprocess.run(
            [sys.executable, str(script), "--customers", str(CUSTOMERS), "--seed", str(SEED), "--keep", str(GENERATED)],
            check=True,
        )
    else:  # the colleague's script is gone: call the generator directly
        from helpers.data.generator import GeneratorConfig, generate_to_parquet

        generate_to_parquet(GeneratorConfig(n_customers=CUSTOMERS, seed=SEED), GENERATED)
    return table


def purchases(n_rows: int):
    """The first ``n_rows`` purchase lines (returns excluded): customer_id, timestamp, amount."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(ensure_data(), columns=["customer_id", "timestamp", "amount", "is_return"])
    table = table.filter(pc.invert(table["is_return"])).drop(["is_return"])
    if n_rows > table.num_rows:
        raise SystemExit(f"the generated data has only {table.num_rows:,} purchase lines, not {n_rows:,}")
    return table.slice(0, n_rows)


def summary_input(n_rows: int) -> Path:
    """A Parquet file (and CSV) of exactly ``n_rows`` purchase lines, for the DuckDB path."""
    path = DATA / f"purchases_{n_rows}.parquet"
    if not path.exists():
        import pyarrow.parquet as pq

        pq.write_table(purchases(n_rows), path)
    return path


def customer_base(n_customers: int, unit: str = "W"):
    """Summary of the first ``n_customers`` generated customers (weeks, to OBSERVATION_END)."""
    import pandas as pd

    path = DATA / f"summary_{unit}.parquet"
    if not path.exists():
        from helpers.models.summary import customer_summary

        tx = purchases(purchases_count()).to_pandas()
        customer_summary(tx, OBSERVATION_END, unit).to_parquet(path)
    summary = pd.read_parquet(path)
    if n_customers > len(summary):
        raise SystemExit(f"only {len(summary):,} customers were generated")
    return summary.iloc[:n_customers]


def purchases_count() -> int:
    import pyarrow.parquet as pq

    table = pq.read_table(ensure_data(), columns=["is_return"])
    return int(table.num_rows - table["is_return"].to_numpy().sum())


def rel_diff(a: dict, b: dict) -> float:
    return max(abs(a[k] / b[k] - 1) for k in b)


# --------------------------------------------------------------------------- cases
# Each case runs in its own process and returns a JSON-able dict.


def case_summary_helper(n: int) -> dict:
    from helpers.models.summary import customer_summary

    tx = purchases(n).to_pandas()
    loaded = peak_rss_mb()
    runs, out = _best_of(SUMMARY_RUNS, lambda: customer_summary(tx))
    out.to_parquet(DATA / f"out_summary_helper_{n}.parquet")
    return {"seconds": min(runs), "first_seconds": runs[0], "peak_rss_mb": peak_rss_mb(), "rss_after_load_mb": loaded,
            "customers": len(out)}


def case_summary_lifetimes(n: int) -> dict:
    from lifetimes.utils import summary_data_from_transaction_data

    tx = purchases(n).to_pandas()
    loaded = peak_rss_mb()
    runs, out = _best_of(SUMMARY_RUNS, lambda: summary_data_from_transaction_data(
        tx, "customer_id", "timestamp", "amount", freq="D"))
    out.sort_index().to_parquet(DATA / f"out_summary_lifetimes_{n}.parquet")
    return {"seconds": min(runs), "first_seconds": runs[0], "peak_rss_mb": peak_rss_mb(), "rss_after_load_mb": loaded}


def _best_of(n: int, step) -> tuple[list[float], object]:
    """Seconds of ``n`` runs of ``step`` and its last result. The first run of a fresh process
    also maps its memory (page faults cost 0.1-1 s of system time on this VM at random), so
    the summaries report the best run and the first one beside it."""
    timers, out = _timed_runs(n, step)
    return [t.seconds for t in timers], out


def _timed_runs(n: int, step) -> tuple[list[Timer], object]:
    """The :class:`Timer` of each of ``n`` runs of ``step`` (wall and CPU time), and its last result."""
    timers = []
    for _ in range(n):
        with Timer() as t:
            out = step()
        timers.append(t)
    return timers, out


def case_summary_duckdb(n: int, memory_limit: str | None = None, fmt: str = "parquet") -> dict:
    from helpers.models.engines import summary_from_file

    path = summary_input(n)
    if fmt == "csv":
        csv = path.with_suffix(".csv")
        if not csv.exists():
            import pyarrow.csv as pacsv
            import pyarrow.parquet as pq

            pacsv.write_csv(pq.read_table(path), csv)
        path = csv
    with Timer() as t:
        out = summary_from_file(path, engine="duckdb", memory_limit=memory_limit)
    out.to_parquet(DATA / f"out_summary_duckdb_{fmt}_{n}_{memory_limit or 'default'}.parquet")
    return {"seconds": t.seconds, "peak_rss_mb": peak_rss_mb(), "input_mb": path.stat().st_size / 1e6,
            "memory_limit": memory_limit, "format": fmt}


def case_fit_lifetimes(model: str, n: int, converged: bool = False) -> dict:
    """Plain lifetimes on every customer; ``converged``: Pareto/NBD run from a fixed start to
    a tolerance of 1e-8 (lifetimes' default is a random start and Nelder-Mead to 1e-4)."""
    import numpy as np
    from lifetimes import BetaGeoFitter, ParetoNBDFitter

    base = customer_base(n)
    fitter = {"bgnbd": BetaGeoFitter, "pareto": ParetoNBDFitter}[model]()
    f, r, T = (base[c].to_numpy() for c in ("frequency", "recency", "T"))
    options = {"initial_params": np.ones(4), "tol": 1e-8, "maxiter": 20000} if converged else {}
    np.random.seed(SEED)  # lifetimes' Pareto/NBD draws its start from numpy's global generator
    with warnings.catch_warnings(), Timer() as t:
        warnings.simplefilter("ignore")
        fitter.fit(f, r, T, **options)
    params = {k: float(v) for k, v in fitter.params_.items()}
    return {"seconds": t.seconds, "params": params, "log_likelihood": _lifetimes_log_likelihood(model, params, f, r, T),
            "peak_rss_mb": peak_rss_mb()}


def _lifetimes_log_likelihood(model: str, params: dict, f, r, T) -> float:
    """The true log-likelihood at ``params``, computed by lifetimes' own functions (not timed)."""
    import numpy as np
    from lifetimes import BetaGeoFitter, ParetoNBDFitter

    values = np.array(list(params.values()))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if model == "pareto":
            return float(ParetoNBDFitter._conditional_log_likelihood(values, f, r, T).sum())
        return float(-BetaGeoFitter._negative_log_likelihood(np.log(values), f, r, T, np.ones(len(f)), 0.0) * len(f))


def case_fit_helper(model: str, n: int) -> dict:
    """The package's default: ``helpers.studies.clv.analysis.fit_purchase_model`` (collapsed rows, fast fit)."""
    from helpers.models.summary import collapse_rfm
    from helpers.studies.clv.analysis import fit_purchase_model

    base = customer_base(n)
    with Timer() as t:
        fitted = fit_purchase_model(base, model)
    f, r, T = (base[c].to_numpy() for c in ("frequency", "recency", "T"))
    return {"seconds": t.seconds, "params": fitted.params, "log_likelihood": fitted.log_likelihood,
            "log_likelihood_by_lifetimes": _lifetimes_log_likelihood(model, fitted.params, f, r, T),
            "standard_errors": fitted.standard_errors, "unique_rows": len(collapse_rfm(base)),
            "peak_rss_mb": peak_rss_mb()}


def case_clv(which: str, n: int) -> dict:
    """CLV of ``n`` customers over 12 months: the package's default or lifetimes' own routine.

    Both use the same fitted models (``helpers.studies.clv.analysis.fit_purchase_model``, Gamma-Gamma) fitted
    before the timer starts.
    """
    import numpy as np

    from helpers.models import lifetimes_adapter as la
    from helpers.studies.clv import analysis as clv

    base = customer_base(n)
    purchase = clv.fit_purchase_model(base, "bgnbd")
    spend = la.fit_gamma_gamma(base["frequency"], base["monetary_value"])
    settings = dict(months=12, monthly_discount_rate=clv.monthly_rate(0.10))
    # lifetimes counts 4.345 weeks in a month (the package: 30 days = 30/7 weeks); the
    # comparison uses lifetimes' convention so that the outputs must be equal.
    weeks_per_month = 4.345
    f, r, T, m = (base[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))
    with Timer() as t:
        if which == "helper":
            per_purchase = la.expected_spend(spend, f, m)
            values = clv.customer_lifetime_value(
                purchase, per_purchase, f, r, T, periods_per_month=weeks_per_month, **settings)
        else:
            values = la.lifetimes_clv(spend, purchase, f, r, T, m, freq="W", **settings)
    np.save(DATA / f"out_clv_{which}_{n}.npy", values)
    return {"seconds": t.seconds, "peak_rss_mb": peak_rss_mb(), "total_clv": float(np.sum(values))}


def case_loyalty() -> dict:
    script = HERE / "loyalty_sim.py"
    if not script.exists():
        return {"missing": "benchmarks/loyalty_sim.py is not in the tree (a colleague's part of issue 7)"}
    with Timer() as t:
        done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT)
    return {"seconds": t.seconds, "returncode": done.returncode, "runs": _loyalty_runs(done.stdout),
            "stdout_tail": done.stdout[-2000:], "stderr_tail": done.stderr[-2000:]}


def _loyalty_runs(stdout: str) -> list[dict]:
    """``<design>: 100,000 customers x 12 months x 200 runs, 2 worker(s): 28.8 s (...)`` lines."""
    import re

    pattern = r"^(.+?): [\d,]+ customers x \d+ months x \d+ runs, (\d+) worker\(s\): ([\d.]+) s"
    return [{"design": m.group(1), "workers": int(m.group(2)), "seconds": float(m.group(3))}
            for m in re.finditer(pattern, stdout, re.M)]


def case_site_build(force: bool = True) -> dict:
    """``python -m helpers build``: ``--force`` runs every notebook (no cached runs reused)."""
    command = [sys.executable, "-m", "helpers", "build", "--output", str(DATA / "site"), "--no-progress"]
    with Timer() as t:
        done = subprocess.run(command + (["--force"] if force else []), capture_output=True, text=True, cwd=ROOT)
    return {"seconds": t.seconds, "returncode": done.returncode, "forced": force, "stderr_tail": done.stderr[-2000:]}


# --------------------------------------------------------------------------- issue 17 cases

NOTEBOOK_CSV = DATA / "csv1m" / "transactions.csv"  # 1M customers, as the generator's CLI writes it
NOTEBOOK_PARAMS = {"calibration_end": "2024-06-30", "observation_end": "2024-12-31", "currency": "¥"}


def notebook_csv() -> Path:
    """The 1M-customer transaction CSV exactly as ``python -m helpers.data.generator`` writes it."""
    if not NOTEBOOK_CSV.exists():
        subprocess.run([sys.executable, "-m", "helpers.data.generator", "--customers", "1000000", "--seed", str(SEED),
                        "--out", str(NOTEBOOK_CSV.parent), "--format", "csv", "--quiet"], check=True, cwd=ROOT)
    return NOTEBOOK_CSV


#: Papermill runs per notebook case: the same code took 25-36 s across single runs on this
#: VM (its page faults cost 5-9 s of system time at random), so the median of three is reported,
#: with the range beside it.
NOTEBOOK_RUNS = 3


def case_notebook(name: str) -> dict:
    """``papermill notebooks/<name>.ipynb`` on the 1M-customer CSV, :data:`NOTEBOOK_RUNS` times:
    the median wall time and the range, the peak memory of the kernels, and the time of every
    code cell (papermill records it) in the median run as the step breakdown."""
    import nbformat
    import papermill

    data = notebook_csv()
    out_dir = DATA / f"nb_{name}"
    executed = DATA / f"nb_{name}.ipynb"
    runs = []
    for _ in range(NOTEBOOK_RUNS):
        with Timer() as t:
            papermill.execute_notebook(str(ROOT / "notebooks" / f"{name}.ipynb"), str(executed), cwd=str(ROOT),
                                       parameters={"data_path": str(data), "output_dir": str(out_dir),
                                                   **NOTEBOOK_PARAMS},
                                       progress_bar=False, log_output=False)
        runs.append((t.seconds, _cell_steps(nbformat.read(executed, as_version=4))))
    runs.sort(key=lambda run: run[0])
    seconds, steps = runs[len(runs) // 2]
    kernel_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"seconds": seconds, "runs_seconds": [run[0] for run in runs],
            "peak_rss_mb": max(kernel_peak, peak_rss_mb()), "input_mb": data.stat().st_size / 1e6, "steps": steps}


def _cell_steps(nb) -> list[dict]:
    """Every code cell in order, named by its opening comment (the notebooks' steps open with
    one) or else its first line of code, and its time (papermill's ``duration``)."""
    steps = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        seconds = cell.metadata.get("papermill", {}).get("duration") or 0.0
        lines = [ln.strip() for ln in cell.source.splitlines() if ln.strip()]
        code = [ln for ln in lines if not ln.startswith(("#", "from ", "import "))]
        commented = bool(lines) and lines[0].startswith("#")
        name = lines[0].lstrip("# ") if commented else (code or lines or [""])[0]
        steps.append({"cell": name[:90], "comment": commented, "seconds": float(seconds)})
    return steps


def csv_10m() -> Path:
    """10M purchase lines as a CSV with text timestamps (``YYYY-MM-DD HH:MM:SS``), for read + validate."""
    path = DATA / "purchases_10000000_text.csv"
    if not path.exists():
        import pyarrow.compute as pc
        import pyarrow.csv as pacsv

        table = purchases(10_000_000)
        stamps = pc.strftime(table["timestamp"], format="%Y-%m-%d %H:%M:%S")
        table = table.set_column(table.schema.get_field_index("timestamp"), "timestamp", stamps)
        pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
    return path


def case_read_validate(engine: str) -> dict:
    """``helpers.models.engines.load_transactions`` (the notebooks' entry point) on a 10M-row CSV."""
    from helpers.models.engines import (
        choose_engine,
        estimated_pandas_bytes,
        load_transactions,
    )

    path = csv_10m()
    with Timer() as t:
        loaded = load_transactions(path, observation_end=OBSERVATION_END, engine=engine)
    return {"seconds": t.seconds, "peak_rss_mb": peak_rss_mb(), "input_mb": path.stat().st_size / 1e6,
            "engine": choose_engine(path, engine), "estimated_pandas_mb": estimated_pandas_bytes(path) / 1e6,
            "rows_read": loaded.report.rows_read, "rows_kept": loaded.report.rows_kept}


STUDY_10M = DATA / "study10m"  # Parquet folder: the generated 1.5M customers tiled 7 times
STUDY_10M_OUT = DATA / "study10m_out"
STUDY_10M_COPIES = 7


def study_10m_data() -> Path:
    """A Parquet folder of about 10.5M customers and 73M lines, made once: the generated
    transaction table (1.5M customers, 10.45M lines, all columns) written 7 times, copy ``k``
    with ``-k`` appended to every customer id and order id so that no customers merge. One
    file per copy, processed one row group at a time (memory stays low)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    done = STUDY_10M / "_SUCCESS"
    if done.exists():
        return STUDY_10M
    STUDY_10M.mkdir(parents=True, exist_ok=True)
    source = pq.ParquetFile(ensure_data())
    for k in range(STUDY_10M_COPIES):
        target = STUDY_10M / f"part-{k}.parquet"
        tmp = target.with_suffix(".tmp")
        with pq.ParquetWriter(tmp, source.schema_arrow, compression="snappy") as writer:
            for g in range(source.num_row_groups):
                table = source.read_row_group(g)
                for name in ("customer_id", "order_id"):
                    i = table.schema.get_field_index(name)
                    tiled = pc.binary_join_element_wise(table[name], pa.scalar(f"-{k}"), "")
                    table = table.set_column(i, table.schema.field(i), tiled)
                writer.write_table(table, row_group_size=1_000_000)
        tmp.rename(target)
    done.write_text("")
    return STUDY_10M


def case_study_10m(draws: int | None = None) -> dict:
    """The CLV study as a consultant runs it on a Parquet folder of 10.5M customers (73M lines):
    DuckDB aggregates the folder out of core to one row per customer and day
    (``engines.load_transactions``, the notebooks' entry point), ``run_clv_study`` fits on that
    (collapsed statistics) with the notebooks' settings, ``write_outputs`` writes the files.
    Wall time per step; peak memory of the process (DuckDB runs in it)."""
    from helpers.models.engines import (
        choose_engine,
        input_size_bytes,
        load_transactions,
    )
    from helpers.studies.clv.analysis import ClvSettings
    from helpers.studies.clv.exports import write_outputs
    from helpers.studies.clv.study import run_clv_study
    from helpers.studies.clv.uncertainty import DEFAULT_DRAWS

    folder = study_10m_data()
    files = sorted(folder.glob("*.parquet"))
    steps, peaks = {}, {}
    engine = choose_engine(folder, "auto")  # DuckDB: the folder is far too large for pandas
    with Timer() as t:
        loaded = load_transactions(folder, observation_end=NOTEBOOK_PARAMS["observation_end"], columns=())
    steps["aggregate"], peaks["aggregate"] = t.seconds, peak_rss_mb()
    print(f"  aggregate: {t.seconds:,.1f} s, peak {peak_rss_mb():,.0f} MB", flush=True)
    tx = loaded.transactions
    settings = ClvSettings(calibration_end=NOTEBOOK_PARAMS["calibration_end"],
                           observation_end=NOTEBOOK_PARAMS["observation_end"], time_unit="W")
    draws = DEFAULT_DRAWS if draws is None else draws
    with Timer() as t:
        study = run_clv_study(tx, settings, data_quality=loaded.report.to_dict(), data_source=str(folder), draws=draws)
    steps["study"], peaks["study"] = t.seconds, peak_rss_mb()
    print(f"  study: {t.seconds:,.1f} s, peak {peak_rss_mb():,.0f} MB", flush=True)
    customer_days, rows_read, rows_kept = len(tx), loaded.report.rows_read, loaded.report.rows_kept
    del tx, loaded  # the customer-days are not needed for writing
    with Timer() as t:
        written = write_outputs(STUDY_10M_OUT, study.table, study.metrics)
    steps["write"], peaks["write"] = t.seconds, peak_rss_mb()
    return {"seconds": sum(steps.values()), "steps": steps, "peak_rss_mb": peak_rss_mb(), "peak_after_step_mb": peaks,
            "engine": engine, "files": len(files), "input_mb": input_size_bytes(folder) / 1e6,
            "rows_read": rows_read, "rows_kept": rows_kept, "customer_days": customer_days,
            "customers": len(study.table), "draws": draws,
            "clv_total": study.metrics["clv_total"], "params": study.purchase_model.params,
            "outputs_mb": {k: v.stat().st_size / 1e6 for k, v in written.items()}}


def _shuffled(n: int, ids: str):
    """``n`` purchase lines in random row order; ``ids="int"``: integer codes as read (factorised once)."""
    import numpy as np

    tx = purchases(n).to_pandas()
    if ids == "int":
        tx["customer_id"] = tx["customer_id"].factorize(sort=True)[0]
    return tx.iloc[np.random.default_rng(SEED).permutation(len(tx))].reset_index(drop=True)


#: Runs of each 10M-row summary case (ours and lifetimes'); the best is the figure.
SUMMARY_RUNS = 3


def case_summary_order(which: str, n: int, order: str, ids: str) -> dict:
    """Summary of ``n`` rows, ``order`` "sorted" (as generated) or "shuffled", ids as text or integer codes."""
    import pandas as pd

    if order == "shuffled":
        tx = _shuffled(n, ids)
    else:
        tx = purchases(n).to_pandas()
        if ids == "int":
            tx["customer_id"] = tx["customer_id"].factorize(sort=True)[0]
    # imported before the clock starts (importing lifetimes or the package is not the summary)
    from lifetimes.utils import summary_data_from_transaction_data

    from helpers.models.summary import customer_summary

    if which == "helper":
        runs, out = _best_of(SUMMARY_RUNS, lambda: customer_summary(tx))
    else:
        runs, out = _best_of(SUMMARY_RUNS, lambda: summary_data_from_transaction_data(
            tx, "customer_id", "timestamp", "amount", freq="D"))
    out = out.sort_index()
    out.index = pd.Index(out.index.astype(str), name="customer_id")
    out.to_parquet(DATA / f"out_summary_{which}_{order}_{ids}_{n}.parquet")
    return {"seconds": min(runs), "first_seconds": runs[0], "peak_rss_mb": peak_rss_mb(), "customers": len(out)}


#: Bytes of the array :func:`case_fresh_memory` fills (about what a 10M-row summary allocates).
FRESH_MEMORY_BYTES = 800 << 20


def case_fresh_memory() -> dict:
    """Seconds to fill a new numpy array of :data:`FRESH_MEMORY_BYTES` in a fresh process, the
    first time and twice more (the memory freed in between): what the machine charges for
    memory a process has not used before, apart from any package code."""
    import numpy as np

    runs = []
    for _ in range(3):
        with Timer() as t:
            filled = np.ones(FRESH_MEMORY_BYTES // 8)
        runs.append(t.seconds)
        del filled
    return {"seconds": runs[0], "again_seconds": runs[1:], "mb": FRESH_MEMORY_BYTES >> 20}


#: Customers of the table_lookup case: the linear cases' smallest and largest sizes and one between.
LOOKUP_CUSTOMERS = (100_000, 1_000_000, 10_500_000)


def case_table_lookup() -> dict:
    """No package code: nanoseconds per row, best of three, of numpy looking up a table of one
    32-bit number per customer in random row order (seven rows per customer, as the generated
    purchases have), of marking a table of one byte per customer the same way, and of a plain
    pass over the rows. What a step that touches a per-customer table once per row costs on this
    machine at each size, apart from any package code: at 100k customers the table stays in the
    CPU's cache, at 10.5M it does not."""
    import numpy as np

    rng = np.random.default_rng(SEED)
    sizes = {}
    for n in LOOKUP_CUSTOMERS:
        rows = rng.integers(0, n, 7 * n)
        table, marks, out = np.arange(n, dtype=np.int32), np.zeros(n, dtype=bool), np.empty(len(rows), dtype=np.int32)

        def per_row(step) -> float:
            return min(_best_of(3, step)[0]) / len(rows) * 1e9

        sizes[str(n)] = {"look_up": per_row(lambda: np.take(table, rows, out=out)),
                         "mark": per_row(lambda: marks.__setitem__(rows, True)),
                         "pass": per_row(lambda: np.add(rows, 1, out=rows))}
        del rows, out
    return {"ns_per_row": sizes}


def case_linear(n_customers: int) -> dict:
    """Seconds of each study step (best of :data:`LINEAR_RUNS` runs) on the first ``n_customers`` generated customers (rows shuffled),
    ids factorised once first as :func:`helpers.studies.clv.study.run_clv_study` does; above the
    1.5M generated customers, all 10.5M customers of the tiled study folder (73M lines)."""
    import numpy as np
    import pyarrow.compute as pc

    from helpers.models import lifetimes_adapter as la
    from helpers.models.summary import (
        calibration_holdout_summary,
        customer_summary,
        with_id_codes,
    )
    from helpers.studies.clv import analysis as clv

    if n_customers > 1_500_000:  # beyond the generated customers: the 10.5M of the tiled study folder
        import pyarrow.dataset as ds

        table = ds.dataset(study_10m_data(), format="parquet").to_table(
            columns=["customer_id", "timestamp", "amount"], filter=~ds.field("is_return"))
        tx = table.to_pandas()
        del table
    else:
        table = purchases(purchases_count())
        ids = table["customer_id"]
        first = pc.unique(ids).slice(0, n_customers)
        tx = table.filter(pc.is_in(ids, value_set=first)).to_pandas()
    tx = tx.iloc[np.random.default_rng(SEED).permutation(len(tx))].reset_index(drop=True)
    steps, cpu = {}, {}

    def timed(name, step):
        """The step's best of :data:`LINEAR_RUNS` runs: the first runs of a fresh process also pay
        for mapping its memory, which is not what per-customer time should measure. CPU seconds
        are kept beside it (user time is the code's work, system time the kernel's), with the
        first run's wall time."""
        timers, result = _timed_runs(LINEAR_RUNS, step)
        best = min(timers, key=lambda t: t.seconds)
        steps[name] = best.seconds
        # the kernel splits CPU time into user and system by sampling: a run of a few
        # milliseconds is repeated until the runs together take CPU_SPLIT_SECONDS
        measured, runs = best, 1
        if best.seconds < CPU_SPLIT_SECONDS:
            runs = min(50, max(1, round(CPU_SPLIT_SECONDS / max(best.seconds, 1e-3))))
            with Timer() as measured:
                for _ in range(runs):
                    step()
        cpu[name] = {"seconds": measured.seconds / runs, "user": measured.user / runs,
                     "system": measured.system / runs, "runs": runs, "first_seconds": timers[0].seconds}
        return result

    original = tx  # as run_clv_study does: factorise the ids once, then work on integer codes
    tx, _ = timed("with_id_codes", lambda: with_id_codes(original))
    del original
    summary = timed("customer_summary", lambda: customer_summary(tx, OBSERVATION_END, "W"))
    cal = timed("calibration_holdout_summary",
                lambda: calibration_holdout_summary(tx, "2024-06-30", OBSERVATION_END, "W"))
    model = timed("fit_purchase_model", lambda: clv.fit_purchase_model(cal, "bgnbd", suffix="_cal"))
    timed("cumulative_repeat_transactions",
          lambda: clv.cumulative_repeat_transactions(model, tx, "2024-06-30", OBSERVATION_END, "W"))
    spend = timed("fit_gamma_gamma", lambda: la.fit_gamma_gamma(summary["frequency"], summary["monetary_value"]))
    return {"customers": len(summary), "rows": len(tx), "steps": steps, "cpu": cpu, "seconds": sum(steps.values()),
            "peak_rss_mb": peak_rss_mb(), "spend_params": spend.params}


#: Runs of each linear step; the best is the figure. Two were not enough on this VM: at 1M
#: customers `customer_summary`'s first two runs took 0.27 s each and the runs after them 0.20 s
#: (2026-12-07), the second still paying for memory new to the process.
LINEAR_RUNS = 3

#: CPU seconds over which a linear step's user and system time are read (repeating short runs).
CPU_SPLIT_SECONDS = 0.5

#: glibc settings that keep memory freed by the process in the process (no array handed back to the
#: kernel, so no page faults when the next one is allocated): what the per-customer figures are
#: without the cost of fresh memory. The package never sets them (they hold for the whole process).
KEEP_FREED_MEMORY = {"MALLOC_MMAP_MAX_": "0", "MALLOC_TRIM_THRESHOLD_": str(64 << 30)}
KEPT_LABEL = "freed memory kept in the process: glibc `MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=64GiB`"
#: Environment variables of the cases that run with them.
CASE_ENVIRONMENT = {"linear_100k_kept": KEEP_FREED_MEMORY, "linear_10M_kept": KEEP_FREED_MEMORY}


CASES = {
    "study_10M": lambda: case_study_10m(),
    "summary_helper_1M": lambda: case_summary_helper(1_000_000),
    "summary_lifetimes_1M": lambda: case_summary_lifetimes(1_000_000),
    "summary_helper_10M": lambda: case_summary_helper(10_000_000),
    "summary_lifetimes_10M": lambda: case_summary_lifetimes(10_000_000),
    "summary_duckdb_parquet_10M": lambda: case_summary_duckdb(10_000_000),
    "summary_duckdb_parquet_10M_1GB": lambda: case_summary_duckdb(10_000_000, "1GB"),
    "summary_duckdb_csv_10M_1GB": lambda: case_summary_duckdb(10_000_000, "1GB", "csv"),
    "fit_bgnbd_lifetimes_100k": lambda: case_fit_lifetimes("bgnbd", 100_000),
    "fit_bgnbd_helper_100k": lambda: case_fit_helper("bgnbd", 100_000),
    "fit_bgnbd_lifetimes_1M": lambda: case_fit_lifetimes("bgnbd", 1_000_000),
    "fit_bgnbd_helper_1M": lambda: case_fit_helper("bgnbd", 1_000_000),
    "fit_pareto_lifetimes_100k": lambda: case_fit_lifetimes("pareto", 100_000),
    "fit_pareto_lifetimes_converged_100k": lambda: case_fit_lifetimes("pareto", 100_000, converged=True),
    "fit_pareto_helper_100k": lambda: case_fit_helper("pareto", 100_000),
    "clv_helper_1M": lambda: case_clv("helper", 1_000_000),
    "clv_lifetimes_1M": lambda: case_clv("lifetimes", 1_000_000),
    "loyalty_sim": case_loyalty,
    "read_validate_csv_10M": lambda: case_read_validate("auto"),
    "read_validate_csv_10M_duckdb": lambda: case_read_validate("duckdb"),
    "summary_order_helper_sorted_int_10M": lambda: case_summary_order("helper", 10_000_000, "sorted", "int"),
    "summary_order_helper_shuffled_int_10M": lambda: case_summary_order("helper", 10_000_000, "shuffled", "int"),
    "summary_order_helper_shuffled_text_10M": lambda: case_summary_order("helper", 10_000_000, "shuffled", "text"),
    "summary_order_helper_sorted_text_10M": lambda: case_summary_order("helper", 10_000_000, "sorted", "text"),
    "summary_order_lifetimes_sorted_int_10M": lambda: case_summary_order("lifetimes", 10_000_000, "sorted", "int"),
    "summary_order_lifetimes_shuffled_int_10M": lambda: case_summary_order("lifetimes", 10_000_000, "shuffled", "int"),
    "summary_order_lifetimes_shuffled_text_10M": lambda: case_summary_order("lifetimes", 10_000_000, "shuffled", "text"),
    "summary_order_lifetimes_sorted_text_10M": lambda: case_summary_order("lifetimes", 10_000_000, "sorted", "text"),
    "linear_100k": lambda: case_linear(100_000),
    "linear_1M": lambda: case_linear(1_000_000),
    "linear_1.5M": lambda: case_linear(1_500_000),
    "linear_10M": lambda: case_linear(10_500_000),
    "linear_100k_kept": lambda: case_linear(100_000),
    "linear_10M_kept": lambda: case_linear(10_500_000),
    "notebook_clv_1M": lambda: case_notebook("clv"),
    "notebook_segments_1M": lambda: case_notebook("segments"),
    "fresh_memory": case_fresh_memory,
    "table_lookup": case_table_lookup,
    "site_build": case_site_build,
    "site_build_cached": lambda: case_site_build(force=False),
}


# --------------------------------------------------------------------------- report


def machine() -> dict:
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?") \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    ram = next((int(l.split()[1]) / 1024**2 for l in open("/proc/meminfo") if l.startswith("MemTotal")), 0.0) \
        if Path("/proc/meminfo").exists() else 0.0
    packages = {}
    for name in ("numpy", "pandas", "scipy", "pyarrow", "lifetimes", "autograd", "duckdb", "pyspark"):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = None
    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gb": round(ram, 1), "python": platform.python_version(),
            "os": platform.platform(), "packages": packages, "load_average_at_start": list(os.getloadavg())}


def compare_outputs(results: dict) -> None:
    """Identical output checks (done here, outside the timed regions)."""
    import numpy as np
    import pandas as pd

    def same(a: Path, b: Path) -> dict:
        x, y = pd.read_parquet(a), pd.read_parquet(b)
        exact = list(x.index) == list(y.index) and all(
            np.array_equal(x[c].to_numpy(), y[c].to_numpy()) for c in ("frequency", "recency", "T"))
        money = float(np.max(np.abs(x["monetary_value"].to_numpy() - y["monetary_value"].to_numpy())
                             / np.maximum(np.abs(y["monetary_value"].to_numpy()), 1e-12))) if exact else None
        return {"identical_frequency_recency_T": exact, "max_rel_diff_monetary_value": money}

    for n in (1_000_000, 10_000_000):
        a, b = DATA / f"out_summary_helper_{n}.parquet", DATA / f"out_summary_lifetimes_{n}.parquet"
        if a.exists() and b.exists():
            results.setdefault("checks", {})[f"summary_helper_vs_lifetimes_{n}"] = same(a, b)
    for out in sorted(DATA.glob("out_summary_duckdb_*_10000000_*.parquet")):
        ref = DATA / "out_summary_helper_10000000.parquet"
        if ref.exists():
            results.setdefault("checks", {})[out.stem.replace("out_", "") + "_vs_helper"] = same(out, ref)
    for order, ids in (("shuffled", "int"), ("shuffled", "text"), ("sorted", "int"), ("sorted", "text")):
        a = DATA / f"out_summary_helper_{order}_{ids}_10000000.parquet"
        b = DATA / f"out_summary_lifetimes_{order}_{ids}_10000000.parquet"
        if a.exists() and b.exists():
            results.setdefault("checks", {})[f"summary_{order}_{ids}_10M"] = same(a, b)
    for variant in ("helper",):
        a, b = DATA / f"out_clv_{variant}_1000000.npy", DATA / "out_clv_lifetimes_1000000.npy"
        if a.exists() and b.exists():
            x, y = np.load(a), np.load(b)
            results.setdefault("checks", {})[f"clv_{variant}_vs_lifetimes_1M"] = {
                "max_rel_diff": float(np.max(np.abs(x - y) / np.maximum(np.abs(y), 1e-9)))}


def _get(results: dict, name: str, key: str = "seconds"):
    return results["cases"].get(name, {}).get(key)


def _sci(value) -> str:
    return "–" if value is None else f"{value:.1e}"


def _fmt(value, unit: str = "s") -> str:
    if value is None:
        return "–"
    return f"{value:,.1f} {unit}" if value >= 10 else f"{value:,.2f} {unit}"


def _first_runs(ours: dict, theirs: dict) -> str:
    """"first runs <ours> vs <theirs> = <ratio>x" when both cases recorded their first run, else ""."""
    if "first_seconds" not in ours or "first_seconds" not in theirs:
        return ""
    return (f"first runs {_fmt(ours['first_seconds'])} vs {_fmt(theirs['first_seconds'])} = "
            f"{theirs['first_seconds'] / ours['first_seconds']:,.1f}x")


def markdown(results: dict) -> str:
    c = results["cases"]
    m = results["machine"]
    rows = []

    def ratio(ours: str, theirs: str):
        a, b = _get(results, ours), _get(results, theirs)
        return b / a if a and b else None

    def row(what, ours, reference, ratio_value, target, met):
        mark = {True: "yes", False: "**no**", None: "–"}[met]
        rows.append(f"| {what} | {ours} | {reference} | {'–' if ratio_value is None else f'{ratio_value:,.1f}x'} "
                    f"| {target} | {mark} |")

    for n, label in ((1_000_000, "1M"), (10_000_000, "10M")):
        r = ratio(f"summary_helper_{label}", f"summary_lifetimes_{label}")
        peak = _get(results, f"summary_helper_{label}", "peak_rss_mb")
        check = results.get("checks", {}).get(f"summary_helper_vs_lifetimes_{n}", {})
        target = "≥ 20x, peak < 3 GB" if label == "10M" else "identical output"
        met = (r is not None and r >= 20 and peak is not None and peak < 3072) if label == "10M" else \
            bool(check.get("identical_frequency_recency_T"))
        first = _first_runs(c.get(f"summary_helper_{label}", {}), c.get(f"summary_lifetimes_{label}", {}))
        first = f"; best of {SUMMARY_RUNS} runs each, {first}" if first else ""
        row(f"Summary, {label} rows, helper (pandas, in memory; peak {_fmt(peak and peak / 1024, 'GB')}; "
            f"identical: {check.get('identical_frequency_recency_T', '–')}{first})",
            _fmt(_get(results, f"summary_helper_{label}")), _fmt(_get(results, f"summary_lifetimes_{label}")),
            r, target, met)
    for name, label in (("summary_duckdb_parquet_10M", "Parquet, default memory"),
                        ("summary_duckdb_parquet_10M_1GB", "Parquet, DuckDB capped at 1 GB"),
                        ("summary_duckdb_csv_10M_1GB", "CSV, DuckDB capped at 1 GB")):
        if name in c:
            peak = _get(results, name, "peak_rss_mb")
            r = ratio(name, "summary_lifetimes_10M")
            row(f"Summary, 10M rows, DuckDB from {label} (peak {_fmt(peak and peak / 1024, 'GB')})",
                _fmt(_get(results, name)), _fmt(_get(results, "summary_lifetimes_10M")), r, "≥ 20x, peak < 3 GB",
                (r is not None and r >= 20 and peak is not None and peak < 3072))
    for label in ("100k", "1M"):
        name = f"fit_bgnbd_helper_{label}"
        if name in c:
            ref = c.get(f"fit_bgnbd_lifetimes_{label}", {})
            diff = rel_diff(c[name]["params"], ref["params"]) if "params" in ref else None
            ll_gap = (c[name]["log_likelihood"] - ref["log_likelihood"]) if "log_likelihood" in ref else None
            row(f"BG/NBD fit, {label} customers, helper default (`fit_purchase_model`: collapsed rows, "
                f"`helpers.models.fast_models`); max rel. param diff {_sci(diff)}, log-likelihood minus lifetimes' "
                f"{_sci(ll_gap)}",
                _fmt(c[name]["seconds"]), _fmt(ref.get("seconds")), ratio(name, f"fit_bgnbd_lifetimes_{label}"),
                "< 5 s at 1M, params to 1e-4" if label == "1M" else "params to 1e-4",
                (diff is not None and diff < 1e-4 and (label != "1M" or c[name]["seconds"] < 5)))
    name = "fit_pareto_helper_100k"
    if name in c:
        ref = c.get("fit_pareto_lifetimes_100k", {})
        tight = c.get("fit_pareto_lifetimes_converged_100k", {})
        diff = rel_diff(c[name]["params"], ref["params"]) if "params" in ref else None
        diff_tight = rel_diff(c[name]["params"], tight["params"]) if "params" in tight else None
        gap = (c[name]["log_likelihood"] - ref["log_likelihood"]) if "log_likelihood" in ref else None
        speed = ratio(name, "fit_pareto_lifetimes_100k")
        row(f"Pareto/NBD fit, 100k customers, helper default (`helpers.models.fast_models`); max rel. param diff "
            f"{_sci(diff_tight)} vs lifetimes run to convergence ({_fmt(tight.get('seconds'))}), {_sci(diff)} vs "
            f"lifetimes' defaults; log-likelihood minus lifetimes' defaults {_sci(gap)}",
            _fmt(c[name]["seconds"]), _fmt(ref.get("seconds")), speed,
            "much faster than lifetimes, params to 1e-4",
            speed is not None and speed > 5 and diff_tight is not None and diff_tight < 1e-4)
    name = "clv_helper_1M"
    if name in c:
        check = results.get("checks", {}).get("clv_helper_vs_lifetimes_1M", {})
        diff = check.get("max_rel_diff")
        row(f"CLV, 1M customers, 12 months, helper default (`customer_lifetime_value`, BG/NBD closed form); "
            f"max rel. diff {_sci(diff)}",
            _fmt(_get(results, name)), _fmt(_get(results, "clv_lifetimes_1M")),
            ratio(name, "clv_lifetimes_1M"), "< 3 s, identical", (_get(results, name) or 99) < 3
            and diff is not None and diff < 1e-9)
    loyalty = c.get("loyalty_sim", {})
    if "missing" in loyalty:
        row("Loyalty simulation, 100k x 12 months x 200 runs", "not run", "–", None,
            f"(gap: {loyalty['missing']})", None)
    elif loyalty.get("runs"):
        for run in loyalty["runs"]:
            row(f"Loyalty simulation (`benchmarks/loyalty_sim.py`), design \"{run['design']}\", 100k customers x "
                f"12 months x 200 runs, {run['workers']} worker(s)", _fmt(run["seconds"]), "–", None, "reported",
                None)
    elif loyalty:
        row("Loyalty simulation, 100k x 12 months x 200 runs (benchmarks/loyalty_sim.py)",
            _fmt(loyalty.get("seconds")), "–", None, "reported", loyalty.get("returncode") == 0)
    for name, text in (("site_build", "every notebook run (`--force`)"),
                       ("site_build_cached", "unchanged inputs (cached runs reused)")):
        site = c.get(name, {})
        if site:
            row(f"Default site build end to end, warm environment, {text}", _fmt(site.get("seconds")), "–", None,
                "< 90 s", site.get("returncode") == 0 and site["seconds"] < 90)

    issue17 = issue17_markdown(results)
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    return "\n".join([
        "# Benchmark results",
        "",
        f"Run {results['finished']} with `python benchmarks/run.py` on {m['cpu']}, {m['cores']} cores, "
        f"{m['ram_gb']} GB RAM; Python {m['python']}; {packages}. Load average at start: "
        f"{', '.join(f'{x:.1f}' for x in m['load_average_at_start'])} (other processes on the machine slow "
        "every figure down alike).",
        "",
        "Data: the synthetic new-retail generator (1.5M customers, seed 7), purchase lines only; "
        "summaries in days, fits in weeks (days / 7) to 2024-12-31. Reference = plain lifetimes 0.11.3.",
        "",
        "| Benchmark | Measured | lifetimes | Speed-up | Target | Met |",
        "| --- | --- | --- | --- | --- | --- |",
        *rows,
        "",
        *issue17,
        "",
        _load_note(results),
        "",
    ])


def issue17_markdown(results: dict) -> list[str]:
    """Issue 17 ("fast where users wait"): every target against its measured figure."""
    c = results["cases"]
    checks = results.get("checks", {})
    rows = ["## Issue 17: the path users wait for", "",
            "| Target | Measured | Target figure | Met |", "| --- | --- | --- | --- |"]

    def row(what, measured, target, met):
        rows.append(f"| {what} | {measured} | {target} | {({True: 'yes', False: '**no**', None: '–'})[met]} |")

    def gb(mb):
        return _fmt(mb / 1024, "GB") if mb else "–"

    for name, label in (("notebook_clv_1M", "CLV"), ("notebook_segments_1M", "Segments")):
        case = c.get(name)
        if not case or "seconds" not in case:
            row(f"{label} notebook end to end, 1M customers (CSV as generated)", "not run", "< 30 s, < 2 GB", None)
            continue
        spread = case.get("runs_seconds") or [case["seconds"]]
        runs = (f"median of {len(spread)} runs, {_fmt(min(spread))} to {_fmt(max(spread))}" if len(spread) > 1
                else "one run")
        row(f"{label} notebook end to end, 1M customers (papermill, CSV as generated, {case['input_mb']:,.0f} MB)",
            f"{_fmt(case['seconds'])} ({runs}), peak {gb(case['peak_rss_mb'])}", "< 30 s, < 2 GB",
            case["seconds"] < 30 and case["peak_rss_mb"] < 2048)
    study = c.get("study_10M")
    data = (f"the generator's 1.5M customers tiled {STUDY_10M_COPIES} times with distinct ids (`-0` ... `-6`): "
            f"{STUDY_10M_COPIES} Parquet files")
    if study and "steps" in study:
        st = study["steps"]
        draws = "the default 200" if study["draws"] == 200 else f"**{study['draws']}**, not the default 200"
        row(f"10M-customer study end to end: {study['customers']:,} customers, {study['rows_read']:,} rows "
            f"({data}, {study['input_mb']:,.0f} MB); DuckDB (`engine='auto'` chose {study['engine']}) aggregates the folder out of core "
            f"to {study['customer_days']:,} customer-days (`engines.load_transactions`), `run_clv_study` (weekly, "
            f"calibration to 2024-06-30, interval draws: {draws}), `write_outputs`",
            f"{_fmt(study['seconds'])} (aggregate {_fmt(st['aggregate'])}, study {_fmt(st['study'])}, write "
            f"{_fmt(st['write'])}), peak {gb(study['peak_rss_mb'])} (one process, DuckDB included)",
            "runs; wall time and peak reported", True)
    elif study:
        row(f"10M-customer study end to end ({data})", f"failed: {study.get('error', '?')}",
            "runs; wall time and peak reported", False)
    else:
        row("10M-customer study end to end (about 70M rows, Parquet folder)", "not run",
            "runs; wall time and peak reported", None)
    for name, label in (("read_validate_csv_10M", "automatic engine choice"), ("read_validate_csv_10M_duckdb", "DuckDB")):
        case = c.get(name)
        if case and "seconds" in case:
            row(f"Read and validate a 10M-row CSV ({case['input_mb']:,.0f} MB), `engines.load_transactions`, "
                f"{label} (chose {case['engine']}; pandas estimate {case['estimated_pandas_mb'] / 1024:,.1f} GB)",
                f"{_fmt(case['seconds'])}, peak {gb(case['peak_rss_mb'])}", "< 10 s, < 1.5 GB",
                case["seconds"] < 10 and case["peak_rss_mb"] < 1536)
    for order, ids, ref, target in (
        ("shuffled", "int", "summary_order_lifetimes_shuffled_int_10M", 15),
        ("shuffled", "text", "summary_order_lifetimes_shuffled_text_10M", 15),
        ("sorted", "int", "summary_order_lifetimes_sorted_int_10M", 25),
        ("sorted", "text", "summary_order_lifetimes_sorted_text_10M", 25),
    ):
        ours, theirs = c.get(f"summary_order_helper_{order}_{ids}_10M", {}), c.get(ref, {})
        if "seconds" in ours and "seconds" in theirs:
            speed = theirs["seconds"] / ours["seconds"]
            check = checks.get(f"summary_{order}_{ids}_10M", {})
            first = _first_runs(ours, theirs)
            first = f"; {first}" if first else ""
            row(f"Summary, 10M rows, {order} rows, ids as {'integer codes' if ids == 'int' else 'text'} "
                f"(identical frequency/recency/T: {check.get('identical_frequency_recency_T', '–')}; "
                f"monetary max rel. diff {_sci(check.get('max_rel_diff_monetary_value'))})",
                f"{_fmt(ours['seconds'])} vs lifetimes {_fmt(theirs['seconds'])} = {speed:,.1f}x (best of {SUMMARY_RUNS} runs each"
                f"{first})", f"≥ {target}x", speed >= target)
    fresh = c.get("fresh_memory", {})
    if "seconds" in fresh:
        row(f"This machine, no package code: filling {fresh['mb']:,} MB of new numpy memory in a fresh process, the "
            "first time / twice more (what the first runs above also pay)",
            f"{_fmt(fresh['seconds'])} / " + " and ".join(_fmt(v) for v in fresh["again_seconds"]), "–", None)
    lookup = c.get("table_lookup", {}).get("ns_per_row")
    if lookup:
        sizes = list(lookup)
        row("This machine, no package code: ns per row of looking up a table of one 32-bit number per customer in "
            "random row order (7 rows per customer) / marking a table of one byte per customer so / a plain pass "
            f"over the rows, at {', '.join(f'{int(n):,}' for n in sizes)} customers (best of three)",
            "; ".join(" / ".join(f"{lookup[n][k]:.2f}" for k in ("look_up", "mark", "pass")) for n in sizes)
            + f" (look-up {lookup[sizes[-1]]['look_up'] / lookup[sizes[0]]['look_up']:.1f}x the first size)", "–", None)
    for variant, how in (("", ""), ("_kept", f"; {KEPT_LABEL}")):
        linear = _linear_cases(c, variant, "steps")
        for step in linear[0][1]["steps"] if linear else ():
            per = [(n, case["steps"][step] / case["customers"] * 1e6) for n, case in linear]
            spread = max(v for _, v in per) / max(min(v for _, v in per), 1e-12)
            growth = _growth([v for _, v in per])
            # "Linear" is read as "grows no faster than the data": a step whose time per customer
            # falls at scale (the fits on collapsed statistics) meets it; max/min is shown too.
            met = growth <= 1.3 if len(per) > 1 else None
            target = f"flat within 30%: at most 1.3x the {per[0][0]} figure"
            if variant:  # a setting the package does not make: shown beside the target, not judged
                target, met = f"{target} (for comparison: {'would be met' if met else 'not met either'})", None
            row(f"Linear: `{step}`, µs per customer at " + ", ".join(n for n, _ in per) +
                f" customers (rows shuffled; best of {LINEAR_RUNS} runs{how})",
                ", ".join(f"{v:,.2f}" for _, v in per) + f" (largest over the {per[0][0]} figure {growth:.2f}; "
                f"max/min {spread:.2f})", target, met)
    site = c.get("site_build", {})
    if site:
        row("Default site build, every notebook run (`python -m helpers build --force`: all 28 pages on the "
            "60k-customer brand, its generated data reused), 2 cores",
            _fmt(site.get("seconds")) + f" (run {site.get('started', '?')})", "< 2 min", site.get("seconds", 999) < 120)
    rows += _linear_cpu_rows(c)
    for name, label in (("notebook_clv_1M", "CLV"), ("notebook_segments_1M", "Segments")):
        case = c.get(name)
        if case and case.get("steps"):
            rows += ["", f"**{label} notebook at 1M customers, per step** (papermill's time per code cell in the "
                     f"median run, in the notebook's order; cells under {STEP_SHOWN} s summed in one row):", "",
                     "| Step (the cell's opening comment or first line) | Seconds |", "| --- | --- |",
                     *_step_rows(case["steps"], case["seconds"])]
    return rows


#: Sizes of the linear cases (``linear_<size>``), smallest first: growth is read against the first.
LINEAR_SIZES = ("100k", "1M", "1.5M", "10M")


def _linear_cases(c: dict, variant: str, field: str) -> list[tuple[str, dict]]:
    """(size, case) of the linear cases of ``variant`` ("" or "_kept") that recorded ``field``."""
    return [(n, c[f"linear_{n}{variant}"]) for n in LINEAR_SIZES if field in c.get(f"linear_{n}{variant}", {})]


def _growth(per_customer: list[float]) -> float:
    """The largest figure after the first over the first (1.0 for a single figure)."""
    return max(per_customer[1:]) / max(per_customer[0], 1e-12) if len(per_customer) > 1 else 1.0


def _linear_cpu_rows(c: dict) -> list[str]:
    """A table under the target rows: the linear steps' CPU time per customer in their best run,
    the code's own (user) apart from the kernel's (system: page faults on new memory), at each
    size. It shows whether time per customer grows with the work the code does or with what
    memory costs at that size."""
    linear = _linear_cases(c, "", "cpu")
    if not linear:
        return []
    head = [n for n, _ in linear]
    lines = ["", "**Linear steps: CPU time per customer, user / system µs** (in the best run; a run under "
             f"{CPU_SPLIT_SECONDS} s is repeated until the runs take that long, since the kernel splits CPU time by "
             "sampling. User time is the code's own work, system time the kernel's, mostly page faults on "
             "memory the process takes new; wall time is in the rows above):", "",
             "| Step | " + " | ".join(head) + " | User time, largest over the first |",
             "| --- | " + " | ".join("---" for _ in head) + " | --- |"]
    for step in linear[0][1]["cpu"]:
        per = [(case["cpu"][step]["user"] / case["customers"] * 1e6, case["cpu"][step]["system"] / case["customers"] * 1e6)
               for _, case in linear]
        growth = _growth([user for user, _ in per])
        lines.append(f"| `{step}` | " + " | ".join(f"{user:,.2f} / {system:,.2f}" for user, system in per)
                     + f" | {growth:.2f} |")
    return lines


#: Seconds under which a notebook cell is counted in the "other cells" row of the step breakdown.
STEP_SHOWN = 0.3


def _step_rows(steps: list[dict], wall: float) -> list[str]:
    """The step breakdown's rows: each slow cell, the other cells summed, and what the run spent
    outside the cells (starting the kernel, papermill's own work)."""
    slow = [step for step in steps if step["seconds"] >= STEP_SHOWN]
    cells = sum(step["seconds"] for step in steps)
    others = cells - sum(step["seconds"] for step in slow)

    def name(step: dict) -> str:
        cell = step["cell"].replace("|", "/")
        return cell if step.get("comment") else f"`{cell}`"

    return [*(f"| {name(step)} | {step['seconds']:,.1f} |" for step in slow),
            f"| the other {len(steps) - len(slow)} code cells (tables, figures, text) | {others:,.1f} |",
            f"| outside the cells: starting the kernel, papermill | {wall - cells:,.1f} |",
            f"| **wall time of the run** | **{wall:,.1f}** |"]


def _load_note(results: dict) -> str:
    """When the cases ran and how busy the machine was (cases may come from several runs)."""
    cases = [v for v in results["cases"].values() if "started" in v]
    if not cases:
        return ""
    loads = [v["load_at_start"] for v in cases]
    began = min(v["started"] for v in cases)
    return (f"Cases ran {began} to {results['finished']}; 1-minute load average at the start of each case "
            f"{min(loads):.1f} to {max(loads):.1f} on {results['machine']['cores']} cores.")


# --------------------------------------------------------------------------- main


def run_case(name: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = Path(fh.name)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""),
               **CASE_ENVIRONMENT.get(name, {}))
    began = time.perf_counter()
    started, load = time.strftime("%Y-%m-%d %H:%M"), os.getloadavg()[0]
    done = subprocess.run([sys.executable, __file__, "--case", name, "--out", str(out)], env=env, cwd=ROOT)
    wall = time.perf_counter() - began
    if done.returncode != 0 or out.stat().st_size == 0:
        return {"error": f"exit code {done.returncode}", "wall_seconds": wall, "started": started, "load_at_start": load}
    result = json.loads(out.read_text())
    out.unlink()
    result.update(wall_seconds=wall, started=started, load_at_start=load)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run the cases whose name starts with one of these")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--report", action="store_true", help="rewrite RESULTS.md from results.json, measuring nothing")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.list:
        print("\n".join(CASES))
        return 0
    if args.case:  # child process
        result = CASES[args.case]()
        Path(args.out).write_text(json.dumps(result, default=float))
        return 0

    results_path = HERE / "results.json"
    if args.report:
        results = json.loads(results_path.read_text())
        loyalty = results["cases"].get("loyalty_sim", {})
        if "stdout_tail" in loyalty:
            loyalty["runs"] = _loyalty_runs(loyalty["stdout_tail"])
        results_path.write_text(json.dumps(results, indent=2, default=float) + "\n")
        (HERE / "RESULTS.md").write_text(markdown(results))
        print(markdown(results))
        return 0
    names = [n for n in CASES if not args.only or any(n.startswith(p) for p in args.only)]
    previous = json.loads(results_path.read_text()) if results_path.exists() and args.only else {}
    kept = {k: v for k, v in previous.get("cases", {}).items() if k in CASES}  # cases that still exist
    results = {"machine": machine(), "cases": kept}
    ensure_data()
    for name in names:
        print(f"{name} ...", flush=True)
        results["cases"][name] = run_case(name)
        print(f"  {json.dumps(results['cases'][name], default=float)[:300]}", flush=True)
    compare_outputs(results)
    results["finished"] = time.strftime("%Y-%m-%d %H:%M")
    results_path.write_text(json.dumps(results, indent=2, default=float) + "\n")
    table = markdown(results)
    (HERE / "RESULTS.md").write_text(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
