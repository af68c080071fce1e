"""Plain-language text of the tags page, written from the numbers of :mod:`.analysis`.

Every function takes ``language`` ("en" or "zh-CN"); strings live in
``helpers/report/locales/<language>/tags.yaml``. Tag names and definitions come from the tag
library (bilingual), segment names from the segment map, channels from the shared labels.
Names from data (categories or channels a retailer defines) are escaped for Markdown/HTML.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd

from helpers.report.formatting import count, money, pct
from helpers.report.i18n import catalog, is_chinese, normalise_language, text
from helpers.report.labels import label
from helpers.report.page_text import numbered, sentences
from helpers.studies.tags.analysis import (
    MIN_LIFT_CUSTOMERS,
    OFTEN_RATIO,
    RARELY_RATIO,
    TagStudy,
)
from helpers.studies.tags.engine import tag_name

NOTEBOOK = "tags"
CURRENCY = "¥"


def esc(value: object) -> str:
    """Text from data, safe in Markdown and HTML."""
    return html.escape(str(value)).replace("*", "&#42;").replace("_", "&#95;").replace("$", "&#36;")


def code_text(value: object) -> str:
    """Text for a Markdown code span (no backticks, HTML-escaped)."""
    return html.escape(str(value).replace("`", "'"))


def category_name(code: str, language: str = "en") -> str:
    key = f"tags.category.{code}"
    return text(key, language) if key in catalog(language) else str(code)


def category_names(language: str = "en") -> dict:
    prefix = "tags.category."
    return {k[len(prefix):]: v for k, v in catalog(language).items() if k.startswith(prefix)}


def name(study: TagStudy, column: str, language: str = "en", segment_labels: dict | None = None) -> str:
    """Reader name of a tag column (``segment:champions`` reads "RFM segment: Champions")."""
    base, _, value = column.partition(":")
    names = dict(category_names(language))
    if base == "segment" and segment_labels:
        names.update(segment_labels)
    return tag_name(study.library, column, language, names)


def _md(study: TagStudy, column: str, language: str = "en", segment_labels: dict | None = None) -> str:
    """:func:`name` escaped for Markdown (category values come from the data)."""
    return esc(name(study, column, language, segment_labels))


def _money(v: float, language: str) -> str:
    return money(v, CURRENCY, language) if np.isfinite(v) else "–"


def _pct(v: float) -> str:
    return pct(v) if v is not None and np.isfinite(v) else "–"


def _x(v: float) -> str:
    return f"{v:.1f}" if np.isfinite(v) else "–"


def title(language: str = "en") -> str:
    return text("tags.title.heading", language) + "\n\n" + text("tags.title.intro", language)


def heading(key: str, language: str = "en") -> str:
    return f"## {text(f'tags.heading.{key}', language)}"


def _day(value) -> str:
    return str(pd.Timestamp(value).date())


def _top_lift(study: TagStudy):
    return study.lift.iloc[0] if len(study.lift) else None


def headline(study: TagStudy, language: str = "en", segment_labels: dict | None = None) -> str:
    top = _top_lift(study)
    common = dict(date=_day(study.as_of), customers=count(len(study.flags)), columns=count(study.flags.shape[1]),
                  tags=count(len(study.library.tags)))
    if top is None:
        lead = text("tags.headline.no_lift", language, **common)
    else:
        lead = text("tags.headline.lead", language, **common, days=study.lift_info["holdout_days"],
                    tag=_md(study, top.tag, language, segment_labels), lift=_x(top.lift),
                    base=_pct(study.lift_info["base_rate"]))
    promo = study.promotion
    sensitive = study.base["promotion_sensitive"].mean() if "promotion_sensitive" in study.base else np.nan
    second = text("tags.headline.promo", language, window=promo["window_days"],
                  with_discount=_pct(promo["share_revenue_with_discount"]), sensitive=_pct(sensitive))
    return sentences([lead, second], language)


def headline_numbers(study: TagStudy, language: str = "en", segment_labels: dict | None = None) -> dict:
    top = _top_lift(study)
    out = {
        text("tags.headline_numbers.tagged", language): int(len(study.flags)),
        text("tags.headline_numbers.at_discount", language): _pct(study.promotion["share_revenue_with_discount"]),
    }
    if top is not None:
        out[text("tags.headline_numbers.top_predictor", language)] = f"{name(study, top.tag, language, segment_labels)} ×{top.lift:.1f}"
    if "promotion_sensitive" in study.base:
        out[text("tags.headline_numbers.sensitive", language)] = _pct(study.base["promotion_sensitive"].mean())
    return out


def actions(study: TagStudy, language: str = "en", segment_labels: dict | None = None) -> str:
    items = []
    top = _top_lift(study)
    if top is not None:
        items.append(text("tags.actions.lift", language, tag=_md(study, top.tag, language, segment_labels),
                          start=_day(study.lift_info["holdout_start"]), days=study.lift_info["holdout_days"],
                          lift=_x(top.lift)))
    b = study.base
    if "interest" in b:
        items.append(text("tags.actions.interest", language, interest=count(b["interest"].sum()),
                          browsing=count(b["browsing_not_buying"].sum()) if "browsing_not_buying" in b else "–"))
    if "price_insensitive" in b and "promotion_sensitive" in b:
        items.append(text("tags.actions.price", language, full=count(b["price_insensitive"].sum()),
                          sensitive=count(b["promotion_sensitive"].sum())))
    items.append(text("tags.actions.export", language))
    return numbered(items)


def coverage(study: TagStudy, language: str = "en", segment_labels: dict | None = None) -> str:
    base = study.base
    cov = pd.DataFrame({"tag": base.columns, "customers": base.sum().to_numpy(), "share": base.mean().to_numpy()})
    top = cov.loc[cov["share"].idxmax()]
    nonzero = cov[cov["customers"] > 0]
    low = nonzero.loc[nonzero["share"].idxmin()]
    return text("tags.coverage", language, columns=count(study.flags.shape[1]),
                top=_md(study, top.tag, language, segment_labels), top_share=_pct(top.share),
                low=_md(study, low.tag, language, segment_labels), low_share=pct(low.share, 1))


def overlap(study: TagStudy, language: str = "en") -> str:
    m = study.overlap.copy()
    counts = study.base.sum()
    values = m.to_numpy(copy=True)
    np.fill_diagonal(values, np.nan)
    # only tags on 30+ customers, and not a derived tag with its own parts
    small = (counts.reindex(m.index) < MIN_LIFT_CUSTOMERS).to_numpy()
    values[small, :] = np.nan
    values[:, small] = np.nan
    for t in study.library.tags:
        if t.kind == "derived" and t.id in m.index:
            i = m.index.get_loc(t.id)
            for ref in t.params["all"] + t.params["any"]:
                if ref in m.index:
                    values[i, m.index.get_loc(ref)] = np.nan
    if np.isnan(values).all():
        return ""
    i, j = np.unravel_index(np.nanargmax(values), values.shape)
    return text("tags.overlap", language, share=_pct(values[i, j]), a=_md(study, m.index[i], language),
                b=_md(study, m.columns[j], language))


def movement(study: TagStudy, language: str = "en") -> str:
    mv = study.movement
    dates = sorted(mv["date"].unique())
    first = mv[mv["date"] == dates[0]].set_index("tag")["share"]
    last = mv[mv["date"] == dates[-1]].set_index("tag")
    change = (last["share"] - first.reindex(last.index)).abs()
    tag = change.idxmax()
    return text("tags.movement", language, months=len(dates), tag=_md(study, tag, language), first=_pct(first[tag]),
                last=_pct(last.loc[tag, "share"]), gained=count(last.loc[tag, "gained"]), lost=count(last.loc[tag, "lost"]))


def value(study: TagStudy, language: str = "en") -> str:
    v = study.value[(study.value["tag"] != "_all") & (study.value["buyers"] >= MIN_LIFT_CUSTOMERS)]
    top = v.loc[v["mean_clv"].idxmax()]
    all_clv = float(study.value.loc[study.value["tag"] == "_all", "mean_clv"].iloc[0])
    return text("tags.value", language, date=_day(study.as_of), top=_md(study, top.tag, language),
                clv=_money(top.mean_clv, language), all=_money(all_clv, language))


def lift(study: TagStudy, language: str = "en", segment_labels: dict | None = None) -> str:
    info, lf = study.lift_info, study.lift
    if lf.empty:
        return ""
    top, bottom = lf.iloc[0], lf.iloc[-1]
    return text("tags.lift", language, start=_day(info["holdout_start"]),
                start_next=_day(info["holdout_start"] + pd.Timedelta(days=1)), end=_day(info["holdout_end"]),
                days=info["holdout_days"], base=_pct(info["base_rate"]), customers=count(info["customers"]),
                top=_md(study, top.tag, language, segment_labels), lift=_x(top.lift), low=_x(top.lift_low),
                high=_x(top.lift_high), bottom=_md(study, bottom.tag, language, segment_labels),
                bottom_lift=_x(bottom.lift), min=MIN_LIFT_CUSTOMERS)


def segment_tags(study: TagStudy, language: str = "en") -> str:
    return text("tags.segment_tags", language, date=_day(study.as_of))


def _hour(h: int) -> str:
    return f"{h:02d}:00"


def portrait_lines(study: TagStudy, language: str = "en", segment_labels: dict | None = None) -> str:
    """One plain-language sentence per segment (the strongest contrasts with the whole base)."""
    language = normalise_language(language)
    sep = "；" if is_chinese(language) else "; "
    base = study.portraits["base_promotion_order_share"]
    lines = [text("tags.portrait.intro", language), ""]
    for segment_key, item in study.portraits["summaries"].items():  # a handful of segments
        parts = []
        if np.isfinite(item["orders_ratio"]):
            parts.append(text("tags.portrait.orders", language, ratio=_x(item["orders_ratio"])))
        if "channel" in item and item["channel"]["ratio"] >= 1.1:
            parts.append(text("tags.portrait.channel", language, ratio=_x(item["channel"]["ratio"]),
                              channel=esc(label(item["channel"]["value"], language)), share=_pct(item["channel"]["share"])))
        if "category" in item and item["category"]["ratio"] >= 1.1:
            parts.append(text("tags.portrait.category", language, ratio=_x(item["category"]["ratio"]),
                              category=esc(category_name(item["category"]["value"], language)),
                              share=_pct(item["category"]["share"])))
        if "age_band" in item and item["age_band"]["ratio"] >= 1.1:
            parts.append(text("tags.portrait.age", language, ratio=_x(item["age_band"]["ratio"]),
                              age=esc(item["age_band"]["value"])))
        if "city_tier" in item and item["city_tier"]["ratio"] >= 1.1:
            tier = item["city_tier"]["value"]
            tier_key = f"tags.city_tier.{tier}"
            parts.append(text("tags.portrait.city_tier", language, ratio=_x(item["city_tier"]["ratio"]),
                              tier=esc(text(tier_key, language) if tier_key in catalog(language) else tier)))
        ph = item["peak_hours"]
        parts.append(text("tags.portrait.hours", language, start=_hour(ph["start"]), end=_hour(ph["end"]),
                          share=_pct(ph["share"])))
        ratio, share = item["promotion_ratio"], item["promotion_order_share"]
        if np.isfinite(ratio):
            kind = "rarely" if ratio < RARELY_RATIO else "often" if ratio > OFTEN_RATIO else "usual"
            parts.append(text(f"tags.portrait.{kind}", language, share=_pct(share), base=_pct(base)))
        if item["top_tags"]:
            tags = ("、" if is_chinese(language) else ", ").join(
                _md(study, t, language, segment_labels) for t, _, _ in item["top_tags"])
            parts.append(text("tags.portrait.tags", language, tags=tags))
        seg_name = (segment_labels or {}).get(segment_key, segment_key)
        lines.append("- " + text("tags.portrait.line", language, segment=esc(seg_name), share=_pct(item["share"]),
                                 parts=sep.join(parts)))
    return "\n".join(lines)


def promotion(study: TagStudy, language: str = "en") -> str:
    p = study.promotion
    if not p["has_promotion_column"]:
        return text("tags.promotion.no_column", language)
    parts = [text("tags.promotion.revenue", language, window=p["window_days"],
                  with_discount=_pct(p["share_revenue_with_discount"]), depth=pct(p["discount_depth"], 1),
                  in_promotion=_pct(p["share_revenue_in_promotion"]))]
    g = p["groups"]
    if {"festival_only", "promotion_sensitive", "price_insensitive"} <= set(g):
        parts.append(text(
            "tags.promotion.groups", language,
            festival=count(g["festival_only"]["customers"]), festival_clv=_money(g["festival_only"]["mean_clv"], language),
            festival_active=_pct(g["festival_only"]["active_share"]),
            sensitive=count(g["promotion_sensitive"]["customers"]),
            sensitive_clv=_money(g["promotion_sensitive"]["mean_clv"], language),
            sensitive_active=_pct(g["promotion_sensitive"]["active_share"]),
            full=count(g["price_insensitive"]["customers"]), full_clv=_money(g["price_insensitive"]["mean_clv"], language),
            full_active=_pct(g["price_insensitive"]["active_share"]),
        ))
    base = float(study.price["promotion_order_share"].mean()) if len(study.price) else np.nan
    parts.append(text("tags.promotion.score", language, window=p["window_days"], base=_pct(base)))
    return "\n\n".join([sentences(parts[:2], language), parts[-1], text("tags.promotion.meaning", language)])


def guardrail(study: TagStudy, language: str = "en") -> str:
    g = study.guardrail
    if g is None:
        return ""
    full = g["discount_rule"] == "full_price"
    own = g["discount_rule"] == "own_depth"
    return text("tags.guardrail", language, full=count(full.sum()),
                full_total=_money(float(g.loc[full, "library_max_discount"].sum()), language),
                sensitive=count(own.sum()),
                sensitive_saved=_money(float((g.loc[own, "library_max_discount"] - g.loc[own, "max_discount"]).sum()), language),
                other=count((~full & ~own).sum()))


def method(study: TagStudy, library_path: str, price_window_days: int, language: str = "en") -> str:
    info = study.lift_info
    return text("tags.method.text", language, library=code_text(library_path), tags=len(study.library.tags),
                date=_day(study.as_of), window=price_window_days, days=info["holdout_days"],
                start=_day(info["holdout_start"]))


def data_note(generated: bool, folder: str, language: str = "en") -> str:
    key = "tags.data.generated" if generated else "tags.data.own"
    return text(key, language, folder=code_text(folder))
