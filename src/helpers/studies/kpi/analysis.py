"""The numbers of the KPI page. Every KPI is computed per calendar month; definitions:

- ``new_members``: members whose join date falls in the month (customers table; without one,
  the first purchase day).
- ``active_members``: distinct customers with at least one purchase in the month.
- ``repeat_rate`` (复购率): among customers with a purchase in the ``repeat_window_days`` (90)
  days ending on the month's last day, the share who bought on at least two different days
  in that window. Purchase days, not order rows, so one basket split into two orders is one
  purchase.
- ``order_value`` (客单价): revenue / orders in the month (orders = distinct order ids, else
  customer-days).
- ``frequency``: orders per active member in the month.
- ``churn_rate``: customers active at the end of the previous month (a purchase in the
  ``active_window_days`` (90) days up to it) who are no longer active at the end of this month,
  as a share of the former.
- ``retention_m{k}``: share of a join-month cohort that buys in the k-th month after joining.
- ``satisfaction``: share of the month's scored service tickets with a score of 4 or 5 (CSAT,
  percent of a 1-5 scale), on the tickets opened in the month.

Drivers: revenue = customers x orders per customer x order value. The change between two
periods is split into the three with the logarithmic mean Divisia index (LMDI), whose
contributions add up exactly to the change in revenue:
``contribution_X = (R1 - R0) x ln(X1 / X0) / ln(R1 / R0)``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BeforeValidator, Field

from helpers.errors import ConfigModel, validate_config
from helpers.memo import shared
from helpers.report.i18n import Text

KPIS: tuple[str, ...] = (
    "new_members", "active_members", "repeat_rate", "order_value", "frequency", "churn_rate", "satisfaction",
)
#: Whether a higher value is better, per KPI (targets are minimums, or maximums for churn).
HIGHER_IS_BETTER: dict[str, bool] = {k: k != "churn_rate" for k in KPIS}
LIGHTS = ("green", "amber", "red", "none")


def _month_number(ts: pd.Series) -> pd.Series:
    """Months since year 0, vectorised (a Period difference would build one object per row)."""
    return ts.dt.year * 12 + ts.dt.month


def purchase_days(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and purchase day, with the day's revenue and number of orders."""
    tx = transactions.assign(day=transactions["timestamp"].dt.normalize())
    if "order_id" in tx and tx["order_id"].notna().all():
        orders = tx.groupby(["customer_id", "day"])["order_id"].nunique()
    else:
        orders = tx.groupby(["customer_id", "day"]).size().clip(upper=1)
    out = tx.groupby(["customer_id", "day"])["amount"].sum().to_frame("revenue")
    out["orders"] = orders
    return out.reset_index()


def _active_sets(days: pd.DataFrame, month_ends: pd.DatetimeIndex, window: int) -> np.ndarray:
    """Boolean (customer x month): a purchase in the ``window`` days ending on each month end."""
    codes, ids = pd.factorize(days["customer_id"])
    counts = np.zeros((len(ids), len(month_ends)), dtype=np.int64)
    day = days["day"].to_numpy()
    for j, end in enumerate(month_ends):  # one pass per month
        inside = (day <= end.to_datetime64()) & (day > (end - pd.Timedelta(days=window)).to_datetime64())
        np.add.at(counts[:, j], codes[inside], 1)
    out = counts > 0
    return out, counts


def monthly_kpis(transactions: pd.DataFrame, customers: pd.DataFrame | None = None,
                 tickets: pd.DataFrame | None = None, *, repeat_window_days: int = 90,
                 active_window_days: int = 90, start=None, end=None) -> pd.DataFrame:
    """One row per month with every KPI of :data:`KPIS` plus revenue, orders and buyers."""
    days = purchase_days(transactions)
    first, last = days["day"].min(), days["day"].max()
    start = pd.Timestamp(start) if start else first
    end = pd.Timestamp(end) if end else last
    months = pd.period_range(start, end, freq="M")
    month_ends = pd.DatetimeIndex([m.end_time.normalize() for m in months])
    mo = days["day"].dt.to_period("M")
    in_range = (days["day"] >= months[0].start_time) & (days["day"] <= month_ends[-1])
    g = days[in_range].groupby(mo[in_range])
    out = pd.DataFrame(index=months)
    out.index.name = "month"
    out["revenue"] = g["revenue"].sum()
    out["orders"] = g["orders"].sum()
    out["active_members"] = g["customer_id"].nunique()
    out = out.fillna(0.0)
    out["order_value"] = out["revenue"] / out["orders"].where(out["orders"] > 0)
    out["frequency"] = out["orders"] / out["active_members"].where(out["active_members"] > 0)
    if customers is not None and "join_date" in customers and customers["join_date"].notna().any():
        join = customers["join_date"].dropna()
    else:
        join = days.groupby("customer_id")["day"].min()
    out["new_members"] = join.dt.to_period("M").value_counts().reindex(months, fill_value=0).astype(float)
    _, rep_counts = _active_sets(days, month_ends, repeat_window_days)
    buyers = (rep_counts > 0).sum(axis=0)
    repeaters = (rep_counts >= 2).sum(axis=0)
    out["repeat_rate"] = np.where(buyers > 0, repeaters / np.maximum(buyers, 1), np.nan)
    prev_ends = pd.DatetimeIndex([(m - 1).end_time.normalize() for m in months])
    both_ends = prev_ends.append(month_ends[-1:])
    active, _ = _active_sets(days, both_ends, active_window_days)
    before, after = active[:, :-1], active[:, 1:]
    base = before.sum(axis=0)
    lost = (before & ~after).sum(axis=0)
    out["churn_rate"] = np.where(base > 0, lost / np.maximum(base, 1), np.nan)
    out["satisfaction"] = np.nan
    out["satisfaction_tickets"] = 0
    if tickets is not None and "satisfaction" in tickets and tickets["satisfaction"].notna().any():
        scored = tickets[tickets["satisfaction"].notna()]
        sm = scored["opened_at"].dt.to_period("M")
        out["satisfaction"] = (scored["satisfaction"] >= 4).groupby(sm).mean().reindex(months)
        out["satisfaction_tickets"] = scored.groupby(sm).size().reindex(months, fill_value=0)
    out["customers_base"] = base
    return out


def cohort_retention(transactions: pd.DataFrame, customers: pd.DataFrame | None = None,
                     offsets: tuple[int, ...] = (1, 3, 6, 12), end=None) -> pd.DataFrame:
    """Per join-month cohort: size and the share buying in the k-th month after the join month
    (blank where that month is after the end)."""
    days = purchase_days(transactions)
    if customers is not None and "join_date" in customers:
        join = customers.set_index("customer_id")["join_date"]
    else:
        join = days.groupby("customer_id")["day"].min()
    join = join.dropna()
    end_month = pd.Timestamp(end).to_period("M") if end is not None else days["day"].max().to_period("M")
    jm = join.dt.to_period("M")
    buy = days.assign(jm=days["customer_id"].map(jm)).dropna(subset=["jm"])
    buy["k"] = _month_number(buy["day"]) - (buy["jm"].dt.year * 12 + buy["jm"].dt.month).astype(int)
    pairs = buy[["customer_id", "jm", "k"]].drop_duplicates()
    sizes = jm.value_counts().sort_index()
    out = pd.DataFrame({"members": sizes})
    out.index.name = "cohort"
    for k in offsets:  # a few offsets
        hit = pairs[pairs["k"] == k].groupby("jm")["customer_id"].nunique().reindex(sizes.index, fill_value=0)
        observable = (sizes.index + k) <= end_month
        out[f"retention_m{k}"] = np.where(observable, hit / sizes, np.nan)
    return out


@dataclass(frozen=True)
class Target:
    kpi: str
    value: float
    source: object = ""  # where the number comes from (a case, a plan): text or {en: ..., zh-CN: ...}

    def source_in(self, language: str = "en") -> str:
        if isinstance(self.source, Mapping):
            return str(self.source.get(language) or self.source.get("en") or "")
        return str(self.source or "")


def _shorthand(value: Any) -> Any:
    """``repeat_rate: 0.3`` is ``repeat_rate: {value: 0.3}``; a bad number is named as written."""
    if isinstance(value, dict):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("expected a number >= 0, or {value: number, source: text}")
    if value < 0:
        raise ValueError("expected a number >= 0")
    return {"value": value}


class TargetEntry(ConfigModel):
    """One KPI's target and where the number comes from."""

    value: Annotated[float, Field(ge=0, allow_inf_nan=False)]  #: the target (a minimum; a maximum for churn_rate)
    source: Text | None = None  #: where the number comes from (a case, a plan)


#: A target: a number, or ``{value: number, source: text}``.
TargetSpec = Annotated[
    TargetEntry,
    BeforeValidator(_shorthand, json_schema_input_type=Annotated[float, Field(ge=0)] | TargetEntry),
]


class TargetsFile(ConfigModel):
    """The KPI page's ``targets`` parameter: a target per KPI (any subset of :data:`KPIS`)."""

    new_members: TargetSpec | None = None
    active_members: TargetSpec | None = None
    repeat_rate: TargetSpec | None = None
    order_value: TargetSpec | None = None
    frequency: TargetSpec | None = None
    churn_rate: TargetSpec | None = None
    satisfaction: TargetSpec | None = None


assert tuple(TargetsFile.model_fields) == KPIS


def parse_targets(targets: Mapping | None, where: str = "targets") -> dict[str, Target]:
    """``{kpi: number}`` or ``{kpi: {value: number, source: text}}`` (:class:`TargetsFile`);
    a bad value is one :class:`ConfigError` line ``parameters: targets.kpi = value: what is wrong``."""
    if not targets:
        return {}
    raw = dict(targets) if isinstance(targets, Mapping) else targets
    model = validate_config(TargetsFile, raw, "parameters", prefix=where)
    out: dict[str, Target] = {}
    for kpi in raw:  # the order given
        entry = getattr(model, kpi)
        out[kpi] = Target(kpi, float(entry.value), "" if entry.source is None else entry.source)
    return out


def light(kpi: str, value: float, target: Target | None, amber_band: float = 0.05) -> str:
    """green: meets the target; amber: misses it by at most ``amber_band`` (relative); red: misses it by more."""
    if target is None or value is None or not np.isfinite(value):
        return "none"
    gap = (value - target.value) if HIGHER_IS_BETTER[kpi] else (target.value - value)
    if gap >= 0:
        return "green"
    return "amber" if abs(gap) <= amber_band * max(abs(target.value), 1e-12) else "red"


def trend(series: pd.Series, months: int = 3, flat_band: float = 0.02) -> tuple[str, float]:
    """Mean of the last ``months`` against the ``months`` before: ("up"/"down"/"flat", relative change)."""
    s = series.dropna()
    if len(s) < 2 * months:
        return "none", float("nan")
    recent, before = s.iloc[-months:].mean(), s.iloc[-2 * months:-months].mean()
    if before == 0:
        return "none", float("nan")
    change = recent / before - 1
    return ("flat" if abs(change) <= flat_band else "up" if change > 0 else "down"), float(change)


def scorecard(monthly: pd.DataFrame, targets: Mapping[str, Target], month: pd.Period | None = None,
              amber_band: float = 0.05, trend_months: int = 3) -> pd.DataFrame:
    """One row per KPI: the month's value, target, light, trend and their changes."""
    month = month if month is not None else monthly.index[-1]
    upto = monthly.loc[:month]
    rows = []
    for kpi in KPIS:  # seven KPIs
        value = float(upto[kpi].iloc[-1]) if len(upto) else float("nan")
        direction, change = trend(upto[kpi], trend_months)
        t = targets.get(kpi)
        rows.append({"kpi": kpi, "value": value, "target": t.value if t else np.nan,
                     "source": t.source_in("en") if t else "", "source_zh": t.source_in("zh-CN") if t else "", "light": light(kpi, value, t, amber_band),
                     "trend": direction, "trend_change": change})
    return pd.DataFrame(rows).set_index("kpi")


def decompose(r0: tuple[float, float, float], r1: tuple[float, float, float]) -> dict:
    """LMDI split of the change in revenue = customers x orders per customer x order value.

    ``r0``/``r1`` are (customers, orders per customer, order value) in the base and the
    compared period. The three contributions add up to R1 - R0 exactly.
    """
    c0, f0, v0 = r0
    c1, f1, v1 = r1
    R0, R1 = c0 * f0 * v0, c1 * f1 * v1
    names = ("customers", "orders_per_customer", "order_value")
    if min(r0 + r1) <= 0:
        return {"revenue_before": R0, "revenue_after": R1, "change": R1 - R0, **{n: float("nan") for n in names}}
    if np.isclose(R1, R0, rtol=1e-12, atol=0):
        weight = R0  # the limit of (R1 - R0) / ln(R1 / R0)
    else:
        weight = (R1 - R0) / np.log(R1 / R0)
    parts = {n: float(weight * np.log(x1 / x0)) for n, x0, x1 in zip(names, (c0, f0, v0), (c1, f1, v1))}
    return {"revenue_before": R0, "revenue_after": R1, "change": R1 - R0, **parts}


def period_changes(monthly: pd.DataFrame, month: pd.Period | None = None) -> pd.DataFrame:
    """The month against the month before (MoM) and the same month a year earlier (YoY), decomposed."""
    month = month if month is not None else monthly.index[-1]
    rows = {}
    for name, other in (("mom", month - 1), ("yoy", month - 12)):
        if other not in monthly.index:
            continue
        a, b = monthly.loc[other], monthly.loc[month]
        r = decompose((a["active_members"], a["frequency"], a["order_value"]),
                      (b["active_members"], b["frequency"], b["order_value"]))
        r["base_month"], r["month"] = str(other), str(month)
        rows[name] = r
    return pd.DataFrame(rows).T


@dataclass
class KpiStudy:
    monthly: pd.DataFrame
    cohorts: pd.DataFrame
    scorecard: pd.DataFrame
    changes: pd.DataFrame
    targets: dict
    month: pd.Period
    settings: dict = field(default_factory=dict)

    @property
    def metrics(self) -> dict:
        card = self.scorecard.reset_index().to_dict(orient="records")
        return {"month": str(self.month), "scorecard": card, "changes": self.changes.reset_index().to_dict(orient="records"),
                "settings": self.settings}


@shared
def run_kpi_study(transactions: pd.DataFrame, customers: pd.DataFrame | None = None,
                  tickets: pd.DataFrame | None = None, *, targets: Mapping | None = None, observation_end=None,
                  repeat_window_days: int = 90, active_window_days: int = 90, amber_band: float = 0.05,
                  trend_months: int = 3) -> KpiStudy:
    """Everything the KPI page shows; the scorecard month is the last complete month of the data."""
    parsed = parse_targets(targets)
    end = pd.Timestamp(observation_end) if observation_end else transactions["timestamp"].max().normalize()
    monthly = monthly_kpis(transactions, customers, tickets, repeat_window_days=repeat_window_days,
                           active_window_days=active_window_days, end=end)
    month = end.to_period("M")
    if end.normalize() != month.end_time.normalize():
        month = month - 1  # the last complete month
    monthly = monthly.loc[:month]
    cohorts = cohort_retention(transactions, customers, end=month.end_time)
    card = scorecard(monthly, parsed, month, amber_band, trend_months)
    changes = period_changes(monthly, month)
    settings = {"repeat_window_days": repeat_window_days, "active_window_days": active_window_days,
                "amber_band": amber_band, "trend_months": trend_months}
    return KpiStudy(monthly, cohorts, card, changes, parsed, month, settings)
