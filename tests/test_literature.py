"""Published results the models must reproduce.

Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science 24(2):
BG/NBD on the CDNOW 1/10 sample (2,357 customers), calibration 1997-01-01..1997-09-30, in weeks:
r 0.243, alpha 4.414, a 0.793, b 2.426, log-likelihood -9582.4; the Pareto/NBD on the same data:
r 0.55, alpha 10.58, s 0.61, beta 11.67, log-likelihood -9595.0.
Fader, Hardie & Lee (2005), "RFM and CLV: using iso-value curves", and Fader & Hardie's
Gamma-Gamma note: on the 946 repeat buyers, p 6.25, q 3.74, gamma 15.44.
"""

from importlib.resources import files

import numpy as np
import pandas as pd
import pytest

from helpers.models import lifetimes_adapter as la
from helpers.studies.clv import analysis as clv

from ._cdnow import sample_calibration_summary


def test_calibration_data_matches_the_paper():
    """Our summary of the raw 1/10 sample equals Hardie's published (x, t_x, T, zbar) file."""
    summary = sample_calibration_summary()
    assert len(summary) == 2357
    assert int((summary["frequency"] > 0).sum()) == 946
    published = pd.read_csv(files("lifetimes") / "datasets" / "cdnow_customers_summary_with_transactions.csv")
    np.testing.assert_array_equal(summary["frequency"].to_numpy(), published["x"].to_numpy())
    np.testing.assert_allclose(summary["recency"].round(2), published["t_x"], atol=1e-9)
    np.testing.assert_allclose(summary["T"].round(2), published["T"], atol=1e-9)
    np.testing.assert_allclose(summary["monetary_value"], published["zbar"], atol=0.0051)


def _assert_published(model, published: dict, abs_tol: float, log_likelihood: float) -> None:
    """The fit's parameters within ``abs_tol`` of the published ones (the paper's rounding)
    and its log-likelihood within 0.1 of the published value."""
    for name, value in published.items():
        assert model.params[name] == pytest.approx(value, abs=abs_tol), name
    assert model.log_likelihood == pytest.approx(log_likelihood, abs=0.1)


@pytest.mark.parametrize("collapsed", [False, True])
def test_bgnbd_reproduces_fader_hardie_lee_2005(collapsed):
    summary = sample_calibration_summary()
    if collapsed:
        model = clv.fit_purchase_model(summary, "bgnbd")
    else:
        model = la.fit_transaction_model("bgnbd", summary["frequency"], summary["recency"], summary["T"])
    _assert_published(model, {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, 0.0015, -9582.4)


def test_pareto_nbd_reproduces_the_published_fit():
    model = clv.fit_purchase_model(sample_calibration_summary(), "pareto")
    _assert_published(model, {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}, 0.01, -9595.0)


def test_gamma_gamma_reproduces_the_published_fit():
    summary = sample_calibration_summary()
    spend = la.fit_gamma_gamma(summary["frequency"], summary["monetary_value"])
    assert spend.n_customers == 946
    for name, value in {"p": 6.25, "q": 3.74, "v": 15.44}.items():
        assert spend.params[name] == pytest.approx(value, abs=0.01), name
