"""Plain-language text for the pilot readout page, written from the readout's numbers.

Each function returns Markdown for a marketing team: what was found, how sure we
are, and what to do. Thresholds that turn numbers into words are named constants
(see also :mod:`helpers.experiments`), so every claim on the page can be traced.
"""

from __future__ import annotations

import math

import pandas as pd
from pandas.io.formats.style import Styler

from .experiments import CHECK_SPLIT, EXTEND, ROLL_OUT, STOP, BootstrapResult, CupedResult, Effect, Readout
from .experiments import SegmentEffects, SrmResult
from .narrative import count, money, pct
from .tables import styled

#: SRM p-values below this (but above the SRM threshold) earn a "worth a look" remark.
SRM_WATCH_P = 0.01
#: Bootstrap and t interval ends closer than this share of the t interval's width "agree".
BOOTSTRAP_AGREEMENT = 0.10


def amount(value: float, currency: str = "", *, signed: bool = False, digits: int | None = None) -> str:
    """An amount per customer for Markdown: ¥11.02, +¥11.02, ¥1,234, ¥12.3k.

    Large amounts go through :func:`helpers.narrative.money`; smaller ones keep the
    cents that per-customer effects need (``digits`` forces the decimals). A ``$`` is
    escaped for Markdown.
    """
    if value is None or not math.isfinite(value):
        return "n/a"
    plus = "+" if signed and value > 0 else ""
    if abs(value) >= 10_000:
        return plus + money(value, currency)
    minus = "-" if value < 0 else ""
    if digits is None:
        digits = 0 if abs(value) >= 100 else 2
    text = f"{abs(value):,.{digits}f}"
    symbol = currency.replace("$", "\\$")
    return f"{plus}{minus}{symbol}{text}"


def _lift(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:+.1%}"


def _interval(low: float, high: float, currency: str) -> str:
    """Both ends with the same number of decimals."""
    digits = 0 if max(abs(low), abs(high)) >= 100 else 2
    return f"{amount(low, currency, digits=digits)} to {amount(high, currency, digits=digits)}"


def _level(alpha: float) -> str:
    return f"{1 - alpha:.0%}"


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _points(value: float) -> str:
    return f"{100 * value:+.1f} points"


# --------------------------------------------------------------------------- answer


def data_source(source: str, truth: dict | None, customers: int, currency: str = "") -> str:
    """Where the numbers come from; for a simulated or generated pilot, the known truth."""
    if truth and truth.get("kind") == "simulated":
        return (
            f"**This page runs on a simulated pilot**, because no data file was given: {count(customers)} customers, "
            f"a true effect of **{amount(truth['true_effect'], currency, signed=True)} per customer** "
            f"({_lift(truth['relative_lift'])}) and a pre-period correlation of {truth['rho']:.2f}. "
            "Because the truth is known, the page shows whether the method finds it. "
            "Set `data_path` to read out your own pilot."
        )
    text = f"**Data:** `{source}`, {count(customers)} customers."
    if truth and truth.get("true_effect") is not None:
        text += (
            f" The file was made by the data generator, whose `truth.json` says the true effect is "
            f"**{amount(truth['true_effect'], currency, signed=True)} per customer**."
        )
    return text


def headline(r: Readout, metric: str, currency: str = "") -> str:
    """The opening paragraph: did the pilot work, by how much, how sure are we."""
    e, raw = r.headline, r.cuped.raw
    level = _level(e.alpha)
    interval = f"{level} interval {_interval(e.ci_low, e.ci_high, currency)}, after CUPED adjustment"
    size = f"{amount(e.difference, currency, signed=True)} per customer ({_lift(e.relative)}), {interval}"
    by = f"{amount(abs(e.difference), currency)} per customer ({_lift(e.relative)}; {interval})"
    if r.srm.mismatch:
        first = (
            "**Do not read this pilot yet: the groups are not the size the plan said**, so the comparison may be "
            f"biased. On the numbers as they stand the effect would be {size}."
        )
    elif e.ci_low > 0:
        first = f"**Yes: the campaign raised {metric} by {by}.**"
    elif e.ci_high < 0:
        first = f"**No: the campaign lowered {metric} by {by}.**"
    else:
        first = (
            f"**Not proven: this pilot cannot tell whether the campaign changed {metric}.** "
            f"The best estimate is {size}: the interval includes zero."
        )
    lines = [
        first,
        "",
        f"- **Without CUPED** the difference is {amount(raw.difference, currency, signed=True)} "
        f"({_interval(raw.ci_low, raw.ci_high, currency)}). Adjusting for what each customer spent before the pilot "
        f"made the interval {pct(1 - e.half_width / raw.half_width) if raw.half_width > 0 else 'no'} narrower.",
        f"- **Customers:** {count(r.srm.n_treatment)} treated, {count(r.srm.n_control)} in control "
        f"({pct(r.srm.observed_treatment_share, 1)} treated, planned {pct(r.srm.planned_treatment_share, 1)}).",
    ]
    if r.conversion is not None:
        c = r.conversion
        lines.append(
            f"- **Share who bought:** {pct(c.treatment_mean, 1)} treated vs {pct(c.control_mean, 1)} control "
            f"({_points(c.difference)}, interval {_points(c.ci_low)} to {_points(c.ci_high)})."
        )
    truth = truth_check(r, currency)
    if truth:
        lines.append(f"- {truth}")
    return "\n".join(lines)


def truth_check(r: Readout, currency: str = "") -> str:
    """One sentence comparing the estimate with the known truth (empty when unknown)."""
    if r.truth_covered is None:
        return ""
    true = r.truth["true_effect"]
    verdict = "contains it" if r.truth_covered else "misses it (this happens in about 1 pilot in 20)"
    return (
        f"**Known truth:** the true effect is {amount(true, currency, signed=True)} per customer; the CUPED "
        f"interval {_interval(r.headline.ci_low, r.headline.ci_high, currency)} {verdict}."
    )


def decision_rule(r: Readout, currency: str = "") -> str:
    """The rule the recommendation follows, stated with this page's numbers."""
    s = r.settings
    return (
        f"*The rule on this page:* **roll out** when the whole {_level(s.alpha)} interval of the CUPED-adjusted "
        f"effect is above zero; **stop** when it is entirely below zero, or entirely below the smallest effect "
        f"worth having ({_lift(s.mde)}, {amount(r.minimum_worthwhile, currency)} per customer); otherwise "
        f"**extend** the pilot. No decision is made when the split fails the sample-ratio check "
        f"(p below {s.srm_threshold:g})."
    )


def actions(r: Readout, metric: str, currency: str = "") -> str:
    """What to do, following :func:`helpers.experiments.decide`, then the rule itself."""
    e = r.headline
    needed = r.plan_cuped.n_total if r.plan_cuped else None
    if r.decision.action == CHECK_SPLIT:
        text = (
            "**Check the split first.** The treatment group holds "
            f"{pct(r.srm.observed_treatment_share, 1)} of customers against a plan of "
            f"{pct(r.srm.planned_treatment_share, 1)}; chance alone would give such a gap less than "
            f"{r.srm.threshold:.1%} of the time. Typical causes: customers dropped from one group by a filter "
            "(e.g. only those who opened the message), a broken assignment rule, or data lost in the export. "
            "Find the cause, fix the data or rerun the pilot; until then no result on this page should be acted on."
        )
    elif r.decision.action == ROLL_OUT:
        text = (
            f"**Roll out.** The campaign raised {metric}: expect about {amount(e.difference, currency, signed=True)} "
            f"per customer, and at least {amount(e.ci_low, currency)} with {_level(e.alpha)} confidence. "
            "Keep a small random holdout (5–10% of customers) when rolling out, to confirm the effect at scale "
            "and to catch it fading."
        )
    elif r.decision.action == STOP:
        if e.ci_high < 0:
            text = (f"**Stop.** The campaign lowered {metric} (interval "
                    f"{_interval(e.ci_low, e.ci_high, currency)} per customer). Do not roll it out.")
        else:
            text = (
                f"**Stop.** Even the top of the interval ({amount(e.ci_high, currency)} per customer) is below the "
                f"smallest effect worth having ({amount(r.minimum_worthwhile, currency)}). A bigger pilot would only "
                "measure a small effect more precisely; spend the budget on a different idea."
            )
    else:
        more = ""
        if needed is not None:
            extra = max(needed - r.n_total, 0)
            more = (
                f" To detect a {_lift(r.settings.mde)} lift ({amount(r.minimum_worthwhile, currency)} per customer) "
                f"with {pct(r.settings.planning_power)} power, a pilot needs about **{count(needed)} customers** "
                f"analysed with CUPED; this one had {count(r.n_total)}"
                + (f", so add about {count(extra)} more, or run it longer." if extra > 0 else
                   "; it was big enough, so the effect is probably smaller than hoped: consider stopping.")
            )
        text = (
            f"**Extend the pilot.** The interval ({_interval(e.ci_low, e.ci_high, currency)} per customer) "
            "includes both no effect and effects worth having, so this pilot cannot decide." + more
        )
    return text + "\n\n" + decision_rule(r, currency)


# --------------------------------------------------------------------------- evidence


def srm(result: SrmResult, balance: Effect | None = None, currency: str = "") -> str:
    """The sample-ratio-mismatch check and the pre-period balance."""
    verdict = (
        "**The split fails the check**: the assignment or the data is broken, see *What to do*."
        if result.mismatch else
        "The split is uneven enough to be worth a look at how customers were assigned, but within what chance "
        "produces." if result.p_value < SRM_WATCH_P else "The split looks as planned."
    )
    text = (
        f"The plan put {pct(result.planned_treatment_share, 1)} of customers in the treatment group; "
        f"{pct(result.observed_treatment_share, 1)} ended up there ({count(result.n_treatment)} of "
        f"{count(result.n_treatment + result.n_control)}; {count(round(result.expected_treatment))} expected). "
        f"A fair random split is this uneven or more with probability {_p(result.p_value)} "
        f"(chi-square test; the check fails below {result.threshold:g}). {verdict}"
    )
    if balance is not None:
        text += (
            f"\n\nBefore the pilot, treated customers averaged {amount(balance.treatment_mean, currency)} and "
            f"control customers {amount(balance.control_mean, currency)} on the pre-period metric "
            f"(difference {amount(balance.difference, currency, signed=True)}, p = {_p(balance.p_value)}). "
            + (
                "The groups already differed before the pilot more than chance usually allows: CUPED corrects "
                "for the measured difference, but check how customers were assigned."
                if balance.p_value < SRM_WATCH_P else
                "The groups were alike before the pilot, as randomisation should make them."
            )
        )
    return text


def raw_vs_cuped(c: CupedResult, currency: str = "") -> str:
    """Interpretation of the raw vs CUPED interval figure."""
    raw, adj = c.raw, c.adjusted
    if c.variance_reduction <= 0.01:
        gain = (
            "Here the pre-period metric hardly predicts the outcome, so CUPED changes little; the raw and adjusted "
            "results agree."
        )
    else:
        gain = (
            f"The pre-period metric predicts the outcome (correlation {c.rho:.2f}), so CUPED removed "
            f"{pct(c.variance_reduction)} of the estimate's variance (about the correlation squared, "
            f"{pct(c.rho ** 2)}): the result is as precise as a raw comparison with "
            f"{c.sample_size_factor:.1f} times as many customers."
        )
    return (
        "Customers differ a lot in how much they spend, and that noise hides the campaign's effect. CUPED "
        "(Deng et al. 2013) subtracts the part of each customer's outcome that their pre-period spending "
        f"predicts ({c.theta:.2f} × the difference from the average pre-period value) and compares what is left. "
        "It measures the same effect, because the pre-period happened before anyone was treated. "
        f"Raw: {amount(raw.difference, currency, signed=True)} ({_interval(raw.ci_low, raw.ci_high, currency)}); "
        f"CUPED: {amount(adj.difference, currency, signed=True)} ({_interval(adj.ci_low, adj.ci_high, currency)}). "
        + gain
    )


def bootstrap(b: BootstrapResult, analytic: Effect, currency: str = "") -> str:
    """Interpretation of the bootstrap distribution."""
    width = analytic.ci_high - analytic.ci_low
    gap = max(abs(b.ci_low - analytic.ci_low), abs(b.ci_high - analytic.ci_high))
    agree = width > 0 and gap <= BOOTSTRAP_AGREEMENT * width
    verdict = (
        "The two agree, so the t interval's normal approximation is safe despite the skewed spending."
        if agree else
        "They differ noticeably: a few very large spenders drive the average. Prefer the bootstrap interval, "
        "and check the biggest spenders in each group."
    )
    return (
        f"Spending is skewed: most customers spend little and a few spend a lot. As a check that does not rely on "
        f"the normal approximation, customers were resampled {count(b.n_resamples)} times within each group "
        f"(seed {b.seed}) and the difference in mean outcome recomputed each time. The middle "
        f"{_level(b.alpha)} of those differences runs from {_interval(b.ci_low, b.ci_high, currency)}; the t "
        f"interval for the same raw difference is {_interval(analytic.ci_low, analytic.ci_high, currency)}. "
        + verdict
    )


def conversion(c: Effect) -> str:
    """The effect on the share of customers who bought at all."""
    sure = "a real change" if c.significant else "within chance"
    return (
        f"{pct(c.treatment_mean, 1)} of treated and {pct(c.control_mean, 1)} of control customers bought in the "
        f"outcome period: {_points(c.difference)} ({_level(c.alpha)} interval {_points(c.ci_low)} to "
        f"{_points(c.ci_high)}), {sure}. Comparing this with the effect on spend shows whether the campaign made "
        "more people buy or made buyers spend more."
    )


def segments(s: SegmentEffects | None, currency: str = "") -> str:
    """Interpretation of the effect-by-segment forest plot, with the multiple-comparison note."""
    if s is None:
        return (
            "The file has no segment column, so effects by segment are not shown. Map one with "
            "`column_map: {segment: <header>}` (a tier, region or channel decided **before** the pilot)."
        )
    if s.n_segments == 0:
        return "No segment has at least 2 customers in each group, so effects by segment cannot be estimated."
    t = s.table
    nominal = list(t.loc[t["significant"], "segment"])
    adjusted = list(t.loc[t["significant_holm"], "segment"])
    lines = [
        f"Each segment is read out separately ({s.method}). **Careful with many segments:** with "
        f"{s.n_segments} segments, the chance that at least one looks significant by luck alone is "
        f"{pct(s.false_alarm_chance)}. So the thin lines are simultaneous intervals (all hold together with "
        f"{_level(s.alpha)} confidence) and the table gives Holm-adjusted p-values.",
    ]
    if adjusted:
        lines.append(f"After that adjustment the effect is clear in: {', '.join(adjusted)}.")
    elif nominal:
        lines.append(f"{', '.join(nominal)} look significant on their own, but not after the adjustment.")
    else:
        lines.append("No segment shows a clear effect on its own; segments are smaller than the whole pilot.")
    if math.isfinite(s.heterogeneity_p):
        if s.heterogeneity_p < s.alpha:
            lines.append(
                f"The segments' effects differ more than chance explains (Cochran's Q test, p = "
                f"{_p(s.heterogeneity_p)}); targeting by segment may pay, but confirm it in the next pilot."
            )
        else:
            lines.append(
                f"The segments' effects do not differ more than chance explains (Cochran's Q test, p = "
                f"{_p(s.heterogeneity_p)}): treat the overall effect as the best estimate for every segment."
            )
    if s.too_small:
        lines.append(f"Left out (fewer than 2 customers in a group): {', '.join(s.too_small)}.")
    if s.pooled:
        lines.append(f"{len(s.pooled)} small segments are pooled as one.")
    return " ".join(lines)


def planning(r: Readout, currency: str = "") -> str:
    """Interpretation of the power curve: how big the next pilot should be."""
    if r.plan_raw is None or r.plan_cuped is None:
        return "Planning needs a control group with a positive average outcome that varies between customers."
    s = r.settings
    raw, cup = r.plan_raw, r.plan_cuped
    split = f"{pct(s.planned_treatment_share)}/{pct(1 - s.planned_treatment_share)}"
    return (
        f"To detect a {_lift(s.mde)} lift ({amount(raw.delta, currency)} per customer on a baseline of "
        f"{amount(r.cuped.raw.control_mean, currency)}) with {pct(s.planning_power)} power at {_level(s.alpha)} "
        f"confidence, a {split} pilot needs **{count(cup.n_total)} customers with CUPED** "
        f"({count(cup.n_treatment)} treated, {count(cup.n_control)} control; pre-period correlation "
        f"{cup.rho:.2f}) or {count(raw.n_total)} without. This pilot had {count(r.n_total)}: with CUPED its power for that "
        f"lift was {pct(r.power_now)}, and the smallest effect it could reliably detect was "
        f"{amount(r.detectable_now, currency)} per customer "
        f"({_lift(r.detectable_now / r.cuped.raw.control_mean) if r.cuped.raw.control_mean > 0 else 'n/a'}). "
        f"The calculation uses this pilot's spread of outcomes (standard deviation {amount(raw.sd, currency)}); "
        "if the next pilot targets different customers, re-estimate it."
    )


def assumptions(r: Readout, simulated: bool) -> str:
    """The assumptions behind the page, as a Markdown list."""
    s = r.settings
    items = [
        "**Random assignment, one row per customer.** Each customer is analysed in the group they were assigned "
        "to, whether or not they saw the campaign (intention to treat).",
        "**No spill-over.** Customers do not affect each other's outcome (shared households, stock-outs, word "
        "of mouth would bias the comparison).",
        "**The pre-period is before assignment.** CUPED is only valid when the pre-period metric cannot have been "
        "changed by the campaign; the balance check above tests this.",
        "**Same outcome window for both groups**, long enough for the effect to show; effects that fade or come "
        "later are not seen.",
        f"**Intervals** are Welch t intervals (unequal variances), {_level(s.alpha)} two-sided; they need the "
        "group averages to be roughly normal, which the bootstrap checks. Relative lifts use the delta method.",
        f"**Sample-ratio check:** chi-square test against the planned {pct(s.planned_treatment_share)} treatment "
        f"share; it fails below p = {s.srm_threshold:g}.",
        "**Segments** should be defined before the pilot; segments chosen after looking at results are "
        "hypotheses for the next pilot, not findings.",
        "**Planning** uses the normal approximation and assumes the next pilot's customers vary, and correlate "
        "with their past, as this pilot's did.",
    ]
    if simulated:
        items.append("**Simulated data:** the numbers on this page illustrate the method; they are not a real pilot.")
    return "\n".join(f"- {item}" for item in items)


# --------------------------------------------------------------------------- tables


def effects_table(r: Readout, currency: str = "") -> Styler:
    """Raw, CUPED and bootstrap results side by side."""
    unit = f" ({currency})" if currency else ""
    level = _level(r.settings.alpha)
    rows = []
    for name, e in (("Raw difference", r.cuped.raw), ("CUPED-adjusted", r.cuped.adjusted)):
        rows.append((name, e.control_mean, e.treatment_mean, e.difference, e.ci_low, e.ci_high, e.relative, e.p_value))
    b = r.bootstrap
    rows.append(("Bootstrap (raw)", r.cuped.raw.control_mean, r.cuped.raw.treatment_mean, b.estimate, b.ci_low,
                 b.ci_high, float("nan"), float("nan")))
    columns = ["Estimate", f"Control mean{unit}", f"Treatment mean{unit}", f"Difference{unit}",
               f"{level} low{unit}", f"{level} high{unit}", "Relative lift", "p-value"]
    frame = pd.DataFrame(rows, columns=columns)
    money_format = "{:,.2f}"
    formats = {c: money_format for c in columns[1:6]} | {"Relative lift": "{:+.1%}", "p-value": "{:.4f}"}
    return styled(frame, formats)


def segments_table(s: SegmentEffects, currency: str = "") -> Styler:
    """The effect-by-segment table for the page."""
    unit = f" ({currency})" if currency else ""
    level = _level(s.alpha)
    view = s.table.rename(
        columns={
            "segment": "Segment", "n_control": "Control", "n_treatment": "Treated",
            "control_mean": f"Control mean{unit}", "treatment_mean": f"Treatment mean{unit}",
            "difference": f"Effect{unit}", "ci_low": f"{level} low", "ci_high": f"{level} high",
            "p_value": "p-value", "p_holm": "p (Holm)", "ci_low_simultaneous": "Simultaneous low",
            "ci_high_simultaneous": "Simultaneous high", "relative": "Relative lift",
        }
    ).drop(columns=["se", "df", "significant", "significant_holm"])
    amounts = [f"Control mean{unit}", f"Treatment mean{unit}", f"Effect{unit}", f"{level} low", f"{level} high",
               "Simultaneous low", "Simultaneous high"]
    formats = {c: "{:,.2f}" for c in amounts} | {
        "Control": "{:,.0f}", "Treated": "{:,.0f}", "p-value": "{:.4f}", "p (Holm)": "{:.4f}", "Relative lift": "{:+.1%}",
    }
    return styled(view, formats)
