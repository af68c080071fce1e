"""Plain-language text for the CLV page, written from the study's numbers.

Each function returns Markdown in the page language ("en" or "zh-CN"; strings live in
``helpers/locales``). The wording is for a marketing team: what the number is, whether it
can be trusted, and what to do with it. Thresholds that turn numbers into words are named
constants so that a page's claims can be traced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.models import activity
from helpers.models.activity import DEFAULT_RULE
from helpers.report.formatting import count, fit_quality, money, pct, signed_pct
from helpers.report.i18n import text

#: P(alive) below which a customer is counted as probably lapsed (with the recency guard of
#: :mod:`helpers.models.activity`, the one place the rule lives).
LAPSED_P_ALIVE = DEFAULT_RULE.alive_threshold
LAPSED_DAYS = DEFAULT_RULE.lapsed_days


def headline(metrics: dict, currency: str = "$", language: str = "en") -> str:
    """The opening paragraph: what the customer base is worth and where the value sits."""
    m, lang = metrics, language
    hold = m["holdout"]
    lead = text(
        "clv.headline.lead", lang,
        customers=count(m["customers"]), clv_total=money(m["clv_total"], currency, lang),
        horizon=m["horizon_months"], revenue=money(m["clv_revenue_total"], currency, lang),
        margin=pct(m["gross_margin"]), discount=pct(m["annual_discount_rate"]),
    )
    concentrated = text("clv.headline.concentrated", lang, top10=pct(m["top10_share"]), top20=pct(m["top20_share"]))
    u = m.get("uncertainty")
    if u:
        lead += " " + text(
            "clv.headline.interval", lang, level=pct(u["level"]), low=money(u["clv_total_low"], currency, lang),
            high=money(u["clv_total_high"], currency, lang), draws=count(u["draws"]),
        )
        concentrated += " " + text(
            "clv.headline.share_interval", lang, level=pct(u["level"]), low=pct(u["top_share_low"]),
            high=pct(u["top_share_high"]),
        )
    lines = [
        lead,
        "",
        "- " + concentrated,
        "- " + text(
            "clv.headline.lapsed", lang, lapsed=count(m["lapsed_customers"]),
            lapsed_share=pct(m["lapsed_share"]), threshold=pct(LAPSED_P_ALIVE), days=LAPSED_DAYS,
            model=m["model_label"],
        ),
        "- " + text(
            "clv.headline.purchases", lang, purchases=count(m["expected_purchases_total"]),
            horizon=m["horizon_months"], spend=money(m["expected_spend_mean"], currency, lang),
        ),
        "- " + text(
            "clv.headline.trust", lang, model=m["model_label"], predicted=count(hold["predicted_total"]),
            actual=count(hold["actual_total"]), error=signed_pct(hold["total_error_pct"]),
            quality=text(f"common.fit_quality.{fit_quality(hold['total_error_pct'])}", lang),
        ),
    ]
    return "\n".join(lines)


def headline_numbers(metrics: dict, currency: str = "$", language: str = "en") -> dict[str, str]:
    """The few numbers the site index shows for a CLV page (plain text, page language)."""
    m, lang = metrics, language
    end = (m.get("settings") or {}).get("observation_end")
    if end:  # the "next 12 months" dated: the day after the data to the end of the horizon
        first = pd.Timestamp(end) + pd.Timedelta(days=1)
        last = first + pd.DateOffset(months=int(m["horizon_months"])) - pd.Timedelta(days=1)
        clv_label = text("clv.index.clv_dated", lang, horizon=m["horizon_months"], start=f"{first:%Y-%m-%d}",
                         end=f"{last:%Y-%m-%d}")
    else:
        clv_label = text("clv.index.clv", lang, horizon=m["horizon_months"])
    numbers = {
        text("clv.index.customers", lang): count(m["customers"]),
        clv_label: money(
            m["clv_total"], currency, lang, markdown=False
        ),
        text("clv.index.top10", lang): pct(m["top10_share"]),
        text("clv.index.holdout", lang): signed_pct(m["holdout"]["total_error_pct"]),
    }
    u = m.get("uncertainty")
    if u:
        items = list(numbers.items())
        items.insert(2, (text("clv.index.clv_interval", lang, level=pct(u["level"])), text(
            "clv.index.range", lang, low=money(u["clv_total_low"], currency, lang, markdown=False),
            high=money(u["clv_total_high"], currency, lang, markdown=False))))
        numbers = dict(items)
    return numbers


#: p-value of the chi-square test below which the histogram is said not to fit.
FIT_TEST_ALPHA = 0.05


def holdout_spend(overall: dict, currency: str = "$", language: str = "en") -> str:
    """Interpretation of the holdout check in money (predicted vs actual spend by decile)."""
    return text(
        "clv.holdout_spend", language, predicted=money(overall["predicted_total"], currency, language),
        actual=money(overall["actual_total"], currency, language), error=signed_pct(overall["error_pct"]),
        top_predicted=money(overall["top_decile_predicted"], currency, language),
        top_actual=money(overall["top_decile_actual"], currency, language),
    )


def uncertainty_method(metrics: dict, language: str = "en") -> str:
    """How the intervals were made and what they cover (the page's method note)."""
    u = metrics.get("uncertainty")
    if not u:
        return ""
    return text("clv.uncertainty_method", language, level=pct(u["level"]), draws=count(u["draws"]), seed=u["seed"])


def period_transactions(table: pd.DataFrame, language: str = "en", fit_test: dict | None = None) -> str:
    """Interpretation of the repeat-purchase histogram, with the chi-square test when given."""
    share_zero = table["actual"].iloc[0] / table["actual"].sum()
    worst = (table["model"] - table["actual"]).abs().idxmax()
    out = text(
        "clv.period_transactions", language, share_zero=pct(share_zero),
        bucket=table["repeat_purchases"].iloc[worst], actual=count(table["actual"].iloc[worst]),
        expected=f"{table['model'].iloc[worst]:,.1f}",
    )
    if fit_test:
        verdict = "rejected" if fit_test["p_value"] < FIT_TEST_ALPHA else "not_rejected"
        out += " " + text(
            "clv.fit_test.text", language, chi2=f"{fit_test['chi_square']:,.1f}", df=fit_test["df"],
            buckets=fit_test["buckets"], p=f"{fit_test['p_value']:.3g}",
            verdict=text(f"clv.fit_test.{verdict}", language, alpha=FIT_TEST_ALPHA),
        )
    return out


def cumulative(table: pd.DataFrame, language: str = "en", time_unit: str = "W") -> str:
    """Interpretation of the cumulative tracking plot, naming the step and date of its last point."""
    last = table.iloc[-1]
    gap = 100 * (last["predicted"] - last["actual"]) / last["actual"] if last["actual"] else float("nan")
    return text(
        "clv.cumulative", language, predicted=f"{last['predicted']:,.1f}", actual=count(last["actual"]),
        gap=signed_pct(gap), step=int(last["step"]), unit=text(f"common.units.{time_unit}", language),
        date=pd.Timestamp(last["date"]).strftime("%Y-%m-%d"),
    )


def conditional_expectations(table: pd.DataFrame, language: str = "en") -> str:
    """Interpretation of the conditional-expectations plot."""
    valid = table.dropna()
    under = valid[valid["predicted"] < valid["actual"]]
    biggest = valid.loc[(valid["predicted"] - valid["actual"]).abs().idxmax()]
    return text(
        "clv.conditional", language, under=len(under), groups=len(valid),
        bucket=biggest["calibration_purchases"], actual=f"{biggest['actual']:.2f}",
        predicted=f"{biggest['predicted']:.2f}",
    )


def holdout_errors(metrics: dict, language: str = "en") -> str:
    """Interpretation of the per-customer error histogram."""
    return text(
        "clv.holdout_errors", language, mae=f"{metrics['mae']:.2f}", rmse=f"{metrics['rmse']:.2f}",
        correlation=f"{metrics['correlation']:.2f}",
    )


def model_comparison(table: pd.DataFrame, chosen: str, language: str = "en") -> str:
    """Interpretation of the model comparison table."""
    ok = table.dropna(subset=["total_error_pct"])
    if ok.empty:
        return text("clv.comparison.none", language)
    best_total = ok.loc[ok["total_error_pct"].abs().idxmin()]
    best_ll = ok.loc[ok["log_likelihood"].idxmax()]
    chosen_row = table[table["key"] == chosen]
    chosen_label = chosen_row["model"].iloc[0] if len(chosen_row) else chosen
    intro = text(
        "clv.comparison.intro", language, closest=best_total["model"],
        error=signed_pct(best_total["total_error_pct"]), best_ll=best_ll["model"],
    )
    if best_total["key"] != chosen:
        return intro + " " + text("clv.comparison.switch", language, chosen=chosen_label, key=best_total["key"])
    return intro + " " + text("clv.comparison.same", language, chosen=chosen_label)


def spend_independence(result: dict, language: str = "en") -> str:
    """Interpretation of the Gamma-Gamma independence check."""
    verdict = text("clv.independence.weak" if result["acceptable"] else "clv.independence.strong", language)
    return text(
        "clv.independence.text", language, buyers=count(result["repeat_buyers"]),
        correlation=f"{result['correlation']:.2f}", verdict=verdict, threshold=result["threshold"],
    )


def concentration(metrics: dict, language: str = "en") -> str:
    """Interpretation of the value-concentration curve."""
    return text(
        "clv.concentration", language, top10=pct(metrics["top10_share"]), top20=pct(metrics["top20_share"])
    )


def p_alive(metrics: dict, language: str = "en") -> str:
    """Interpretation of the P(alive) histogram."""
    return text(
        "clv.p_alive", language, lapsed=count(metrics["lapsed_customers"]),
        lapsed_share=pct(metrics["lapsed_share"]), threshold=pct(LAPSED_P_ALIVE), days=LAPSED_DAYS,
    )


def actions(metrics: dict, currency: str = "$", language: str = "en") -> str:
    """What to do with the results, in order of value."""
    lang = language
    items = [
        text("clv.actions.protect", lang, customers=count(metrics["customers"] * 0.1), share=pct(metrics["top10_share"])),
        text("clv.actions.win_back", lang, threshold=pct(LAPSED_P_ALIVE), days=LAPSED_DAYS),
        text("clv.actions.grow", lang),
        text(
            "clv.actions.bound", lang, clv_mean=money(metrics["clv_mean"], currency, lang),
            horizon=metrics["horizon_months"],
        ),
        text("clv.actions.rerun", lang),
    ]
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1))


def lapsed_mask(p_alive_values: np.ndarray, days_since_last: np.ndarray) -> np.ndarray:
    """Customers counted as lapsed on the pages (:func:`helpers.models.activity.lapsed_mask`)."""
    return activity.lapsed_mask(p_alive_values, days_since_last)
