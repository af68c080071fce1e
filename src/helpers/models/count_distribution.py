"""Exact distribution of the number of repeat purchases by a given age, per model.

P(X(t) = x) for a customer acquired at time 0, under the fitted population parameters:

- BG/NBD (Fader, Hardie & Lee 2005, eq. 8):
  B(a, b+x)/B(a, b) NB(x; t) + [x > 0] B(a+1, b+x-1)/B(a, b) (1 - sum_{j<x} NB(j; t)),
  where NB(x; t) = Gamma(r+x)/(Gamma(r) x!) (alpha/(alpha+t))^r (t/(alpha+t))^x is the
  negative binomial count of a customer who never drops out.
- MBG/NBD (Batislam, Denizel & Filiztekin 2007; the customer may also drop out at time 0):
  B(a, b+x)/B(a, b) NB(x; t) + B(a+1, b+x)/B(a, b) (1 - sum_{j<=x} NB(j; t)).
- Pareto/NBD: with lifetime tau ~ Pareto(II)(s, beta), survival S(tau) = (beta/(beta+tau))^s,
  P(X(t) = x) = S(t) NB(x; t) + integral_0^t NB(x; tau) dF(tau). The integral is taken
  exactly to machine precision by Gauss-Legendre quadrature in v = S(tau) (the integrand is
  smooth and bounded there); no simulation.

Everything is vectorised over ages; the last column pools ``max_count`` and more.
"""

from __future__ import annotations

import numpy as np
from scipy.special import betaln, gammaln

from helpers.errors import ConfigError

#: Gauss-Legendre nodes for the Pareto/NBD lifetime integral.
_QUADRATURE_NODES = 96


def _nb_terms(r: float, alpha: float, t: np.ndarray, max_count: int) -> np.ndarray:
    """NB(x; t) for x = 0 .. max_count, shape (len(t), max_count + 1)."""
    t = np.asarray(t, dtype="float64")[:, None]
    x = np.arange(max_count + 1)[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.where(t > 0, np.log(t / (alpha + t)), -np.inf)
        power = np.where(x > 0, x * log_ratio, 0.0)  # t^0 = 1 even at t = 0
    log_nb = gammaln(r + x) - gammaln(r) - gammaln(x + 1) + r * np.log(alpha / (alpha + t)) + power
    out = np.exp(log_nb)
    out[:, 0] = np.where(t[:, 0] > 0, out[:, 0], 1.0)
    return out


def count_probabilities(model_name: str, params: dict[str, float], t, max_count: int) -> np.ndarray:
    """P(X(t) = 0), ..., P(X(t) = max_count - 1), P(X(t) >= max_count) for each age in ``t``.

    Shape (len(t), max_count + 1); each row sums to 1.
    """
    ages = np.atleast_1d(np.asarray(t, dtype="float64"))
    r, alpha = params["r"], params["alpha"]
    if model_name in ("bgnbd", "mbgnbd"):
        a, b = params["a"], params["b"]
        nb = _nb_terms(r, alpha, ages, max_count)
        x = np.arange(max_count + 1)
        cum_before = np.cumsum(nb, axis=1) - nb  # sum_{j < x} NB(j)
        stay = np.exp(betaln(a, b + x) - betaln(a, b))
        if model_name == "bgnbd":
            drop = np.where(x > 0, np.exp(betaln(a + 1, np.maximum(b + x - 1, 1e-300)) - betaln(a, b)), 0.0)
            probs = stay * nb + drop * (1.0 - cum_before)
        else:
            drop = np.exp(betaln(a + 1, b + x) - betaln(a, b))
            probs = stay * nb + drop * (1.0 - cum_before - nb)
    elif model_name == "pareto":
        s, beta = params["s"], params["beta"]
        survival_t = (beta / (beta + ages)) ** s
        nodes, weights = np.polynomial.legendre.leggauss(_QUADRATURE_NODES)
        # v in [S(t), 1]: tau(v) = beta (v^(-1/s) - 1); dv = f(tau) dtau
        v = survival_t[:, None] + (1.0 - survival_t[:, None]) * (nodes[None, :] + 1.0) / 2.0
        tau = beta * (v ** (-1.0 / s) - 1.0)
        nb_tau = _nb_terms(r, alpha, tau.reshape(-1), max_count).reshape(len(ages), len(nodes), max_count + 1)
        integral = np.einsum("k,ikx->ix", weights, nb_tau) * ((1.0 - survival_t) / 2.0)[:, None]
        probs = survival_t[:, None] * _nb_terms(r, alpha, ages, max_count) + integral
    else:
        raise ConfigError(f"no count distribution for model {model_name!r}")
    probs = np.clip(probs[:, :max_count], 0.0, 1.0)
    tail = np.clip(1.0 - probs.sum(axis=1, keepdims=True), 0.0, 1.0)
    return np.hstack([probs, tail])


def expected_count_histogram(model_name: str, params: dict[str, float], T, max_count: int) -> np.ndarray:
    """Expected number of customers with 0, 1, ..., ``max_count``+ repeat purchases by their ages ``T``.

    Exact: the sum over customers of each one's probabilities, computed once per distinct age.
    """
    ages, counts = np.unique(np.asarray(T, dtype="float64"), return_counts=True)
    return counts @ count_probabilities(model_name, params, ages, max_count)
