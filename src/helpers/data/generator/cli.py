"""Command line: ``python -m helpers.data.generator --customers 5000 --seed 7 --out data/newretail``.

Streams the dataset to ``--out`` chunk by chunk (memory stays bounded for millions of
customers) and prints progress. A problem with the settings or the output folder is
printed as one plain message and the exit status is 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from helpers.data.generator.config import SOURCE, GeneratorConfig
from helpers.data.generator.output import (
    DEFAULT_CHUNK_CUSTOMERS,
    FORMATS,
    TRUTH_FILE,
    generate,
    generate_to_folder,
    write,
)
from helpers.data.generator.tables import TABLES
from helpers.errors import ConfigError, HelperError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m helpers.data.generator",
        description="Generate a synthetic new-retail dataset with known ground truth (truth.json).",
    )
    parser.add_argument("--out", required=True, help="folder to write the tables and truth.json into")
    parser.add_argument("--customers", type=int, help=f"number of customers (default {GeneratorConfig.model_fields['n_customers'].default})")
    parser.add_argument("--seed", type=int, help=f"random seed (default {GeneratorConfig.model_fields['seed'].default})")
    parser.add_argument("--start", help=f"first day, YYYY-MM-DD (default {GeneratorConfig.model_fields['start'].default})")
    parser.add_argument("--end", help=f"last day, YYYY-MM-DD (default {GeneratorConfig.model_fields['end'].default})")
    parser.add_argument("--format", choices=FORMATS, default="csv", help="file format (default csv)")
    parser.add_argument("--config", help="JSON file of generator settings (a truth.json's 'config' works too)")
    parser.add_argument(
        "--chunk-customers", type=int, default=DEFAULT_CHUNK_CUSTOMERS,
        help=f"customers held in memory at once (default {DEFAULT_CHUNK_CUSTOMERS:,}); does not change the data",
    )
    parser.add_argument("--no-pilot", action="store_true", help="make no pilot (A/B test); needed for short windows")
    parser.add_argument("--community", action="store_true", help="also write the community tables (made in memory)")
    parser.add_argument("--quiet", action="store_true", help="print nothing but errors")
    return parser


def _load_config(args: argparse.Namespace) -> GeneratorConfig:
    values: dict = {}
    if args.config:
        path = Path(args.config)
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path}: is not valid JSON (line {exc.lineno}: {exc.msg}).") from exc
        if isinstance(loaded, dict) and isinstance(loaded.get("config"), dict):
            loaded = loaded["config"]  # a truth.json
        if not isinstance(loaded, dict):
            raise ConfigError(f"{path}: must hold a JSON object of generator settings.")
        values.update(loaded)
    for key, value in (("n_customers", args.customers), ("seed", args.seed), ("start", args.start), ("end", args.end)):
        if value is not None:
            values[key] = value
    if args.no_pilot:
        values["pilot_share"] = 0.0
    if args.community:
        values["community"] = True
    return GeneratorConfig.from_dict(values, str(args.config) if args.config else SOURCE)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    began = time.perf_counter()

    def progress(done: int, total: int, rows: dict) -> None:
        say(
            f"  {done:,} / {total:,} customers ({100 * done / total:.0f}%), "
            f"{rows['transactions']:,} transaction rows, {time.perf_counter() - began:.1f} s"
        )

    try:
        config = _load_config(args)
        out = Path(args.out)
        say(f"Generating {config.n_customers:,} customers (seed {config.seed}, {config.start} .. {config.end}) "
            f"into {out} as {args.format}")
        if config.community:  # the community tables need every customer's data at once
            data = generate(config)
            write(data, out, args.format)
            truth = data.truth
        else:
            truth = generate_to_folder(config, out, args.format, args.chunk_customers, progress)
    except HelperError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write to {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    sizes = {name: (out / f"{name}.{args.format}").stat().st_size for name in TABLES}
    sizes[TRUTH_FILE] = (out / TRUTH_FILE).stat().st_size
    say(f"Done in {time.perf_counter() - began:.1f} s: " + ", ".join(
        f"{k} {v / 1e6:.2f} MB" for k, v in sizes.items()
    ) + f"; total {sum(sizes.values()) / 1e6:.2f} MB")
    counts = truth["counts"]
    say(f"  {counts['customers']:,} customers, {counts['orders']:,} orders, {counts['transaction_rows']:,} "
        f"transaction rows, {counts['loyalty_events']:,} loyalty events, {counts['service_tickets']:,} tickets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
