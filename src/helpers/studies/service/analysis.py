"""Service and feedback loop: promises, breaches, issue types, and what happens after a ticket.

Definitions (stated on the page by :mod:`helpers.studies.service.narrative`):

- **Response time** = first response − opened; **resolution time** = resolved − opened
  (both from the opening of the ticket, in hours).
- A promise of *P* hours is **met** when the time is at most *P* hours: a response after
  exactly 24 h meets a 24 h promise; one second later breaches it.
- A ticket still without a response (resolution) at the observation end has **breached**
  when more than *P* hours have passed since it was opened, and is **pending** otherwise.
  Pending tickets are left out of breach rates (their outcome is not known yet).
- A ticket **breaches** (either promise) when its response or its resolution breaches.
- **After a ticket**: for each customer, their first ticket opened at least
  ``followup_days`` before the observation end; they **bought again** when they have a
  purchase after the ticket was opened and no more than ``followup_days`` later.
  Otherwise they count as **churned after the ticket** (no purchase in that window).
  Comparing tickets that breached with those that did not is an association, not an
  effect: slow tickets differ in issue, severity and customer.

Vectorised over tickets; loops run over promises, months and groups only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from helpers.data.columns import CHANNEL, CUSTOMER_ID, ORDER_ID, TIMESTAMP
from helpers.data.tables_io import (
    CONTACT_CHANNEL,
    FIRST_RESPONSE_AT,
    ISSUE_TYPE,
    OPENED_AT,
    RESOLVED_AT,
    SATISFACTION,
    SEVERITY,
)
from helpers.errors import ConfigError, DataError
from helpers.memo import shared

HOUR = pd.Timedelta(hours=1)
MET, BREACHED, PENDING = "met", "breached", "pending"
#: Confidence level of every interval on the page.
CONFIDENCE = 0.95
#: Months compared in the issue trend (the most recent ones against the ones before).
TREND_MONTHS = 6
#: Rows of the "not recorded" group when a column is missing.
NOT_RECORDED = "not_recorded"


@dataclass(frozen=True)
class Promise:
    """A service promise: first response and resolution within so many hours."""

    response_hours: float = 24.0
    resolution_hours: float = 48.0
    name: str = "promise"

    def __post_init__(self) -> None:
        for field_name in ("response_hours", "resolution_hours"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"{field_name} must be a positive number of hours, not {value!r}.")

    def to_dict(self) -> dict:
        return {"name": self.name, "response_hours": float(self.response_hours), "resolution_hours": float(self.resolution_hours)}


def _cutoff(observation_end: object, tickets: pd.DataFrame) -> pd.Timestamp:
    """First instant after the observation period (a date means its whole day)."""
    if observation_end is None or (isinstance(observation_end, str) and not observation_end.strip()):
        latest = tickets[[c for c in (OPENED_AT, FIRST_RESPONSE_AT, RESOLVED_AT) if c in tickets]].max().max()
        return pd.Timestamp(latest).normalize() + pd.Timedelta(days=1)
    end = pd.Timestamp(observation_end)
    return end + pd.Timedelta(days=1) if end == end.normalize() else end + pd.Timedelta(1, "ns")


def ticket_times(tickets: pd.DataFrame) -> pd.DataFrame:
    """``tickets`` plus ``response_hours`` and ``resolution_hours`` (missing while open)."""
    out = tickets.copy()
    for col, name in ((FIRST_RESPONSE_AT, "response_hours"), (RESOLVED_AT, "resolution_hours")):
        out[name] = (out[col] - out[OPENED_AT]) / HOUR if col in out else np.nan
    return out


def _status(hours: pd.Series, elapsed: pd.Series, promise_hours: float, has_column: bool) -> np.ndarray:
    if not has_column:
        return np.full(len(hours), NOT_RECORDED, dtype=object)
    done = hours.notna().to_numpy()
    h = hours.to_numpy(dtype=float)
    e = elapsed.to_numpy(dtype=float)
    return np.where(
        done,
        np.where(h <= promise_hours, MET, BREACHED),
        np.where(e > promise_hours, BREACHED, PENDING),
    )


def apply_promise(tickets: pd.DataFrame, promise: Promise, observation_end: object = None) -> pd.DataFrame:
    """Ticket table with ``response_status``, ``resolution_status`` (met / breached /
    pending, or not_recorded when the file has no such time), ``breached`` (either
    promise breached) and ``decided`` (the ticket's outcome is known)."""
    out = ticket_times(tickets) if "response_hours" not in tickets else tickets.copy()
    elapsed = (_cutoff(observation_end, tickets) - out[OPENED_AT]) / HOUR
    out["response_status"] = _status(out["response_hours"], elapsed, promise.response_hours, FIRST_RESPONSE_AT in out)
    out["resolution_status"] = _status(out["resolution_hours"], elapsed, promise.resolution_hours, RESOLVED_AT in out)
    out["breached"] = (out["response_status"] == BREACHED) | (out["resolution_status"] == BREACHED)
    out["decided"] = (out["response_status"] != PENDING) & (out["resolution_status"] != PENDING) | out["breached"]
    return out


def breach_summary(flagged: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    """Tickets, breach rates (of decided tickets) and median hours, overall or by ``by``."""
    frame = flagged.copy()
    for col in by:
        frame[col] = frame[col].fillna(NOT_RECORDED) if col in frame else NOT_RECORDED
    frame["response_decided"] = frame["response_status"].isin([MET, BREACHED])
    frame["resolution_decided"] = frame["resolution_status"].isin([MET, BREACHED])
    frame["response_breach"] = frame["response_status"] == BREACHED
    frame["resolution_breach"] = frame["resolution_status"] == BREACHED
    keys = list(by) if by else np.zeros(len(frame), dtype=int)
    g = frame.groupby(keys, sort=True)
    out = pd.DataFrame(
        {
            "tickets": g.size(),
            "response_breaches": g["response_breach"].sum(),
            "response_decided": g["response_decided"].sum(),
            "resolution_breaches": g["resolution_breach"].sum(),
            "resolution_decided": g["resolution_decided"].sum(),
            "either_breaches": g["breached"].sum(),
            "either_decided": g["decided"].sum(),
            "median_response_hours": g["response_hours"].median(),
            "median_resolution_hours": g["resolution_hours"].median(),
        }
    )
    for kind in ("response", "resolution", "either"):
        out[f"{kind}_breach_rate"] = out[f"{kind}_breaches"] / out[f"{kind}_decided"].where(out[f"{kind}_decided"] > 0)
    return out.reset_index(drop=not by)


def promise_comparison(tickets: pd.DataFrame, promises: Sequence[Promise], observation_end: object = None) -> pd.DataFrame:
    """Breach rates of the same tickets under several promises (one row per promise)."""
    rows = []
    for promise in promises:
        summary = breach_summary(apply_promise(tickets, promise, observation_end)).iloc[0]
        rows.append(
            promise.to_dict()
            | {k: float(summary[f"{k}_breach_rate"]) for k in ("response", "resolution", "either")}
            | {"tickets": int(summary["tickets"])}
        )
    return pd.DataFrame(rows)


def issue_frequency(flagged: pd.DataFrame) -> pd.DataFrame:
    """Per issue type: tickets, share, either-promise breach rate, mean satisfaction; most frequent first."""
    frame = flagged.assign(**{ISSUE_TYPE: flagged[ISSUE_TYPE].fillna(NOT_RECORDED) if ISSUE_TYPE in flagged else NOT_RECORDED})
    g = frame.groupby(ISSUE_TYPE)
    out = pd.DataFrame({"tickets": g.size(), "breaches": g["breached"].sum(), "decided": g["decided"].sum()})
    out["share"] = out["tickets"] / out["tickets"].sum()
    out["breach_rate"] = out["breaches"] / out["decided"].where(out["decided"] > 0)
    out["mean_satisfaction"] = g[SATISFACTION].mean() if SATISFACTION in frame else np.nan
    out["median_resolution_hours"] = g["resolution_hours"].median()
    out = out.sort_values(["tickets"], ascending=False, kind="stable")
    return out.reset_index()


def order_months(transactions: pd.DataFrame | None) -> pd.Series | None:
    """Orders per calendar month (distinct order ids, or rows without them)."""
    if transactions is None:
        return None
    tx = transactions
    if ORDER_ID in tx and tx[ORDER_ID].notna().all():
        first = tx.drop_duplicates([CUSTOMER_ID, ORDER_ID])
    else:
        first = tx
    counts = first[TIMESTAMP].dt.to_period("M").value_counts().sort_index()
    counts.index.name = "month"
    return counts


def issue_trend(
    tickets: pd.DataFrame, transactions: pd.DataFrame | None = None, *, recent_months: int = TREND_MONTHS
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Monthly tickets by issue type, and the change of each issue between the last
    ``recent_months`` months and the ``recent_months`` before.

    Returns ``(monthly, change)``. ``monthly`` has months as rows and issue types as columns
    (ticket counts; plus ``orders`` when transactions are given). ``change`` has per issue
    type the tickets in both periods, tickets per 1,000 orders (when orders are known) and
    the rate ratio recent/earlier with a 95% interval (Poisson counts with the orders as
    exposure, log scale); ``direction`` is ``up`` / ``down`` only when the interval
    excludes 1, else ``flat``.
    """
    if recent_months < 1:
        raise ConfigError(f"recent_months must be >= 1, not {recent_months!r}.")
    issue = tickets[ISSUE_TYPE].fillna(NOT_RECORDED) if ISSUE_TYPE in tickets else pd.Series(NOT_RECORDED, index=tickets.index)
    month = tickets[OPENED_AT].dt.to_period("M")
    monthly = pd.crosstab(month, issue)
    span = pd.period_range(month.min(), month.max(), freq="M")
    orders = order_months(transactions)
    if orders is not None:
        span = pd.period_range(min(span.min(), orders.index.min()), max(span.max(), orders.index.max()), freq="M")
    monthly = monthly.reindex(span, fill_value=0)
    monthly.index.name = "month"
    if orders is not None:
        monthly["orders"] = orders.reindex(span, fill_value=0).to_numpy()
    issues = [c for c in monthly.columns if c != "orders"]
    last = span.max()
    recent = monthly.index > last - recent_months
    earlier = (monthly.index <= last - recent_months) & (monthly.index > last - 2 * recent_months)
    z = stats.norm.ppf(0.5 + CONFIDENCE / 2)
    rows = []
    for name in issues:
        a, b = int(monthly.loc[recent, name].sum()), int(monthly.loc[earlier, name].sum())
        if orders is not None:
            ea, eb = float(monthly.loc[recent, "orders"].sum()), float(monthly.loc[earlier, "orders"].sum())
        else:
            ea = eb = float(recent_months)
        row = {"issue_type": name, "recent": a, "earlier": b}
        if orders is not None:
            row["recent_per_1000_orders"] = 1000 * a / ea if ea else np.nan
            row["earlier_per_1000_orders"] = 1000 * b / eb if eb else np.nan
        if a > 0 and b > 0 and ea > 0 and eb > 0:
            ratio = (a / ea) / (b / eb)
            se = np.sqrt(1 / a + 1 / b)
            low, high = ratio * np.exp(-z * se), ratio * np.exp(z * se)
        else:
            ratio = low = high = np.nan
        row |= {"rate_ratio": ratio, "ratio_low": low, "ratio_high": high}
        row["direction"] = "up" if low > 1 else ("down" if high < 1 else "flat")
        rows.append(row)
    change = pd.DataFrame(rows).sort_values(["recent", "issue_type"], ascending=[False, True], kind="stable")
    monthly.index = monthly.index.to_timestamp()
    return monthly, change.reset_index(drop=True)


def tickets_per_order_channel(tickets: pd.DataFrame, transactions: pd.DataFrame | None) -> pd.DataFrame | None:
    """Tickets per 1,000 orders by the sales channel of the order the ticket is about.

    Needs ``order_id`` in both tables and ``channel`` in the transactions; None otherwise.
    """
    if transactions is None or ORDER_ID not in tickets or ORDER_ID not in transactions or CHANNEL not in transactions:
        return None
    orders = transactions.drop_duplicates([CUSTOMER_ID, ORDER_ID])[[CUSTOMER_ID, ORDER_ID, CHANNEL]]
    linked = tickets[[CUSTOMER_ID, ORDER_ID]].merge(orders, on=[CUSTOMER_ID, ORDER_ID], how="left")
    per_channel = orders.groupby(CHANNEL).size().rename("orders").to_frame()
    per_channel["tickets"] = linked.groupby(CHANNEL).size().reindex(per_channel.index, fill_value=0)
    per_channel["tickets_per_1000_orders"] = 1000 * per_channel["tickets"] / per_channel["orders"]
    per_channel = per_channel.sort_values("tickets_per_1000_orders", ascending=False, kind="stable")
    unmatched = int(linked[CHANNEL].isna().sum())
    out = per_channel.reset_index()
    out.attrs["unmatched_tickets"] = unmatched
    return out


def wilson_interval(successes: int, n: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion."""
    if n == 0:
        return float("nan"), float("nan")
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(centre - half), float(centre + half)


def difference_interval(x1: int, n1: int, x2: int, n2: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) for p1 − p2, from two Wilson intervals."""
    if n1 == 0 or n2 == 0:
        return float("nan"), float("nan")
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, confidence)
    l2, u2 = wilson_interval(x2, n2, confidence)
    d = p1 - p2
    low = d - np.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + np.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return float(low), float(high)


def after_ticket(
    flagged: pd.DataFrame, transactions: pd.DataFrame, observation_end: object = None, *, followup_days: int = 90
) -> dict:
    """Repeat purchase (and churn) after a ticket, breached vs not (see the module docstring).

    Returns the per-customer table (``customers``) and for each group the customers, those
    who bought again, the repeat rate with a Wilson interval, and the difference of repeat
    rates (breached − met) with Newcombe's interval. Churn after a ticket is 1 − repeat rate.
    """
    if isinstance(followup_days, bool) or not isinstance(followup_days, (int, np.integer)) or followup_days < 1:
        raise ConfigError(f"followup_days must be a whole number of days >= 1, not {followup_days!r}.")
    cutoff = _cutoff(observation_end, flagged)
    window = pd.Timedelta(days=followup_days)
    eligible = flagged[(flagged[OPENED_AT] + window < cutoff) & flagged["decided"]]
    # A customer with a ticket but no purchase at all in the transactions means the two extracts do
    # not cover the same customers; counting them as "did not buy again" would bias the comparison.
    known = eligible[CUSTOMER_ID].isin(transactions[CUSTOMER_ID])
    missing_customers = int(eligible.loc[~known, CUSTOMER_ID].nunique())
    eligible = eligible[known]
    first = eligible.sort_values([CUSTOMER_ID, OPENED_AT], kind="stable").drop_duplicates(CUSTOMER_ID)
    tx = transactions[[CUSTOMER_ID, TIMESTAMP]]
    tx = tx[tx[CUSTOMER_ID].isin(first[CUSTOMER_ID])]
    joined = tx.merge(first[[CUSTOMER_ID, OPENED_AT]], on=CUSTOMER_ID, how="inner")
    after = joined[(joined[TIMESTAMP] > joined[OPENED_AT]) & (joined[TIMESTAMP] <= joined[OPENED_AT] + window)]
    bought = first[CUSTOMER_ID].isin(after[CUSTOMER_ID]).to_numpy()
    customers = pd.DataFrame(
        {CUSTOMER_ID: first[CUSTOMER_ID].to_numpy(), OPENED_AT: first[OPENED_AT].to_numpy(),
         "breached": first["breached"].to_numpy(), "bought_again": bought}
    )
    groups = {}
    for key, mask in (("breached", customers["breached"]), ("met", ~customers["breached"])):
        n = int(mask.sum())
        x = int(customers.loc[mask, "bought_again"].sum())
        low, high = wilson_interval(x, n)
        groups[key] = {"customers": n, "bought_again": x, "repeat_rate": x / n if n else float("nan"),
                       "repeat_low": low, "repeat_high": high}
    b, m = groups["breached"], groups["met"]
    low, high = difference_interval(b["bought_again"], b["customers"], m["bought_again"], m["customers"])
    return {
        "followup_days": int(followup_days),
        "customers": customers,
        "groups": groups,
        "difference": b["repeat_rate"] - m["repeat_rate"] if b["customers"] and m["customers"] else float("nan"),
        "difference_low": low,
        "difference_high": high,
        "eligible_tickets": int(len(eligible)),
        "tickets_too_recent": int(((flagged[OPENED_AT] + window) >= cutoff).sum()),
        "customers_not_in_transactions": missing_customers,
    }


@dataclass
class ServiceStudy:
    """Everything the service page reports."""

    promise: Promise
    alternative: Promise
    flagged: pd.DataFrame
    overall: pd.Series
    comparison: pd.DataFrame
    by_channel_severity: pd.DataFrame
    by_channel: pd.DataFrame
    by_severity: pd.DataFrame
    issues: pd.DataFrame
    monthly: pd.DataFrame
    trend: pd.DataFrame
    per_order_channel: pd.DataFrame | None
    after: dict | None
    metrics: dict

    def export_table(self) -> pd.DataFrame:
        """Per-ticket columns of the exported CSV (the writer pseudonymises customer ids)."""
        keep = [c for c in ("ticket_id", CUSTOMER_ID, ORDER_ID, OPENED_AT, CONTACT_CHANNEL, ISSUE_TYPE, SEVERITY,
                            "response_hours", "resolution_hours", "response_status", "resolution_status", "breached")
                if c in self.flagged]
        return self.flagged[keep]


@shared
def run_service_study(
    tickets: pd.DataFrame,
    transactions: pd.DataFrame | None = None,
    observation_end: object = None,
    *,
    promise: Promise | None = None,
    alternative: Promise | None = None,
    followup_days: int = 90,
    recent_months: int = TREND_MONTHS,
) -> ServiceStudy:
    """Run every service computation on validated tickets (and transactions, optional)."""
    missing = [c for c in (FIRST_RESPONSE_AT, RESOLVED_AT) if c not in tickets]
    if len(missing) == 2:
        raise DataError(
            "the service tickets have neither a first-response time nor a resolution time, so no promise can "
            "be checked",
            hint='Name the headers in tickets_column_map, e.g. {"first_response_at": "首次响应时间", '
            '"resolved_at": "解决时间"}.',
        )
    promise = promise or Promise(24.0, 48.0, "promise")
    alternative = alternative or Promise(0.25, 24.0, "alternative")
    flagged = apply_promise(ticket_times(tickets), promise, observation_end)
    overall = breach_summary(flagged).iloc[0]
    comparison = promise_comparison(flagged, [promise, alternative], observation_end)
    by_cs = breach_summary(flagged, [CONTACT_CHANNEL, SEVERITY])
    by_channel = breach_summary(flagged, [CONTACT_CHANNEL])
    by_severity = breach_summary(flagged, [SEVERITY])
    issues = issue_frequency(flagged)
    monthly, trend = issue_trend(flagged, transactions, recent_months=recent_months)
    per_order_channel = tickets_per_order_channel(flagged, transactions)
    after = None
    if transactions is not None:
        after = after_ticket(flagged, transactions, observation_end, followup_days=followup_days)
    metrics = {
        "tickets": int(len(flagged)),
        "customers": int(flagged[CUSTOMER_ID].nunique()),
        "first_opened": str(flagged[OPENED_AT].min().date()),
        "last_opened": str(flagged[OPENED_AT].max().date()),
        "promise": promise.to_dict(),
        "alternative": alternative.to_dict(),
        "response_breach_rate": float(overall["response_breach_rate"]),
        "resolution_breach_rate": float(overall["resolution_breach_rate"]),
        "either_breach_rate": float(overall["either_breach_rate"]),
        "median_response_hours": float(overall["median_response_hours"]),
        "median_resolution_hours": float(overall["median_resolution_hours"]),
        "pending_response": int((flagged["response_status"] == PENDING).sum()),
        "pending_resolution": int((flagged["resolution_status"] == PENDING).sum()),
        "comparison": comparison.to_dict(orient="records"),
        "top_issue": str(issues[ISSUE_TYPE].iloc[0]) if len(issues) else None,
        "after_ticket": None if after is None else {k: v for k, v in after.items() if k != "customers"},
    }
    return ServiceStudy(
        promise, alternative, flagged, overall, comparison, by_cs, by_channel, by_severity, issues, monthly, trend,
        per_order_channel, after, metrics,
    )
