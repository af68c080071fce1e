import numpy as np
import pandas as pd
import pytest

from helpers.errors import ConfigError
from helpers.models import lifetimes_adapter as la
from helpers.models.summary import customer_summary
from helpers.studies.clv import analysis as clv

from ._cdnow import (
    CALIBRATION_END,
    OBSERVATION_END,
    master,
    master_calibration_holdout,
    sample_calibration_summary,
)


def settings(**overrides):
    values = {"calibration_end": CALIBRATION_END, "observation_end": OBSERVATION_END} | overrides
    return clv.ClvSettings(**values)


@pytest.fixture(scope="module")
def fitted():
    summary = customer_summary(master(), OBSERVATION_END, "W")
    purchase = clv.fit_purchase_model(summary, "bgnbd")
    spend = la.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    return summary, purchase, spend


@pytest.fixture(scope="module")
def calibration_model():
    return clv.fit_purchase_model(master_calibration_holdout(), "bgnbd", suffix="_cal")


@pytest.mark.parametrize(
    "overrides,message",
    [
        ({"model": "weibull"}, "model"),
        ({"horizon_months": 0}, "horizon_months"),
        ({"horizon_months": 1.5}, "horizon_months"),
        ({"annual_discount_rate": 10}, "annual_discount_rate"),
        ({"gross_margin": 0}, "gross_margin"),
        ({"penalizer": -1}, "penalizer"),
        ({"time_unit": "fortnight"}, "time_unit"),
        ({"calibration_end": "1998-07-01"}, "calibration_end"),
        ({"observation_end": "yesterday-ish"}, "observation_end"),
    ],
)
def test_settings_reject_bad_values(overrides, message):
    with pytest.raises(ConfigError, match=message):
        settings(**overrides)


def test_settings_derived_units():
    s = settings(time_unit="weeks", annual_discount_rate=0.1268250301)
    assert s.time_unit == "W"
    assert s.periods_per_month == pytest.approx(30 / 7)
    assert s.monthly_discount_rate == pytest.approx(0.01, abs=1e-9)
    assert clv.monthly_rate(0.0) == 0.0


def test_clv_table_is_consistent(fitted):
    summary, purchase, spend = fitted
    s = settings(gross_margin=0.25)
    table = clv.clv_table(summary, purchase, spend, s)
    assert len(table) == len(summary) == 23570
    assert table["clv"].is_monotonic_decreasing
    np.testing.assert_allclose(table["clv"], table["clv_revenue"] * 0.25)
    assert table["p_alive"].between(0, 1).all()
    # undiscounted revenue CLV = expected purchases in the horizon x expected spend
    undiscounted = clv.clv_table(summary, purchase, spend, settings(annual_discount_rate=0.0))
    np.testing.assert_allclose(
        undiscounted["clv_revenue"], undiscounted["expected_purchases"] * undiscounted["expected_spend"], rtol=1e-9
    )
    assert (table.loc[undiscounted.index, "clv_revenue"] <= undiscounted["clv_revenue"] + 1e-9).all()


def test_longer_horizon_is_worth_more(fitted):
    summary, purchase, spend = fitted
    short = clv.clv_table(summary, purchase, spend, settings(horizon_months=6))["clv"].sum()
    long = clv.clv_table(summary, purchase, spend, settings(horizon_months=24))["clv"].sum()
    assert long > short > 0


def test_period_transactions_accounts_for_every_customer(calibration_model):
    cal = master_calibration_holdout()
    table = clv.period_transactions(calibration_model, cal)
    assert table["actual"].sum() == len(cal)
    assert table["model"].sum() == pytest.approx(len(cal))
    assert list(table["repeat_purchases"])[-1] == "7+"
    # a well-fitting model: within 10% of the actual count in the largest bucket
    assert table["model"].iloc[0] == pytest.approx(table["actual"].iloc[0], rel=0.1)


def test_cumulative_tracking_counts_and_tracks(calibration_model):
    cal = master_calibration_holdout()
    table = clv.cumulative_repeat_transactions(calibration_model, master(), CALIBRATION_END, OBSERVATION_END, "W")
    assert len(table) == 78 and table["actual"].is_monotonic_increasing and table["predicted"].is_monotonic_increasing
    # actual at a step = the cohort's repeat purchase days up to that date, counted independently
    for step in (38, len(table)):
        date = table["date"].iloc[step - 1]
        window = master()[master()["timestamp"] <= date]
        counted = customer_summary(window, date, "D").loc[cal.index, "frequency"].sum()
        assert table["actual"].iloc[step - 1] == counted
    assert table["predicted"].iloc[-1] == pytest.approx(table["actual"].iloc[-1], rel=0.1)


def test_conditional_expectations_cover_every_customer(calibration_model):
    cal = master_calibration_holdout()
    table = clv.conditional_expectations(calibration_model, cal)
    assert table["customers"].sum() == len(cal)
    zero = cal[cal["frequency_cal"] == 0]
    assert table["actual"].iloc[0] == pytest.approx(zero["frequency_holdout"].mean())
    assert table["predicted"].is_monotonic_increasing
    # the study passes the holdout predictions it already has: the same table, and those are used
    predicted = clv.holdout_predictions(calibration_model, cal)
    pd.testing.assert_frame_equal(clv.conditional_expectations(calibration_model, cal, predicted=predicted), table)
    doubled = clv.conditional_expectations(calibration_model, cal, predicted=2 * predicted)
    np.testing.assert_allclose(doubled["predicted"], 2 * table["predicted"], rtol=1e-12)


def test_holdout_metrics_by_hand():
    metrics = clv.holdout_error_metrics(np.array([0, 2, 4]), np.array([1, 2, 2]))
    assert metrics["actual_total"] == 6 and metrics["predicted_total"] == 5
    assert metrics["total_error_pct"] == pytest.approx(-100 / 6)
    assert metrics["mae"] == pytest.approx(1.0)
    assert metrics["rmse"] == pytest.approx(np.sqrt(5 / 3))


def test_model_comparison_scores_each_model_and_keeps_failures():
    cal = master_calibration_holdout()
    table = clv.compare_models(cal, ("bgnbd", "mbgnbd", "no-such-model"))
    assert list(table["key"]) == ["bgnbd", "mbgnbd", "no-such-model"]
    ok = table.iloc[:2]
    assert (ok["holdout_actual"] == cal["frequency_holdout"].sum()).all()
    assert (ok["total_error_pct"].abs() < 25).all()
    assert "not known" in table["note"].iloc[2]


def test_value_concentration_by_hand():
    values = np.array([50.0, 30.0, 10.0, 5.0, 5.0, 0, 0, 0, 0, 0])
    assert clv.share_of_value_in_top(values, 0.1) == pytest.approx(0.5)
    assert clv.share_of_value_in_top(values, 0.2) == pytest.approx(0.8)
    curve = clv.value_concentration(values)
    assert curve["share_of_value"].iloc[-1] == pytest.approx(1.0)


def test_spend_independence_on_cdnow_sample():
    result = clv.spend_independence(sample_calibration_summary())
    assert result["repeat_buyers"] == 946
    # Fader & Hardie's Gamma-Gamma note reports a correlation of 0.11 on these buyers
    assert result["correlation"] == pytest.approx(0.11, abs=0.01)
    assert result["acceptable"]


def test_series_of_customers_are_converted_without_looking_up_their_index(monkeypatch):
    """Series indexed by customer id give the numbers their values give, and no label lookup
    (np.asarray on a Series looks numpy's attribute names up among 1M ids)."""
    summary = sample_calibration_summary().set_axis([f"c{i}" for i in range(2357)])
    values = {c: summary[c].to_numpy() for c in ("frequency", "monetary_value")}
    expected = (clv.spend_independence(pd.DataFrame(values)), la.fit_gamma_gamma(*values.values()).params,
                clv.value_concentration(values["monetary_value"]))

    def no_lookup(self, key):
        raise AssertionError(f"index lookup of {key!r}")

    monkeypatch.setattr(pd.Index, "__contains__", no_lookup)
    assert clv.spend_independence(summary) == expected[0]
    assert la.fit_gamma_gamma(summary["frequency"], summary["monetary_value"]).params == expected[1]
    pd.testing.assert_frame_equal(clv.value_concentration(summary["monetary_value"]), expected[2])


@pytest.mark.parametrize("unit,freq,periods_per_month", [("W", "W", 4.345), ("D", "D", 30.0)])
def test_fast_bgnbd_clv_equals_lifetimes(unit, freq, periods_per_month):
    """The closed-form BG/NBD path gives lifetimes' customer_lifetime_value (which counts
    4.345 weeks in a month; the package's settings use 30/7, passed the same way)."""
    summary = customer_summary(master(), CALIBRATION_END, unit)
    purchase = clv.fit_purchase_model(summary, "bgnbd")
    spend = la.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    args = [summary[c].to_numpy() for c in ("frequency", "recency", "T")]
    per_purchase = la.expected_spend(spend, summary["frequency"], summary["monetary_value"])
    ours = clv.customer_lifetime_value(
        purchase, per_purchase, *args, months=12, monthly_discount_rate=0.01, periods_per_month=periods_per_month
    )
    theirs = la.lifetimes_clv(
        spend, purchase, *args, summary["monetary_value"], months=12, monthly_discount_rate=0.01, freq=freq
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-9)
    assert ours.sum() > 0


def test_generic_clv_path_equals_lifetimes_for_pareto():
    summary = customer_summary(master(), CALIBRATION_END, "D")
    purchase = clv.fit_purchase_model(summary, "pareto")
    spend = la.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    args = [summary[c].to_numpy() for c in ("frequency", "recency", "T")]
    per_purchase = la.expected_spend(spend, summary["frequency"], summary["monetary_value"])
    ours = clv.customer_lifetime_value(
        purchase, per_purchase, *args, months=6, monthly_discount_rate=0.01, periods_per_month=30.0
    )
    theirs = la.lifetimes_clv(
        spend, purchase, *args, summary["monetary_value"], months=6, monthly_discount_rate=0.01, freq="D"
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-9)


def test_spend_scatter_samples_large_data_and_says_so():
    from helpers.studies.clv import figures

    rng = np.random.default_rng(2)
    n = figures.SCATTER_POINTS + 5_000
    summary = pd.DataFrame({"frequency": rng.integers(1, 20, n).astype(float), "monetary_value": rng.gamma(2, 30, n)})
    for language, words in (("en", f"{figures.SCATTER_POINTS:,} of {n:,}"), ("zh-CN", f"{n:,} 位复购客户中的")):
        fig = figures.spend_vs_frequency(summary, language)
        ax = fig.axes[0]
        assert sum(len(c.get_offsets()) for c in ax.collections) == figures.SCATTER_POINTS
        assert any(words in t.get_text() for t in ax.texts)
    small = figures.spend_vs_frequency(summary.iloc[:500], "en").axes[0]
    assert sum(len(c.get_offsets()) for c in small.collections) == 500 and not small.texts


def test_model_comparison_collapses_the_calibration_rows_once(monkeypatch):
    """The models are fitted on one collapse of the calibration rows, with the fits
    fit_purchase_model gives."""
    cal = master_calibration_holdout()
    separately = [clv.fit_purchase_model(cal, k, suffix="_cal").log_likelihood for k in ("bgnbd", "mbgnbd")]
    calls = []
    collapse = clv.collapse_rfm
    monkeypatch.setattr(clv, "collapse_rfm", lambda *a, **k: calls.append(1) or collapse(*a, **k))
    table = clv.compare_models(cal, ("bgnbd", "mbgnbd"))
    assert len(calls) == 1 and table["log_likelihood"].tolist() == separately


def test_model_comparison_reuses_the_calibration_fit_and_its_predictions():
    """The study's calibration fit and its holdout predictions are used as they are (not
    fitted or predicted again): the same table as computing everything afresh, and the
    predictions given are the ones scored (wrong ones would show in the errors)."""
    cal = master_calibration_holdout()
    fitted = clv.fit_purchase_model(cal, "bgnbd", suffix="_cal")
    predicted = clv.holdout_predictions(fitted, cal)
    fresh = clv.compare_models(cal, ("bgnbd", "pareto", "mbgnbd"))
    reused = clv.compare_models(cal, ("bgnbd", "pareto", "mbgnbd"), fitted_already=fitted, predicted_already=predicted)
    pd.testing.assert_frame_equal(reused, fresh, check_exact=True)  # Pareto/NBD started from the fit given
    doubled = clv.compare_models(cal, ("bgnbd", "mbgnbd"), fitted_already=fitted, predicted_already=2 * predicted)
    assert doubled["holdout_predicted"].iloc[0] == pytest.approx(2 * fresh["holdout_predicted"].iloc[0])
    assert doubled["holdout_predicted"].iloc[1] == fresh["holdout_predicted"].iloc[2]  # only the fitted model's


@pytest.mark.parametrize("ids_sorted", [True, False])
def test_clv_table_order_is_value_then_id(ids_sorted):
    from helpers.studies.clv.analysis import _by_value_then_id

    rng = np.random.default_rng(5)
    ids = pd.array([f"M{i:05d}" for i in range(2_000)], dtype="str")
    clv = rng.integers(0, 50, 2_000).astype("float64")  # many ties
    clv[[3, 500, 1_999]] = np.nan
    clv[[7, 8]] = -0.0
    table = pd.DataFrame({"clv": clv}, index=pd.Index(ids, name="customer_id"))
    if not ids_sorted:
        table = table.iloc[rng.permutation(len(table))]
    expected = table.sort_values(["clv", "customer_id"], ascending=[False, True], kind="stable")
    pd.testing.assert_frame_equal(_by_value_then_id(table), expected)
