"""Errors meant to be read by a person, not a developer.

Every problem with a user's data or parameters is raised as a :class:`HelperError`
subclass whose message says what is wrong and where: the file, the column, the row
numbers (as a spreadsheet shows them: the header is row 1, the first data row is
row 2) and the offending values. The command line prints these messages without a
traceback; notebooks show them as the last output of the failing cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: How many offending rows and values a message lists before it says "and N more".
MAX_LISTED = 5


class HelperError(Exception):
    """Base class for errors whose message is written for the user."""


class ConfigError(HelperError):
    """A parameter, column map or config file is wrong."""


class DataError(HelperError):
    """An input file cannot be used as it is.

    Parameters
    ----------
    problem:
        What is wrong, in plain words ("dates cannot be read").
    file, column:
        Where. Either may be omitted when it does not apply.
    rows:
        Spreadsheet row numbers of offending rows (header = row 1).
    values:
        The offending values, parallel to ``rows``.
    hint:
        What the user can do about it.
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | None = None,
        column: str | None = None,
        rows: Sequence[int] | None = None,
        values: Sequence[Any] | None = None,
        hint: str | None = None,
    ) -> None:
        self.problem = problem
        self.file = file
        self.column = column
        self.rows = list(rows) if rows is not None else []
        self.values = list(values) if values is not None else []
        self.hint = hint
        super().__init__(self._compose())

    def _compose(self) -> str:
        where = []
        if self.file:
            where.append(str(self.file))
        if self.column:
            where.append(f"column '{self.column}'")
        text = (": ".join(where) + ": " if where else "") + self.problem
        if self.rows:
            text += f" ({len(self.rows)} row{'s' if len(self.rows) != 1 else ''}). " + _list_rows(
                self.rows, self.values
            )
        if self.hint:
            text += f" {self.hint}" if text.endswith(".") else f". {self.hint}"
        return text


def _list_rows(rows: Sequence[int], values: Sequence[Any]) -> str:
    shown = []
    for i, row in enumerate(rows[:MAX_LISTED]):
        if i < len(values):
            shown.append(f"row {row}: {values[i]!r}")
        else:
            shown.append(f"row {row}")
    more = len(rows) - MAX_LISTED
    tail = f", and {more} more" if more > 0 else ""
    return "First offending " + "; ".join(shown) + tail + "."
