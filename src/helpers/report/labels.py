"""Reader-facing names of the codes found in the data (channels, stages, severities...).

The analysis modules work with the codes as they appear in the files (``online_mall``,
``ordinary``); pages show them through :func:`label`, which looks the code up in the page
language's catalog (``helpers/locales/<language>/labels.yaml``). A code without an entry
is shown with ``_`` replaced by a space and its first letter capitalised, so a retailer's
own channel names (English or Chinese) still read well.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from helpers.report.i18n import DEFAULT_LANGUAGE, catalog, text

#: Catalog groups (``labels.<group>.<code>``) in lookup order; a code in two groups
#: takes the name from the later one.
GROUPS: tuple[str, ...] = (
    "channels", "contact_channels", "severities", "issue_types", "stages", "modes", "channel_groups", "tables",
    "other",
)


def _group(group: str, language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    prefix = f"labels.{group}."
    return {key[len(prefix):]: value for key, value in catalog(language).items() if key.startswith(prefix)}


#: Sales channels of the generated data (``transactions.channel``, ``customers.join_channel``).
CHANNELS: dict[str, str] = _group("channels")
#: Contact channels of service tickets (``service_tickets.channel``).
CONTACT_CHANNELS: dict[str, str] = _group("contact_channels")
SEVERITIES: dict[str, str] = _group("severities")
ISSUE_TYPES: dict[str, str] = _group("issue_types")
#: Lifecycle stages (see :mod:`helpers.studies.customer_base.analysis`).
STAGES: dict[str, str] = _group("stages")
#: Online / offline modes (see :mod:`helpers.studies.omnichannel.analysis`).
MODES: dict[str, str] = _group("modes")
#: Channel groups of the single- vs multi-channel comparison.
CHANNEL_GROUPS: dict[str, str] = _group("channel_groups")
#: Input tables, as named in data-quality tables and source lines.
TABLES: dict[str, str] = _group("tables")

#: Code -> catalog key of every known code (codes with spaces use ``_`` in the key).
_KEYS: dict[str, str] = {}
for _name in GROUPS:
    for _code in _group(_name):
        _KEYS[_code] = f"labels.{_name}.{_code}"
_KEYS["other issues"] = "labels.other.other_issues"  # the pooled issues of the trend figure

#: English names by code (as before the catalogs; kept for callers that read it).
_ALL: dict[str, str] = {code: text(key) for code, key in _KEYS.items()}


def label(code: object, language: str = DEFAULT_LANGUAGE) -> str:
    """The reader-facing name of one code in ``language``."""
    if code is None or (isinstance(code, float) and pd.isna(code)):
        return "–"
    name = str(code)
    if name in _KEYS:
        return text(_KEYS[name], language)
    pretty = name.replace("_", " ").strip()
    return pretty[:1].upper() + pretty[1:] if pretty else name


def labels(codes: Iterable[object], language: str = DEFAULT_LANGUAGE) -> list[str]:
    """:func:`label` for each code."""
    return [label(c, language) for c in codes]


def relabel_index(frame: pd.DataFrame, *, columns: bool = False, language: str = DEFAULT_LANGUAGE) -> pd.DataFrame:
    """A copy of ``frame`` with its index (and optionally its columns) shown as labels."""
    out = frame.copy()
    out.index = pd.Index(labels(out.index, language), name=out.index.name)
    if columns:
        out.columns = pd.Index(labels(out.columns, language), name=out.columns.name)
    return out
