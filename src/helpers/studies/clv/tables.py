"""Reader-facing tables of the CLV page: translated headers, rounded numbers, pseudonymised ids."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.data.columns import CUSTOMER_ID
from helpers.data.privacy import display_ids
from helpers.report.i18n import text
from helpers.report.tables import TOP_ROWS, styled


def _headers(language: str, **values: str) -> dict[str, str]:
    """Column headers of the CLV tables in ``language``, by internal column name."""
    def t(key: str) -> str:
        return text(f"clv.table.{key}", language, **values)

    return {
        CUSTOMER_ID: t("customer"),
        "frequency": t("repeat_purchases"),
        "monetary_value": t("avg_repeat_spend"),
        "p_alive": t("p_alive"),
        "expected_purchases": t("expected_purchases"),  # in the study horizon
        "expected_spend": t("expected_spend"),
        "clv": t("clv"),
        "past_value": t("past_spend"),
        "recoverable": t("recoverable"),
        "last_purchase": t("last_purchase"),
        "days_since_last": t("days_since_last" if values.get("end") else "days_since_last_any"),
        "clv_low": t("clv_low"),
        "clv_high": t("clv_high"),
    }


_CUSTOMER_FORMATS = {
    "frequency": "{:.0f}", "monetary_value": "{:,.2f}", "p_alive": "{:.0%}",
    "expected_purchases": "{:.2f}", "expected_spend": "{:,.2f}", "clv": "{:,.2f}", "past_value": "{:,.2f}",
    "recoverable": "{:,.2f}", "last_purchase": "{:%Y-%m-%d}", "days_since_last": "{:,.0f}", "clv_low": "{:,.2f}",
    "clv_high": "{:,.2f}",
}


def _customer_table(
    table: pd.DataFrame, columns: list[str], *, allow_raw_ids: bool, id_key: str | None, currency: str,
    language: str,
) -> Styler:
    view = table.reset_index()
    view[CUSTOMER_ID] = display_ids(view[CUSTOMER_ID], allow_raw_ids=allow_raw_ids, key=id_key).to_numpy()
    headers = _headers(language, currency=currency, end=_observation_end(table))
    view = view[[CUSTOMER_ID, *columns]]
    formats = {headers[c]: _CUSTOMER_FORMATS[c] for c in columns}
    return styled(view.rename(columns=headers), formats)


def _observation_end(table: pd.DataFrame) -> str:
    """The day the days since the last purchase are counted to (the study's observation end:
    every row's last purchase plus its days since), for the column header."""
    if not {"last_purchase", "days_since_last"} <= set(table.columns) or table.empty:
        return ""
    ends = (pd.to_datetime(table["last_purchase"]) + pd.to_timedelta(table["days_since_last"], unit="D")).unique()
    return f"{ends[0]:%Y-%m-%d}" if len(ends) == 1 else ""


#: The customer tables say when each customer last bought (a date, and the days from it to the
#: observation end) rather than the model's recency and age in model time units.
_BASE_COLUMNS = ["frequency", "last_purchase", "days_since_last", "p_alive", "expected_purchases"]


def _customer_list(
    name: str, rows: Callable[[pd.DataFrame, int], pd.DataFrame], columns: Callable[[pd.DataFrame], list[str]], doc: str
) -> Callable[..., Styler]:
    """A public customer table: ``rows(table, n)`` picks the customers, ``columns(table)`` what is shown of them."""
    def table_of(
        table: pd.DataFrame,
        *,
        n: int = TOP_ROWS,
        allow_raw_ids: bool = False,
        id_key: str | None = None,
        currency: str = "$",
        language: str = "en",
    ) -> Styler:
        return _customer_table(
            rows(table, n), columns(table), allow_raw_ids=allow_raw_ids, id_key=id_key,
            currency=currency, language=language,
        )

    table_of.__name__ = table_of.__qualname__ = name
    table_of.__doc__ = doc
    return table_of


def _top_columns(table: pd.DataFrame) -> list[str]:
    extra = ["clv_low", "clv_high"] if {"clv_low", "clv_high"} <= set(table.columns) else []
    return [*_BASE_COLUMNS, "expected_spend", "clv", *extra]


top_customers = _customer_list(
    "top_customers", lambda table, n: table.head(n), _top_columns, "The customers with the highest predicted CLV."
)


def win_back_list(table: pd.DataFrame) -> pd.DataFrame:
    """Lapsed customers (the rule of :mod:`helpers.models.activity`) with something to win back,
    ranked by recoverable value = past repeat spend x P(alive): what they spent, weighted by the
    chance they are still reachable. A customer the model gives no chance (P(alive) 0) ranks
    last however much they spent, so the list never recommends spending on the certainly gone.
    """
    lapsed = table[table["lapsed"]].copy()
    lapsed["past_value"] = lapsed["frequency"] * lapsed["monetary_value"]
    lapsed["recoverable"] = lapsed["past_value"] * lapsed["p_alive"]
    lapsed = lapsed[lapsed["recoverable"] > 0]
    return lapsed.sort_values(["recoverable", "days_since_last"], ascending=[False, True], kind="stable")


_AT_RISK_COLUMNS = ["frequency", "last_purchase", "days_since_last", "p_alive", "past_value", "recoverable", "clv"]

at_risk_customers = _customer_list(
    "at_risk_customers", lambda table, n: win_back_list(table).head(n), lambda table: _AT_RISK_COLUMNS,
    """The win-back list: lapsed customers ranked by recoverable value, with their last purchase
    date and the days since (see :func:`win_back_list`).""",
)


def model_comparison(comparison: pd.DataFrame, language: str = "en") -> Styler:
    """Model comparison for the page."""
    keys = {
        "model": "model", "log_likelihood": "log_likelihood", "aic": "aic", "bic": "bic",
        "holdout_actual": "holdout_actual", "holdout_predicted": "holdout_predicted",
        "total_error_pct": "total_error", "mae": "mae", "rmse": "rmse", "note": "note",
    }
    headers = {column: text(f"clv.table.{key}", language) for column, key in keys.items()}
    formats = {
        "log_likelihood": "{:,.1f}", "aic": "{:,.1f}", "bic": "{:,.1f}", "holdout_actual": "{:,.0f}",
        "holdout_predicted": "{:,.0f}", "total_error_pct": "{:+.1f}", "mae": "{:.3f}", "rmse": "{:.3f}",
    }
    view = comparison.drop(columns=["key"]).rename(columns=headers)
    return styled(view, {headers[c]: f for c, f in formats.items()})


def parameters(models: list, language: str = "en", periods: list | None = None) -> Styler:
    """Fitted parameters with standard errors and 95% intervals (log scale) for several models.

    ``periods`` gives, for each model, the (first, last) day of the data it was fitted on;
    the model column then names the period, so a calibration fit and a full-period refit of
    the same model are never shown under one label.
    """
    frames = []
    for i, model in enumerate(models):
        table = model.params_table().reset_index()
        label = model.label
        if periods is not None and periods[i] is not None:
            start, end = periods[i]
            label = text("clv.table.fit_period", language, model=model.label, start=start, end=end)
        table.insert(0, "model", label)
        frames.append(table)
    keys = {"model": "model", "parameter": "parameter", "estimate": "estimate", "std_error": "std_error",
            "lower_95": "low", "upper_95": "high"}
    headers = {column: text(f"clv.table.{key}", language) for column, key in keys.items()}
    view = pd.concat(frames, ignore_index=True).rename(columns=headers)
    return styled(view, {headers[c]: "{:.4g}" for c in ("estimate", "std_error", "lower_95", "upper_95")})


def period_fit(table: pd.DataFrame, language: str = "en") -> Styler:
    headers = {"repeat_purchases": text("clv.table.bucket_purchases", language),
               "actual": text("clv.table.actual_customers", language),
               "model": text("clv.table.model_expects", language)}
    return styled(table.rename(columns=headers), {headers["model"]: "{:,.0f}", headers["actual"]: "{:,.0f}"})


def holdout_spend(deciles: pd.DataFrame, currency: str = "$", language: str = "en") -> Styler:
    """Predicted vs actual holdout spend by decile of predicted spend."""
    keys = {"decile": "decile", "customers": "customers", "predicted": "spend_predicted",
            "actual": "spend_actual"}
    headers = {column: text(f"clv.table.{key}", language, currency=currency) for column, key in keys.items()}
    view = deciles[list(keys)].rename(columns=headers)
    formats = {headers["customers"]: "{:,.0f}", headers["predicted"]: "{:,.0f}", headers["actual"]: "{:,.0f}"}
    return styled(view, formats)


def conditional(table: pd.DataFrame, language: str = "en") -> Styler:
    keys = {"calibration_purchases": "calibration_purchases", "customers": "customers",
            "actual": "actual_mean", "predicted": "predicted_mean"}
    headers = {column: text(f"clv.table.{key}", language) for column, key in keys.items()}
    formats = {headers["customers"]: "{:,.0f}", headers["actual"]: "{:.2f}", headers["predicted"]: "{:.2f}"}
    return styled(table.rename(columns=headers), formats)
