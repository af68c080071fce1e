"""The only module that calls ``lifetimes``.

lifetimes 0.11.3 is unmaintained and has quirks on current pandas / numpy / matplotlib.
Everything else in this package goes through the functions here, which always take and
return plain numpy arrays or floats, so the quirks stay in one place (each is pinned by
a test in ``tests/test_lifetimes_adapter.py``):

1. ``conditional_probability_alive`` of BG/NBD and MBG/NBD returns a shape-(1,) array
   for scalar input; :func:`probability_alive` always returns a 1-D array.
2. ``GammaGammaFitter.customer_lifetime_value`` fails on numpy arrays
   (``'numpy.ndarray' object has no attribute 'index'``) and needs pandas Series
   sharing one index; :func:`lifetimes_clv` builds them.
3. The stored ``_negative_log_likelihood_`` is divided by the number of customers
   (Pareto/NBD: by the mean weight), includes the penalty, and is computed on time
   rescaled so that the oldest customer has age 1; :func:`log_likelihood` recomputes the
   true log-likelihood on the data's own time unit (what papers report).
4. Pareto/NBD has no standard errors in lifetimes; :func:`standard_errors` computes them
   for every model from a numerical Hessian of :func:`log_likelihood`.
5. ``lifetimes.datasets`` imports ``pkg_resources`` (removed in setuptools 81) and
   ``calibration_and_holdout_data`` fails on pandas 3 ("No objects to concatenate");
   this package uses :mod:`helpers.data.datasets` and :mod:`helpers.models.summary` instead.
6. ``lifetimes.utils.calculate_alive_path`` (behind ``plot_history_alive``) calls
   ``fillna(method=...)``, removed in pandas 3; ``lifetimes.plotting`` is not used at all:
   figures are drawn by :mod:`helpers.plotting` from the arrays returned here.
7. lifetimes fits slowly on large bases (autograd traces every operation; Pareto/NBD uses
   Nelder-Mead from a random start, to a tolerance of 1e-4), and its Pareto/NBD
   log-likelihood is NaN for a customer whose last purchase is at the end of calibration
   when (r + s + x) ln(max(alpha, beta) + T) > ~709, which makes the whole fit meaningless
   (CDNOW master to 1998-06-30 has one). Without a penalizer, :func:`fit_transaction_model`
   therefore fits BG/NBD, Pareto/NBD and MBG/NBD with :mod:`helpers.models.fast_models` (same
   likelihood, same maximum, NaN-free) and stores the estimates in a lifetimes fitter, so
   predictions still go through lifetimes (but BG/NBD's and Pareto/NBD's expected purchases,
   lifetimes' formulas evaluated by :mod:`helpers.models.fast_models` once per distinct pair of
   statistics, see :func:`expected_purchases`). A penalised BG/NBD fit minimises lifetimes'
   penalised objective in :mod:`helpers.models.fast_models` too, falling back on lifetimes' own
   fitter when that search does not settle; other penalised fits use lifetimes' fitter.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import io
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import lifetimes
import numpy as np
import pandas as pd
from lifetimes import (
    BetaGeoFitter,
    GammaGammaFitter,
    ModifiedBetaGeoFitter,
    ParetoNBDFitter,
)
from lifetimes.generate_data import beta_geometric_nbd_model, modified_beta_geometric_nbd_model, pareto_nbd_model
from lifetimes.utils import ConvergenceError, _check_inputs

from helpers.errors import ConfigError, HelperError
from helpers.models import fast_models

LIFETIMES_VERSION: str = lifetimes.__version__

#: Purchase models offered to users, by the name used in notebook parameters.
TRANSACTION_MODELS: dict[str, type] = {
    "bgnbd": BetaGeoFitter,
    "pareto": ParetoNBDFitter,
    "mbgnbd": ModifiedBetaGeoFitter,
}

MODEL_LABELS: dict[str, str] = {
    "bgnbd": "BG/NBD",
    "pareto": "Pareto/NBD",
    "mbgnbd": "MBG/NBD",
    "gamma_gamma": "Gamma-Gamma",
}

#: Gradient tolerances tried in turn when fitting Gamma-Gamma (lifetimes' default first).
_GAMMA_GAMMA_TOLERANCES = (1e-7, 1e-6, 1e-5)

#: Step (in log-parameter space) of the numerical Hessian behind standard errors.
_HESSIAN_STEP = 1e-4


class ModelFitError(HelperError):
    """A model did not converge on the data."""


@dataclass
class FittedModel:
    """A fitted lifetimes model with what reports need, in plain Python types."""

    name: str
    fitter: Any = field(repr=False)
    params: dict[str, float]
    standard_errors: dict[str, float]
    log_likelihood: float
    n_customers: int
    penalizer: float
    #: Asymptotic covariance of the log parameters (inverse observed information), in the
    #: order of ``params``; None where the information matrix could not be inverted.
    log_covariance: np.ndarray | None = field(default=None, repr=False)

    def __memo_key__(self) -> tuple:
        """What makes two fitted models the same for :mod:`helpers.memo`: the fields and
        the fitter's class, data, estimates and penalty (its ``predict`` and
        ``generate_new_data`` follow from those; the lambda among them keeps the fitter
        from pickling)."""
        fitter = self.fitter
        return (
            self.name, type(fitter).__module__, type(fitter).__qualname__, self.params, self.standard_errors,
            self.log_likelihood, self.n_customers, self.penalizer, self.log_covariance,
            getattr(fitter, "data", None), getattr(fitter, "params_", None), getattr(fitter, "penalizer_coef", None),
        )

    @property
    def label(self) -> str:
        return MODEL_LABELS.get(self.name, self.name)

    @property
    def aic(self) -> float:
        return 2 * len(self.params) - 2 * self.log_likelihood

    @property
    def bic(self) -> float:
        return len(self.params) * np.log(self.n_customers) - 2 * self.log_likelihood

    def params_table(self) -> pd.DataFrame:
        """Parameters with standard errors and 95% intervals.

        The standard errors come from the curvature of the likelihood in log parameters
        (se(p) = p x se(log p), see :func:`standard_errors_from_log_hessian`), so the interval
        is built there too: exp(log p +/- 1.96 se(log p)) = p x exp(+/- 1.96 se(p) / p). A
        positive parameter gets a positive interval, asymmetric around the estimate.
        """
        table = pd.DataFrame(
            {"estimate": pd.Series(self.params), "std_error": pd.Series(self.standard_errors)}
        )
        se_log = table["std_error"] / table["estimate"]
        table["lower_95"] = table["estimate"] * np.exp(-1.96 * se_log)
        table["upper_95"] = table["estimate"] * np.exp(1.96 * se_log)
        table.index.name = "parameter"
        return table


def _arrays(*values: Any) -> list[np.ndarray]:
    return [np.atleast_1d(float_array(v)) for v in values]


def float_array(values: Any) -> np.ndarray:
    """``values`` as float64. A pandas object converts itself: ``np.asarray`` on a Series asks
    it for numpy's array attributes, and each name it lacks is looked up among its index
    labels, which builds a hash table of, say, 1M customer ids for the lookup."""
    if isinstance(values, (pd.Series, pd.Index)):
        return values.to_numpy(dtype="float64")
    return np.asarray(values, dtype="float64")


def _weights(weights: Any, n: int) -> np.ndarray:
    return np.ones(n) if weights is None else np.asarray(weights, dtype="float64")


def fit_transaction_model(
    name: str,
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    weights: Any = None,
    penalizer: float = 0.0,
    start: dict[str, float] | None = None,
) -> FittedModel:
    """Fit BG/NBD (``"bgnbd"``), Pareto/NBD (``"pareto"``) or MBG/NBD (``"mbgnbd"``).

    ``weights`` counts customers sharing the same (frequency, recency, T) row: pass the
    output of :func:`helpers.models.summary.collapse_rfm` to fit large bases quickly.

    BG/NBD, Pareto/NBD and MBG/NBD without a penalizer are fitted by :mod:`helpers.models.fast_models`
    (the same estimates as lifetimes, much faster; see quirk 7); penalised BG/NBD likewise
    (lifetimes' penalised objective, lifetimes' fitter if that search does not settle), other
    penalised fits by lifetimes. Either way ``fitter`` is a lifetimes fitter carrying the estimates.
    """
    if name not in TRANSACTION_MODELS:
        raise ConfigError(f"model {name!r} is not known; choose one of {sorted(TRANSACTION_MODELS)}.")
    f, r, t = _arrays(frequency, recency, T)
    w = _weights(weights, len(f))
    _check_transaction_data(name, f, r, t, w)
    if penalizer == 0 and name in _FAST_FITS:
        return _fast_fit(name, f, r, t, w, None if weights is None else w, start)
    fitter = _penalised_bgnbd(f, r, t, w, penalizer) if name == "bgnbd" else None
    if fitter is None:
        fitter = TRANSACTION_MODELS[name](penalizer_coef=penalizer)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fitter.fit(f, r, t, weights=w)
            except (ConvergenceError, ValueError, np.linalg.LinAlgError) as exc:
                raise _fit_error(name, exc, penalizer) from exc
    params = {k: float(v) for k, v in fitter.params_.items()}
    ll = _transaction_log_likelihood(name, params, f, r, t, w)
    hess = fast_models.numerical_log_hessian(
        lambda p: _transaction_log_likelihood(name, p, f, r, t, w), params, _HESSIAN_STEP)
    ses = standard_errors_from_log_hessian(hess, params)
    return FittedModel(name, fitter, params, ses, ll, int(w.sum()), penalizer, log_covariance(hess))


def _penalised_bgnbd(f: np.ndarray, r: np.ndarray, t: np.ndarray, w: np.ndarray, penalizer: float) -> Any:
    """A ``BetaGeoFitter(penalizer_coef=penalizer)`` holding the penalised estimates of
    :func:`helpers.models.fast_models.fit_bgnbd_penalised` (lifetimes' own fit takes seconds per
    refit under autograd), or None when that search did not settle (lifetimes then fits)."""
    f = f.astype(int).astype("float64")  # lifetimes' fit truncates frequency the same way
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            params = fast_models.fit_bgnbd_penalised(f, r, t, w, penalizer)
        except fast_models.FastFitError:
            return None
    fitter = _lifetimes_fitter("bgnbd", params, f, r, t, w, _transaction_log_likelihood("bgnbd", params, f, r, t, w),
                               None)
    fitter.penalizer_coef = penalizer
    return fitter


def pareto_start(bgnbd: FittedModel) -> dict[str, float] | None:
    """The Pareto/NBD fit's starting point from a BG/NBD fit (without penalizer) on the same
    data: what :func:`helpers.models.fast_models.fit_pareto` would otherwise fit BG/NBD again
    to find ((r, alpha) of BG/NBD, s = 1, beta = alpha). None when ``bgnbd`` is not such a fit."""
    if bgnbd.name != "bgnbd" or bgnbd.penalizer != 0:
        return None
    r, alpha = bgnbd.params["r"], bgnbd.params["alpha"]
    return {"r": r, "alpha": alpha, "s": 1.0, "beta": alpha}


_FAST_FITS = {"bgnbd": fast_models.fit_bgnbd, "pareto": fast_models.fit_pareto, "mbgnbd": fast_models.fit_mbgnbd}


#: The penalizer advised first; larger ones bias the estimates more than they help.
FIRST_PENALIZER, LARGEST_USEFUL_PENALIZER = 0.001, 0.1


def fit_advice(penalizer: float | None, *, model: str | None = None) -> str:
    """What to try after a failed fit, given what was tried: the ``penalizer`` used (None
    when the data themselves were refused, where no penalizer helps) and the ``model``."""
    others = [MODEL_LABELS[k] for k in TRANSACTION_MODELS if k != model] if model in TRANSACTION_MODELS else []
    other = f" or another purchase model ({' or '.join(others)})" if others else ""
    if penalizer is None:
        return "Check the data and the calibration period."
    if penalizer <= 0:
        return f"Try a small penalizer (penalizer: {FIRST_PENALIZER:g}){other}, or check the calibration period."
    if penalizer < LARGEST_USEFUL_PENALIZER:
        larger = min(penalizer * 10, LARGEST_USEFUL_PENALIZER)
        return (f"The penalizer {penalizer:g} did not help: try a larger one (penalizer: {larger:g}){other}, "
                "or a longer calibration period.")
    return (f"Even the penalizer {penalizer:g} did not help, and a larger one would mostly shrink the estimates: "
            f"check the data (enough repeat buyers, a long enough calibration period){other}.")


def _fit_error(name: str, exc: Exception, penalizer: float | None = 0.0) -> "ModelFitError":
    return ModelFitError(
        f"{MODEL_LABELS[name]} did not fit these data ({str(exc).strip()}). " + fit_advice(penalizer, model=name)
    )


def _check_transaction_data(name: str, f: np.ndarray, r: np.ndarray, t: np.ndarray, w: np.ndarray) -> None:
    """lifetimes' input checks, plus two of its silent failures, as ModelFitError."""
    try:
        if not len(f) == len(r) == len(t) == len(w):
            raise ValueError(f"frequency, recency, T and weights have different lengths "
                             f"({len(f)}, {len(r)}, {len(t)}, {len(w)})")
        if not all(np.all(np.isfinite(v)) for v in (f, r, t, w)) or np.any(f < 0) or np.any(w < 0):
            raise ValueError("frequency, recency, T and weights must be finite and not negative")
        _check_inputs(f.astype(int), r, t)  # as lifetimes' fit does (it truncates frequency)
    except ValueError as exc:
        raise _fit_error(name, exc, None) from exc
    if not np.any((f >= 1) & (w > 0)):
        raise ModelFitError(
            f"{MODEL_LABELS[name]} cannot be fitted: none of the {int(w.sum())} customers made a repeat "
            "purchase, so nothing shows how often customers buy or when they stop. "
            "Lengthen the calibration period or check the data."
        )


def _fast_fit(
    name: str, f: np.ndarray, r: np.ndarray, t: np.ndarray, w: np.ndarray, weights: np.ndarray | None,
    start: dict[str, float] | None = None,
) -> FittedModel:
    """Fit with :mod:`helpers.models.fast_models` and fill a lifetimes fitter as its ``fit`` would
    (``start``: the Pareto/NBD starting point, see :func:`pareto_start`)."""
    f = f.astype(int).astype("float64")  # lifetimes' fit truncates frequency the same way
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = _FAST_FITS[name](f, r, t, weights, start=start) if start is not None else _FAST_FITS[name](
                f, r, t, weights)
        except fast_models.FastFitError as exc:
            raise _fit_error(name, exc) from exc
    params = fit.params
    hessian = fit.log_hessian
    fitter = _lifetimes_fitter(name, params, f, r, t, w, fit.log_likelihood, hessian)
    if hessian is None:
        hessian = fast_models.numerical_log_hessian(fit.loglik, params, _HESSIAN_STEP)
    errors = standard_errors_from_log_hessian(hessian, params)
    return FittedModel(
        name, fitter, params, errors, fit.log_likelihood, int(w.sum()), 0.0, log_covariance(hessian)
    )


def _lifetimes_fitter(
    name: str,
    params: dict[str, float],
    f: np.ndarray,
    r: np.ndarray,
    t: np.ndarray,
    w: np.ndarray,
    log_likelihood: float,
    log_hessian: np.ndarray | None,
) -> Any:
    """A lifetimes fitter in the state its ``fit`` leaves it, with the given estimates.

    Sets ``params_``, ``data``, ``predict``, ``generate_new_data``, ``_scale`` and
    ``_negative_log_likelihood_`` (lifetimes' value: -LL / n on time rescaled to max age 1,
    i.e. -(LL - ln(scale) sum(w x)) / n); for BG/NBD also ``_hessian_`` (of that mean, in
    log-parameters) and the ``variance_matrix_`` / ``standard_errors_`` /
    ``confidence_intervals_`` lifetimes derives from it.
    """
    fitter = TRANSACTION_MODELS[name](penalizer_coef=0.0)
    age = t
    scale = 1.0 / age.max() if age.max() > 0 else 1.0
    n = float(w.sum())
    fitter._scale = scale
    fitter.params_ = pd.Series(params, dtype="float64")
    fitter.data = pd.DataFrame({"frequency": f.astype(int), "recency": r, "T": t, "weights": w})
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    scaled_ll = log_likelihood - np.log(scale) * float((w * f).sum())
    if name == "pareto":
        fitter._negative_log_likelihood_ = -scaled_ll / float(w.mean())
        fitter._hessian_ = None
        fitter.generate_new_data = lambda size=1: pareto_nbd_model(
            age, *fitter._unload_params("r", "alpha", "s", "beta"), size=size)
    else:
        fitter._negative_log_likelihood_ = -scaled_ll / n
        generate = modified_beta_geometric_nbd_model if name == "mbgnbd" else beta_geometric_nbd_model
        fitter.generate_new_data = lambda size=1: generate(
            age, *fitter._unload_params("r", "alpha", "a", "b"), size=size)
        if log_hessian is not None:
            fitter._hessian_ = -log_hessian / n
            with np.errstate(all="ignore"):
                try:
                    fitter.variance_matrix_ = fitter._compute_variance_matrix()
                    fitter.standard_errors_ = fitter._compute_standard_errors()
                    fitter.confidence_intervals_ = fitter._compute_confidence_intervals()
                except np.linalg.LinAlgError:
                    pass
    return fitter


def _transaction_log_likelihood(
    name: str, params: dict[str, float], f: np.ndarray, r: np.ndarray, t: np.ndarray, w: np.ndarray
) -> float:
    values = np.array(list(params.values()))
    if name == "pareto":
        per_row = ParetoNBDFitter._conditional_log_likelihood(values, f, r, t)
        return float((w * per_row).sum())
    fitter_class = TRANSACTION_MODELS[name]
    # lifetimes returns -sum(w * ll) / sum(w) + penalty; with no penalty, undo the division.
    return float(-fitter_class._negative_log_likelihood(np.log(values), f, r, t, w, 0.0) * w.sum())


def log_likelihood(model: FittedModel) -> float:
    """The model's log-likelihood on its own data and time unit (as papers report it)."""
    return model.log_likelihood


def standard_errors(
    loglik: Callable[[dict[str, float]], float], params: dict[str, float]
) -> dict[str, float]:
    """Standard errors from the observed information, by the delta method.

    The Hessian of the log-likelihood is taken numerically in log-parameter space (where
    the likelihood is close to quadratic), inverted, and mapped back: se(p) = p * se(log p).
    Parameters whose information matrix is singular get NaN.
    """
    hess = fast_models.numerical_log_hessian(loglik, params, _HESSIAN_STEP)
    return standard_errors_from_log_hessian(hess, params)


def standard_errors_from_log_hessian(hess: np.ndarray, params: dict[str, float]) -> dict[str, float]:
    """Delta-method standard errors from the log-likelihood's Hessian in log-parameters.

    cov(log p) = inverse of the observed information -H; se(p) = p * sqrt(cov(log p)_ii).
    Parameters whose information matrix is singular (or not positive) get NaN.
    """
    names = list(params)
    try:
        cov_log = np.linalg.inv(-np.asarray(hess, dtype="float64"))
        diag = np.diag(cov_log)
        se_log = np.sqrt(np.where(diag > 0, diag, np.nan))
    except np.linalg.LinAlgError:
        se_log = np.full(len(names), np.nan)
    return {n: float(params[n] * se_log[i]) for i, n in enumerate(names)}


def with_params(model: FittedModel, params: dict[str, float]) -> FittedModel:
    """The same model with other parameter values (e.g. a draw from the estimates' sampling
    distribution): a shallow copy of the lifetimes fitter with ``params_`` replaced, so every
    prediction function here works on it. Standard errors and likelihood stay those of the fit."""
    fitter = copy.copy(model.fitter)
    fitter.params_ = pd.Series({k: float(params[k]) for k in model.params}, dtype="float64")
    return dataclasses.replace(model, fitter=fitter, params={k: float(params[k]) for k in model.params})


def log_covariance(hess: np.ndarray) -> np.ndarray | None:
    """Covariance of the log parameters, inverse of the observed information -H; None if singular
    or not positive definite (then no draws of the parameters can be made)."""
    try:
        cov = np.linalg.inv(-np.asarray(hess, dtype="float64"))
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return None
    return cov if np.all(np.isfinite(cov)) else None


def expected_purchases(model: FittedModel, t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Expected repeat purchases in the next ``t`` time units for each customer.

    BG/NBD and Pareto/NBD: lifetimes' formulas computed by :mod:`helpers.models.fast_models`,
    which evaluates the hypergeometric function once per distinct pair of statistics instead
    of once per customer (BG/NBD: the same numbers to the last bit, as the one-month
    undiscounted case of :func:`helpers.models.fast_models.bgnbd_discounted_purchases`;
    Pareto/NBD: :func:`helpers.models.fast_models.pareto_expected_purchases`, to 1e-10)."""
    f, r, age = _arrays(frequency, recency, T)
    if np.ndim(t) == 0 and model.name == "bgnbd":
        return fast_models.bgnbd_discounted_purchases(model.params, f, r, age, months=1, monthly_discount_rate=0.0,
                                                      periods_per_month=float(t))
    if np.ndim(t) == 0 and model.name == "pareto":
        return fast_models.pareto_expected_purchases(model.params, float(t), f, r, age)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.fitter.conditional_expected_number_of_purchases_up_to_time(t, f, r, age)
    return np.atleast_1d(np.asarray(out, dtype="float64"))


def probability_alive(model: FittedModel, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """P(customer still active) at the end of calibration, always as a 1-D array."""
    f, r, age = _arrays(frequency, recency, T)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.fitter.conditional_probability_alive(f, r, age)
    return np.atleast_1d(np.asarray(out, dtype="float64")).reshape(-1)


def population_expected_purchases(model: FittedModel, t: Any) -> np.ndarray:
    """Expected repeat purchases by age ``t`` of a customer just acquired (unconditional)."""
    times = np.atleast_1d(np.asarray(t, dtype="float64"))
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = model.fitter.expected_number_of_purchases_up_to_time(times)
    return np.atleast_1d(np.asarray(out, dtype="float64"))


def fit_gamma_gamma(
    frequency: Any, monetary_value: Any, *, weights: Any = None, penalizer: float = 0.0
) -> FittedModel:
    """Fit the Gamma-Gamma spend model on repeat buyers (frequency > 0, spend > 0)."""
    f, m = _arrays(frequency, monetary_value)
    keep = (f > 0) & (m > 0)
    f, m = f[keep], m[keep]
    w = _weights(weights, len(keep))[keep]
    if len(f) < 3:
        raise ModelFitError(
            f"only {len(f)} customers bought more than once with positive spend; "
            "the spend model needs repeat buyers. Lengthen the calibration period."
        )
    try:
        fit = fast_models.fit_gamma_gamma(f, m, w, penalizer=penalizer)
    except fast_models.FastFitError:
        return _lifetimes_gamma_gamma(f, m, w, penalizer)  # lifetimes' own optimiser, and its errors
    fitter = GammaGammaFitter(penalizer_coef=penalizer)
    fitter.params_ = pd.Series(fit.params, dtype="float64")
    fitter.data = pd.DataFrame({"monetary_value": m, "frequency": f, "weights": w})
    params_array = np.array([fit.params[k] for k in fast_models.GAMMA_GAMMA_PARAMS])
    fitter._negative_log_likelihood_ = -fit.log_likelihood / fit.n_customers + penalizer * float((params_array**2).sum())
    fitter._hessian_ = -fit.log_hessian / fit.n_customers
    return FittedModel(
        "gamma_gamma", fitter, fit.params, standard_errors_from_log_hessian(fit.log_hessian, fit.params),
        fit.log_likelihood, int(w.sum()), penalizer, log_covariance(fit.log_hessian),
    )


def _lifetimes_gamma_gamma(f: np.ndarray, m: np.ndarray, w: np.ndarray, penalizer: float) -> FittedModel:
    """Gamma-Gamma fitted by lifetimes (the fallback when the fast fit finds no maximum)."""
    fitter = GammaGammaFitter(penalizer_coef=penalizer)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # lifetimes prints failures
        warnings.simplefilter("ignore")
        for tol in _GAMMA_GAMMA_TOLERANCES:
            try:
                fitter.fit(f, m, weights=w, tol=tol)
                break
            except ConvergenceError as exc:
                # BFGS stops with "precision loss" when the gradient is already ~1e-7 but its
                # strict default tolerance was not met; a looser gradient tolerance then succeeds
                if tol == _GAMMA_GAMMA_TOLERANCES[-1]:
                    raise ModelFitError(
                        f"Gamma-Gamma did not fit these data ({str(exc).strip()}). " + fit_advice(penalizer)
                    ) from exc
            except (ValueError, np.linalg.LinAlgError) as exc:
                raise ModelFitError(
                    f"Gamma-Gamma did not fit these data ({str(exc).strip()}). " + fit_advice(penalizer)
                ) from exc
    params = {k: float(v) for k, v in fitter.params_.items()}

    def loglik(p: dict[str, float]) -> float:
        values = np.log(np.array(list(p.values())))
        return float(-GammaGammaFitter._negative_log_likelihood(values, f, m, w, 0.0) * w.sum())

    hess = fast_models.numerical_log_hessian(loglik, params, _HESSIAN_STEP)
    return FittedModel(
        "gamma_gamma", fitter, params, standard_errors_from_log_hessian(hess, params), loglik(params),
        int(w.sum()), penalizer, log_covariance(hess),
    )


def expected_spend(spend_model: FittedModel, frequency: Any, monetary_value: Any) -> np.ndarray:
    """Expected average spend per future purchase (Gamma-Gamma posterior mean)."""
    f, m = _arrays(frequency, monetary_value)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = spend_model.fitter.conditional_expected_average_profit(f, m)
    return np.atleast_1d(np.asarray(out, dtype="float64"))


def lifetimes_clv(
    spend_model: FittedModel,
    purchase_model: FittedModel,
    frequency: Any,
    recency: Any,
    T: Any,
    monetary_value: Any,
    *,
    months: int,
    monthly_discount_rate: float,
    freq: str,
) -> np.ndarray:
    """lifetimes' own ``customer_lifetime_value`` (Series sharing one index, see quirk 2).

    Kept as the reference the package's vectorised :func:`helpers.studies.clv.analysis.customer_lifetime_value`
    is tested against; lifetimes' routine loops over months with pandas and is slow.
    """
    f, r, age, m = _arrays(frequency, recency, T, monetary_value)
    index = pd.RangeIndex(len(f))
    series = [pd.Series(v, index=index) for v in (f, r, age, m)]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = spend_model.fitter.customer_lifetime_value(
            purchase_model.fitter, *series, time=months, discount_rate=monthly_discount_rate, freq=freq
        )
    return out.to_numpy(dtype="float64")
