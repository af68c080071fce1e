"""Reading private-domain community tables, or generating them for generated data.

Four tables (canonical columns; English and Chinese headers accepted):

- ``community_members``: ``customer_id``, ``group_id``, ``group_type`` (welfare/福利群,
  interest/兴趣群, vip/VIP群), ``joined_at``, ``left_at`` (empty = still in the group).
- ``community_activity``: ``customer_id``, ``group_id``, ``month``, ``messages``,
  ``events_attended``: one row per member and month with any activity.
- ``wechat_contacts``: ``customer_id``, ``added_at``, ``wechat_consent`` (true/false, 是/否).
- ``referrals``: ``inviter_id``, ``invitee_id`` (empty when not converted), ``invited_at``, ``converted``.

:func:`load_community` reads them from a data folder when present; otherwise, for a dataset
made by :mod:`helpers.data.generator` (it needs ``truth_customers.csv`` and ``truth.json``), it
generates them from the core tables with :mod:`helpers.data.generator.community` (seeded) and
caches the files under ``build/cache/community``.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from helpers.data import columns as C
from helpers.data import tables_io as T
from helpers.errors import DataError
from helpers.memo import shared

GROUP_TYPE_ALIASES = {"welfare": "welfare", "福利群": "welfare", "福利": "welfare", "interest": "interest",
                      "兴趣群": "interest", "兴趣": "interest", "vip": "vip", "vip群": "vip", "会员群": "vip"}
TRUE_WORDS = {"true", "1", "yes", "y", "是", "已同意", "同意", "t"}
FALSE_WORDS = {"false", "0", "no", "n", "否", "未同意", "不同意", "f"}

_ID = C.ALIASES[C.CUSTOMER_ID]
SCHEMAS: dict[str, T.TableSchema] = {
    "community_members": T.TableSchema(
        name="community members", parameter="data_dir", map_parameter="",
        required=(C.CUSTOMER_ID, "group_id", "group_type", "joined_at"), optional=("left_at",),
        aliases={C.CUSTOMER_ID: _ID, "group_id": ("group_id", "group", "群ID", "群编号", "社群ID", "群名称"),
                 "group_type": ("group_type", "type", "群类型", "社群类型"),
                 "joined_at": ("joined_at", "join_date", "入群时间", "入群日期"),
                 "left_at": ("left_at", "leave_date", "退群时间", "退群日期")},
        dates=("joined_at", "left_at"), example="community_members.csv"),
    "community_activity": T.TableSchema(
        name="community activity", parameter="data_dir", map_parameter="",
        required=(C.CUSTOMER_ID, "group_id", "month"), optional=("messages", "events_attended"),
        aliases={C.CUSTOMER_ID: _ID, "group_id": ("group_id", "group", "群ID", "群编号", "社群ID", "群名称"),
                 "month": ("month", "月份", "统计月份"), "messages": ("messages", "发言数", "消息数", "发言次数"),
                 "events_attended": ("events_attended", "events", "参与活动数", "活动参与次数")},
        dates=("month",), numbers=("messages", "events_attended"), example="community_activity.csv"),
    "wechat_contacts": T.TableSchema(
        name="WeChat contacts", parameter="data_dir", map_parameter="",
        required=(C.CUSTOMER_ID, "added_at"), optional=("wechat_consent",),
        aliases={C.CUSTOMER_ID: _ID, "added_at": ("added_at", "add_date", "添加时间", "加好友时间"),
                 "wechat_consent": ("wechat_consent", "consent", "marketing_wechat", "微信营销授权", "是否授权")},
        dates=("added_at",), example="wechat_contacts.csv"),
    "referrals": T.TableSchema(
        name="referrals", parameter="data_dir", map_parameter="",
        required=("inviter_id", "invited_at", "converted"), optional=("invitee_id",),
        aliases={"inviter_id": ("inviter_id", "inviter", "邀请人", "邀请人ID"),
                 "invitee_id": ("invitee_id", "invitee", "被邀请人", "被邀请人ID"),
                 "invited_at": ("invited_at", "invite_date", "邀请时间", "邀请日期"),
                 "converted": ("converted", "success", "是否成功", "是否转化")},
        dates=("invited_at",), example="referrals.csv"),
}
TABLE_NAMES = tuple(SCHEMAS)


def _booleans(s: pd.Series, source: str, header: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s
    text = T._as_text(s).str.lower()
    bad = text.notna() & ~text.isin(TRUE_WORDS | FALSE_WORDS)
    if bad.any():
        raise T._fail("values are not true/false", source, header, bad, text, "Use true/false, 1/0 or 是/否.")
    return text.isin(TRUE_WORDS)


def table_from_frame(name: str, df: pd.DataFrame, *, source: str = "<DataFrame>") -> T.TableLoad:
    """Validate one community table (``name`` is one of :data:`TABLE_NAMES`)."""
    schema = SCHEMAS[name]
    raw, mapping, dropped, ignored = T._prepare(df, None, schema, source)
    out = pd.DataFrame(index=raw.index)
    for col in schema.canonical:
        if col not in raw:
            continue
        if col in schema.dates:
            out[col] = T.parse_dates(raw[col], file=source, column=mapping[col], required=col in schema.required)
        elif col in schema.numbers:
            out[col] = T.parse_numbers(raw[col], file=source, column=mapping[col]).fillna(0.0)
        elif col in ("converted", "wechat_consent"):
            out[col] = _booleans(raw[col], source, mapping[col])
        else:
            out[col] = T._as_text(raw[col])
    for col in schema.numbers:  # an activity row means activity: missing counts are 0
        if col not in out:
            out[col] = 0.0
    if "wechat_consent" in schema.canonical and "wechat_consent" not in out:
        out["wechat_consent"] = False  # consent unknown: not reachable for marketing
    if "left_at" in schema.canonical and "left_at" not in out:
        out["left_at"] = pd.NaT
    if C.CUSTOMER_ID in out and out[C.CUSTOMER_ID].isna().any():
        bad = out[C.CUSTOMER_ID].isna()
        raise T._fail("customer ids are missing", source, mapping[C.CUSTOMER_ID], bad, pd.Series("", index=raw.index),
                      "Every row needs the customer it belongs to.")
    if "group_type" in out:
        kind = out["group_type"].str.lower().map(GROUP_TYPE_ALIASES)
        bad = kind.isna()
        if bad.any():
            raise T._fail("group types are not recognised", source, mapping["group_type"], bad, out["group_type"].fillna(""),
                          "Use welfare (福利群), interest (兴趣群) or vip (VIP群).")
        out["group_type"] = kind
    if "converted" in out and "invitee_id" not in out:
        out["invitee_id"] = None
    dates = out[schema.dates[0]]
    report = T.DataQualityReport(rows_read=len(df), rows_kept=len(out), dropped=dropped,
                                 customers=int(out[out.columns[0]].nunique()), first_date=dates.min(), last_date=dates.max(),
                                 ignored_columns=ignored)
    return T.TableLoad(out.reset_index(drop=True), report, source, None, mapping, [])


def read_table(name: str, path: str | os.PathLike[str]) -> T.TableLoad:
    return T._read_validated(path, SCHEMAS[name], lambda frame, source: table_from_frame(name, frame, source=source))


@dataclass
class CommunityTables:
    tables: dict[str, T.TableLoad]
    generated: bool  # True: made from the core tables by the generator's community module
    folder: str
    truth: dict | None = None

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.tables[name].table


def _find(folder: Path, name: str) -> Path | None:
    for ext in (".csv", ".parquet", ".xlsx"):
        if (folder / f"{name}{ext}").exists():
            return folder / f"{name}{ext}"
    return None


@shared(by_name=("cache_dir",))
def load_community(data_dir: str, *, cache_dir: str = "build/cache/community", seed: int = 16) -> CommunityTables:
    """The community tables of ``data_dir``: read when all four are there, else generated (see the module docstring)."""
    folder = Path(T.locate(data_dir))
    found = {name: _find(folder, name) for name in TABLE_NAMES}
    if all(found.values()):
        return CommunityTables({n: read_table(n, p) for n, p in found.items()}, False, str(folder))
    if any(found.values()):
        missing = [n for n, p in found.items() if p is None]
        raise DataError(f"the community tables are incomplete: {', '.join(missing)} missing", file=str(folder),
                        hint="Provide all four tables (community_members, community_activity, wechat_contacts, referrals) or none.")
    core = {n: folder / f"{n}.csv" for n in ("customers", "transactions", "truth_customers")}
    if not all(p.exists() for p in core.values()) or not (folder / "truth.json").exists():
        raise DataError("no community tables found", file=str(folder),
                        hint="Put community_members, community_activity, wechat_contacts and referrals files in data_dir; "
                             "they can only be generated for data made by the generator (truth_customers.csv, truth.json).")
    key = hashlib.sha256(json.dumps([str(folder.resolve()), seed] + [(p.name, p.stat().st_size, p.stat().st_mtime_ns)
                                                                      for p in core.values()]).encode()).hexdigest()[:16]
    cache = Path(cache_dir) / key
    truth_file = cache / "community_truth.json"
    if not truth_file.exists():
        from helpers.data.generator.community import (
            CommunitySettings,
            simulate_community,
        )

        truth_all = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
        customers = pd.read_csv(core["customers"], parse_dates=["join_date"], dtype={"customer_id": str})
        tx = pd.read_csv(core["transactions"], parse_dates=["timestamp"], dtype={"customer_id": str})
        tx = tx[~tx["is_return"]] if "is_return" in tx else tx
        tc = pd.read_csv(core["truth_customers"], dtype={"customer_id": str})
        tables, truth = simulate_community(customers, tx, tc, truth_all["config"]["end"], CommunitySettings(seed=seed))
        # a folder of this process's own: the two language pages of a build may generate at the same time
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f"{cache.name}.tmp", dir=cache.parent))
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the finished folder is an ordinary one
        for name, frame in tables.items():
            frame.to_csv(tmp / f"{name}.csv", index=False, float_format="%.2f", lineterminator="\n", encoding="utf-8")
        (tmp / "community_truth.json").write_text(json.dumps(truth, indent=2, default=str), encoding="utf-8")
        try:
            os.replace(tmp, cache)
        except OSError:  # another run finished first: its tables are the same
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
    loaded = {n: read_table(n, cache / f"{n}.csv") for n in TABLE_NAMES}
    return CommunityTables(loaded, True, str(cache), json.loads(truth_file.read_text(encoding="utf-8")))
