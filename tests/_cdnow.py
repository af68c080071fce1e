"""Cached CDNOW data shared by tests (loaded once per test session)."""

from functools import lru_cache

import pandas as pd

from helpers.data.datasets import load_cdnow_master, load_cdnow_sample
from helpers.models.summary import calibration_holdout_summary, customer_summary

CALIBRATION_END = "1997-09-30"
OBSERVATION_END = "1998-06-30"


@lru_cache(maxsize=None)
def master() -> pd.DataFrame:
    return load_cdnow_master()


@lru_cache(maxsize=None)
def sample() -> pd.DataFrame:
    return load_cdnow_sample()


@lru_cache(maxsize=None)
def sample_calibration_summary() -> pd.DataFrame:
    """The FHL (2005) calibration data: 1/10 sample, weeks, calibration to 1997-09-30."""
    return customer_summary(sample(), CALIBRATION_END, "W")


@lru_cache(maxsize=None)
def master_calibration_holdout() -> pd.DataFrame:
    return calibration_holdout_summary(master(), CALIBRATION_END, OBSERVATION_END, "W")
