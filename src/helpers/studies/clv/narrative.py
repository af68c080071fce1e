"""Plain-language text for the CLV page, written from the study's numbers.

Each function returns Markdown in the page language ("en" or "zh-CN"; strings live in
``helpers/locales``). The wording is for a marketing team: what the number is, whether it
can be trusted, and what to do with it. Thresholds that turn numbers into words are named
constants so that a page's claims can be traced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.report.formatting import count, fit_quality, money, pct, signed_pct
from helpers.report.i18n import text

#: P(alive) below which a customer is counted as probably lapsed.
LAPSED_P_ALIVE = 0.5


def headline(metrics: dict, currency: str = "$", language: str = "en") -> str:
    """The opening paragraph: what the customer base is worth and where the value sits."""
    m, lang = metrics, language
    hold = m["holdout"]
    lines = [
        text(
            "clv.headline.lead", lang,
            customers=count(m["customers"]), clv_total=money(m["clv_total"], currency, lang),
            horizon=m["horizon_months"], revenue=money(m["clv_revenue_total"], currency, lang),
            margin=pct(m["gross_margin"]), discount=pct(m["annual_discount_rate"]),
        ),
        "",
        "- " + text("clv.headline.concentrated", lang, top10=pct(m["top10_share"]), top20=pct(m["top20_share"])),
        "- " + text(
            "clv.headline.lapsed", lang, lapsed=count(m["lapsed_customers"]),
            lapsed_share=pct(m["lapsed_share"]), threshold=pct(LAPSED_P_ALIVE),
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
    return {
        text("clv.index.customers", lang): count(m["customers"]),
        clv_label: money(
            m["clv_total"], currency, lang, markdown=False
        ),
        text("clv.index.top10", lang): pct(m["top10_share"]),
        text("clv.index.holdout", lang): signed_pct(m["holdout"]["total_error_pct"]),
    }


def period_transactions(table: pd.DataFrame, language: str = "en") -> str:
    """Interpretation of the repeat-purchase histogram."""
    share_zero = table["actual"].iloc[0] / table["actual"].sum()
    worst = (table["model"] - table["actual"]).abs().idxmax()
    return text(
        "clv.period_transactions", language, share_zero=pct(share_zero),
        bucket=table["repeat_purchases"].iloc[worst], actual=count(table["actual"].iloc[worst]),
        expected=count(table["model"].iloc[worst]),
    )


def cumulative(table: pd.DataFrame, language: str = "en") -> str:
    """Interpretation of the cumulative tracking plot."""
    last = table.iloc[-1]
    gap = 100 * (last["predicted"] - last["actual"]) / last["actual"] if last["actual"] else float("nan")
    return text(
        "clv.cumulative", language, predicted=count(last["predicted"]), actual=count(last["actual"]),
        gap=signed_pct(gap),
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
        lapsed_share=pct(metrics["lapsed_share"]), threshold=pct(LAPSED_P_ALIVE),
    )


def actions(metrics: dict, currency: str = "$", language: str = "en") -> str:
    """What to do with the results, in order of value."""
    lang = language
    items = [
        text("clv.actions.protect", lang, customers=count(metrics["customers"] * 0.1), share=pct(metrics["top10_share"])),
        text("clv.actions.win_back", lang, threshold=pct(LAPSED_P_ALIVE)),
        text("clv.actions.grow", lang),
        text(
            "clv.actions.bound", lang, clv_mean=money(metrics["clv_mean"], currency, lang),
            horizon=metrics["horizon_months"],
        ),
        text("clv.actions.rerun", lang),
    ]
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1))


def lapsed_mask(p_alive_values: np.ndarray) -> np.ndarray:
    """Customers counted as probably lapsed on the pages."""
    return np.asarray(p_alive_values) < LAPSED_P_ALIVE
