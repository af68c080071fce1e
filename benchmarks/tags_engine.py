"""Benchmark: the tag engine at the size issue 14 asks for (1M customers x 50 tags, under a minute on 2 cores).

    nice -n 10 .venv/bin/python benchmarks/tags_engine.py                  # 1M customers, 50 tags
    .venv/bin/python benchmarks/tags_engine.py --customers 100000          # a quick look

The input is synthetic and seeded (the generator would take longer than the tags): per
customer Poisson(6) orders over two years (amount, discount, promotion, channel, category)
and Poisson(12) behaviour events (views with bursts, add-to-cart, coupon claims, check-ins),
birthdays and age bands, and a model table (segment, CLV tier, lapsed, P(alive), next-best
category) as the CLV and segments studies would give; fitting those models is not part of
the tag engine and is not timed here. The library is ``playbooks/tags.yaml`` plus rule tags
on other windows up to 50 tags. Prints the time to prepare the inputs (once per data load),
to compute every tag as of one date, the peak resident memory and the load average before the
run (the machine may be shared), then one line for the README. Timing is never part of the tests.
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
import yaml

from helpers.studies.tags.engine import TagInputs, library_from_mapping

ROOT = Path(__file__).resolve().parents[1]
CATEGORIES = ["apparel", "beauty", "beverages", "electronics", "fresh_food", "home", "mother_baby", "packaged_food",
              "personal_care"]
CHANNELS = ["store", "app", "mini_program", "online_mall", "marketplace"]
PROMOTIONS = ["", "", "", "", "618", "double11", "member_day", "coupon"]
EVENTS = ["view", "view", "view", "view", "add_to_cart", "coupon_claim", "store_checkin", "favourite"]
START, END = pd.Timestamp("2023-01-01"), pd.Timestamp("2024-12-31")


def synthetic(n: int, seed: int = 14):
    rng = np.random.default_rng(seed)
    ids = np.char.add("M", np.char.zfill(np.arange(1, n + 1).astype(str), 7))
    span = int((END - START).total_seconds())
    join = rng.integers(0, span - 86_400, n)
    n_orders = rng.poisson(6, n) + 1
    code = np.repeat(np.arange(n), n_orders)
    ts = np.maximum(join[code], rng.integers(0, span, len(code)))
    amount = np.round(rng.gamma(2.0, 100.0, len(code)), 2)
    promo = np.array(PROMOTIONS, dtype=object)[rng.integers(0, len(PROMOTIONS), len(code))]
    tx = pd.DataFrame({
        "customer_id": ids[code], "timestamp": START + pd.to_timedelta(ts, unit="s"), "amount": amount,
        "discount": np.where(promo != "", np.round(amount * 0.1, 2), 0.0), "promotion": promo,
        "channel": np.array(CHANNELS)[rng.integers(0, len(CHANNELS), len(code))],
        "category": np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), len(code))],
        "order_id": np.arange(len(code)).astype(str),
    })
    n_events = rng.poisson(12, n)
    e_code = np.repeat(np.arange(n), n_events)
    # half the events cluster in a week-long burst per customer, so behaviour tags fire
    burst = join + rng.integers(0, span // 2, n)
    e_ts = np.where(rng.random(len(e_code)) < 0.5, burst[e_code] + rng.integers(0, 6 * 86_400, len(e_code)),
                    rng.integers(0, span, len(e_code)))
    e_ts = np.clip(np.maximum(e_ts, join[e_code]), 0, span)
    types = np.array(EVENTS)[rng.integers(0, len(EVENTS), len(e_code))]
    events = pd.DataFrame({
        "customer_id": ids[e_code], "timestamp": START + pd.to_timedelta(e_ts, unit="s"), "event_type": types,
        "category": np.where(np.isin(types, ["coupon_claim", "store_checkin"]), "",
                             np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), len(e_code))]),
    })
    customers = pd.DataFrame({
        "customer_id": ids, "join_date": (START + pd.to_timedelta(join, unit="s")).normalize(),
        "age_band": np.array(["18-24", "25-34", "35-44", "45-54", "55+"])[rng.integers(0, 5, n)],
        "birth_month": rng.integers(1, 13, n), "birth_day": rng.integers(1, 29, n),
    })
    models = pd.DataFrame({
        "segment": np.array(["champions", "loyal", "new", "at_risk", "hibernating"])[rng.integers(0, 5, n)],
        "clv_tier": np.array(["high_value_loyal", "growing", "potential", "churn_risk"])[rng.integers(0, 4, n)],
        "lapsed": np.where(rng.random(n) < 0.3, "True", "False"),
        "p_alive_repeat": np.where(rng.random(n) < 0.4, np.nan, rng.random(n)),
        "next_best_category": np.array(CATEGORIES)[rng.integers(0, len(CATEGORIES), n)],
    }, index=pd.Index(ids, name="customer_id"))
    return tx, events, customers, models


def library_of(n_tags: int):
    raw = yaml.safe_load((ROOT / "playbooks" / "tags.yaml").read_text(encoding="utf-8"))
    tags = raw["tags"]
    extra = [(m, w) for w in (14, 60, 120, 180, 270, 540, 730) for m in ("orders", "spend", "purchase_days", "channels")]
    i = 0
    while len(tags) < n_tags:  # rule tags on other windows, up to n_tags
        metric, window = extra[i]
        tags.insert(len(tags) - 4, {"id": f"{metric}_{window}d", "kind": "rule", "group": "activity", "name": f"{metric} {window}d",
                                    "definition": f"{metric} in {window} days >= 2", "metric": metric,
                                    "window_days": window, "min": 2})
        i += 1
    raw["tags"] = tags[:n_tags] if len(tags) > n_tags else tags
    return library_from_mapping(raw, "benchmark library")


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024**2 if sys.platform == "darwin" else peak / 1024


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--tags", type=int, default=50)
    args = parser.parse_args(argv)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    tx, events, customers, models = synthetic(args.customers)
    t_data = time.perf_counter() - t0
    library = library_of(args.tags)
    t0 = time.perf_counter()
    inputs = TagInputs(tx, events, customers, models=models)
    t_prep = time.perf_counter() - t0
    t0 = time.perf_counter()
    flags = inputs.tags_at(library, END)
    t_tags = time.perf_counter() - t0
    print(f"customers {args.customers:,}; orders {len(tx):,}; events {len(events):,}; load average before {load:.2f}")
    print(f"tags {len(library.tags)} ({flags.shape[1]} columns with per-category / per-value tags)")
    print(f"synthetic data {t_data:.1f} s (not the engine); prepare inputs {t_prep:.1f} s; all tags as of "
          f"{END.date()} {t_tags:.1f} s; peak memory {_peak_rss_mb():,.0f} MB")
    print(f"README: tag engine, {args.customers / 1e6:g}M customers x {len(library.tags)} tags: "
          f"prepare {t_prep:.0f} s + compute {t_tags:.0f} s = {t_prep + t_tags:.0f} s on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
