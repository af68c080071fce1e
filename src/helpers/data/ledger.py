"""Reading a loyalty points ledger: one row per points event (earned, redeemed, expired, tier change).

Same rules as :mod:`helpers.data.tables_io` (encodings, Excel/Parquet, English and Chinese
header aliases, one-line :class:`~helpers.errors.DataError` naming file, column, rows and
values). Canonical columns: ``customer_id``, ``timestamp``, ``event_type``, ``points``
(required); ``tier_from``, ``tier_to``, ``order_id`` (optional).

Event types: ``earn_*`` (any type starting with ``earn``: purchase, check-in, share, ...)
add points; ``redeem`` and ``expire`` remove them (the ledger writes them negative, a
positive value is read as the amount removed); ``tier_change`` moves a member from
``tier_from`` to ``tier_to`` and carries no points. Chinese event names (积分获取, 兑换,
过期, 等级变更, ...) are accepted.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import pandas as pd

from helpers.data import columns as C
from helpers.data import tables_io as T
from helpers.errors import DataError
from helpers.memo import shared

TIMESTAMP = "timestamp"
EVENT_TYPE = "event_type"
POINTS = "points"
TIER_FROM = "tier_from"
TIER_TO = "tier_to"

#: Event kinds after reading: every earning type keeps its name (``earn_purchase``, ...).
REDEEM, EXPIRE, TIER_CHANGE = "redeem", "expire", "tier_change"

EVENT_ALIASES: dict[str, str] = {
    "redeem": REDEEM, "redemption": REDEEM, "burn": REDEEM, "兑换": REDEEM, "积分兑换": REDEEM, "抵扣": REDEEM,
    "积分抵扣": REDEEM, "使用": REDEEM,
    "expire": EXPIRE, "expiry": EXPIRE, "expired": EXPIRE, "过期": EXPIRE, "积分过期": EXPIRE, "失效": EXPIRE,
    "tier_change": TIER_CHANGE, "tier change": TIER_CHANGE, "等级变更": TIER_CHANGE, "等级变化": TIER_CHANGE,
    "升降级": TIER_CHANGE,
    "earn": "earn", "积分获取": "earn", "获取": "earn", "获得": "earn", "消费积分": "earn_purchase",
}

LEDGER = T.TableSchema(
    name="loyalty ledger",
    parameter="ledger_path",
    map_parameter="ledger_column_map",
    required=(C.CUSTOMER_ID, TIMESTAMP, EVENT_TYPE, POINTS),
    optional=(TIER_FROM, TIER_TO, C.ORDER_ID),
    aliases={
        C.CUSTOMER_ID: C.ALIASES[C.CUSTOMER_ID],
        TIMESTAMP: ("timestamp", "event_time", "event_date", "date", "time", "created_at",
                    "时间", "日期", "发生时间", "变动时间", "积分时间", "交易时间"),
        EVENT_TYPE: ("event_type", "event", "type", "transaction_type", "action",
                     "事件类型", "类型", "变动类型", "积分类型", "业务类型"),
        POINTS: ("points", "point", "points_change", "amount_points", "积分", "积分变动", "变动积分", "积分数"),
        TIER_FROM: ("tier_from", "from_tier", "old_tier", "原等级", "变更前等级"),
        TIER_TO: ("tier_to", "to_tier", "new_tier", "新等级", "变更后等级"),
        C.ORDER_ID: C.ALIASES[C.ORDER_ID],
    },
    dates=(TIMESTAMP,),
    numbers=(POINTS,),
    example="data/newretail/loyalty_events.csv",
)


def read_ledger(
    path: str | os.PathLike[str],
    column_map: Mapping[str, str] | None = None,
    *,
    encoding: str | None = None,
    sheet: str | int | None = None,
    date_format: str | None = None,
    observation_end=None,
) -> T.TableLoad:
    """Read a points-ledger file (see the module docstring); events after ``observation_end`` are dropped and counted."""
    return T._read_validated(path, LEDGER, lambda frame, source: ledger_from_frame(
        frame, column_map, source=source, date_format=date_format, observation_end=observation_end,
    ), encoding=encoding, sheet=sheet)


def ledger_from_frame(
    df: pd.DataFrame,
    column_map: Mapping[str, str] | None = None,
    *,
    source: str = "<DataFrame>",
    date_format: str | None = None,
    observation_end=None,
) -> T.TableLoad:
    """Validate a points ledger in memory (see :func:`read_ledger`)."""
    cutoff = T._observation_cutoff(observation_end)
    raw, mapping, dropped, ignored = T._prepare(df, column_map, LEDGER, source)
    out = pd.DataFrame(index=raw.index)
    out[C.CUSTOMER_ID] = T._ids(raw, mapping, source)
    out[TIMESTAMP] = T.parse_dates(raw[TIMESTAMP], file=source, column=mapping[TIMESTAMP], date_format=date_format)
    kind = T._as_text(raw[EVENT_TYPE])
    lowered = kind.str.lower()
    mapped = lowered.map(EVENT_ALIASES)
    known = lowered.str.startswith("earn", na=False) | mapped.notna()
    if not known.all():
        raise T._fail(
            "event types are not recognised", source, mapping[EVENT_TYPE], ~known, kind.fillna(""),
            "Use earn_<what> (or 积分获取), redeem (兑换), expire (过期) or tier_change (等级变更).",
        )
    out[EVENT_TYPE] = mapped.where(mapped.notna() & (mapped != "earn"), lowered)
    out.loc[out[EVENT_TYPE] == "earn", EVENT_TYPE] = "earn_other"
    points = T.parse_numbers(raw[POINTS], file=source, column=mapping[POINTS])
    missing = points.isna() & (out[EVENT_TYPE] != TIER_CHANGE)
    if missing.any():
        raise T._fail("points are missing", source, mapping[POINTS], missing, pd.Series("", index=raw.index),
                      "Every earning, redemption and expiry row needs its points.")
    points = points.fillna(0.0)
    removing = out[EVENT_TYPE].isin([REDEEM, EXPIRE])
    # a ledger may write removals as positive amounts; earnings are signed as written (returns are negative)
    out[POINTS] = np.where(removing, -points.abs(), points)
    for col in (TIER_FROM, TIER_TO, C.ORDER_ID):
        if col in raw:
            out[col] = T._as_text(raw[col])
    change = out[EVENT_TYPE] == TIER_CHANGE
    if change.any() and TIER_TO not in out:
        raise DataError("the ledger has tier_change rows but no tier_to column", file=source,
                        hint="Add the new tier (tier_to, 变更后等级) or map it with the column map.")
    if change.any():
        no_tier = change & out[TIER_TO].isna()
        if no_tier.any():
            raise T._fail("tier changes lack the new tier", source, mapping[TIER_TO], no_tier,
                          pd.Series("", index=raw.index), "Every tier_change row needs tier_to.")
    return T._dated_rows(out, df, cutoff, late="after the observation end", rows="ledger events", source=source,
                         mapping=mapping, dropped=dropped, ignored=ignored, notes=[])


@shared
def load_ledger(path: str | None, column_map: Mapping[str, str] | None = None, *, notebook: str,
                encoding: str | None = None, observation_end: str | None = None) -> T.TableLoad:
    """The ledger a notebook needs: an empty ``path`` stops with a message naming ``ledger_path``."""
    source = T.locate(T.require_path(path, LEDGER, notebook=notebook))
    return read_ledger(source, column_map or None, encoding=encoding or None, observation_end=observation_end or None)
