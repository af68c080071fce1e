"""The simulation and its summaries: zero lift, common random numbers, reproducibility,
exact cost identities, break-even lift against the simulated ROI, sensitivity."""

from pathlib import Path

import numpy as np
import pytest

from helpers.studies.loyalty import assumptions as A
from helpers.studies.loyalty.base import fit_base
from helpers.studies.loyalty.design import design_from_mapping, load_designs
from helpers.studies.loyalty.engine import SimSettings, simulate
from helpers.studies.loyalty.results import (
    break_even_lift,
    run_lab,
    sensitivity,
    summarise,
    uniform_lift,
)

from ._cdnow import OBSERVATION_END, sample

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = sorted((ROOT / "playbooks" / "designs").glob("*.yaml"))
ZERO_LIFT = {name: 0.0 for name in A.LIFT_NAMES}
SMALL = SimSettings(horizon_months=6, runs=12, seed=11)


@pytest.fixture(scope="module")
def base():
    return fit_base(sample(), observation_end=OBSERVATION_END, time_unit="W", customers=600, seed=5)


@pytest.fixture(scope="module")
def designs():
    return load_designs(DESIGNS)


def test_zero_lift_design_loses_exactly_its_costs(base, designs):
    for design in designs:
        res = summarise(simulate(design, base, SMALL, ZERO_LIFT), base, 0.3)
        runs = res.runs
        assert (runs["incremental_revenue"] == 0).all(), design.name  # exactly: same draws, no extra purchases
        assert (runs["revenue_design"] == runs["revenue_base"]).all()
        assert np.allclose(runs["profit"], -runs["total_cost"], rtol=0, atol=1e-9)
        assert np.allclose(runs["roi"], -1.0)
        assert (runs["total_cost"] > 0).all()
        fixed = design.costs.fixed_setup + design.costs.fixed_per_month * SMALL.horizon_months
        assert (runs["fixed_cost"] == fixed).all()


def test_baseline_is_shared_by_every_design_and_assumption(base, designs):
    sims = [simulate(d, base, SMALL) for d in designs] + [simulate(designs[0], base, SMALL, {"member_lift": 0.2})]
    for sim in sims[1:]:
        assert np.array_equal(sim.monthly["revenue_base"], sims[0].monthly["revenue_base"])
        assert np.array_equal(sim.monthly["purchases_base"], sims[0].monthly["purchases_base"])


def test_seeded_runs_are_reproducible_and_independent_of_workers_and_seed_matters(base, designs):
    d = designs[1]
    one = simulate(d, base, SimSettings(horizon_months=4, runs=8, seed=3, chunk_cells=1600))
    again = simulate(d, base, SimSettings(horizon_months=4, runs=8, seed=3, chunk_cells=1600))
    two = simulate(d, base, SimSettings(horizon_months=4, runs=8, seed=3, chunk_cells=1600, workers=2))
    other = simulate(d, base, SimSettings(horizon_months=4, runs=8, seed=4, chunk_cells=1600))
    for name in one.monthly:
        assert np.array_equal(one.monthly[name], again.monthly[name]), name
        assert np.array_equal(one.monthly[name], two.monthly[name]), name
    assert np.array_equal(one.tiers, two.tiers)
    assert not np.array_equal(one.monthly["revenue_base"], other.monthly["revenue_base"])


def test_a_standing_discount_costs_its_share_of_every_members_spend(base):
    """Everyone joins at their first purchase, so a 10% member discount costs exactly 10% of all revenue."""
    d = design_from_mapping(
        {"name": "ten off", "burn": {"point_value": 0.0, "redemption_threshold": 1e9},
         "member_benefits": {"discount_pct": 10}}, "ten.yaml",
    )
    sim = simulate(d, base, SMALL, {"enrolment_rate": 1.0, "member_lift": 0.05})
    assert np.allclose(sim.monthly["discount_cost"], 0.1 * sim.monthly["revenue_design"])


def test_nobody_enrolled_means_no_effect_and_only_fixed_costs(base, designs):
    res = summarise(simulate(designs[1], base, SMALL, {"enrolment_rate": 0.0}), base, 0.3)
    assert (res.runs["members"] == 0).all() and (res.runs["incremental_revenue"] == 0).all()
    assert np.allclose(res.runs["total_cost"], res.runs["fixed_cost"])


def test_points_are_conserved(base, designs):
    for d in designs:
        sim = simulate(d, base, SMALL)
        m = sim.monthly
        left = (m["points_earned"] - m["points_redeemed"] - m["points_expired"]).sum(1)
        assert np.allclose(left, sim.outstanding), d.name
        assert np.allclose(m["reward_value"], m["points_redeemed"] * d.burn.point_value)


def test_more_lift_means_more_incremental_revenue(base, designs):
    d = designs[0]
    low = summarise(simulate(d, base, SMALL, uniform_lift(0.05)), base, 0.3).metric("incremental_revenue")
    high = summarise(simulate(d, base, SMALL, uniform_lift(0.30)), base, 0.3).metric("incremental_revenue")
    assert 0 < low < high
    assert high / low == pytest.approx(6.0, rel=0.35)  # extra purchases are proportional to the lift


def test_tier_counts_add_up_to_members(base, designs):
    tiered = next(d for d in designs if d.has_tiers)
    sim = simulate(tiered, base, SMALL)
    assert np.allclose(sim.tiers.sum(axis=2), sim.monthly["members"])


POINTS_FOR_SMALL_BASE = {
    "name": "points for 2,357 customers",
    "earn": {"points_per_currency": 1},
    "burn": {"point_value": 0.01, "redemption_threshold": 200, "expiry_months": 12},
    "member_benefits": {"birthday_double_points": True},
    "costs": {"fixed_setup": 300, "fixed_per_month": 30, "per_member_month": 0.02},
}


def test_break_even_lift_is_consistent_with_the_simulated_roi(base):
    d = design_from_mapping(POINTS_FOR_SMALL_BASE, "small.yaml")
    settings = SimSettings(horizon_months=6, runs=16, seed=2)
    be = break_even_lift(d, base, settings, gross_margin=0.3)
    assert be.lift is not None and 0 < be.lift < 2
    at = summarise(simulate(d, base, settings, uniform_lift(be.lift)), base, 0.3)
    assert abs(at.metric("profit")) <= 0.03 * at.metric("total_cost")
    assert abs(at.metric("roi")) <= 0.03
    below = summarise(simulate(d, base, settings, uniform_lift(0.7 * be.lift)), base, 0.3)
    above = summarise(simulate(d, base, settings, uniform_lift(1.3 * be.lift)), base, 0.3)
    assert below.metric("roi") < 0 < above.metric("roi")


def test_break_even_edge_cases(base):
    free = design_from_mapping({"name": "free", "burn": {"point_value": 0.0, "redemption_threshold": 1}}, "free")
    assert break_even_lift(free, base, SMALL).lift == 0.0  # costs nothing: pays without any change
    generous = design_from_mapping(
        {"name": "half off", "burn": {"point_value": 0.0, "redemption_threshold": 1},
         "member_benefits": {"discount_pct": 50}, "costs": {"fixed_setup": 100}}, "half",
    )
    be = break_even_lift(generous, base, SMALL, gross_margin=0.3)  # 50% off on a 30% margin never pays
    assert be.lift is None and "do not pay" in be.note


def test_roi_mean_is_expected_profit_over_expected_cost(base, designs):
    res = summarise(simulate(designs[2], base, SMALL), base, 0.3)
    assert res.metric("roi") == pytest.approx(res.runs["profit"].mean() / res.runs["total_cost"].mean())
    assert res.summary.loc["roi", "low"] <= res.summary.loc["roi", "high"]
    assert res.metric("profit") == pytest.approx(res.metric("incremental_margin") - res.metric("total_cost"))


def test_sensitivity_moves_roi_the_expected_way(base, designs):
    d = designs[0]  # simple points: no tiers, no triggers
    sens = sensitivity(d, base, SMALL, gross_margin=0.3).set_index("parameter")
    assert "tier_pressure" not in sens.index and "trigger_lift" not in sens.index
    assert {"member_lift", "goal_gradient", "pull_forward_share", "gross_margin"} <= set(sens.index)
    central = summarise(simulate(d, base, SMALL), base, 0.3).metric("roi")
    assert sens["roi_central"].iloc[0] == pytest.approx(central)
    assert sens.loc["member_lift", "roi_high"] > sens.loc["member_lift", "roi_low"]
    assert sens.loc["gross_margin", "roi_high"] > sens.loc["gross_margin", "roi_low"]
    assert sens.loc["pull_forward_share", "roi_high"] < sens.loc["pull_forward_share", "roi_low"]
    assert (sens["swing"].diff().dropna() <= 1e-12).all()  # widest first


def test_lab_segments_and_scaling(base, designs):
    lab = run_lab(designs[:2], base, SMALL, gross_margin=0.3, analysis_runs=6, sensitivity_analysis=False)
    assert list(lab.comparison["design"]) == [d.name for d in designs[:2]]
    for r in lab.results:
        seg = r.segments
        assert seg["customers"].sum() == pytest.approx(base.n_base)
        assert seg["incremental_revenue"].sum() == pytest.approx(r.metric("incremental_revenue"), rel=1e-9)
        assert seg["revenue_base"].sum() == pytest.approx(r.metric("revenue_base"), rel=1e-9)
        assert r.sim.per_customer["p_member"].between(0, 1).all()
    assert lab.best.name in lab.comparison["design"].tolist()


def test_poisson_by_inversion_has_the_poisson_distribution_and_is_monotone_in_the_mean():
    from scipy import stats

    from helpers.studies.loyalty.engine import poisson_inverse

    rng = np.random.default_rng(0)
    u = rng.random(400_000)
    for lam in (0.05, 0.7, 4.0, 30.0):
        draws = poisson_inverse(u, np.full(u.shape, lam))
        counts = np.bincount(draws, minlength=int(lam * 3) + 5)[: int(lam * 3) + 5] / len(u)
        expected = stats.poisson.pmf(np.arange(len(counts)), lam)
        assert np.abs(counts - expected).max() < 0.005, lam
        assert draws.mean() == pytest.approx(lam, rel=0.01)
    low, high = poisson_inverse(u[:1000], np.full(1000, 0.3)), poisson_inverse(u[:1000], np.full(1000, 0.4))
    assert (high >= low).all()
    # F(0..3; 1) = 0.368, 0.736, 0.920, 0.981: u = 0.5 gives 1, u = 0.99 gives 4 (2-D input)
    assert poisson_inverse(np.array([[0.5, 0.99]]), np.array([[1.0, 1.0]])).tolist() == [[1, 4]]


def test_channel_and_category_multipliers_use_each_customers_mix_or_the_assumed_mix(base):
    from dataclasses import replace

    import pandas as pd

    from helpers.studies.loyalty.engine import earn_multipliers

    raw = {"name": "mult", "burn": {"point_value": 0.01, "redemption_threshold": 100},
           "earn": {"channel_multipliers": {"store": 2.0, "online": 1.0}, "category_multipliers": {"beauty": 3.0}}}
    d = design_from_mapping(raw, "m.yaml")
    ids = base.summary.index
    shares = pd.DataFrame({"online": 0.75, "store": 0.25}, index=ids)
    shares.iloc[0] = [0.0, 1.0]
    cats = pd.DataFrame({"beauty": 0.5, "food": 0.5}, index=ids)
    mult, note = earn_multipliers(d, replace(base, channel_shares=shares, category_shares=cats))
    assert mult[0] == pytest.approx(2.0 * 2.0) and mult[1] == pytest.approx(1.25 * 2.0)  # (0.75 + 0.5) x (1.5 + 0.5)
    assert "own channel mix" in note
    assumed = design_from_mapping({**raw, "earn": {**raw["earn"], "channel_mix": {"store": 0.5, "online": 0.5}}}, "a")
    mult, note = earn_multipliers(assumed, base)  # CDNOW has no channel or category column
    assert mult == pytest.approx(1.5) and "assumed channel_mix" in note and "category multipliers not applied" in note


def test_pages_link_must_be_a_page_name(tmp_path):
    from helpers.errors import ConfigError
    from helpers.studies.loyalty.pages import check_pages_link

    assert check_pages_link("loyalty_lab") == "loyalty_lab"
    with pytest.raises(ConfigError, match="pages_link '../x'"):
        check_pages_link("../x")
