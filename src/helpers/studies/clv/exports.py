"""Study outputs: headline metrics and the files a CLV study leaves behind.

Files are written atomically (to a temporary name, then renamed), so a failed run never
leaves a half-written CSV or JSON where a good one used to be. Customer ids in exports
are pseudonymised unless the study explicitly allows raw ids.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import __version__
from helpers.data.columns import CUSTOMER_ID
from helpers.data.privacy import display_ids
from helpers.files import write_text_atomic
from helpers.models import lifetimes_adapter as la
from helpers.models.activity import DEFAULT_RULE
from helpers.report.exports import write_csv_atomic
from helpers.studies.clv.analysis import ClvSettings, share_of_value_in_top
from helpers.studies.clv.narrative import lapsed_mask

CLV_CSV = "customer_clv.csv"
CLV_PARQUET = "customer_clv.parquet"
METRICS_JSON = "clv_metrics.json"

#: Columns of the per-customer export, in order (the id column comes first).
EXPORT_COLUMNS = [
    "frequency", "recency", "T", "monetary_value", "p_alive", "expected_purchases", "expected_spend", "clv_revenue", "clv",
    "clv_low", "clv_high", "last_purchase", "days_since_last", "lapsed",
]


def headline_metrics(
    *,
    settings: ClvSettings,
    table: pd.DataFrame,
    purchase_model: la.FittedModel,
    spend_model: la.FittedModel,
    holdout: dict,
    comparison: pd.DataFrame,
    independence: dict,
    data_quality: dict | None = None,
    data_source: str = "",
    calibration_model: la.FittedModel | None = None,
    data_start: str = "",
    uncertainty: Any = None,
    holdout_spend: dict | None = None,
) -> dict:
    """Everything a reader or another program needs from a CLV study, JSON-safe.

    Both fits are exported with the period of data each saw: ``calibration_model`` (first
    transaction to ``calibration_end``, the fit the holdout checks judge and the one to compare
    with published parameters) and ``purchase_model`` (refit to ``observation_end``, the one
    every prediction uses).
    """
    full_period = {"start": data_start, "end": str(settings.observation_end)}
    cal_period = {"start": data_start, "end": str(settings.calibration_end)}
    lapsed = lapsed_mask(table["p_alive"].to_numpy(), table["days_since_last"].to_numpy())
    metrics = {
        "package_version": __version__,
        "lifetimes_version": la.LIFETIMES_VERSION,
        "data_source": data_source,
        "settings": settings.to_dict(),
        "customers": int(len(table)),
        "repeat_buyers": int((table["frequency"] > 0).sum()),
        "horizon_months": settings.horizon_months,
        "gross_margin": settings.gross_margin,
        "annual_discount_rate": settings.annual_discount_rate,
        "model": settings.model,
        "model_label": purchase_model.label,
        "clv_total": float(table["clv"].sum()),
        "clv_revenue_total": float(table["clv_revenue"].sum()),
        "clv_mean": float(table["clv"].mean()),
        "clv_median": float(table["clv"].median()),
        "top10_share": share_of_value_in_top(table["clv"], 0.10),
        "top20_share": share_of_value_in_top(table["clv"], 0.20),
        "expected_purchases_total": float(table["expected_purchases"].sum()),
        "expected_spend_mean": float(table["expected_spend"].mean()),
        "lapsed_customers": int(lapsed.sum()),
        "lapsed_share": float(lapsed.mean()),
        "lapsed_rule": {"alive_threshold": DEFAULT_RULE.alive_threshold, "lapsed_days": DEFAULT_RULE.lapsed_days},
        "purchase_model": _model_dict(purchase_model, full_period),
        "calibration_model": _model_dict(calibration_model, cal_period) if calibration_model is not None else None,
        "spend_model": _model_dict(spend_model, full_period),
        "spend_independence": independence,
        "holdout": holdout,
        "model_comparison": comparison.to_dict(orient="records"),
        "data_quality": data_quality or {},
        "uncertainty": uncertainty.to_dict() if uncertainty is not None else None,
        "holdout_spend": holdout_spend,
    }
    return _json_safe(metrics)


def _model_dict(model: la.FittedModel, period: dict | None = None) -> dict:
    return {
        "name": model.name,
        "period": period or {},
        "label": model.label,
        "params": model.params,
        "standard_errors": model.standard_errors,
        "log_likelihood": model.log_likelihood,
        "aic": model.aic,
        "bic": model.bic,
        "customers": model.n_customers,
        "penalizer": model.penalizer,
    }


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return str(pd.Timestamp(value).date())
    return value


def export_table(table: pd.DataFrame, *, allow_raw_ids: bool = False, id_key: str | None = None) -> pd.DataFrame:
    """The per-customer table as exported: ids pseudonymised unless raw ids are allowed."""
    out = table[[c for c in EXPORT_COLUMNS if c in table.columns]].reset_index()
    # .array: the pseudonyms' own Arrow text, no Python string per id (to_numpy would make them)
    out[CUSTOMER_ID] = display_ids(out[CUSTOMER_ID], allow_raw_ids=allow_raw_ids, key=id_key).array
    return out


def write_outputs(
    output_dir: str | Path,
    table: pd.DataFrame,
    metrics: dict,
    *,
    allow_raw_ids: bool = False,
    id_key: str | None = None,
) -> dict[str, Path]:
    """Write the per-customer table as CSV (six significant digits, for spreadsheets) and
    as Parquet (full precision, typed, for programs), and the metrics JSON; return their
    paths. Both tables hold the same rows and the same (pseudonymised) ids."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, json_path, parquet_path = folder / CLV_CSV, folder / METRICS_JSON, folder / CLV_PARQUET
    exported = export_table(table, allow_raw_ids=allow_raw_ids, id_key=id_key)
    write_csv_atomic(csv_path, exported, float_format="%.6g")  # csv_text's bytes, without one string of them
    _write_parquet_atomic(parquet_path, exported)
    write_text_atomic(json_path, json.dumps(metrics, indent=2, ensure_ascii=False))
    return {"csv": csv_path, "json": json_path, "parquet": parquet_path}


def _write_parquet_atomic(path: Path, frame: pd.DataFrame) -> None:
    """Parquet via a temporary file in the same folder and ``os.replace`` (as
    :func:`helpers.files.write_text_atomic` does for text)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
