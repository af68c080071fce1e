"""Files the customer-base, omnichannel and service studies leave behind.

A per-row CSV (customer ids pseudonymised with :func:`helpers.data.privacy.display_ids`
unless raw ids are allowed) and a JSON of headline metrics, both written atomically.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from helpers import __version__
from helpers.data.columns import CUSTOMER_ID
from helpers.data.privacy import display_ids
from helpers.files import write_text_atomic


def json_safe(value: Any) -> Any:
    """Plain JSON types: numpy numbers to Python, NaN/inf to None, dates and periods to ISO text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, (pd.Timestamp, np.datetime64)):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if isinstance(value, pd.Period):
        return str(value)
    if value is pd.NaT or value is pd.NA:
        return None
    return value


def export_frame(frame: pd.DataFrame, *, allow_raw_ids: bool = False, id_key: str | None = None) -> pd.DataFrame:
    """``frame`` with its index reset and ``customer_id`` pseudonymised unless raw ids are allowed."""
    out = frame.reset_index() if frame.index.name == CUSTOMER_ID else frame.copy()
    if CUSTOMER_ID in out:
        out[CUSTOMER_ID] = display_ids(out[CUSTOMER_ID], allow_raw_ids=allow_raw_ids, key=id_key).to_numpy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.PeriodDtype):
            out[col] = out[col].astype(str)
    return out


def write_study_outputs(
    output_dir: str | Path,
    *,
    table: pd.DataFrame,
    table_name: str,
    metrics: dict,
    metrics_name: str,
    allow_raw_ids: bool = False,
    id_key: str | None = None,
) -> dict[str, Path]:
    """Write ``table`` as ``<table_name>`` (CSV) and ``metrics`` as ``<metrics_name>`` (JSON)."""
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = folder / table_name, folder / metrics_name
    exported = export_frame(table, allow_raw_ids=allow_raw_ids, id_key=id_key)
    write_text_atomic(csv_path, exported.to_csv(index=False, float_format="%.6g"))
    payload = {"package_version": __version__} | json_safe(metrics)
    write_text_atomic(json_path, json.dumps(payload, indent=2, ensure_ascii=False))
    return {"csv": csv_path, "json": json_path}
