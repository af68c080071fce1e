"""The simulation gives the same numbers however it is organised: the baseline arm computed once
per block and kept for the next simulation of the same customers, its monthly totals summed for
all months at once, redemption touching only the redeeming cells, designs without tiers or
without a benefit skipping the per-cell look-ups. Pinned against the month-by-month engine it
replaced (digests of every output, 10 significant digits), and checked with and without a kept
baseline."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from helpers.studies.loyalty import engine
from helpers.studies.loyalty.base import fit_base
from helpers.studies.loyalty.design import design_from_mapping, load_designs
from helpers.studies.loyalty.engine import SimSettings, simulate

from ._cdnow import OBSERVATION_END, sample

ROOT = Path(__file__).resolve().parents[1]
DESIGNS = sorted((ROOT / "playbooks" / "designs").glob("*.yaml"))
SETTINGS = SimSettings(horizon_months=5, runs=6, seed=2, chunk_cells=600)  # three blocks of 100 customers
#: tier benefits the shipped designs do not combine: free shipping and returns by level, birthday points
EVERY_BENEFIT = design_from_mapping(
    {
        "name": "every benefit",
        "earn": {"points_per_currency": 1},
        "burn": {"point_value": 0.01, "redemption_threshold": 100, "expiry_months": 2},
        "tiers": {
            "window_months": 3,
            "levels": [
                {"name": "bronze", "benefits": {"birthday_double_points": True}},
                {"name": "silver", "qualify_spend": 60, "benefits": {"discount_pct": 5, "free_shipping": True}},
                {"name": "gold", "qualify_spend": 150, "qualify_visits": 3,
                 "benefits": {"discount_pct": 10, "free_returns": True, "points_multiplier": 2}},
            ],
        },
        "triggers": [{"when": {"spend_in_month": 40}, "reward": {"coupon_value": 2.0, "free_shipping_next_month": True}}],
        "costs": {"return_cost_per_order": 1.5, "shipping_cost_per_order": 4.0, "shipped_order_share": 0.5},
    },
    "every_benefit.yaml",
)
#: digests of the engine before the change (commit 4c0f887), per model and design
PINNED = {
    ("bgnbd", "simple_points"): "541bc5ee0b5a810d",
    ("bgnbd", "tiered"): "5a3912ff05ec3c57",
    ("bgnbd", "triggers"): "70dbc39dc42facf1",
    ("bgnbd", "every_benefit"): "9050ef182554e709",
    ("pareto", "simple_points"): "bb536b2dc014c911",
    ("pareto", "tiered"): "561511d0834ed5fe",
    ("pareto", "triggers"): "5411c22d1a947126",
    ("pareto", "every_benefit"): "09be9f3f42118e6a",
}


def digest(sim, exact: bool = False) -> str:
    """Digest of every output: at 10 significant digits, or of the raw float64 bytes (``exact``)."""
    h = hashlib.sha256()
    parts = [sim.monthly[k] for k in sorted(sim.monthly)] + [sim.tiers, sim.outstanding]
    parts += [sim.segments[k] for k in sorted(sim.segments)] + [sim.per_customer.to_numpy()]
    for values in parts:
        if exact:
            h.update(np.ascontiguousarray(values, dtype="float64").tobytes())
        else:
            h.update(" ".join(f"{v:.10g}" for v in np.ravel(values)).encode())
    return h.hexdigest()[:16]


@pytest.fixture(scope="module", params=["bgnbd", "pareto"])
def base(request):
    return request.param, fit_base(sample(), observation_end=OBSERVATION_END, time_unit="W", customers=300, seed=5,
                                   model=request.param)


@pytest.fixture(scope="module")
def designs():
    return load_designs(DESIGNS) + [EVERY_BENEFIT]


def test_every_design_simulates_as_the_month_by_month_engine_did(base, designs, monkeypatch):
    model, fitted = base
    monkeypatch.setattr(engine, "_baselines", {})
    for design in designs:
        assert digest(simulate(design, fitted, SETTINGS)) == PINNED[model, design.slug], design.slug


def test_a_kept_baseline_gives_the_numbers_of_a_fresh_one(base, designs, monkeypatch):
    _, fitted = base
    monkeypatch.setattr(engine, "_baselines", {})
    monkeypatch.setattr(engine, "BASELINE_CACHE_BYTES", 0)  # nothing kept: every simulation draws its own
    fresh = [digest(simulate(d, fitted, SETTINGS, {"member_lift": 0.1})) for d in designs]
    assert engine._baselines == {}
    monkeypatch.setattr(engine, "BASELINE_CACHE_BYTES", 256 * 2**20)
    simulate(designs[0], fitted, SETTINGS)  # fills the cache with another design's run
    assert len(engine._baselines) == 3  # one per block
    kept = [digest(simulate(d, fitted, SETTINGS, {"member_lift": 0.1})) for d in designs]
    assert kept == fresh
    other_seed = SimSettings(horizon_months=5, runs=6, seed=3, chunk_cells=600)
    assert digest(simulate(designs[0], fitted, other_seed)) != digest(simulate(designs[0], fitted, SETTINGS))


def test_kept_baselines_are_read_only_and_bounded(base, designs, monkeypatch):
    _, fitted = base
    monkeypatch.setattr(engine, "_baselines", {})
    simulate(designs[0], fitted, SETTINGS)
    kept = next(iter(engine._baselines.values()))
    with pytest.raises(ValueError):
        kept.spend[0, 0, 0] = 1.0
    budget = 5 * 6 * 300 * engine._BASELINE_CELL_BYTES  # this simulation's months x cells fit
    monkeypatch.setattr(engine, "BASELINE_CACHE_BYTES", budget)
    simulate(designs[0], fitted, SimSettings(horizon_months=5, runs=6, seed=9, chunk_cells=600))
    assert 0 < sum(b.nbytes for b in engine._baselines.values()) <= budget  # the least recently used dropped
    before = dict(engine._baselines)
    monkeypatch.setattr(engine, "BASELINE_CACHE_BYTES", budget - 1)
    simulate(designs[0], fitted, SimSettings(horizon_months=5, runs=6, seed=10, chunk_cells=600))
    assert engine._baselines == before  # a simulation larger than the budget keeps nothing
    # more than the budget in one simulation, or blocks in worker processes: nothing kept
    monkeypatch.setattr(engine, "_baselines", {})
    simulate(designs[0], fitted, SimSettings(horizon_months=5, runs=6, seed=2, chunk_cells=600, workers=2))
    assert engine._baselines == {}


def _take_one_by_one(buckets, month, left):
    for j in range(1, buckets.shape[0] + 1):
        slot = (month + j) % buckets.shape[0]
        take = np.minimum(buckets[slot], left)
        buckets[slot] -= take
        left = left - take


@pytest.mark.parametrize("month", [0, 3, 7])
def test_redemption_takes_the_oldest_points_first_from_the_redeeming_cells_only(month):
    rng = np.random.default_rng(month)
    buckets = rng.integers(0, 4, size=(5, 3, 40)) * rng.random((5, 3, 40)) * 50
    balance = buckets.sum(axis=0)
    go = rng.random((3, 40)) < 0.4
    go[0, :3] = True
    balance[0, :3] = 0.0  # redeeming with nothing to take
    points = np.where(go, np.floor(balance / 30) * 30, 0.0)
    expected = buckets.copy()
    _take_one_by_one(expected, month, points)
    got = buckets.copy()
    engine._take_oldest_first(got, month, np.flatnonzero(go), points.ravel())
    assert np.array_equal(got, expected)
    untouched = buckets.copy()
    engine._take_oldest_first(untouched, month, np.flatnonzero(np.zeros_like(go)), points.ravel())  # nobody redeems
    assert np.array_equal(untouched, buckets)


#: raw float64 bytes of every output with large lifts and pull-forward (every masked step busy), from
#: the engine before the flat-index writes, the fmod and the kept window totals (commit adcf11f)
PINNED_BITS = {
    ("bgnbd", "simple_points"): "e31c16baac588b09",
    ("bgnbd", "tiered"): "23aec5932619bae3",
    ("bgnbd", "triggers"): "5bd76180bcd0dca0",
    ("bgnbd", "every_benefit"): "308bafae2e64462f",
    ("pareto", "simple_points"): "ce9b913cf7b5a4ff",
    ("pareto", "tiered"): "f194eb50bb1be76c",
    ("pareto", "triggers"): "c5810b981dcf4d56",
    ("pareto", "every_benefit"): "a08c0cf9eab43d55",
}


def test_every_design_gives_the_same_bits_as_before_the_flat_index_writes(base, designs, monkeypatch):
    model, fitted = base
    monkeypatch.setattr(engine, "_baselines", {})
    for design in designs:
        sim = simulate(design, fitted, SETTINGS, {"pull_forward_share": 0.8, "member_lift": 0.2})
        assert digest(sim, exact=True) == PINNED_BITS[model, design.slug], design.slug


def test_flat_writes_refuse_an_array_that_would_be_copied():
    cells = np.zeros((4, 6))
    engine._flat(cells)[np.flatnonzero(cells.shape[1] > np.arange(24).reshape(4, 6) % 7)] = 1.0
    assert cells.sum() == 21  # the writes landed in the array itself
    with pytest.raises(ValueError, match="C-contiguous"):
        engine._flat(cells[:, ::2])
