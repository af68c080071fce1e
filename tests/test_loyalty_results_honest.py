"""Issue 11: loyalty lab numbers by hand (scaling of run totals, breakage, liability, subsidy share)."""

from types import SimpleNamespace

import numpy as np
import pytest

from helpers.studies.loyalty import results as R
from helpers.studies.loyalty.engine import FLOWS


def fake_sim(monthly: dict, outstanding, *, runs: int, months: int = 2, point_value=0.01, reward_cost_ratio=0.5,
             redeemed_share=0.6, fixed_setup=100.0, fixed_per_month=10.0):
    """A SimResult stand-in with the fields per_run reads, every flow given as (runs, months)."""
    flows = {k: np.zeros((runs, months)) for k in FLOWS}
    flows.update({k: np.asarray(v, dtype="float64") for k, v in monthly.items()})
    design = SimpleNamespace(
        burn=SimpleNamespace(point_value=point_value, reward_cost_ratio=reward_cost_ratio),
        costs=SimpleNamespace(fixed_setup=fixed_setup, fixed_per_month=fixed_per_month),
    )
    return SimpleNamespace(
        design=design, values={"outstanding_redeemed_share": redeemed_share},
        settings=SimpleNamespace(horizon_months=months, runs=runs), monthly=flows,
        outstanding=np.asarray(outstanding, dtype="float64"),
    )


def test_breakage_liability_and_subsidy_share_by_hand():
    # two runs, two months; per run totals: earned 1000/3000, redeemed 300/900, expired 200/600
    sim = fake_sim(
        {
            "points_earned": [[400, 600], [1000, 2000]],
            "points_redeemed": [[100, 200], [400, 500]],
            "points_expired": [[50, 150], [200, 400]],
            "reward_cost": [[1.0, 2.0], [3.0, 4.0]],
            "discount_cost": [[5.0, 5.0], [5.0, 5.0]],
            "subsidy_cost": [[2.0, 2.0], [4.0, 4.0]],
            "revenue_base": [[100.0, 100.0], [100.0, 100.0]],
            "revenue_design": [[150.0, 150.0], [130.0, 130.0]],
        },
        outstanding=[500.0, 1500.0], runs=2,
    )
    runs = R.per_run(sim, scale=1.0, gross_margin=0.4)
    # breakage = expired / earned (not redeemed / earned)
    assert runs["breakage_rate"].tolist() == pytest.approx([200 / 1000, 600 / 3000])
    # liability: outstanding x point value = face; cost = face x reward cost ratio x redeemed share (below 1)
    assert runs["liability_face"].tolist() == pytest.approx([5.0, 15.0])
    assert runs["liability_cost"].tolist() == pytest.approx([5.0 * 0.5 * 0.6, 15.0 * 0.5 * 0.6])
    # total cost = rewards + benefits + fixed (100 + 2 x 10) + liability cost
    assert runs["total_cost"].tolist() == pytest.approx([3 + 10 + 120 + 1.5, 7 + 10 + 120 + 4.5])
    assert runs["profit"].tolist() == pytest.approx([0.4 * 100 - 134.5, 0.4 * 60 - 141.5])
    table = R.interval_summary(runs)
    # ratio of means, not mean of ratios
    assert table.loc["breakage_rate", "mean"] == pytest.approx(400 / 2000)
    # subsidy share = subsidy cost / (rewards + discounts + shipping + returns), means over runs
    assert table.loc["subsidy_share", "mean"] == pytest.approx(((4 + 8) / 2) / ((13 + 17) / 2))
    assert table.loc["roi", "mean"] == pytest.approx(((-94.5) + (-117.5)) / 2 / ((134.5 + 141.5) / 2))


def test_scaling_a_sample_scales_the_mean_but_the_spread_only_by_its_square_root():
    """N independent customers: a sample of n gives run totals with mean n mu and sd sqrt(n) sigma;
    the whole base has mean N mu and sd sqrt(N) sigma. Scaling each run by N/n would give sd
    (N/n) sqrt(n) sigma = sqrt(N/n) x too wide."""
    rng = np.random.default_rng(11)
    n, base, runs = 100, 2_000, 2_000
    per_customer = rng.poisson(3.0, (runs, n)).astype("float64") * 10.0  # revenue of each customer in each run
    whole = rng.poisson(3.0, (runs, base)).astype("float64") * 10.0
    sample_totals = per_customer.sum(axis=1)
    sim = fake_sim({"revenue_base": sample_totals[:, None]}, outstanding=np.zeros(runs), runs=runs, months=1)
    scaled = R.per_run(sim, scale=base / n, gross_margin=0.3)["revenue_base"]
    truth = whole.sum(axis=1)
    assert scaled.mean() == pytest.approx(truth.mean(), rel=0.01)
    assert scaled.std() == pytest.approx(truth.std(), rel=0.08)
    low, high = np.quantile(scaled, [0.025, 0.975])
    covered = ((truth >= low) & (truth <= high)).mean()
    assert 0.92 < covered < 0.98
    # scale 1 leaves runs unchanged
    np.testing.assert_allclose(R.scale_runs(sample_totals, 1.0), sample_totals)


def _fake_lab(profits):
    from helpers.studies.loyalty.results import Lab

    results = []
    for i, profit in enumerate(profits):
        metrics = {"profit": profit, "roi": profit / 1000.0}
        results.append(SimpleNamespace(
            metric=lambda name, stat="mean", m=metrics: m[name],
            design=SimpleNamespace(display_name=lambda lang, i=i: f"Design {i}"),
            break_even=None,
        ))
    lab = SimpleNamespace(results=results, settings=SimpleNamespace(horizon_months=12))
    lab.best = Lab.best.fget(lab)
    return lab


def test_index_card_says_when_no_design_pays():
    from helpers.studies.loyalty import narrative

    losing = narrative.headline_numbers(_fake_lab([-6300.0, -9000.0, -12000.0]), "$", "en")
    assert list(losing)[0] == "Verdict" and losing["Verdict"] == "No design pays: all 3 lose money"
    assert "Most profitable design" not in losing and losing["Smallest loss"] == "Design 0"
    zh = narrative.headline_numbers(_fake_lab([-6300.0, -9000.0]), "¥", "zh-CN")
    assert "利润最高的方案" not in zh and "没有方案能盈利" in zh["结论"]
    paying = narrative.headline_numbers(_fake_lab([-100.0, 2500.0]), "$", "en")
    assert paying["Most profitable design"] == "Design 1" and "Verdict" not in paying
