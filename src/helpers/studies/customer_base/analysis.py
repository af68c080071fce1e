"""The customer base: cohorts, repeat-purchase curves, lifecycle stages and spend.

Definitions used throughout (stated on the page by :mod:`helpers.studies.customer_base.narrative`):

- A **purchase day** is a calendar day on which a customer bought something (several
  orders on one day are one purchase day, as in the CLV study). Spend is the day's net
  amount as loaded.
- **Days ago** are whole calendar days between a day and the observation end: a purchase
  on the observation end day is 0 days ago. "At most N days ago" includes N.
- **Cohort** = month of joining: the customers file's ``join_date`` when there is one,
  else the month of the first purchase.
- **Repeat within k months**: a second purchase day no more than 30·k days after the
  first purchase day. A customer counts at month k only if their first purchase was at
  least 30·k days before the observation end (otherwise they have not been watched long
  enough and are left out of that point, not counted as "did not repeat"). A cohort's
  point is shown once at least half of its buyers count.

Lifecycle stages (:class:`LifecycleRules`, first matching rule wins):

1. **prospect**: in the customers file but never bought;
2. **churned**: last purchase more than ``churned_after_days`` ago;
3. **lapsing**: last purchase more than ``lapsing_after_days`` ago;
4. **new**: first purchase at most ``new_within_days`` ago;
5. **loyal**: at least ``loyal_min_purchases`` purchase days at most ``loyal_window_days`` ago;
6. **active**: everyone else (bought at most ``lapsing_after_days`` ago).

Everything is vectorised over customers and purchase days; loops run over months only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field, model_validator

from helpers.data.columns import AMOUNT, CUSTOMER_ID, TIMESTAMP
from helpers.data.tables_io import JOIN_DATE
from helpers.errors import ConfigError, DataError, SettingsModel, located
from helpers.memo import shared

#: Days per month in the repeat-purchase curves (the CLV study's convention).
DAYS_PER_MONTH = 30
#: Stages in reading order.
STAGES: tuple[str, ...] = ("prospect", "new", "active", "loyal", "lapsing", "churned")
#: Months after the first purchase shown in the cohort table.
COHORT_TABLE_MONTHS: tuple[int, ...] = (1, 3, 6, 12)
#: A cohort's repeat share at month k is shown once this share of its buyers has been
#: observed for 30·k days.
MIN_ELIGIBLE_SHARE = 0.5


class LifecycleRules(SettingsModel):
    """Thresholds of the lifecycle stages (see the module docstring for the rules), in days
    and purchases; the customer-base notebook's parameters."""

    source: ClassVar[str] = "lifecycle rules"

    new_within_days: Annotated[int, Field(ge=1)] = 90
    lapsing_after_days: Annotated[int, Field(ge=1)] = 90
    churned_after_days: Annotated[int, Field(ge=1)] = 180
    loyal_min_purchases: Annotated[int, Field(ge=1)] = 4
    loyal_window_days: Annotated[int, Field(ge=1)] = 365

    @model_validator(mode="after")
    def _lapse_before_churn(self) -> "LifecycleRules":
        if self.churned_after_days <= self.lapsing_after_days:
            raise located(
                "churned_after_days", self.churned_after_days,
                f"must be larger than lapsing_after_days ({self.lapsing_after_days}): a customer lapses before they churn",
            )
        return self

    def to_dict(self) -> dict:
        return self.model_dump()


def end_day(observation_end: object, transactions: pd.DataFrame | None = None) -> pd.Timestamp:
    """The observation end as a day; empty means the last purchase day in ``transactions``."""
    if observation_end is None or (isinstance(observation_end, str) and not observation_end.strip()):
        if transactions is None or transactions.empty:
            raise ConfigError("observation_end is empty and there are no transactions to take it from.")
        return transactions[TIMESTAMP].max().normalize()
    try:
        return pd.Timestamp(observation_end).normalize()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"observation_end {observation_end!r} is not a date (use 'YYYY-MM-DD').") from exc


def purchase_days(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per customer and purchase day: ``customer_id, day, amount`` (day's net total)."""
    missing = [c for c in (CUSTOMER_ID, TIMESTAMP, AMOUNT) if c not in transactions]
    if missing:
        raise DataError(f"transactions lack the column(s) {missing}; load them with helpers.data.loading.read_transactions")
    frame = pd.DataFrame(
        {CUSTOMER_ID: transactions[CUSTOMER_ID].to_numpy(), "day": transactions[TIMESTAMP].dt.normalize().to_numpy(),
         AMOUNT: transactions[AMOUNT].to_numpy(dtype=float)}
    )
    days = frame.groupby([CUSTOMER_ID, "day"], sort=True, as_index=False)[AMOUNT].sum()
    return days


def customer_facts(
    days: pd.DataFrame, observation_end: pd.Timestamp, customers: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Per customer: first and last purchase day, second purchase day, purchase days, spend,
    join date, cohort month, tenure and recency in days.

    With a customers table, its customers without purchases are included (purchase days 0)
    and ``join_date`` comes from it when present; otherwise the first purchase is the join.
    """
    end = pd.Timestamp(observation_end).normalize()
    days = days[days["day"] <= end]
    g = days.groupby(CUSTOMER_ID, sort=True)
    facts = pd.DataFrame(
        {
            "first_purchase": g["day"].min(),
            "last_purchase": g["day"].max(),
            "purchase_days": g.size().astype("int64"),
            "spend": g[AMOUNT].sum(),
        }
    )
    rank = days.groupby(CUSTOMER_ID).cumcount()
    second = days.loc[rank.to_numpy() == 1].set_index(CUSTOMER_ID)["day"]
    facts["second_purchase"] = second.reindex(facts.index)
    facts["in_customers_file"] = False
    if customers is not None:
        known = customers.set_index(CUSTOMER_ID)
        facts = facts.reindex(facts.index.union(known.index))
        facts["purchase_days"] = facts["purchase_days"].fillna(0).astype("int64")
        facts["spend"] = facts["spend"].fillna(0.0)
        facts["in_customers_file"] = facts.index.isin(known.index)
        if JOIN_DATE in known:
            facts["join_date"] = known[JOIN_DATE].reindex(facts.index)
    if "join_date" not in facts:
        facts["join_date"] = pd.NaT
    facts["join_date"] = pd.to_datetime(facts["join_date"]).fillna(facts["first_purchase"])
    facts["cohort"] = facts["join_date"].dt.to_period("M")
    facts["tenure_days"] = (end - facts["first_purchase"]).dt.days
    facts["recency_days"] = (end - facts["last_purchase"]).dt.days
    facts.index.name = CUSTOMER_ID
    return facts


def assign_stages(
    facts: pd.DataFrame, days: pd.DataFrame, observation_end: pd.Timestamp, rules: LifecycleRules
) -> pd.Series:
    """The lifecycle stage of every customer in ``facts`` (an ordered categorical)."""
    end = pd.Timestamp(observation_end).normalize()
    ago = (end - days["day"]).dt.days
    recent = days.loc[(ago >= 0) & (ago <= rules.loyal_window_days), CUSTOMER_ID]
    in_window = recent.value_counts().reindex(facts.index, fill_value=0).to_numpy()
    recency = facts["recency_days"].to_numpy(dtype=float)
    tenure = facts["tenure_days"].to_numpy(dtype=float)
    bought = facts["purchase_days"].to_numpy() > 0
    code = STAGES.index  # stages chosen as category codes: no text per customer
    stage = np.select(
        [
            ~bought,
            recency > rules.churned_after_days,
            recency > rules.lapsing_after_days,
            tenure <= rules.new_within_days,
            in_window >= rules.loyal_min_purchases,
        ],
        [code("prospect"), code("churned"), code("lapsing"), code("new"), code("loyal")],
        default=code("active"),
    )
    return pd.Series(pd.Categorical.from_codes(stage, categories=STAGES, ordered=True), index=facts.index, name="stage")


def repeat_curves(
    facts: pd.DataFrame,
    observation_end: pd.Timestamp,
    months: int = 12,
    min_eligible_share: float = MIN_ELIGIBLE_SHARE,
) -> pd.DataFrame:
    """Share of customers who bought again within k months of their first purchase.

    Long table with one row per cohort (``"all"`` for everyone) and k = 1..months:
    ``cohort, month, buyers, eligible, repeated, share``. A cohort's ``share`` is missing
    until at least ``min_eligible_share`` of its buyers have been observed for 30·k days
    (the ``"all"`` curve only needs one): a few early joiners of a recent month would
    otherwise make a noisy point.
    """
    if months < 1:
        raise ConfigError(f"cohort_months must be >= 1, not {months!r}.")
    end = pd.Timestamp(observation_end).normalize()
    buyers = facts[facts["purchase_days"] > 0]
    observed = (end - buyers["first_purchase"]).dt.days.to_numpy()
    to_second = (buyers["second_purchase"] - buyers["first_purchase"]).dt.days.to_numpy(dtype=float)
    limits = DAYS_PER_MONTH * np.arange(1, months + 1)
    eligible = observed[:, None] >= limits[None, :]
    repeated = eligible & (to_second[:, None] <= limits[None, :])  # NaN compares False
    cohorts = buyers["cohort"].astype(str).to_numpy()
    frames = []
    for name, mask in [("all", np.ones(len(buyers), bool))] + [(c, cohorts == c) for c in sorted(set(cohorts))]:
        e = eligible[mask].sum(axis=0)
        r = repeated[mask].sum(axis=0)
        n = int(mask.sum())
        needed = 1 if name == "all" else max(1, int(np.ceil(min_eligible_share * n)))
        share = np.where(e >= needed, r / np.maximum(e, 1), np.nan)
        frames.append(
            pd.DataFrame({"cohort": name, "month": np.arange(1, months + 1), "buyers": n, "eligible": e,
                          "repeated": r, "share": share})
        )
    return pd.concat(frames, ignore_index=True)


def late_repeat(facts: pd.DataFrame, observation_end: pd.Timestamp, early_months: int = 3, late_months: int = 12) -> dict:
    """Among buyers watched for ``late_months`` who had not bought again within ``early_months``,
    how many did by ``late_months`` (30-day months)."""
    end = pd.Timestamp(observation_end).normalize()
    buyers = facts[facts["purchase_days"] > 0]
    watched = (end - buyers["first_purchase"]).dt.days >= DAYS_PER_MONTH * late_months
    to_second = (buyers["second_purchase"] - buyers["first_purchase"]).dt.days
    not_early = watched & ~(to_second <= DAYS_PER_MONTH * early_months)
    later = not_early & (to_second <= DAYS_PER_MONTH * late_months)
    n = int(not_early.sum())
    return {"early_months": early_months, "late_months": late_months, "customers": n,
            "came_back": int(later.sum()), "share": float(later.sum() / n) if n else float("nan")}


def cohort_table(facts: pd.DataFrame, curves: pd.DataFrame, months: tuple[int, ...] = COHORT_TABLE_MONTHS) -> pd.DataFrame:
    """One row per join month: customers, buyers, spend per buyer and repeat shares at ``months``."""
    g = facts.groupby("cohort", sort=True)
    table = pd.DataFrame(
        {
            "customers": g.size(),
            "buyers": (facts["purchase_days"] > 0).groupby(facts["cohort"], sort=True).sum().astype("int64"),
            "spend": g["spend"].sum(),
        }
    )
    table["spend_per_buyer"] = table["spend"] / table["buyers"].where(table["buyers"] > 0)
    wide = curves[curves["cohort"] != "all"].pivot(index="cohort", columns="month", values="share")
    wide.index = pd.PeriodIndex(wide.index, freq="M")
    for k in months:
        if k in wide.columns:
            table[f"repeat_{k}m"] = wide[k].reindex(table.index)
    table.index = table.index.astype(str)
    table.index.name = "cohort"
    return table.reset_index()


def stage_summary(facts: pd.DataFrame) -> pd.DataFrame:
    """Per stage: customers, share of customers, spend, share of spend, spend per customer,
    median days since the last purchase. Stages with no customers are left out."""
    g = facts.groupby("stage", observed=True, sort=True)
    out = pd.DataFrame(
        {
            "customers": g.size(),
            "spend": g["spend"].sum(),
            "median_recency_days": g["recency_days"].median(),
            "median_purchase_days": g["purchase_days"].median(),
        }
    )
    out["customer_share"] = out["customers"] / out["customers"].sum()
    total = out["spend"].sum()
    out["spend_share"] = out["spend"] / total if total else np.nan
    out["spend_per_customer"] = out["spend"] / out["customers"]
    out.index = out.index.astype(str)
    out.index.name = "stage"
    return out.reset_index()


def spend_distribution(
    facts: pd.DataFrame, days: pd.DataFrame, observation_end: pd.Timestamp, window_days: int = 365
) -> dict:
    """Spend per customer in the last ``window_days`` (buyers in the window) and per purchase day.

    Returns ``per_customer`` (Series indexed by customer), quantiles of both measures, the
    share of the window's spend held by the top 10% and 20% of customers, and counts.
    """
    if window_days < 1:
        raise ConfigError(f"spend_window_days must be >= 1, not {window_days!r}.")
    end = pd.Timestamp(observation_end).normalize()
    ago = (end - days["day"]).dt.days
    window = days[(ago >= 0) & (ago < window_days)]
    per_customer = window.groupby(CUSTOMER_ID)[AMOUNT].sum().sort_values(ascending=False)
    per_day = days.loc[ago >= 0, AMOUNT]
    qs = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
    quantiles = pd.DataFrame(
        {
            "per_customer": per_customer.quantile(qs).to_numpy() if len(per_customer) else np.full(len(qs), np.nan),
            "per_purchase_day": per_day.quantile(qs).to_numpy() if len(per_day) else np.full(len(qs), np.nan),
        },
        index=pd.Index(qs, name="quantile"),
    )
    total = float(per_customer.sum())
    values = per_customer.to_numpy()

    def top_share(fraction: float) -> float:
        if total <= 0 or len(values) == 0:
            return float("nan")
        n = max(int(np.ceil(fraction * len(values))), 1)
        return float(values[:n].sum() / total)

    return {
        "per_customer": per_customer,
        "quantiles": quantiles,
        "window_days": int(window_days),
        "buyers_in_window": int(len(per_customer)),
        "customers": int((facts["purchase_days"] > 0).sum()),
        "window_spend": total,
        "mean_per_customer": float(per_customer.mean()) if len(per_customer) else float("nan"),
        "median_per_customer": float(per_customer.median()) if len(per_customer) else float("nan"),
        "mean_per_purchase_day": float(per_day.mean()) if len(per_day) else float("nan"),
        "median_per_purchase_day": float(per_day.median()) if len(per_day) else float("nan"),
        "top10_share": top_share(0.10),
        "top20_share": top_share(0.20),
    }


def data_checks(facts: pd.DataFrame, customers: pd.DataFrame | None) -> pd.DataFrame:
    """Cross-table checks for the data-quality table: (reason, rows) lines."""
    lines: list[tuple[str, int]] = []
    if customers is not None:
        lines.append(("buyers missing from the customers file (first purchase used as join)",
                      int((~facts["in_customers_file"] & (facts["purchase_days"] > 0)).sum())))
        lines.append(("customers in the file who never bought (prospects)", int((facts["purchase_days"] == 0).sum())))
        if JOIN_DATE in customers:
            later = facts["join_date"] > facts["first_purchase"]
            lines.append(("join date after the first purchase (join date kept)", int(later.sum())))
    return pd.DataFrame(lines, columns=["reason", "rows"])


@dataclass
class CustomerBase:
    """Everything the customer-base page reports."""

    observation_end: pd.Timestamp
    rules: LifecycleRules
    days: pd.DataFrame
    facts: pd.DataFrame  # per customer, with stage
    curves: pd.DataFrame
    cohorts: pd.DataFrame
    stages: pd.DataFrame
    spend: dict
    checks: pd.DataFrame
    metrics: dict

    def export_table(self) -> pd.DataFrame:
        """Per-customer columns of the exported CSV (the writer pseudonymises the ids)."""
        columns = ["stage", "join_date", "cohort", "first_purchase", "last_purchase", "purchase_days", "spend",
                   "recency_days"]
        return self.facts[columns]


@shared
def build_customer_base(
    transactions: pd.DataFrame,
    observation_end: object = None,
    *,
    customers: pd.DataFrame | None = None,
    rules: LifecycleRules | None = None,
    cohort_months: int = 12,
    spend_window_days: int = 365,
) -> CustomerBase:
    """Run every customer-base computation on validated transactions (and customers)."""
    rules = rules or LifecycleRules()
    if transactions.empty:
        raise DataError("there are no transactions to study")
    end = end_day(observation_end, transactions)
    days = purchase_days(transactions)
    days = days[days["day"] <= end].reset_index(drop=True)
    if days.empty:
        raise DataError(f"there are no purchases on or before the observation end {end.date()}")
    facts = customer_facts(days, end, customers)
    facts["stage"] = assign_stages(facts, days, end, rules)
    curves = repeat_curves(facts, end, cohort_months)
    cohorts = cohort_table(facts, curves)
    stages = stage_summary(facts)
    spend = spend_distribution(facts, days, end, spend_window_days)
    overall = curves[curves["cohort"] == "all"].set_index("month")["share"]
    counts = facts["stage"].value_counts()
    buyers = facts[facts["purchase_days"] > 0]
    metrics = {
        "observation_end": str(end.date()),
        "rules": rules.to_dict(),
        "customers": int(len(facts)),
        "buyers": int(len(buyers)),
        "first_purchase": str(buyers["first_purchase"].min().date()),
        "last_purchase": str(buyers["last_purchase"].max().date()),
        "one_time_buyers": int((buyers["purchase_days"] == 1).sum()),
        "one_time_share": float((buyers["purchase_days"] == 1).mean()),
        "repeat_by_month": {int(k): (None if pd.isna(v) else float(v)) for k, v in overall.items()},
        "late_repeat": late_repeat(facts, end, 3, min(12, cohort_months)) if cohort_months > 3 else None,
        "stage_counts": {s: int(counts.get(s, 0)) for s in STAGES},
        "stage_shares": {s: float(counts.get(s, 0) / len(facts)) for s in STAGES},
        "total_spend": float(buyers["spend"].sum()),
        "cohorts": int(facts["cohort"].nunique()),
        "spend": {k: v for k, v in spend.items() if k not in ("per_customer", "quantiles")},
    }
    return CustomerBase(end, rules, days, facts, curves, cohorts, stages, spend, data_checks(facts, customers), metrics)


def quarterly_curves(curves: pd.DataFrame, min_eligible_share: float = MIN_ELIGIBLE_SHARE) -> pd.DataFrame:
    """The monthly cohorts' repeat curves pooled by join quarter (same eligibility rule).

    Columns: ``quarter, month, buyers, eligible, repeated, share``.
    """
    monthly = curves[curves["cohort"] != "all"].copy()
    if monthly.empty:
        return pd.DataFrame(columns=["quarter", "month", "buyers", "eligible", "repeated", "share"])
    monthly["quarter"] = pd.PeriodIndex(monthly["cohort"], freq="M").asfreq("Q").astype(str)
    sizes = monthly.drop_duplicates("cohort").groupby("quarter")["buyers"].sum()
    pooled = monthly.groupby(["quarter", "month"], as_index=False)[["eligible", "repeated"]].sum()
    pooled["buyers"] = sizes.reindex(pooled["quarter"]).to_numpy()
    needed = np.maximum(1, np.ceil(min_eligible_share * pooled["buyers"]))
    pooled["share"] = np.where(pooled["eligible"] >= needed, pooled["repeated"] / pooled["eligible"].clip(lower=1), np.nan)
    return pooled[["quarter", "month", "buyers", "eligible", "repeated", "share"]]
