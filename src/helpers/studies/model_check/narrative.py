"""Plain-language text of the model-check page."""

from __future__ import annotations

from helpers.report.i18n import text
from helpers.studies.model_check.analysis import (
    MODEL_NAMES,
    ModelCheck,
    parameter_label,
)


def headline(check: ModelCheck, language: str = "en") -> str:
    key = "model_check.headline.all" if check.all_within_rounding else "model_check.headline.some"
    return text(
        key, language, rows=check.rows_within_rounding, total=len(check.table),
        customers=f"{check.customers:,}", repeat=f"{check.repeat_buyers:,}",
        first=check.first_day, calibration_end=check.calibration_end,
    )


def figure_reading(check: ModelCheck, language: str = "en") -> str:
    worst = check.table.loc[check.table["in_last_digits"].abs().idxmax()]
    return text(
        "model_check.figure.reading", language,
        worst=f"{abs(float(worst['in_last_digits'])):.2f}",
        model=MODEL_NAMES[worst["model"]],
        parameter=parameter_label(worst["parameter"], language),
    )


def headline_numbers(check: ModelCheck, language: str = "en") -> dict:
    """Numbers for the site index: the BG/NBD log-likelihood next to the paper's, and how
    many of the published numbers we reproduce."""
    row = check.table.set_index(["model", "parameter"]).loc[("bgnbd", "log_likelihood")]
    return {
        text("model_check.headline_items.bgnbd_ll", language): f"{row['ours']:,.1f} / {row['published']:,.1f}",
        text("model_check.headline_items.agree", language): f"{check.rows_within_rounding} / {len(check.table)}",
    }


def sources(language: str = "en") -> str:
    return text("model_check.sources_text", language)
