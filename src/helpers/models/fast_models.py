"""Fast maximum likelihood for BG/NBD, Pareto/NBD and MBG/NBD, and closed-form BG/NBD CLV.

The likelihoods are exactly those lifetimes 0.11.3 maximises (``BetaGeoFitter``,
``ParetoNBDFitter``, ``ModifiedBetaGeoFitter``); only the arithmetic is organised for speed, so the estimates are the
same maximum (tests compare with lifetimes on CDNOW). :mod:`helpers.models.lifetimes_adapter` uses
these fits by default when there is no penalizer and stores the estimates in a lifetimes
fitter, so lifetimes' prediction methods work on them; BG/NBD's and Pareto/NBD's expected
purchases are computed here (:func:`bgnbd_discounted_purchases`, :func:`pareto_expected_purchases`:
lifetimes' formulas, tested equal). This module does not import lifetimes.

Why lifetimes is slow on large bases: collapsing to distinct (x, t_x, T) rows removes little
when t_x and T are in days (1M customers -> about 500k rows); lifetimes then optimises with
autograd, which traces every operation in Python, and computes an autograd Hessian.
What is faster here:

- every term that depends on one statistic only (``lgamma(r + x)``, ``log(alpha + T)``,
  ``log(alpha + t_x)``, ...) is computed on that statistic's few distinct values and
  gathered, so one evaluation of the log-likelihood is a handful of vector operations;
- BG/NBD: analytic gradient, BFGS in log-parameters (warm-started on a subset of rows when
  there are many), Hessian for standard errors by differencing the analytic gradient;
- MBG/NBD: the same as BG/NBD with its own likelihood and gradient (x + 1 in the beta terms,
  the dropout term for every customer);
- Pareto/NBD: the Gauss hypergeometric terms are evaluated once per distinct (x, t_x) and
  (x, T) pair; L-BFGS-B in log-parameters with an analytic gradient (only the hypergeometric
  terms' derivatives in their parameters are differenced, per pair), started from the BG/NBD
  estimates instead of lifetimes' random start and Nelder-Mead (tolerance 1e-4); Hessian by
  differencing that gradient;
- Pareto/NBD expected purchases: lifetimes' formula with the likelihood's terms above;
- BG/NBD CLV: the conditional expectation written out, with the factor that does not depend
  on the horizon computed once per customer and the hypergeometric term once per distinct
  (x, T) pair and month.

Notation: x = frequency (repeat purchases), t_x = recency (age at the last purchase),
T = age at the end of calibration, w = number of customers sharing a row.

References
----------
- Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005), "'Counting Your Customers' the Easy
  Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284: BG/NBD
  likelihood (eq. 6) and conditional expectation (eq. 10); see also Fader, Hardie and Lee,
  "Computing P(alive) Using the BG/NBD Model" and Hardie's note 004 ("Implementing the BG/NBD
  Model for Customer Base Analysis in Excel"), section 7, for the log form used here.
- Fader, P. S. and Hardie, B. G. S. (2005), "A Note on Deriving the Pareto/NBD Model and
  Related Expressions", http://brucehardie.com/notes/009/ : Pareto/NBD likelihood (eq. 18-20).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1, polygamma, psi

BGNBD_PARAMS = ("r", "alpha", "a", "b")
PARETO_PARAMS = ("r", "alpha", "s", "beta")
GAMMA_GAMMA_PARAMS = ("p", "q", "v")

#: Above this many rows, a BG/NBD fit on a random subset of rows gives the starting point.
WARM_START_ROWS = 50_000
#: Step (in log-parameters) of the central differences of the BG/NBD gradient (Hessian).
GRADIENT_STEP = 1e-5
#: Relative step of the central differences of the Pareto/NBD hypergeometric terms in their
#: parameters (the rest of the Pareto/NBD gradient is analytic).
HYP_STEP = 1e-5
#: Step (in log-parameters) of the numerical Hessian (second differences of the log-likelihood).
HESSIAN_STEP = 1e-4
#: Largest gradient of the mean log-likelihood (per customer, in log-parameters) accepted
#: as a maximum; converged fits end far below it (about 1e-8).
GRADIENT_TOLERANCE = 1e-5
#: Estimates outside this range (alpha and beta in units of the oldest customer's age) mean
#: the maximum lies on the edge of the parameter space: the data do not pin the model down.
PARAMETER_RANGE = (1e-6, 1e6)


class FastFitError(ValueError):
    """The fast fit did not reach a finite maximum (the adapter turns it into ModelFitError)."""


@dataclass
class FastFit:
    """Estimates and what the adapter needs to build a ``FittedModel``."""

    name: str
    params: dict[str, float]
    log_likelihood: float
    n_customers: float
    #: log-likelihood as a function of the parameters (for numerical standard errors)
    loglik: Callable[[dict[str, float]], float] = field(repr=False)
    #: Hessian of the log-likelihood in log-parameters (for delta-method standard errors)
    log_hessian: np.ndarray | None = field(default=None, repr=False)
    iterations: int = 0


# --------------------------------------------------------------------------- statistics


class Stats:
    """Sufficient statistics (x, t_x, T, w) and the distinct values of each statistic.

    ``ux[ix] == x``, ``utx[itx] == t_x``, ``uT[iT] == T``: a term that depends on one
    statistic only is computed on its distinct values and gathered with the inverse index.
    """

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        self.x, self.tx, self.T, self.w = x, tx, T, w
        self.ux, self.ix = np.unique(x, return_inverse=True)
        self.uT, self.iT = np.unique(T, return_inverse=True)
        self.utx, self.itx = np.unique(tx, return_inverse=True)
        self.n = float(w.sum())
        zero = x == 0
        self.rep = ~zero
        # customers without repeat purchases: their weight by distinct T is all BG/NBD needs
        self.n0 = float(w[zero].sum())
        self.w0_by_T = np.bincount(self.iT[zero], weights=w[zero], minlength=len(self.uT))
        # repeat buyers, row by row, and their weight by distinct x
        self.w1, self.x1, self.ix1 = w[self.rep], x[self.rep], self.ix[self.rep]
        self.iT1, self.itx1 = self.iT[self.rep], self.itx[self.rep]
        self.n1 = float(self.w1.sum())
        self.w1_by_x = np.bincount(self.ix1, weights=self.w1, minlength=len(self.ux))

    @classmethod
    def from_data(cls, frequency: Any, recency: Any, T: Any, weights: Any = None) -> "Stats":
        """Statistics of the data; without ``weights``, identical rows are collapsed first."""
        x, tx, age = (np.asarray(v, dtype="float64").reshape(-1) for v in (frequency, recency, T))
        if weights is None:
            frame = pd.DataFrame({"x": x, "tx": tx, "T": age})
            rows = frame.groupby(["x", "tx", "T"], sort=True).size().reset_index()
            x, tx, age = (rows[c].to_numpy(dtype="float64") for c in ("x", "tx", "T"))
            w = rows[0].to_numpy(dtype="float64")
        else:
            w = np.asarray(weights, dtype="float64").reshape(-1)
        return cls(x, tx, age, w)

    def subset(self, rows: np.ndarray) -> "Stats":
        return Stats(self.x[rows], self.tx[rows], self.T[rows], self.w[rows])

    @property
    def time_scale(self) -> float:
        """Factor that brings the oldest customer's age to 10 while optimising (alpha near 1)."""
        oldest = float(self.T.max()) if len(self.T) else 0.0
        return 10.0 / oldest if oldest > 0 else 1.0


def _sum(weights: np.ndarray, values: np.ndarray) -> float:
    """sum(weights * values), without BLAS: on a busy machine OpenBLAS's threaded dot product
    of a few hundred thousand numbers can take 100 times longer than this."""
    return float(np.multiply(weights, values).sum())


def distinct_pairs(u: np.ndarray, v: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Distinct (u, v) pairs and each row's pair index (hashing; ``np.unique(axis=0)`` sorts, slowly)."""
    cu, uu = pd.factorize(u)
    cv, uv = pd.factorize(v)
    codes, keys = pd.factorize(cu.astype(np.int64) * len(uv) + cv)
    keys = np.asarray(keys)
    return (np.asarray(uu)[keys // len(uv)], np.asarray(uv)[keys % len(uv)]), codes


# --------------------------------------------------------------------------- BG/NBD


def _dropout_mixture(w: np.ndarray, a3: np.ndarray, a4: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The BG/NBD-family term ln(exp(A3) + exp(A4)) per row, computed stably, and the weights
    w pi3 and w pi4 (pi3 = exp(A3) / (exp(A3) + exp(A4)), pi4 = 1 - pi3) its gradient uses."""
    m = np.maximum(a3, a4)
    p3 = np.exp(a3 - m)
    total = p3 + np.exp(a4 - m)
    wp3 = w * (p3 / total)
    return m + np.log(total), wp3, w - wp3


def bgnbd_loglik_grad(log_params: np.ndarray, s: Stats) -> tuple[float, np.ndarray]:
    """BG/NBD log-likelihood and its gradient with respect to log-parameters.

    Per customer (FHL 2005, eq. 6, in the log form of Hardie's note 004, section 7):

        ln L = A1 + A2 + ln(exp(A3) + [x > 0] exp(A4))
        A1 = lnG(r + x) - lnG(r) + r ln(alpha)
        A2 = lnG(a + b) + lnG(b + x) - lnG(b) - lnG(a + b + x)
        A3 = -(r + x) ln(alpha + T)
        A4 = ln(a) - ln(b + x - 1) - (r + x) ln(alpha + t_x)

    the same expression as ``BetaGeoFitter._negative_log_likelihood`` (times -sum(w), without
    the penalty). With pi3 = exp(A3) / (exp(A3) + exp(A4)) and pi4 = 1 - pi3 (pi3 = 1 if
    x = 0) and psi the digamma function, the derivatives are

        d/dr     = psi(r + x) - psi(r) + ln(alpha) - pi3 ln(alpha + T) - pi4 ln(alpha + t_x)
        d/dalpha = r / alpha - (r + x) (pi3 / (alpha + T) + pi4 / (alpha + t_x))
        d/da     = psi(a + b) - psi(a + b + x) + pi4 / a
        d/db     = psi(a + b) + psi(b + x) - psi(b) - psi(a + b + x) - pi4 / (b + x - 1)

    and d/d(ln p) = p d/dp. Customers without a repeat purchase contribute A1 + A2 + A3 only,
    so they are summed on their distinct T values apart from the repeat buyers.
    """
    r, alpha, a, b = np.exp(log_params)
    ux = s.ux
    lg_u = gammaln(r + ux) - gammaln(r) + gammaln(a + b) + gammaln(b + ux) - gammaln(b) - gammaln(a + b + ux)
    dr_u = psi(r + ux) - psi(r)
    da_u = psi(a + b) - psi(a + b + ux)
    db_u = psi(a + b) + psi(b + ux) - psi(b) - psi(a + b + ux)
    log_alpha = np.log(alpha)
    log_aT_u = np.log(alpha + s.uT)
    inv_aT_u = 1.0 / (alpha + s.uT)
    ll = 0.0
    g = np.zeros(4)
    if s.n0 > 0:  # x = 0: ln L = A1 + A2 + A3 with the lnG terms at x = 0 (ux[0] == 0)
        sum_log_aT = _sum(s.w0_by_T, log_aT_u)
        ll += s.n0 * (lg_u[0] + r * log_alpha) - r * sum_log_aT
        g += [s.n0 * (dr_u[0] + log_alpha) - sum_log_aT, r * (s.n0 / alpha - _sum(s.w0_by_T, inv_aT_u)),
              s.n0 * da_u[0], s.n0 * db_u[0]]
    if s.n1 > 0:  # repeat buyers
        w, x = s.w1, s.x1
        rx = r + x
        log_aT = log_aT_u[s.iT1]
        log_atx = np.log(alpha + s.utx)[s.itx1]
        inv_bx = (1.0 / (b + ux - 1.0))[s.ix1]
        log_mix, wp3, wp4 = _dropout_mixture(w, -rx * log_aT, (np.log(a) + np.log(inv_bx)) - rx * log_atx)
        ll += _sum(s.w1_by_x, lg_u) + s.n1 * r * log_alpha + _sum(w, log_mix)
        g += [_sum(s.w1_by_x, dr_u) + s.n1 * log_alpha - _sum(wp3, log_aT) - _sum(wp4, log_atx),
              r * s.n1 / alpha - _sum(wp3 * rx, inv_aT_u[s.iT1]) - _sum(wp4 * rx, (1.0 / (alpha + s.utx))[s.itx1]),
              _sum(s.w1_by_x, da_u) + wp4.sum() / a,
              _sum(s.w1_by_x, db_u) - _sum(wp4, inv_bx)]
    return float(ll), g * np.array([r, alpha, a, b])


def bgnbd_log_likelihood(params: dict[str, float], frequency: Any, recency: Any, T: Any, weights: Any = None) -> float:
    """BG/NBD log-likelihood of the data in its own time unit (see :func:`bgnbd_loglik_grad`)."""
    s = Stats.from_data(frequency, recency, T, weights)
    return bgnbd_loglik_grad(np.log([params[k] for k in BGNBD_PARAMS]), s)[0]


def _bfgs_bgnbd(s: Stats, theta0: np.ndarray, scale: float, gtol: float = 1e-9,
                hess_inv0: np.ndarray | None = None,
                loglik_grad: Callable[[np.ndarray, Stats], tuple[float, np.ndarray]] | None = None,
                penalizer: float = 0.0, penalty_scale: float = 1.0) -> Any:
    """BFGS on the mean negative log-likelihood in log-parameters, time multiplied by ``scale``.

    ``gtol`` bounds the gradient of the mean log-likelihood at the end; the final fit stops at
    1e-9 (parameters to about 1e-6) or where rounding stops further progress. ``loglik_grad``
    (default :func:`bgnbd_loglik_grad`) may be another model in (r, alpha, a, b), e.g. MBG/NBD.
    ``penalizer`` adds lifetimes' L2 penalty, ``penalizer * sum(p ** 2)`` on the parameters of
    time multiplied by ``penalty_scale`` (lifetimes': oldest age 1; what
    ``BetaGeoFitter(penalizer_coef=...)`` minimises).
    """
    shift = np.array([0.0, np.log(scale), 0.0, 0.0])
    penalty_shift = np.array([0.0, np.log(penalty_scale), 0.0, 0.0])
    loglik_grad = loglik_grad or bgnbd_loglik_grad

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        ll, grad = loglik_grad(theta - shift, s)
        if not np.isfinite(ll) or not np.all(np.isfinite(grad)):
            return np.inf, np.zeros(4)
        squares = np.exp(2.0 * (theta - shift + penalty_shift))
        return -ll / s.n + penalizer * squares.sum(), -grad / s.n + 2.0 * penalizer * squares

    with np.errstate(all="ignore"):
        out = minimize(objective, theta0, jac=True, method="BFGS",
                       options={"gtol": gtol, "maxiter": 2000, "hess_inv0": hess_inv0})
    out.x = out.x - shift
    return out


def fit_bgnbd(frequency: Any, recency: Any, T: Any, weights: Any = None, *, seed: int = 0) -> FastFit:
    """BG/NBD maximum likelihood; the same estimates as ``BetaGeoFitter().fit``.

    ``weights`` counts customers sharing a row; without it, identical rows are collapsed.
    Large inputs (more than :data:`WARM_START_ROWS` rows) are first fitted on a random subset
    of rows (``seed``) to find a good starting point. The returned ``log_hessian`` is the
    Hessian of the log-likelihood in log-parameters, by central differences of the analytic
    gradient, for standard errors. Raises :class:`FastFitError` when there is no interior
    maximum (see :func:`_check_interior`).
    """
    return _fit_dropout_model("bgnbd", bgnbd_loglik_grad, Stats.from_data(frequency, recency, T, weights), seed)


def _fit_dropout_model(name: str, loglik_grad: Callable[[np.ndarray, Stats], tuple[float, np.ndarray]],
                       s: Stats, seed: int) -> FastFit:
    """The unpenalised fit of BG/NBD or MBG/NBD (``loglik_grad`` in (r, alpha, a, b)) with its
    checks: a converged interior maximum, Hessian by differences of the gradient."""
    log_params, ll, grad, iterations, message = _checked_estimate(s, seed, loglik_grad)
    _check_converged(grad / s.n, message)
    params = {k: float(v) for k, v in zip(BGNBD_PARAMS, np.exp(log_params))}
    hess = _hessian_from_gradient(lambda p: loglik_grad(p, s)[1], log_params, GRADIENT_STEP)
    _check_interior(params, hess, float(s.T.max()))
    return FastFit(name, params, ll, s.n, lambda p: loglik_grad(np.log([p[k] for k in BGNBD_PARAMS]), s)[0],
                   hess, iterations)


def _checked_estimate(s: Stats, seed: int = 0,
                      loglik_grad: Callable[[np.ndarray, Stats], tuple[float, np.ndarray]] | None = None,
                      penalizer: float = 0.0) -> tuple[np.ndarray, float, np.ndarray, int, str]:
    """:func:`_bgnbd_estimate` with the log-likelihood and its gradient at the estimate
    (``loglik_grad``, default BG/NBD's); :class:`FastFitError` when no customer made a repeat
    purchase or the optimiser stopped at non-finite values."""
    if s.n <= 0 or not s.rep.any():
        raise FastFitError("no customer made a repeat purchase")
    loglik_grad = loglik_grad or bgnbd_loglik_grad
    log_params, iterations, message = _bgnbd_estimate(s, seed, loglik_grad=loglik_grad, penalizer=penalizer)
    ll, grad = loglik_grad(log_params, s)
    if not (np.all(np.isfinite(log_params)) and np.isfinite(ll)):
        raise FastFitError(f"the optimiser stopped at non-finite values ({message})")
    return log_params, ll, grad, iterations, message


def _bgnbd_estimate(s: Stats, seed: int = 0,
                    loglik_grad: Callable[[np.ndarray, Stats], tuple[float, np.ndarray]] | None = None,
                    penalizer: float = 0.0) -> tuple[np.ndarray, int, str]:
    """BG/NBD (or, with ``loglik_grad``, MBG/NBD) log-parameter estimates (unchecked),
    iterations and the optimiser's message (``penalizer``: see :func:`_bfgs_bgnbd`)."""
    scale = s.time_scale
    shift = np.array([0.0, np.log(scale), 0.0, 0.0])
    penalty = {"penalizer": penalizer, "penalty_scale": _lifetimes_time_scale(s)}
    theta = np.full(4, np.log(0.1))  # a fixed start (parameters 0.1 on the scaled time)
    iterations = 0
    hess_inv = None
    if len(s.x) > WARM_START_ROWS:
        pick = np.random.default_rng(seed).choice(len(s.x), WARM_START_ROWS, replace=False)
        warm = _bfgs_bgnbd(s.subset(pick), theta, scale, gtol=1e-6, loglik_grad=loglik_grad,
                           **penalty)  # a start only
        if np.all(np.isfinite(warm.x)):
            theta = warm.x + shift
            # the subset's mean log-likelihood has about the full data's curvature as well
            sym = (warm.hess_inv + warm.hess_inv.T) / 2
            if np.all(np.isfinite(sym)) and np.linalg.eigvalsh(sym).min() > 0:
                hess_inv = sym
        iterations += int(warm.nit)
    out = _bfgs_bgnbd(s, theta, scale, hess_inv0=hess_inv, loglik_grad=loglik_grad, **penalty)
    return out.x, iterations + int(out.nit), str(out.message)


def fit_bgnbd_penalised(frequency: Any, recency: Any, T: Any, weights: Any, penalizer: float) -> dict[str, float]:
    """BG/NBD estimates with lifetimes' L2 penalty (``BetaGeoFitter(penalizer_coef=penalizer)``),
    minimised to a far tighter tolerance than lifetimes' BFGS (1e-7 on the gradient). Raises
    :class:`FastFitError` when the search does not settle, so the caller can fall back on lifetimes."""
    s = Stats.from_data(frequency, recency, T, weights)
    log_params, _, grad, _, message = _checked_estimate(s, penalizer=penalizer)
    scaled = log_params + np.array([0.0, np.log(_lifetimes_time_scale(s)), 0.0, 0.0])
    _check_converged(grad / s.n - 2.0 * penalizer * np.exp(2.0 * scaled), message)
    return {k: float(v) for k, v in zip(BGNBD_PARAMS, np.exp(log_params))}


def _lifetimes_time_scale(s: Stats) -> float:
    """lifetimes' ``_scale_time``: the factor bringing the oldest customer's age to 1."""
    oldest = float(s.T.max()) if len(s.T) else 0.0
    return 1.0 / oldest if oldest > 0 else 1.0


# --------------------------------------------------------------------------- MBG/NBD


def mbgnbd_loglik_grad(log_params: np.ndarray, s: Stats) -> tuple[float, np.ndarray]:
    """MBG/NBD log-likelihood and its gradient with respect to log-parameters.

    Per customer (Batislam, Denizel & Filiztekin 2007), as ``ModifiedBetaGeoFitter._negative_log_likelihood``
    writes it (times -sum(w), without the penalty):

        ln L = A1 + A2 + ln(exp(A3) + exp(A4))
        A1 = lnG(r + x) - lnG(r) + r ln(alpha)
        A2 = lnG(a + b) + lnG(b + x + 1) - lnG(b) - lnG(a + b + x + 1)
        A3 = -(r + x) ln(alpha + T)
        A4 = ln(a) - ln(b + x) - (r + x) ln(alpha + t_x)

    BG/NBD's form with x + 1 in the beta terms and the dropout term for every customer
    (also x = 0, where t_x = 0). With pi3 = exp(A3) / (exp(A3) + exp(A4)), pi4 = 1 - pi3:

        d/dr     = psi(r + x) - psi(r) + ln(alpha) - pi3 ln(alpha + T) - pi4 ln(alpha + t_x)
        d/dalpha = r / alpha - (r + x) (pi3 / (alpha + T) + pi4 / (alpha + t_x))
        d/da     = psi(a + b) - psi(a + b + x + 1) + pi4 / a
        d/db     = psi(a + b) + psi(b + x + 1) - psi(b) - psi(a + b + x + 1) - pi4 / (b + x)

    and d/d(ln p) = p d/dp; terms of one statistic are computed on its distinct values.
    """
    r, alpha, a, b = np.exp(log_params)
    ux, w, x = s.ux, s.w, s.x
    lg_u = gammaln(r + ux) - gammaln(r) + gammaln(a + b) + gammaln(b + ux + 1.0) - gammaln(b) - gammaln(a + b + ux + 1.0)
    dr_u = psi(r + ux) - psi(r)
    da_u = psi(a + b) - psi(a + b + ux + 1.0)
    db_u = psi(a + b) + psi(b + ux + 1.0) - psi(b) - psi(a + b + ux + 1.0)
    w_by_x = np.bincount(s.ix, weights=w, minlength=len(ux))
    rx = r + x
    log_aT = np.log(alpha + s.uT)[s.iT]
    log_atx = np.log(alpha + s.utx)[s.itx]
    inv_bx = (1.0 / (b + ux))[s.ix]
    log_mix, wp3, wp4 = _dropout_mixture(w, -rx * log_aT, (np.log(a) + np.log(inv_bx)) - rx * log_atx)
    log_alpha = np.log(alpha)
    ll = _sum(w_by_x, lg_u) + s.n * r * log_alpha + _sum(w, log_mix)
    g = np.array([
        _sum(w_by_x, dr_u) + s.n * log_alpha - _sum(wp3, log_aT) - _sum(wp4, log_atx),
        r * s.n / alpha - _sum(wp3 * rx, (1.0 / (alpha + s.uT))[s.iT]) - _sum(wp4 * rx, (1.0 / (alpha + s.utx))[s.itx]),
        _sum(w_by_x, da_u) + wp4.sum() / a,
        _sum(w_by_x, db_u) - _sum(wp4, inv_bx),
    ])
    return float(ll), g * np.array([r, alpha, a, b])


def fit_mbgnbd(frequency: Any, recency: Any, T: Any, weights: Any = None, *, seed: int = 0) -> FastFit:
    """MBG/NBD maximum likelihood with the analytic gradient, as :func:`fit_bgnbd` does BG/NBD
    (same start, warm start on a subset of large inputs, BFGS to a gradient of 1e-9, Hessian
    by differences of the gradient, same checks). lifetimes' ``ModifiedBetaGeoFitter`` climbs
    with autograd to its own tolerance: the estimates agree to about 1e-6 relative."""
    return _fit_dropout_model("mbgnbd", mbgnbd_loglik_grad, Stats.from_data(frequency, recency, T, weights), seed)


def _check_converged(mean_gradient: np.ndarray, message: str) -> None:
    """Raise FastFitError unless the gradient of the mean log-likelihood is (close to) zero."""
    largest = float(np.max(np.abs(mean_gradient)))
    if not largest <= GRADIENT_TOLERANCE:
        raise FastFitError(
            f"the search for the best parameters did not settle (gradient {largest:.1e}, {message.strip()})"
        )


def _check_interior(params: dict[str, float], log_hessian: np.ndarray, oldest: float) -> None:
    """Raise FastFitError unless the estimates are an interior maximum with finite curvature.

    On too little data (a handful of customers, or repeat buyers who all behave alike) the
    likelihood keeps rising towards the edge of the parameter space (a parameter going to
    0 or infinity); lifetimes' BG/NBD fitter then fails to converge and its Pareto/NBD
    fitter returns such values. Both are reported here instead.
    """
    lo, hi = PARAMETER_RANGE
    relative = {k: v / oldest if k in ("alpha", "beta") and oldest > 0 else v for k, v in params.items()}
    outside = [f"{k} = {params[k]:.3g}" for k, v in relative.items() if not lo <= v <= hi]
    if outside:
        raise FastFitError(
            f"the estimates run to the edge of the parameter space ({', '.join(outside)}): "
            "these data do not pin the model down"
        )
    hess = np.asarray(log_hessian, dtype="float64")
    if not np.all(np.isfinite(hess)) or np.linalg.eigvalsh(-(hess + hess.T) / 2).min() <= 0:
        raise FastFitError("the log-likelihood has no proper maximum on these data (it is flat in some direction)")


def numerical_log_hessian(loglik: Callable[[dict[str, float]], float], params: dict[str, float],
                          h: float = HESSIAN_STEP) -> np.ndarray:
    """Hessian of ``loglik`` in log-parameters by second differences (4 evaluations per entry)."""
    names = list(params)
    x0 = np.log(np.array([params[n] for n in names], dtype="float64"))
    k = len(names)

    def ll_at(x: np.ndarray) -> float:
        return loglik(dict(zip(names, np.exp(x))))

    hess = np.empty((k, k))
    eye = np.eye(k) * h
    for i in range(k):  # k <= 4 parameters
        for j in range(i, k):
            ei, ej = eye[i], eye[j]
            value = ll_at(x0 + ei + ej) - ll_at(x0 + ei - ej) - ll_at(x0 - ei + ej) + ll_at(x0 - ei - ej)
            hess[i, j] = hess[j, i] = value / (4 * h * h)
    return hess


def _hessian_from_gradient(grad: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, h: float) -> np.ndarray:
    """Symmetrised central differences of an analytic gradient (2k gradient evaluations)."""
    k = len(x0)
    hess = np.empty((k, k))
    for i in range(k):  # k = 4 parameters
        step = np.zeros(k)
        step[i] = h
        hess[:, i] = (grad(x0 + step) - grad(x0 - step)) / (2 * h)
    return (hess + hess.T) / 2


# --------------------------------------------------------------------------- Pareto/NBD


class ParetoStats(Stats):
    """:class:`Stats` plus the distinct (x, t_x) and (x, T) pairs of the hypergeometric terms,
    and the distinct pairs of both sets together (``union_x``, ``union_t``; ``in_union1`` and
    ``in_union2`` place each set's pairs there): both terms are the same function of a pair,
    and most (x, t_x) pairs are also (x, T) pairs of other customers, so it is evaluated once
    per pair of the union (1M customers: 16k pairs instead of 2 x 14k)."""

    def __init__(self, base: Stats) -> None:
        super().__init__(base.x, base.tx, base.T, base.w)
        (x1, t1), self.i1 = distinct_pairs(self.x, self.tx)
        (x2, t2), self.i2 = distinct_pairs(self.x, self.T)
        self.pair1_x, self.pair1_t, self.pair2_x, self.pair2_t = x1, t1, x2, t2
        (self.union_x, self.union_t), codes = distinct_pairs(np.concatenate([x1, x2]), np.concatenate([t1, t2]))
        self.in_union1, self.in_union2 = codes[: len(x1)], codes[len(x1):]
        self.w_by_x = np.bincount(self.ix, weights=self.w, minlength=len(self.ux))


def pareto_loglik(params: np.ndarray, s: ParetoStats) -> float:
    """Pareto/NBD log-likelihood (Fader & Hardie 2005, note 009, eq. 18-20).

    Per customer, with F = the Gauss hypergeometric function 2F1:

        L = G(r + x) alpha^r beta^s / G(r)
            * [ 1 / ((alpha + T)^(r + x) (beta + T)^s) + s / (r + s + x) * A0 ]
        A0 = F(r+s+x, c; r+s+x+1; |alpha-beta| / (m + t_x)) / (m + t_x)^(r+s+x)
           - F(r+s+x, c; r+s+x+1; |alpha-beta| / (m + T)) / (m + T)^(r+s+x)

    with m = max(alpha, beta) and c = r + x if alpha < beta, else s + 1: the expression of
    ``ParetoNBDFitter._conditional_log_likelihood``. The F terms depend on a customer only
    through (x, t_x) or (x, T) and are evaluated once per distinct pair. A0 is computed as
    exp(u) (1 - exp(v - u)) in logs, which gives A0 = 0 (not NaN) for customers whose last
    purchase is at T; lifetimes returns NaN there when (r+s+x) ln(m + T) exceeds about 709
    (``scipy.special.logsumexp`` of two equal large numbers with weights 1 and -1).
    """
    return pareto_loglik_grad(params, s, gradient=False)[0]


def pareto_loglik_grad(params: np.ndarray, s: ParetoStats, gradient: bool = True) -> tuple[float, np.ndarray | None]:
    """:func:`pareto_loglik` and (``gradient``) its gradient with respect to (r, alpha, s, beta).

    Write A = r + s + x, q1 = m + t_x, q2 = m + T, G_i = ln F_i - A ln q_i (so
    A0 = exp(G1) - exp(G2)), w = exp(G2 - G1), first = -(r + x) ln(alpha + T) - s ln(beta + T),
    second = ln s + ln A0 - ln A and p2 = exp(second) / (exp(first) + exp(second)). Per customer

        d ln L = d a1 + (1 - p2) d first + p2 d second
        d second = [s] / s - dA / A + (dG1 - w dG2) / (1 - w)
        dG_i = d ln F_i - dA ln q_i - A dm / q_i

    with a1 = lnG(r + x) - lnG(r) + r ln alpha + s ln beta. ln F_i depends on the parameters
    through its first parameter A (the third is A + 1), its second c and its argument
    z = |alpha - beta| / q_i: those three partial derivatives are taken once per distinct pair
    (:func:`_ln_hyp_and_derivatives`), and every sum over customers of a pair term times a
    customer weight is a sum over pairs of the term times the pair's summed weight.
    Customers with t_x = T (A0 = 0, p2 = 0) contribute no ``second`` derivative.
    """
    if np.any(params <= 0):
        return -np.inf, (np.full(4, np.nan) if gradient else None)
    rows = _pareto_rows(params, s, gradient)
    ll = _sum(s.w, rows.a1 + rows.both)
    if not gradient:
        return ll, None
    r, alpha, s_, beta = params
    below, lo, hi = _ordered(alpha, beta)
    da1_, dc1, dz1, da2_, dc2, dz2 = rows.hyp_derivatives
    log_q1_u, log_q2_u = rows.log_q
    log_aT_u, log_bT_u = rows.log_T
    rsf, ratio, second, both = rows.rsf, rows.ratio, rows.second, rows.both
    e_r, e_alpha, e_s, e_beta = np.eye(4)
    d_rsf = e_r + e_s  # dA
    d_hi, d_lo = (e_beta, e_alpha) if below else (e_alpha, e_beta)
    d_c = e_r if below else e_s
    w = s.w
    wp2 = w * np.exp(second - both)  # 0 where A0 = 0
    wp1 = w - wp2
    # customers' weights on dG1 and dG2: wp2 / (1 - w) and wp2 w / (1 - w)
    with np.errstate(divide="ignore", invalid="ignore"):
        k1 = np.where(wp2 > 0, wp2 / (1.0 - ratio), 0.0)
    k2 = k1 * ratio
    g = np.zeros(4)
    # a1
    n = s.n
    w_by_x = s.w_by_x
    g += e_r * (_sum(w_by_x, psi(r + s.ux)) - n * psi(r) + n * np.log(alpha))
    g += e_alpha * (n * r / alpha) + e_s * (n * np.log(beta)) + e_beta * (n * s_ / beta)
    # (1 - p2) d first
    wp1_T = np.bincount(s.iT, weights=wp1, minlength=len(s.uT))
    wp1x_T = np.bincount(s.iT, weights=wp1 * (r + s.x), minlength=len(s.uT))
    g -= e_r * _sum(wp1_T, log_aT_u) + e_alpha * _sum(wp1x_T, 1.0 / (alpha + s.uT))
    g -= e_s * _sum(wp1_T, log_bT_u) + e_beta * (s_ * _sum(wp1_T, 1.0 / (beta + s.uT)))
    # p2 ([s] / s - dA / A)
    g += e_s * (wp2.sum() / s_) - d_rsf * _sum(wp2, 1.0 / rsf)
    # p2 (dG1 - w dG2) / (1 - w), dG_i = d ln F_i - dA ln q_i - A dm / q_i
    for k, inverse, pair_t, da, dc, dz, log_q_u, inv_q_u, index in (
        (k1, s.i1, s.pair1_t, da1_, dc1, dz1, log_q1_u, 1.0 / (hi + s.utx), s.itx),
        (-k2, s.i2, s.pair2_t, da2_, dc2, dz2, log_q2_u, 1.0 / (hi + s.uT), s.iT),
    ):
        by_pair = np.bincount(inverse, weights=k, minlength=len(pair_t))
        dz_hi = (lo + pair_t) / (hi + pair_t) ** 2  # dz / dm
        dz_lo = -1.0 / (hi + pair_t)  # dz / d min(alpha, beta)
        g += d_rsf * _sum(by_pair, da) + d_c * _sum(by_pair, dc)
        g += d_hi * _sum(by_pair, dz * dz_hi) + d_lo * _sum(by_pair, dz * dz_lo)
        by_t = np.bincount(index, weights=k, minlength=len(log_q_u))
        by_t_a = np.bincount(index, weights=k * rsf, minlength=len(log_q_u))
        g -= d_rsf * _sum(by_t, log_q_u) + d_hi * _sum(by_t_a, inv_q_u)
    return ll, g


class _ParetoRows(NamedTuple):
    """The per-row terms of :func:`pareto_loglik_grad` (its notation): ln L = a1 + both, with
    both = ln(exp(first) + exp(second)); and what its gradient reuses."""

    a1: np.ndarray
    first: np.ndarray
    second: np.ndarray
    both: np.ndarray
    ratio: np.ndarray  # w = exp(G2 - G1)
    rsf: np.ndarray  # A = r + s + x
    log_q: tuple[np.ndarray, np.ndarray]  # ln(m + t_x), ln(m + T) on the distinct t_x and T
    log_T: tuple[np.ndarray, np.ndarray]  # ln(alpha + T), ln(beta + T) on the distinct T
    hyp_derivatives: tuple[np.ndarray, ...] | None  # a, c and z derivatives of ln F_1, then ln F_2, per pair


def _ordered(alpha: float, beta: float) -> tuple[bool, float, float]:
    """(alpha < beta, min(alpha, beta), max(alpha, beta))."""
    return (True, alpha, beta) if alpha < beta else (False, beta, alpha)


def _pareto_rows(params: np.ndarray, s: ParetoStats, derivatives: bool) -> _ParetoRows:
    """:class:`_ParetoRows` at positive ``params`` (r, alpha, s, beta); the hypergeometric
    terms' derivatives only when ``derivatives``."""
    r, alpha, s_, beta = params
    below, lo, hi = _ordered(alpha, beta)
    # F(r + s + x, c; r + s + x + 1; |alpha - beta| / (m + t)) on the union of the pairs
    c = r + s.union_x if below else s_ + 1.0
    a = r + s_ + s.union_x
    z = (hi - lo) / (hi + s.union_t)
    hyp_derivatives = None
    if derivatives:
        by_union = _ln_hyp_and_derivatives(a, c, z)
        ln_f1, da1_, dc1, dz1 = (v[s.in_union1] for v in by_union)
        ln_f2, da2_, dc2, dz2 = (v[s.in_union2] for v in by_union)
        hyp_derivatives = (da1_, dc1, dz1, da2_, dc2, dz2)
    else:
        ln_f = np.log(hyp2f1(a, c, a + 1.0, z))
        ln_f1, ln_f2 = ln_f[s.in_union1], ln_f[s.in_union2]
    log_p1, log_p2 = ln_f1[s.i1], ln_f2[s.i2]
    rsf_u = r + s_ + s.ux  # A depends on x only: its logarithm on the distinct x
    rsf = rsf_u[s.ix]
    log_q1_u, log_q2_u = np.log(hi + s.utx), np.log(hi + s.uT)
    log_q1 = log_q1_u[s.itx]
    log_q2 = log_q2_u[s.iT]
    u, v = log_p1 + rsf * log_q2, log_p2 + rsf * log_q1
    ratio = np.exp(v - u)  # w = exp(G2 - G1), in [0, 1]
    log_a0 = u + np.log1p(-ratio) - rsf * (log_q1 + log_q2)
    log_aT_u, log_bT_u = np.log(alpha + s.uT), np.log(beta + s.uT)
    a1 = (gammaln(r + s.ux) - gammaln(r))[s.ix] + r * np.log(alpha) + s_ * np.log(beta)
    first = -(r + s.x) * log_aT_u[s.iT] - s_ * log_bT_u[s.iT]
    second = np.log(s_) + log_a0 - np.log(rsf_u)[s.ix]
    both = np.logaddexp(first, second)
    return _ParetoRows(a1, first, second, both, ratio, rsf, (log_q1_u, log_q2_u), (log_aT_u, log_bT_u),
                       hyp_derivatives)


def _ln_hyp_and_derivatives(a: np.ndarray, c: Any, z: np.ndarray) -> tuple[np.ndarray, ...]:
    """ln F(a, c; a + 1; z) and its partial derivatives in a (the third parameter a + 1 moving
    with it), c and z, per pair: the z derivative exactly (d/dz F(a, c; e; z) =
    a c / e F(a + 1, c + 1; e + 1; z)), the a and c derivatives by central differences of
    relative step :data:`HYP_STEP` (F is smooth in both; the error is about 1e-10 relative)."""
    c = np.broadcast_to(np.asarray(c, dtype="float64"), np.shape(a))
    f = hyp2f1(a, c, a + 1.0, z)
    ha, hc = HYP_STEP * np.maximum(a, 1.0), HYP_STEP * np.maximum(c, 1.0)
    d_a = (np.log(hyp2f1(a + ha, c, a + ha + 1.0, z)) - np.log(hyp2f1(a - ha, c, a - ha + 1.0, z))) / (2 * ha)
    d_c = (np.log(hyp2f1(a, c + hc, a + 1.0, z)) - np.log(hyp2f1(a, c - hc, a + 1.0, z))) / (2 * hc)
    d_z = a * c / (a + 1.0) * hyp2f1(a + 1.0, c + 1.0, a + 2.0, z) / f
    return np.log(f), d_a, d_c, d_z


def pareto_log_likelihood(params: dict[str, float], frequency: Any, recency: Any, T: Any, weights: Any = None) -> float:
    """Pareto/NBD log-likelihood of the data in its own time unit (see :func:`pareto_loglik`)."""
    s = ParetoStats(Stats.from_data(frequency, recency, T, weights))
    with np.errstate(all="ignore"):
        return pareto_loglik(np.array([params[k] for k in PARETO_PARAMS], dtype="float64"), s)


def pareto_expected_purchases(params: dict[str, float], t: float, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Expected repeat purchases in the next ``t`` time units per customer under Pareto/NBD
    (Fader & Hardie 2005, note 009, eq. 41) as lifetimes'
    ``ParetoNBDFitter.conditional_expected_number_of_purchases_up_to_time`` computes it; in the
    notation of :func:`pareto_loglik_grad`,

        E = exp(first + ln(r + x) + ln(beta + T) - ln(alpha + T)
                + ln((1 - ((beta + T) / (beta + T + t))^(s - 1)) / (s - 1)) - both)

    (lifetimes adds a1 to the first term and to the likelihood it subtracts). The likelihood's
    terms are :func:`_pareto_rows`', with the hypergeometric function once per distinct pair,
    not per customer; where lifetimes' likelihood is NaN (see :func:`pareto_loglik`) this is
    finite."""
    x, tx, age = (np.atleast_1d(np.asarray(v, dtype="float64")) for v in (frequency, recency, T))
    values = np.array([params[k] for k in PARETO_PARAMS], dtype="float64")
    r, alpha, s_, beta = values
    s = ParetoStats(Stats(x, tx, age, np.ones(len(x))))
    with np.errstate(all="ignore"):
        rows = _pareto_rows(values, s, derivatives=False)
        log_aT, log_bT = rows.log_T  # on the distinct T, as every term that depends on T only
        growth = np.log((1.0 - ((beta + s.uT) / (beta + s.uT + t)) ** (s_ - 1.0)) / (s_ - 1.0))
        return np.exp(rows.first + np.log(r + s.ux)[s.ix] + log_bT[s.iT] - log_aT[s.iT] + growth[s.iT] - rows.both)


def fit_pareto(
    frequency: Any, recency: Any, T: Any, weights: Any = None, *, start: dict[str, float] | None = None
) -> FastFit:
    """Pareto/NBD maximum likelihood, started from the BG/NBD estimates of (r, alpha).

    lifetimes' ``ParetoNBDFitter`` starts at random and stops Nelder-Mead at a tolerance of
    1e-4, so its estimates are only that precise; this fit converges further (its
    log-likelihood is at least as high as lifetimes' on the same data).
    """
    s = ParetoStats(Stats.from_data(frequency, recency, T, weights))
    if s.n <= 0 or not s.rep.any():
        raise FastFitError("no customer made a repeat purchase")
    scale = s.time_scale
    if start is None:  # BG/NBD's (r, alpha) describe the same purchase process
        log_bg = _bgnbd_estimate(s)[0]
        r0, alpha0 = np.exp(log_bg[:2]) if np.all(np.isfinite(log_bg[:2])) else (1.0, 1.0 / scale)
        start = {"r": r0, "alpha": alpha0, "s": 1.0, "beta": alpha0}
    to_params = np.array([1.0, 1.0 / scale, 1.0, 1.0 / scale])
    theta0 = np.log(np.array([start[k] for k in PARETO_PARAMS]) / to_params)

    tried: dict[bytes, float] = {}  # the log-likelihood where the optimiser evaluated it

    def nll_grad(theta: np.ndarray) -> tuple[float, np.ndarray]:
        values = np.exp(theta) * to_params
        value, grad = pareto_loglik_grad(values, s)
        tried[theta.tobytes()] = value
        if not (np.isfinite(value) and np.all(np.isfinite(grad))):
            return 1e300, np.zeros(4)
        return -value / s.n, -grad * values / s.n

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        iterations = 0
        for _ in range(3):  # a restart from where L-BFGS-B stopped resets its curvature memory
            out = minimize(nll_grad, theta0, jac=True, method="L-BFGS-B",
                           options={"ftol": 1e-14, "gtol": 1e-9, "maxiter": 500})
            iterations += int(out.nit)
            theta0 = out.x
            if np.max(np.abs(out.jac)) <= GRADIENT_TOLERANCE or not np.all(np.isfinite(out.x)):
                break
        values = np.exp(out.x) * to_params
        ll = tried.get(out.x.tobytes())
        if ll is None:
            ll = pareto_loglik(values, s)
    if not (np.all(np.isfinite(values)) and np.isfinite(ll)):
        raise FastFitError(f"the optimiser stopped at non-finite values ({out.message})")
    _check_converged(np.asarray(out.jac), str(out.message))
    params = {k: float(v) for k, v in zip(PARETO_PARAMS, values)}

    def loglik(p: dict[str, float]) -> float:
        with np.errstate(all="ignore"):
            return pareto_loglik(np.array([p[k] for k in PARETO_PARAMS], dtype="float64"), s)

    def log_gradient(log_params: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            return pareto_loglik_grad(np.exp(log_params), s)[1] * np.exp(log_params)

    hess = _hessian_from_gradient(log_gradient, np.log(values), GRADIENT_STEP)
    _check_interior(params, hess, float(s.T.max()))
    return FastFit("pareto", params, ll, s.n, loglik, hess, iterations)


# --------------------------------------------------------------------------- Gamma-Gamma

#: Customers per block of the Gamma-Gamma sums (:func:`_spend_sums`): a block's temporaries stay
#: in the CPU cache, where temporaries of every customer (7.6M repeat buyers of 10.5M customers)
#: would stream through memory on each of the twenty-odd optimiser iterations.
SPEND_BLOCK = 1 << 15


class SpendStats:
    """Repeat buyers' frequency x, mean spend m and weight w, with what the likelihood reuses:
    the terms that depend on x only are computed on its few distinct values, weighted by
    ``wx`` (the customers' summed weight per value)."""

    def __init__(self, x: Any, m: Any, w: Any = None) -> None:
        self.x = np.asarray(x, dtype="float64")
        self.m = np.asarray(m, dtype="float64")
        self.w = np.ones_like(self.x) if w is None else np.asarray(w, dtype="float64")
        self.n = float(self.w.sum())
        self.xm = self.x * self.m
        self.wx_row = self.w * self.x
        codes, ux = pd.factorize(self.x)
        self.ux = np.asarray(ux, dtype="float64")
        self.wx = np.bincount(codes, weights=self.w, minlength=len(self.ux))
        # sum(w ((p x - 1) ln m + p x ln x)) is linear in p: two sums, once
        self.w_x_log_xm = _sum(self.w, self.x * (np.log(self.m) + np.log(self.x)))
        self.w_log_m = _sum(self.w, np.log(self.m))


def gamma_gamma_loglik_derivatives(
    log_params: np.ndarray, s: SpendStats, order: int = 1
) -> tuple[float, np.ndarray, np.ndarray | None]:
    """Gamma-Gamma log-likelihood (Fader, Hardie & Lee 2005b; Hardie's note 025, eq. 1a, the
    expression of ``GammaGammaFitter._negative_log_likelihood`` times -sum(w), without the
    penalty), its gradient and (``order=2``) its Hessian, all in log-parameters.

    Per customer, with a = p x, u = a + q and L = ln(x m + v):

        ln L = lnG(u) - lnG(a) - lnG(q) + q ln v + (a - 1) ln m + a ln x - u L
        d/dp = x (psi(u) - psi(a) + ln m + ln x - L)     d/dq = psi(u) - psi(q) + ln v - L
        d/dv = q / v - u / (x m + v)
        d2/dp2 = x^2 (psi1(u) - psi1(a))   d2/dpdq = x psi1(u)   d2/dpdv = -x / (x m + v)
        d2/dq2 = psi1(u) - psi1(q)         d2/dqdv = 1 / v - 1 / (x m + v)
        d2/dv2 = -q / v^2 + u / (x m + v)^2

    and in log-parameters H[i, j] theta_i theta_j + [i = j] theta_i g_i. The special
    functions depend on x only (distinct values); only L and 1 / (x m + v) are per customer."""
    p, q, v = np.exp(log_params)
    ux, wx = s.ux, s.wx
    ua, uu = p * ux, p * ux + q
    sum_log, sum_x_log, sum_inv, sum_x_inv, sum_inv2, sum_x_inv2 = _spend_sums(s, v, order)
    ll = (_sum(wx, gammaln(uu) - gammaln(ua)) - p * sum_x_log - q * sum_log - s.n * gammaln(q)
          + s.n * q * np.log(v) + p * s.w_x_log_xm - s.w_log_m)
    psi_u = psi(uu)
    g = np.array([
        _sum(wx, ux * (psi_u - psi(ua))) - sum_x_log + s.w_x_log_xm,
        _sum(wx, psi_u) - sum_log + s.n * (np.log(v) - psi(q)),
        s.n * q / v - p * sum_x_inv - q * sum_inv,
    ])
    theta = np.array([p, q, v])
    if order < 2:
        return float(ll), g * theta, None
    tri_u = polygamma(1, uu)
    h = np.empty((3, 3))
    h[0, 0] = _sum(wx, ux * ux * (tri_u - polygamma(1, ua)))
    h[0, 1] = h[1, 0] = _sum(wx, ux * tri_u)
    h[0, 2] = h[2, 0] = -sum_x_inv
    h[1, 1] = _sum(wx, tri_u) - s.n * float(polygamma(1, q))
    h[1, 2] = h[2, 1] = s.n / v - sum_inv
    h[2, 2] = -s.n * q / v**2 + p * sum_x_inv2 + q * sum_inv2
    return float(ll), g * theta, h * np.outer(theta, theta) + np.diag(g * theta)


def _spend_sums(s: SpendStats, v: float, order: int) -> np.ndarray:
    """With L = ln(x m + v): the sums over customers of w L, w x L, w / (x m + v), w x / (x m + v)
    and (``order=2``, else zeros) w / (x m + v)^2, w x / (x m + v)^2, block by block
    (:func:`pairwise_blocks`: the same bits as sums of whole columns)."""

    def block_sums(rows: slice) -> np.ndarray:
        w, wx = s.w[rows], s.wx_row[rows]
        inv = 1.0 / (s.xm[rows] + v)
        per_customer = [-np.log(inv), inv] + ([inv * inv] if order >= 2 else [])
        sums = [_sum(weights, values) for values in per_customer for weights in (w, wx)]
        return np.array(sums + [0.0] * (6 - len(sums)))

    return pairwise_blocks(block_sums, len(s.xm), SPEND_BLOCK)


def pairwise_blocks(sums: Callable[[slice], np.ndarray], end: int, block: int, begin: int = 0) -> np.ndarray:
    """``sums(rows)`` (sums over rows, each by numpy) for rows ``begin .. end - 1``, computed on
    parts of at most ``block`` rows and added up in the order numpy's pairwise summation adds the
    halves of a column (n rows split at n // 2 rounded down to a multiple of 8, every half summed
    the same way on its own, and up to 128 rows in one run): bit-identical to
    ``sums(slice(begin, end))``, without its temporaries of every row, which past the CPU cache
    stream through memory."""
    n = end - begin
    if n <= max(block, 128):
        return sums(slice(begin, end))
    half = begin + n // 2 - (n // 2) % 8
    return pairwise_blocks(sums, half, block, begin) + pairwise_blocks(sums, end, block, half)


def fit_gamma_gamma(monetary_frequency: Any, monetary_value: Any, weights: Any = None, *,
                    penalizer: float = 0.0) -> FastFit:
    """Gamma-Gamma maximum likelihood on repeat buyers (x > 0, m > 0); the estimates of
    ``GammaGammaFitter().fit``, which minimises -mean(ll) + penalizer sum(params^2) from
    log-parameters 0.1. Here a trust-region Newton method with the exact Hessian does it in
    a few iterations instead of lifetimes' autograd BFGS."""
    s = SpendStats(monetary_frequency, monetary_value, weights)
    if s.n <= 0:
        raise FastFitError("no repeat buyer with a positive spend")

    def objective(theta: np.ndarray):
        ll, g, h = gamma_gamma_loglik_derivatives(theta, s, order=2)
        params = np.exp(theta)
        value = -ll / s.n + penalizer * float((params**2).sum())
        return value, -g / s.n + 2 * penalizer * params**2, -h / s.n + np.diag(4 * penalizer * params**2)

    cache: dict[bytes, tuple] = {}

    def evaluate(theta: np.ndarray) -> tuple:
        key = theta.tobytes()
        if key not in cache:
            with np.errstate(all="ignore"):
                cache.clear()
                cache[key] = objective(theta)
        return cache[key]

    out = minimize(lambda t: evaluate(t)[0], np.full(3, 0.1), jac=lambda t: evaluate(t)[1],
                   hess=lambda t: evaluate(t)[2], method="trust-exact", options={"gtol": 1e-10, "maxiter": 500})
    ll, grad, hess = gamma_gamma_loglik_derivatives(out.x, s, order=2)
    if not (np.all(np.isfinite(out.x)) and np.isfinite(ll)):
        raise FastFitError(f"the optimiser stopped at non-finite values ({out.message})")
    _check_converged(evaluate(out.x)[1], str(out.message))
    params = {k: float(v) for k, v in zip(GAMMA_GAMMA_PARAMS, np.exp(out.x))}
    return FastFit("gamma_gamma", params, ll, s.n,
                   lambda p: gamma_gamma_loglik_derivatives(np.log([p[k] for k in GAMMA_GAMMA_PARAMS]), s)[0],
                   hess, int(out.nit))


# --------------------------------------------------------------------------- CLV


def bgnbd_discounted_purchases(
    params: dict[str, float],
    frequency: Any,
    recency: Any,
    T: Any,
    *,
    months: int,
    monthly_discount_rate: float,
    periods_per_month: float,
) -> np.ndarray:
    """Discounted expected repeat purchases over ``months`` under BG/NBD, per customer.

    sum over k = 1..months of (E[N(k p)] - E[N((k-1) p)]) / (1 + d)^k, with p = periods per
    month, d = monthly discount rate and E[N(t)] the conditional expectation of FHL (2005),
    eq. 10, in lifetimes' ``BetaGeoFitter.conditional_expected_number_of_purchases_up_to_time``
    form (including its fallback for an infinite hypergeometric term):

        E[N(t)] = C(t; x, T) / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))
        C(t; x, T) = (a + b + x - 1) / (a - 1)
                     * (1 - ((alpha + T) / (alpha + T + t))^(r + x)
                            2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t)))

    The denominator does not depend on t, so it is computed once per customer, and C only
    depends on (x, T), so it is computed once per distinct (x, T) pair and month. Multiplied
    by the expected spend per purchase, this is lifetimes' ``customer_lifetime_value``.
    """
    draws = bgnbd_param_matrix([params])
    x = np.atleast_1d(np.asarray(frequency, dtype="float64"))
    tx = np.atleast_1d(np.asarray(recency, dtype="float64"))
    age = np.atleast_1d(np.asarray(T, dtype="float64"))
    (ux, uT), inverse = distinct_pairs(x, age)
    per_pair = bgnbd_discounted_by_pair(draws, ux, uT, months=months, monthly_discount_rate=monthly_discount_rate,
                                        periods_per_month=periods_per_month)
    return (per_pair[:, inverse] / (1.0 + bgnbd_odds(draws, x, tx, age)))[0]


#: Distinct (x, T) pairs :func:`bgnbd_discounted_by_pair` works on at a time.
PAIR_BLOCK = 2048


def bgnbd_param_matrix(params: list[dict[str, float]]) -> np.ndarray:
    """One row (r, alpha, a, b) per parameter set, for the many-draws forms below."""
    return np.array([[float(p[k]) for k in BGNBD_PARAMS] for p in params], dtype="float64")


def bgnbd_discounted_by_pair(
    draws: np.ndarray, ux: np.ndarray, uT: np.ndarray, *, months: int, monthly_discount_rate: float,
    periods_per_month: float,
) -> np.ndarray:
    """The numerator of :func:`bgnbd_discounted_purchases`, sum over months of the discounted
    increments of C(t; x, T), for each parameter set (rows of ``draws``, see
    :func:`bgnbd_param_matrix`) and each distinct (x, T) pair: shape (sets, pairs).

    Computed once per pair, not per customer: the hypergeometric function is the expensive
    part, and customers share few (x, T) pairs (days of age times purchase counts). Pairs go
    :data:`PAIR_BLOCK` at a time (every value depends on its own pair only): the dozen
    temporaries stay at sets x block floats, not sets x pairs (1M customers: 22,652 pairs,
    about 17 MB per temporary for 100 draws)."""
    if len(ux) > PAIR_BLOCK:
        out = np.empty((len(draws), len(ux)))
        for start in range(0, len(ux), PAIR_BLOCK):  # blocks of pairs, not customers
            block = slice(start, start + PAIR_BLOCK)
            out[:, block] = bgnbd_discounted_by_pair(
                draws, ux[block], uT[block], months=months, monthly_discount_rate=monthly_discount_rate,
                periods_per_month=periods_per_month,
            )
        return out
    r, alpha, a, b = (draws[:, [k]] for k in range(4))  # columns, broadcast against pairs
    ux, uT = ux[None, :], uT[None, :]
    shape = np.broadcast_shapes(r.shape, ux.shape)
    with np.errstate(all="ignore"):
        lead = (a + b + ux - 1.0) / (a - 1.0)
        h_a, h_b, h_c = (np.broadcast_to(h, shape) for h in (r + ux, b + ux, a + b + ux - 1.0))
        previous = np.zeros(shape)
        discounted = np.zeros(shape)
        for month in range(1, months + 1):  # months, not customers
            t = month * periods_per_month
            z = np.broadcast_to(t / (alpha + uT + t), shape)
            ln_hyp = np.log(hyp2f1(h_a, h_b, h_c, z))
            bad = np.isinf(ln_hyp)
            if bad.any():
                ln_hyp[bad] = (np.log(hyp2f1(h_c[bad] - h_a[bad], h_c[bad] - h_b[bad], h_c[bad], z[bad]))
                               + (h_c[bad] - h_a[bad] - h_b[bad]) * np.log(1.0 - z[bad]))
            cumulative = lead * (1.0 - np.exp(ln_hyp + (r + ux) * np.log((alpha + uT) / (alpha + t + uT))))
            discounted += (cumulative - previous) / (1.0 + monthly_discount_rate) ** month
            previous = cumulative
    return discounted


#: Exact evaluations per frequency when :func:`bgnbd_discounted_interpolated` interpolates
#: across ages: Chebyshev-Lobatto nodes of degree 2 x 16, nested on those of degree 16.
INTERPOLATION_DEGREE = 32
#: Largest relative error the degree-16 interpolant may show at the 16 nodes it skips for a
#: draw's degree-32 interpolant to be used (otherwise that draw's pairs are computed exactly).
INTERPOLATION_TOLERANCE = 1e-10


def bgnbd_discounted_interpolated(
    draws: np.ndarray, ux: np.ndarray, uT: np.ndarray, *, months: int, monthly_discount_rate: float,
    periods_per_month: float, shift: float | None = None,
) -> np.ndarray:
    """:func:`bgnbd_discounted_by_pair`'s values, with far fewer hypergeometric evaluations when
    a frequency comes with many ages (1M customers: 731 ages for x = 0, 22,652 pairs in all).

    For one x and one parameter set the value is an analytic function of the age T whose
    singularities all come from alpha + T + t <= 0 or alpha + T <= 0 (t = horizon): in the
    variable u = ln(shift + T), with a ``shift`` no larger than any set's alpha (by default the
    smallest), they lie at Im u = +-pi or at -infinity, so a Chebyshev interpolant in u over the
    ages' range converges geometrically. Per x, the exact values at the
    :data:`INTERPOLATION_DEGREE` + 1 Chebyshev-Lobatto nodes give the interpolant at every age
    (barycentric form); the interpolant through every other node is compared with the exact
    values at the skipped nodes, and a set whose error there reaches
    :data:`INTERPOLATION_TOLERANCE` (relative) gets its exact values instead. Frequencies with
    few ages are computed exactly. Given the ``shift``, each set is treated on its own: a row of
    ``draws`` gets the same values alone as among others."""
    common = {"months": months, "monthly_discount_rate": monthly_discount_rate, "periods_per_month": periods_per_month}
    nodes = np.cos(np.pi * np.arange(INTERPOLATION_DEGREE + 1) / INTERPOLATION_DEGREE)  # 1 .. -1
    x_code, _ = pd.factorize(ux)
    pairs_of = np.split(np.argsort(x_code, kind="stable"), np.cumsum(np.bincount(x_code))[:-1])
    smooth = [rows for rows in pairs_of if len(rows) > 2 * len(nodes)]  # interpolating saves more than half
    exact = np.setdiff1d(np.arange(len(ux)), np.concatenate(smooth)) if smooth else np.arange(len(ux))
    shift = float(draws[:, 1].min()) if shift is None else shift
    spans = [np.log(shift + np.array([uT[rows].min(), uT[rows].max()])) for rows in smooth]
    node_ages = [np.exp((lo + hi) / 2 + (hi - lo) / 2 * nodes) - shift for lo, hi in spans]
    # one exact call for every node and every pair not interpolated
    at = bgnbd_discounted_by_pair(
        draws, np.concatenate([np.full(len(nodes), ux[rows[0]]) for rows in smooth] + [ux[exact]]),
        np.concatenate(node_ages + [uT[exact]]), **common,
    )
    out = np.empty((len(draws), len(ux)))
    out[:, exact] = at[:, len(smooth) * len(nodes):]
    check = _barycentric_matrix(nodes[::2], nodes[1::2])
    for k, (rows, (lo, hi)) in enumerate(zip(smooth, spans)):  # frequencies, not customers
        values = at[:, k * len(nodes):(k + 1) * len(nodes)]
        skipped = values[:, 1::2]
        with np.errstate(all="ignore"):
            error = np.abs(np.einsum("dj,ij->di", values[:, ::2], check) - skipped) / np.abs(skipped)
        good = (error < INTERPOLATION_TOLERANCE).all(axis=1)  # False for NaN
        where = np.clip((2.0 * np.log(shift + uT[rows]) - (lo + hi)) / (hi - lo), -1.0, 1.0)
        # einsum: its own loop, not BLAS (whose threads spin on a busy machine)
        out[np.ix_(good, rows)] = np.einsum("dj,ij->di", values[good], _barycentric_matrix(nodes, where))
        if not good.all():
            out[np.ix_(~good, rows)] = bgnbd_discounted_by_pair(draws[~good], ux[rows], uT[rows], **common)
    return out


def _barycentric_matrix(nodes: np.ndarray, where: np.ndarray) -> np.ndarray:
    """(points, nodes) weights taking values at Chebyshev-Lobatto ``nodes`` (cos(j pi / n), j =
    0..n) to the polynomial interpolant's values at ``where`` (second barycentric form, stable
    for these nodes; a point on a node takes that node's value)."""
    weights = (-1.0) ** np.arange(len(nodes))
    weights[[0, -1]] *= 0.5
    gap = where[:, None] - nodes[None, :]
    on_node = gap == 0.0
    gap[on_node] = 1.0
    terms = weights / gap
    matrix = terms / terms.sum(axis=1, keepdims=True)
    hit = on_node.any(axis=1)
    matrix[hit] = on_node[hit]
    return matrix


def bgnbd_odds(draws: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """The customer part of :func:`bgnbd_discounted_purchases`' denominator, [x > 0] a / (b + x - 1)
    ((alpha + T) / (alpha + t_x))^(r + x), for each parameter set and customer: (sets, customers)."""
    r, alpha, a, b = (draws[:, [k]] for k in range(4))
    x, tx, T = x[None, :], tx[None, :], T[None, :]
    with np.errstate(all="ignore"):
        return np.where(x > 0, (a / (b + x - 1.0)) * ((alpha + T) / (alpha + tx)) ** (r + x), 0.0)
