"""The adapter hides lifetimes 0.11.3's quirks; these tests pin each quirk and its fix.

A pin that starts failing means lifetimes (or pandas/numpy) changed: revisit the adapter.
"""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, GammaGammaFitter

from helpers.errors import ConfigError
from helpers.models import lifetimes_adapter as la
from helpers.models.summary import customer_summary
from helpers.studies.clv import analysis as clv

from ._cdnow import CALIBRATION_END, master, sample_calibration_summary


@pytest.fixture(scope="module")
def bgnbd():
    return clv.fit_purchase_model(sample_calibration_summary(), "bgnbd")


@pytest.fixture(scope="module")
def spend():
    s = sample_calibration_summary()
    return la.fit_gamma_gamma(s["frequency"], s["monetary_value"])


def test_quirk_scalar_p_alive_is_a_length_one_array(bgnbd):
    raw = bgnbd.fitter.conditional_probability_alive(1, 10.0, 20.0)
    assert np.shape(raw) == (1,)
    ours = la.probability_alive(bgnbd, 1, 10.0, 20.0)
    assert ours.shape == (1,)
    assert la.probability_alive(bgnbd, [0, 1, 2], [0, 10, 15], [20, 20, 20]).shape == (3,)


def test_p_alive_is_one_for_customers_with_no_repeat_purchase_under_bgnbd(bgnbd):
    # BG/NBD customers can only drop out after a repeat purchase
    assert la.probability_alive(bgnbd, [0, 0], [0, 0], [5, 30]) == pytest.approx([1.0, 1.0])


def test_quirk_lifetimes_clv_rejects_numpy_arrays(bgnbd, spend):
    s = sample_calibration_summary()
    with pytest.raises(AttributeError, match="index"):
        spend.fitter.customer_lifetime_value(
            bgnbd.fitter, *(s[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))
        )
    out = la.lifetimes_clv(
        spend, bgnbd, s["frequency"], s["recency"], s["T"], s["monetary_value"],
        months=12, monthly_discount_rate=0.01, freq="W",
    )
    assert out.shape == (len(s),) and np.all(out >= 0)


@pytest.mark.parametrize("unit,freq", [("D", "D"), ("M", "M")])
def test_vectorised_clv_equals_lifetimes(unit, freq):
    summary = customer_summary(master(), CALIBRATION_END, unit)
    purchase = clv.fit_purchase_model(summary, "bgnbd")
    spend = la.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    args = [summary[c].to_numpy() for c in ("frequency", "recency", "T")]
    expected_spend = la.expected_spend(spend, summary["frequency"], summary["monetary_value"])
    ours = clv.customer_lifetime_value(
        purchase, expected_spend, *args, months=6, monthly_discount_rate=0.01,
        periods_per_month=clv.DAYS_PER_MONTH / {"D": 1, "M": 30}[unit],
    )
    theirs = la.lifetimes_clv(
        spend, purchase, *args, summary["monetary_value"], months=6, monthly_discount_rate=0.01, freq=freq
    )
    np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-9)


def test_quirk_stored_log_likelihood_is_rescaled(bgnbd):
    s = sample_calibration_summary()
    raw = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    # lifetimes keeps -LL / n on time rescaled to max age 1: nowhere near the paper's -9582.4
    assert raw._negative_log_likelihood_ == pytest.approx(0.2503, abs=1e-3)
    assert -raw._negative_log_likelihood_ * len(s) != pytest.approx(-9582.4, abs=1)
    assert la.log_likelihood(bgnbd) == pytest.approx(-9582.4, abs=0.1)


def test_standard_errors_match_lifetimes_autograd(bgnbd, spend):
    s = sample_calibration_summary()
    raw = BetaGeoFitter().fit(s["frequency"], s["recency"], s["T"])
    for name, value in raw.standard_errors_.items():
        assert bgnbd.standard_errors[name] == pytest.approx(value, rel=1e-3), name
    raw_gg = GammaGammaFitter().fit(s.loc[s.frequency > 0, "frequency"], s.loc[s.frequency > 0, "monetary_value"])
    for name, value in raw_gg.standard_errors_.items():
        assert spend.standard_errors[name] == pytest.approx(value, rel=1e-3), name


def test_pareto_gets_standard_errors_lifetimes_lacks():
    model = clv.fit_purchase_model(sample_calibration_summary(), "pareto")
    assert not hasattr(model.fitter, "standard_errors_")
    assert all(0 < se < model.params[k] for k, se in model.standard_errors.items())


def test_quirk_calibration_and_holdout_data_broken_on_pandas_3():
    from lifetimes.utils import calibration_and_holdout_data

    if int(pd.__version__.split(".")[0]) < 3:
        pytest.skip("only broken on pandas 3")
    with pytest.raises(ValueError, match="No objects to concatenate"):
        calibration_and_holdout_data(master().head(500), "customer_id", "timestamp", "1997-02-01", "1997-03-01")


def test_quirk_calculate_alive_path_broken_on_pandas_3(bgnbd):
    from lifetimes.utils import calculate_alive_path

    if int(pd.__version__.split(".")[0]) < 3:
        pytest.skip("only broken on pandas 3")
    history = pd.DataFrame({"date": pd.to_datetime(["2024-01-01", "2024-01-05"])})
    with pytest.raises(TypeError, match="method"):
        calculate_alive_path(bgnbd.fitter, history, "date", 10)


def test_embedded_data_loads_without_pkg_resources():
    code = (
        "import sys; sys.modules['pkg_resources'] = None\n"
        "from helpers.data.datasets import load_cdnow_master\n"
        "print(len(load_cdnow_master()))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "69659"


def test_unknown_model_and_failed_fit_are_clear():
    with pytest.raises(ConfigError, match="bgnbd"):
        la.fit_transaction_model("weibull", [1], [1], [2])
    with pytest.raises(la.ModelFitError, match="repeat buyers"):
        la.fit_gamma_gamma([0, 0, 1], [0, 0, 5.0])


def test_quirk_pareto_log_likelihood_is_nan_for_a_heavy_buyer_last_seen_at_T():
    from lifetimes import ParetoNBDFitter

    from helpers.models import fast_models

    params = {"r": 0.61, "alpha": 13.6, "s": 0.31, "beta": 6.15}
    x, age = np.array([170.0]), np.array([70.857])  # CDNOW master's heaviest buyer, last purchase on the last day
    with np.errstate(all="ignore"):
        raw = ParetoNBDFitter._conditional_log_likelihood(np.array(list(params.values())), x, age, age)
    assert np.isnan(raw).all()
    assert np.isfinite(fast_models.pareto_log_likelihood(params, x, age, age))


def test_default_fits_use_the_fast_path_and_keep_lifetimes_predictions(bgnbd):
    # the fast fit fills a lifetimes fitter: predictions are lifetimes' own methods
    assert isinstance(bgnbd.fitter, BetaGeoFitter)
    assert bgnbd.fitter.predict == bgnbd.fitter.conditional_expected_number_of_purchases_up_to_time
    assert bgnbd.penalizer == 0.0 and bgnbd.n_customers == 2357
