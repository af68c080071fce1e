"""Plain-language text of the campaign readout page, written from the numbers.

Every function takes ``language`` ("en" or "zh-CN"); strings live in
``helpers/report/locales/<language>/campaigns.yaml``. Names that come from the data
(segments, coupon types without a catalog entry) are HTML-escaped.
"""

from __future__ import annotations

import html
import math

from helpers.report.formatting import count, money
from helpers.report.i18n import catalog, text
from helpers.report.page_text import listing, numbered, sentences, tables_source
from helpers.studies.campaigns.analysis import (
    MINIMUM_UPLIFT,
    RETEST,
    SEND,
    STOP,
    TRAIN_SHARE,
    CampaignStudy,
)

NOTEBOOK = "campaigns"
CURRENCY = "¥"


def name(group: str, value: object, language: str = "en", *, escaped: bool = True) -> str:
    """The catalog name of a segment / coupon type / metric, or the value itself, escaped
    for Markdown unless ``escaped`` is false (tables: ``styled`` escapes every cell)."""
    key = "campaigns.segment.all" if value == "all" else f"campaigns.{group}.{value}"
    if key in catalog("en"):
        return text(key, language)
    return html.escape(str(value)) if escaped else str(value)


def points(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 100:+.1f}"


def share(value: float) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 100:.1f}%"


def title(language: str = "en") -> str:
    return text("campaigns.title.heading", language) + "\n\n" + text("campaigns.title.intro", language)


def heading(key: str, language: str = "en") -> str:
    return "## " + text(f"campaigns.heading.{key}", language)


def _segments(study: CampaignStudy, decision: str, language: str) -> list[str]:
    t = study.segments.table
    return [name("segment", s, language) for s in t.loc[t["decision"] == decision, "segment"]]


def headline(study: CampaignStudy, language: str = "en") -> str:
    lang = language
    o = study.overall.iloc[0]
    parts = [text(
        "campaigns.headline.lead", lang, campaigns=study.metrics["campaigns"], rows=count(study.metrics["rows"]),
        treated=count(o["treated"]), holdout=count(o["holdout"]), holdout_rate=share(o["conversion_holdout"]),
        treated_rate=share(o["conversion_treated"]), uplift=points(o["uplift"]), low=points(o["uplift_low"]),
        high=points(o["uplift_high"]),
    )]
    if not math.isnan(o["cost_per_incremental_order"]):
        parts.append(text(
            "campaigns.headline.cost", lang, incremental=count(o["incremental_orders"]),
            cost=money(o["coupon_cost"], CURRENCY, lang), cost_per=money(o["cost_per_incremental_order"], CURRENCY, lang),
            cannibalised=share(o["cannibalised_share"]),
        ))
    elif not math.isnan(o["incremental_orders"]):
        parts.append(text("campaigns.headline.no_cost", lang, incremental=count(o["incremental_orders"])))
    lines = [sentences(parts, lang)]
    for decision, key in ((SEND, "send"), (STOP, "stop"), (RETEST, "retest")):
        names = _segments(study, decision, lang)
        if names:
            lines.append("- " + text(f"campaigns.headline.{key}", lang, segments=listing(names, lang)))
    return "\n\n".join([lines[0], "\n".join(lines[1:])]) if len(lines) > 1 else lines[0]


def headline_numbers(study: CampaignStudy, language: str = "en") -> dict[str, object]:
    o = study.overall.iloc[0]
    out: dict[str, object] = {text("campaigns.index.uplift", language): points(o["uplift"])}
    if not math.isnan(o["cost_per_incremental_order"]):
        out[text("campaigns.index.cost_per", language)] = money(o["cost_per_incremental_order"], CURRENCY, language,
                                                               markdown=False)
    if study.messages is not None and "click" in set(study.messages["metric"]):
        ratio = study.messages.set_index("metric").loc["click", "ratio"]
        out[text("campaigns.index.click_ratio", language)] = f"{ratio:.1f}x"
    return out


def actions(study: CampaignStudy, language: str = "en") -> str:
    lang = language
    items = []
    n = study.segments.n_segments if hasattr(study.segments, "n_segments") else len(study.segments.table)
    for decision, key in ((SEND, "send"), (STOP, "stop"), (RETEST, "retest")):
        names = _segments(study, decision, lang)
        if names:
            items.append(text(f"campaigns.actions.{key}", lang, segments=listing(names, lang), n=n))
    m = study.model
    if m is not None:
        if m.gain > 0 and m.best_incremental > m.all_incremental:
            items.append(text("campaigns.actions.model", lang, share=share(m.best_share), best=count(m.best_incremental),
                              all=count(m.all_incremental)))
        elif m.gain <= 0:
            items.append(text("campaigns.actions.model_weak", lang))
    if study.messages is not None and "click" in set(study.messages["metric"]):
        c = study.messages.set_index("metric").loc["click"]
        key = "messages" if c["ratio_low"] > 1 else "messages_flat"
        items.append(text(f"campaigns.actions.{key}", lang, ratio=f"{c['ratio']:.1f}", low=f"{c['ratio_low']:.1f}",
                          high=f"{c['ratio_high']:.1f}"))
    o = study.overall.iloc[0]
    if not math.isnan(o["cannibalised_share"]) and o["cannibalised_share"] > 0.3:
        items.append(text("campaigns.actions.cannibalisation", lang, share=share(o["cannibalised_share"])))
    return numbered(items)


def funnel_text(study: CampaignStudy, language: str = "en") -> str:
    parts = [text("campaigns.funnel.text", language)]
    t = study.by_type.dropna(subset=["cost_per_incremental_order"])
    if len(t) > 1:
        best = t.loc[t["cost_per_incremental_order"].idxmin()]
        parts.append(text("campaigns.funnel.best", language, type=name("coupon_type", best["group"], language),
                          cost=money(best["cost_per_incremental_order"], CURRENCY, language)))
    return sentences(parts, language)


def segments_text(study: CampaignStudy, language: str = "en") -> str:
    p = study.segments.heterogeneity_p
    het = "" if math.isnan(p) else text(
        "campaigns.segments.heterogeneity_yes" if p < 0.05 else "campaigns.segments.heterogeneity_no", language,
        p=f"= {p:.3f}" if p >= 0.001 else "< 0.001")
    return text("campaigns.segments.text", language, n=len(study.segments.table), heterogeneity=het)


def model_text(study: CampaignStudy, language: str = "en") -> str:
    m = study.model
    if m is None:
        return text("campaigns.model.unavailable", language)
    return text("campaigns.model.text", language, train=count(m.n_train), test=count(m.n_test),
                gain=f"{m.gain_per_1000:.1f}")


def messages_text(study: CampaignStudy, language: str = "en") -> str:
    if study.messages is None:
        return text("campaigns.messages.none", language)
    m = study.messages.set_index("metric")
    get = lambda metric, col: share(m.loc[metric, col]) if metric in m.index else "–"
    first = m.iloc[0]
    return text("campaigns.messages.text", language, n_p=count(first["n_personalised"]), n_b=count(first["n_broadcast"]),
                open_p=get("open", "personalised"), click_p=get("click", "personalised"),
                buy_p=get("purchase", "personalised"), open_b=get("open", "broadcast"),
                click_b=get("click", "broadcast"), buy_b=get("purchase", "broadcast"))


def method(language: str = "en") -> str:
    return text("campaigns.method", language, minimum=f"{MINIMUM_UPLIFT * 100:.0f}", train_share=share(TRAIN_SHARE))


def data_summary(study: CampaignStudy, language: str = "en") -> str:
    n_msg = 0 if study.messages is None else int(study.messages["n_personalised"].iloc[0] + study.messages["n_broadcast"].iloc[0])
    return text("campaigns.data", language, rows=count(study.metrics["rows"]), campaigns=study.metrics["campaigns"],
                messages=count(n_msg))


def source(folder: str, generated: bool, seed: int, language: str = "en") -> str:
    """Where the campaign tables came from (generated tables are said to be illustrations)."""
    return tables_source("campaigns", folder, generated, seed, language)


def outputs_label(language: str = "en") -> str:
    """What the exported CSV holds, for the outputs line."""
    return text("campaigns.outputs", language)
