"""Reader-facing tables shared by every page: :func:`styled` and the data-quality table."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.i18n import text

#: Rows shown in the "customers to act on" tables.
TOP_ROWS = 15


def styled(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> Styler:
    """A table without its index, numbers formatted for reading."""
    # class "dataframe" gives Styler tables the page's table style (numbers right, no wrapping)
    styler = frame.style.format(formats or {}, na_rep="–").hide(axis="index")
    return styler.set_table_attributes('class="dataframe"')


def labelled_table(
    frame: pd.DataFrame, label_column: str, labeller, columns: list[str], headers: dict[str, str],
    formats: dict[str, str],
) -> Styler:
    """``frame``'s ``columns`` styled for a page: the codes of ``label_column`` shown through
    ``labeller`` (code -> words), columns renamed to ``headers``, numbers as ``formats`` (by column)."""
    view = frame.assign(**{label_column: frame[label_column].map(labeller)})[columns].rename(columns=headers)
    return styled(view, {headers[c]: f for c, f in formats.items()})


def data_quality(frame: pd.DataFrame, language: str = "en") -> Styler:
    """The loader's data-quality report (reason, rows) with readable counts."""
    headers = {"reason": text("clv.table.what", language), "rows": text("clv.table.rows", language)}
    return styled(frame.rename(columns=headers), {headers["rows"]: "{:,.0f}"})
