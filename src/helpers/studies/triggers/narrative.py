"""Plain-language text of the triggers page, written from the numbers.

Every function takes ``language``; strings live in
``helpers/report/locales/<language>/triggers.yaml``. Rule names come from the rules file
and are HTML-escaped.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from helpers.report.formatting import count, money
from helpers.report.i18n import text
from helpers.report.page_text import listing, numbered, sentences, tables_source
from helpers.studies.triggers.analysis import TriggerStudy
from helpers.studies.triggers.rules import CLV_TIERS, Rule

NOTEBOOK = "triggers"
CURRENCY = "¥"


def share(value: float, digits: int = 0) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 100:.{digits}f}%"


def rule_name(rule: Rule, language: str = "en") -> str:
    return html.escape(rule.name(language))


def title(language: str = "en") -> str:
    return text("triggers.title.heading", language) + "\n\n" + text("triggers.title.intro", language)


def heading(key: str, language: str = "en") -> str:
    return "## " + text(f"triggers.heading.{key}", language)


def describe(rule: Rule, language: str = "en") -> str:
    """What the rule does, in words."""
    p, lang = rule.params, language
    values = {
        "due": {"k": f"{p.get('k', 0):g}"},
        "sleeping": {"days": p.get("days")},
        "birthday": {"days": p.get("days_before")},
        "weekday_affinity": {"share": share(p.get("min_share", 0)), "days": p.get("min_purchase_days")},
        "weather": {"conditions": _conditions(rule, language), "share": share(p.get("min_online_share", 0)),
                    "hour": p.get("send_hour")},
        "near_store": {"days": p.get("no_store_visit_days")},
    }[rule.kind]
    return text(f"triggers.rules.{rule.kind}", lang, **values)


def _conditions(rule: Rule, language: str) -> str:
    p, parts = rule.params, []
    if p.get("min_rain_mm", 0) > 0:
        parts.append(text("triggers.rules.weather_rain", language, mm=f"{p['min_rain_mm']:g}"))
    if p.get("min_temperature_c", -60) > -60:
        parts.append(text("triggers.rules.weather_hot", language, degrees=f"{p['min_temperature_c']:g}"))
    if p.get("max_temperature_c", 60) < 60:
        parts.append(text("triggers.rules.weather_cold", language, degrees=f"{p['max_temperature_c']:g}"))
    return listing(parts, language)


def offer(rule: Rule, language: str = "en") -> str:
    if rule.offer <= 0:
        return text("triggers.rules.no_offer", language)
    return text("triggers.rules.offer", language, value=money(rule.offer, CURRENCY, language, markdown=False))


def guards(rule: Rule, language: str = "en") -> str:
    g, lang, parts = rule.guards, language, []
    if g.min_p_alive > 0 or g.max_p_alive < 1:
        parts.append(text("triggers.rules.guard_alive", lang, low=f"{g.min_p_alive:g}", high=f"{g.max_p_alive:g}"))
    if tuple(g.clv_tiers) != CLV_TIERS:
        parts.append(text("triggers.rules.guard_tiers", lang, tiers="/".join(g.clv_tiers)))
    if math.isfinite(g.max_discount):
        parts.append(text("triggers.rules.guard_discount", lang, share=share(g.max_discount)))
    return "; ".join(parts) if parts else text("triggers.rules.no_guards", lang)


def _names(study: TriggerStudy, ids, language: str) -> str:
    rules = {r.id: r for r in study.config.rules}
    return listing([rule_name(rules[i], language) for i in ids], language)


def headline(study: TriggerStudy, language: str = "en") -> str:
    lang = language
    s = study.backtest.summary
    rates = s["hit_rate"].dropna()
    parts = [text(
        "triggers.headline.lead", lang, weeks=study.metrics["weeks"],
        first=study.backtest.first_week.strftime("%Y-%m-%d"),
        last=(study.backtest.last_week + pd.Timedelta(days=6)).strftime("%Y-%m-%d"),
        rules=len(s), audience=count(s["weekly_audience"].sum()), low=share(rates.min() if len(rates) else math.nan),
        high=share(rates.max() if len(rates) else math.nan), days=study.config.settings.hit_days,
    )]
    good = s.loc[s["weekly_incremental_margin"] > 0, "rule"].tolist()
    bad = s.loc[s["weekly_incremental_margin"] <= 0, "rule"].tolist()
    if good:
        parts.append(text("triggers.headline.margin_good", lang, rules=_names(study, good, lang)))
    if bad:
        parts.append(text("triggers.headline.margin_bad", lang, rules=_names(study, bad, lang)))
    w = study.weather
    if w is not None:
        parts.append(text("triggers.headline.weather", lang, lift=share(w.ratio - 1), low=share(w.low - 1),
                          high=share(w.high - 1)))
    scheduled = study.calendar.loc[study.calendar["basis"] == "scheduled", "audience"].sum()
    parts.append(text("triggers.headline.calendar", lang, scheduled=count(scheduled)))
    return sentences(parts, lang)


def headline_numbers(study: TriggerStudy, language: str = "en") -> dict[str, object]:
    s = study.backtest.summary
    out: dict[str, object] = {text("triggers.index.audience", language): round(s["weekly_audience"].sum())}
    if study.weather is not None:
        out[text("triggers.index.rain_lift", language)] = "+" + share(study.weather.ratio - 1)
    scheduled = study.calendar.loc[study.calendar["basis"] == "scheduled", "audience"].sum()
    out[text("triggers.index.scheduled", language)] = int(scheduled)
    return out


def actions(study: TriggerStudy, language: str = "en") -> str:
    lang = language
    s = study.backtest.summary
    items = []
    good = s[s["weekly_incremental_margin"] > 0]
    if len(good):
        items.append(text("triggers.actions.run", lang, rules=_names(study, good["rule"], lang),
                          margin=money(good["weekly_incremental_margin"].sum(), CURRENCY, lang)))
    bad = s[s["weekly_incremental_margin"] <= 0]
    if len(bad):
        items.append(text("triggers.actions.rework", lang, rules=_names(study, bad["rule"], lang)))
    rain = [r for r in study.config.rules if r.kind == "weather" and r.params["min_rain_mm"] > 0]
    if rain and study.weather is not None and study.weather.low > 1:
        hour = int(study.backtest.sends.loc[study.backtest.sends["rule"] == rain[0].id, "send_hour"].median()) if (
            study.backtest.sends["rule"] == rain[0].id).any() else rain[0].params["send_hour"]
        items.append(text("triggers.actions.rain", lang, rule=rule_name(rain[0], lang),
                          lift=share(study.weather.ratio - 1), hour=hour))
    plain = s.loc[s["offer"] <= 0, "rule"].tolist()
    if plain:
        items.append(text("triggers.actions.reminders", lang, rules=_names(study, plain, lang)))
    moved = study.backtest.sends["moved_by_quiet_hours"].mean() if len(study.backtest.sends) else 0.0
    if moved > 0:
        items.append(text("triggers.actions.quiet", lang, share=share(moved), hour=study.config.settings.quiet_hours[1]))
    items.append(text("triggers.actions.export", lang))
    return numbered(items)


def rules_text(language: str = "en") -> str:
    return text("triggers.rules.text", language)


def backtest_text(study: TriggerStudy, language: str = "en") -> str:
    return sentences([
        text("triggers.backtest.text", language, days=study.config.settings.hit_days),
        text("triggers.backtest.margin", language, margin_rate=share(study.config.settings.margin_rate)),
    ], language)


def calendar_text(language: str = "en") -> str:
    return text("triggers.calendar.text", language)


def weather_text(study: TriggerStudy, language: str = "en") -> str:
    w = study.weather
    if w is None:
        return text("triggers.weather.none", language)
    return text("triggers.weather.text", language, rainy=count(w.rainy_days), dry=count(w.dry_days), strata=w.strata,
                ratio=f"{w.ratio:.2f}", low=f"{w.low:.2f}", high=f"{w.high:.2f}")


def method(study: TriggerStudy, language: str = "en") -> str:
    s = study.config.settings
    return text("triggers.method", language, r=f"{study.model_params['r']:.3f}",
                alpha=f"{study.model_params['alpha']:.1f}", cap=s.cap_days, per_week=s.max_per_week,
                quiet_from=s.quiet_hours[0], quiet_to=s.quiet_hours[1])


def data_summary(study: TriggerStudy, language: str = "en") -> str:
    return text("triggers.data", language, customers=count(len(study.inputs.ids)), weeks=study.metrics["weeks"],
                source=html.escape(str(study.config.source)))


def source(folder: str, generated: bool, seed: int, language: str = "en") -> str:
    """Where the campaign tables came from (generated tables are said to be illustrations)."""
    return tables_source("triggers", folder, generated, seed, language)


def outputs_label(language: str = "en") -> str:
    """What the exported CSV holds, for the outputs line."""
    return text("triggers.outputs", language)
