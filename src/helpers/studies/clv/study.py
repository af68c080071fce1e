"""One CLV study from transactions to tables: what ``notebooks/clv.ipynb`` shows.

The notebook calls :func:`run_clv_study` and displays the fields of the result, so every
number on the page comes from here and is reachable by tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.data.columns import CUSTOMER_ID, TIMESTAMP
from helpers.errors import DataError
from helpers.memo import shared
from helpers.models import lifetimes_adapter as la
from helpers.models.summary import (
    calibration_holdout_summary,
    customer_summary,
    restore_ids,
    with_id_codes,
)
from helpers.studies.clv import analysis as clv
from helpers.studies.clv.exports import headline_metrics
from helpers.studies.clv.uncertainty import (
    DEFAULT_DRAWS,
    ClvUncertainty,
    clv_uncertainty,
)


@dataclass
class ClvStudy:
    """Everything a CLV page reports."""

    settings: clv.ClvSettings
    calibration: pd.DataFrame  # calibration + holdout statistics per customer
    calibration_model: la.FittedModel  # chosen model fitted on the calibration period
    period_fit: pd.DataFrame
    period_fit_test: dict  # chi-square goodness of fit of period_fit
    cumulative: pd.DataFrame
    conditional: pd.DataFrame
    holdout_actual: np.ndarray
    holdout_predicted: np.ndarray
    holdout: dict
    comparison: pd.DataFrame
    summary: pd.DataFrame  # full-period statistics used for prediction
    purchase_model: la.FittedModel  # chosen model refitted on the full period
    spend_model: la.FittedModel
    independence: dict
    table: pd.DataFrame  # per-customer predictions, highest CLV first
    metrics: dict
    data_start: str = ""  # first transaction day (YYYY-MM-DD): start of both fitting periods
    uncertainty: ClvUncertainty | None = None  # intervals from parameter draws
    holdout_spend: dict | None = None  # the holdout check in money, overall
    holdout_spend_deciles: pd.DataFrame | None = None  # ... and by decile of predicted spend

    @property
    def calibration_period(self) -> tuple[str, str]:
        """First and last day of the data the calibration fit saw."""
        return (self.data_start, str(self.settings.calibration_end))

    @property
    def full_period(self) -> tuple[str, str]:
        """First and last day of the data the refit (and every prediction) used."""
        return (self.data_start, str(self.settings.observation_end))


def sample_of_customers(transactions: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """All transactions of ``n`` customers drawn at random (seeded); ``n <= 0`` keeps all."""
    if n <= 0:
        return transactions
    ids = transactions[CUSTOMER_ID].drop_duplicates().sort_values()
    if n >= len(ids):
        return transactions
    chosen = ids.sample(n=n, random_state=seed)
    return transactions[transactions[CUSTOMER_ID].isin(chosen)].reset_index(drop=True)


@shared
def run_clv_study(
    transactions: pd.DataFrame,
    settings: clv.ClvSettings,
    *,
    data_quality: dict | None = None,
    data_source: str = "",
    compare: tuple[str, ...] = ("bgnbd", "pareto", "mbgnbd"),
    draws: int = DEFAULT_DRAWS,
    seed: int = 0,
) -> ClvStudy:
    """Validate on a holdout, compare models, then refit on all data and predict CLV.

    The chosen model is first fitted on the calibration period and judged on the holdout
    (to observation_end); the same model is then refitted on the full period, because
    predictions should use everything we know.
    """
    if transactions.empty:
        raise DataError("there are no transactions to study")
    s = settings
    data_start = str(pd.Timestamp(transactions[TIMESTAMP].min()).date())
    # Ids are factorised once; every step below groups and sorts integer codes.
    coded, ids = with_id_codes(transactions)
    cal = restore_ids(calibration_holdout_summary(coded, s.calibration_end, s.observation_end, s.time_unit), ids)
    cal_model = clv.fit_purchase_model(cal, s.model, s.penalizer, suffix="_cal")
    actual = cal["frequency_holdout"].to_numpy()
    predicted = clv.holdout_predictions(cal_model, cal)

    full = restore_ids(customer_summary(coded, s.observation_end, s.time_unit), ids)
    purchase_model = clv.fit_purchase_model(full, s.model, s.penalizer)
    independence = clv.spend_independence(full)
    spend_model = la.fit_gamma_gamma(full["frequency"], full["monetary_value"], penalizer=s.penalizer)
    table = clv.clv_table(full, purchase_model, spend_model, s)
    uncertainty = None
    if draws > 0:
        uncertainty = clv_uncertainty(table, purchase_model, spend_model, s, draws=draws, seed=seed)
        table["clv_low"], table["clv_high"] = uncertainty.low, uncertainty.high
    cal_spend_model = la.fit_gamma_gamma(cal["frequency_cal"], cal["monetary_value_cal"], penalizer=s.penalizer)
    spend_overall, spend_deciles = clv.holdout_spend(cal_model, cal_spend_model, cal, predicted=predicted)
    holdout = clv.holdout_error_metrics(actual, predicted)
    period_fit = clv.period_transactions(cal_model, cal)
    comparison = clv.compare_models(cal, compare, s.penalizer, fitted_already=cal_model, predicted_already=predicted)
    metrics = headline_metrics(
        settings=s,
        table=table,
        purchase_model=purchase_model,
        calibration_model=cal_model,
        data_start=data_start,
        uncertainty=uncertainty,
        holdout_spend=spend_overall,
        spend_model=spend_model,
        holdout=holdout,
        comparison=comparison,
        independence=independence,
        data_quality=data_quality,
        data_source=data_source,
    )
    return ClvStudy(
        settings=s,
        calibration=cal,
        calibration_model=cal_model,
        period_fit=period_fit,
        period_fit_test=clv.period_fit_test(period_fit, len(cal_model.params)),
        cumulative=clv.cumulative_repeat_transactions(
            cal_model, coded, s.calibration_end, s.observation_end, s.time_unit
        ),
        conditional=clv.conditional_expectations(cal_model, cal, predicted=predicted),
        holdout_actual=actual,
        holdout_predicted=predicted,
        holdout=holdout,
        comparison=comparison,
        summary=full,
        purchase_model=purchase_model,
        spend_model=spend_model,
        independence=independence,
        table=table,
        metrics=metrics,
        data_start=data_start,
        uncertainty=uncertainty,
        holdout_spend=spend_overall,
        holdout_spend_deciles=spend_deciles,
    )
