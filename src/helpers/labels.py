"""Reader-facing names of the codes found in the data (channels, stages, severities...).

The analysis modules work with the codes as they appear in the files (``online_mall``,
``ordinary``); pages show them through :func:`label`, so a translated page only needs
other dictionaries here. A code without an entry is shown with ``_`` replaced by a
space and its first letter capitalised, so a retailer's own channel names still read
well.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

#: Sales channels of the generated data (``transactions.channel``, ``customers.join_channel``).
CHANNELS: dict[str, str] = {
    "store": "Store",
    "online_mall": "Online mall",
    "mini_program": "Mini-program",
    "app": "App",
    "marketplace": "Marketplace",
}

#: Contact channels of service tickets (``service_tickets.channel``).
CONTACT_CHANNELS: dict[str, str] = {
    "store_desk": "Store desk",
    "hotline": "Hotline",
    "web_chat": "Web chat",
    "wechat": "WeChat",
    "app_chat": "App chat",
    "marketplace_chat": "Marketplace chat",
}

SEVERITIES: dict[str, str] = {
    "ordinary": "Ordinary",
    "complex": "Complex",
    "major": "Major",
}

ISSUE_TYPES: dict[str, str] = {
    "damaged_parcel": "Damaged parcel",
    "late_delivery": "Late delivery",
    "wrong_item": "Wrong item",
    "refund": "Refund",
    "product_quality": "Product quality",
    "membership_points": "Membership points",
    "other": "Other",
}

#: Lifecycle stages (see :mod:`helpers.customer_base`).
STAGES: dict[str, str] = {
    "prospect": "Prospect",
    "new": "New",
    "active": "Active",
    "loyal": "Loyal",
    "lapsing": "Lapsing",
    "churned": "Churned",
}

#: Online / offline modes (see :mod:`helpers.omnichannel`).
MODES: dict[str, str] = {
    "offline": "Offline (store)",
    "online": "Online",
}

#: Channel groups of the single- vs multi-channel comparison.
CHANNEL_GROUPS: dict[str, str] = {
    "single": "Single-channel",
    "multi": "Multi-channel",
}

#: Input tables, as named in data-quality tables and source lines.
TABLES: dict[str, str] = {
    "transactions": "Transactions",
    "customers": "Customers (members)",
    "service_tickets": "Service tickets",
    "checks": "Cross-table checks",
}

_ALL: dict[str, str] = {}
for _table in (CHANNELS, CONTACT_CHANNELS, SEVERITIES, ISSUE_TYPES, STAGES, MODES, CHANNEL_GROUPS, TABLES):
    _ALL.update(_table)


def label(code: object) -> str:
    """The reader-facing name of one code."""
    if code is None or (isinstance(code, float) and pd.isna(code)):
        return "–"
    text = str(code)
    if text in _ALL:
        return _ALL[text]
    pretty = text.replace("_", " ").strip()
    return pretty[:1].upper() + pretty[1:] if pretty else text


def labels(codes: Iterable[object]) -> list[str]:
    """:func:`label` for each code."""
    return [label(c) for c in codes]


def relabel_index(frame: pd.DataFrame, *, columns: bool = False) -> pd.DataFrame:
    """A copy of ``frame`` with its index (and optionally its columns) shown as labels."""
    out = frame.copy()
    out.index = pd.Index(labels(out.index), name=out.index.name)
    if columns:
        out.columns = pd.Index(labels(out.columns), name=out.columns.name)
    return out
