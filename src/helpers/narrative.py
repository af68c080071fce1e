"""Plain-language text for the playbook pages, written from the study's numbers.

Each function returns Markdown. The wording is for a marketing team: what the number
is, whether it can be trusted, and what to do with it. Thresholds that turn numbers
into words are named constants so that a page's claims can be traced.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: |total holdout error| (percent) at or below which a model "tracks" the holdout well.
GOOD_TOTAL_ERROR_PCT = 10.0
#: ... and above which it is "off" rather than "fair".
POOR_TOTAL_ERROR_PCT = 25.0
#: P(alive) below which a customer is counted as probably lapsed.
LAPSED_P_ALIVE = 0.5


def money(value: float, currency: str = "$") -> str:
    """Format an amount for Markdown: $1.2M, $45.3k, $812.

    A dollar sign is escaped: Markdown renderers read text between two "$" as LaTeX.
    """
    sign = "-" if value < 0 else ""
    currency = currency.replace("$", "\\$")
    value = abs(value)
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= size:
            return f"{sign}{currency}{value / size:,.1f}{suffix}"
    return f"{sign}{currency}{value:,.0f}"


def count(value: float) -> str:
    return f"{value:,.0f}"


def pct(value: float, digits: int = 0) -> str:
    return f"{value:.{digits}%}"


def fit_quality(total_error_pct: float) -> str:
    """'good', 'fair' or 'poor' from the total holdout error."""
    error = abs(total_error_pct)
    if error <= GOOD_TOTAL_ERROR_PCT:
        return "good"
    if error <= POOR_TOTAL_ERROR_PCT:
        return "fair"
    return "poor"


def headline(metrics: dict, currency: str = "$") -> str:
    """The opening paragraph: what the customer base is worth and where the value sits."""
    m = metrics
    lines = [
        f"**The {count(m['customers'])} customers are expected to bring "
        f"{money(m['clv_total'], currency)} of gross margin over the next {m['horizon_months']} months** "
        f"(revenue {money(m['clv_revenue_total'], currency)} at a {pct(m['gross_margin'])} margin, "
        f"discounted at {pct(m['annual_discount_rate'])} a year).",
        "",
        f"- **Value is concentrated:** the top 10% of customers hold {pct(m['top10_share'])} of it, "
        f"the top 20% hold {pct(m['top20_share'])}.",
        f"- **Many customers have lapsed:** {count(m['lapsed_customers'])} customers "
        f"({pct(m['lapsed_share'])}) are more likely gone than active (P(alive) below {pct(LAPSED_P_ALIVE)}).",
        f"- **Expected purchases:** {count(m['expected_purchases_total'])} purchases in the next "
        f"{m['horizon_months']} months, {money(m['expected_spend_mean'], currency)} per purchase on average.",
        f"- **Can we trust it?** On the holdout period the {m['model_label']} model predicted "
        f"{count(m['holdout']['predicted_total'])} repeat purchases against "
        f"{count(m['holdout']['actual_total'])} that happened ({m['holdout']['total_error_pct']:+.1f}%): "
        f"a **{fit_quality(m['holdout']['total_error_pct'])}** fit in total.",
    ]
    return "\n".join(lines)


def period_transactions(table: pd.DataFrame) -> str:
    """Interpretation of the repeat-purchase histogram."""
    share_zero = table["actual"].iloc[0] / table["actual"].sum()
    worst = (table["model"] - table["actual"]).abs().idxmax()
    return (
        f"Bars compare how many customers made 0, 1, 2, … repeat purchases in the calibration period "
        f"with what the fitted model expects for customers of the same ages. "
        f"{pct(share_zero)} of customers never came back after their first purchase. "
        f"Where the orange and blue bars match, the model has learnt the mix of light and heavy buyers; "
        f"the largest gap is at {table['repeat_purchases'].iloc[worst]} repeat purchases "
        f"({count(table['actual'].iloc[worst])} actual vs {count(table['model'].iloc[worst])} expected)."
    )


def cumulative(table: pd.DataFrame) -> str:
    """Interpretation of the cumulative tracking plot."""
    last = table.iloc[-1]
    holdout = table[~table["in_calibration"]]
    gap = 100 * (last["predicted"] - last["actual"]) / last["actual"] if last["actual"] else float("nan")
    where = "after" if len(holdout) else "at"
    return (
        f"The line shows every repeat purchase made by the customers acquired in the calibration period, "
        f"added up over time. Left of the dotted line the model was fitted; right of it the model had "
        f"not seen the data. {where.capitalize()} the last step it expects {count(last['predicted'])} repeat "
        f"purchases against {count(last['actual'])} actual ({gap:+.1f}%). "
        "A model line that stays close to the actual line in the holdout is one you can plan with."
    )


def conditional_expectations(table: pd.DataFrame) -> str:
    """Interpretation of the conditional-expectations plot."""
    valid = table.dropna()
    under = valid[valid["predicted"] < valid["actual"]]
    biggest = valid.loc[(valid["predicted"] - valid["actual"]).abs().idxmax()]
    return (
        "Each point groups customers by how many repeat purchases they made in calibration and compares "
        "what they bought in the holdout with what the model predicted for them. "
        f"The model under-predicts {len(under)} of {len(valid)} groups; the largest gap is for customers "
        f"with {biggest['calibration_purchases']} calibration purchases "
        f"({biggest['actual']:.2f} actual vs {biggest['predicted']:.2f} predicted per customer). "
        "This is the check that matters for targeting: it shows whether the ranking of customers by "
        "expected purchases is right."
    )


def holdout_errors(metrics: dict) -> str:
    """Interpretation of the per-customer error histogram."""
    return (
        f"For a single customer the prediction is a probability-weighted average, so it is rarely exact: "
        f"the typical error is {metrics['mae']:.2f} purchases (mean absolute error; RMSE "
        f"{metrics['rmse']:.2f}) and predictions correlate {metrics['correlation']:.2f} with what customers "
        "did. Use individual predictions to rank and group customers, not as promises about one person."
    )


def model_comparison(table: pd.DataFrame, chosen: str) -> str:
    """Interpretation of the model comparison table."""
    ok = table.dropna(subset=["total_error_pct"])
    if ok.empty:
        return "No model could be fitted on the calibration data; see the notes in the table."
    best_total = ok.loc[ok["total_error_pct"].abs().idxmin()]
    best_ll = ok.loc[ok["log_likelihood"].idxmax()]
    chosen_row = table[table["key"] == chosen]
    chosen_label = chosen_row["model"].iloc[0] if len(chosen_row) else chosen
    text = (
        f"All models were fitted on the same calibration data and scored on the same holdout. "
        f"{best_total['model']} comes closest on total holdout purchases ({best_total['total_error_pct']:+.1f}%); "
        f"{best_ll['model']} fits the calibration data best (highest log-likelihood; lower AIC/BIC is better). "
    )
    if best_total["key"] != chosen:
        text += (
            f"This page uses {chosen_label} (the `model` parameter); set `model: {best_total['key']}` "
            "to use the closest model instead."
        )
    else:
        text += f"This page uses {chosen_label}, which is also the closest on the holdout."
    return text


def spend_independence(result: dict) -> str:
    """Interpretation of the Gamma-Gamma independence check."""
    verdict = (
        "weak enough for the spend model" if result["acceptable"]
        else "too strong: spend predictions for frequent buyers may be biased; treat CLV with care"
    )
    return (
        f"The spend model (Gamma-Gamma) assumes that how much a customer spends per purchase does not "
        f"depend on how often they buy. Among the {count(result['repeat_buyers'])} repeat buyers the "
        f"correlation is {result['correlation']:.2f}, {verdict} (threshold: |r| < {result['threshold']})."
    )


def concentration(metrics: dict) -> str:
    """Interpretation of the value-concentration curve."""
    return (
        f"Customers are ranked from most to least valuable. The steeper the curve, the more future value "
        f"depends on few customers: here the top 10% hold {pct(metrics['top10_share'])} and the top 20% "
        f"hold {pct(metrics['top20_share'])} of predicted CLV. Protecting these customers is worth more "
        "than any broad campaign."
    )


def p_alive(metrics: dict) -> str:
    """Interpretation of the P(alive) histogram."""
    return (
        f"P(alive) is the model's probability that a customer still buys from us, given when they last "
        f"bought and how often. {count(metrics['lapsed_customers'])} customers ({pct(metrics['lapsed_share'])}) "
        f"are below {pct(LAPSED_P_ALIVE)}. Customers with a high past value and a falling P(alive) are the "
        "ones to win back first."
    )


def actions(metrics: dict, currency: str = "$") -> str:
    """What to do with the results, in order of value."""
    return "\n".join(
        [
            f"1. **Protect the top 10%** ({count(metrics['customers'] * 0.1)} customers, "
            f"{pct(metrics['top10_share'])} of future value): service priority, early access, a personal touch. "
            "Avoid blanket discounts here: they subsidise purchases that would happen anyway.",
            f"2. **Win back high-value lapsing customers:** sort the CLV table by past spend among customers with "
            f"P(alive) below {pct(LAPSED_P_ALIVE)}; a personalised offer costs less than their expected margin.",
            "3. **Grow one-time buyers:** most customers bought once. A second-purchase incentive, timed soon "
            "after the first purchase, moves them into the group the model expects to return.",
            f"4. **Bound offers by value:** never spend more on a customer than their predicted CLV "
            f"(average {money(metrics['clv_mean'], currency)} per customer over {metrics['horizon_months']} months).",
            "5. **Re-run this study monthly** with fresh data and watch the holdout check: if the fit turns "
            "'poor', the business has changed and the numbers need a new calibration period.",
        ]
    )


def lapsed_mask(p_alive_values: np.ndarray) -> np.ndarray:
    """Customers counted as probably lapsed on the pages."""
    return np.asarray(p_alive_values) < LAPSED_P_ALIVE
