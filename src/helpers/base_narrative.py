"""Plain-language text and reader-facing tables of the customer-base page.

Every function takes numbers from :mod:`helpers.customer_base` and returns Markdown (or a
styled table); thresholds that turn numbers into words are named constants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from .customer_base import DAYS_PER_MONTH, CustomerBase, LifecycleRules
from .labels import label
from .narrative import count, money, pct
from .tables import styled

#: A difference in repeat share (percentage points) below which cohorts are "alike".
SIMILAR_COHORT_PP = 0.05

#: How the notebook is named in messages about missing inputs.
NOTEBOOK = "customer-base"

def title() -> str:
    return (
        "# Customer base: who buys, do they come back, and where is each customer in their lifecycle?\n\n"
        "This page describes the customer base from the transaction log (and the member file, when there is "
        "one): how many customers each month brings, how many of them buy again and how fast, which lifecycle "
        "stage every customer is in today, and how spend is spread across customers. Every number is computed "
        "from the data; the rules behind the stages are stated below and can be changed as parameters."
    )


def _repeat(metrics: dict, month: int) -> float | None:
    return metrics["repeat_by_month"].get(month)


def headline(base: CustomerBase, currency: str) -> str:
    m = base.metrics
    s = m["stage_shares"]
    c = m["stage_counts"]
    stages = base.stages.set_index("stage")
    r3, r12 = _repeat(m, 3), _repeat(m, 12)
    back = []
    if r3 is not None:
        back.append(f"{pct(r3)} bought again within 3 months of their first purchase")
    if r12 is not None:
        back.append(f"{pct(r12)} within 12 months")
    lines = [
        f"**{count(m['buyers'])} customers bought {money(m['total_spend'], currency)} between "
        f"{m['first_purchase']} and {m['observation_end']}. {pct(m['one_time_share'])} of them have bought only "
        f"once so far; " + (" and ".join(back) if back else "the data are too short to measure repeat purchases")
        + ".**",
        "",
    ]
    if "loyal" in stages.index:
        lines.append(
            f"- **Loyal customers carry the business:** {count(c['loyal'])} customers ({pct(s['loyal'])}) made "
            f"{pct(stages.loc['loyal', 'spend_share'])} of all spend."
        )
    at_risk = c["lapsing"]
    if at_risk:
        lines.append(
            f"- **{count(at_risk)} customers ({pct(s['lapsing'])}) are lapsing**: they last bought "
            f"{base.rules.lapsing_after_days + 1}–{base.rules.churned_after_days} days ago and spent "
            f"{money(stages.loc['lapsing', 'spend'], currency)} with us so far. They are the win-back list."
        )
    new = f"; {count(c['new'])} ({pct(s['new'])}) are new" if c["new"] else ""
    lines.append(
        f"- **{count(c['churned'])} customers ({pct(s['churned'])}) count as churned** (no purchase for more than "
        f"{base.rules.churned_after_days} days){new}."
    )
    sp = m["spend"]
    if sp["buyers_in_window"]:
        lines.append(
            f"- **Spend is concentrated:** in the last {sp['window_days']} days the top 10% of buyers spent "
            f"{pct(sp['top10_share'])} of the total; the typical (median) buyer spent "
            f"{money(sp['median_per_customer'], currency)}."
        )
    return "\n".join(lines)


def actions(base: CustomerBase, currency: str) -> str:
    m, r = base.metrics, base.rules
    c = m["stage_counts"]
    stages = base.stages.set_index("stage")
    r1, r12 = _repeat(m, 1), _repeat(m, 12)
    early = ""
    if r1 is not None and r12:
        early = f" {pct(r1 / r12)} of those who come back within a year do so in the first month, so time it early."
    items = []
    if c["lapsing"]:
        items.append(
            f"**Win back the {count(c['lapsing'])} lapsing customers now**, before they churn: a personalised "
            f"win-back offer plus \"we updated things you may like\" recommendations. Start with the biggest past "
            f"spenders (the exported table has each customer's stage and spend)."
        )
    if c["new"]:
        items.append(
            f"**Onboard the {count(c['new'])} new customers** and ask for the second purchase: onboarding content "
            f"and a light, time-limited incentive.{early}"
        )
    if c["active"]:
        items.append(
            f"**Grow the {count(c['active'])} active customers towards loyal** ({r.loyal_min_purchases} purchase "
            f"days a year): stepped tasks (\"buy again this month to unlock ...\") and cross-category suggestions."
        )
    if c["loyal"]:
        spend_per = stages.loc["loyal", "spend_per_customer"] if "loyal" in stages.index else np.nan
        items.append(
            f"**Look after the {count(c['loyal'])} loyal customers** (on average {money(spend_per, currency)} "
            "each so far): early access, service priority and recognition rather than blanket discounts, which "
            "would subsidise purchases they make anyway."
        )
    if c["churned"]:
        items.append(
            f"**Spend little on the {count(c['churned'])} churned customers**: one low-cost reactivation message; "
            "the CLV page's P(alive) tells which of them are still likely to return."
        )
    items.append("**Re-run monthly**: stages move every day; compare the stage counts with last month's.")
    return "\n".join(f"{i}. {text}" for i, text in enumerate(items, 1))


def cohorts(base: CustomerBase) -> str:
    table = base.cohorts.dropna(subset=["repeat_3m"]) if "repeat_3m" in base.cohorts else pd.DataFrame()
    text = (
        "Each row is the group of customers who joined in one month; each cell the share of them who had "
        "bought again by that many months after their first purchase. Recent months have empty cells: their "
        "customers have not been with us long enough to tell."
    )
    if len(table) >= 2:
        best = table.loc[table["repeat_3m"].idxmax()]
        worst = table.loc[table["repeat_3m"].idxmin()]
        text += (
            f" Within 3 months, the best join month so far is {best['cohort']} ({pct(best['repeat_3m'])} came back) "
            f"and the weakest {worst['cohort']} ({pct(worst['repeat_3m'])})."
        )
        if len(table) >= 6:
            old, new = table["repeat_3m"].head(3).mean(), table["repeat_3m"].tail(3).mean()
            if abs(new - old) < SIMILAR_COHORT_PP:
                trend = "about the same as"
            else:
                trend = "higher than" if new > old else "lower than"
            text += (
                f" The three latest measurable join months average {pct(new)}, {trend} the first three "
                f"({pct(old)}): "
                + ("newer customers come back as well as earlier ones." if trend == "about the same as" else
                   "a change worth explaining (acquisition channel, offers, season).")
            )
    return text


def repeat_curves(base: CustomerBase) -> str:
    m = base.metrics["repeat_by_month"]
    points = [(k, v) for k, v in m.items() if v is not None and k in (1, 3, 6, 12)]
    if not points:
        return "The data cover too short a period to show repeat purchases."
    listed = ", ".join(f"{pct(v)} within {k} month{'s' if k > 1 else ''}" for k, v in points)
    text = (
        f"The thick line pools all customers; thin lines are join quarters. Of the customers watched long "
        f"enough, {listed} ({DAYS_PER_MONTH}-day months). "
    )
    values = np.array([v for v in m.values() if v is not None])
    if len(values) >= 3:
        gains = np.diff(np.concatenate([[0.0], values]))
        text += (
            f"The first month adds the most ({pct(gains[0])} of customers); by month {len(values)} the curve "
            f"adds {pct(gains[-1], 1)} a month. "
        )
    late = base.metrics.get("late_repeat")
    if late and late["customers"]:
        text += (
            f"Of the {count(late['customers'])} customers who had not come back within {late['early_months']} months "
            f"(among those watched for {late['late_months']}), {pct(late['share'])} still did by month "
            f"{late['late_months']}: "
            + ("a reminder is worth sending well after the first month too." if late["share"] >= 0.2 else
               "after a few quiet months few return on their own, so act early.")
        )
    else:
        text += "A second-purchase offer is best timed before the curve flattens."
    return text


def stage_rules(rules: LifecycleRules) -> str:
    """The lifecycle rules as stated on the page (first matching rule wins)."""
    r = rules
    return "\n".join(
        [
            "Stages are decided at the observation end, by the first rule that matches (days are whole calendar "
            "days before the observation end; \"at most\" includes the limit):",
            "",
            "1. **Prospect**: in the member file but never bought.",
            f"2. **Churned**: last purchase more than {r.churned_after_days} days ago (`churned_after_days`).",
            f"3. **Lapsing**: last purchase more than {r.lapsing_after_days} days ago (`lapsing_after_days`).",
            f"4. **New**: first purchase at most {r.new_within_days} days ago (`new_within_days`).",
            f"5. **Loyal**: at least {r.loyal_min_purchases} purchase days (`loyal_min_purchases`) in the last "
            f"{r.loyal_window_days} days (`loyal_window_days`).",
            f"6. **Active**: everyone else, i.e. bought at most {r.lapsing_after_days} days ago.",
        ]
    )


def stages(base: CustomerBase) -> str:
    st = base.stages.set_index("stage")
    parts = []
    for stage in st.index:
        row = st.loc[stage]
        parts.append(
            f"{label(stage)} {pct(row['customer_share'])} of customers / {pct(row['spend_share'])} of spend"
        )
    text = "Blue bars are the share of customers in each stage, orange bars their share of all spend so far: " + "; ".join(parts) + "."
    if "loyal" in st.index and st.loc["loyal", "customer_share"] > 0:
        ratio = st.loc["loyal", "spend_share"] / st.loc["loyal", "customer_share"]
        text += f" A loyal customer has spent {ratio:.1f} times the average customer."
    if "churned" in st.index:
        text += (
            f" \"Churned\" is a recency rule, not a certainty: slow buyers can return after {base.rules.churned_after_days} "
            "days."
        )
    return text


def spend(base: CustomerBase, currency: str) -> str:
    sp = base.spend
    if not sp["buyers_in_window"]:
        return f"No customer bought in the last {sp['window_days']} days."
    skew = sp["mean_per_customer"] / sp["median_per_customer"] if sp["median_per_customer"] else float("nan")
    return (
        f"{count(sp['buyers_in_window'])} customers bought in the last {sp['window_days']} days. The typical "
        f"(median) one spent {money(sp['median_per_customer'], currency)}, the average "
        f"{money(sp['mean_per_customer'], currency)}: the average is {skew:.1f} times the median because a few "
        f"customers spend a lot (top 10%: {pct(sp['top10_share'])} of spend, top 20%: {pct(sp['top20_share'])}). "
        f"A purchase day is worth {money(sp['median_per_purchase_day'], currency)} at the median. Plan budgets on "
        "the median customer, and treat the top spenders as a segment of their own."
    )


def method(base: CustomerBase, *, returns_policy: str, has_customers_file: bool, cohort_months: int) -> str:
    cohort_source = (
        "the member file's join date (the first purchase for buyers missing from it)"
        if has_customers_file else "the month of the first purchase (no member file was given)"
    )
    return "\n".join(
        [
            f"- **Observation end** {base.metrics['observation_end']}: later rows are left out and counted below.",
            "- **Purchase day**: a calendar day with at least one purchase (several orders on one day are one "
            "purchase day, as on the CLV page). Spend is the net amount paid.",
            f"- **Returns** (`returns_policy: {returns_policy}`): \"drop\" leaves negative rows out (right when returns "
            "are separate rows, as in the generated data); \"net\" nets them against purchases the same day.",
            f"- **Cohort** = join month, from {cohort_source}.",
            f"- **Repeat within k months** = a second purchase day no more than {DAYS_PER_MONTH}·k days after the "
            "first. A customer counts at month k only once watched for that long; a join month's cell is shown "
            f"once at least half of its buyers count. Curves run to {cohort_months} months.",
            "- **Lifecycle stages**: the rules above; stages describe behaviour, they are not predictions (see "
            "the CLV page for P(alive)).",
            f"- **Spend distribution**: per customer over the last {base.spend['window_days']} days, buyers in that "
            "window only; per purchase day over the whole period.",
        ]
    )


# ------------------------------------------------------------------------ tables


def cohort_view(base: CustomerBase, currency: str) -> Styler:
    view = base.cohorts.rename(
        columns={
            "cohort": "Join month", "customers": "Customers", "buyers": "Buyers", "spend": f"Spend ({currency})",
            "spend_per_buyer": f"Spend per buyer ({currency})",
            "repeat_1m": "Again within 1 month", "repeat_3m": "… 3 months", "repeat_6m": "… 6 months",
            "repeat_12m": "… 12 months",
        }
    )
    pct_cols = [c for c in view.columns if c.startswith(("Again", "…"))]
    formats = {"Customers": "{:,.0f}", "Buyers": "{:,.0f}", f"Spend ({currency})": "{:,.0f}",
               f"Spend per buyer ({currency})": "{:,.0f}"} | {c: "{:.0%}" for c in pct_cols}
    return styled(view, formats)


def stage_view(base: CustomerBase, currency: str) -> Styler:
    view = base.stages.assign(stage=base.stages["stage"].map(label))[
        ["stage", "customers", "customer_share", "spend", "spend_share", "spend_per_customer",
         "median_purchase_days", "median_recency_days"]
    ].rename(
        columns={
            "stage": "Stage", "customers": "Customers", "customer_share": "Share of customers",
            "spend": f"Spend ({currency})", "spend_share": "Share of spend",
            "spend_per_customer": f"Spend per customer ({currency})", "median_purchase_days": "Median purchase days",
            "median_recency_days": "Median days since last purchase",
        }
    )
    return styled(
        view,
        {"Customers": "{:,.0f}", "Share of customers": "{:.0%}", f"Spend ({currency})": "{:,.0f}",
         "Share of spend": "{:.0%}", f"Spend per customer ({currency})": "{:,.0f}", "Median purchase days": "{:.0f}",
         "Median days since last purchase": "{:.0f}"},
    )


def spend_view(base: CustomerBase, currency: str) -> Styler:
    q = base.spend["quantiles"].reset_index()
    q["quantile"] = q["quantile"].map(lambda v: "median" if v == 0.5 else f"{v * 100:.0f}th percentile")
    view = q.rename(
        columns={
            "quantile": "Percentile",
            "per_customer": f"Per customer, last {base.spend['window_days']} days ({currency})",
            "per_purchase_day": f"Per purchase day ({currency})",
        }
    )
    return styled(view, {c: "{:,.0f}" for c in view.columns if c != "Percentile"})


def data_summary(base: CustomerBase) -> str:
    m = base.metrics
    return (
        f"{count(m['customers'])} customers ({count(m['buyers'])} with purchases), purchases from "
        f"{m['first_purchase']} to {m['last_purchase']}, {m['cohorts']} join months."
    )



def headline_numbers(base: CustomerBase, currency: str) -> dict[str, object]:
    """Numbers for the site index (labels in the page language)."""
    m = base.metrics
    r3 = m["repeat_by_month"].get(3)
    return {
        "Customers": m["buyers"],
        "Bought again within 3 months": pct(r3) if r3 is not None else "–",
        "Loyal customers": m["stage_counts"]["loyal"],
        "Lapsing customers": m["stage_counts"]["lapsing"],
    }
