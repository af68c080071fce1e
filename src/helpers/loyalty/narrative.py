"""Plain-language text for the loyalty lab pages, written from the results.

Every function returns Markdown. Amounts go through :func:`helpers.narrative.money`
(which escapes ``$``). Thresholds that turn numbers into words are named constants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..narrative import count, money, pct
from . import assumptions as A
from .design import Design
from .results import INTERVAL, DesignResult, Lab

#: Share of runs with a profit above which a design "pays" with confidence, and below which it "does not pay".
CONFIDENT = 0.9
UNLIKELY = 0.1


def _interval(low: float, high: float, fmt) -> str:
    return f"{fmt(low)} to {fmt(high)}"


def _signed_pct(value: float) -> str:
    return f"{value:+.0%}" if np.isfinite(value) else "n/a"


def _value(value: float, parameter: str) -> str:
    return f"x{value:g}" if parameter == "activity_scale" else pct(value)


def _lift(value: float | None) -> str:
    if value is None or not np.isfinite(value):
        return "no lift"
    return pct(value, 1 if abs(value) < 0.1 else 0)


def verdict(result: DesignResult) -> str:
    """'pays', 'likely pays', 'uncertain', 'likely loses' or 'loses' from the share of profitable runs."""
    share = result.metric("probability_profit")
    if share >= CONFIDENT:
        return "pays"
    if share > 0.5:
        return "probably pays"
    if share > UNLIKELY:
        return "probably does not pay"
    return "does not pay"


def _profit_sentence(r: DesignResult, currency: str) -> str:
    s = r.summary
    return (
        f"expected profit {money(s.loc['profit', 'mean'], currency)} "
        f"(95% of runs: {_interval(s.loc['profit', 'low'], s.loc['profit', 'high'], lambda v: money(v, currency))}), "
        f"ROI {_signed_pct(s.loc['roi', 'mean'])} "
        f"({_interval(s.loc['roi', 'low'], s.loc['roi', 'high'], _signed_pct)})"
    )


def _break_even_sentence(r: DesignResult) -> str:
    be = r.break_even
    eff = r.metric("effective_lift")
    if be is None:
        return f"members buy {_lift(eff)} more often with the programme."
    if be.lift is None:
        return f"members buy {_lift(eff)} more often with the programme, but {be.note}."
    if be.lift == 0:
        return "it pays for itself even if nobody changes how they buy."
    return (
        f"it pays for itself if members buy {_lift(be.lift)} more often; the simulation expects "
        f"{_lift(eff)} under the assumptions below."
    )


def headline(lab: Lab, currency: str = "$") -> str:
    """The answer: which design, expected ROI with interval, break-even lift, liability."""
    months = lab.settings.horizon_months
    ranked = sorted(lab.results, key=lambda r: r.metric("profit"), reverse=True)
    best = ranked[0]
    lines = []
    if best.metric("profit") > 0:
        lines.append(
            f"**{best.name} is the design to pilot: it {verdict(best)}** over the first {months} months, "
            f"with {_profit_sentence(best, currency)}. It makes a profit in {pct(best.metric('probability_profit'))} "
            f"of simulation runs; {_break_even_sentence(best)}"
        )
    else:
        lines.append(
            f"**None of the {len(ranked)} designs pays for itself in the first {months} months under these "
            f"assumptions.** The least costly is {best.name}: {_profit_sentence(best, currency)}; "
            f"{_break_even_sentence(best)}"
        )
    lines.append("")
    for r in ranked:
        liability = r.metric("liability_face")
        lines.append(
            f"- **{r.name}** {verdict(r)}: {_profit_sentence(r, currency)}. Break-even lift "
            f"{_lift(r.break_even.lift) if r.break_even and r.break_even.lift is not None else 'none'}; "
            f"points outstanding at month {months} worth {money(liability, currency)}."
        )
    lines.append("")
    lines.append(
        f"Totals are for the whole base of {count(lab.base.n_base)} customers "
        f"(simulated: {count(lab.base.n)} customers x {lab.settings.runs} runs). Ranges cover 95% of simulation runs: "
        "they show how much the outcome varies with customers' behaviour under the stated assumptions, not how "
        "wrong the assumptions could be. The sensitivity charts show that."
    )
    return "\n".join(lines)


def actions(lab: Lab, currency: str = "$") -> str:
    """What to do next, in order."""
    best = max(lab.results, key=lambda r: r.metric("profit"))
    items = []
    if best.metric("profit") > 0:
        items.append(
            f"**Pilot {best.name} before rolling it out**, with a randomly held-out control group, and measure the "
            f"lift in purchase frequency. The design needs {_lift(best.break_even.lift if best.break_even else None)}; "
            "if the pilot shows less, stop or redesign."
        )
    else:
        text = "**Do not launch any of these designs as written.** "
        contribution = best.metric("incremental_margin") - (best.metric("total_cost") - best.metric("fixed_cost"))
        if contribution > 0:
            text += (
                f"{best.name} comes closest and covers its variable costs (margin less variable costs "
                f"{money(contribution, currency)}), but not its fixed costs of {money(best.metric('fixed_cost'), currency)} "
                f"in the first {lab.settings.horizon_months} months: cut those, or judge it over a longer horizon "
                "(the launch cost is paid once)."
            )
        else:
            text += (
                f"Even {best.name}, the closest, costs more per member than the extra purchases bring "
                f"({money(contribution, currency)} before fixed costs): cut standing discounts and rewards on purchases "
                "that would happen anyway, or target the programme at the segments where it pays (design pages)."
            )
        items.append(text)
    if best.sensitivity is not None and len(best.sensitivity):
        top = best.sensitivity.iloc[0]
        items.append(
            f"**Measure {top['assumption'].lower()} first:** it moves the ROI of {best.name} the most "
            f"(from {_signed_pct(top['roi_low'])} to {_signed_pct(top['roi_high'])} over its plausible range)."
        )
    subsidy = best.metric("subsidy_share")
    if np.isfinite(subsidy) and subsidy > 0:
        items.append(
            f"**Watch the subsidy:** {pct(subsidy)} of the rewards and benefits of {best.name} go to purchases members "
            "would have made anyway. Benefits tied to extra behaviour (thresholds, triggers) waste less than "
            "standing discounts."
        )
    items.append(
        f"**Book the points liability:** {best.name} leaves points worth "
        f"{money(best.metric('liability_face'), currency)} outstanding after {lab.settings.horizon_months} months; "
        "finance needs an estimate of how many will be redeemed."
    )
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1))


def comparison(lab: Lab) -> str:
    """Interpretation of the ROI chart."""
    ranked = sorted(lab.results, key=lambda r: r.metric("roi"), reverse=True)
    overlap = [
        (a.name, b.name)
        for a, b in zip(ranked, ranked[1:])
        if a.summary.loc["roi", "low"] <= b.summary.loc["roi", "high"]
    ]
    text = (
        "Each bar is the expected return on every unit of money the programme costs (100% = the programme "
        "doubles its money, -100% = it earns nothing back); the black lines cover 95% of simulation runs. "
        f"{ranked[0].name} has the highest ROI ({_signed_pct(ranked[0].metric('roi'))})."
    )
    if overlap:
        text += " Ranges that overlap (" + "; ".join(f"{a} and {b}" for a, b in overlap) + ") mean the ranking of those " \
            "designs could change with a different draw of customer behaviour."
    return text


def lift_text(lab: Lab) -> str:
    """Interpretation of the expected vs needed lift chart."""
    parts = []
    for r in lab.results:
        be = r.break_even
        if be is None:
            continue
        if be.lift is None:
            parts.append(f"{r.name} never pays back through more purchases ({be.note})")
        else:
            gap = r.metric("effective_lift") - be.lift
            word = "more than" if gap >= 0 else "less than"
            parts.append(f"{r.name} needs {_lift(be.lift)} and is expected to get {_lift(r.metric('effective_lift'))} ({word} it needs)")
    return (
        "The break-even lift is the single, uniform increase in members' purchase frequency at which a design's "
        "expected profit is zero (found by re-running the simulation at different lifts). Compare it with what a "
        "pilot can measure: " + "; ".join(parts) + "."
    )


def costs_text(lab: Lab, currency: str = "$") -> str:
    """Interpretation of the earnings vs costs chart."""
    parts = []
    for r in lab.results:
        keys = ["reward_cost", "discount_cost", "shipping_cost", "returns_cost", "tier_service_cost", "trigger_cost",
                "member_cost", "fixed_cost", "liability_cost"]
        biggest = max(keys, key=lambda k: r.metric(k))
        from .figures import COST_LABELS

        parts.append(
            f"{r.name}: margin {money(r.metric('incremental_margin'), currency)} against cost "
            f"{money(r.metric('total_cost'), currency)}, mostly {COST_LABELS[biggest].lower()}"
        )
    return (
        "Top bars: extra gross margin from the purchases the programme adds. Bottom bars: what it costs, by type. "
        + "; ".join(parts) + "."
    )


# ---------------------------------------------------------------------- one design


def rules_md(design: Design, currency: str = "$") -> str:
    """The design's rules in words."""
    e, b, c = design.earn, design.burn, design.costs
    cur = currency.replace("$", "\\$")
    lines = []
    reward_rate = e.points_per_currency * b.point_value
    expiry = f"they expire {b.expiry_months} months after the month they are earned" if b.expiry_months else "they never expire"
    lines.append(
        f"- **Earn:** {e.points_per_currency:g} {'point' if e.points_per_currency == 1 else 'points'} per {cur}1 spent; a point is worth {cur}{b.point_value:g}, so "
        f"the base reward is {pct(reward_rate, 1)} of spend. Points are redeemed from {b.redemption_threshold:,.0f} points "
        f"({cur}{b.redemption_threshold * b.point_value:,.2f}) "
        f"({'every whole block at once' if b.redeem == 'all_blocks' else 'one block at a time'}); {expiry}."
    )
    if e.channel_multipliers or e.category_multipliers:
        mults = {**{f"channel {k}": v for k, v in e.channel_multipliers.items()},
                 **{f"category {k}": v for k, v in e.category_multipliers.items()}}
        lines.append("- **Multipliers:** " + ", ".join(f"{k} x{v:g}" for k, v in mults.items()) + ".")
    if e.activities:
        acts = ", ".join(
            f"{a.name.replace('_', ' ')} {a.points:g} {'point' if a.points == 1 else 'points'}" + (f" (up to {a.monthly_cap} a month)" if a.monthly_cap is not None else "")
            for a in e.activities
        )
        lines.append(f"- **Bonus points for behaviour:** {acts}.")
    if design.has_tiers:
        lines.append(
            f"- **Tiers** on spend or visits in the last {design.window_months} months (kept while the window holds "
            f"{pct(design.retain_fraction)} of the threshold; demotions reviewed every {design.demotion_review_months} months):"
        )
        for t in design.levels:
            rule = []
            if t.qualify_spend is not None:
                rule.append(f"spend {cur}{t.qualify_spend:,.0f}")
            if t.qualify_visits is not None:
                rule.append(f"{t.qualify_visits:g} purchases")
            benefits = t.benefits.describe()
            lines.append(
                f"  - *{t.name}*: " + (" or ".join(rule) if rule else "every member starts here")
                + ("; " + ", ".join(benefits) if benefits else "; no extra benefits")
            )
    else:
        benefits = design.levels[0].benefits.describe()
        if benefits:
            lines.append("- **Member benefits:** " + ", ".join(benefits) + ".")
    for t in design.triggers:
        lines.append(f"- **Trigger ({t.name}):** {t.describe(cur)}.")
    fixed = c.fixed_setup + c.fixed_per_month * 12
    lines.append(
        f"- **Costs:** {cur}{c.fixed_setup:,.0f} to launch, {cur}{c.fixed_per_month:,.0f} a month, "
        f"{cur}{c.per_member_month:,.2f} per member a month, {cur}{c.per_new_member:,.2f} per new member"
        + (f"; a shipment costs {cur}{c.shipping_cost_per_order:,.2f} ({pct(c.shipped_order_share)} of orders shipped)"
           if c.shipping_cost_per_order else "")
        + (f"; free returns cost {cur}{c.return_cost_per_order:,.2f} per order" if c.return_cost_per_order else "")
        + (f"; early access costs {cur}{c.early_access_cost_per_member_month:,.2f} per member a month"
           if c.early_access_cost_per_member_month and any(t.benefits.early_access for t in design.levels) else "")
        + f" (fixed costs for a year: {cur}{fixed:,.0f})."
    )
    margin = f"{pct(design.gross_margin)}" if design.gross_margin is not None else "the study's gross margin"
    lines.append(f"- **Gross margin:** {margin}; rewards cost {pct(b.reward_cost_ratio)} of their face value.")
    return "\n".join(lines)


def design_headline(r: DesignResult, lab: Lab, currency: str = "$") -> str:
    """The opening of a design page."""
    months = lab.settings.horizon_months
    s = r.summary
    return "\n".join(
        [
            f"**{r.name} {verdict(r)}** over the first {months} months: {_profit_sentence(r, currency)}. "
            f"It makes a profit in {pct(r.metric('probability_profit'))} of simulation runs.",
            "",
            f"- **Break-even:** {_break_even_sentence(r)}",
            f"- **Members:** {count(r.metric('members'))} customers join "
            f"({pct(r.metric('members') / lab.base.n_base)} of the base), adding "
            f"{money(r.metric('incremental_revenue'), currency)} of revenue "
            f"({pct(s.loc['incremental_share', 'mean'], 1)} on top of {money(r.metric('revenue_base'), currency)}).",
            f"- **Cost:** {money(r.metric('total_cost'), currency)}, of which "
            f"{pct(r.metric('subsidy_share')) if np.isfinite(r.metric('subsidy_share')) else 'none'} of rewards "
            "and per-purchase benefits goes to purchases that would have happened anyway.",
            f"- **Points:** {pct(r.metric('breakage_rate')) if np.isfinite(r.metric('breakage_rate')) else 'none'} "
            f"of the points earned expire within the horizon; points worth {money(r.metric('liability_face'), currency)} "
            f"are still outstanding at month {months} (counted as a cost of "
            f"{money(r.metric('liability_cost'), currency)}).",
        ]
    )


def tornado_text(r: DesignResult) -> str:
    """Interpretation of a design's tornado chart."""
    sens = r.sensitivity
    if sens is None or sens.empty:
        return "No sensitivity analysis was run."
    top = sens.iloc[0]
    flips = sens[(np.sign(sens["roi_low"]) != np.sign(sens["roi_high"]))]
    text = (
        "Each bar changes one assumption to the low or high end of its plausible range and keeps the others. "
        f"{top['assumption']} matters most: ROI {_signed_pct(top['roi_low'])} at {_value(top['low_value'], top['parameter'])} "
        f"and {_signed_pct(top['roi_high'])} at {_value(top['high_value'], top['parameter'])}. "
    )
    if len(flips):
        text += (
            "These assumptions decide whether the design pays (the ROI changes sign within their range): "
            + ", ".join(flips["assumption"].str.lower()) + ". Measure them in a pilot before deciding."
        )
    else:
        text += "No single assumption within its range changes whether the design pays."
    return text


def tiers_text(r: DesignResult, lab: Lab) -> str:
    """Interpretation of the members-by-level chart."""
    last = r.tiers.iloc[-1]
    levels = [c for c in r.tiers.columns if c != "month"]
    total = float(last[levels].sum())
    if not r.design.has_tiers:
        return (
            f"Customers join at their next purchase (enrolment rate {pct(r.sim.values['enrolment_rate'])}); "
            f"after {lab.settings.horizon_months} months {count(total)} are members. Customers who do not buy again "
            "never join, so membership grows with the active part of the base."
        )
    shares = ", ".join(f"{name} {pct(last[name] / total) if total else '0%'}" for name in levels)
    return (
        f"Everyone starts in {levels[0]} and moves up as soon as their spend or visits in the window qualify. "
        f"After {lab.settings.horizon_months} months the {count(total)} members are split {shares}. "
        "Few members in the top tiers means their benefits cost little, but also that they motivate few customers."
    )


def points_text(r: DesignResult, lab: Lab, currency: str = "$") -> str:
    """Interpretation of the points flow chart."""
    earned = r.metric("points_earned") * r.design.burn.point_value
    redeemed = r.metric("points_redeemed") * r.design.burn.point_value
    expired = r.metric("points_expired") * r.design.burn.point_value
    return (
        f"Over {lab.settings.horizon_months} months members earn points worth {money(earned, currency)}, redeem "
        f"{money(redeemed, currency)} and lose {money(expired, currency)} to expiry (breakage "
        f"{pct(expired / earned) if earned else '0%'} of points earned). The rest, "
        f"{money(r.metric('liability_face'), currency)}, is owed to members at the end of the horizon: a liability "
        f"that the ROI counts at {pct(r.sim.values['outstanding_redeemed_share'])} (the share expected to be redeemed)."
    )


def segments_text(r: DesignResult, currency: str = "$") -> str:
    """Interpretation of the segment chart."""
    seg = r.segments
    best = seg.loc[seg["contribution"].idxmax()]
    worst = seg.loc[seg["contribution"].idxmin()]
    text = "Customers are grouped by their predicted value without the programme; fixed costs are not shared out. "
    if best["contribution"] > 0:
        text += (
            f"The programme pays on {best['segment'].lower()} customers (contribution "
            f"{money(best['contribution'], currency)}) and does worst on {worst['segment'].lower()} customers "
            f"({money(worst['contribution'], currency)}). "
        )
    else:
        text += (
            "Before fixed costs it loses money in every segment: least on "
            f"{best['segment'].lower()} customers ({money(best['contribution'], currency)}), most on "
            f"{worst['segment'].lower()} customers ({money(worst['contribution'], currency)}). "
        )
    return text + (
        "A segment with a negative contribution costs more in rewards and benefits than the extra purchases it "
        "brings: invite those customers less, or change what they are offered."
    )


def break_even_detail(r: DesignResult, currency: str = "$") -> str:
    """How the break-even lift was found."""
    be = r.break_even
    if be is None:
        return ""
    steps = "; ".join(f"{x:.1%}: {money(v, currency)}" for x, v in sorted(be.evaluations))
    return f"Break-even search, expected profit at each uniform lift tried (same seed each time): {steps}."


def method_md(lab: Lab) -> str:
    """How the numbers are made, for the Method section."""
    model = lab.base.purchase_model.label
    low, high = INTERVAL
    return "\n".join(
        [
            f"- **Baseline (no programme):** every customer's future purchases and spend are drawn from their own "
            f"posterior under the fitted {model} and Gamma-Gamma models, given their purchase history "
            "(exact two-component posterior: active with the model's P(alive), then conjugate Gamma and Beta draws; "
            "see `helpers.loyalty.posterior`). A month is 30 days.",
            "- **With the programme:** the same draws (common random numbers), plus the extra purchases members make "
            "because of the programme (the lift assumptions), then the design's rules month by month: joining, "
            "redemption, benefits, points and bonus points, triggers, expiry, tier moves. How long a customer stays "
            "is not changed by the programme.",
            "- **Incremental** = with the programme minus without, so rewards and discounts given on purchases that "
            "would have happened anyway count as cost with no extra revenue.",
            "- **Profit** = gross margin x incremental revenue - programme cost (rewards, benefits, triggers, "
            "per-member and fixed costs, and the expected cost of points still outstanding). **ROI** = profit / cost.",
            f"- **Ranges:** {low:g}th to {high:g}th percentile across {lab.settings.runs} simulation runs. "
            "Break-even lifts and sensitivity bars are computed with fewer runs on the same seed.",
            "- **Not modelled:** effects on how long customers stay, referrals bringing new customers, competitors' "
            "reactions, and uncertainty in the fitted model parameters. Money is not discounted.",
        ]
    )


def references_md() -> str:
    return "\n".join(f"- {ref}" for ref in A.references())


def design_link(r: DesignResult, pages_link: str) -> str:
    """Markdown link from the comparison page to a design page."""
    return f"[Full page for {r.name}]({pages_link}/{r.design.slug}.html)"


def short_design_summary(r: DesignResult, lab: Lab, currency: str, pages_link: str) -> str:
    """A few lines per design on the comparison page."""
    lines = [
        f"**{r.name}**: {r.design.description}" if r.design.description else f"**{r.name}**",
        "",
        f"It {verdict(r)}: {_profit_sentence(r, currency)}; {_break_even_sentence(r)}",
    ]
    if r.sensitivity is not None and len(r.sensitivity):
        top = r.sensitivity.iloc[0]
        lines.append(f"Most sensitive to {top['assumption'].lower()}.")
    lines.append(design_link(r, pages_link))
    return "\n".join(lines)


def assumption_values(lab: Lab) -> pd.DataFrame:
    """Assumptions used, one column per design (to show overrides side by side)."""
    rows = []
    for name, spec in A.SPECS.items():
        row = {"assumption": spec.label, "parameter": name}
        for r in lab.results:
            row[r.name] = r.sim.values[name] if A.relevant(r.design, name) else np.nan
        row["source"] = spec.source
        rows.append(row)
    return pd.DataFrame(rows)
