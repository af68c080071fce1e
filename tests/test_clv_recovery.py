"""The CLV study recovers the parameters the new-retail generator used (known truth)."""

import pytest

from helpers.data.generator import GeneratorConfig, generate
from helpers.studies.clv.analysis import ClvSettings
from helpers.studies.clv.study import run_clv_study

CUSTOMERS = 20_000
SEED = 11
#: A fitted parameter may miss the truth by this many standard errors (about 1 in 370 by chance
#: for one parameter; the generator's whole-day observation adds a bias of 0.2-0.6 SE).
TOLERANCE_SE = 3.5


@pytest.fixture(scope="module")
def study_and_truth():
    data = generate(GeneratorConfig(n_customers=CUSTOMERS, seed=SEED))
    settings = ClvSettings(
        calibration_end="2024-06-30", observation_end=data.truth["config"]["end"], time_unit="D", model="bgnbd"
    )
    study = run_clv_study(data.purchases(), settings, compare=("bgnbd",))
    return study, data.truth


@pytest.mark.slow
def test_purchase_model_recovers_the_truth(study_and_truth):
    study, truth = study_and_truth
    model = study.purchase_model
    for name in ("r", "alpha", "a", "b"):
        error = model.params[name] - truth["purchase_model"][name]
        assert abs(error) < TOLERANCE_SE * model.standard_errors[name], (name, model.params[name])


@pytest.mark.slow
def test_spend_model_recovers_the_truth(study_and_truth):
    study, truth = study_and_truth
    model = study.spend_model
    for name in ("p", "q", "v"):
        error = model.params[name] - truth["spend_model"][name]
        assert abs(error) < TOLERANCE_SE * model.standard_errors[name], (name, model.params[name])


@pytest.mark.slow
def test_holdout_total_is_close_when_the_model_is_true(study_and_truth):
    study, _ = study_and_truth
    assert abs(study.holdout["total_error_pct"]) < 5
