"""The simulators must agree with the models' closed forms (known truth)."""

import numpy as np
import pytest
from lifetimes import BetaGeoFitter, ModifiedBetaGeoFitter, ParetoNBDFitter

from helpers.models.simulation import (
    expected_count_distribution,
    simulate_repeat_counts,
)

PARAMS = {
    "bgnbd": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "mbgnbd": {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614},
    "pareto": {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67},
}
FITTERS = {"bgnbd": BetaGeoFitter, "mbgnbd": ModifiedBetaGeoFitter, "pareto": ParetoNBDFitter}


def fitter_with(name):
    fitter = FITTERS[name]()
    fitter.params_ = __import__("pandas").Series(PARAMS[name])
    return fitter


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_mean_count_matches_closed_form(name):
    rng = np.random.default_rng(7)
    ages = np.full(400_000, 39.0)
    counts = simulate_repeat_counts(name, PARAMS[name], ages, rng)
    expected = float(np.atleast_1d(fitter_with(name).expected_number_of_purchases_up_to_time(39.0))[0])
    standard_error = counts.std() / np.sqrt(len(counts))
    assert abs(counts.mean() - expected) < 4 * standard_error


def test_bgnbd_count_distribution_matches_closed_form():
    fitter = fitter_with("bgnbd")
    dist = expected_count_distribution("bgnbd", PARAMS["bgnbd"], np.full(50_000, 39.0), 3, draws=8, seed=1)
    probs = dist / dist.sum()
    for n in range(3):
        assert probs[n] == pytest.approx(fitter.probability_of_n_purchases_up_to_time(39.0, n), abs=0.006)


def test_draws_are_seeded():
    a = expected_count_distribution("pareto", PARAMS["pareto"], np.full(1000, 20.0), 5, seed=3)
    b = expected_count_distribution("pareto", PARAMS["pareto"], np.full(1000, 20.0), 5, seed=3)
    np.testing.assert_array_equal(a, b)
