"""Pilot readout statistics, checked against published numbers, hand computations,
scipy's independent implementations and seeded simulations with a known truth."""

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from helpers.data.pilot import simulate_pilot
from helpers.errors import ConfigError
from helpers.studies.pilot import analysis as X

# z quantiles as printed in statistical tables
Z_975, Z_80, Z_90 = 1.959964, 0.841621, 1.281552


# --------------------------------------------------------------------------- SRM


def test_srm_matches_the_published_example_and_scipy():
    # Wikipedia "Sample ratio mismatch": 600 vs 400 on a planned 50/50 split, p = 2.54e-10
    result = X.srm_test(400, 600, 0.5)
    assert result.chi2 == pytest.approx(40.0)
    assert result.p_value == pytest.approx(2.54e-10, rel=0.01)
    assert result.mismatch
    # an unequal plan against scipy's goodness-of-fit test
    result = X.srm_test(8100, 1900, 0.2)
    expected = stats.chisquare([1900, 8100], [2000, 8000])
    assert result.chi2 == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue)


def test_srm_flags_a_55_45_split_and_passes_fair_ones():
    assert X.srm_test(4500, 5500, 0.5).mismatch  # 55/45 at n = 10k: chi2 = 100
    assert X.srm_test(5500, 4500, 0.5).mismatch
    for n_c, n_t in ((5000, 5000), (4960, 5040), (5060, 4940)):
        assert not X.srm_test(n_c, n_t, 0.5).mismatch
    assert X.srm_test(5000, 5000, 0.5).p_value == pytest.approx(1.0)
    # 44,000 vs 45,000 on 50/50: p below 0.1% (srm.osc.garden example, 0.0008)
    assert X.srm_test(44_000, 45_000).p_value == pytest.approx(0.0008, abs=0.0001)


def test_srm_rarely_flags_fair_random_splits():
    rng = np.random.default_rng(3)
    treated = rng.binomial(10_000, 0.3, size=4000)
    p = np.array([X.srm_test(10_000 - t, t, 0.3).p_value for t in treated])
    assert (p < X.SRM_THRESHOLD).mean() < 0.004
    assert 0.035 < (p < 0.05).mean() < 0.065  # p-values of a valid test are uniform


def test_srm_rejects_a_bad_plan():
    with pytest.raises(ConfigError, match="planned_treatment_share"):
        X.srm_test(10, 10, 1.0)


# --------------------------------------------------------------------------- Welch


def test_welch_matches_r_t_test_published_output():
    # R: t.test(X1, X2) with X1 = 10:20, X2 = seq(20, 26, 0.5): t = -7.0391, df = 15.58,
    # p-value = 3.247e-06, 95 percent CI -10.414599 -5.585401
    eff = X.difference_in_means(np.arange(10, 21), np.arange(20, 26.5, 0.5))
    assert eff.difference == pytest.approx(15 - 23)
    assert eff.df == pytest.approx(15.58, abs=0.005)
    assert eff.p_value == pytest.approx(3.247e-06, rel=1e-3)
    assert eff.ci_low == pytest.approx(-10.414599, abs=1e-6)
    assert eff.ci_high == pytest.approx(-5.585401, abs=1e-6)


def test_welch_matches_scipy_on_skewed_unequal_groups():
    rng = np.random.default_rng(5)
    t, c = rng.lognormal(3, 1.2, 700), rng.lognormal(3.1, 0.8, 300)
    eff = X.difference_in_means(t, c, alpha=0.1)
    ref = stats.ttest_ind(t, c, equal_var=False)
    ci = ref.confidence_interval(confidence_level=0.9)
    assert eff.p_value == pytest.approx(ref.pvalue)
    assert eff.df == pytest.approx(ref.df)
    assert (eff.ci_low, eff.ci_high) == pytest.approx((ci.low, ci.high))


def test_relative_lift_delta_method_by_hand():
    t, c = np.array([12.0, 14, 9, 15, 10]), np.array([10.0, 8, 11, 9, 12, 10])
    eff = X.difference_in_means(t, c)
    m_t, m_c = t.mean(), c.mean()
    v_t, v_c = t.var(ddof=1) / 5, c.var(ddof=1) / 6
    assert eff.relative == pytest.approx(m_t / m_c - 1)
    assert eff.relative_se == pytest.approx(math.sqrt(v_t / m_c**2 + m_t**2 * v_c / m_c**4))
    assert eff.relative_ci_low == pytest.approx(eff.relative - Z_975 * eff.relative_se, abs=1e-5)


SIMS, SIM_CUSTOMERS = 1000, 1000


@pytest.fixture(scope="module")
def simulations():
    """1,000 independent pilots of 1,000 customers with a known effect: raw and CUPED estimates of each.

    Customers of a simulated pilot are independent draws, so one seeded pilot of a million
    customers cut into consecutive blocks is 1,000 independent pilots (and fast to draw).
    """
    pilot = simulate_pilot(SIMS * SIM_CUSTOMERS, 10.0, 0.7, 2024)
    y, x = pilot.frame["outcome"].to_numpy(), pilot.frame["pre_metric"].to_numpy()
    treated = (pilot.frame["group"] == "treatment").to_numpy()
    rows = []
    for block in range(SIMS):  # one readout per simulated pilot
        part = slice(block * SIM_CUSTOMERS, (block + 1) * SIM_CUSTOMERS)
        t, yb, xb = treated[part], y[part], x[part]
        res = X.cuped(yb[t], xb[t], yb[~t], xb[~t])
        rows.append((res.raw.difference, res.raw.ci_low, res.raw.ci_high, res.raw.relative_ci_low,
                     res.raw.relative_ci_high, res.adjusted.difference, res.adjusted.ci_low, res.adjusted.ci_high,
                     res.adjusted.relative, res.adjusted.relative_ci_low, res.adjusted.relative_ci_high))
    cols = ["raw", "raw_low", "raw_high", "rel_low", "rel_high", "cuped", "cuped_low", "cuped_high",
            "cuped_rel", "cuped_rel_low", "cuped_rel_high"]
    return pilot.truth, pd.DataFrame(rows, columns=cols)


def test_welch_interval_covers_the_true_effect_about_95_percent_of_the_time(simulations):
    truth, sims = simulations
    effect = truth["true_effect"]
    assert 0.92 <= ((sims["raw_low"] <= effect) & (effect <= sims["raw_high"])).mean() <= 0.98
    assert 0.92 <= ((sims["cuped_low"] <= effect) & (effect <= sims["cuped_high"])).mean() <= 0.98
    lift = truth["relative_lift"]
    assert 0.92 <= ((sims["rel_low"] <= lift) & (lift <= sims["rel_high"])).mean() <= 0.98
    # the headline relative lift is the CUPED-adjusted one: it must cover the true lift too
    # (with an uncentred covariate, y - theta x, it lands far from the truth)
    assert 0.92 <= ((sims["cuped_rel_low"] <= lift) & (lift <= sims["cuped_rel_high"])).mean() <= 0.98
    assert abs(sims["cuped_rel"].mean() - lift) < 0.01


def test_cuped_is_unbiased_and_cuts_variance_by_rho_squared(simulations):
    truth, sims = simulations
    n = len(sims)
    for column in ("raw", "cuped"):
        assert abs(sims[column].mean() - truth["true_effect"]) < 3.5 * sims[column].std() / math.sqrt(n)
    # sampling variance across pilots: 1 - rho^2 = 0.51 (Monte Carlo error about 0.016)
    ratio = sims["cuped"].var() / sims["raw"].var()
    assert ratio == pytest.approx(1 - truth["rho"] ** 2, abs=0.06)


def test_cuped_formulas_on_one_large_pilot():
    pilot = simulate_pilot(60_000, 10.0, 0.6, 11)
    y_t, y_c = pilot.arrays("outcome")
    x_t, x_c = pilot.arrays("pre_metric")
    res = X.cuped(y_t, x_t, y_c, x_c)
    y, x = np.concatenate([y_t, y_c]), np.concatenate([x_t, x_c])
    # theta is the pooled least-squares slope of outcome on pre-period metric
    assert res.theta == pytest.approx(np.polyfit(x, y, 1)[0])
    # Deng et al.: adjusted difference = raw difference - theta * pre-period difference
    assert res.adjusted.difference == pytest.approx(res.raw.difference - res.theta * res.pre_period.difference)
    # variance reduction = 1 - var(adjusted)/var(raw), close to the squared correlation
    assert res.variance_reduction == pytest.approx(1 - res.adjusted.se**2 / res.raw.se**2)
    assert res.variance_reduction == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, abs=0.02)
    assert res.variance_reduction == pytest.approx(0.36, abs=0.03)
    assert res.sample_size_factor == pytest.approx(1 / (1 - res.variance_reduction))


def test_cuped_adjusted_means_stay_on_the_scale_of_the_raw_means():
    """Centring the covariate on its pooled mean moves each group's mean by -theta (x_group - x_pooled):
    the customer-weighted average of the adjusted means equals that of the raw means exactly, and the
    adjusted control mean stays close to the raw one. Forgetting to centre (y - theta x) moves both by
    -theta mean(x): the difference is unchanged but the relative lift is not."""
    pilot = simulate_pilot(40_000, 10.0, 0.7, 5)
    y_t, y_c = pilot.arrays("outcome")
    x_t, x_c = pilot.arrays("pre_metric")
    res = X.cuped(y_t, x_t, y_c, x_c)
    adj, raw = res.adjusted, res.raw
    n_t, n_c = len(y_t), len(y_c)
    assert (n_t * adj.treatment_mean + n_c * adj.control_mean) / (n_t + n_c) == pytest.approx(
        (n_t * raw.treatment_mean + n_c * raw.control_mean) / (n_t + n_c), rel=1e-12)
    x_bar = np.concatenate([x_t, x_c]).mean()
    assert adj.control_mean == pytest.approx(raw.control_mean - res.theta * (x_c.mean() - x_bar), rel=1e-12)
    assert adj.control_mean == pytest.approx(raw.control_mean, rel=0.02)
    assert adj.relative == pytest.approx(adj.difference / adj.control_mean)
    assert adj.relative == pytest.approx(pilot.truth["relative_lift"], abs=0.02)


def test_cuped_without_a_varying_pre_period_is_the_raw_comparison():
    rng = np.random.default_rng(2)
    y_t, y_c = rng.gamma(2, 50, 300), rng.gamma(2, 50, 300)
    res = X.cuped(y_t, np.zeros(300), y_c, np.zeros(300))
    assert res.theta == 0 and res.variance_reduction == pytest.approx(0)
    assert res.adjusted.difference == pytest.approx(res.raw.difference)


# --------------------------------------------------------------------------- bootstrap


def test_bootstrap_interval_is_close_to_the_analytic_one_for_large_n():
    pilot = simulate_pilot(20_000, 10.0, 0.5, 4)
    y_t, y_c = pilot.arrays("outcome")
    boot = X.bootstrap_difference(y_t, y_c, n_resamples=2000, seed=1)
    eff = X.difference_in_means(y_t, y_c)
    assert boot.estimate == pytest.approx(eff.difference)
    assert boot.se == pytest.approx(eff.se, rel=0.06)
    assert abs(boot.ci_low - eff.ci_low) < 0.1 * eff.half_width
    assert abs(boot.ci_high - eff.ci_high) < 0.1 * eff.half_width


def test_bootstrap_is_seeded_and_resamples_within_groups():
    t, c = np.array([1.0, 2, 3, 4, 5]), np.array([10.0, 10, 10])
    a = X.bootstrap_difference(t, c, n_resamples=500, seed=7)
    b = X.bootstrap_difference(t, c, n_resamples=500, seed=7)
    other = X.bootstrap_difference(t, c, n_resamples=500, seed=8)
    np.testing.assert_array_equal(a.draws, b.draws)
    assert not np.array_equal(a.draws, other.draws)
    # control never varies, and a treatment mean of 5 draws lies in [1, 5]
    assert a.draws.min() >= 1 - 10 and a.draws.max() <= 5 - 10
    with pytest.raises(ConfigError, match="bootstrap_samples"):
        X.bootstrap_difference(t, c, n_resamples=10)


# --------------------------------------------------------------------------- power


def test_sample_size_against_the_hand_formula():
    plan = X.sample_size(200.0, 250.0, 0.05)  # delta = 10
    per_arm = math.ceil(2 * (Z_975 + Z_80) ** 2 * 250**2 / 10**2)
    assert plan.n_control == plan.n_treatment == per_arm == 9812
    assert plan.delta == pytest.approx(10.0)
    # Lehr's rule of thumb: 16 sd^2 / delta^2 per group for 80% power at alpha 0.05
    assert plan.n_control == pytest.approx(16 * 250**2 / 10**2, rel=0.02)
    # 90% power, alpha 0.01
    plan = X.sample_size(100.0, 40.0, 0.1, alpha=0.01, power=0.9)
    assert plan.n_control == math.ceil(2 * (2.575829 + Z_90) ** 2 * 40**2 / 10**2)


def test_sample_size_with_an_unequal_split_and_cuped():
    plan = X.sample_size(50.0, 80.0, 0.2, treatment_share=0.2)  # delta = 10
    total = (Z_975 + Z_80) ** 2 * 80**2 / (10**2 * 0.2 * 0.8)
    assert plan.n_treatment == math.ceil(0.2 * total)
    assert plan.n_control == math.ceil(0.8 * total)
    raw = X.sample_size(200.0, 300.0, 0.05)
    with_cuped = X.sample_size(200.0, 300.0, 0.05, rho=0.6)
    assert with_cuped.n_control == pytest.approx(raw.n_control * (1 - 0.36), abs=1)


def test_power_and_detectable_effect_invert_the_sample_size():
    plan = X.sample_size(200.0, 300.0, 0.05, power=0.8)
    achieved = X.power(plan.n_control, plan.n_treatment, 300.0, plan.delta)
    assert 0.8 <= achieved < 0.8005
    mde = X.minimum_detectable_effect(plan.n_control, plan.n_treatment, 300.0, power=0.8)
    assert mde == pytest.approx(plan.delta, rel=1e-3)
    assert X.power(1000, 1000, 300.0, 0.0) == pytest.approx(0.05)  # no effect: the false-alarm rate


def test_computed_power_matches_simulated_pilots():
    """Monte Carlo: pilots of the planned size detect the effect about 80% of the time, raw and with CUPED."""
    rng = np.random.default_rng(12)
    mean, sd, delta, rho, sims = 200.0, 100.0, 10.0, 0.6, 600
    raw_plan = X.sample_size(mean, sd, delta / mean)
    cuped_plan = X.sample_size(mean, sd, delta / mean, rho=rho)
    n = raw_plan.n_control
    y_c = rng.normal(mean, sd, (sims, n))
    y_t = rng.normal(mean + delta, sd, (sims, n))
    detected = stats.ttest_ind(y_t, y_c, axis=1, equal_var=False).pvalue < 0.05
    assert detected.mean() == pytest.approx(0.8, abs=0.05)
    m = cuped_plan.n_control
    hits = 0
    for _ in range(sims):  # correlated pre-period and outcome, CUPED analysis
        x = rng.normal(mean, sd, 2 * m)
        y = mean + rho * (x - mean) + rng.normal(0, sd * math.sqrt(1 - rho**2), 2 * m)
        y[:m] += delta
        hits += X.cuped(y[:m], x[:m], y[m:], x[m:]).adjusted.p_value < 0.05
    assert hits / sims == pytest.approx(0.8, abs=0.05)
    assert m < 0.7 * n


def test_power_curve_columns_and_shape():
    curve = X.power_curve(300.0, 10.0, rho=0.7, up_to=50_000)
    assert list(curve.columns) == ["n_total", "power_raw", "power_cuped"]
    assert curve["power_raw"].is_monotonic_increasing and (curve["power_cuped"] >= curve["power_raw"]).all()
    assert curve["n_total"].max() <= 50_000


# --------------------------------------------------------------------------- segments


def test_holm_by_hand():
    np.testing.assert_allclose(X.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(X.holm([0.5, 0.001]), [0.5, 0.002])


def test_segments_raw_match_scipy_and_carry_the_corrections():
    pilot = simulate_pilot(6000, 10.0, 0.6, 8)
    seg = X.effects_by_segment(pilot.frame, use_cuped=False)
    frame = pilot.frame
    assert seg.n_segments == 3 and list(seg.table["segment"]) == ["light", "medium", "heavy"]  # largest first
    for row in seg.table.itertuples():
        part = frame[frame["segment"] == row.segment]
        t = part.loc[part["group"] == "treatment", "outcome"]
        c = part.loc[part["group"] == "control", "outcome"]
        ref = stats.ttest_ind(t, c, equal_var=False)
        ci = ref.confidence_interval()
        assert row.p_value == pytest.approx(ref.pvalue)
        assert (row.ci_low, row.ci_high) == pytest.approx((ci.low, ci.high))
        # Bonferroni: the simultaneous interval uses alpha / 3
        q = stats.t.ppf(1 - 0.05 / 6, ref.df)
        assert row.ci_high_simultaneous - row.difference == pytest.approx(q * row.se)
    assert seg.false_alarm_chance == pytest.approx(1 - 0.95**3)
    assert seg.heterogeneity_df == 2


def test_cochran_q_for_two_segments_is_the_squared_z_of_their_difference():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "group": np.tile(["treatment", "control"], 2000),
            "segment": np.repeat(["a", "b"], 2000),
            "outcome": rng.gamma(2, 50, 4000),
            "pre_metric": rng.gamma(2, 50, 4000),
        }
    )
    seg = X.effects_by_segment(frame, use_cuped=False)
    d, se = seg.table["difference"].to_numpy(), seg.table["se"].to_numpy()
    assert seg.heterogeneity_q == pytest.approx((d[0] - d[1]) ** 2 / (se[0] ** 2 + se[1] ** 2))
    assert seg.heterogeneity_p == pytest.approx(stats.chi2.sf(seg.heterogeneity_q, 1))


def test_cuped_segment_effects_recover_the_known_segment_effects():
    pilot = simulate_pilot(200_000, 20.0, 0.7, 21)
    seg = X.effects_by_segment(pilot.frame)
    for row in seg.table.itertuples():
        true = pilot.truth["segment_effects"][row.segment]
        assert abs(row.difference - true) < 3.5 * row.se, row.segment


def test_many_segments_are_pooled_and_tiny_ones_left_out():
    rng = np.random.default_rng(0)
    n = 3000
    frame = pd.DataFrame(
        {
            "group": np.where(rng.random(n) < 0.5, "treatment", "control"),
            "segment": np.concatenate([np.repeat([f"s{i:02d}" for i in range(20)], 149), ["tiny"] * 20]),
            "outcome": rng.gamma(2, 50, n),
            "pre_metric": rng.gamma(2, 50, n),
        }
    )
    frame.loc[frame["segment"] == "tiny", "group"] = "control"
    seg = X.effects_by_segment(frame, max_segments=5)
    assert seg.n_segments == 5 and X.OTHER_SEGMENT in set(seg.table["segment"])
    assert len(seg.pooled) == 17
    seg = X.effects_by_segment(frame, max_segments=30)
    assert seg.too_small == ["tiny"] and seg.n_segments == 20


# --------------------------------------------------------------------------- decision and readout


def _effect(low: float, high: float) -> X.Effect:
    mid = (low + high) / 2
    return X.Effect("CUPED", 100, 100, 1 + mid, 1.0, 1.0, 1.0, mid, 1.0, 100.0, low, high, 0.5, 0.05,
                    mid, 0.1, mid - 0.2, mid + 0.2)


@pytest.mark.parametrize(
    ("low", "high", "action"),
    [(1.0, 5.0, X.ROLL_OUT), (-5.0, -1.0, X.STOP), (-1.0, 1.5, X.STOP), (-1.0, 5.0, X.EXTEND)],
)
def test_decision_rule(low, high, action):
    fair = X.srm_test(500, 500)
    assert X.decide(_effect(low, high), fair, minimum_worthwhile=2.0).action == action


def test_decision_waits_for_a_broken_split():
    assert X.decide(_effect(1.0, 5.0), X.srm_test(4500, 5500), 2.0).action == X.CHECK_SPLIT


def test_readout_on_a_simulated_pilot(tmp_path):
    pilot = simulate_pilot(10_000, 15.0, 0.7, 42)
    readout = X.run_readout(pilot, X.ReadoutSettings(bootstrap_samples=500, seed=1, mde=0.05))
    assert readout.headline is readout.cuped.adjusted
    assert readout.truth_covered is True
    assert readout.minimum_worthwhile == pytest.approx(0.05 * readout.cuped.raw.control_mean)
    assert readout.plan_cuped.n_total < readout.plan_raw.n_total
    assert readout.segments is not None and readout.conversion is not None
    # no true effect on conversion in the simulation
    assert readout.conversion.ci_low < 0 < readout.conversion.ci_high
    paths = X.write_readout(tmp_path, readout, pilot)
    text = paths["json"].read_text(encoding="utf-8")
    assert "NaN" not in text and "S0000001" not in text  # valid JSON, no customer ids
    saved = json.loads(text)
    assert saved["decision"]["action"] == readout.decision.action
    assert saved["cuped"]["adjusted"]["difference"] == pytest.approx(readout.headline.difference)
    assert len(pd.read_csv(paths["segments"])) == 3


def test_readout_settings_are_validated():
    with pytest.raises(ConfigError, match=r"^pilot settings: alpha = 0\.5: expected a value < 0\.5$"):
        X.ReadoutSettings(alpha=0.5)
    with pytest.raises(ConfigError, match=r"^pilot settings: mde = 0: expected a value > 0"):
        X.ReadoutSettings(mde=0)
    with pytest.raises(ConfigError, match=r"^pilot settings: planning_power = 1\.0: expected a value < 1"):
        X.ReadoutSettings(planning_power=1.0)
    with pytest.raises(ConfigError, match=r"^pilot settings: bootstrap_samples = '500': expected a whole number$"):
        X.ReadoutSettings(bootstrap_samples="500")  # text from a -p flag is not a number


# --------------------------------------------------------------------------- page text and figures


def _readout(n, effect, seed, drop_treated=0.0, language="en"):
    pilot = simulate_pilot(n, effect, 0.7, seed, language=language)
    if drop_treated:
        frame = pilot.frame
        gone = (frame["group"] == "treatment") & (np.random.default_rng(0).random(len(frame)) < drop_treated)
        pilot = dataclasses.replace(pilot, frame=frame[~gone].reset_index(drop=True))
    return X.run_readout(pilot, X.ReadoutSettings(bootstrap_samples=200, seed=1))


def test_page_text_follows_the_decision():
    from helpers.studies.pilot import narrative as N

    win = _readout(20_000, 40.0, 1)
    assert win.decision.action == X.ROLL_OUT
    assert N.headline(win, "spend per customer", "¥").startswith("**Yes: the campaign raised spend per customer by ¥")
    assert N.actions(win, "spend", "¥").startswith("**Roll out.**")
    unclear = _readout(600, 0.0, 2)
    assert unclear.decision.action == X.EXTEND
    assert N.headline(unclear, "spend", "¥").startswith("**Not proven")
    text = N.actions(unclear, "spend", "¥")
    assert f"{unclear.plan_cuped.n_total:,} customers" in text and "The rule on this page" in text
    broken = _readout(20_000, 40.0, 3, drop_treated=0.1)
    assert broken.srm.mismatch and broken.decision.action == X.CHECK_SPLIT
    assert N.headline(broken, "spend", "¥").startswith("**Do not read this pilot yet")
    assert "fails the check" in N.srm(broken.srm)
    assert "14%" in N.segments(win.segments)  # 1 - 0.95^3 false-alarm chance with 3 segments
    assert "Known truth" in N.headline(win, "spend", "¥")
    assert "Simulated data" in N.assumptions(win, simulated=True)


def test_amounts_keep_cents_and_escape_dollars():
    from helpers.studies.pilot.narrative import amount

    assert amount(11.024, "¥", signed=True) == "+¥11.02"
    assert amount(-3.5, "$") == "-\\$3.50"
    assert amount(1234.4, "¥") == "¥1,234"
    assert amount(25_000, "$") == "\\$25.0k"
    assert amount(float("nan"), "¥") == "n/a"


def test_figures_draw_the_readout():
    import matplotlib.pyplot as plt

    from helpers.studies.pilot import figures as F

    r = _readout(5000, 10.0, 4)
    fig = F.effect_intervals(r.cuped.raw, r.cuped.adjusted, minimum_worthwhile=r.minimum_worthwhile,
                             true_effect=10.0, currency="¥")
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["Raw difference", "CUPED-adjusted"]
    fig2 = F.segment_forest(r.segments, r.cuped.adjusted, currency="¥")
    assert len(fig2.axes[0].get_yticklabels()) == r.segments.n_segments + 1
    fig3 = F.bootstrap_distribution(r.bootstrap, r.cuped.raw, currency="¥")
    fig4 = F.power_curve(r.curve, target_power=0.8, current_n=r.n_total, needed_raw=r.plan_raw.n_total,
                         needed_cuped=r.plan_cuped.n_total, mde=0.05)
    assert len(fig4.axes[0].lines) >= 4
    for f in (fig, fig2, fig3, fig4):
        plt.close(f)


def test_decision_and_segment_labels_in_both_languages():
    assert [X.decision_label(a) for a in (X.ROLL_OUT, X.EXTEND, X.STOP, X.CHECK_SPLIT)] == [
        "Roll out", "Extend the pilot", "Stop", "Check the split first"]
    assert [X.decision_label(a, "zh-CN") for a in (X.ROLL_OUT, X.EXTEND, X.STOP, X.CHECK_SPLIT)] == [
        "全面推广", "延长试点", "停止", "先检查分组"]
    assert X.segment_label(X.OTHER_SEGMENT) == X.OTHER_SEGMENT
    assert X.segment_label(X.OTHER_SEGMENT, "zh-CN") == "（其他分群）"
    assert X.segment_label("(no segment)", "zh-CN") == "（未分群）"
    assert X.segment_label("金卡", "zh-CN") == "金卡" and X.segment_label("gold", "zh-CN") == "gold"


#: Latin words a Chinese page may keep: method names, authors, parameter names in code spans.
_LATIN_OK = {"CUPED", "Holm", "Cochran", "Welch", "Deng", "delta", "data_path", "column_map", "segment", "converted"}


def _latin_words(markdown: str) -> set[str]:
    import re

    return set(re.findall(r"[A-Za-z_]{4,}", markdown)) - _LATIN_OK


def test_page_text_in_chinese():
    from helpers.studies.pilot import narrative as N

    zh = "zh-CN"
    win = _readout(20_000, 40.0, 1, language=zh)
    head = N.headline(win, "", "¥", zh)
    assert head.startswith("**有效：活动提升了人均消费**，平均每位客户 ¥")
    assert "spend per customer" in N.headline(win, "", "¥")  # empty metric name: the default words
    assert N.actions(win, "", "¥", zh).startswith("**全面推广**。")
    unclear = _readout(600, 0.0, 2)
    assert N.headline(unclear, "人均消费", "¥", zh).startswith("**尚无定论")
    extend = N.actions(unclear, "人均消费", "¥", zh)
    assert extend.startswith("**延长试点**。") and f"**{unclear.plan_cuped.n_total:,} 位客户**" in extend
    broken = _readout(20_000, 40.0, 3, drop_treated=0.1)
    assert N.actions(broken, "", "¥", zh).startswith("**先检查分组**。")
    assert "分组未通过检验" in N.srm(broken.srm, language=zh)
    assert "14%" in N.segments(win.segments, "¥", zh)
    assert "低消费客户、中消费客户" in N.segments(win.segments, "¥", zh)
    assert "p < 0.001" in N.segments(win.segments, "¥", zh)  # not "p = < 0.001"
    texts = [
        head, N.actions(win, "", "¥", zh), N.actions(unclear, "", "¥", zh), N.headline(broken, "", "¥", zh),
        N.srm(win.srm, win.cuped.pre_period, "¥", zh), N.raw_vs_cuped(win.cuped, "¥", zh),
        N.bootstrap(win.bootstrap, win.cuped.raw, "¥", zh), N.conversion(win.conversion, zh),
        N.segments(win.segments, "¥", zh), N.segments(None, "¥", zh), N.planning(win, "¥", zh),
        N.assumptions(win, True, zh), N.no_conversion(zh),
        N.data_source("simulated pilot", win.truth, 20_000, "¥", zh),
    ]
    for text in texts:
        assert not _latin_words(text), (_latin_words(text), text)
        assert "points" not in text and " to " not in text


def test_amounts_in_chinese_use_wan():
    from helpers.studies.pilot.narrative import amount

    assert amount(25_000, "¥", language="zh-CN") == "¥2.5万"
    assert amount(11.024, "¥", signed=True, language="zh-CN") == "+¥11.02"
    assert amount(float("nan"), "¥", language="zh-CN") == "无法计算"


def test_tables_and_figures_in_chinese():
    import matplotlib.pyplot as plt

    from helpers.studies.pilot import figures as F
    from helpers.studies.pilot import narrative as N

    r = _readout(5000, 10.0, 4)
    effects = N.effects_table(r, "¥", "zh-CN").data
    assert list(effects.columns) == ["估计方法", "对照组均值（¥）", "实验组均值（¥）", "差值（¥）", "95% 下限（¥）",
                                     "95% 上限（¥）", "相对提升", "p 值"]
    assert effects.iloc[:, 0].tolist() == ["未调整差值", "CUPED 调整后", "自助法（未调整）"]
    segments = N.segments_table(r.segments, "¥", "zh-CN").data
    assert segments.iloc[:, 0].tolist() == r.segments.table["segment"].tolist()  # the file's labels as they are
    assert "效应（¥）" in segments.columns and "p 值（Holm 校正）" in segments.columns
    fig = F.effect_intervals(r.cuped.raw, r.cuped.adjusted, minimum_worthwhile=r.minimum_worthwhile,
                             true_effect=10.0, currency="¥", language="zh-CN")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["未调整差值", "CUPED 调整后"]
    assert ax.get_title() == "每位客户的效应及 95% 置信区间" and ax.get_xlabel() == "实验组减对照组（¥）"
    assert ax.get_legend_handles_labels()[1] == ["值得推广的最小效应", "已知真实效应"]
    fig2 = F.segment_forest(r.segments, r.cuped.adjusted, currency="¥", language="zh-CN")
    assert fig2.axes[0].get_yticklabels()[-1].get_text() == "全部客户（5,000 人）"
    fig3 = F.bootstrap_distribution(r.bootstrap, r.cuped.raw, currency="¥", language="zh-CN")
    assert fig3.axes[0].get_ylabel() == "密度"
    fig4 = F.power_curve(r.curve, target_power=0.8, current_n=r.n_total, mde=0.05, language="zh-CN")
    assert fig4.axes[0].get_ylabel() == "统计功效" and "+5%" in fig4.axes[0].get_title()
    for f in (fig, fig2, fig3, fig4):
        plt.close(f)
