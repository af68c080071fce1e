"""Proposed fast fitting for BG/NBD and Pareto/NBD (measured by ``benchmarks/run.py``).

Not part of the package yet: ``helpers.lifetimes_adapter`` (the only module that imports
lifetimes) is another developer's module, so these functions are offered to the lead as a
drop-in fast path for ``fit_transaction_model`` (see ``benchmarks/README.md``). They return
the same :class:`helpers.lifetimes_adapter.FittedModel` (with a lifetimes fitter carrying
the parameters, so every prediction still goes through lifetimes).

Why the current fit is slow on large bases: collapsing to unique (frequency, recency, T)
rows removes little when recency and T are in days (1M generated customers -> 511k unique
rows), and lifetimes then (1) optimises with autograd, which traces every operation in
Python, (2) computes an autograd Hessian it does not need, and the adapter adds (3) a
numerical Hessian of 40 more log-likelihood evaluations.

What is faster here, with the same likelihood and the same maximum:

- every term that depends on one statistic only (``lgamma(r + x)``, ``log(alpha + T)``,
  ``log(alpha + t_x)``, ...) is computed on that statistic's few distinct values and
  gathered, so a log-likelihood evaluation is a handful of vector operations;
- BG/NBD: analytic gradient (digamma terms), BFGS in log-parameters;
- Pareto/NBD: the hypergeometric terms are evaluated once per distinct (x, t_x) and (x, T)
  pair; L-BFGS-B with a central-difference gradient, started from the BG/NBD estimates of
  (r, alpha) instead of lifetimes' random start and Nelder-Mead;
- standard errors from the adapter's own numerical Hessian, now on the fast likelihood.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1, psi

from helpers import lifetimes_adapter as la
from helpers.summary import collapse_rfm


class _Stats:
    """Sufficient statistics with the distinct values of each, computed once per fit."""

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        self.x, self.tx, self.T, self.w = x, tx, T, w
        self.ux, self.ix = np.unique(x, return_inverse=True)
        self.uT, self.iT = np.unique(T, return_inverse=True)
        self.utx, self.itx = np.unique(tx, return_inverse=True)
        self.n = float(w.sum())
        self._parts: dict[str, _Part] | None = None

    @property
    def zero(self) -> "_Part":
        return self._split()["zero"]

    @property
    def rep(self) -> "_Part":
        return self._split()["rep"]

    def _split(self) -> dict[str, "_Part"]:
        if self._parts is None:
            parts = {}
            for name, mask in (("zero", self.x == 0), ("rep", self.x > 0)):
                parts[name] = _Part(self.x[mask], self.w[mask], self.ix[mask], self.iT[mask], self.itx[mask])
            self._parts = parts
        return self._parts


class _Part:
    """Rows of one kind (no repeat purchase, or repeat buyers) with their value indices."""

    def __init__(self, x, w, ix, iT, itx) -> None:
        self.x, self.w, self.ix, self.iT, self.itx = x, w, ix, iT, itx


def _collapse(frequency, recency, T, weights=None) -> _Stats:
    frame = pd.DataFrame({"frequency": frequency, "recency": recency, "T": T})
    if weights is None:
        rows = collapse_rfm(frame)
        w = rows["weight"].to_numpy(dtype="float64")
    else:
        rows = frame
        w = np.asarray(weights, dtype="float64")
    return _Stats(rows["frequency"].to_numpy(dtype="float64"), rows["recency"].to_numpy(dtype="float64"),
                  rows["T"].to_numpy(dtype="float64"), w)


# --------------------------------------------------------------------------- BG/NBD


def bgnbd_loglik_grad(log_params: np.ndarray, s: _Stats) -> tuple[float, np.ndarray]:
    """Log-likelihood and its gradient in log-parameters (Fader, Hardie & Lee 2005, eq. 6).

    Customers without repeat purchases (x = 0) contribute only the "still alive at T" term,
    so they are handled apart from the repeat buyers, on their few distinct T values.
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
    # x = 0: log L = lg(0) + r log(alpha) - r log(alpha + T)
    z = s.zero
    if z.w.size:
        ll += z.w.sum() * (lg_u[0] + r * log_alpha) - r * (z.w @ log_aT_u[z.iT])
        g += [z.w.sum() * (dr_u[0] + log_alpha) - z.w @ log_aT_u[z.iT],
              r * (z.w.sum() / alpha - z.w @ inv_aT_u[z.iT]), z.w.sum() * da_u[0], z.w.sum() * db_u[0]]
    q = s.rep
    if q.w.size:
        rx = r + q.x
        log_aT = log_aT_u[q.iT]
        log_atx = np.log(alpha + s.utx)[q.itx]
        a3 = -rx * log_aT
        a4 = np.log(a) - np.log(b + q.x - 1.0) - rx * log_atx
        m = np.maximum(a3, a4)
        p3 = np.exp(a3 - m)
        p4 = np.exp(a4 - m)
        total = p3 + p4
        pi3 = p3 / total
        pi4 = 1.0 - pi3
        w = q.w
        ll += w @ lg_u[q.ix] + w.sum() * r * log_alpha + w @ (m + np.log(total))
        wp3, wp4 = w * pi3, w * pi4
        g += [w @ dr_u[q.ix] + w.sum() * log_alpha - wp3 @ log_aT - wp4 @ log_atx,
              r * w.sum() / alpha - (wp3 * rx) @ inv_aT_u[q.iT] - (wp4 * rx) @ (1.0 / (alpha + s.utx))[q.itx],
              w @ da_u[q.ix] + wp4.sum() / a,
              w @ db_u[q.ix] - wp4 @ (1.0 / (b + q.x - 1.0))]
    return float(ll), g * np.array([r, alpha, a, b])


def _hessian_from_gradient(grad, x0: np.ndarray, h: float = 1e-5) -> np.ndarray:
    k = len(x0)
    hess = np.empty((k, k))
    for i in range(k):  # 4 parameters
        e = np.zeros(k)
        e[i] = h
        hess[:, i] = (grad(x0 + e) - grad(x0 - e)) / (2 * h)
    return (hess + hess.T) / 2


def _errors_from_hessian(hess: np.ndarray, params: dict[str, float]) -> dict[str, float]:
    """As ``lifetimes_adapter.standard_errors``: delta method from log-parameter space."""
    names = list(params)
    try:
        cov = np.linalg.inv(-hess)
        se_log = np.sqrt(np.where(np.diag(cov) > 0, np.diag(cov), np.nan))
    except np.linalg.LinAlgError:
        se_log = np.full(len(names), np.nan)
    return {n: float(params[n] * se_log[i]) for i, n in enumerate(names)}


def _bfgs_bgnbd(s: _Stats, x0: np.ndarray, scale: float) -> np.ndarray:
    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        x = theta.copy()
        x[1] -= np.log(scale)
        ll, grad = bgnbd_loglik_grad(x, s)
        return -ll / s.n, -grad / s.n

    with np.errstate(all="ignore"):
        out = minimize(objective, x0, jac=True, method="BFGS", options={"gtol": 1e-9, "maxiter": 2000})
    return out.x


#: Above this many collapsed rows, a fit on a random subset of rows gives the starting point.
WARM_START_ROWS = 50_000


def fit_bgnbd(frequency, recency, T, weights=None, seed: int = 0) -> la.FittedModel:
    """BG/NBD maximum likelihood on collapsed rows; same estimates as lifetimes' fitter."""
    s = _collapse(frequency, recency, T, weights)
    scale = 10.0 / s.T.max()  # lifetimes' time scaling: keeps alpha near 1 while optimising
    x0 = np.full(4, np.log(0.1))  # lifetimes' start
    if len(s.x) > WARM_START_ROWS:
        pick = np.random.default_rng(seed).choice(len(s.x), WARM_START_ROWS, replace=False)
        x0 = _bfgs_bgnbd(_Stats(s.x[pick], s.tx[pick], s.T[pick], s.w[pick]), x0, scale)
    theta = _bfgs_bgnbd(s, x0, scale)
    log_params = theta.copy()
    log_params[1] -= np.log(scale)
    params = dict(zip(["r", "alpha", "a", "b"], np.exp(log_params)))
    hess = _hessian_from_gradient(lambda x: bgnbd_loglik_grad(x, s)[1], log_params)
    return _fitted("bgnbd", params, s, lambda p: bgnbd_loglik_grad(np.log(list(p.values())), s)[0],
                   errors=_errors_from_hessian(hess, params))


# --------------------------------------------------------------------------- Pareto/NBD


class _ParetoStats(_Stats):
    def __init__(self, base: _Stats) -> None:
        super().__init__(base.x, base.tx, base.T, base.w)
        # distinct (x, t_x) and (x, T) pairs for the hypergeometric terms
        (x1, t1), self.i1 = _distinct_pairs(self.x, self.tx)
        (x2, t2), self.i2 = _distinct_pairs(self.x, self.T)
        self.p1_keys, self.p2_keys = np.stack([x1, t1]), np.stack([x2, t2])


def pareto_loglik(params: np.ndarray, s: _ParetoStats) -> float:
    """Pareto/NBD log-likelihood (Fader & Hardie 2005 note 009, eq. 18-20), as lifetimes."""
    r, alpha, s_, beta = params
    if np.any(params <= 0):
        return -np.inf
    if alpha < beta:
        lo, hi, t1, t2 = alpha, beta, r + s.p1_keys[0], r + s.p2_keys[0]
    else:
        lo, hi, t1, t2 = beta, alpha, np.full(s.p1_keys.shape[1], s_ + 1.0), np.full(s.p2_keys.shape[1], s_ + 1.0)
    diff = hi - lo
    rsf1, rsf2 = r + s_ + s.p1_keys[0], r + s_ + s.p2_keys[0]
    log_p1 = np.log(hyp2f1(rsf1, t1, rsf1 + 1.0, diff / (hi + s.p1_keys[1])))[s.i1]
    log_p2 = np.log(hyp2f1(rsf2, t2, rsf2 + 1.0, diff / (hi + s.p2_keys[1])))[s.i2]
    rsf = r + s_ + s.x
    log_q1 = np.log(hi + s.utx)[s.itx]
    log_q2 = np.log(hi + s.uT)[s.iT]
    u, v = log_p1 + rsf * log_q2, log_p2 + rsf * log_q1
    with np.errstate(all="ignore"):
        log_a0 = u + np.log1p(-np.exp(v - u)) - rsf * (log_q1 + log_q2)
    a1 = (gammaln(r + s.ux) - gammaln(r))[s.ix] + r * np.log(alpha) + s_ * np.log(beta)
    first = -(r + s.x) * np.log(alpha + s.uT)[s.iT] - s_ * np.log(beta + s.uT)[s.iT]
    second = np.log(s_) + log_a0 - np.log(rsf)
    rows = a1 + np.logaddexp(first, second)
    return float(s.w @ rows)


def fit_pareto(frequency, recency, T, weights=None, start: dict[str, float] | None = None) -> la.FittedModel:
    """Pareto/NBD maximum likelihood on collapsed rows, warm-started from BG/NBD."""
    base = _collapse(frequency, recency, T, weights)
    s = _ParetoStats(base)
    scale = 10.0 / s.T.max()
    if start is None:
        bg = fit_bgnbd(s.x, s.tx, s.T, s.w)
        start = {"r": bg.params["r"], "alpha": bg.params["alpha"], "s": 1.0, "beta": bg.params["alpha"]}
    theta0 = np.log([start["r"], start["alpha"] * scale, start["s"], start["beta"] * scale])

    def nll(theta: np.ndarray) -> float:
        p = np.exp(theta)
        p[1] /= scale
        p[3] /= scale
        value = pareto_loglik(p, s)
        return -value / s.n if np.isfinite(value) else 1e300

    def grad(theta: np.ndarray, h: float = 1e-6) -> np.ndarray:
        g = np.empty(4)
        for i in range(4):  # 4 parameters
            e = np.zeros(4)
            e[i] = h
            g[i] = (nll(theta + e) - nll(theta - e)) / (2 * h)
        return g

    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = minimize(nll, theta0, jac=grad, method="L-BFGS-B", options={"ftol": 1e-14, "gtol": 1e-9,
                                                                         "maxiter": 500})
    p = np.exp(out.x)
    p[1] /= scale
    p[3] /= scale
    return _fitted("pareto", dict(zip(["r", "alpha", "s", "beta"], p)), s,
                   lambda q: pareto_loglik(np.array(list(q.values())), s))


# --------------------------------------------------------------------------- shared


def _distinct_pairs(u: np.ndarray, v: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Distinct (u, v) pairs and each row's pair index (hashing; np.unique(axis=1) sorts, slowly)."""
    cu, uu = pd.factorize(u)
    cv, uv = pd.factorize(v)
    codes, keys = pd.factorize(cu.astype(np.int64) * len(uv) + cv)
    keys = np.asarray(keys)
    return (np.asarray(uu)[keys // len(uv)], np.asarray(uv)[keys % len(uv)]), codes


def _fitted(name: str, params: dict[str, float], s: _Stats, loglik, errors=None) -> la.FittedModel:
    fitter = la.TRANSACTION_MODELS[name]()
    fitter.params_ = pd.Series(params)
    fitter.predict = fitter.conditional_expected_number_of_purchases_up_to_time
    params = {k: float(v) for k, v in params.items()}
    errors = errors if errors is not None else la.standard_errors(loglik, params)
    return la.FittedModel(name, fitter, params, errors, loglik(params), int(s.n), 0.0)


# --------------------------------------------------------------------------- CLV


def bgnbd_clv(
    params: dict[str, float], spend_per_purchase, frequency, recency, T, *, months: int,
    monthly_discount_rate: float, periods_per_month: float,
):
    """Proposed fast path for ``helpers.clv.customer_lifetime_value`` under BG/NBD.

    Same formula (discounted expected purchases month by month times spend per purchase),
    with the BG/NBD conditional expectation (FHL 2005, eq. 10) written out: the factor that
    does not depend on the horizon (1 / (1 + P(dropped out) odds)) is computed once per
    customer, and the hypergeometric term, which depends on a customer only through
    (x, T), once per distinct (x, T) pair and month.
    """
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    x = np.asarray(frequency, dtype="float64")
    tx = np.asarray(recency, dtype="float64")
    age = np.asarray(T, dtype="float64")
    (ux, uT), inverse = _distinct_pairs(x, age)
    with np.errstate(all="ignore"):
        odds = np.where(x > 0, a / (b + x - 1.0) * np.exp((r + x) * (np.log(alpha + age) - np.log(alpha + tx))), 0.0)
        alive_factor = 1.0 / (1.0 + odds)
        lead = (a + b + ux - 1.0) / (a - 1.0)
        previous = np.zeros(len(ux))
        total_u = np.zeros((len(ux),))
        discounted = np.zeros(len(ux))
        for month in range(1, months + 1):  # months
            t = month * periods_per_month
            z = t / (alpha + uT + t)
            cumulative = lead * (1.0 - ((alpha + uT) / (alpha + uT + t)) ** (r + ux) * hyp2f1(r + ux, b + ux, a + b + ux - 1.0, z))
            discounted += (cumulative - previous) / (1.0 + monthly_discount_rate) ** month
            previous = cumulative
        del total_u
    return np.asarray(spend_per_purchase, dtype="float64") * alive_factor * discounted[inverse]
