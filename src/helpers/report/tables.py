"""Reader-facing tables shared by every page: :func:`styled` and the data-quality table.

Every table a page shows goes through :func:`styled`, which HTML-escapes every cell and
header (pandas' Styler does not by default: an id such as ``<img src=x onerror=...>``
would otherwise become a live element) and gives the table a deterministic id, so two
runs with the same data produce byte-identical HTML.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Sequence

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.i18n import text

#: Rows shown in the "customers to act on" tables.
TOP_ROWS = 15

# Tables made in this process, in order: two identical tables on one page get distinct ids,
# and a fresh kernel numbers them the same way on every run.
_TABLE_COUNTER = itertools.count(1)


def reset_table_ids() -> None:
    """Number tables from 1 again: a kernel that runs a second notebook
    (:class:`helpers.site.run.KernelSession`) gives it the ids a fresh kernel would."""
    global _TABLE_COUNTER
    _TABLE_COUNTER = itertools.count(1)


def table_uuid(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    """A short id for the Styler table of ``frame``: a hash of its content, its formats and
    its position among the tables made in this process (never random)."""
    digest = hashlib.sha256()
    digest.update(repr((list(map(str, frame.columns)), frame.shape, sorted((formats or {}).items()))).encode())
    digest.update(frame.head(200).to_csv().encode("utf-8", "surrogatepass"))
    digest.update(str(next(_TABLE_COUNTER)).encode())
    return digest.hexdigest()[:10]


def styled(frame: pd.DataFrame, formats: dict[str, str] | None = None) -> Styler:
    """A table without its index, numbers formatted for reading, every text cell and
    header HTML-escaped, with a deterministic table id (:func:`table_uuid`)."""
    formats = formats or {}
    styler = frame.style.format(na_rep="–", escape="html")  # every column, escaped
    if formats:
        styler = styler.format(formats, na_rep="–", escape="html")
    styler = styler.format_index(escape="html", axis=1).format_index(escape="html", axis=0).hide(axis="index")
    styler = styler.set_uuid(table_uuid(frame, formats))
    # class "dataframe" gives Styler tables the page's table style (numbers right, no wrapping)
    return styler.set_table_attributes('class="dataframe"')


def column_table(columns: Sequence[tuple[str, object, str | None]], header: Callable[[str], str]) -> Styler:
    """A :func:`styled` table from ``(key, values, number format or None)`` per column, in order;
    ``header(key)`` is the column's reader-facing header."""
    frame = pd.DataFrame({header(key): values for key, values, _ in columns})
    return styled(frame, {header(key): fmt for key, _, fmt in columns if fmt is not None})


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
