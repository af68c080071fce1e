"""Plain-language text and reader-facing tables of the service page."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from .labels import label
from .narrative import count, pct
from .service import CONFIDENCE, NOT_RECORDED, Promise, ServiceStudy
from .tables import styled
from .tables_io import CONTACT_CHANNEL, ISSUE_TYPE, SEVERITY

#: Breach rate at or below which a promise counts as "kept" on the page.
KEPT_RATE = 0.05
#: ... and above which it is "often broken".
OFTEN_BROKEN_RATE = 0.20
#: Cells of the channel x severity table with fewer tickets are not singled out.
MIN_CELL_TICKETS = 10
#: How the notebook is named in messages about missing inputs.
NOTEBOOK = "service"


def title() -> str:
    return (
        "# Service and feedback loop: do we keep our service promises, what do customers complain about, and "
        "do broken promises cost repeat purchases?\n\n"
        "This page checks every service ticket against the response and resolution promises, shows where "
        "promises are broken (contact channel and severity tier), which problems come up most and how they "
        "develop, and whether customers whose ticket broke a promise buy again less often."
    )


def hours(value: float) -> str:
    """Hours for reading: 15 min, 24 h, 3.5 days."""
    if not np.isfinite(value):
        return "–"
    if value < 1:
        return f"{value * 60:.0f} min"
    if value < 72:
        return f"{value:.0f} h" if value >= 10 else f"{value:.1f} h"
    return f"{value / 24:.1f} days"


def _pct(value: float) -> str:
    """A share, or "–" when it cannot be measured (no such times in the file)."""
    return pct(value) if np.isfinite(value) else "–"


def _verdict(rate: float) -> str:
    if not np.isfinite(rate):
        return "cannot be judged yet"
    if rate <= KEPT_RATE:
        return "kept"
    if rate <= OFTEN_BROKEN_RATE:
        return "mostly kept"
    return "often broken"


def _promise_text(p: Promise) -> str:
    return f"first response within {hours(p.response_hours)} and resolution within {hours(p.resolution_hours)}"


def _worst_cell(study: ServiceStudy) -> pd.Series | None:
    cells = study.by_channel_severity
    cells = cells[(cells["tickets"] >= MIN_CELL_TICKETS) & cells["either_breach_rate"].notna()]
    if cells.empty:
        return None
    return cells.loc[cells["either_breach_rate"].idxmax()]


def _after_sentence(after: dict | None) -> str | None:
    if not after:
        return None
    b, m = after["groups"]["breached"], after["groups"]["met"]
    if not b["customers"] or not m["customers"]:
        return None
    lo, hi = after["difference_low"], after["difference_high"]
    if hi < 0 or lo > 0:
        verdict = "the interval excludes zero, so the gap is unlikely to be chance alone"
    else:
        verdict = "the interval includes zero, so these data cannot tell the groups apart"
    return (
        f"{pct(b['repeat_rate'])} of customers whose first ticket broke a promise bought again within "
        f"{after['followup_days']} days, against {pct(m['repeat_rate'])} when promises were kept: a difference of "
        f"{after['difference'] * 100:+.0f} percentage points ({pct(CONFIDENCE)} interval {lo * 100:+.0f} to "
        f"{hi * 100:+.0f}; {verdict})"
    )


def headline(study: ServiceStudy) -> str:
    m, p, alt = study.metrics, study.promise, study.alternative
    comp = study.comparison.set_index("name")
    parts = []
    if np.isfinite(m["response_breach_rate"]):
        parts.append((f"{pct(m['response_breach_rate'])} missed the {hours(p.response_hours)} response promise",
                      f"the response promise is {_verdict(m['response_breach_rate'])}"))
    if np.isfinite(m["resolution_breach_rate"]):
        parts.append((f"{pct(m['resolution_breach_rate'])} the {hours(p.resolution_hours)} resolution promise",
                      f"the resolution promise is {_verdict(m['resolution_breach_rate'])}"))
    if parts:
        first = f"**Of {count(m['tickets'])} tickets, " + " and ".join(a for a, _ in parts) + ": " + ", ".join(
            b for _, b in parts) + ".**"
    else:
        first = f"**{count(m['tickets'])} tickets, but none has a response or resolution yet.**"
    lines = [
        first,
        "",
        f"- **Typical ticket:** first response after {hours(m['median_response_hours'])}, resolved after "
        f"{hours(m['median_resolution_hours'])} (medians).",
        f"- **The stricter promise** ({_promise_text(alt)}) would be broken by "
        f"{_pct(comp.loc[alt.name, 'either'])} of tickets, against {_pct(comp.loc[p.name, 'either'])} today.",
    ]
    worst = _worst_cell(study)
    if worst is not None:
        lines.append(
            f"- **Weakest spot:** {label(worst[SEVERITY])} tickets via {label(worst[CONTACT_CHANNEL])}: "
            f"{pct(worst['either_breach_rate'])} broke a promise ({count(worst['tickets'])} tickets)."
        )
    if len(study.issues):
        top = study.issues.iloc[0]
        lines.append(
            f"- **Most frequent problem:** {label(top[ISSUE_TYPE])}, {pct(top['share'])} of tickets."
        )
    after = _after_sentence(study.after)
    if after:
        lines.append(f"- **After a ticket:** {after}. This is an association, not proof that the delay caused it.")
    return "\n".join(lines)


def actions(study: ServiceStudy) -> str:
    items = []
    worst = _worst_cell(study)
    if worst is not None:
        items.append(
            f"**Fix the weakest spot first:** {label(worst[SEVERITY]).lower()} tickets arriving via "
            f"{label(worst[CONTACT_CHANNEL])} break a promise {pct(worst['either_breach_rate'])} of the time. Route "
            "them to the specialist team on arrival and track them daily."
        )
    if study.metrics["resolution_breach_rate"] > study.metrics["response_breach_rate"]:  # False when either is NaN
        items.append(
            "**Resolution is the bottleneck, not the first reply:** agree hand-over times between the front line, "
            "the special team and logistics, and escalate tickets still open at half the promise."
        )
    if len(study.issues):
        top = study.issues.head(2)
        names = " and ".join(label(x).lower() for x in top[ISSUE_TYPE])
        items.append(
            f"**Feed the top problems back:** {names} make up {pct(top['share'].sum())} of tickets. Send the monthly "
            "counts to logistics and product, and check the trend below after each fix."
        )
    if study.per_order_channel is not None and len(study.per_order_channel):
        hi = study.per_order_channel.iloc[0]
        items.append(
            f"**Staff for where tickets come from:** {label(hi['channel'])} orders raise "
            f"{hi['tickets_per_1000_orders']:.0f} tickets per 1,000 orders, the most of any channel."
        )
    after = study.after
    if after and after["groups"]["breached"]["customers"]:
        items.append(
            "**Follow up after a broken promise:** an apology and a small goodwill gesture to customers whose ticket "
            "was late costs little; the repeat-rate gap on this page is an association, so test the follow-up on a "
            "random half before rolling it out."
        )
    alt = study.comparison.set_index("name").loc[study.alternative.name]
    items.append(
        f"**Choose the promise you can keep:** the {_promise_text(study.alternative)} standard would be broken by "
        f"{_pct(alt['either'])} of tickets with today's speed; publish it only with the staffing to match."
    )
    return "\n".join(f"{i}. {t}" for i, t in enumerate(items, 1))


def promises(study: ServiceStudy) -> str:
    m = study.metrics
    comp = study.comparison.set_index("name")
    p, alt = study.promise, study.alternative
    pending = m["pending_response"] + m["pending_resolution"]
    text = (
        f"The curves show, for every number of hours, the share of tickets that had their first response "
        f"(left) or were resolved (right) by then; the solid line is the promise ({_promise_text(p)}), the dashed "
        f"line the alternative ({_promise_text(alt)}). Where a curve crosses a line is the share that kept it. "
        f"Today {_pct(1 - comp.loc[p.name, 'response'])} of first responses and "
        f"{_pct(1 - comp.loc[p.name, 'resolution'])} of resolutions keep the promise; under the alternative it would "
        f"be {_pct(1 - comp.loc[alt.name, 'response'])} and {_pct(1 - comp.loc[alt.name, 'resolution'])}."
    )
    if pending:
        text += (
            f" {count(pending)} response or resolution outcomes are still pending (open tickets not yet past the "
            "promise) and are left out of the rates."
        )
    return text


def breaches(study: ServiceStudy) -> str:
    sev = study.by_severity.set_index(SEVERITY)
    ch = study.by_channel.set_index(CONTACT_CHANNEL).dropna(subset=["either_breach_rate"])
    ch = ch[ch["tickets"] >= MIN_CELL_TICKETS] if (ch["tickets"] >= MIN_CELL_TICKETS).any() else ch
    parts = [
        "Each cell is the share of tickets of one contact channel and severity tier that broke at least one promise "
        f"(n = tickets). Cells with few tickets swing a lot: one late ticket out of two is 50%."
    ]
    if len(sev) >= 2:
        listed = ", ".join(f"{label(k)} {pct(r)}" for k, r in sev["either_breach_rate"].items() if np.isfinite(r))
        parts.append(f"By severity: {listed}.")
    if len(ch) >= 2:
        worst, best = ch["either_breach_rate"].idxmax(), ch["either_breach_rate"].idxmin()
        parts.append(
            f"By channel, {label(worst)} breaks promises most often ({pct(ch.loc[worst, 'either_breach_rate'])}) and "
            f"{label(best)} least ({pct(ch.loc[best, 'either_breach_rate'])})."
        )
    return " ".join(parts)


def issues(study: ServiceStudy) -> str:
    iss = study.issues
    if iss.empty:
        return "No tickets have an issue type."
    top = iss.iloc[0]
    text = (
        f"{label(top[ISSUE_TYPE])} is the most frequent problem ({count(top['tickets'])} tickets, "
        f"{pct(top['share'])})."
    )
    rated = iss.dropna(subset=["breach_rate"])
    rated = rated[rated["tickets"] >= MIN_CELL_TICKETS]
    if len(rated) >= 2:
        slow = rated.loc[rated["breach_rate"].idxmax()]
        text += (
            f" Among issues with at least {MIN_CELL_TICKETS} tickets, {label(slow[ISSUE_TYPE])} breaks promises most "
            f"often ({pct(slow['breach_rate'])})."
        )
    if "mean_satisfaction" in iss and iss["mean_satisfaction"].notna().any():
        low = iss.loc[iss["mean_satisfaction"].idxmin()]
        text += f" Satisfaction is lowest for {label(low[ISSUE_TYPE])} ({low['mean_satisfaction']:.1f} of 5)."
    if (iss[ISSUE_TYPE] == NOT_RECORDED).all():
        text = "The tickets file has no issue type column, so problems cannot be grouped."
    return text


def trend(study: ServiceStudy, recent_months: int) -> str:
    t = study.trend
    per_orders = "recent_per_1000_orders" in t
    basis = "per 1,000 orders" if per_orders else "per month"
    up = t[t["direction"] == "up"]
    down = t[t["direction"] == "down"]
    text = (
        f"Bars stack the tickets of each month by issue ({basis}). The table compares the last {recent_months} months "
        f"with the {recent_months} before, as a rate ratio with a {pct(CONFIDENCE)} interval. "
    )
    if up.empty and down.empty:
        text += (
            "No issue changed clearly: every interval includes \"no change\". With few tickets a month, only "
            "large shifts can be told apart from chance."
        )
    else:
        if len(up):
            text += "Clearly more frequent now: " + ", ".join(
                f"{label(r.issue_type)} (×{r.rate_ratio:.1f})" for r in up.itertuples()) + ". "
        if len(down):
            text += "Clearly less frequent now: " + ", ".join(
                f"{label(r.issue_type)} (×{r.rate_ratio:.1f})" for r in down.itertuples()) + "."
    return text


def per_order_channel(study: ServiceStudy) -> str:
    t = study.per_order_channel
    if t is None or t.empty:
        return ""
    hi, lo = t.iloc[0], t.iloc[-1]
    unmatched = t.attrs.get("unmatched_tickets", 0)
    text = (
        f"Tickets are linked to the order they are about. {label(hi['channel'])} orders raise "
        f"{hi['tickets_per_1000_orders']:.1f} tickets per 1,000 orders, {label(lo['channel'])} orders "
        f"{lo['tickets_per_1000_orders']:.1f}."
    )
    if unmatched:
        text += f" {count(unmatched)} tickets name an order that is not in the transactions and are left out here."
    return text


def after(study: ServiceStudy) -> str:
    a = study.after
    if a is None:
        return (
            "*Not shown: this needs the transactions file (`data_path`) to see whether customers bought again "
            "after a ticket.*"
        )
    sentence = _after_sentence(a)
    if sentence is None:
        return "Too few customers have a ticket followed by a full observation window to compare the groups."
    return (
        f"For each customer, their first ticket opened at least {a['followup_days']} days before the observation "
        f"end counts ({count(a['eligible_tickets'])} tickets qualify; {count(a['tickets_too_recent'])} are too "
        f"recent"
        + (f"; {count(a['customers_not_in_transactions'])} customers with tickets are missing from the transactions "
           "and are left out" if a.get("customers_not_in_transactions") else "")
        + f"). {sentence}. Churn after a ticket (no purchase in the window) is the complement. "
        "**Association, not causation:** tickets that break promises are more often complex or major, and come "
        "from different channels and customers; a customer who was about to leave anyway may also be the one with "
        "the hardest problem. Only a test (for example a goodwill follow-up for a random half of late tickets) can "
        "show how much a broken promise itself costs."
    )


def method(study: ServiceStudy, *, followup_days: int, recent_months: int, has_transactions: bool) -> str:
    p, alt = study.promise, study.alternative
    lines = [
        f"- **Promises** (`response_hours`, `resolution_hours`): {_promise_text(p)}; the alternative "
        f"(`alt_response_hours`, `alt_resolution_hours`) is {_promise_text(alt)}. Defaults from the source "
        "documents: 24 h / 48 h in one, 15 min / 24 h in another.",
        "- **Times** are measured from the opening of the ticket: response = first response − opened, resolution = "
        "resolved − opened.",
        "- **Met** means at most the promised time: a response after exactly 24 h keeps a 24 h promise. A ticket "
        "still open at the observation end has broken the promise if more time than promised has already passed, "
        "and is **pending** (left out of the rates) otherwise.",
        "- **Breach rate** = breached / (met + breached). A ticket *broke a promise* when its response or its "
        "resolution did.",
        f"- **Issue trend**: the last {recent_months} months against the {recent_months} before; counts are "
        + ("divided by the month's orders; " if has_transactions else "")
        + f"the rate ratio's {pct(CONFIDENCE)} interval assumes Poisson counts. \"Up\" or \"down\" only when the "
        "interval excludes 1.",
    ]
    if has_transactions:
        lines.append(
            f"- **After a ticket**: each customer's first ticket opened at least {followup_days} days before the "
            f"observation end (`followup_days`); *bought again* = a purchase after the opening time and within "
            f"{followup_days} days. Intervals: Wilson for each rate, Newcombe's hybrid score for the difference."
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------ tables


def comparison_view(study: ServiceStudy) -> Styler:
    c = study.comparison
    names = {study.promise.name: "Promise", study.alternative.name: "Alternative"}
    view = pd.DataFrame(
        {
            "Standard": c["name"].map(names),
            "Response within": c["response_hours"].map(hours),
            "Resolution within": c["resolution_hours"].map(hours),
            "Responses late": c["response"],
            "Resolutions late": c["resolution"],
            "Tickets breaking either": c["either"],
        }
    )
    return styled(view, {"Responses late": "{:.1%}", "Resolutions late": "{:.1%}", "Tickets breaking either": "{:.1%}"})


def breach_view(table: pd.DataFrame, by: list[str]) -> Styler:
    view = table.copy()
    for col in by:
        view[col] = view[col].map(label)
    view = view[by + ["tickets", "response_breach_rate", "resolution_breach_rate", "either_breach_rate",
                      "median_response_hours", "median_resolution_hours"]]
    view["median_response_hours"] = view["median_response_hours"].map(hours)
    view["median_resolution_hours"] = view["median_resolution_hours"].map(hours)
    view = view.rename(
        columns={
            CONTACT_CHANNEL: "Contact channel", SEVERITY: "Severity", "tickets": "Tickets",
            "response_breach_rate": "Response late", "resolution_breach_rate": "Resolution late",
            "either_breach_rate": "Either late", "median_response_hours": "Median response",
            "median_resolution_hours": "Median resolution",
        }
    )
    return styled(view, {"Tickets": "{:,.0f}", "Response late": "{:.0%}", "Resolution late": "{:.0%}",
                         "Either late": "{:.0%}"})


def issues_view(study: ServiceStudy) -> Styler:
    iss = study.issues
    view = pd.DataFrame(
        {
            "Issue": iss[ISSUE_TYPE].map(label),
            "Tickets": iss["tickets"],
            "Share": iss["share"],
            "Broke a promise": iss["breach_rate"],
            "Median resolution": iss["median_resolution_hours"].map(hours),
            "Mean satisfaction (1–5)": iss["mean_satisfaction"],
        }
    )
    return styled(view, {"Tickets": "{:,.0f}", "Share": "{:.0%}", "Broke a promise": "{:.0%}",
                         "Mean satisfaction (1–5)": "{:.2f}"})


def trend_view(study: ServiceStudy, recent_months: int) -> Styler:
    t = study.trend
    words = {"up": "more frequent", "down": "less frequent", "flat": "no clear change"}
    data = {
        "Issue": t["issue_type"].map(label),
        f"Last {recent_months} months": t["recent"],
        f"{recent_months} months before": t["earlier"],
    }
    if "recent_per_1000_orders" in t:
        data["Per 1,000 orders, last"] = t["recent_per_1000_orders"]
        data["Per 1,000 orders, before"] = t["earlier_per_1000_orders"]
    data["Rate ratio"] = t["rate_ratio"]
    data[f"{pct(CONFIDENCE)} interval"] = [
        f"{lo:.2f}–{hi:.2f}" if np.isfinite(lo) else "–" for lo, hi in zip(t["ratio_low"], t["ratio_high"])
    ]
    data["Reading"] = t["direction"].map(words)
    view = pd.DataFrame(data)
    return styled(view, {"Per 1,000 orders, last": "{:.2f}", "Per 1,000 orders, before": "{:.2f}", "Rate ratio": "{:.2f}"})


def per_order_channel_view(study: ServiceStudy) -> Styler | None:
    t = study.per_order_channel
    if t is None:
        return None
    view = pd.DataFrame(
        {"Sales channel of the order": t["channel"].map(label), "Orders": t["orders"], "Tickets": t["tickets"],
         "Tickets per 1,000 orders": t["tickets_per_1000_orders"]}
    )
    return styled(view, {"Orders": "{:,.0f}", "Tickets": "{:,.0f}", "Tickets per 1,000 orders": "{:.1f}"})


def after_view(study: ServiceStudy) -> Styler | None:
    a = study.after
    if a is None:
        return None
    interval = f"{pct(CONFIDENCE)} interval"
    rows = []
    for key, name in (("met", "Promises kept"), ("breached", "A promise broken")):
        g = a["groups"][key]
        rate = g["repeat_rate"]
        rows.append(
            {"First ticket": name, "Customers": f"{g['customers']:,}", "Bought again": f"{g['bought_again']:,}",
             "Repeat rate": f"{rate:.0%}" if np.isfinite(rate) else "–",
             interval: _interval(g["repeat_low"], g["repeat_high"]),
             "Churn after the ticket": f"{1 - rate:.0%}" if np.isfinite(rate) else "–"}
        )
    d = a["difference"]
    rows.append(
        {"First ticket": "Difference (broken − kept)", "Customers": "", "Bought again": "",
         "Repeat rate": f"{d * 100:+.0f} points" if np.isfinite(d) else "–",
         interval: _interval(a["difference_low"], a["difference_high"], signed=True),
         "Churn after the ticket": f"{-d * 100:+.0f} points" if np.isfinite(d) else "–"}
    )
    return styled(pd.DataFrame(rows))


def _interval(low: float, high: float, signed: bool = False) -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "–"
    if signed:
        return f"{low * 100:+.0f} to {high * 100:+.0f} points"
    return f"{low:.0%}–{high:.0%}"


def data_summary(study: ServiceStudy) -> str:
    m = study.metrics
    return (
        f"{count(m['tickets'])} tickets from {count(m['customers'])} customers, opened {m['first_opened']} to "
        f"{m['last_opened']}; {count(m['pending_response'])} responses and {count(m['pending_resolution'])} "
        f"resolutions pending."
    )



def headline_numbers(study: ServiceStudy) -> dict[str, object]:
    """Numbers for the site index (labels in the page language)."""
    m, p = study.metrics, study.promise
    return {
        "Tickets": m["tickets"],
        f"Responses later than {hours(p.response_hours)}": _pct(m["response_breach_rate"]),
        f"Resolutions later than {hours(p.resolution_hours)}": _pct(m["resolution_breach_rate"]),
    }
