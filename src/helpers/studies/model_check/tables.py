"""The comparison table of the model-check page."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.i18n import text
from helpers.report.tables import styled
from helpers.studies.model_check.analysis import (
    MODEL_NAMES,
    ModelCheck,
    parameter_label,
)


def comparison(check: ModelCheck, language: str = "en") -> Styler:
    """Model, parameter, published value, ours, difference and whether they agree."""
    t = check.table
    h = {k: text(f"model_check.table.{k}", language) for k in ("model", "parameter", "published", "ours", "difference", "agrees", "source")}
    frame = pd.DataFrame(
        {
            h["model"]: [MODEL_NAMES[m] for m in t["model"]],
            h["parameter"]: [parameter_label(p, language) for p in t["parameter"]],
            h["published"]: [f"{v:,.{d}f}" for v, d in zip(t["published"], t["decimals"])],
            h["ours"]: [f"{v:,.{d + 2}f}" for v, d in zip(t["ours"], t["decimals"])],
            h["difference"]: [f"{v:+.{d + 2}f}" for v, d in zip(t["difference"], t["decimals"])],
            h["agrees"]: [text("model_check.table.yes" if ok else "model_check.table.no", language) for ok in t["within_rounding"]],
            h["source"]: [text(f"model_check.sources.{s}", language) for s in t["source"]],
        }
    )
    return styled(frame)
