"""The per-run table is built from arrays in one go (the break-even and sensitivity searches
build it dozens of times per design) and gives the same table, bit for bit, as the column by
column frame it replaced: same columns in the same order, dtypes, index and float64 values
(missing values, zero costs and zero points included), on random flows and on the engine's
own simulations of every shipped design."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers.studies.loyalty import results as R
from helpers.studies.loyalty.base import fit_base
from helpers.studies.loyalty.design import load_designs
from helpers.studies.loyalty.engine import FLOWS, SimSettings, simulate

from ._cdnow import OBSERVATION_END, sample
from .test_loyalty_results_honest import fake_sim

ROOT = Path(__file__).resolve().parents[1]


def per_run_frame_by_columns(sim, scale: float, gross_margin: float) -> pd.DataFrame:
    """The per-run table as it was built before (commit 7e5a4a7): one column at a time."""
    d, v = sim.design, sim.values
    mo = {k: R.scale_runs(a.sum(axis=1), scale) for k, a in sim.monthly.items()}
    months = sim.settings.horizon_months
    runs = pd.DataFrame(index=pd.RangeIndex(sim.settings.runs, name="run"))
    runs["revenue_base"] = mo["revenue_base"]
    runs["revenue_design"] = mo["revenue_design"]
    runs["incremental_revenue"] = mo["revenue_design"] - mo["revenue_base"]
    runs["incremental_margin"] = gross_margin * runs["incremental_revenue"]
    runs["reward_cost"] = mo["reward_cost"]
    runs["benefit_cost"] = sum(mo[k] for k in R.BENEFIT_COSTS)
    for k in R.BENEFIT_COSTS:
        runs[k] = mo[k]
    runs["trigger_cost"] = mo["trigger_cost"]
    runs["member_cost"] = sum(mo[k] for k in R.MEMBER_COSTS)
    runs["fixed_cost"] = R._fixed_cost(d, months)
    outstanding = R.scale_runs(sim.outstanding, scale)
    runs["outstanding_points"] = outstanding
    runs["liability_face"] = outstanding * d.burn.point_value
    runs["liability_cost"] = runs["liability_face"] * d.burn.reward_cost_ratio * v["outstanding_redeemed_share"]
    runs["total_cost"] = runs[["reward_cost", "benefit_cost", "trigger_cost", "member_cost", "fixed_cost",
                               "liability_cost"]].sum(axis=1)
    runs["profit"] = runs["incremental_margin"] - runs["total_cost"]
    runs["roi"] = runs["profit"] / runs["total_cost"].where(runs["total_cost"] > 0)
    runs["points_earned"] = mo["points_earned"]
    runs["points_redeemed"] = mo["points_redeemed"]
    runs["points_expired"] = mo["points_expired"]
    runs["breakage_rate"] = runs["points_expired"] / runs["points_earned"].where(runs["points_earned"] > 0)
    runs["members"] = R.scale_runs(sim.monthly["members"][:, -1], scale)
    runs["subsidy_cost"] = mo["subsidy_cost"]
    with np.errstate(divide="ignore", invalid="ignore"):
        runs["effective_lift"] = mo["member_purchases_design"] / mo["member_purchases_base"] - 1.0
    return runs


def assert_same_bits(new: pd.DataFrame, old: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    values_new, values_old = new.to_numpy("float64"), old.to_numpy("float64")
    assert np.array_equal(np.isnan(values_new), np.isnan(values_old))
    assert np.array_equal(np.signbit(values_new), np.signbit(values_old))  # 0.0 and -0.0 apart too


def random_sim(rng: np.random.Generator, runs: int, months: int):
    flows = {k: rng.gamma(0.7, 300.0, (runs, months)) * rng.choice([0.0, 1.0, 1.0, 1.0], (runs, 1)) for k in FLOWS}
    for k in ("reward_cost", "discount_cost", "trigger_cost", "member_cost"):  # odd values in the costs added up
        flows[k][rng.random((runs, months)) < 0.05] = np.nan
    flows["enrolment_cost"][rng.random((runs, months)) < 0.05] = -0.0
    return fake_sim(flows, rng.gamma(2.0, 1000.0, runs) * (rng.random(runs) > 0.1), runs=runs, months=months,
                    point_value=float(rng.choice([0.0, 0.01, 0.013])), reward_cost_ratio=float(rng.uniform(0.3, 1.0)),
                    redeemed_share=float(rng.uniform(0.5, 1.0)), fixed_setup=float(rng.choice([0.0, 20000.0])),
                    fixed_per_month=float(rng.choice([0.0, 1234.5])))


@pytest.mark.parametrize("runs", [1, 2, 30, 101])
def test_random_flows_give_the_same_table(runs):
    rng = np.random.default_rng(runs)
    for _ in range(20):
        sim = random_sim(rng, runs, months=int(rng.integers(1, 13)))
        for scale, margin in ((1.0, 0.3), (float(rng.uniform(1, 40)), float(rng.uniform(0.05, 0.9)))):
            assert_same_bits(R.per_run(sim, scale, margin), per_run_frame_by_columns(sim, scale, margin))


def test_all_zero_costs_and_points_give_missing_roi_and_breakage_as_before():
    sim = fake_sim({}, np.zeros(3), runs=3, months=2, fixed_setup=0.0, fixed_per_month=0.0)
    new = R.per_run(sim, 2.0, 0.3)
    assert new["roi"].isna().all() and new["breakage_rate"].isna().all()
    assert_same_bits(new, per_run_frame_by_columns(sim, 2.0, 0.3))


def test_whole_number_fixed_costs_keep_their_column_type():
    sim = fake_sim({}, np.ones(2), runs=2, months=3, fixed_setup=100, fixed_per_month=10)
    new = R.per_run(sim, 1.0, 0.3)
    assert new["fixed_cost"].dtype == per_run_frame_by_columns(sim, 1.0, 0.3)["fixed_cost"].dtype
    assert_same_bits(new, per_run_frame_by_columns(sim, 1.0, 0.3))


def test_every_shipped_design_gives_the_same_table_as_before():
    base = fit_base(sample(), observation_end=OBSERVATION_END, time_unit="W", customers=300, seed=5)
    settings = SimSettings(horizon_months=6, runs=8, seed=3)
    for design in load_designs(sorted((ROOT / "playbooks" / "designs").glob("*.yaml"))):
        for overrides in (None, R.uniform_lift(0.0), {"outstanding_redeemed_share": 0.7}):
            sim = simulate(design, base, settings, overrides)
            assert_same_bits(R.per_run(sim, base.scale, 0.3), per_run_frame_by_columns(sim, base.scale, 0.3))
