"""Plain-language text and reader-facing tables of the customer-base page.

Every function takes numbers from :mod:`helpers.studies.customer_base.analysis` and returns Markdown (or a
styled table) in the page language ("en" or "zh-CN"; strings live in
``helpers/locales/<language>/base.yaml``); thresholds that turn numbers into words are
named constants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.formatting import count, money, pct
from helpers.report.i18n import text
from helpers.report.labels import label
from helpers.report.page_text import listing, numbered, semicolons, sentences
from helpers.report.tables import labelled_table, styled
from helpers.studies.customer_base.analysis import (
    DAYS_PER_MONTH,
    CustomerBase,
    LifecycleRules,
)

#: A difference in repeat share (percentage points) below which cohorts are "alike".
SIMILAR_COHORT_PP = 0.05

#: How the notebook is named in messages about missing inputs.
NOTEBOOK = "customer-base"


def title(language: str = "en") -> str:
    return text("base.title.heading", language) + "\n\n" + text("base.title.intro", language)


def _repeat(metrics: dict, month: int) -> float | None:
    return metrics["repeat_by_month"].get(month)


def headline(base: CustomerBase, currency: str, language: str = "en") -> str:
    lang = language
    m = base.metrics
    s = m["stage_shares"]
    c = m["stage_counts"]
    stages = base.stages.set_index("stage")
    r3, r12 = _repeat(m, 3), _repeat(m, 12)
    if r3 is not None and r12 is not None:
        back = text("base.headline.back_both", lang, r3=pct(r3), r12=pct(r12))
    elif r3 is not None:
        back = text("base.headline.back_3", lang, share=pct(r3))
    elif r12 is not None:
        back = text("base.headline.back_12", lang, share=pct(r12))
    else:
        back = text("base.headline.too_short", lang)
    lines = [
        text(
            "base.headline.lead", lang, buyers=count(m["buyers"]), spend=money(m["total_spend"], currency, lang),
            first=m["first_purchase"], end=m["observation_end"], one_time=pct(m["one_time_share"]), back=back,
        ),
        "",
    ]
    if "loyal" in stages.index:
        lines.append("- " + text(
            "base.headline.loyal", lang, customers=count(c["loyal"]), share=pct(s["loyal"]),
            spend_share=pct(stages.loc["loyal", "spend_share"]),
        ))
    at_risk = c["lapsing"]
    if at_risk:
        lines.append("- " + text(
            "base.headline.lapsing", lang, customers=count(at_risk), share=pct(s["lapsing"]),
            from_days=base.rules.lapsing_after_days + 1, to_days=base.rules.churned_after_days,
            spend=money(stages.loc["lapsing", "spend"], currency, lang),
        ))
    new = text("base.headline.new", lang, customers=count(c["new"]), share=pct(s["new"])) if c["new"] else ""
    lines.append("- " + text(
        "base.headline.churned", lang, customers=count(c["churned"]), share=pct(s["churned"]),
        days=base.rules.churned_after_days, new=new,
    ))
    sp = m["spend"]
    if sp["buyers_in_window"]:
        lines.append("- " + text(
            "base.headline.spend", lang, days=sp["window_days"], top10=pct(sp["top10_share"]),
            median=money(sp["median_per_customer"], currency, lang),
        ))
    return "\n".join(lines)


def actions(base: CustomerBase, currency: str, language: str = "en") -> str:
    lang = language
    m, r = base.metrics, base.rules
    c = m["stage_counts"]
    stages = base.stages.set_index("stage")
    r1, r12 = _repeat(m, 1), _repeat(m, 12)
    early = text("base.actions.early", lang, share=pct(r1 / r12)) if r1 is not None and r12 else ""
    items = []
    if c["lapsing"]:
        items.append(text("base.actions.win_back", lang, customers=count(c["lapsing"])))
    if c["new"]:
        items.append(sentences([text("base.actions.onboard", lang, customers=count(c["new"])), early], lang))
    if c["active"]:
        items.append(text("base.actions.grow", lang, customers=count(c["active"]), purchases=r.loyal_min_purchases))
    if c["loyal"]:
        spend_per = stages.loc["loyal", "spend_per_customer"] if "loyal" in stages.index else np.nan
        items.append(text("base.actions.loyal", lang, customers=count(c["loyal"]), spend=money(spend_per, currency, lang)))
    if c["churned"]:
        items.append(text("base.actions.churned", lang, customers=count(c["churned"])))
    items.append(text("base.actions.rerun", lang))
    return numbered(items)


def cohorts(base: CustomerBase, language: str = "en") -> str:
    lang = language
    table = base.cohorts.dropna(subset=["repeat_3m"]) if "repeat_3m" in base.cohorts else pd.DataFrame()
    parts = [text("base.cohorts.intro", lang)]
    if len(table) >= 2:
        best = table.loc[table["repeat_3m"].idxmax()]
        worst = table.loc[table["repeat_3m"].idxmin()]
        parts.append(text(
            "base.cohorts.best", lang, best=best["cohort"], best_share=pct(best["repeat_3m"]),
            worst=worst["cohort"], worst_share=pct(worst["repeat_3m"]),
        ))
        if len(table) >= 6:
            old, new = table["repeat_3m"].head(3).mean(), table["repeat_3m"].tail(3).mean()
            if abs(new - old) < SIMILAR_COHORT_PP:
                trend = "same"
            else:
                trend = "higher" if new > old else "lower"
            verdict = "verdict_same" if trend == "same" else "verdict_change"
            parts.append(text(
                "base.cohorts.trend", lang, new=pct(new), old=pct(old), trend=text(f"base.cohorts.{trend}", lang),
                verdict=text(f"base.cohorts.{verdict}", lang),
            ))
    return sentences(parts, lang)


def repeat_curves(base: CustomerBase, language: str = "en") -> str:
    lang = language
    m = base.metrics["repeat_by_month"]
    points = [(k, v) for k, v in m.items() if v is not None and k in (1, 3, 6, 12)]
    if not points:
        return text("base.repeat.too_short", lang)
    listed = listing(
        [text("base.repeat.point_many" if k > 1 else "base.repeat.point_one", lang, share=pct(v), months=k)
         for k, v in points],
        lang,
    )
    parts = [text("base.repeat.intro", lang, points=listed, days=DAYS_PER_MONTH)]
    values = np.array([v for v in m.values() if v is not None])
    if len(values) >= 3:
        gains = np.diff(np.concatenate([[0.0], values]))
        parts.append(text("base.repeat.gains", lang, first=pct(gains[0]), month=len(values), last=pct(gains[-1], 1)))
    late = base.metrics.get("late_repeat")
    if late and late["customers"]:
        advice = "base.repeat.remind_late" if late["share"] >= 0.2 else "base.repeat.act_early"
        parts.append(text(
            "base.repeat.late", lang, customers=count(late["customers"]), early=late["early_months"],
            late=late["late_months"], share=pct(late["share"]), advice=text(advice, lang),
        ))
    else:
        parts.append(text("base.repeat.timing", lang))
    return sentences(parts, lang)


def stage_rules(rules: LifecycleRules, language: str = "en") -> str:
    """The lifecycle rules as stated on the page (first matching rule wins)."""
    lang, r = language, rules
    return "\n".join(
        [
            text("base.rules.intro", lang),
            "",
            numbered([
                text("base.rules.prospect", lang),
                text("base.rules.churned", lang, days=r.churned_after_days),
                text("base.rules.lapsing", lang, days=r.lapsing_after_days),
                text("base.rules.new", lang, days=r.new_within_days),
                text("base.rules.loyal", lang, purchases=r.loyal_min_purchases, days=r.loyal_window_days),
                text("base.rules.active", lang, days=r.lapsing_after_days),
            ]),
        ]
    )


def stages(base: CustomerBase, language: str = "en") -> str:
    lang = language
    st = base.stages.set_index("stage")
    parts = [
        text("base.stages.part", lang, stage=label(stage, lang), customers=pct(st.loc[stage, "customer_share"]),
             spend=pct(st.loc[stage, "spend_share"]))
        for stage in st.index
    ]
    out = [text("base.stages.intro", lang, parts=semicolons(parts, lang))]
    if "loyal" in st.index and st.loc["loyal", "customer_share"] > 0:
        ratio = st.loc["loyal", "spend_share"] / st.loc["loyal", "customer_share"]
        out.append(text("base.stages.loyal_ratio", lang, ratio=f"{ratio:.1f}"))
    if "churned" in st.index:
        out.append(text("base.stages.churned_note", lang, days=base.rules.churned_after_days))
    return sentences(out, lang)


def spend(base: CustomerBase, currency: str, language: str = "en") -> str:
    lang = language
    sp = base.spend
    if not sp["buyers_in_window"]:
        return text("base.spend.none", lang, days=sp["window_days"])
    skew = sp["mean_per_customer"] / sp["median_per_customer"] if sp["median_per_customer"] else float("nan")
    return text(
        "base.spend.text", lang, buyers=count(sp["buyers_in_window"]), days=sp["window_days"],
        median=money(sp["median_per_customer"], currency, lang), mean=money(sp["mean_per_customer"], currency, lang),
        skew=f"{skew:.1f}", top10=pct(sp["top10_share"]), top20=pct(sp["top20_share"]),
        per_day=money(sp["median_per_purchase_day"], currency, lang),
    )


def method(
    base: CustomerBase, *, returns_policy: str, has_customers_file: bool, cohort_months: int, language: str = "en"
) -> str:
    lang = language
    source = text("base.method.cohort_file" if has_customers_file else "base.method.cohort_first", lang)
    lines = [
        text("base.method.end", lang, end=base.metrics["observation_end"]),
        text("base.method.purchase_day", lang),
        text("base.method.returns", lang, policy=returns_policy),
        text("base.method.cohort", lang, source=source),
        text("base.method.repeat", lang, days=DAYS_PER_MONTH, months=cohort_months),
        text("base.method.stages", lang),
        text("base.method.spend", lang, days=base.spend["window_days"]),
    ]
    return "\n".join(f"- {line}" for line in lines)


# ------------------------------------------------------------------------ tables


def _headers(columns: list[str], language: str, **values: object) -> dict[str, str]:
    return {c: text(f"base.table.{c}", language, **values) for c in columns}


def cohort_view(base: CustomerBase, currency: str, language: str = "en") -> Styler:
    repeat_cols = [c for c in ("repeat_1m", "repeat_3m", "repeat_6m", "repeat_12m") if c in base.cohorts]
    headers = _headers(["cohort", "customers", "buyers", "spend", "spend_per_buyer", *repeat_cols], language,
                       currency=currency)
    view = base.cohorts.rename(columns=headers)
    formats = {headers["customers"]: "{:,.0f}", headers["buyers"]: "{:,.0f}", headers["spend"]: "{:,.0f}",
               headers["spend_per_buyer"]: "{:,.0f}"} | {headers[c]: "{:.0%}" for c in repeat_cols}
    return styled(view, formats)


def stage_view(base: CustomerBase, currency: str, language: str = "en") -> Styler:
    columns = ["stage", "customers", "customer_share", "spend", "spend_share", "spend_per_customer",
               "median_purchase_days", "median_recency_days"]
    headers = _headers(columns, language, currency=currency)
    formats = {"customers": "{:,.0f}", "customer_share": "{:.0%}", "spend": "{:,.0f}", "spend_share": "{:.0%}",
               "spend_per_customer": "{:,.0f}", "median_purchase_days": "{:.0f}", "median_recency_days": "{:.0f}"}
    return labelled_table(base.stages, "stage", lambda s: label(s, language), columns, headers, formats)


def spend_view(base: CustomerBase, currency: str, language: str = "en") -> Styler:
    q = base.spend["quantiles"].reset_index()
    q["quantile"] = q["quantile"].map(
        lambda v: text("base.table.median", language) if v == 0.5
        else text("base.table.percentile", language, value=f"{v * 100:.0f}")
    )
    headers = _headers(["quantile", "per_customer", "per_purchase_day"], language, currency=currency,
                       days=base.spend["window_days"])
    view = q.rename(columns=headers)
    return styled(view, {c: "{:,.0f}" for c in view.columns if c != headers["quantile"]})


def data_summary(base: CustomerBase, language: str = "en") -> str:
    m = base.metrics
    return text(
        "base.data_summary", language, customers=count(m["customers"]), buyers=count(m["buyers"]),
        first=m["first_purchase"], last=m["last_purchase"], cohorts=m["cohorts"],
    )


def headline_numbers(base: CustomerBase, currency: str, language: str = "en") -> dict[str, object]:
    """Numbers for the site index (labels in the page language)."""
    m = base.metrics
    r3 = m["repeat_by_month"].get(3)
    return {
        text("base.index.customers", language): m["buyers"],
        text("base.index.repeat_3m", language): pct(r3) if r3 is not None else "–",
        text("base.index.loyal", language): m["stage_counts"]["loyal"],
        text("base.index.lapsing", language): m["stage_counts"]["lapsing"],
    }
