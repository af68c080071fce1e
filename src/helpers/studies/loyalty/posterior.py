"""Individual-level posterior draws from the fitted purchase and spend models.

The simulation needs, for every customer and simulation run, a draw of *this*
customer's hidden parameters given their history (x = repeat purchases, t_x = recency,
T = age, in the model's time unit) and the fitted population parameters. The draws
below are exact for each model, conditional on the fitted (point-estimate) population
parameters: uncertainty in those parameters is not propagated (empirical Bayes).

**BG/NBD** (Fader, Hardie & Lee 2005). With lambda ~ Gamma(r, alpha) and
p ~ Beta(a, b), the individual likelihood is a sum of two terms,

    L(lambda, p) = (1 - p)^x lambda^x e^(-lambda T)                     (still active at T)
                 + [x > 0] p (1 - p)^(x - 1) lambda^x e^(-lambda t_x)     (dropped out at t_x),

so the joint posterior is a two-component mixture of conjugate pieces:

- active: lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x), with weight P(alive);
- dropped out: lambda ~ Gamma(r + x, alpha + t_x), p ~ Beta(a + 1, b + x - 1).

The ratio of the mixture weights is a / (b + x - 1) * ((alpha + T) / (alpha + t_x))^(r + x),
which is exactly the closed-form P(alive) (FHL 2005; lifetimes'
``conditional_probability_alive``), so drawing "active" with probability P(alive) from
:func:`helpers.models.lifetimes_adapter.probability_alive` and then (lambda, p) from the
active component is an exact posterior draw of everything the future depends on (a
customer who dropped out makes no more purchases, whatever their lambda). After T an
active customer buys as a Poisson process with rate lambda and drops out right after
each purchase with probability p, so the number of future purchases before dropout,
counting the last one, is Geometric(p) (memoryless, so one draw per customer suffices).

**MBG/NBD** (Batislam, Denizel & Filiztekin 2007): dropout can also happen at time 0,
so the active component has p ~ Beta(a, b + x + 1) and lifetimes' P(alive) (weight
ratio a / (b + x)); the future process is the same.

**Pareto/NBD** (Schmittlein, Morrison & Colombo 1987): with lifetime tau ~ Exp(mu),
given tau > T the likelihood is lambda^x e^(-lambda T) e^(-mu T), so the active component
is lambda ~ Gamma(r + x, alpha + T) and mu ~ Gamma(s, beta + T), independent; the
remaining lifetime is Exp(mu) (memoryless).

**Gamma-Gamma** (Fader, Hardie & Lee 2005b): spend per purchase z ~ Gamma(p, nu),
nu ~ Gamma(q, gamma). Given x repeat purchases with mean mbar, nu | data ~
Gamma(p x + q, gamma + x mbar) (conjugate, exact; the prior for x = 0); the spend of
k purchases is Gamma(k p, nu). Its mean p (gamma + x mbar) / (p x + q - 1) is lifetimes'
``conditional_expected_average_profit``.

These identities are checked in ``tests/test_loyalty_posterior.py`` against lifetimes'
closed forms (P(alive), conditional expected purchases, expected spend).

All draws use the ``numpy.random.Generator`` passed in (seeded by the caller) and are
vectorised over (runs, customers).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers.errors import ConfigError
from helpers.models import lifetimes_adapter as la

#: Lower bound on a dropout probability before drawing a Geometric (p = 0 means "never").
_MIN_P = 1e-12
#: Future purchases before dropout are capped here (a customer with p ~ 0 never drops out).
MAX_REMAINING = 2**40


@dataclass
class PosteriorDraws:
    """Draws for one block of customers, every array of shape (runs, customers).

    ``rate``: purchases per time unit while active. ``remaining`` (BG/NBD, MBG/NBD):
    future purchases until dropout, the last included (0 = dropped out). ``lifetime``
    (Pareto/NBD): remaining lifetime in time units (0 = dropped out). ``nu``: the
    Gamma-Gamma spend rate (mean spend per purchase = p / nu). ``alive``: active at T.
    """

    alive: np.ndarray
    rate: np.ndarray
    nu: np.ndarray
    remaining: np.ndarray | None = None
    lifetime: np.ndarray | None = None


def active_component(model_name: str, params: dict, frequency, recency, T) -> dict:
    """Parameters of the 'still active' posterior component for each customer."""
    x, t = np.asarray(frequency, "float64"), np.asarray(T, "float64")
    out = {"rate_shape": params["r"] + x, "rate_rate": params["alpha"] + t}
    if model_name == "bgnbd":
        out |= {"p_a": np.full_like(x, params["a"]), "p_b": params["b"] + x}
    elif model_name == "mbgnbd":
        out |= {"p_a": np.full_like(x, params["a"]), "p_b": params["b"] + x + 1}
    elif model_name == "pareto":
        out |= {"mu_shape": np.full_like(x, params["s"]), "mu_rate": params["beta"] + t}
    else:
        raise ConfigError(f"no posterior draws for model {model_name!r}; use bgnbd, mbgnbd or pareto")
    return out


def spend_posterior(params: dict, frequency, monetary_value) -> tuple[np.ndarray, np.ndarray]:
    """Shape and rate of nu | data under Gamma-Gamma (prior for customers without repeat purchases)."""
    x = np.asarray(frequency, "float64")
    m = np.where(x > 0, np.asarray(monetary_value, "float64"), 0.0)
    return params["p"] * x + params["q"], params["v"] + x * m


def draw(
    model_name: str,
    params: dict,
    spend_params: dict,
    frequency,
    recency,
    T,
    monetary_value,
    p_alive,
    runs: int,
    rng: np.random.Generator,
) -> PosteriorDraws:
    """One posterior draw per (run, customer): active or not, purchase rate, dropout, spend rate.

    ``p_alive`` is the model's P(alive) for each customer
    (:func:`helpers.models.lifetimes_adapter.probability_alive`, see :func:`p_alive`).
    """
    f = np.asarray(frequency, "float64")
    n = len(f)
    comp = active_component(model_name, params, f, recency, T)
    shape = (runs, n)
    alive = rng.random(shape) < np.asarray(p_alive)[None, :]
    rate = rng.gamma(comp["rate_shape"], 1.0 / comp["rate_rate"], size=shape)
    g_shape, g_rate = spend_posterior(spend_params, f, monetary_value)
    nu = rng.gamma(g_shape, 1.0 / g_rate, size=shape)
    if model_name == "pareto":
        mu = rng.gamma(comp["mu_shape"], 1.0 / comp["mu_rate"], size=shape)
        lifetime = np.where(alive, rng.exponential(1.0, size=shape) / mu, 0.0)
        return PosteriorDraws(alive, rate, nu, lifetime=lifetime)
    p = np.clip(rng.beta(comp["p_a"], comp["p_b"], size=shape), _MIN_P, 1.0)
    remaining = np.minimum(rng.geometric(p), MAX_REMAINING)
    return PosteriorDraws(alive, rate, nu, remaining=np.where(alive, remaining, 0))


def p_alive(purchase_model: la.FittedModel, frequency, recency, T) -> np.ndarray:
    """P(alive) of each customer: the weight of the 'still active' posterior component."""
    return la.probability_alive(purchase_model, frequency, recency, T)
