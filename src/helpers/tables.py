"""Reader-facing tables: renamed columns, rounded numbers, pseudonymised ids."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from .columns import CUSTOMER_ID
from .narrative import LAPSED_P_ALIVE
from .privacy import display_ids

#: Rows shown in the "customers to act on" tables.
TOP_ROWS = 15


def styled(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> Styler:
    """A table without its index, numbers formatted for reading."""
    # class "dataframe" gives Styler tables the page's table style (numbers right, no wrapping)
    styler = frame.style.format(formats or {}, na_rep="–").hide(axis="index")
    return styler.set_table_attributes('class="dataframe"')


def _customer_view(
    table: pd.DataFrame, allow_raw_ids: bool, id_key: str | None, currency: str, unit: str
) -> pd.DataFrame:
    view = table.reset_index()
    view[CUSTOMER_ID] = display_ids(view[CUSTOMER_ID], allow_raw_ids=allow_raw_ids, key=id_key).to_numpy()
    return view.rename(
        columns={
            CUSTOMER_ID: "Customer",
            "frequency": "Repeat purchases",
            "recency": f"Age at last purchase ({unit})",
            "T": f"Age ({unit})",
            "monetary_value": f"Avg repeat spend ({currency})",
            "p_alive": "P(alive)",
            "expected_purchases": "Expected purchases",  # in the study horizon
            "expected_spend": f"Expected spend/purchase ({currency})",
            "clv": f"CLV margin ({currency})",
        }
    )


def _customer_formats(currency: str, unit: str) -> dict[str, str]:
    return {
        "Repeat purchases": "{:.0f}",
        f"Age at last purchase ({unit})": "{:.1f}",
        f"Age ({unit})": "{:.1f}",
        f"Avg repeat spend ({currency})": "{:,.2f}",
        "P(alive)": "{:.0%}",
        "Expected purchases": "{:.2f}",
        f"Expected spend/purchase ({currency})": "{:,.2f}",
        f"CLV margin ({currency})": "{:,.2f}",
    }


def _customer_columns(unit: str) -> list[str]:
    return ["Customer", "Repeat purchases", f"Age at last purchase ({unit})", f"Age ({unit})", "P(alive)",
            "Expected purchases"]


def top_customers(
    table: pd.DataFrame,
    *,
    n: int = TOP_ROWS,
    allow_raw_ids: bool = False,
    id_key: str | None = None,
    currency: str = "$",
    unit: str = "weeks",
) -> Styler:
    """The customers with the highest predicted CLV."""
    view = _customer_view(table.head(n), allow_raw_ids, id_key, currency, unit)
    cols = _customer_columns(unit) + [f"Expected spend/purchase ({currency})", f"CLV margin ({currency})"]
    return styled(view[cols], _customer_formats(currency, unit))


def at_risk_customers(
    table: pd.DataFrame,
    *,
    n: int = TOP_ROWS,
    allow_raw_ids: bool = False,
    id_key: str | None = None,
    currency: str = "$",
    unit: str = "weeks",
) -> Styler:
    """Valuable past customers who are probably lapsing: highest past repeat spend, P(alive) < threshold."""
    risky = table[table["p_alive"] < LAPSED_P_ALIVE].copy()
    risky["past_value"] = risky["frequency"] * risky["monetary_value"]
    risky = risky.sort_values(["past_value", "p_alive"], ascending=[False, True], kind="stable").head(n)
    view = _customer_view(risky, allow_raw_ids, id_key, currency, unit)
    view = view.rename(columns={"past_value": f"Past repeat spend ({currency})"})
    cols = _customer_columns(unit) + [f"Past repeat spend ({currency})", f"CLV margin ({currency})"]
    formats = _customer_formats(currency, unit) | {f"Past repeat spend ({currency})": "{:,.2f}"}
    return styled(view[cols], formats)


def model_comparison(comparison: pd.DataFrame) -> Styler:
    """Model comparison for the page."""
    view = comparison.drop(columns=["key"]).rename(
        columns={
            "model": "Model",
            "log_likelihood": "Log-likelihood",
            "aic": "AIC",
            "bic": "BIC",
            "holdout_actual": "Holdout actual",
            "holdout_predicted": "Holdout predicted",
            "total_error_pct": "Total error %",
            "mae": "MAE",
            "rmse": "RMSE",
            "note": "Note",
        }
    )
    return styled(
        view,
        {
            "Log-likelihood": "{:,.1f}", "AIC": "{:,.1f}", "BIC": "{:,.1f}", "Holdout actual": "{:,.0f}",
            "Holdout predicted": "{:,.0f}", "Total error %": "{:+.1f}", "MAE": "{:.3f}", "RMSE": "{:.3f}",
        },
    )


def parameters(models: list) -> Styler:
    """Fitted parameters with standard errors for several models."""
    frames = []
    for model in models:
        table = model.params_table().reset_index()
        table.insert(0, "model", model.label)
        frames.append(table)
    view = pd.concat(frames, ignore_index=True).rename(
        columns={"model": "Model", "parameter": "Parameter", "estimate": "Estimate", "std_error": "Std. error",
                 "lower_95": "95% low", "upper_95": "95% high"}
    )
    return styled(view, {c: "{:.4g}" for c in ("Estimate", "Std. error", "95% low", "95% high")})


def period_fit(table: pd.DataFrame) -> Styler:
    view = table.rename(columns={"repeat_purchases": "Repeat purchases", "actual": "Actual customers",
                                 "model": "Model expects"})
    return styled(view, {"Model expects": "{:,.0f}", "Actual customers": "{:,.0f}"})


def conditional(table: pd.DataFrame) -> Styler:
    view = table.rename(columns={"calibration_purchases": "Calibration purchases", "customers": "Customers",
                                 "actual": "Actual holdout mean", "predicted": "Predicted holdout mean"})
    return styled(view, {"Customers": "{:,.0f}", "Actual holdout mean": "{:.2f}", "Predicted holdout mean": "{:.2f}"})


def data_quality(frame: pd.DataFrame) -> Styler:
    """The loader's data-quality report (reason, rows) with readable counts."""
    view = frame.rename(columns={"reason": "What", "rows": "Rows"})
    return styled(view, {"Rows": "{:,.0f}"})
