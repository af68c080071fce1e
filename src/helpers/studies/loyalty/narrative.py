"""Plain-language text for the loyalty lab pages, written from the results.

Every function returns Markdown in the page language ("en" or "zh-CN"; the strings live in
the catalog ``helpers/locales/<language>/loyalty.yaml``). Amounts go through
:func:`helpers.report.formatting.money` (which escapes ``$`` and writes Chinese amounts with 万 and
亿). Thresholds that turn numbers into words are named constants.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.models.activity import DEFAULT_RULE
from helpers.report.formatting import count, money, pct
from helpers.report.i18n import is_chinese, text
from helpers.studies.loyalty import assumptions as A
from helpers.studies.loyalty.base import segment_label
from helpers.studies.loyalty.design import Design, activity_label
from helpers.studies.loyalty.results import INTERVAL, DesignResult, Lab

#: Share of runs with a profit above which a design "pays" with confidence, and below which it "does not pay".
CONFIDENT = 0.9
UNLIKELY = 0.1

#: Cost types compared in the "where the money goes" text (keys of the catalog ``loyalty.cost``).
COST_KEYS = ("reward_cost", "discount_cost", "shipping_cost", "returns_cost", "tier_service_cost", "trigger_cost",
             "member_cost", "fixed_cost", "liability_cost")


# --------------------------------------------------------------------- small pieces


def _comma(language: str) -> str:
    return "、" if is_chinese(language) else ", "


def _semicolon(language: str) -> str:
    return "；" if is_chinese(language) else "; "


def _colon(language: str) -> str:
    return "：" if is_chinese(language) else ": "


def _interval(low: float, high: float, fmt, language: str = "en") -> str:
    return text("loyalty.interval", language, low=fmt(low), high=fmt(high))


def _signed_pct(value: float, language: str = "en") -> str:
    return f"{value:+.0%}" if np.isfinite(value) else text("loyalty.na", language)


def _value(value: float, parameter: str) -> str:
    return f"x{value:g}" if parameter == "activity_scale" else pct(value)


def _lift(value: float | None, language: str = "en") -> str:
    if value is None or not np.isfinite(value):
        return text("loyalty.no_lift", language)
    return pct(value, 1 if abs(value) < 0.1 else 0)


def _name(r: DesignResult, language: str) -> str:
    return r.design.display_name(language)


def _assumption(parameter: str, language: str, *, in_sentence: bool = False) -> str:
    """An assumption's label; in English lower-cased inside a sentence."""
    label = A.label(parameter, language)
    return label.lower() if in_sentence and not is_chinese(language) else label


def _segment(label: str, language: str) -> str:
    """A value segment inside a sentence (lower-cased in English)."""
    shown = segment_label(label, language)
    return shown if is_chinese(language) else shown.lower()


def _verdict_key(result: DesignResult) -> str:
    share = result.metric("probability_profit")
    if share >= CONFIDENT:
        return "pays"
    if share > 0.5:
        return "probably_pays"
    if share > UNLIKELY:
        return "probably_not"
    return "does_not_pay"


def verdict(result: DesignResult, language: str = "en") -> str:
    """'pays', 'probably pays', 'probably does not pay' or 'does not pay' (in ``language``)
    from the share of profitable runs."""
    return text(f"loyalty.verdict.{_verdict_key(result)}", language)


def _profit_sentence(r: DesignResult, currency: str, language: str = "en") -> str:
    s, lang = r.summary, language

    def cash(v: float) -> str:
        return money(v, currency, lang)

    return text(
        "loyalty.profit_sentence", lang, profit=cash(s.loc["profit", "mean"]),
        profit_range=_interval(s.loc["profit", "low"], s.loc["profit", "high"], cash, lang),
        roi=_signed_pct(s.loc["roi", "mean"], lang),
        roi_range=_interval(s.loc["roi", "low"], s.loc["roi", "high"], lambda v: _signed_pct(v, lang), lang),
    )


def break_even_note(r: DesignResult, language: str = "en") -> str:
    """Why a design has no break-even lift, in ``language`` ("" when it has one)."""
    be = r.break_even
    if be is None or not be.reason:
        return be.note if be is not None else ""
    return text(f"loyalty.break_even.reason.{be.reason}", language, max_lift=f"{be.max_lift:.0%}")


def _break_even_sentence(r: DesignResult, language: str = "en") -> str:
    lang = language
    be = r.break_even
    eff = _lift(r.metric("effective_lift"), lang)
    if be is None:
        return text("loyalty.break_even.no_search", lang, lift=eff)
    if be.lift is None:
        return text("loyalty.break_even.never", lang, lift=eff, note=break_even_note(r, lang))
    if be.lift == 0:
        return text("loyalty.break_even.free", lang)
    return text("loyalty.break_even.needs", lang, need=_lift(be.lift, lang), lift=eff)


# ------------------------------------------------------------------ comparison page


def headline(lab: Lab, currency: str = "$", language: str = "en") -> str:
    """The answer: which design, expected ROI with interval, break-even lift, liability."""
    lang = language
    months = lab.settings.horizon_months
    ranked = sorted(lab.results, key=lambda r: r.metric("profit"), reverse=True)
    best = ranked[0]
    lines = []
    if best.metric("profit") > 0:
        lines.append(text(
            "loyalty.headline.pilot", lang, name=_name(best, lang), verdict=verdict(best, lang), months=months,
            profit_sentence=_profit_sentence(best, currency, lang), share=pct(best.metric("probability_profit")),
            break_even=_break_even_sentence(best, lang),
        ))
    else:
        lines.append(text(
            "loyalty.headline.none_pays", lang, designs=len(ranked), months=months, name=_name(best, lang),
            profit_sentence=_profit_sentence(best, currency, lang), break_even=_break_even_sentence(best, lang),
        ))
    lines.append("")
    for r in ranked:
        need = (_lift(r.break_even.lift, lang) if r.break_even and r.break_even.lift is not None
                else text("loyalty.none", lang))
        lines.append(text(
            "loyalty.headline.design", lang, name=_name(r, lang), verdict=verdict(r, lang),
            profit_sentence=_profit_sentence(r, currency, lang), need=need, months=months,
            liability=money(r.metric("liability_face"), currency, lang),
        ))
    lines.append("")
    lines.append(text(
        "loyalty.headline.totals", lang, base=count(lab.base.n_base), simulated=count(lab.base.n),
        runs=lab.settings.runs,
    ))
    return "\n".join(lines)


def headline_numbers(lab: Lab, currency: str = "$", language: str = "en") -> dict[str, str]:
    """The few numbers the site index shows for the lab (plain text, page language): the most
    profitable design, its expected profit and ROI, and the lift it needs to break even."""
    lang = language
    best = lab.best
    be = best.break_even
    need = _lift(be.lift, lang) if be is not None and be.lift is not None else text("loyalty.none", lang)
    if not best.metric("profit") > 0:
        # nothing pays: say so first, and name the least-bad design as what it is
        return {
            text("loyalty.index.verdict", lang): text("loyalty.index.none_pays", lang, designs=len(lab.results)),
            text("loyalty.index.least_loss", lang): _name(best, lang),
            text("loyalty.index.profit", lang, months=lab.settings.horizon_months): money(
                best.metric("profit"), currency, lang, markdown=False
            ),
            text("loyalty.index.roi", lang): _signed_pct(best.metric("roi"), lang),
            text("loyalty.index.break_even", lang): need,
        }
    return {
        text("loyalty.index.best", lang): _name(best, lang),
        text("loyalty.index.profit", lang, months=lab.settings.horizon_months): money(
            best.metric("profit"), currency, lang, markdown=False
        ),
        text("loyalty.index.roi", lang): _signed_pct(best.metric("roi"), lang),
        text("loyalty.index.break_even", lang): need,
    }


def actions(lab: Lab, currency: str = "$", language: str = "en") -> str:
    """What to do next, in order."""
    lang = language
    best = max(lab.results, key=lambda r: r.metric("profit"))
    name = _name(best, lang)
    months = lab.settings.horizon_months
    items = []
    if best.metric("profit") > 0:
        items.append(text(
            "loyalty.actions.pilot", lang, name=name,
            need=_lift(best.break_even.lift if best.break_even else None, lang),
        ))
    else:
        contribution = best.metric("incremental_margin") - (best.metric("total_cost") - best.metric("fixed_cost"))
        if contribution > 0:
            detail = text(
                "loyalty.actions.variable_covered", lang, name=name, contribution=money(contribution, currency, lang),
                fixed=money(best.metric("fixed_cost"), currency, lang), months=months,
            )
        else:
            detail = text(
                "loyalty.actions.variable_not_covered", lang, name=name,
                contribution=money(contribution, currency, lang),
            )
        items.append(text("loyalty.actions.do_not_launch", lang) + detail)
    if best.sensitivity is not None and len(best.sensitivity):
        top = best.sensitivity.iloc[0]
        items.append(text(
            "loyalty.actions.measure", lang, assumption=_assumption(top["parameter"], lang, in_sentence=True),
            name=name, low=_signed_pct(top["roi_low"], lang), high=_signed_pct(top["roi_high"], lang),
        ))
    subsidy = best.metric("subsidy_share")
    if np.isfinite(subsidy) and subsidy > 0:
        items.append(text("loyalty.actions.subsidy", lang, share=pct(subsidy), name=name))
    items.append(text(
        "loyalty.actions.liability", lang, name=name, liability=money(best.metric("liability_face"), currency, lang),
        months=months,
    ))
    return "\n".join(f"{i}. {item}" for i, item in enumerate(items, start=1))


def comparison(lab: Lab, language: str = "en") -> str:
    """Interpretation of the ROI chart."""
    lang = language
    ranked = sorted(lab.results, key=lambda r: r.metric("roi"), reverse=True)
    overlap = [
        (_name(a, lang), _name(b, lang))
        for a, b in zip(ranked, ranked[1:])
        if a.summary.loc["roi", "low"] <= b.summary.loc["roi", "high"]
    ]
    out = text(
        "loyalty.comparison.text", lang, name=_name(ranked[0], lang), roi=_signed_pct(ranked[0].metric("roi"), lang)
    )
    if overlap:
        pairs = _semicolon(lang).join(text("loyalty.comparison.pair", lang, first=a, second=b) for a, b in overlap)
        out += ("" if is_chinese(lang) else " ") + text("loyalty.comparison.overlap", lang, pairs=pairs)
    return out


def lift_text(lab: Lab, language: str = "en") -> str:
    """Interpretation of the expected vs needed lift chart."""
    lang = language
    parts = []
    for r in lab.results:
        be = r.break_even
        if be is None:
            continue
        if be.lift is None:
            parts.append(text("loyalty.lift.never", lang, name=_name(r, lang), note=break_even_note(r, lang)))
        else:
            gap = r.metric("effective_lift") - be.lift
            parts.append(text(
                "loyalty.lift.enough" if gap >= 0 else "loyalty.lift.short", lang, name=_name(r, lang),
                need=_lift(be.lift, lang), lift=_lift(r.metric("effective_lift"), lang),
            ))
    return text("loyalty.lift.text", lang, parts=_semicolon(lang).join(parts))


def cost_label(key: str, language: str = "en") -> str:
    """A cost type (``reward_cost``, ``fixed_cost``...) in ``language``."""
    return text(f"loyalty.cost.{key}", language)


def costs_text(lab: Lab, currency: str = "$", language: str = "en") -> str:
    """Interpretation of the earnings vs costs chart."""
    lang = language
    parts = []
    for r in lab.results:
        biggest = cost_label(max(COST_KEYS, key=lambda k: r.metric(k)), lang)
        parts.append(text(
            "loyalty.costs.part", lang, name=_name(r, lang),
            margin=money(r.metric("incremental_margin"), currency, lang),
            cost=money(r.metric("total_cost"), currency, lang),
            biggest=biggest if is_chinese(lang) else biggest.lower(),
        ))
    return text("loyalty.costs.text", lang, parts=_semicolon(lang).join(parts))


# ---------------------------------------------------------------------- one design


def rules_md(design: Design, currency: str = "$", language: str = "en") -> str:
    """The design's rules in words."""
    lang = language
    e, b, c = design.earn, design.burn, design.costs
    cur = currency.replace("$", "\\$")
    comma, semi, colon = _comma(lang), _semicolon(lang), _colon(lang)

    def points_word(n: float) -> str:
        return text("loyalty.rules.point" if n == 1 else "loyalty.rules.points", lang)

    lines = []
    reward_rate = e.points_per_currency * b.point_value
    expiry = (text("loyalty.rules.expiry", lang, months=b.expiry_months) if b.expiry_months
              else text("loyalty.rules.no_expiry", lang))
    lines.append(text(
        "loyalty.rules.earn", lang, points=f"{e.points_per_currency:g}", point_word=points_word(e.points_per_currency),
        per=f"{cur}1", value=f"{cur}{b.point_value:g}", rate=pct(reward_rate, 1),
        threshold=f"{b.redemption_threshold:,.0f}",
        threshold_value=f"{cur}{b.redemption_threshold * b.point_value:,.2f}",
        mode=text(f"loyalty.rules.{b.redeem}", lang), expiry=expiry,
    ))
    if e.channel_multipliers or e.category_multipliers:
        mults = [text("loyalty.rules.channel", lang, name=k, factor=f"{v:g}") for k, v in e.channel_multipliers.items()]
        mults += [text("loyalty.rules.category", lang, name=k, factor=f"{v:g}")
                  for k, v in e.category_multipliers.items()]
        lines.append(text("loyalty.rules.multipliers", lang, items=comma.join(mults)))
    if e.activities:
        acts = comma.join(
            f"{activity_label(a.name, lang)} {a.points:g} {points_word(a.points)}"
            + (text("loyalty.rules.activity_cap", lang, cap=a.monthly_cap) if a.monthly_cap is not None else "")
            for a in e.activities
        )
        lines.append(text("loyalty.rules.activities", lang, items=acts))
    if design.has_tiers:
        lines.append(text(
            "loyalty.rules.tiers", lang, window=design.window_months, retain=pct(design.retain_fraction),
            review=design.demotion_review_months,
        ))
        for t in design.levels:
            rule = []
            if t.qualify_spend is not None:
                rule.append(text("loyalty.rules.spend", lang, amount=f"{cur}{t.qualify_spend:,.0f}"))
            if t.qualify_visits is not None:
                rule.append(text("loyalty.rules.visits", lang, visits=f"{t.qualify_visits:g}"))
            benefits = t.benefits.describe(lang)
            lines.append(
                f"  - *{t.label(lang)}*{colon}"
                + (text("loyalty.or", lang).join(rule) if rule else text("loyalty.rules.entry", lang))
                + semi + (comma.join(benefits) if benefits else text("loyalty.rules.no_benefits", lang))
            )
    else:
        benefits = design.levels[0].benefits.describe(lang)
        if benefits:
            lines.append(text("loyalty.rules.member_benefits", lang, benefits=comma.join(benefits)))
    for t in design.triggers:
        lines.append(text("loyalty.rules.trigger", lang, name=t.label(lang), rule=t.describe(cur, lang)))
    fixed = c.fixed_setup + c.fixed_per_month * 12
    extras = ""
    if c.shipping_cost_per_order:
        extras += text("loyalty.rules.shipping", lang, cost=f"{cur}{c.shipping_cost_per_order:,.2f}",
                       share=pct(c.shipped_order_share))
    if c.return_cost_per_order:
        extras += text("loyalty.rules.returns", lang, cost=f"{cur}{c.return_cost_per_order:,.2f}")
    if c.early_access_cost_per_member_month and any(t.benefits.early_access for t in design.levels):
        extras += text("loyalty.rules.early_access", lang, cost=f"{cur}{c.early_access_cost_per_member_month:,.2f}")
    lines.append(text(
        "loyalty.rules.costs", lang, setup=f"{cur}{c.fixed_setup:,.0f}", monthly=f"{cur}{c.fixed_per_month:,.0f}",
        per_member=f"{cur}{c.per_member_month:,.2f}", per_new=f"{cur}{c.per_new_member:,.2f}", extras=extras,
        fixed=f"{cur}{fixed:,.0f}",
    ))
    margin = pct(design.gross_margin) if design.gross_margin is not None else text("loyalty.rules.study_margin", lang)
    lines.append(text("loyalty.rules.margin", lang, margin=margin, ratio=pct(b.reward_cost_ratio)))
    return "\n".join(lines)


def design_headline(r: DesignResult, lab: Lab, currency: str = "$", language: str = "en") -> str:
    """The opening of a design page."""
    lang = language
    months = lab.settings.horizon_months
    s = r.summary
    subsidy, breakage = r.metric("subsidy_share"), r.metric("breakage_rate")
    none = text("loyalty.none", lang)
    return "\n".join(
        [
            text(
                "loyalty.design.headline", lang, name=_name(r, lang), verdict=verdict(r, lang), months=months,
                profit_sentence=_profit_sentence(r, currency, lang), share=pct(r.metric("probability_profit")),
            ),
            "",
            text("loyalty.design.break_even", lang, text=_break_even_sentence(r, lang)),
            text(
                "loyalty.design.members", lang, members=count(r.metric("members")),
                share=pct(r.metric("members") / lab.base.n_base),
                revenue=money(r.metric("incremental_revenue"), currency, lang),
                incremental=pct(s.loc["incremental_share", "mean"], 1),
                base_revenue=money(r.metric("revenue_base"), currency, lang),
            ),
            text(
                "loyalty.design.cost", lang, cost=money(r.metric("total_cost"), currency, lang),
                subsidy=pct(subsidy) if np.isfinite(subsidy) else none,
            ),
            text(
                "loyalty.design.points", lang, breakage=pct(breakage) if np.isfinite(breakage) else none,
                liability=money(r.metric("liability_face"), currency, lang), months=months,
                liability_cost=money(r.metric("liability_cost"), currency, lang),
            ),
        ]
    )


def tornado_text(r: DesignResult, language: str = "en") -> str:
    """Interpretation of a design's tornado chart."""
    lang = language
    sens = r.sensitivity
    if sens is None or sens.empty:
        return text("loyalty.tornado.none", lang)
    top = sens.iloc[0]
    flips = sens[(np.sign(sens["roi_low"]) != np.sign(sens["roi_high"]))]
    out = text(
        "loyalty.tornado.text", lang, top=_assumption(top["parameter"], lang),
        roi_low=_signed_pct(top["roi_low"], lang), low=_value(top["low_value"], top["parameter"]),
        roi_high=_signed_pct(top["roi_high"], lang), high=_value(top["high_value"], top["parameter"]),
    )
    out += "" if is_chinese(lang) else " "
    if len(flips):
        names = _comma(lang).join(_assumption(p, lang, in_sentence=True) for p in flips["parameter"])
        out += text("loyalty.tornado.flips", lang, names=names)
    else:
        out += text("loyalty.tornado.no_flips", lang)
    return out


def tiers_text(r: DesignResult, lab: Lab, language: str = "en") -> str:
    """Interpretation of the members-by-level chart."""
    lang = language
    last = r.tiers.iloc[-1]
    levels = [c for c in r.tiers.columns if c != "month"]
    total = float(last[levels].sum())
    if not r.design.has_tiers:
        return text(
            "loyalty.tiers.none", lang, rate=pct(r.sim.values["enrolment_rate"]),
            months=lab.settings.horizon_months, members=count(total),
        )
    shares = _comma(lang).join(
        f"{r.design.level_label(name, lang)} {pct(last[name] / total) if total else pct(0.0)}" for name in levels
    )
    return text(
        "loyalty.tiers.text", lang, first=r.design.level_label(levels[0], lang), months=lab.settings.horizon_months,
        members=count(total), shares=shares,
    )


def points_text(r: DesignResult, lab: Lab, currency: str = "$", language: str = "en") -> str:
    """Interpretation of the points flow chart."""
    lang = language
    earned = r.metric("points_earned") * r.design.burn.point_value
    redeemed = r.metric("points_redeemed") * r.design.burn.point_value
    expired = r.metric("points_expired") * r.design.burn.point_value
    return text(
        "loyalty.points", lang, months=lab.settings.horizon_months, earned=money(earned, currency, lang),
        redeemed=money(redeemed, currency, lang), expired=money(expired, currency, lang),
        breakage=pct(expired / earned) if earned else pct(0.0),
        liability=money(r.metric("liability_face"), currency, lang),
        share=pct(r.sim.values["outstanding_redeemed_share"]),
    )


def segments_text(r: DesignResult, currency: str = "$", language: str = "en") -> str:
    """Interpretation of the segment chart."""
    lang = language
    seg = r.segments
    best = seg.loc[seg["contribution"].idxmax()]
    worst = seg.loc[seg["contribution"].idxmin()]
    values = dict(
        best=_segment(best["segment"], lang), best_value=money(best["contribution"], currency, lang),
        worst=_segment(worst["segment"], lang), worst_value=money(worst["contribution"], currency, lang),
    )
    key = "loyalty.segments_text.pays" if best["contribution"] > 0 else "loyalty.segments_text.loses"
    parts = [text("loyalty.segments_text.intro", lang), text(key, lang, **values),
             text("loyalty.segments_text.advice", lang)]
    return ("" if is_chinese(lang) else " ").join(parts)


def break_even_detail(r: DesignResult, currency: str = "$", language: str = "en") -> str:
    """How the break-even lift was found."""
    be = r.break_even
    if be is None:
        return ""
    colon = "：" if is_chinese(language) else ": "
    steps = _semicolon(language).join(
        f"{x:.1%}{colon}{money(v, currency, language)}" for x, v in sorted(be.evaluations)
    )
    return text("loyalty.break_even.detail", language, steps=steps)


def method_md(lab: Lab, language: str = "en") -> str:
    """How the numbers are made, for the Method section."""
    lang = language
    low, high = INTERVAL
    return "\n".join(
        [
            text("loyalty.method.baseline", lang, model=lab.base.purchase_model.label),
            text("loyalty.method.activity", lang, threshold=pct(DEFAULT_RULE.alive_threshold),
                 days=DEFAULT_RULE.lapsed_days),
            text("loyalty.method.programme", lang),
            text("loyalty.method.incremental", lang),
            text("loyalty.method.profit", lang),
            text("loyalty.method.ranges", lang, low=f"{low:g}", high=f"{high:g}", runs=lab.settings.runs),
            text("loyalty.method.not_modelled", lang),
        ]
    )


def references_md() -> str:
    return "\n".join(f"- {ref}" for ref in A.references())


def references_section(language: str = "en") -> str:
    """The references under their heading."""
    return text("loyalty.method.references", language) + "\n\n" + references_md()


def design_link(r: DesignResult, pages_link: str, language: str = "en") -> str:
    """Markdown link from the comparison page to a design page."""
    return text("loyalty.design.link", language, name=_name(r, language), href=f"{pages_link}/{r.design.slug}.html")


def short_design_summary(r: DesignResult, lab: Lab, currency: str, pages_link: str, language: str = "en") -> str:
    """A few lines per design on the comparison page."""
    lang = language
    description = r.design.display_description(lang)
    name = f"**{_name(r, lang)}**"
    lines = [
        text(
            "loyalty.design.summary_verdict", lang, verdict=verdict(r, lang),
            profit_sentence=_profit_sentence(r, currency, lang), break_even=_break_even_sentence(r, lang),
        ),
    ]
    if r.sensitivity is not None and len(r.sensitivity):
        top = r.sensitivity.iloc[0]
        lines.append(text(
            "loyalty.design.summary_sensitive", lang, assumption=_assumption(top["parameter"], lang, in_sentence=True)
        ))
    lines.append(design_link(r, pages_link, lang))
    # one paragraph: a line break inside it reads as a space, which Chinese text does not have
    paragraph = ("" if is_chinese(lang) else "\n").join(lines)
    return "\n".join([f"{name}{_colon(lang)}{description}" if description else name, "", paragraph])


def assumption_values(lab: Lab, language: str = "en") -> pd.DataFrame:
    """Assumptions used, one column per design (to show overrides side by side)."""
    rows = []
    for name in A.SPECS:
        row = {"assumption": A.label(name, language), "parameter": name}
        for r in lab.results:
            row[_name(r, language)] = r.sim.values[name] if A.relevant(r.design, name) else np.nan
        row["source"] = A.source(name, language)
        rows.append(row)
    return pd.DataFrame(rows)
