"""Plain-language text for the pilot readout page, written from the readout's numbers.

Each function returns Markdown in the page language ("en" or "zh-CN"; strings live in
``helpers/locales/<language>/pilot.yaml``) for a marketing team: what was found, how sure
we are, and what to do. Thresholds that turn numbers into words are named constants
(see also :mod:`helpers.studies.pilot.analysis`), so every claim on the page can be traced.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.formatting import count, money, pct
from helpers.report.i18n import is_chinese, text
from helpers.report.tables import styled
from helpers.studies.pilot.analysis import (
    CHECK_SPLIT,
    ROLL_OUT,
    STOP,
    BootstrapResult,
    CupedResult,
    Effect,
    Readout,
    SegmentEffects,
    SrmResult,
    decision_label,
    segment_label,
)

#: SRM p-values below this (but above the SRM threshold) earn a "worth a look" remark.
SRM_WATCH_P = 0.01
#: Bootstrap and t interval ends closer than this share of the t interval's width "agree".
BOOTSTRAP_AGREEMENT = 0.10


def amount(
    value: float, currency: str = "", *, signed: bool = False, digits: int | None = None, language: str = "en"
) -> str:
    """An amount per customer for Markdown: ¥11.02, +¥11.02, ¥1,234, ¥12.3k (Chinese: ¥1.2万).

    Large amounts go through :func:`helpers.report.formatting.money`; smaller ones keep the
    cents that per-customer effects need (``digits`` forces the decimals). A ``$`` is
    escaped for Markdown.
    """
    if value is None or not math.isfinite(value):
        return text("pilot.na", language)
    plus = "+" if signed and value > 0 else ""
    if abs(value) >= 10_000:
        return plus + money(value, currency, language)
    minus = "-" if value < 0 else ""
    if digits is None:
        digits = 0 if abs(value) >= 100 else 2
    number = f"{abs(value):,.{digits}f}"
    symbol = currency.replace("$", "\\$")
    return f"{plus}{minus}{symbol}{number}"


def _lift(value: float, language: str = "en") -> str:
    return text("pilot.na", language) if not math.isfinite(value) else f"{value:+.1%}"


def _interval(low: float, high: float, currency: str, language: str = "en") -> str:
    """Both ends with the same number of decimals."""
    digits = 0 if max(abs(low), abs(high)) >= 100 else 2
    return text(
        "pilot.interval", language,
        low=amount(low, currency, digits=digits, language=language),
        high=amount(high, currency, digits=digits, language=language),
    )


def _level(alpha: float) -> str:
    return f"{1 - alpha:.0%}"


def _p(p: float, language: str = "en") -> str:
    if not math.isfinite(p):
        return text("pilot.na", language)
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def _p_is(p: float, language: str = "en") -> str:
    """A p-value stated in a sentence: "p = 0.042", "p < 0.001" (not "p = < 0.001")."""
    value = _p(p, language)
    return f"p {value}" if value.startswith("<") else f"p = {value}"


def _points(value: float, language: str = "en") -> str:
    return text("pilot.points", language, value=f"{100 * value:+.1f}")


def _sentences(parts: Iterable[str], language: str) -> str:
    """Sentences run together: a space between English ones, none between Chinese ones."""
    return ("" if is_chinese(language) else " ").join(part for part in parts if part)


def _names(names: Iterable[str], language: str) -> str:
    """A list of names: "a, b" / "a、b", the code's placeholder segments in the page language."""
    return ("、" if is_chinese(language) else ", ").join(segment_label(n, language) for n in names)


def _unit(currency: str, language: str) -> str:
    """The currency after a table header: " (¥)" / "（¥）"."""
    if not currency:
        return ""
    return f"（{currency}）" if is_chinese(language) else f" ({currency})"


def _column_map_example(role: str, language: str) -> str:
    header = text("pilot.header_placeholder", language)
    return f"`column_map: {{{role}: <{header}>}}`"


def metric_words(metric: str, language: str = "en") -> str:
    """What the outcome measures, for the page: the user's words, or "spend per customer"."""
    return metric or text("pilot.metric_default", language)


# --------------------------------------------------------------------------- answer


def data_label(source: str, simulated: bool, truth: dict | None, language: str = "en") -> tuple[str, str]:
    """(label, kind) of the pilot's data for the page header and the index card: a simulated
    pilot says so (never a file name it did not read); a file with the generator's truth is
    "generated"; any other file is real data."""
    if simulated:
        return text("pilot.data.simulated_label", language), "simulated"
    return source, "generated" if truth and truth.get("true_effect") is not None else "real"


def data_source(source: str, truth: dict | None, customers: int, currency: str = "", language: str = "en") -> str:
    """Where the numbers come from; for a simulated or generated pilot, the known truth."""
    lang = language
    if truth and truth.get("kind") == "simulated":
        return text(
            "pilot.data.simulated", lang, customers=count(customers),
            effect=amount(truth["true_effect"], currency, signed=True, language=lang),
            lift=_lift(truth["relative_lift"], lang), rho=f"{truth['rho']:.2f}",
        )
    parts = [text("pilot.data.file", lang, source=source, customers=count(customers))]
    if truth and truth.get("true_effect") is not None:
        parts.append(text(
            "pilot.data.generator", lang, effect=amount(truth["true_effect"], currency, signed=True, language=lang)
        ))
    return _sentences(parts, lang)


def headline(r: Readout, metric: str, currency: str = "", language: str = "en") -> str:
    """The opening paragraph: did the pilot work, by how much, how sure are we."""
    lang, metric = language, metric_words(metric, language)
    e, raw = r.headline, r.cuped.raw
    interval = text(
        "pilot.headline.interval", lang, level=_level(e.alpha), interval=_interval(e.ci_low, e.ci_high, currency, lang)
    )
    lift = _lift(e.relative, lang)
    size = text(
        "pilot.headline.size", lang, effect=amount(e.difference, currency, signed=True, language=lang),
        lift=lift, interval=interval,
    )
    by = text(
        "pilot.headline.by", lang, amount=amount(abs(e.difference), currency, language=lang), lift=lift,
        interval=interval,
    )
    if r.srm.mismatch:
        first = text("pilot.headline.mismatch", lang, size=size)
    elif e.ci_low > 0:
        first = text("pilot.headline.raised", lang, metric=metric, by=by)
    elif e.ci_high < 0:
        first = text("pilot.headline.lowered", lang, metric=metric, by=by)
    else:
        first = text("pilot.headline.unclear", lang, metric=metric, size=size)
    raw_values = {
        "difference": amount(raw.difference, currency, signed=True, language=lang),
        "interval": _interval(raw.ci_low, raw.ci_high, currency, lang),
    }
    if raw.half_width > 0:
        raw_line = text("pilot.headline.raw", lang, share=pct(1 - e.half_width / raw.half_width), **raw_values)
    else:
        raw_line = text("pilot.headline.raw_same", lang, **raw_values)
    lines = [
        first,
        "",
        "- " + raw_line,
        "- " + text(
            "pilot.headline.customers", lang, treated=count(r.srm.n_treatment), control=count(r.srm.n_control),
            observed=pct(r.srm.observed_treatment_share, 1), planned=pct(r.srm.planned_treatment_share, 1),
        ),
    ]
    if r.conversion is not None:
        c = r.conversion
        lines.append("- " + text(
            "pilot.headline.conversion", lang, treatment=pct(c.treatment_mean, 1), control=pct(c.control_mean, 1),
            points=_points(c.difference, lang), low=_points(c.ci_low, lang), high=_points(c.ci_high, lang),
        ))
    truth = truth_check(r, currency, lang)
    if truth:
        lines.append(f"- {truth}")
    return "\n".join(lines)


def truth_check(r: Readout, currency: str = "", language: str = "en") -> str:
    """One sentence comparing the estimate with the known truth (empty when unknown)."""
    if r.truth_covered is None:
        return ""
    verdict = text("pilot.headline.truth_covered" if r.truth_covered else "pilot.headline.truth_missed", language)
    return text(
        "pilot.headline.truth", language,
        effect=amount(r.truth["true_effect"], currency, signed=True, language=language),
        interval=_interval(r.headline.ci_low, r.headline.ci_high, currency, language), verdict=verdict,
    )


def decision_rule(r: Readout, currency: str = "", language: str = "en") -> str:
    """The rule the recommendation follows, stated with this page's numbers."""
    s = r.settings
    return text(
        "pilot.rule", language, level=_level(s.alpha), lift=_lift(s.mde, language),
        minimum=amount(r.minimum_worthwhile, currency, language=language), threshold=f"{s.srm_threshold:g}",
    )


def actions(r: Readout, metric: str, currency: str = "", language: str = "en") -> str:
    """What to do, following :func:`helpers.studies.pilot.analysis.decide`, then the rule itself."""
    lang, metric = language, metric_words(metric, language)
    e = r.headline
    label = decision_label(r.decision.action, lang)
    needed = r.plan_cuped.n_total if r.plan_cuped else None
    if r.decision.action == CHECK_SPLIT:
        body = text(
            "pilot.actions.check_split", lang, label=label, observed=pct(r.srm.observed_treatment_share, 1),
            planned=pct(r.srm.planned_treatment_share, 1), threshold=f"{r.srm.threshold:.1%}",
        )
    elif r.decision.action == ROLL_OUT:
        body = text(
            "pilot.actions.roll_out", lang, label=label, metric=metric,
            effect=amount(e.difference, currency, signed=True, language=lang),
            low=amount(e.ci_low, currency, language=lang), level=_level(e.alpha),
        )
    elif r.decision.action == STOP:
        if e.ci_high < 0:
            body = text(
                "pilot.actions.stop_harm", lang, label=label, metric=metric,
                interval=_interval(e.ci_low, e.ci_high, currency, lang),
            )
        else:
            body = text(
                "pilot.actions.stop_small", lang, label=label, high=amount(e.ci_high, currency, language=lang),
                minimum=amount(r.minimum_worthwhile, currency, language=lang),
            )
    else:
        parts = [text("pilot.actions.extend", lang, label=label,
                      interval=_interval(e.ci_low, e.ci_high, currency, lang))]
        if needed is not None:
            extra = max(needed - r.n_total, 0)
            parts.append(
                text(
                    "pilot.actions.needed", lang, lift=_lift(r.settings.mde, lang),
                    minimum=amount(r.minimum_worthwhile, currency, language=lang),
                    power=pct(r.settings.planning_power), needed=count(needed), had=count(r.n_total),
                )
                + (text("pilot.actions.add", lang, extra=count(extra)) if extra > 0 else
                   text("pilot.actions.enough", lang))
            )
        body = _sentences(parts, lang)
    return body + "\n\n" + decision_rule(r, currency, lang)


# --------------------------------------------------------------------------- evidence


def srm(result: SrmResult, balance: Effect | None = None, currency: str = "", language: str = "en") -> str:
    """The sample-ratio-mismatch check and the pre-period balance."""
    lang = language
    if result.mismatch:
        verdict = text("pilot.srm.fail", lang)
    elif result.p_value < SRM_WATCH_P:
        verdict = text("pilot.srm.watch", lang)
    else:
        verdict = text("pilot.srm.ok", lang)
    out = text(
        "pilot.srm.text", lang, planned=pct(result.planned_treatment_share, 1),
        observed=pct(result.observed_treatment_share, 1), treated=count(result.n_treatment),
        total=count(result.n_treatment + result.n_control), expected=count(round(result.expected_treatment)),
        p=_p(result.p_value, lang), threshold=f"{result.threshold:g}", verdict=verdict,
    )
    if balance is not None:
        out += "\n\n" + text(
            "pilot.srm.balance", lang, treatment=amount(balance.treatment_mean, currency, language=lang),
            control=amount(balance.control_mean, currency, language=lang),
            difference=amount(balance.difference, currency, signed=True, language=lang),
            p=_p_is(balance.p_value, lang),
            verdict=text("pilot.srm.differ" if balance.p_value < SRM_WATCH_P else "pilot.srm.alike", lang),
        )
    return out


def raw_vs_cuped(c: CupedResult, currency: str = "", language: str = "en") -> str:
    """Interpretation of the raw vs CUPED interval figure."""
    lang = language
    raw, adj = c.raw, c.adjusted
    if c.variance_reduction <= 0.01:
        gain = text("pilot.cuped.little", lang)
    else:
        gain = text(
            "pilot.cuped.gain", lang, rho=f"{c.rho:.2f}", reduction=pct(c.variance_reduction),
            rho_squared=pct(c.rho ** 2), factor=f"{c.sample_size_factor:.1f}",
        )
    return text(
        "pilot.cuped.text", lang, theta=f"{c.theta:.2f}",
        raw=amount(raw.difference, currency, signed=True, language=lang),
        raw_interval=_interval(raw.ci_low, raw.ci_high, currency, lang),
        cuped=amount(adj.difference, currency, signed=True, language=lang),
        cuped_interval=_interval(adj.ci_low, adj.ci_high, currency, lang), gain=gain,
    )


def bootstrap(b: BootstrapResult, analytic: Effect, currency: str = "", language: str = "en") -> str:
    """Interpretation of the bootstrap distribution."""
    width = analytic.ci_high - analytic.ci_low
    gap = max(abs(b.ci_low - analytic.ci_low), abs(b.ci_high - analytic.ci_high))
    agree = width > 0 and gap <= BOOTSTRAP_AGREEMENT * width
    return text(
        "pilot.bootstrap.text", language, resamples=count(b.n_resamples), seed=b.seed, level=_level(b.alpha),
        interval=_interval(b.ci_low, b.ci_high, currency, language),
        t_interval=_interval(analytic.ci_low, analytic.ci_high, currency, language),
        verdict=text("pilot.bootstrap.agree" if agree else "pilot.bootstrap.differ", language),
    )


def conversion(c: Effect, language: str = "en") -> str:
    """The effect on the share of customers who bought at all."""
    return text(
        "pilot.conversion.text", language, treatment=pct(c.treatment_mean, 1), control=pct(c.control_mean, 1),
        points=_points(c.difference, language), level=_level(c.alpha), low=_points(c.ci_low, language),
        high=_points(c.ci_high, language),
        verdict=text("pilot.conversion.real" if c.significant else "pilot.conversion.chance", language),
    )


def no_conversion(language: str = "en") -> str:
    """Shown instead of :func:`conversion` when the file has no conversion column."""
    return text("pilot.notebook.no_conversion", language, example=_column_map_example("converted", language))


def segments(s: SegmentEffects | None, currency: str = "", language: str = "en") -> str:
    """Interpretation of the effect-by-segment forest plot, with the multiple-comparison note."""
    lang = language
    if s is None:
        return text("pilot.segments.none", lang, example=_column_map_example("segment", lang))
    if s.n_segments == 0:
        return text("pilot.segments.empty", lang)
    t = s.table
    nominal = list(t.loc[t["significant"], "segment"])
    adjusted = list(t.loc[t["significant_holm"], "segment"])
    lines = [
        text(
            "pilot.segments.intro", lang, method=method_label(s.method, lang), segments=s.n_segments,
            chance=pct(s.false_alarm_chance), level=_level(s.alpha),
        ),
    ]
    if adjusted:
        lines.append(text("pilot.segments.adjusted", lang, names=_names(adjusted, lang)))
    elif nominal:
        lines.append(text("pilot.segments.nominal", lang, names=_names(nominal, lang)))
    else:
        lines.append(text("pilot.segments.no_effect", lang))
    if math.isfinite(s.heterogeneity_p):
        key = "pilot.segments.differ" if s.heterogeneity_p < s.alpha else "pilot.segments.same"
        lines.append(text(key, lang, p=_p_is(s.heterogeneity_p, lang)))
    if s.too_small:
        lines.append(text("pilot.segments.too_small", lang, names=_names(s.too_small, lang)))
    if s.pooled:
        lines.append(text("pilot.segments.pooled", lang, count=len(s.pooled)))
    return _sentences(lines, lang)


def method_label(method: str, language: str = "en") -> str:
    """How segment effects were estimated ("CUPED" or "raw"), in the page language."""
    return text(f"pilot.method.{method.lower()}", language)


def planning(r: Readout, currency: str = "", language: str = "en") -> str:
    """Interpretation of the power curve: how big the next pilot should be."""
    lang = language
    if r.plan_raw is None or r.plan_cuped is None:
        return text("pilot.planning.none", lang)
    s = r.settings
    raw, cup = r.plan_raw, r.plan_cuped
    baseline = r.cuped.raw.control_mean
    return text(
        "pilot.planning.text", lang, lift=_lift(s.mde, lang), delta=amount(raw.delta, currency, language=lang),
        baseline=amount(baseline, currency, language=lang), power=pct(s.planning_power), level=_level(s.alpha),
        split=f"{pct(s.planned_treatment_share)}/{pct(1 - s.planned_treatment_share)}",
        n_cuped=count(cup.n_total), treated=count(cup.n_treatment), control=count(cup.n_control),
        rho=f"{cup.rho:.2f}", n_raw=count(raw.n_total), had=count(r.n_total), power_now=pct(r.power_now),
        detectable=amount(r.detectable_now, currency, language=lang),
        detectable_lift=_lift(r.detectable_now / baseline, lang) if baseline > 0 else text("pilot.na", lang),
        sd=amount(raw.sd, currency, language=lang),
    )


def assumptions(r: Readout, simulated: bool, language: str = "en") -> str:
    """The assumptions behind the page, as a Markdown list."""
    s, lang = r.settings, language
    items = [
        text("pilot.assumptions.random", lang),
        text("pilot.assumptions.spillover", lang),
        text("pilot.assumptions.pre_period", lang),
        text("pilot.assumptions.window", lang),
        text("pilot.assumptions.intervals", lang, level=_level(s.alpha)),
        text("pilot.assumptions.srm", lang, share=pct(s.planned_treatment_share), threshold=f"{s.srm_threshold:g}"),
        text("pilot.assumptions.segments", lang),
        text("pilot.assumptions.planning", lang),
    ]
    if simulated:
        items.append(text("pilot.assumptions.simulated", lang))
    return "\n".join(f"- {item}" for item in items)


def data_line(source: str, columns: Mapping[str, str], language: str = "en") -> str:
    """The data source and which of the file's headers feeds each role."""
    used = ("、" if is_chinese(language) else ", ").join(
        f"{text(f'pilot.role.{role}', language)} ← `{header}`" for role, header in columns.items()
    )
    return text("pilot.notebook.data_line", language, source=source, columns=used)


def outputs_line(paths: Mapping[str, object], figures: object, language: str = "en") -> str:
    """Where the readout's files were written."""
    if "segments" in paths:
        return text("pilot.notebook.outputs_line_segments", language, json=paths["json"],
                    segments=paths["segments"], figures=figures)
    return text("pilot.notebook.outputs_line", language, json=paths["json"], figures=figures)


# --------------------------------------------------------------------------- tables


def effects_table(r: Readout, currency: str = "", language: str = "en") -> Styler:
    """Raw, CUPED and bootstrap results side by side."""
    def t(key: str, **values: str) -> str:
        return text(f"pilot.table.{key}", language, **values)

    unit = _unit(currency, language)
    level = _level(r.settings.alpha)
    rows = []
    for key, e in (("raw", r.cuped.raw), ("cuped", r.cuped.adjusted)):
        rows.append((t(key), e.control_mean, e.treatment_mean, e.difference, e.ci_low, e.ci_high, e.relative,
                     e.p_value))
    b = r.bootstrap
    rows.append((t("bootstrap"), r.cuped.raw.control_mean, r.cuped.raw.treatment_mean, b.estimate, b.ci_low,
                 b.ci_high, float("nan"), float("nan")))
    columns = [t("estimate"), t("control_mean", unit=unit), t("treatment_mean", unit=unit),
               t("difference", unit=unit), t("low", level=level, unit=unit), t("high", level=level, unit=unit),
               t("relative"), t("p_value")]
    frame = pd.DataFrame(rows, columns=columns)
    money_format = "{:,.2f}"
    formats = {c: money_format for c in columns[1:6]} | {columns[6]: "{:+.1%}", columns[7]: "{:.4f}"}
    return styled(frame, formats)


def segments_table(s: SegmentEffects, currency: str = "", language: str = "en") -> Styler:
    """The effect-by-segment table for the page."""
    def t(key: str, **values: str) -> str:
        return text(f"pilot.table.{key}", language, **values)

    unit = _unit(currency, language)
    level = _level(s.alpha)
    headers = {
        "segment": t("segment"), "n_control": t("n_control"), "n_treatment": t("n_treatment"),
        "control_mean": t("control_mean", unit=unit), "treatment_mean": t("treatment_mean", unit=unit),
        "difference": t("effect", unit=unit), "ci_low": t("low", level=level, unit=""),
        "ci_high": t("high", level=level, unit=""), "p_value": t("p_value"), "p_holm": t("p_holm"),
        "ci_low_simultaneous": t("simultaneous_low"), "ci_high_simultaneous": t("simultaneous_high"),
        "relative": t("relative"),
    }
    table = s.table.assign(segment=s.table["segment"].map(lambda name: segment_label(name, language)))
    view = table.rename(columns=headers).drop(columns=["se", "df", "significant", "significant_holm"])
    amounts = ["control_mean", "treatment_mean", "difference", "ci_low", "ci_high", "ci_low_simultaneous",
               "ci_high_simultaneous"]
    formats = {headers[c]: "{:,.2f}" for c in amounts} | {
        headers["n_control"]: "{:,.0f}", headers["n_treatment"]: "{:,.0f}", headers["p_value"]: "{:.4f}",
        headers["p_holm"]: "{:.4f}", headers["relative"]: "{:+.1%}",
    }
    return styled(view, formats)


def headline_numbers(readout, currency: str = "", language: str = "en") -> dict[str, str]:
    """The numbers the site index shows for a pilot readout (plain text, page language)."""
    from helpers.studies.pilot.analysis import decision_label

    effect = readout.headline

    def plain(value: float) -> str:
        return amount(value, currency, signed=True, language=language).replace("\\$", "$")

    return {
        text("pilot.index.decision", language): decision_label(readout.decision.action, language),
        text("pilot.index.effect", language): plain(effect.difference),
        text("pilot.index.interval", language): f"{plain(effect.ci_low)} … {plain(effect.ci_high)}",
        text("pilot.index.customers", language): f"{readout.n_total:,}",
    }
