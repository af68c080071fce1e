"""Vectorised draws from the buy-till-you-die models' generative processes.

Used to compare the observed distribution of repeat purchases with what a fitted model
implies for customers of the same ages (the "period transactions" check), and by tests
that recover known parameters. Each draw is exact for its model:

- BG/NBD: purchase rate lambda ~ Gamma(r, alpha), dropout p ~ Beta(a, b); without
  dropout the count in (0, T] is Poisson(lambda T); a customer drops out right after
  each repeat purchase with probability p, so the count is min(N, G), G ~ Geometric(p).
- MBG/NBD: as BG/NBD but the customer may also drop out at time 0: min(N, G - 1).
- Pareto/NBD: lifetime tau ~ Exponential(mu), mu ~ Gamma(s, beta); count is
  Poisson(lambda * min(tau, T)).
"""

from __future__ import annotations

import numpy as np

from helpers.errors import ConfigError


def simulate_repeat_counts(
    model_name: str, params: dict[str, float], T: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One draw of the number of repeat purchases in (0, T] for each customer age in ``T``."""
    ages = np.asarray(T, dtype="float64")
    n = len(ages)
    rate = rng.gamma(params["r"], 1.0 / params["alpha"], size=n)
    if model_name in ("bgnbd", "mbgnbd"):
        p = rng.beta(params["a"], params["b"], size=n)
        purchases = rng.poisson(rate * ages)
        until_dropout = rng.geometric(np.clip(p, 1e-12, 1.0))
        if model_name == "mbgnbd":
            until_dropout = until_dropout - 1
        return np.minimum(purchases, until_dropout)
    if model_name == "pareto":
        mu = rng.gamma(params["s"], 1.0 / params["beta"], size=n)
        lifetime = rng.exponential(1.0 / mu)
        return rng.poisson(rate * np.minimum(lifetime, ages))
    raise ConfigError(f"no simulator for model {model_name!r}")


def expected_count_distribution(
    model_name: str,
    params: dict[str, float],
    T: np.ndarray,
    max_count: int,
    *,
    draws: int = 20,
    seed: int = 0,
) -> np.ndarray:
    """Expected number of customers with 0, 1, ..., ``max_count``+ repeat purchases.

    Monte Carlo over ``draws`` copies of the customer base (seeded, so reproducible);
    the result has ``max_count + 1`` entries, the last one counting ``max_count`` or more.
    """
    rng = np.random.default_rng(seed)
    ages = np.tile(np.asarray(T, dtype="float64"), draws)
    counts = np.minimum(simulate_repeat_counts(model_name, params, ages, rng), max_count)
    return np.bincount(counts, minlength=max_count + 1) / draws
