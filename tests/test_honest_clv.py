"""Issue 11, "Honest numbers": what the CLV page states matches what the numbers are."""

import json

import numpy as np
import pandas as pd
import pytest
from bs4 import BeautifulSoup

from helpers.models.summary import calibration_holdout_summary
from helpers.report.i18n import text
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
    assert "Last purchase (date)" in html and "Days from last purchase to 1998-06-30" in html and "Recoverable value" in html
    assert "Age at last purchase" not in html
    top = listed.iloc[0]
    assert top["last_purchase"].strftime("%Y-%m-%d") in html


def test_customer_tables_show_the_last_purchase_date_and_days_since(sample_study):
    """Hand-computed: A buys on 1997-01-05, 1997-03-10 and 1997-06-20; B on 1997-02-01 and
    1997-09-28. To the observation end 1997-09-30, A's last purchase is 10 + 31 + 31 + 30 = 102
    days back and B's 2; the tables show these, not recency and age in weeks."""
    from helpers.models.summary import customer_summary

    tx = pd.DataFrame({
        "customer_id": ["A", "A", "A", "B", "B"],
        "timestamp": pd.to_datetime(["1997-01-05", "1997-03-10", "1997-06-20", "1997-02-01", "1997-09-28"]),
        "amount": [10.0, 20.0, 30.0, 15.0, 25.0],
    })
    settings = clv.ClvSettings(calibration_end="1997-06-30", observation_end="1997-09-30")
    table = clv.clv_table(
        customer_summary(tx, "1997-09-30", "W"), sample_study.purchase_model, sample_study.spend_model, settings
    )
    assert table.loc["A", "last_purchase"] == pd.Timestamp("1997-06-20") and table.loc["A", "days_since_last"] == 102
    assert table.loc["B", "last_purchase"] == pd.Timestamp("1997-09-28") and table.loc["B", "days_since_last"] == 2
    table["lapsed"] = True  # both on the win-back list too
    for make in (tables.top_customers, tables.at_risk_customers):
        for lang, date_header, days_header in (
            ("en", "Last purchase (date)", "Days from last purchase to 1997-09-30"),
            ("zh-CN", "最近购买日期", "最近购买距 1997-09-30 天数"),
        ):
            html = make(table, allow_raw_ids=True, language=lang).to_html()
            soup = BeautifulSoup(html, "html.parser")
            header = [th.get_text(strip=True) for th in soup.select("thead th")]
            rows = {cells[0]: dict(zip(header, cells)) for cells in (
                [td.get_text(strip=True) for td in tr.find_all("td")] for tr in soup.select("tbody tr")
            )}
            assert header[0] == text("clv.table.customer", lang)
            assert (rows["A"][date_header], rows["A"][days_header]) == ("1997-06-20", "102")
            assert (rows["B"][date_header], rows["B"][days_header]) == ("1997-09-28", "2")
            assert "客龄" not in html and "Age" not in html and "(weeks)" not in html


# --- CLV uncertainty ------------------------------------------------------------------


def test_parameter_draws_follow_the_log_normal_of_the_fit(sample_study):
    from helpers.studies.clv.uncertainty import draw_parameters

    model = sample_study.purchase_model
    draws = draw_parameters(model, 20_000, np.random.default_rng(3))
    logs = np.log(np.array([[d[k] for k in model.params] for d in draws]))
    centre = np.log(np.array(list(model.params.values())))
    tolerance = 4 * np.sqrt(np.diag(model.log_covariance) / 20_000)
    assert (np.abs(logs.mean(axis=0) - centre) < tolerance).all()
    cov = model.log_covariance
    var = np.diag(cov)
    sampling_se = np.sqrt((np.outer(var, var) + cov**2) / 20_000)  # standard error of a sample covariance
    assert (np.abs(np.cov(logs.T) - cov) < 4.5 * sampling_se).all()
    # the standard errors on the page are the same covariance, mapped back: se = p x se(log p)
    se = np.sqrt(np.diag(model.log_covariance)) * np.exp(centre)
    np.testing.assert_allclose(se, list(model.standard_errors.values()), rtol=1e-9)


def test_draws_recompute_the_point_clv_when_the_covariance_vanishes(sample_study):
    """With (almost) no parameter uncertainty every draw is the point estimate: the draw path
    recomputes exactly the CLV of the table, customer by customer and in total."""
    import dataclasses

    from helpers.studies.clv.uncertainty import clv_uncertainty

    study = sample_study
    tiny = [dataclasses.replace(m, log_covariance=np.eye(len(m.params)) * 1e-18)
            for m in (study.purchase_model, study.spend_model)]
    u = clv_uncertainty(study.table, *tiny, study.settings, draws=5, groups=study.table["lapsed"].rename("lapsed"))
    np.testing.assert_allclose(u.low, study.table["clv"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(u.high, study.table["clv"], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(u.total, study.metrics["clv_total"], rtol=1e-6)
    np.testing.assert_allclose(u.top_share, study.metrics["top10_share"], rtol=1e-6)
    by_hand = study.table.groupby("lapsed")["clv"].sum()
    np.testing.assert_allclose(u.groups["clv"], by_hand.to_numpy())
    np.testing.assert_allclose(u.groups["low"], by_hand.to_numpy(), rtol=1e-6)


def test_intervals_on_the_headline_and_in_the_csv(sample_study, tmp_path):
    study = sample_study
    m = study.metrics
    u = m["uncertainty"]
    assert u["clv_total_low"] < m["clv_total"] < u["clv_total_high"]
    assert u["top_share_low"] < m["top10_share"] < u["top_share_high"]
    assert (study.table["clv_low"] <= study.table["clv"] + 1e-9).all()
    assert (study.table["clv"] <= study.table["clv_high"] + 1e-9).all()
    paths = write_outputs(tmp_path, study.table, m)
    csv = pd.read_csv(paths["csv"])
    assert {"clv_low", "clv_high", "last_purchase", "days_since_last"} <= set(csv.columns)
    words = narrative.headline(m, "$", "en")
    assert "90% interval" in words and "draws of the fitted parameters" in words
    method = narrative.uncertainty_method(m, "en")
    assert "log scale" in method and "200 draws" in method and "not how much one customer" in method
    assert "200" in narrative.uncertainty_method(m, "zh-CN")


def test_holdout_spend_by_hand(sample_study):
    from helpers.models import lifetimes_adapter as la

    cal = pd.DataFrame({
        "frequency_cal": [0, 1, 2, 3, 4, 5], "recency_cal": [0.0, 2, 5, 8, 9, 10], "T_cal": [10.0] * 6,
        "monetary_value_cal": [0.0, 10, 20, 30, 40, 50], "frequency_holdout": [0, 1, 0, 2, 3, 1],
        "monetary_value_holdout": [0.0, 12, 0, 25, 30, 60], "duration_holdout": [5.0] * 6,
    })
    model, spend = sample_study.calibration_model, sample_study.spend_model  # any fitted pair
    overall, deciles = clv.holdout_spend(model, spend, cal, deciles=3)
    predicted = clv.holdout_predictions(model, cal) * la.expected_spend(spend, cal["frequency_cal"], cal["monetary_value_cal"])
    actual = np.array([0, 12, 0, 50, 90, 60.0])
    assert overall["actual_total"] == pytest.approx(212.0)
    assert overall["predicted_total"] == pytest.approx(predicted.sum())
    assert overall["error_pct"] == pytest.approx(100 * (predicted.sum() - 212) / 212)
    order = np.argsort(predicted, kind="stable")
    assert deciles["customers"].tolist() == [2, 2, 2]
    np.testing.assert_allclose(deciles["actual"], [actual[order[:2]].sum(), actual[order[2:4]].sum(), actual[order[4:]].sum()])
    np.testing.assert_allclose(deciles["predicted"], [predicted[order[:2]].sum(), predicted[order[2:4]].sum(),
                                                      predicted[order[4:]].sum()])
    assert overall["top_decile_actual"] == pytest.approx(actual[order[4:]].sum())
    # the study passes the holdout predictions it already has: the same results, and those are used
    purchases = clv.holdout_predictions(model, cal)
    again, again_deciles = clv.holdout_spend(model, spend, cal, deciles=3, predicted=purchases)
    assert again == overall
    pd.testing.assert_frame_equal(again_deciles, deciles)
    doubled, _ = clv.holdout_spend(model, spend, cal, deciles=3, predicted=2 * purchases)
    assert doubled["predicted_total"] == pytest.approx(2 * overall["predicted_total"], rel=1e-12)


def test_each_segment_value_has_an_interval_from_the_same_draws(sample_study):
    from pathlib import Path

    from helpers.studies.segments import narrative as story
    from helpers.studies.segments.analysis import (
        load_segment_map,
        segment_customers,
        segment_summary,
    )
    from helpers.studies.segments.study import segment_value_intervals

    smap = load_segment_map(Path(__file__).resolve().parents[1] / "playbooks" / "segment_map.yaml")
    customers = segment_customers(sample(), sample_study.table, smap, OBSERVATION_END)
    summary = segment_value_intervals(segment_summary(customers, smap), customers, sample_study)
    filled = summary[summary["customers"] > 0]
    assert (filled["clv_low"] <= filled["clv"] + 1e-9).all() and (filled["clv"] <= filled["clv_high"] + 1e-9).all()
    assert (filled["clv_high"] > filled["clv_low"]).any()
    assert filled["clv"].sum() == pytest.approx(sample_study.metrics["clv_total"])
    row = filled.iloc[0]
    numbers = dict(story.segment_numbers(row, "$", "total", "en"))
    assert any("90% interval" in v for v in numbers.values())


def test_segment_intervals_without_the_clv_studys_draws_are_the_same(sample_study):
    """The segments notebook runs the CLV study with draws=0 and the segment intervals with
    the default draws: the same numbers as following the CLV study's own draws."""
    import dataclasses
    from pathlib import Path

    from helpers.studies.clv.uncertainty import DEFAULT_DRAWS
    from helpers.studies.segments.analysis import (
        load_segment_map,
        segment_customers,
        segment_summary,
    )
    from helpers.studies.segments.study import segment_value_intervals

    smap = load_segment_map(Path(__file__).resolve().parents[1] / "playbooks" / "segment_map.yaml")
    customers = segment_customers(sample(), sample_study.table, smap, OBSERVATION_END)
    summary = segment_summary(customers, smap)
    followed = segment_value_intervals(summary, customers, sample_study)
    bare = dataclasses.replace(sample_study, uncertainty=None)
    own = segment_value_intervals(summary, customers, bare, draws=DEFAULT_DRAWS)
    pd.testing.assert_frame_equal(own, followed)
    assert "clv_low" not in segment_value_intervals(summary, customers, bare)
    assert "clv_low" not in segment_value_intervals(summary, customers, sample_study, draws=0)


def test_segment_intervals_match_grouping_by_segment_text_in_table_order(sample_study):
    """The draws get each customer's segment in the CLV table's order by position (no text per
    customer): the same interval bounds, bit for bit, as the segment names reindexed to the
    table; customers the table holds but the segments lack (here the last ten) are in no group."""
    from pathlib import Path

    from helpers.studies.clv.uncertainty import clv_uncertainty
    from helpers.studies.segments.analysis import (
        load_segment_map,
        segment_customers,
        segment_summary,
    )
    from helpers.studies.segments.study import (
        segment_value_intervals,
        segments_in_order,
    )

    smap = load_segment_map(Path(__file__).resolve().parents[1] / "playbooks" / "segment_map.yaml")
    customers = segment_customers(sample(), sample_study.table, smap, OBSERVATION_END).iloc[:-10]
    cs = sample_study
    text = customers["segment"].astype(str).reindex(cs.table.index).rename("segment")
    coded = segments_in_order(customers["segment"], cs.table.index)
    assert coded.index is cs.table.index
    pd.testing.assert_series_equal(coded.astype(str), text.astype(str))
    # the same group numbers as the names: the draws order their sums by them
    np.testing.assert_array_equal(pd.factorize(coded, sort=True)[0], pd.factorize(text, sort=True)[0])
    u = cs.uncertainty
    expected = clv_uncertainty(cs.table, cs.purchase_model, cs.spend_model, cs.settings, draws=u.draws,
                               level=u.level, seed=u.seed, groups=text, customer_bounds=False).groups
    summary = segment_value_intervals(segment_summary(customers, smap), customers, cs)
    filled = summary[summary["customers"] > 0]
    np.testing.assert_array_equal(filled["clv_low"], expected["low"].reindex(filled.index))
    np.testing.assert_array_equal(filled["clv_high"], expected["high"].reindex(filled.index))


def test_index_card_carries_the_total_clv_interval(sample_study):
    m = sample_study.metrics
    card = narrative.headline_numbers(m, "$", "en")
    labels = list(card)[:3]
    assert labels[0] == "Customers" and labels[2] == "90% interval"
    assert labels[1].startswith("CLV (margin), next 12 months: ")  # dated by the brand work (issue 13)
    u = m["uncertainty"]
    assert card["90% interval"] == f"${u['clv_total_low'] / 1000:.1f}k to ${u['clv_total_high'] / 1000:.1f}k"
    assert "90% 区间" in narrative.headline_numbers(m, "¥", "zh-CN")


def test_all_draws_at_once_equal_the_point_formula_draw_by_draw(sample_study):
    """The interval path computes every BG/NBD draw at once, sharing the hypergeometric terms
    by (frequency, T) and the expected purchases by (frequency, recency, T); each draw must
    equal the point estimate's own formula with that draw's parameters, for any slice of
    customers (slices cut through groups of customers with the same history)."""
    from helpers.models import lifetimes_adapter as la
    from helpers.studies.clv.uncertainty import _draw_values, _spend, draw_parameters

    study, s = sample_study, sample_study.settings
    rng = np.random.default_rng(5)
    models = [la.with_params(study.purchase_model, d) for d in draw_parameters(study.purchase_model, 6, rng)]
    spend = [d for d in draw_parameters(study.spend_model, 12, rng) if d["q"] > 1][:6]
    table = study.table
    f, r, t, m = (table[c].to_numpy("float64") for c in ("frequency", "recency", "T", "monetary_value"))
    order = np.lexsort((t, r, f))
    f, r, t, m = (v[order] for v in (f, r, t, m))
    assert (np.diff(f) == 0).sum() > 100  # groups of customers with the same history exist
    value_of = _draw_values(models, spend, s, f, r, t, m)
    for sl in (slice(0, len(f)), slice(7, len(f) - 3), slice(len(f) // 2 + 1, len(f) // 2 + 40)):
        got = value_of(sl)
        for i, model in enumerate(models):
            expected = s.gross_margin * clv.customer_lifetime_value(
                model, _spend(spend[i], f[sl], m[sl]), f[sl], r[sl], t[sl], months=s.horizon_months,
                monthly_discount_rate=s.monthly_discount_rate, periods_per_month=s.periods_per_month)
            np.testing.assert_allclose(got[:, i], expected, rtol=1e-12, atol=1e-12)


def _values_customer_by_customer(study, draws: int, seed: int) -> np.ndarray:
    """Every customer's CLV in each of clv_uncertainty's draws, (customers, draws), in table
    order: no sorting, no sharing of rows."""
    from helpers.models import lifetimes_adapter as la
    from helpers.studies.clv import uncertainty as unc

    rng = np.random.default_rng(seed)
    models = [la.with_params(study.purchase_model, d) for d in unc.draw_parameters(study.purchase_model, draws, rng)]
    spend = []
    while len(spend) < draws:
        spend += [d for d in unc.draw_parameters(study.spend_model, draws, rng) if d["q"] > 1.0]
    columns = (study.table[c].to_numpy("float64") for c in ("frequency", "recency", "T", "monetary_value"))
    return unc._draw_values(models, spend[:draws], study.settings, *columns)(slice(0, len(study.table)))


def test_intervals_do_not_depend_on_the_chunks(sample_study, monkeypatch):
    """Chunks of customers run two at a time; their sums are added in chunk order and every
    customer's bounds land in its own row: many small chunks give what one chunk gives,
    to the last bit."""
    from helpers.studies.clv import uncertainty as unc

    study, s = sample_study, sample_study.settings
    table = study.table
    groups = pd.Series(np.where(table["frequency"].to_numpy() > 1, "often", "rarely"), index=table.index, name="g")

    def run():
        return unc.clv_uncertainty(table, study.purchase_model, study.spend_model, s, draws=40, seed=3,
                                   groups=groups)

    monkeypatch.setattr(unc, "CHUNK", len(table) + 1)
    one = run()
    monkeypatch.setattr(unc, "CHUNK", 97)  # many chunks, cutting through groups of equal histories
    many = run()
    for field in ("low", "high"):
        np.testing.assert_array_equal(getattr(many, field), getattr(one, field))
    np.testing.assert_allclose(many.total, one.total, rtol=1e-13)
    np.testing.assert_allclose(many.top_share, one.top_share, rtol=1e-13)
    pd.testing.assert_frame_equal(many.groups, one.groups, rtol=1e-13)
    # the sums are over customers, draw by draw (the same draws, in the same order)
    values = _values_customer_by_customer(study, draws=40, seed=3)
    np.testing.assert_allclose(many.total, values.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(many.low, np.quantile(values, 0.05, axis=1), rtol=1e-12)
    often = (groups == "often").to_numpy()
    np.testing.assert_allclose(many.groups.loc["often", "high"], np.quantile(values[often].sum(axis=0), 0.95),
                               rtol=1e-12)
    # without the per-customer bounds (the segment page's case): the same sums, added up by
    # history rather than by customer (so equal to rounding), no bounds
    sums_only = unc.clv_uncertainty(table, study.purchase_model, study.spend_model, s, draws=40, seed=3,
                                    groups=groups, customer_bounds=False)
    np.testing.assert_allclose(sums_only.total, many.total, rtol=1e-13)
    np.testing.assert_allclose(sums_only.top_share, many.top_share, rtol=1e-13)
    pd.testing.assert_frame_equal(sums_only.groups, many.groups, check_exact=False, rtol=1e-13)
    assert np.isnan(sums_only.low).all() and np.isnan(sums_only.high).all()


def test_customers_with_the_same_row_are_computed_once_and_counted_each(sample_study):
    """Customers with equal (frequency, recency, T, monetary value) and the same group and top
    membership share one row of draws (the one-time buyers of a day). Computed once, every
    customer still gets the bounds a customer-by-customer computation gives, to the last bit,
    and each one counts in the total, the top share and its group's sum; a customer without a
    group counts in the total only."""
    from helpers.studies.clv import uncertainty as unc

    study, s = sample_study, sample_study.settings
    table = study.table
    n = len(table)
    labels = np.where(np.arange(n) % 3 == 0, "a", "b").astype(object)  # splits rows with equal histories
    labels[5::50] = None
    groups = pd.Series(labels, index=table.index, name="g")
    rows = unc._DistinctRows.of(np.zeros(n, dtype=int), *(table[c].to_numpy("float64")
                                for c in ("frequency", "recency", "T", "monetary_value")))
    assert len(rows.count) < 0.8 * n and rows.count.sum() == n  # many customers share a row
    got = unc.clv_uncertainty(table, study.purchase_model, study.spend_model, s, draws=30, seed=4, groups=groups,
                              top_fraction=0.3)
    values = _values_customer_by_customer(study, draws=30, seed=4)
    tail = (1.0 - unc.DEFAULT_LEVEL) / 2.0
    np.testing.assert_array_equal(got.low, np.quantile(values, tail, axis=1))
    np.testing.assert_array_equal(got.high, np.quantile(values, 1.0 - tail, axis=1))
    np.testing.assert_allclose(got.total, values.sum(axis=0), rtol=1e-13)
    top = np.argsort(-table["clv"].to_numpy(), kind="stable")[: int(np.ceil(0.3 * n))]
    np.testing.assert_allclose(got.top_share, values[top].sum(axis=0) / values.sum(axis=0), rtol=1e-13)
    for label in ("a", "b"):
        in_group = values[(labels == label)].sum(axis=0)
        np.testing.assert_allclose(got.groups.loc[label, ["low", "high"]].to_numpy(float),
                                   np.quantile(in_group, [tail, 1.0 - tail]), rtol=1e-13)
        assert got.groups.loc[label, "clv"] == pytest.approx(table["clv"][labels == label].sum(), rel=1e-13)


@pytest.mark.parametrize("distinct", [3, 10_000])
def test_packed_codes_order_rows_as_lexsort_does(distinct):
    """One integer per row, in lexsort's order and equal only for equal rows; with 10,000
    distinct values in each of five columns the radix would pass 2**62 and the codes are made
    dense again on the way. Missing values equal each other and come first."""
    from helpers.studies.clv.uncertainty import _packed_codes

    rng = np.random.default_rng(distinct)
    columns = tuple(rng.integers(0, distinct, 20_000) / 7 for _ in range(5))
    packed = _packed_codes(columns)
    np.testing.assert_array_equal(np.argsort(packed, kind="stable"), np.lexsort(columns[::-1]))
    rows = np.stack(columns, axis=1)
    assert len(np.unique(packed)) == len(np.unique(rows, axis=0))
    with_missing = columns[0].copy()
    with_missing[[3, 8]] = np.nan
    packed = _packed_codes((with_missing, np.ones(20_000)))
    assert packed[3] == packed[8] == packed.min() and (np.delete(packed, [3, 8]) > packed[3]).all()


def test_intervals_for_one_customer_and_for_none(sample_study):
    from helpers.studies.clv.uncertainty import clv_uncertainty

    study = sample_study
    args = (study.purchase_model, study.spend_model, study.settings)
    one = clv_uncertainty(study.table.iloc[[7]], *args, draws=20)
    assert one.low[0] <= study.table["clv"].iloc[7] <= one.high[0]
    np.testing.assert_array_equal(one.top_share, np.where(one.total > 0, 1.0, 0.0))
    none = clv_uncertainty(study.table.iloc[:0], *args, draws=20)
    assert len(none.low) == 0 and (none.total == 0).all()


@pytest.mark.parametrize("draws", [1, 2, 3, 7, 40, 199, 200, 201])
def test_row_quantiles_are_numpys_quantiles_bit_for_bit(draws):
    """The bounds are read off each customer's sorted draws with np.quantile's own index,
    weight and interpolation: equal to np.quantile(axis=1) to the last bit, with ties, zeros
    and levels at the ends, for any number of draws."""
    from helpers.studies.clv.uncertainty import row_quantiles

    rng = np.random.default_rng(draws)
    values = rng.lognormal(size=(500, draws)) * 1e3
    values[::7] = np.round(values[::7])  # ties
    values[::11] = 0.0
    values[3] = 5.0  # one customer whose draws are all equal
    for quantiles in ([0.05, 0.95], [0.0, 1.0], [0.5], [0.025, 0.975], [1 / 3, 0.7]):
        expected = np.quantile(values, quantiles, axis=1)
        got = row_quantiles(values.copy(), quantiles)
        assert got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)


def _values_by_point_formula(table, purchase_model, spend_model, settings, draws: int, seed: int) -> np.ndarray:
    """Every customer's CLV in each of clv_uncertainty's draws, (customers, draws), by the point
    estimate's own formula, draw by draw and customer by customer (no tables, no sharing)."""
    from helpers.models import lifetimes_adapter as la
    from helpers.studies.clv import uncertainty as unc

    rng = np.random.default_rng(seed)
    purchase = unc.draw_parameters(purchase_model, draws, rng)
    spend = []
    while len(spend) < draws:
        spend += [d for d in unc.draw_parameters(spend_model, draws, rng) if d["q"] > 1.0]
    f, r, t, m = (table[c].to_numpy("float64") for c in ("frequency", "recency", "T", "monetary_value"))
    return np.stack([
        settings.gross_margin * clv.customer_lifetime_value(
            la.with_params(purchase_model, purchase[i]), unc._spend(spend[i], f, m), f, r, t,
            months=settings.horizon_months, monthly_discount_rate=settings.monthly_discount_rate,
            periods_per_month=settings.periods_per_month)
        for i in range(draws)
    ], axis=1)


def _histories_with_ties(n: int, seed: int) -> pd.DataFrame:
    """A CLV table of generated customers: a third one-time buyers (frequency, recency and
    spend 0, a few ages), the others from a few frequencies, recencies and ages, so that many
    customers share a history, some also their spend; point CLVs with ties."""
    rng = np.random.default_rng(seed)
    f = np.where(rng.random(n) < 0.35, 0, rng.integers(1, 6, n)).astype(float)
    t = rng.choice([20.0, 30.0, 38.5, 52.0], n)
    r = np.where(f > 0, np.minimum(rng.choice([2.0, 10.0, 19.5, 30.0, 45.0], n), t), 0.0)
    m = np.where(f > 0, rng.choice([15.0, 40.0, 80.0, 125.5], n) + np.where(rng.random(n) < 0.5, 0.0, rng.random(n)),
                 0.0)
    clv_point = np.round(rng.gamma(1.0, 50.0, n), -1)  # ties in today's ranking
    return pd.DataFrame({"frequency": f, "recency": r, "T": t, "monetary_value": m, "clv": clv_point},
                        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"))


@pytest.mark.parametrize("factored", [True, False])
def test_group_intervals_from_histories_equal_summing_every_customer(sample_study, monkeypatch, factored):
    """Without per-customer bounds the draws are summed by (key, frequency, recency, T)
    history, with the odds as a product of two factors (or, ``factored=False``, an exp per
    history as when the logs spread too far): the total, the top share and every group's
    interval equal those of every customer's value by the point formula, summed draw by draw
    (ties, one-time buyers, customers without a group, customers whose spend is not a number,
    whose values count as zero)."""
    from helpers.studies.clv import uncertainty as unc

    study, s = sample_study, sample_study.settings
    if not factored:
        monkeypatch.setattr(unc, "FACTOR_EXPONENT", 0.0)
    monkeypatch.setattr(unc, "HISTORY_CHUNK", 37)  # chunks cutting through runs of histories
    table = _histories_with_ties(3000, seed=8)
    table.iloc[[4, 40], table.columns.get_loc("monetary_value")] = [np.nan, np.inf]
    n = len(table)
    rng = np.random.default_rng(9)
    labels = rng.choice(np.array(["a", "b", "c"], dtype=object), n)
    labels[::41] = None
    groups = pd.Series(labels, index=table.index, name="g")
    assert len(unc._DistinctRows.of(np.zeros(n, dtype=int), *(table[c].to_numpy() for c in
               ("frequency", "recency", "T"))).count) < n / 10  # many customers share a history

    got = unc.clv_uncertainty(table, study.purchase_model, study.spend_model, s, draws=30, seed=2, groups=groups,
                              top_fraction=0.2, customer_bounds=False)
    values = _values_by_point_formula(table, study.purchase_model, study.spend_model, s, draws=30, seed=2)
    assert not np.isfinite(values[[4, 40]]).any()
    values = np.nan_to_num(values, nan=0.0, posinf=0.0)
    tail = (1.0 - unc.DEFAULT_LEVEL) / 2.0
    np.testing.assert_allclose(got.total, values.sum(axis=0), rtol=1e-12)
    top = np.argsort(-table["clv"].to_numpy(), kind="stable")[: int(np.ceil(0.2 * n))]
    np.testing.assert_allclose(got.top_share, values[top].sum(axis=0) / values.sum(axis=0), rtol=1e-12)
    for label in ("a", "b", "c"):
        in_group = values[labels == label].sum(axis=0)
        np.testing.assert_allclose(got.groups.loc[label, ["low", "high"]].to_numpy(float),
                                   np.quantile(in_group, [tail, 1.0 - tail]), rtol=1e-12)
        assert got.groups.loc[label, "clv"] == pytest.approx(table["clv"][labels == label].sum(), rel=1e-13)
    assert np.isnan(got.low).all() and np.isnan(got.high).all()
    # the per-customer path gives the same sums
    bounds = unc.clv_uncertainty(table, study.purchase_model, study.spend_model, s, draws=30, seed=2, groups=groups,
                                 top_fraction=0.2)
    np.testing.assert_allclose(bounds.total, got.total, rtol=1e-12)
    pd.testing.assert_frame_equal(bounds.groups, got.groups, check_exact=False, rtol=1e-12)


def test_odds_factors_keep_the_logs_when_they_spread_too_far():
    """The odds' two factors are exp(log - c) and exp(c - log) with c per frequency and draw
    (the logs grow with the age: rows sorted by x, then age); when a frequency's logs spread
    beyond what exp can take both ways, or are infinite (but x = 0's), the logs stay and the
    odds are an exp per history."""
    from helpers.studies.clv import uncertainty as unc

    x_age, x_recency = np.array([0.0, 1.0, 1.0, 2.0]), np.array([0.0, 1.0, 2.0])
    by_age = np.array([[-np.inf], [3.0], [5.0], [-600.0]])
    by_recency = np.array([[-1.0], [2.0], [700.0]])
    expected_odds = np.exp(by_age[[1, 2, 3]] - by_recency[[1, 1, 2]])
    age, recency = by_age.copy(), by_recency.copy()
    assert unc._factor_odds(age, recency, x_age, x_recency)
    assert age[0, 0] == 0.0  # no odds at x = 0
    np.testing.assert_allclose(age[[1, 2, 3]] * recency[[1, 1, 2]], expected_odds, rtol=1e-14)
    assert np.isfinite(age).all() and np.isfinite(recency).all() and (recency > 0).all()
    spread = by_age.copy()
    spread[3] = -800.0  # x = 2 spreads over 1,500
    kept = spread.copy(), by_recency.copy()
    assert not unc._factor_odds(*kept, x_age, x_recency)
    np.testing.assert_array_equal(kept[0], spread)
    np.testing.assert_array_equal(kept[1], by_recency)
    infinite = by_age.copy()
    infinite[[1, 2]] = np.inf  # a parameter draw off range: every log of the frequency
    assert not unc._factor_odds(infinite, by_recency.copy(), x_age, x_recency)


def test_sums_only_for_none_and_for_pareto_nbd(sample_study):
    """No customers: zero sums. Pareto/NBD goes draw by draw through the point formula whatever
    ``customer_bounds`` says: its group intervals are those of every customer's value."""
    from helpers.studies.clv import uncertainty as unc

    study, s = sample_study, sample_study.settings
    none = unc.clv_uncertainty(study.table.iloc[:0], study.purchase_model, study.spend_model, s, draws=10,
                               customer_bounds=False)
    assert len(none.low) == 0 and (none.total == 0).all() and (none.top_share == 0).all()
    pareto = clv.fit_purchase_model(study.table, "pareto")
    table = study.table.iloc[:300]
    groups = pd.Series(np.where(table["frequency"] > 1, "often", "once"), index=table.index, name="g")
    got = unc.clv_uncertainty(table, pareto, study.spend_model, s, draws=8, seed=1, groups=groups,
                              customer_bounds=False)
    values = _values_by_point_formula(table, pareto, study.spend_model, s, draws=8, seed=1)
    np.testing.assert_allclose(got.total, values.sum(axis=0), rtol=1e-12)
    tail = (1.0 - unc.DEFAULT_LEVEL) / 2.0
    once = values[(groups == "once").to_numpy()].sum(axis=0)
    np.testing.assert_allclose(got.groups.loc["once", ["low", "high"]].to_numpy(float),
                               np.quantile(once, [tail, 1.0 - tail]), rtol=1e-12)


def test_purchases_not_a_number_count_as_zero_in_the_group_sums(sample_study, monkeypatch):
    """A draw whose purchases are not finite for some histories (a parameter draw off the
    model's range) counts those customers as zero in that draw, as the per-customer path
    zeroes their values; the other customers and draws are unchanged."""
    from helpers.studies.clv import uncertainty as unc

    study, s = sample_study, sample_study.settings
    table = _histories_with_ties(2000, seed=11)
    f, r = table["frequency"].to_numpy(), table["recency"].to_numpy()
    hit = (f == 3) & (r == 10)
    assert hit.sum() > 5
    tables_of, purchases = unc._BgnbdTables.of.__func__, unc._BgnbdTables.purchases

    def poisoned_of(cls, params, settings, f, r, t):
        tables = tables_of(cls, params, settings, f, r, t)
        tables.poisoned = (f == 3) & (r == 10)
        return tables

    def poisoned_purchases(self, rows):
        out = purchases(self, rows)
        out[self.poisoned[rows], 1] = np.nan
        out[self.poisoned[rows], 4] = np.inf
        return out

    monkeypatch.setattr(unc._BgnbdTables, "of", classmethod(poisoned_of))
    monkeypatch.setattr(unc._BgnbdTables, "purchases", poisoned_purchases)
    groups = pd.Series(np.where(f > 1, "often", "rarely"), index=table.index, name="g")
    got = unc.clv_uncertainty(table, study.purchase_model, study.spend_model, s, draws=12, seed=5, groups=groups,
                              customer_bounds=False)
    values = _values_by_point_formula(table, study.purchase_model, study.spend_model, s, draws=12, seed=5)
    values[np.ix_(hit, [1, 4])] = 0.0
    np.testing.assert_allclose(got.total, values.sum(axis=0), rtol=1e-12)
    often = values[f > 1].sum(axis=0)
    tail = (1.0 - unc.DEFAULT_LEVEL) / 2.0
    np.testing.assert_allclose(got.groups.loc["often", ["low", "high"]].to_numpy(float),
                               np.quantile(often, [tail, 1.0 - tail]), rtol=1e-12)
