"""Individual-level posterior draws checked against lifetimes' closed forms.

The draws (P(alive) mixture weight, conjugate Gamma/Beta components, Gamma-Gamma
posterior) and the engine's month steps (Poisson purchases, dropout after a purchase,
time of the dropout purchase inside the month) are independent of lifetimes' formulas
for the conditional expected number of purchases, P(alive) and expected spend, so
agreement within Monte Carlo error checks both.
"""

import numpy as np
import pandas as pd
import pytest
from scipy.special import betaln

from helpers.models import lifetimes_adapter as la
from helpers.studies.clv import analysis as clv
from helpers.studies.loyalty.base import build_base
from helpers.studies.loyalty.design import design_from_mapping
from helpers.studies.loyalty.engine import SimSettings, simulate
from helpers.studies.loyalty.posterior import active_component, draw, spend_posterior

from ._cdnow import sample_calibration_summary

#: Customer histories (x, t_x, T) in weeks: one-off, light, heavy lapsing, heavy recent.
PROFILES = [(0, 0.0, 38.0), (2, 20.0, 38.0), (6, 15.0, 38.0), (10, 36.0, 38.0)]
MONTH = clv.DAYS_PER_MONTH / 7.0


@pytest.fixture(scope="module")
def cal():
    return sample_calibration_summary()


@pytest.fixture(scope="module", params=["bgnbd", "mbgnbd", "pareto"])
def model(request, cal):
    return clv.fit_purchase_model(cal, request.param)


@pytest.fixture(scope="module")
def spend_model(cal):
    return la.fit_gamma_gamma(cal["frequency"], cal["monetary_value"])


def test_mixture_weights_are_the_closed_form_p_alive(cal):
    """BG/NBD: active weight B(a, b+x) (alpha+T)^-(r+x) vs dropped B(a+1, b+x-1) (alpha+t_x)^-(r+x)."""
    model = clv.fit_purchase_model(cal, "bgnbd")
    r, alpha, a, b = (model.params[k] for k in ("r", "alpha", "a", "b"))
    x, tx, T = (np.array(v, dtype=float) for v in zip(*PROFILES[1:]))
    log_active = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    log_dropped = betaln(a + 1, b + x - 1) - (r + x) * np.log(alpha + tx)
    mine = 1 / (1 + np.exp(log_dropped - log_active))
    assert mine == pytest.approx(la.probability_alive(model, x, tx, T), rel=1e-9)


def test_active_component_parameters():
    params = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.4}
    comp = active_component("bgnbd", params, [3], [10.0], [20.0])
    assert comp["rate_shape"][0] == 3.25 and comp["rate_rate"][0] == 24.0
    assert comp["p_a"][0] == 0.8 and comp["p_b"][0] == 5.4
    assert active_component("mbgnbd", params, [3], [10.0], [20.0])["p_b"][0] == 6.4
    pareto = active_component("pareto", {"r": 0.5, "alpha": 10.0, "s": 0.6, "beta": 12.0}, [3], [10.0], [20.0])
    assert pareto["mu_shape"][0] == 0.6 and pareto["mu_rate"][0] == 32.0


def test_draws_reproduce_p_alive_and_expected_spend(model, spend_model):
    x, tx, T = (np.array(v, dtype=float) for v in zip(*PROFILES))
    m = np.array([0.0, 30.0, 40.0, 25.0])
    p_alive = la.probability_alive(model, x, tx, T)
    d = draw(model.name, model.params, spend_model.params, x, tx, T, m, p_alive, 40_000, np.random.default_rng(1))
    assert d.alive.mean(0) == pytest.approx(p_alive, abs=0.01)
    mean_spend = (spend_model.params["p"] / d.nu).mean(0)
    assert mean_spend == pytest.approx(la.expected_spend(spend_model, x, m), rel=0.02)


def test_gamma_gamma_posterior_is_conjugate():
    shape, rate = spend_posterior({"p": 6.0, "q": 4.0, "v": 15.0}, [0, 3], [99.0, 20.0])
    assert shape.tolist() == [4.0, 22.0] and rate.tolist() == [15.0, 75.0]  # x = 0: the prior


def _base_of(model, spend_model, x, tx, T, copies):
    m = 30.0 if x else 0.0
    rows = pd.DataFrame(
        {"frequency": [x] * copies, "recency": [tx] * copies, "T": [T] * copies, "monetary_value": [m] * copies},
        index=pd.Index([f"c{i}" for i in range(copies)], name="customer_id"),
    )
    return build_base(rows, model, spend_model, time_unit="W"), m


@pytest.mark.parametrize("x, tx, T", PROFILES)
def test_simulated_baseline_matches_lifetimes_conditional_expectations(model, spend_model, x, tx, T):
    """Mean purchases and revenue over 6 months vs E[purchases] and E[purchases] x E[spend] (lifetimes)."""
    copies, runs, months = 2000, 20, 6
    base, m = _base_of(model, spend_model, x, tx, T, copies)
    no_programme = design_from_mapping({"name": "none", "burn": {"point_value": 0, "redemption_threshold": 1}}, "none")
    sim = simulate(no_programme, base, SimSettings(horizon_months=months, runs=runs, seed=3))
    n = copies * runs
    purchases = sim.monthly["purchases_base"].sum() / n
    revenue = sim.monthly["revenue_base"].sum() / n
    closed = la.expected_purchases(model, months * MONTH, [x], [tx], [T])[0]
    spend = la.expected_spend(spend_model, [x], [m])[0]
    assert purchases == pytest.approx(closed, rel=0.06, abs=0.004), model.name
    assert revenue == pytest.approx(closed * spend, rel=0.08, abs=0.2), model.name
