"""Reader-facing text shared by the customer-base, omnichannel and service pages.

Every string a reader sees on those pages comes from a ``helpers`` function (this
module, :mod:`helpers.labels` and the ``*_narrative`` modules), never from the notebook,
so a translated page needs changes here only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
from pandas.io.formats.style import Styler

from .labels import label
from .tables import styled

HEADINGS: dict[str, str] = {
    "answer": "The answer",
    "actions": "What to do",
    "evidence": "The evidence",
    "method": "Method and assumptions",
    "data": "Data quality",
    "outputs": "Outputs",
    # customer base
    "cohorts": "Cohorts: do new customers come back?",
    "stages": "Lifecycle stages",
    "spend": "How spend is distributed",
    # omnichannel
    "mix": "Channel mix",
    "multi": "Single- vs multi-channel customers",
    "migration": "Where customers go after their first channel",
    "online_offline": "Store and online together",
    # service
    "promises": "Response and resolution against the promises",
    "breaches": "Where promises are broken: contact channel and severity",
    "issues": "What customers complain about",
    "after": "What happens after a ticket",
}


def heading(key: str, level: int = 2) -> str:
    """A Markdown heading from :data:`HEADINGS`."""
    return f"{'#' * level} {HEADINGS[key]}"


def data_quality_view(frame: pd.DataFrame) -> Styler:
    """The combined data-quality table (table, reason, rows) with readable headers."""
    view = frame.copy()
    if "table" in view:
        view["table"] = view["table"].map(label)
    view = view.rename(columns={"table": "Table", "reason": "What", "rows": "Rows"})
    return styled(view, {"Rows": "{:,.0f}"})


def sources_line(sources: Mapping[str, str | None]) -> str:
    """One Markdown line naming the file behind each table ("not provided" when absent)."""
    parts = [f"{label(name)}: `{path}`" if path else f"{label(name)}: not provided" for name, path in sources.items()]
    return "**Data.** " + "; ".join(parts) + "."


def outputs_line(paths: Mapping[str, Path]) -> str:
    """Where the study's files were written."""
    named = {"csv": "per-customer table", "tickets": "per-ticket table", "json": "metrics", "figures": "figures"}
    parts = [f"{named.get(k, k)} `{v}`" for k, v in paths.items()]
    return "Outputs written: " + ", ".join(parts) + ". Customer ids in them are pseudonymised unless `allow_raw_ids` is true."


def not_available(what: str, why: str) -> str:
    """A short note for a section that cannot be shown with the data given."""
    return f"*{what} is not shown: {why}.*"


def publish(values: Mapping[str, object]) -> None:
    """Publish headline numbers to the site index when the renderer supports it
    (:func:`helpers.render.publish_headline`); otherwise do nothing."""
    from . import render

    publisher = getattr(render, "publish_headline", None)
    if publisher is not None:
        publisher(dict(values))
