"""Issue 11, "Honest numbers": what the CLV page states matches what the numbers are."""

import json

import numpy as np
import pandas as pd
import pytest

from helpers.models.summary import calibration_holdout_summary
from helpers.studies.clv import analysis as clv
from helpers.studies.clv import narrative, tables
from helpers.studies.clv.exports import write_outputs
from helpers.studies.clv.study import run_clv_study

from ._cdnow import CALIBRATION_END, OBSERVATION_END, sample


@pytest.fixture(scope="module")
def sample_study():
    settings = clv.ClvSettings(calibration_end=CALIBRATION_END, observation_end=OBSERVATION_END)
    return run_clv_study(sample(), settings, compare=("bgnbd",))


def test_cumulative_curve_ends_at_the_observation_end_with_published_week_78(sample_study):
    """FHL (2005) CDNOW sample: 78 weeks 1997-01-01..1998-06-30; week 78 model 4,165.7, actual 4,339."""
    table = sample_study.cumulative
    last = table.iloc[-1]
    assert len(table) == 78 and last["step"] == 78
    assert pd.Timestamp(last["date"]) == pd.Timestamp(OBSERVATION_END)
    assert last["predicted"] == pytest.approx(4165.7, abs=0.5)
    assert last["actual"] == 4339
    text = narrative.cumulative(table, "en", "W")
    assert "1998-06-30" in text and "78 weeks" in text and "4,165.7" in text and "4,339" in text
    assert "1998-06-30" in narrative.cumulative(table, "zh-CN", "W")


def test_a_partial_last_week_still_reaches_the_observation_end():
    table = clv.cumulative_repeat_transactions(
        clv.fit_purchase_model(
            calibration_holdout_summary(sample(), CALIBRATION_END, "1998-06-27", "W"), "bgnbd", suffix="_cal"
        ),
        sample(), CALIBRATION_END, "1998-06-27", "W",
    )
    assert pd.Timestamp(table["date"].iloc[-1]) == pd.Timestamp("1998-06-27")
    assert len(table) == 78  # 77 full weeks and 3 days
    assert table["date"].is_monotonic_increasing


def test_each_fit_is_labelled_by_its_period_and_both_are_exported(sample_study, tmp_path):
    study = sample_study
    assert study.calibration_period == ("1997-01-01", CALIBRATION_END)
    assert study.full_period == ("1997-01-01", OBSERVATION_END)
    html = tables.parameters(
        [study.calibration_model, study.purchase_model], "en",
        periods=[study.calibration_period, study.full_period],
    ).to_html()
    assert "BG/NBD, fitted on 1997-01-01 to 1997-09-30" in html
    assert "BG/NBD, fitted on 1997-01-01 to 1998-06-30" in html
    paths = write_outputs(tmp_path, study.table, study.metrics)
    exported = json.loads(paths["json"].read_text())
    cal, full = exported["calibration_model"], exported["purchase_model"]
    assert cal["period"] == {"start": "1997-01-01", "end": CALIBRATION_END}
    assert full["period"] == {"start": "1997-01-01", "end": OBSERVATION_END}
    # the calibration fit is the one FHL (2005) publish: r .243, alpha 4.414, a .793, b 2.426
    assert cal["params"]["r"] == pytest.approx(0.243, abs=1e-3)
    assert cal["params"]["alpha"] == pytest.approx(4.414, abs=1e-3)
    assert cal["params"]["a"] == pytest.approx(0.793, abs=1e-3)
    assert cal["params"]["b"] == pytest.approx(2.426, abs=1e-3)
    assert full["params"]["r"] != pytest.approx(cal["params"]["r"], abs=1e-3)


def test_parameter_intervals_are_built_on_the_log_scale():
    """Pareto/NBD beta on the CDNOW sample has a large standard error: the natural-scale
    interval crossed zero (-0.5 to 23.8); on the log scale it stays positive."""
    cal = calibration_holdout_summary(sample(), CALIBRATION_END, OBSERVATION_END, "W")
    model = clv.fit_purchase_model(cal, "pareto", suffix="_cal")
    table = model.params_table()
    assert (table["lower_95"] > 0).all()
    se_log = table["std_error"] / table["estimate"]
    np.testing.assert_allclose(np.log(table["lower_95"]), np.log(table["estimate"]) - 1.96 * se_log)
    np.testing.assert_allclose(np.log(table["upper_95"]), np.log(table["estimate"]) + 1.96 * se_log)
    beta = table.loc["beta"]
    assert beta["estimate"] - 1.96 * beta["std_error"] < 0 < beta["lower_95"] < beta["estimate"] < beta["upper_95"]
