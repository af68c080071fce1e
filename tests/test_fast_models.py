"""The fast BG/NBD and Pareto/NBD fits and BG/NBD CLV against lifetimes, an independent implementation.

lifetimes 0.11.3 evaluates the same likelihoods with autograd (BG/NBD) or its own
hypergeometric code (Pareto/NBD) and optimises them with other methods from other starts:
equal estimates mean the same maximum was found.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter
from scipy.special import gammaln

from helpers.models import fast_models
from helpers.models import lifetimes_adapter as la
from helpers.models.summary import collapse_rfm, customer_summary
from helpers.studies.clv import analysis as clv

from ._cdnow import CALIBRATION_END, OBSERVATION_END, master, sample_calibration_summary


def columns(frame):
    return [frame[c].to_numpy(dtype="float64") for c in ("frequency", "recency", "T")]


def rel_diff(ours: dict, theirs) -> float:
    return max(abs(ours[k] / float(theirs[k]) - 1) for k in ours)


def lifetimes_fit(fitter_class, f, r, t, w=None, penalizer=0.0, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fitter_class(penalizer_coef=penalizer).fit(f, r, t, weights=w, **kwargs)


def lifetimes_bgnbd_ll(params: dict, f, r, t, w) -> float:
    """True log-likelihood from lifetimes' own objective (mean, no penalty) times n."""
    log_params = np.log([params[k] for k in ("r", "alpha", "a", "b")])
    return float(-BetaGeoFitter._negative_log_likelihood(log_params, f, r, t, w, 0.0) * w.sum())


def lifetimes_pareto_rows(params: dict, f, r, t) -> np.ndarray:
    values = np.array([params[k] for k in ("r", "alpha", "s", "beta")])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ParetoNBDFitter._conditional_log_likelihood(values, f, r, t)


@pytest.fixture(scope="module")
def master_cal_rows():
    """CDNOW master calibration data (23,570 customers, weeks), collapsed to distinct rows."""
    return collapse_rfm(customer_summary(master(), CALIBRATION_END, "W"))


# --------------------------------------------------------------------------- BG/NBD


def assert_gradient_is_the_derivative(loglik_grad, theta, s, abs_tol):
    """The analytic gradient against central differences of the log-likelihood, coordinate by coordinate."""
    _, grad = loglik_grad(theta, s)
    h = 1e-6
    for i in range(4):
        step = np.eye(4)[i] * h
        numeric = (loglik_grad(theta + step, s)[0] - loglik_grad(theta - step, s)[0]) / (2 * h)
        assert grad[i] == pytest.approx(numeric, rel=1e-6, abs=abs_tol), i


def test_bgnbd_gradient_is_the_derivative_of_the_likelihood():
    s = fast_models.Stats.from_data(*columns(sample_calibration_summary()))
    assert_gradient_is_the_derivative(fast_models.bgnbd_loglik_grad, np.log([0.3, 5.0, 0.7, 2.0]), s, 1e-4)


@pytest.mark.parametrize("params", [{"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
                                    {"r": 2.0, "alpha": 0.5, "a": 3.0, "b": 0.4}])
def test_bgnbd_log_likelihood_equals_lifetimes(params, master_cal_rows):
    f, r, t = columns(master_cal_rows)
    w = master_cal_rows["weight"].to_numpy(dtype="float64")
    ours = fast_models.bgnbd_log_likelihood(params, f, r, t, w)
    assert ours == pytest.approx(lifetimes_bgnbd_ll(params, f, r, t, w), rel=1e-12)
    # collapsing inside (no weights) gives the same value as the weighted distinct rows
    full = customer_summary(master(), CALIBRATION_END, "W")
    assert fast_models.bgnbd_log_likelihood(params, *columns(full)) == pytest.approx(ours, rel=1e-12)


@pytest.mark.parametrize("data", ["sample", "master_weeks", "master_days"])
def test_default_bgnbd_fit_equals_plain_lifetimes(data):
    summary = {
        "sample": sample_calibration_summary,
        "master_weeks": lambda: customer_summary(master(), OBSERVATION_END, "W"),
        "master_days": lambda: customer_summary(master(), CALIBRATION_END, "D"),
    }[data]()
    ours = clv.fit_purchase_model(summary, "bgnbd")
    f, r, t = columns(summary)
    theirs = lifetimes_fit(BetaGeoFitter, f, r, t)
    assert rel_diff(ours.params, theirs.params_) < 1e-4
    w = np.ones(len(f))
    # the true log-likelihood of our estimates, computed by lifetimes, is ours and is as high as lifetimes'
    assert ours.log_likelihood == pytest.approx(lifetimes_bgnbd_ll(ours.params, f, r, t, w), rel=1e-10)
    assert ours.log_likelihood == pytest.approx(lifetimes_bgnbd_ll(dict(theirs.params_), f, r, t, w), abs=1e-6)
    for name, value in theirs.standard_errors_.items():  # delta method vs lifetimes' autograd Hessian
        assert ours.standard_errors[name] == pytest.approx(value, rel=1e-3), name
    assert ours.n_customers == len(summary)


def test_fast_fit_leaves_the_lifetimes_fitter_as_its_own_fit_would():
    summary = sample_calibration_summary()
    f, r, t = columns(summary)
    ours = la.fit_transaction_model("bgnbd", f, r, t)
    theirs = lifetimes_fit(BetaGeoFitter, f, r, t)
    fitter = ours.fitter
    assert isinstance(fitter, BetaGeoFitter) and list(fitter.params_.index) == ["r", "alpha", "a", "b"]
    assert fitter._scale == theirs._scale
    assert fitter._negative_log_likelihood_ == pytest.approx(theirs._negative_log_likelihood_, rel=1e-9)
    np.testing.assert_allclose(fitter.standard_errors_, theirs.standard_errors_, rtol=1e-3)
    assert fitter.summary.shape == theirs.summary.shape
    assert fitter.data.shape == theirs.data.shape
    np.testing.assert_allclose(fitter.predict(10, f, r, t), theirs.predict(10, f, r, t), rtol=1e-5)
    np.testing.assert_allclose(fitter.conditional_probability_alive(f, r, t),
                               theirs.conditional_probability_alive(f, r, t), rtol=1e-5)
    assert fitter.generate_new_data(size=5).shape[0] == 5


def test_warm_start_on_a_subset_reaches_the_same_maximum(monkeypatch, master_cal_rows):
    monkeypatch.setattr(fast_models, "WARM_START_ROWS", 500)  # the path large bases take
    f, r, t = columns(master_cal_rows)
    w = master_cal_rows["weight"].to_numpy(dtype="float64")
    ours = fast_models.fit_bgnbd(f, r, t, w)
    theirs = lifetimes_fit(BetaGeoFitter, f, r, t, w)
    assert rel_diff(ours.params, theirs.params_) < 1e-4


def lifetimes_penalised_objective(fitter, params: dict, f, r, t) -> float:
    """lifetimes' own penalised BG/NBD objective (time rescaled to oldest age 1) at ``params``."""
    scale = 1.0 / t.max()
    log_params = np.log([params["r"], params["alpha"] * scale, params["a"], params["b"]])
    return fitter._negative_log_likelihood(log_params, f, r * scale, t * scale, np.ones_like(f), fitter.penalizer_coef)


@pytest.mark.parametrize("penalizer", [0.001, 0.01, 0.1])
def test_penalised_bgnbd_reaches_lifetimes_penalised_minimum(penalizer):
    f, r, t = columns(sample_calibration_summary())
    penalised = la.fit_transaction_model("bgnbd", f, r, t, penalizer=penalizer)
    reference = lifetimes_fit(BetaGeoFitter, f, r, t, penalizer=penalizer)
    # lifetimes stops at a gradient of 1e-7: the estimates agree to its precision, and ours is
    # at least as low on lifetimes' own objective
    assert rel_diff(penalised.params, reference.params_) < 1e-5
    ours = lifetimes_penalised_objective(reference, penalised.params, f, r, t)
    theirs = lifetimes_penalised_objective(reference, dict(reference.params_), f, r, t)
    assert ours <= theirs + 1e-12
    assert penalised.fitter.penalizer_coef == penalizer and penalised.penalizer == penalizer
    expected = reference.conditional_probability_alive(f, r, t)
    assert np.max(np.abs(la.probability_alive(penalised, f, r, t) - expected)) < 1e-5


def test_penalised_bgnbd_falls_back_on_lifetimes_when_the_search_does_not_settle(monkeypatch):
    def unsettled(*args, **kwargs):
        raise fast_models.FastFitError("did not settle")

    monkeypatch.setattr(fast_models, "fit_bgnbd_penalised", unsettled)
    f, r, t = columns(sample_calibration_summary())
    penalised = la.fit_transaction_model("bgnbd", f, r, t, penalizer=0.01)
    reference = lifetimes_fit(BetaGeoFitter, f, r, t, penalizer=0.01)
    assert rel_diff(penalised.params, reference.params_) < 1e-12


def test_penalised_fits_of_other_models_are_plain_lifetimes():
    f, r, t = columns(sample_calibration_summary())
    mbg = la.fit_transaction_model("mbgnbd", f, r, t, penalizer=0.01)
    reference = lifetimes_fit(ModifiedBetaGeoFitter, f, r, t, penalizer=0.01)
    assert rel_diff(mbg.params, reference.params_) < 1e-12


# --------------------------------------------------------------------------- MBG/NBD


def lifetimes_mbgnbd_ll(params: dict, f, r, t, w) -> float:
    log_params = np.log([params[k] for k in ("r", "alpha", "a", "b")])
    return float(-ModifiedBetaGeoFitter._negative_log_likelihood(log_params, f, r, t, w, 0.0) * w.sum())


@pytest.mark.parametrize("theta", [[0.3, 5.0, 0.7, 2.0], [2.0, 0.5, 3.0, 0.4], [1.1, 8.5, 0.9, 5.5]])
def test_mbgnbd_likelihood_is_lifetimes_and_its_gradient_the_derivative(theta, master_cal_rows):
    f, r, t = columns(master_cal_rows)
    w = master_cal_rows["weight"].to_numpy(dtype="float64")
    s = fast_models.Stats(f, r, t, w)
    log_theta = np.log(theta)
    ll, _ = fast_models.mbgnbd_loglik_grad(log_theta, s)
    assert ll == pytest.approx(lifetimes_mbgnbd_ll(dict(zip(("r", "alpha", "a", "b"), theta)), f, r, t, w), rel=1e-12)
    assert_gradient_is_the_derivative(fast_models.mbgnbd_loglik_grad, log_theta, s, 1e-3)


@pytest.mark.parametrize("data", ["sample", "master_calibration"])
def test_mbgnbd_fit_equals_lifetimes(data, master_cal_rows, monkeypatch):
    """The fast MBG/NBD fit (analytic gradient) reaches lifetimes' estimates to 1e-4 relative
    (in fact about 1e-6), a log-likelihood at least as high, and standard errors close to
    those of lifetimes' estimates by second differences; also through the warm start."""
    rows = collapse_rfm(sample_calibration_summary()) if data == "sample" else master_cal_rows
    f, r, t = columns(rows)
    w = rows["weight"].to_numpy(dtype="float64")
    if data == "master_calibration":
        monkeypatch.setattr(fast_models, "WARM_START_ROWS", 500)  # the path large bases take
    ours = la.fit_transaction_model("mbgnbd", f, r, t, weights=w)
    theirs = lifetimes_fit(ModifiedBetaGeoFitter, f, r, t, w)
    assert rel_diff(ours.params, theirs.params_) < 1e-4
    theirs_ll = lifetimes_mbgnbd_ll(dict(theirs.params_), f, r, t, w)
    assert ours.log_likelihood == pytest.approx(lifetimes_mbgnbd_ll(ours.params, f, r, t, w), rel=1e-12)
    assert ours.log_likelihood >= theirs_ll - 1e-6
    reference_se = la.standard_errors(lambda p: lifetimes_mbgnbd_ll(p, f, r, t, w), dict(theirs.params_))
    assert rel_diff(ours.standard_errors, reference_se) < 1e-3
    assert type(ours.fitter) is ModifiedBetaGeoFitter
    assert ours.fitter.generate_new_data(size=5).shape[0] == 5  # MBG/NBD's own generator
    predicted = la.expected_purchases(ours, 10.0, f, r, t)
    np.testing.assert_allclose(predicted, theirs.conditional_expected_number_of_purchases_up_to_time(10.0, f, r, t),
                               rtol=1e-4)


# --------------------------------------------------------------------------- Pareto/NBD


@pytest.mark.parametrize("data", ["sample", "master_calibration"])
def test_pareto_fit_equals_lifetimes_run_to_convergence(data, master_cal_rows):
    rows = collapse_rfm(sample_calibration_summary()) if data == "sample" else master_cal_rows
    f, r, t = columns(rows)
    w = rows["weight"].to_numpy(dtype="float64")
    ours = la.fit_transaction_model("pareto", f, r, t, weights=w)
    # lifetimes' defaults (random start, Nelder-Mead to 1e-4) stop short of the maximum:
    # run it from a fixed start to a tight tolerance for the reference
    tight = lifetimes_fit(ParetoNBDFitter, f, r, t, w, initial_params=np.ones(4), tol=1e-8, maxiter=20000)
    assert rel_diff(ours.params, tight.params_) < 1e-4
    theirs_ll = float(w @ lifetimes_pareto_rows(dict(tight.params_), f, r, t))
    assert ours.log_likelihood == pytest.approx(float(w @ lifetimes_pareto_rows(ours.params, f, r, t)), rel=1e-10)
    assert ours.log_likelihood == pytest.approx(theirs_ll, abs=1e-6)
    if data == "sample":  # lifetimes' defaults stop lower
        default = lifetimes_fit(ParetoNBDFitter, f, r, t, w, initial_params=np.ones(4))
        assert ours.log_likelihood >= float(w @ lifetimes_pareto_rows(dict(default.params_), f, r, t)) - 1e-9
    assert all(0 < se < ours.params[k] for k, se in ours.standard_errors.items())


@pytest.mark.parametrize("params", [[0.55, 10.6, 0.6, 11.7], [0.55, 12.6, 0.6, 9.7], [2.0, 3.0, 0.3, 30.0],
                                    [0.3, 40.0, 1.5, 2.0]])
def test_pareto_gradient_is_the_derivative_of_the_likelihood(params, master_cal_rows):
    # alpha < beta and alpha > beta take different hypergeometric terms
    f, r, t = columns(master_cal_rows)
    s = fast_models.ParetoStats(fast_models.Stats.from_data(f, r, t, master_cal_rows["weight"]))
    p = np.array(params)
    with np.errstate(all="ignore"):
        ll, grad = fast_models.pareto_loglik_grad(p, s)
        assert ll == fast_models.pareto_loglik(p, s)
        for i in range(4):  # in log-parameters, where the likelihood is better scaled
            step = np.exp(np.eye(4)[i] * 1e-5)
            numeric = (fast_models.pareto_loglik(p * step, s) - fast_models.pareto_loglik(p / step, s)) / 2e-5
            assert grad[i] * p[i] == pytest.approx(numeric, rel=1e-6, abs=1e-3), i


def test_pareto_log_likelihood_is_finite_where_lifetimes_gives_nan():
    summary = customer_summary(master(), OBSERVATION_END, "W")
    f, r, t = columns(summary)
    params = {"r": 0.61, "alpha": 13.6, "s": 0.31, "beta": 6.15}
    rows = lifetimes_pareto_rows(params, f, r, t)
    bad = ~np.isfinite(rows)
    # quirk 7: one heavy buyer whose last purchase is on the last day
    assert bad.sum() == 1 and f[bad][0] == 170 and r[bad][0] == t[bad][0]
    ours_ok = fast_models.pareto_log_likelihood(params, f[~bad], r[~bad], t[~bad])
    assert ours_ok == pytest.approx(rows[~bad].sum(), rel=1e-12)
    # for t_x = T the A0 term is 0: ln L = lnG(r+x) - lnG(r) + r ln a + s ln b - (r+x) ln(a+T) - s ln(b+T)
    x, age = f[bad][0], t[bad][0]
    p = params
    by_hand = (gammaln(p["r"] + x) - gammaln(p["r"]) + p["r"] * np.log(p["alpha"]) + p["s"] * np.log(p["beta"])
               - (p["r"] + x) * np.log(p["alpha"] + age) - p["s"] * np.log(p["beta"] + age))
    assert fast_models.pareto_log_likelihood(params, [x], [age], [age]) == pytest.approx(by_hand, rel=1e-12)
    model = clv.fit_purchase_model(summary, "pareto")
    assert np.isfinite(model.log_likelihood)
    assert all(np.isfinite(v) and v > 0 for v in model.standard_errors.values())


@pytest.mark.parametrize("params", [[0.55, 10.6, 0.6, 11.7], [0.55, 12.6, 0.6, 9.7], [2.0, 3.0, 0.3, 30.0],
                                    [0.3, 40.0, 1.5, 2.0]])
def test_pareto_expected_purchases_equal_lifetimes(params):
    """The closed form (hypergeometric terms per distinct pair) is lifetimes' prediction for every
    customer of CDNOW master, both orders of alpha and beta, several horizons, one customer."""
    summary = customer_summary(master(), CALIBRATION_END, "W")
    f, r, t = columns(summary)
    fitter = ParetoNBDFitter()
    fitter.params_ = pd.Series(dict(zip(fast_models.PARETO_PARAMS, params)))
    for horizon in (1.0, 39.0, 104.5):
        with np.errstate(all="ignore"):
            theirs = fitter.conditional_expected_number_of_purchases_up_to_time(horizon, f, r, t)
        ours = fast_models.pareto_expected_purchases(dict(fitter.params_), horizon, f, r, t)
        assert np.isfinite(theirs).all() and ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=0)
    one = fast_models.pareto_expected_purchases(dict(fitter.params_), horizon, f[:1], r[:1], t[:1])
    assert one.shape == (1,) and one[0] == pytest.approx(ours[0], rel=1e-12)


def test_pareto_expected_purchases_are_finite_where_lifetimes_gives_nan():
    # quirk 7: CDNOW master's heaviest buyer, last purchase on the last day
    params = {"r": 0.61, "alpha": 13.6, "s": 0.31, "beta": 6.15}
    x, age = np.array([170.0, 170.0]), np.array([70.857, 70.857])
    fitter = ParetoNBDFitter()
    fitter.params_ = pd.Series(params)
    with np.errstate(all="ignore"):
        assert np.isnan(fitter.conditional_expected_number_of_purchases_up_to_time(10.0, x, age, age)).all()
    ours = fast_models.pareto_expected_purchases(params, 10.0, x, age, age)
    assert np.isfinite(ours).all() and (ours > 0).all()
    # a nearby customer lifetimes can still compute agrees
    near = fast_models.pareto_expected_purchases(params, 10.0, [20.0], [60.0], [70.857])
    with np.errstate(all="ignore"):
        assert near == pytest.approx(fitter.conditional_expected_number_of_purchases_up_to_time(
            10.0, np.array([20.0]), np.array([60.0]), np.array([70.857])), rel=1e-10)


# --------------------------------------------------------------------------- edge cases


@pytest.mark.parametrize("model", ["bgnbd", "pareto", "mbgnbd"])
def test_no_repeat_buyer_is_a_clear_error(model):
    with pytest.raises(la.ModelFitError, match="none of the 4 customers made a repeat purchase"):
        la.fit_transaction_model(model, [0, 0, 0, 0], [0, 0, 0, 0], [5, 10, 20, 30])


@pytest.mark.parametrize("model", ["bgnbd", "pareto"])
def test_invalid_statistics_are_a_clear_error(model):
    with pytest.raises(la.ModelFitError, match="recency"):
        la.fit_transaction_model(model, [1, 2], [12, 3], [10, 10])  # recency > T
    with pytest.raises(la.ModelFitError, match="finite"):
        la.fit_transaction_model(model, [1, np.nan], [2, 3], [10, 10])


@pytest.mark.parametrize("model", ["bgnbd", "pareto"])
@pytest.mark.parametrize("rows", [
    ([2], [5], [10]),
    ([0, 3], [0, 8], [10, 10]),
    ([0, 1, 3], [0, 2, 8], [10, 10, 10]),
    ([0, 1, 3, 0, 2], [0, 2, 8, 0, 4], [10, 10, 10, 3, 6]),
])
def test_tiny_samples_give_a_clear_error_or_a_sane_fit(model, rows):
    try:
        fitted = la.fit_transaction_model(model, *rows)
    except la.ModelFitError as exc:
        assert "did not fit these data" in str(exc) and "penalizer" in str(exc)
        return
    assert all(np.isfinite(v) and v > 0 for v in fitted.params.values())
    assert np.isfinite(fitted.log_likelihood)
    predicted = la.expected_purchases(fitted, 10, *rows)
    assert np.all(np.isfinite(predicted)) and np.all(predicted >= 0)


def test_a_small_sample_still_fits_like_lifetimes():
    summary = sample_calibration_summary().iloc[:300]
    f, r, t = columns(summary)
    ours = la.fit_transaction_model("bgnbd", f, r, t)
    assert rel_diff(ours.params, lifetimes_fit(BetaGeoFitter, f, r, t).params_) < 1e-4


# --------------------------------------------------------------------------- CLV


def test_bgnbd_clv_closed_form_equals_lifetimes_predictions_at_extremes():
    """Heavy buyers over ten years reach lifetimes' fallback for an infinite 2F1 term."""
    params = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
    f = np.array([0, 1, 5, 50, 200, 400, 200, 0])
    r = np.array([0, 3, 9, 9.5, 9.9, 9.9, 30, 0])
    t = np.array([10, 10, 10, 10, 10, 10, 40, 0.5])
    fitter = BetaGeoFitter()
    fitter.params_ = pd.Series(params)
    model = la.FittedModel("bgnbd", fitter, params, {}, 0.0, len(f), 0.0)
    months, rate, per_month = 120, 0.01, 4.345
    ours = fast_models.bgnbd_discounted_purchases(params, f, r, t, months=months, monthly_discount_rate=rate,
                                                  periods_per_month=per_month)
    previous, expected = np.zeros(len(f)), np.zeros(len(f))
    for k in range(1, months + 1):  # lifetimes' prediction month by month
        with np.errstate(all="ignore"):
            cumulative = fitter.conditional_expected_number_of_purchases_up_to_time(k * per_month, f, r, t)
        expected += (cumulative - previous) / (1 + rate) ** k
        previous = cumulative
    np.testing.assert_allclose(ours, expected, rtol=1e-10)
    assert np.all(np.isfinite(ours))


@pytest.mark.parametrize("name", ["bgnbd", "pareto", "mbgnbd"])
def test_adapter_predictions_are_lifetimes_own(name):
    """Expected purchases through the adapter are lifetimes' numbers on every CDNOW customer:
    BG/NBD's closed form to the last bit, Pareto/NBD's to 1e-10, MBG/NBD lifetimes' itself."""
    summary = customer_summary(master(), CALIBRATION_END, "W")
    model = clv.fit_purchase_model(summary, name)
    f, r, t = columns(summary)
    for horizon in (0.5, 39.0, 520.0):
        with np.errstate(all="ignore"):
            theirs = model.fitter.conditional_expected_number_of_purchases_up_to_time(horizon, f, r, t)
        ours = la.expected_purchases(model, horizon, summary["frequency"], summary["recency"], summary["T"])
        assert np.isfinite(theirs).all()
        if name == "pareto":
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=0)
        else:
            assert np.array_equal(ours, theirs)


@pytest.mark.parametrize("penalizer", [0.0, 0.01])
def test_gamma_gamma_fit_equals_lifetimes_with_the_exact_hessian(penalizer):
    """The Newton fit reaches lifetimes' Gamma-Gamma estimates (CDNOW repeat buyers, with and
    without a penalty); its log-likelihood is lifetimes' expression and its Hessian the
    numerical one of that log-likelihood."""
    from lifetimes import GammaGammaFitter

    s = customer_summary(master(), OBSERVATION_END, "W")
    buyers = s[(s["frequency"] > 0) & (s["monetary_value"] > 0)]
    f, m = buyers["frequency"].to_numpy(float), buyers["monetary_value"].to_numpy(float)
    w = np.random.default_rng(1).integers(1, 4, len(f)).astype(float)  # weights count customers
    ours = fast_models.fit_gamma_gamma(f, m, w, penalizer=penalizer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = GammaGammaFitter(penalizer_coef=penalizer).fit(f, m, weights=w)
    assert rel_diff(ours.params, theirs.params_) < 1e-4
    log_params = np.log([ours.params[k] for k in fast_models.GAMMA_GAMMA_PARAMS])
    lifetimes_ll = -GammaGammaFitter._negative_log_likelihood(log_params, f, m, w, 0.0) * w.sum()
    assert ours.log_likelihood == pytest.approx(lifetimes_ll, rel=1e-12)
    numerical = fast_models.numerical_log_hessian(ours.loglik, ours.params, 1e-4)
    np.testing.assert_allclose(ours.log_hessian, numerical, rtol=1e-5)


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 127, 128, 129, 256, 257, 1000, 4099])
@pytest.mark.parametrize("block", [1, 8, 13, 128, 1024])
def test_pairwise_blocks_add_up_to_numpy_sums_of_whole_columns_bit_for_bit(n, block):
    """Parts of at most ``block`` rows added in numpy's pairwise order: the very sums of the whole
    columns (part boundaries anywhere, one row, no row, values of very different sizes)."""
    rng = np.random.default_rng(n * 31 + block)
    a = rng.standard_normal(n) * 10.0 ** rng.uniform(-8, 8, n)
    b = rng.uniform(0, 3, n)

    def sums(rows):
        return np.array([a[rows].sum(), float(np.multiply(a[rows], b[rows]).sum())])

    assert np.array_equal(fast_models.pairwise_blocks(sums, n, block), sums(slice(0, n)))


def _gamma_gamma_sums_at_once(log_params, s, order):
    """The Gamma-Gamma derivatives with the per-customer sums over whole columns (the former code)."""
    v = np.exp(log_params[2])
    inv = 1.0 / (s.xm + v)
    log_mv = -np.log(inv)
    sums = [fast_models._sum(w, values) for values in (log_mv, inv, inv * inv) for w in (s.w, s.wx_row)]
    return np.array(sums if order >= 2 else sums[:4] + [0.0, 0.0])


@pytest.mark.parametrize("n", [1, 2, 128, 129, 136, 257, 1031])
@pytest.mark.parametrize("weighted", [False, True])
def test_gamma_gamma_sums_by_block_equal_whole_columns(monkeypatch, n, weighted):
    """Small blocks (as small as numpy's sums allow: 128 customers; boundaries inside and at the
    end, one customer, weights): the same sums, log-likelihood, gradient and Hessian, bit for
    bit, and the same fit."""
    rng = np.random.default_rng(n)
    x = rng.integers(1, 6, n).astype(float)
    m = rng.gamma(2.0, 30.0, n)
    w = rng.integers(1, 4, n).astype(float) if weighted else None
    s = fast_models.SpendStats(x, m, w)
    log_params = np.log([2.5, 3.0, 40.0])
    whole = {order: fast_models.gamma_gamma_loglik_derivatives(log_params, s, order) for order in (1, 2)}
    monkeypatch.setattr(fast_models, "SPEND_BLOCK", 1)
    for order in (1, 2):
        assert np.array_equal(fast_models._spend_sums(s, 40.0, order), _gamma_gamma_sums_at_once(log_params, s, order))
        blocked = fast_models.gamma_gamma_loglik_derivatives(log_params, s, order)
        assert blocked[0] == whole[order][0]
        assert np.array_equal(blocked[1], whole[order][1])
        assert (blocked[2] is None) == (order == 1)
        if order == 2:
            assert np.array_equal(blocked[2], whole[order][2])
    if n >= 10:
        small = fast_models.fit_gamma_gamma(x, m, w)
        monkeypatch.setattr(fast_models, "SPEND_BLOCK", 1 << 15)
        assert small.params == fast_models.fit_gamma_gamma(x, m, w).params


def test_discounted_purchases_by_pair_in_blocks_equal_all_pairs_at_once(monkeypatch):
    """Pairs taken a block at a time (bounded memory): the same numbers, bit for bit."""
    from helpers.models import fast_models as fm

    rng = np.random.default_rng(21)
    draws = fm.bgnbd_param_matrix([{"r": r, "alpha": al, "a": a, "b": b} for r, al, a, b in
                                   zip(rng.uniform(0.2, 2, 7), rng.uniform(1, 20, 7), rng.uniform(0.3, 3, 7),
                                       rng.uniform(0.5, 5, 7))])
    ux = rng.integers(0, 60, 1000).astype(float)
    uT = rng.uniform(0.5, 100, 1000)
    kw = dict(months=12, monthly_discount_rate=0.01, periods_per_month=30 / 7)
    monkeypatch.setattr(fm, "PAIR_BLOCK", 10_000)
    whole = fm.bgnbd_discounted_by_pair(draws, ux, uT, **kw)
    monkeypatch.setattr(fm, "PAIR_BLOCK", 97)  # blocks that do not divide the pairs
    blocked = fm.bgnbd_discounted_by_pair(draws, ux, uT, **kw)
    assert blocked.shape == (7, 1000)
    np.testing.assert_array_equal(blocked, whole)


def _random_bgnbd_sets(rng, n, centre=None, spread=0.0):
    """``n`` BG/NBD parameter sets: spread around ``centre`` on the log scale, or anywhere in a
    wide box (a < 1 and a > 1, short and long alpha)."""
    if centre is not None:
        return fast_models.bgnbd_param_matrix(
            [{k: v * np.exp(spread * rng.standard_normal()) for k, v in centre.items()} for _ in range(n)])
    return fast_models.bgnbd_param_matrix([{"r": r, "alpha": al, "a": a, "b": b} for r, al, a, b in zip(
        rng.uniform(0.2, 2, n), rng.uniform(0.5, 30, n), rng.uniform(0.3, 3, n), rng.uniform(0.5, 5, n))])


def _counting_hyp2f1(monkeypatch):
    calls = [0]
    exact = fast_models.hyp2f1

    def counted(*args):
        calls[0] += np.broadcast(*args).size
        return exact(*args)

    monkeypatch.setattr(fast_models, "hyp2f1", counted)
    return calls


CLV_HORIZON = {"months": 12, "monthly_discount_rate": 0.008, "periods_per_month": 30 / 7}


def test_discounted_purchases_interpolated_across_ages_equal_the_exact_ones(monkeypatch):
    """Generated histories, ages in days up to two years: the interpolated values are the exact
    ones to 1e-9 (relative), from a quarter of the hypergeometric evaluations or fewer, and a
    parameter set gets the same values alone as among others (given the same shift)."""
    rng = np.random.default_rng(8)
    draws = _random_bgnbd_sets(rng, 12)
    x = np.minimum(rng.geometric(0.08, 30_000) - 1, 120).astype(float)
    age = np.maximum(rng.integers(0, 731, 30_000) / 7, x / 7)  # at least a day per purchase
    (ux, uT), _ = fast_models.distinct_pairs(x, age)
    calls = _counting_hyp2f1(monkeypatch)
    fast = fast_models.bgnbd_discounted_interpolated(draws, ux, uT, **CLV_HORIZON)
    interpolated_calls, calls[0] = calls[0], 0
    exact = fast_models.bgnbd_discounted_by_pair(draws, ux, uT, **CLV_HORIZON)
    assert interpolated_calls < calls[0] / 4
    assert np.max(np.abs(fast - exact) / np.abs(exact)) < 1e-9
    assert (fast != exact).mean() > 0.5  # interpolated, not computed exactly
    shift = draws[:, 1].min()
    np.testing.assert_array_equal(
        fast_models.bgnbd_discounted_interpolated(draws[[4]], ux, uT, **CLV_HORIZON, shift=shift), fast[[4]])


def test_discounted_purchases_interpolated_on_cdnow_equal_the_exact_ones():
    """CDNOW (23,570 customers, ages in days as weeks), 60 parameter sets around the fit."""
    summary = customer_summary(master(), OBSERVATION_END, "W")
    f, r, t = columns(summary)
    fit = fast_models.fit_bgnbd(f, r, t)
    draws = _random_bgnbd_sets(np.random.default_rng(2), 60, fit.params, spread=0.1)
    (ux, uT), _ = fast_models.distinct_pairs(f, t)
    fast = fast_models.bgnbd_discounted_interpolated(draws, ux, uT, **CLV_HORIZON)
    exact = fast_models.bgnbd_discounted_by_pair(draws, ux, uT, **CLV_HORIZON)
    assert np.max(np.abs(fast - exact) / np.abs(exact)) < 1e-9
    assert (fast != exact).mean() > 0.5


def test_discounted_purchases_fall_back_to_exact_values_where_the_check_fails(monkeypatch):
    """A set whose coarse interpolant misses the skipped nodes gets exact values: with no
    tolerance every set does, and the values are the exact ones to the last bit; so are those
    of frequencies with too few ages to interpolate, and no pairs give no values."""
    rng = np.random.default_rng(9)
    draws = _random_bgnbd_sets(rng, 5)
    ux = np.repeat([0.0, 3.0, 40.0], [300, 200, 10])
    uT = np.r_[np.arange(300), np.arange(200) + 3, np.arange(10) + 50] / 7
    exact = fast_models.bgnbd_discounted_by_pair(draws, ux, uT, **CLV_HORIZON)
    assert np.max(np.abs(fast_models.bgnbd_discounted_interpolated(draws, ux, uT, **CLV_HORIZON) - exact)
                  / exact) < 1e-9
    monkeypatch.setattr(fast_models, "INTERPOLATION_TOLERANCE", 0.0)
    np.testing.assert_array_equal(fast_models.bgnbd_discounted_interpolated(draws, ux, uT, **CLV_HORIZON), exact)
    few = slice(500, 510)
    np.testing.assert_array_equal(
        fast_models.bgnbd_discounted_interpolated(draws, ux[few], uT[few], **CLV_HORIZON), exact[:, few])
    assert fast_models.bgnbd_discounted_interpolated(draws, ux[:0], uT[:0], **CLV_HORIZON).shape == (5, 0)


def test_pareto_started_from_a_bgnbd_fit_is_the_same_fit(master_cal_rows, monkeypatch):
    """The model comparison starts Pareto/NBD from the calibration BG/NBD fit instead of fitting
    BG/NBD again inside the Pareto/NBD fit: the same start, so the same fit to the last bit
    (also on the warm-start path large bases take)."""
    monkeypatch.setattr(fast_models, "WARM_START_ROWS", 500)
    f, r, t = columns(master_cal_rows)
    w = master_cal_rows["weight"].to_numpy(dtype="float64")
    bgnbd = la.fit_transaction_model("bgnbd", f, r, t, weights=w)
    start = la.pareto_start(bgnbd)
    assert start == {"r": bgnbd.params["r"], "alpha": bgnbd.params["alpha"], "s": 1.0, "beta": bgnbd.params["alpha"]}
    fresh = la.fit_transaction_model("pareto", f, r, t, weights=w)
    started = la.fit_transaction_model("pareto", f, r, t, weights=w, start=start)
    assert started.params == fresh.params
    assert started.log_likelihood == fresh.log_likelihood
    assert started.standard_errors == fresh.standard_errors
    assert la.pareto_start(la.fit_transaction_model("bgnbd", f, r, t, weights=w, penalizer=0.01)) is None
    assert la.pareto_start(fresh) is None
