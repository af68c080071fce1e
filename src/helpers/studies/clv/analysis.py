"""Customer lifetime value: settings, holdout validation, model comparison, CLV table.

All model calls go through :mod:`helpers.models.lifetimes_adapter`, except the BG/NBD CLV sum,
which uses the closed form in :mod:`helpers.models.fast_models` (tested equal to lifetimes');
this module combines them into the tables a CLV study reports. Loops here run over
months, purchase-count buckets or a handful of models, never over customers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from helpers.data.columns import CUSTOMER_ID
from helpers.errors import ConfigError, HelperError
from helpers.models import activity, fast_models
from helpers.models import lifetimes_adapter as la
from helpers.models.count_distribution import expected_count_histogram
from helpers.models.summary import (
    DAYS_PER_UNIT,
    _to_day,
    collapse_rfm,
    first_and_repeat_days,
    normalise_time_unit,
)

#: Days in the month used for horizons and discounting (lifetimes' convention for daily data).
DAYS_PER_MONTH = 30.0
#: Repeat-purchase counts at and above this are pooled into one "N+" bucket in the checks.
MAX_COUNT_BUCKET = 7
#: |correlation| between purchase frequency and average spend below which the
#: Gamma-Gamma independence assumption is treated as acceptable.
INDEPENDENCE_THRESHOLD = 0.3


@dataclass(frozen=True)
class ClvSettings:
    """Everything that decides a CLV study's numbers, validated on construction."""

    calibration_end: str
    observation_end: str
    time_unit: str = "W"
    horizon_months: int = 12
    annual_discount_rate: float = 0.10
    model: str = "bgnbd"
    penalizer: float = 0.0
    gross_margin: float = 0.30

    def __post_init__(self) -> None:
        object.__setattr__(self, "time_unit", normalise_time_unit(self.time_unit))
        if self.model not in la.TRANSACTION_MODELS:
            raise ConfigError(f"model {self.model!r} is not known; choose one of {sorted(la.TRANSACTION_MODELS)}.")
        if not isinstance(self.horizon_months, (int, np.integer)) or self.horizon_months < 1:
            raise ConfigError(f"horizon_months must be a whole number of months >= 1, not {self.horizon_months!r}.")
        if not 0 <= self.annual_discount_rate < 1:
            raise ConfigError(
                f"annual_discount_rate is a fraction per year (0.10 = 10%), not {self.annual_discount_rate!r}."
            )
        if not 0 < self.gross_margin <= 1:
            raise ConfigError(f"gross_margin is a fraction of revenue in (0, 1], not {self.gross_margin!r}.")
        if self.penalizer < 0:
            raise ConfigError(f"penalizer must be >= 0, not {self.penalizer!r}.")
        if _to_day(self.calibration_end, "calibration_end") >= _to_day(self.observation_end, "observation_end"):
            raise ConfigError(
                f"calibration_end ({self.calibration_end}) must be before observation_end ({self.observation_end})."
            )

    @property
    def unit_days(self) -> float:
        return DAYS_PER_UNIT[self.time_unit]

    @property
    def unit_name(self) -> str:
        """The time unit in words, for labels."""
        return {"D": "days", "W": "weeks", "M": "months"}[self.time_unit]

    @property
    def periods_per_month(self) -> float:
        return DAYS_PER_MONTH / self.unit_days

    @property
    def monthly_discount_rate(self) -> float:
        return monthly_rate(self.annual_discount_rate)

    def to_dict(self) -> dict:
        return asdict(self)


def monthly_rate(annual_rate: float) -> float:
    """Monthly discount rate equivalent to an annual one: (1 + a)^(1/12) - 1."""
    return (1.0 + annual_rate) ** (1.0 / 12.0) - 1.0


def fit_purchase_model(summary: pd.DataFrame, model: str, penalizer: float = 0.0, suffix: str = "",
                       start: dict[str, float] | None = None) -> la.FittedModel:
    """Fit a purchase model on collapsed (frequency, recency, T) rows of ``summary``
    (``start``: Pareto/NBD's starting point, :func:`helpers.models.lifetimes_adapter.pareto_start`)."""
    cols = _rfm_columns(suffix)
    return _fit_collapsed(collapse_rfm(summary, cols), cols, model, penalizer, start)


def _rfm_columns(suffix: str) -> list[str]:
    return [f"frequency{suffix}", f"recency{suffix}", f"T{suffix}"]


def _fit_collapsed(rows: pd.DataFrame, cols: list[str], model: str, penalizer: float,
                   start: dict[str, float] | None) -> la.FittedModel:
    """:func:`fit_purchase_model` on rows :func:`helpers.models.summary.collapse_rfm` made."""
    return la.fit_transaction_model(
        model, rows[cols[0]], rows[cols[1]], rows[cols[2]], weights=rows["weight"], penalizer=penalizer, start=start
    )


def customer_lifetime_value(
    purchase_model: la.FittedModel,
    spend_per_purchase: np.ndarray,
    frequency: np.ndarray,
    recency: np.ndarray,
    T: np.ndarray,
    *,
    months: int,
    monthly_discount_rate: float,
    periods_per_month: float,
) -> np.ndarray:
    """Discounted expected revenue over ``months``, month by month, for every customer.

    Same formula as lifetimes' ``customer_lifetime_value``: for month k, expected purchases
    in that month times expected spend per purchase, divided by (1 + d)^k. Under BG/NBD the
    expected purchases come from the closed form in
    :func:`helpers.models.fast_models.bgnbd_discounted_purchases` (the same numbers as lifetimes'
    predictions, computed once per distinct (frequency, T) pair and month); other models
    call lifetimes' prediction through the adapter, vectorised over customers, looping over
    months.
    """
    if purchase_model.name == "bgnbd":
        total = fast_models.bgnbd_discounted_purchases(
            purchase_model.params, frequency, recency, T, months=months,
            monthly_discount_rate=monthly_discount_rate, periods_per_month=periods_per_month,
        )
        return np.asarray(spend_per_purchase, dtype="float64") * total
    previous = np.zeros(len(np.atleast_1d(frequency)))
    total = np.zeros_like(previous)
    for month in range(1, months + 1):
        cumulative = la.expected_purchases(purchase_model, month * periods_per_month, frequency, recency, T)
        total += (cumulative - previous) / (1.0 + monthly_discount_rate) ** month
        previous = cumulative
    return np.asarray(spend_per_purchase, dtype="float64") * total


def spend_independence(summary: pd.DataFrame) -> dict:
    """Check the Gamma-Gamma assumption that spend per purchase is independent of frequency.

    Returns the Pearson correlation among repeat buyers, their number and a verdict.
    """
    f, m = summary["frequency"].to_numpy(), summary["monetary_value"].to_numpy()
    buyers = (f > 0) & (m > 0)
    if buyers.sum() < 3:
        raise HelperError("fewer than 3 repeat buyers: the spend model cannot be checked or fitted.")
    corr = float(np.corrcoef(f[buyers], m[buyers])[0, 1])
    return {
        "correlation": corr,
        "repeat_buyers": int(buyers.sum()),
        "threshold": INDEPENDENCE_THRESHOLD,
        "acceptable": bool(abs(corr) < INDEPENDENCE_THRESHOLD),
    }


def clv_table(
    summary: pd.DataFrame,
    purchase_model: la.FittedModel,
    spend_model: la.FittedModel,
    settings: ClvSettings,
) -> pd.DataFrame:
    """Per-customer prediction table, sorted by CLV (highest first).

    Columns: frequency, recency, T, monetary_value, p_alive, expected_purchases (in the
    horizon), expected_spend (per purchase), clv_revenue (discounted revenue) and clv
    (discounted gross margin = clv_revenue x gross_margin); last_purchase (date),
    days_since_last (days from it to the observation end) and lapsed (the rule of
    :mod:`helpers.models.activity`: P(alive) below its threshold or silent for more than
    its ``lapsed_days``).
    """
    f, r, t = (summary[c].to_numpy() for c in ("frequency", "recency", "T"))
    spend = la.expected_spend(spend_model, f, summary["monetary_value"].to_numpy())
    table = summary[["frequency", "recency", "T", "monetary_value"]].copy()
    table["p_alive"] = la.probability_alive(purchase_model, f, r, t)
    table["expected_purchases"] = la.expected_purchases(
        purchase_model, settings.horizon_months * settings.periods_per_month, f, r, t
    )
    table["expected_spend"] = spend
    table["clv_revenue"] = customer_lifetime_value(
        purchase_model,
        spend,
        f,
        r,
        t,
        months=settings.horizon_months,
        monthly_discount_rate=settings.monthly_discount_rate,
        periods_per_month=settings.periods_per_month,
    )
    table["clv"] = table["clv_revenue"] * settings.gross_margin
    days_since = np.round((t - r) * settings.unit_days).astype("int64")
    table["days_since_last"] = days_since
    table["last_purchase"] = pd.Timestamp(settings.observation_end).normalize() - pd.to_timedelta(days_since, unit="D")
    table["lapsed"] = activity.lapsed_mask(table["p_alive"].to_numpy(), days_since)
    return _by_value_then_id(table)


def _by_value_then_id(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` by CLV, highest first, equal values by id. Summaries come indexed by sorted
    ids, and then a stable sort on the CLV alone gives that order without sorting (and
    hashing) a million ids again."""
    if table.index.is_monotonic_increasing:
        return table.iloc[np.argsort(-table["clv"].to_numpy(), kind="stable")]  # NaN last, as sort_values
    return table.sort_values(["clv", CUSTOMER_ID], ascending=[False, True], kind="stable")


# --- holdout validation -------------------------------------------------------------


def _bucket_labels(max_count: int) -> list[str]:
    return [str(i) for i in range(max_count)] + [f"{max_count}+"]


def period_transactions(model: la.FittedModel, cal: pd.DataFrame, max_count: int = MAX_COUNT_BUCKET) -> pd.DataFrame:
    """Customers by number of repeat purchases in calibration: actual vs the model's expectation.

    The expectation is exact (:func:`helpers.models.count_distribution.expected_count_histogram`:
    each customer's probability of each count at their own age, summed), not a simulation.
    """
    actual = np.bincount(np.minimum(cal["frequency_cal"].to_numpy().astype(int), max_count), minlength=max_count + 1)
    expected = expected_count_histogram(model.name, model.params, cal["T_cal"].to_numpy(), max_count)
    return pd.DataFrame(
        {"repeat_purchases": _bucket_labels(max_count), "actual": actual, "model": expected}
    )


def period_fit_test(table: pd.DataFrame, n_params: int, min_expected: float = 5.0) -> dict:
    """Pearson chi-square goodness-of-fit test of the period-transactions histogram.

    Buckets whose expected count is below ``min_expected`` are pooled into their neighbour
    towards the middle (the usual rule for the chi-square approximation); degrees of freedom
    = buckets - 1 - ``n_params`` (the model's parameters were estimated on the same data).
    """
    actual = table["actual"].to_numpy(dtype="float64")
    expected = table["model"].to_numpy(dtype="float64")
    obs, exp = list(actual), list(expected)
    while len(exp) > 2 and exp[-1] < min_expected:  # pool sparse buckets from the top
        last_obs, last_exp = obs.pop(), exp.pop()
        obs[-1] += last_obs
        exp[-1] += last_exp
    obs_a, exp_a = np.array(obs), np.array(exp)
    statistic = float(((obs_a - exp_a) ** 2 / exp_a).sum())
    df = len(exp_a) - 1 - n_params
    p_value = float(stats.chi2.sf(statistic, df)) if df > 0 else float("nan")
    return {"chi_square": statistic, "df": int(df), "p_value": p_value, "buckets": int(len(exp_a))}


def holdout_predictions(model: la.FittedModel, cal: pd.DataFrame) -> np.ndarray:
    """Expected holdout repeat purchases for each calibration customer."""
    return la.expected_purchases(
        model,
        float(cal["duration_holdout"].iloc[0]),
        cal["frequency_cal"].to_numpy(),
        cal["recency_cal"].to_numpy(),
        cal["T_cal"].to_numpy(),
    )


#: Groups of customers in the money calibration check.
SPEND_DECILES = 10


def holdout_spend(
    model: la.FittedModel, spend_model: la.FittedModel, cal: pd.DataFrame, deciles: int = SPEND_DECILES,
    *, predicted: np.ndarray | None = None,
) -> tuple[dict, pd.DataFrame]:
    """The holdout check in money: predicted vs actual holdout spend, overall and by decile.

    Predicted spend = expected holdout purchases (the calibration fit) x Gamma-Gamma expected
    spend per purchase (fitted on the calibration period only); actual spend = holdout
    purchase days x mean spend per holdout purchase day. Undiscounted revenue, so it is
    comparable with the till. Deciles rank customers by predicted spend (ties broken by
    order), decile 10 the highest. ``predicted``: :func:`holdout_predictions` of ``model``
    on ``cal`` when already computed.
    """
    f = cal["frequency_cal"].to_numpy()
    purchases = holdout_predictions(model, cal) if predicted is None else predicted
    predicted = purchases * la.expected_spend(spend_model, f, cal["monetary_value_cal"].to_numpy())
    actual = cal["frequency_holdout"].to_numpy() * cal["monetary_value_holdout"].to_numpy()
    n_groups = min(deciles, len(predicted))
    rank = np.empty(len(predicted), dtype="int64")
    rank[np.argsort(predicted, kind="stable")] = np.arange(len(predicted))
    decile = rank * n_groups // max(len(predicted), 1) + 1
    frame = pd.DataFrame({"decile": decile, "predicted": predicted, "actual": actual})
    by_decile = frame.groupby("decile").agg(
        customers=("actual", "size"), predicted=("predicted", "sum"), actual=("actual", "sum"),
        predicted_mean=("predicted", "mean"), actual_mean=("actual", "mean"),
    ).reset_index()
    total_actual, total_predicted = float(actual.sum()), float(predicted.sum())
    overall = {
        "predicted_total": total_predicted,
        "actual_total": total_actual,
        "error_pct": 100 * (total_predicted - total_actual) / total_actual if total_actual else float("nan"),
        "top_decile_predicted": float(by_decile["predicted"].iloc[-1]),
        "top_decile_actual": float(by_decile["actual"].iloc[-1]),
    }
    return overall, by_decile


def conditional_expectations(
    model: la.FittedModel, cal: pd.DataFrame, max_count: int = MAX_COUNT_BUCKET,
    *, predicted: np.ndarray | None = None,
) -> pd.DataFrame:
    """Mean holdout purchases by calibration frequency: actual vs predicted (``predicted``:
    :func:`holdout_predictions` of ``model`` on ``cal`` when already computed)."""
    bucket = np.minimum(cal["frequency_cal"].to_numpy().astype(int), max_count)
    if predicted is None:
        predicted = holdout_predictions(model, cal)
    frame = pd.DataFrame({"bucket": bucket, "actual": cal["frequency_holdout"].to_numpy(), "predicted": predicted})
    grouped = frame.groupby("bucket").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    grouped = grouped.reindex(range(max_count + 1))
    grouped.insert(0, "calibration_purchases", _bucket_labels(max_count))
    return grouped.reset_index(drop=True)


def holdout_error_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict:
    """Per-customer error summary of holdout predictions."""
    actual = np.asarray(actual, dtype="float64")
    predicted = np.asarray(predicted, dtype="float64")
    error = predicted - actual
    total_actual = float(actual.sum())
    return {
        "customers": int(len(actual)),
        "actual_total": total_actual,
        "predicted_total": float(predicted.sum()),
        "total_error_pct": float(100 * (predicted.sum() - total_actual) / total_actual) if total_actual else float("nan"),
        "mae": float(np.abs(error).mean()),
        "rmse": float(np.sqrt((error**2).mean())),
        "correlation": float(np.corrcoef(actual, predicted)[0, 1]) if actual.std() and predicted.std() else float("nan"),
    }


def cumulative_repeat_transactions(
    model: la.FittedModel,
    transactions: pd.DataFrame,
    calibration_end: object,
    observation_end: object,
    time_unit: str,
) -> pd.DataFrame:
    """Cumulative repeat purchase days of the calibration cohort, actual vs model, per time unit.

    Step k covers the first k time units after the cohort's first purchase day; ``date`` is
    the last day it covers, and the last step ends on ``observation_end`` (CDNOW 1997-01-01 to
    1998-06-30 is 78 full weeks: 78 steps, the last dated 1998-06-30).

    The cohort is every customer whose first purchase is on or before ``calibration_end``;
    the model's curve sums, over that cohort, each customer's unconditional expected
    repeat purchases by their age at each step (Fader, Hardie & Lee 2005, figure 2).
    """
    unit_days = DAYS_PER_UNIT[normalise_time_unit(time_unit)]
    cal_end = _to_day(calibration_end, "calibration_end")
    obs_end = _to_day(observation_end, "observation_end")
    # One pass over the customer-days (integer customer codes): linear in the data.
    first_purchase, repeat_days = first_and_repeat_days(transactions, cal_end, obs_end)
    start = first_purchase.min()
    # Step k covers the days start .. start + k units - 1 (inclusive); the last step ends on the
    # observation end, so a period of 78 full weeks has 78 steps and a partial last week counts.
    span_days = (obs_end - start) / np.timedelta64(1, "D") + 1
    n_steps = max(int(np.ceil(span_days / unit_days - 1e-9)), 1)
    boundary = start + np.round(np.arange(1, n_steps + 1) * unit_days).astype("timedelta64[D]")
    boundary = np.minimum(boundary, obs_end + np.timedelta64(1, "D"))  # exclusive end of each step
    step_end = boundary - np.timedelta64(1, "D")  # last day each step covers

    actual = np.searchsorted(repeat_days, boundary, side="left")

    first_days, n_customers = np.unique(first_purchase, return_counts=True)
    # age (in time units) of each first-day group at the end of each step's last day, floored at 0
    ages = np.maximum((boundary[None, :] - first_days[:, None]) / np.timedelta64(1, "D"), 0)
    ages = ages / unit_days
    unique_ages, inverse = np.unique(ages, return_inverse=True)
    expected = la.population_expected_purchases(model, unique_ages)[inverse].reshape(ages.shape)
    predicted = (expected * n_customers[:, None]).sum(axis=0)
    return pd.DataFrame(
        {
            "step": np.arange(1, n_steps + 1),
            "date": pd.to_datetime(step_end),
            "actual": actual.astype("float64"),
            "predicted": predicted,
            "in_calibration": step_end <= cal_end,
        }
    )


def compare_models(
    cal: pd.DataFrame, models: tuple[str, ...] = ("bgnbd", "pareto", "mbgnbd"), penalizer: float = 0.0,
    fitted_already: la.FittedModel | None = None, predicted_already: np.ndarray | None = None,
) -> pd.DataFrame:
    """Fit each purchase model on the same calibration data and score it on the holdout.

    A model that fails to fit gets a row with its error in ``note`` instead of stopping
    the study. ``fitted_already`` (a model fitted on ``cal`` with ``penalizer``) is used
    as it is instead of being fitted again, and ``predicted_already`` (its
    :func:`holdout_predictions` on ``cal``) instead of being predicted again.
    """
    rows = []
    cols, collapsed = _rfm_columns("_cal"), None
    for name in models:  # a handful of models
        row: dict = {"model": la.MODEL_LABELS.get(name, name), "key": name}
        try:
            if fitted_already is not None and fitted_already.name == name:
                fitted = fitted_already
            else:
                # Pareto/NBD starts from the BG/NBD estimates: those of the fit given, when it is one
                start = la.pareto_start(fitted_already) if name == "pareto" and fitted_already is not None else None
                collapsed = collapse_rfm(cal, cols) if collapsed is None else collapsed  # once for every model
                fitted = _fit_collapsed(collapsed, cols, name, penalizer, start)
        except HelperError as exc:
            row["note"] = str(exc)
            rows.append(row)
            continue
        reuse = predicted_already is not None and fitted is fitted_already
        predicted = predicted_already if reuse else holdout_predictions(fitted, cal)
        metrics = holdout_error_metrics(cal["frequency_holdout"].to_numpy(), predicted)
        row.update(
            {
                "log_likelihood": fitted.log_likelihood,
                "aic": fitted.aic,
                "bic": fitted.bic,
                "holdout_actual": metrics["actual_total"],
                "holdout_predicted": metrics["predicted_total"],
                "total_error_pct": metrics["total_error_pct"],
                "mae": metrics["mae"],
                "rmse": metrics["rmse"],
                "note": "",
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def value_concentration(clv: pd.Series | np.ndarray) -> pd.DataFrame:
    """Lorenz-style curve: share of total CLV held by the top x% of customers."""
    values = np.sort(la.float_array(clv))[::-1]
    share_customers = np.arange(1, len(values) + 1) / len(values)
    total = values.sum()
    share_value = np.cumsum(values) / total if total > 0 else np.zeros_like(values)
    return pd.DataFrame({"share_of_customers": share_customers, "share_of_value": share_value})


def share_of_value_in_top(clv: pd.Series | np.ndarray, top_fraction: float) -> float:
    """Fraction of total CLV held by the top ``top_fraction`` of customers."""
    curve = value_concentration(clv)
    idx = max(int(np.ceil(top_fraction * len(curve))) - 1, 0)
    return float(curve["share_of_value"].iloc[idx])
