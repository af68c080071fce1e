"""Issue 11, "Honest numbers": what the CLV page states matches what the numbers are."""

import json

import numpy as np
import pandas as pd
import pytest

from helpers.models.summary import calibration_holdout_summary
from helpers.studies.clv import analysis as clv
from helpers.studies.clv import narrative, tables
from helpers.studies.clv.exports import write_outputs
from helpers.studies.clv.study import run_clv_study

from ._cdnow import CALIBRATION_END, OBSERVATION_END, sample


@pytest.fixture(scope="module")
def sample_study():
    settings = clv.ClvSettings(calibration_end=CALIBRATION_END, observation_end=OBSERVATION_END)
    return run_clv_study(sample(), settings, compare=("bgnbd",))


def test_cumulative_curve_ends_at_the_observation_end_with_published_week_78(sample_study):
    """FHL (2005) CDNOW sample: 78 weeks 1997-01-01..1998-06-30; week 78 model 4,165.7, actual 4,339."""
    table = sample_study.cumulative
    last = table.iloc[-1]
    assert len(table) == 78 and last["step"] == 78
    assert pd.Timestamp(last["date"]) == pd.Timestamp(OBSERVATION_END)
    assert last["predicted"] == pytest.approx(4165.7, abs=0.5)
    assert last["actual"] == 4339
    text = narrative.cumulative(table, "en", "W")
    assert "1998-06-30" in text and "78 weeks" in text and "4,165.7" in text and "4,339" in text
    assert "1998-06-30" in narrative.cumulative(table, "zh-CN", "W")


def test_a_partial_last_week_still_reaches_the_observation_end():
    table = clv.cumulative_repeat_transactions(
        clv.fit_purchase_model(
            calibration_holdout_summary(sample(), CALIBRATION_END, "1998-06-27", "W"), "bgnbd", suffix="_cal"
        ),
        sample(), CALIBRATION_END, "1998-06-27", "W",
    )
    assert pd.Timestamp(table["date"].iloc[-1]) == pd.Timestamp("1998-06-27")
    assert len(table) == 78  # 77 full weeks and 3 days
    assert table["date"].is_monotonic_increasing


def test_each_fit_is_labelled_by_its_period_and_both_are_exported(sample_study, tmp_path):
    study = sample_study
    assert study.calibration_period == ("1997-01-01", CALIBRATION_END)
    assert study.full_period == ("1997-01-01", OBSERVATION_END)
    html = tables.parameters(
        [study.calibration_model, study.purchase_model], "en",
        periods=[study.calibration_period, study.full_period],
    ).to_html()
    assert "BG/NBD, fitted on 1997-01-01 to 1997-09-30" in html
    assert "BG/NBD, fitted on 1997-01-01 to 1998-06-30" in html
    paths = write_outputs(tmp_path, study.table, study.metrics)
    exported = json.loads(paths["json"].read_text())
    cal, full = exported["calibration_model"], exported["purchase_model"]
    assert cal["period"] == {"start": "1997-01-01", "end": CALIBRATION_END}
    assert full["period"] == {"start": "1997-01-01", "end": OBSERVATION_END}
    # the calibration fit is the one FHL (2005) publish: r .243, alpha 4.414, a .793, b 2.426
    assert cal["params"]["r"] == pytest.approx(0.243, abs=1e-3)
    assert cal["params"]["alpha"] == pytest.approx(4.414, abs=1e-3)
    assert cal["params"]["a"] == pytest.approx(0.793, abs=1e-3)
    assert cal["params"]["b"] == pytest.approx(2.426, abs=1e-3)
    assert full["params"]["r"] != pytest.approx(cal["params"]["r"], abs=1e-3)


def test_parameter_intervals_are_built_on_the_log_scale():
    """Pareto/NBD beta on the CDNOW sample has a large standard error: the natural-scale
    interval crossed zero (-0.5 to 23.8); on the log scale it stays positive."""
    cal = calibration_holdout_summary(sample(), CALIBRATION_END, OBSERVATION_END, "W")
    model = clv.fit_purchase_model(cal, "pareto", suffix="_cal")
    table = model.params_table()
    assert (table["lower_95"] > 0).all()
    se_log = table["std_error"] / table["estimate"]
    np.testing.assert_allclose(np.log(table["lower_95"]), np.log(table["estimate"]) - 1.96 * se_log)
    np.testing.assert_allclose(np.log(table["upper_95"]), np.log(table["estimate"]) + 1.96 * se_log)
    beta = table.loc["beta"]
    assert beta["estimate"] - 1.96 * beta["std_error"] < 0 < beta["lower_95"] < beta["estimate"] < beta["upper_95"]


PARAMS = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "pareto": {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67},
}


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_exact_count_distribution_matches_the_generative_process_and_the_mean(name):
    from helpers.models.count_distribution import count_probabilities
    from helpers.models.simulation import simulate_repeat_counts

    ages = np.array([0.0, 5.0, 39.0, 78.0])
    exact = count_probabilities(name, PARAMS[name], ages, 4)
    np.testing.assert_allclose(exact.sum(axis=1), 1.0, atol=1e-12)
    assert exact[0, 0] == pytest.approx(1.0)  # nothing happens in no time
    rng = np.random.default_rng(7)
    n = 200_000
    for i, t in enumerate(ages[1:], start=1):
        draws = np.minimum(simulate_repeat_counts(name, PARAMS[name], np.full(n, t), rng), 4)
        simulated = np.bincount(draws, minlength=5) / n
        np.testing.assert_allclose(exact[i], simulated, atol=4.5 * np.sqrt(0.25 / n))
    # the mean of the full distribution is the closed-form E[X(t)] lifetimes gives
    wide = count_probabilities(name, PARAMS[name], ages[1:], 600)
    mean = (wide[:, :-1] * np.arange(600)).sum(axis=1)
    closed = _population_mean(name, PARAMS[name], ages[1:])
    np.testing.assert_allclose(mean, closed, rtol=2e-4)


def _population_mean(name, p, t):
    """E[X(t)] by the published closed forms (FHL 2005 eq. 7; Batislam et al.; Schmittlein et al.)."""
    from scipy.special import hyp2f1

    r, alpha = p["r"], p["alpha"]
    if name == "pareto":
        s, beta = p["s"], p["beta"]
        return r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    a, b = p["a"], p["b"]
    z = t / (alpha + t)
    core = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    return core if name == "bgnbd" else b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b + 1, a + b, z))


def test_period_transactions_model_column_is_the_exact_expectation(sample_study):
    """The 20-copy simulation said 106.6 customers with 3 repeat purchases; the exact value is 101.2."""
    from helpers.models.count_distribution import count_probabilities

    table = sample_study.period_fit
    cal = sample_study.calibration
    ages = cal["T_cal"].to_numpy()
    by_hand = count_probabilities("bgnbd", sample_study.calibration_model.params, ages, 7).sum(axis=0)
    np.testing.assert_allclose(table["model"], by_hand, rtol=1e-12)
    assert table["model"].iloc[3] == pytest.approx(101.16, abs=0.01)
    assert table["model"].sum() == pytest.approx(len(cal), rel=1e-9)


def test_chi_square_fit_test_by_hand():
    from scipy import stats

    table = pd.DataFrame({"actual": [50, 30, 12, 5, 3], "model": [48.0, 33.0, 11.0, 5.0, 3.0]})
    result = clv.period_fit_test(table, n_params=1)
    # the last two buckets (expected 5 and 3) pool as 3 < 5: four groups remain... then 8 >= 5
    obs, exp = np.array([50, 30, 12, 8]), np.array([48.0, 33.0, 11.0, 8.0])
    expected_stat = ((obs - exp) ** 2 / exp).sum()
    assert result["buckets"] == 4 and result["df"] == 2
    assert result["chi_square"] == pytest.approx(expected_stat)
    assert result["p_value"] == pytest.approx(stats.chisquare(obs, exp, ddof=1).pvalue)


def test_period_fit_test_is_on_the_page(sample_study):
    test = sample_study.period_fit_test
    assert test["df"] == test["buckets"] - 1 - 4
    words = narrative.period_transactions(sample_study.period_fit, "en", test)
    assert f"{test['chi_square']:,.1f}" in words and "χ²" in words
    assert "χ²" in narrative.period_transactions(sample_study.period_fit, "zh-CN", test)


def test_lapsed_on_the_clv_page_has_the_recency_guard(sample_study):
    table = sample_study.table
    one_time = table[table["frequency"] == 0]
    assert (one_time["p_alive"] == 1).all()  # BG/NBD's blind spot
    silent = one_time[one_time["days_since_last"] > 365]
    assert len(silent) > 0 and silent["lapsed"].all()
    # days since last purchase and the last purchase date agree with the summary, by hand
    row = table.iloc[0]
    assert row["days_since_last"] == round((row["T"] - row["recency"]) * 7)
    assert row["last_purchase"] + pd.Timedelta(days=int(row["days_since_last"])) == pd.Timestamp(OBSERVATION_END)
    m = sample_study.metrics
    assert m["lapsed_customers"] == int(((table["p_alive"] < 0.5) | (table["days_since_last"] > 365)).sum())
    assert m["lapsed_rule"] == {"alive_threshold": 0.5, "lapsed_days": 365}
    words = narrative.headline(m, "$", "en")
    assert "more than 365 days" in words and "one-time buyer" in words
    assert "365" in narrative.headline(m, "$", "zh-CN")


def test_lapsed_counts_agree_across_models_once_recency_guards():
    """Without the guard the CDNOW sample had far fewer lapsed under BG/NBD than Pareto/NBD."""
    settings = {"calibration_end": CALIBRATION_END, "observation_end": OBSERVATION_END}
    counts = {}
    for name in ("bgnbd", "pareto"):
        study = run_clv_study(sample(), clv.ClvSettings(**settings, model=name), compare=(name,))
        counts[name] = study.metrics["lapsed_customers"]
        p_only = int((study.table["p_alive"] < 0.5).sum())
        assert counts[name] >= p_only
    assert abs(counts["bgnbd"] - counts["pareto"]) / counts["pareto"] < 0.15


def test_win_back_list_ranks_by_recoverable_value_and_shows_last_purchase(sample_study):
    listed = tables.win_back_list(sample_study.table)
    assert listed["lapsed"].all() and (listed["p_alive"] > 0).all()
    recoverable = listed["frequency"] * listed["monetary_value"] * listed["p_alive"]
    np.testing.assert_allclose(listed["recoverable"], recoverable)
    assert listed["recoverable"].is_monotonic_decreasing
    html = tables.at_risk_customers(sample_study.table, n=10).to_html()
    assert "Last purchase" in html and "Days since" in html and "Recoverable value" in html
    assert "Age at last purchase" not in html
    top = listed.iloc[0]
    assert top["last_purchase"].strftime("%Y-%m-%d") in html
