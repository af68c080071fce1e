"""Plain-language text for the segments overview and the per-segment playbook pages.

Functions named ``*_md`` return Markdown for the notebook (amounts through
:func:`money_md`, which escapes ``$`` as :func:`helpers.report.formatting.money` does); the
others return plain text for the per-segment HTML template, which escapes it itself.
Every function takes the page language (``"en"`` or ``"zh-CN"``); the words come from
the ``segments`` catalog (``helpers/locales/<language>/segments.yaml``), segment names,
definitions and playbooks from the segment map and the action library in that language.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from helpers.report import formatting
from helpers.report.formatting import count, pct
from helpers.report.i18n import DEFAULT_LANGUAGE, is_chinese, text
from helpers.studies.segments.actions import ActionLibrary, Guardrail
from helpers.studies.segments.analysis import (
    CLV_TIERS,
    LIFECYCLE_STAGES,
    N_SCORES,
    NEW_CUSTOMERS,
    VALUE_TIERS,
    SegmentMap,
    SegmentSettings,
    tier_labels,
)

#: English axis names, kept for callers of earlier versions (pages use :func:`axis_name`).
AXIS_NAMES = {"R": "recency", "F": "frequency", "M": "monetary value"}


def axis_name(axis: str, language: str = DEFAULT_LANGUAGE) -> str:
    """``recency``, ``frequency`` or ``monetary value`` (R, F, M) in ``language``."""
    return text(f"segments.names.axes.{axis.lower()}", language)


# ------------------------------------------------------------ language mechanics


def _punct(language: str) -> dict[str, str]:
    """Separators that differ between English and Chinese text."""
    if is_chinese(language):
        return {"comma": "、", "and": "和", "semicolon": "；", "sentence": "", "open": "（", "close": "）"}
    return {"comma": ", ", "and": " and ", "semicolon": "; ", "sentence": " ", "open": " (", "close": ")"}


def parenthesised(main: str, inside: str, language: str) -> str:
    """``main (inside)``; Chinese ``main（inside）``."""
    p = _punct(language)
    return f"{main}{p['open']}{inside}{p['close']}"


def join_sentences(parts: list[str], language: str) -> str:
    """Sentences run together: one space between English ones, none between Chinese ones."""
    return _punct(language)["sentence"].join(p for p in parts if p)


def money_text(value: float, currency: str = "$", language: str = DEFAULT_LANGUAGE) -> str:
    """An amount for HTML or plain text: $1.2M, ¥45.3k, $812, $7.45 (cents below 100;
    no Markdown escaping). Chinese pages: ¥23.4万, ¥1.2亿."""
    if abs(value) < 100:
        sign = "-" if value < 0 else ""
        return f"{sign}{currency}{abs(value):,.2f}"
    marker = "\x00"
    return formatting.money(value, marker, language).replace(marker, currency)


def money_md(value: float, currency: str = "$", language: str = DEFAULT_LANGUAGE) -> str:
    """:func:`money_text` for Markdown: "$" escaped as :func:`helpers.report.formatting.money` does."""
    return money_text(value, currency, language).replace("$", "\\$")


def _money(value: float, currency: str, markdown: bool, language: str) -> str:
    return money_md(value, currency, language) if markdown else money_text(value, currency, language)


def _join(items: list[str], language: str = DEFAULT_LANGUAGE) -> str:
    """``a, b and c``; Chinese ``a、b和c``."""
    if len(items) <= 1:
        return "".join(items)
    p = _punct(language)
    return p["comma"].join(items[:-1]) + p["and"] + items[-1]


def page_href(pages_link: str, key: str) -> str:
    """Link from the overview page to a segment page."""
    return f"{pages_link}/{key}.html"


# ------------------------------------------------------------------- overview page


def headline_md(summary: pd.DataFrame, migration: pd.DataFrame, segment_map: SegmentMap, *, as_of: str,
                migration_from: str, currency: str = "$", language: str = DEFAULT_LANGUAGE) -> str:
    """The opening paragraph: how many customers, where the value is, where it slips."""
    lang = language
    labels = segment_map.localised(lang).labels
    total = int(summary["customers"].sum())
    used = summary[summary["customers"] > 0]
    ranked = used.sort_values("clv_share", ascending=False, kind="stable")
    top, covered = [], 0.0
    for key, row in ranked.iterrows():  # a handful of segments
        top.append(key)
        covered += row["clv_share"]
        if covered >= 0.5:
            break
    sel = summary.loc[top]
    lines = [
        text("segments.headline.lead", lang, customers=count(total), used=len(used), segments=len(summary),
             date=as_of),
        "",
        "- " + text(
            "segments.headline.value", lang, segments=_join([labels[k] for k in top], lang),
            customer_share=pct(sel["customer_share"].sum()), clv_share=pct(sel["clv_share"].sum()),
            clv=money_md(sel["clv"].sum(), currency, lang), clv_total=money_md(summary["clv"].sum(), currency, lang),
            revenue_share=pct(sel["revenue_share"].sum()),
        ),
    ]
    at_risk = summary["clv_at_risk"]
    if at_risk.sum() > 0:
        worst = at_risk.idxmax()
        lines.append("- " + text(
            "segments.headline.slips", lang, segment=labels[worst], at_risk=money_md(at_risk[worst], currency, lang),
            at_risk_total=money_md(at_risk.sum(), currency, lang),
        ))
    lines.append("- " + text("segments.headline.since", lang, date=migration_from,
                             summary=migration_summary(migration, segment_map, lang)))
    empty = [labels[k] for k in summary.index if summary.loc[k, "customers"] == 0]
    if empty:
        lines.append("- " + text("segments.headline.empty", lang, segments=_join(empty, lang)))
    return "\n".join(lines)


def migration_summary(migration: pd.DataFrame, segment_map: SegmentMap, language: str = DEFAULT_LANGUAGE) -> str:
    """One sentence on how customers moved between the two dates."""
    keys = segment_map.keys
    labels = segment_map.localised(language).labels
    core = migration.loc[keys, keys].to_numpy()
    earlier = int(migration.loc[keys].to_numpy().sum())
    stayed = int(np.trace(core))
    new = int(migration.loc[NEW_CUSTOMERS].sum())
    parts = [text(
        "segments.migration.summary", language, stayed_share=pct(stayed / earlier) if earlier else "–",
        earlier=count(earlier), new=count(new),
    )]
    moves = core.copy()
    np.fill_diagonal(moves, 0)
    if moves.max() > 0:
        i, j = np.unravel_index(moves.argmax(), moves.shape)
        parts.append(text(
            "segments.migration.largest", language, customers=count(moves[i, j]), source=labels[keys[i]],
            target=labels[keys[j]],
        ))
    return join_sentences(parts, language)


def priorities_md(summary: pd.DataFrame, library: ActionLibrary, guardrails: dict[str, Guardrail], *,
                  segment_map: SegmentMap, pages_link: str, currency: str = "$", n: int = 3,
                  language: str = DEFAULT_LANGUAGE) -> str:
    """The segments with the most value at stake (predicted CLV + CLV at risk), with their objective."""
    lang = language
    labels = segment_map.localised(lang).labels
    library = library.localised(lang)
    stake = (summary["clv"] + summary["clv_at_risk"]).where(summary["customers"] > 0)
    order = stake.dropna().sort_values(ascending=False, kind="stable").index[:n]
    lines = []
    for i, key in enumerate(order, start=1):
        row = summary.loc[key]
        at_risk = (
            text("segments.priorities.at_risk", lang, amount=money_md(row["clv_at_risk"], currency, lang))
            if row["clv_at_risk"] > 0.005 else ""
        )
        lines.append(f"{i}. " + text(
            "segments.priorities.item", lang, segment=labels[key], href=page_href(pages_link, key),
            customers=count(row["customers"]), clv=money_md(row["clv"], currency, lang), at_risk=at_risk,
            objective=library[key].objective,
            guardrail=guardrail_short(guardrails[key], currency, markdown=True, language=lang),
        ))
    lines.append("")
    lines.append(text("segments.priorities.note", lang))
    return "\n".join(lines)


def playbook_links_md(summary: pd.DataFrame, library: ActionLibrary, guardrails: dict[str, Guardrail], *,
                      segment_map: SegmentMap, pages_link: str, currency: str = "$",
                      language: str = DEFAULT_LANGUAGE) -> str:
    """A list of every segment's page with its objective."""
    lang = language
    labels = segment_map.localised(lang).labels
    library = library.localised(lang)
    lines = []
    for key in segment_map.keys:
        row = summary.loc[key]
        lines.append("- " + text(
            "segments.links.item", lang, segment=labels[key], href=page_href(pages_link, key),
            customers=count(row["customers"]), share=pct(row["customer_share"]), objective=library[key].objective,
            guardrail=guardrail_short(guardrails[key], currency, markdown=True, language=lang),
        ))
    return "\n".join(lines)


def grid_md(segment_map: SegmentMap, customers: pd.DataFrame, settings: SegmentSettings,
            language: str = DEFAULT_LANGUAGE) -> str:
    """Interpretation of the segment grid figure, including unused scores."""
    lang = language
    rows, cols = segment_map.axes[0], segment_map.axes[1]
    parts = [text("segments.grid.text", lang, row_axis=axis_name(rows, lang), rows=rows,
                  col_axis=axis_name(cols, lang), cols=cols)]
    unused = []
    for axis in segment_map.axes:
        present = set(np.unique(customers[f"{axis.lower()}_score"]))
        missing = [s for s in range(1, N_SCORES + 1) if s not in present]
        if missing:
            unused.append(f"{axis} {', '.join(map(str, missing))}")
    if unused and settings.ties == "shared":
        parts.append(text("segments.grid.unused", lang, unused=_punct(lang)["semicolon"].join(unused)))
    return join_sentences(parts, lang)


def shares_md(summary: pd.DataFrame, segment_map: SegmentMap, language: str = DEFAULT_LANGUAGE) -> str:
    """Interpretation of the shares figure."""
    lang = language
    labels = segment_map.localised(lang).labels
    used = summary[summary["customers"] > 0]
    ratio = (used["clv_share"] / used["customer_share"]).sort_values(ascending=False)
    best = ratio.index[0]
    parts = [text(
        "segments.shares.text", lang, segment=labels[best], customer_share=pct(used.loc[best, "customer_share"]),
        clv_share=pct(used.loc[best, "clv_share"]),
    )]
    fading = (used["revenue_share"] - used["clv_share"]).sort_values(ascending=False)
    if len(fading) and fading.iloc[0] > 0.02:
        key = fading.index[0]
        parts.append(text(
            "segments.shares.fading", lang, segment=labels[key], revenue_share=pct(used.loc[key, "revenue_share"]),
            clv_share=pct(used.loc[key, "clv_share"]),
        ))
    return join_sentences(parts, lang)


def migration_md(migration: pd.DataFrame, segment_map: SegmentMap, *, migration_from: str, as_of: str,
                 language: str = DEFAULT_LANGUAGE) -> str:
    """Interpretation of the migration heatmap."""
    return join_sentences(
        [text("segments.migration.text", language, start=migration_from, end=as_of),
         migration_summary(migration, segment_map, language)],
        language,
    )


def tier_definitions(view: str, settings: SegmentSettings, language: str = DEFAULT_LANGUAGE) -> dict[str, str]:
    """Each tier of a view in plain words, with the thresholds in force."""
    lang = language
    lapsed = text("segments.tiers.lapsed", lang, threshold=pct(settings.alive_threshold), days=settings.lapsed_days)
    high_value, high_clv = pct(settings.high_value_share), pct(settings.high_clv_share)
    if view == "value_growth":
        return {
            "core": text("segments.tiers.definitions.core", lang, high_value=high_value, high_clv=high_clv),
            "potential": text("segments.tiers.definitions.potential_value", lang, high_clv=high_clv),
            "ordinary": text("segments.tiers.definitions.ordinary", lang),
            "sleeping": lapsed,
        }
    if view == "clv":
        return {
            "high_value_loyal": text("segments.tiers.definitions.high_value_loyal", lang, high_clv=high_clv),
            "growing": text("segments.tiers.definitions.growing", lang, growing_clv=pct(settings.growing_clv_share),
                            high_clv=high_clv),
            "potential": text("segments.tiers.definitions.potential_clv", lang,
                              bottom=pct(1 - settings.growing_clv_share)),
            "churn_risk": lapsed,
        }
    if view == "lifecycle":
        return {
            "new": text("segments.tiers.definitions.new", lang, days=settings.new_days),
            "active": text("segments.tiers.definitions.active", lang, purchases=settings.loyal_min_purchases,
                           window=settings.loyal_window_days),
            "loyal": text("segments.tiers.definitions.loyal", lang, purchases=settings.loyal_min_purchases,
                          window=settings.loyal_window_days),
            "lapsing": text("segments.tiers.definitions.lapsing", lang, days=settings.sleeping_days,
                            lapsed_days=settings.lapsed_days),
            "churned": text("segments.tiers.definitions.churned", lang, days=settings.lapsed_days),
        }
    raise ValueError(view)


#: English titles and tier names of the three views, kept for callers of earlier
#: versions (pages use :func:`tier_title` and :func:`helpers.studies.segments.analysis.tier_labels`).
TIER_TITLES = {
    "value_growth": ("Value x growth tiers", VALUE_TIERS),
    "clv": ("CLV tiers", CLV_TIERS),
    "lifecycle": ("Lifecycle stages", LIFECYCLE_STAGES),
}


def tier_title(view: str, language: str = DEFAULT_LANGUAGE) -> str:
    """The heading of a tier view: "Value x growth tiers", "CLV tiers", "Lifecycle stages"."""
    if view not in TIER_TITLES:
        raise ValueError(view)
    return text(f"segments.names.tier_titles.{view}", language)


def tier_md(view: str, summary: pd.DataFrame, settings: SegmentSettings, language: str = DEFAULT_LANGUAGE) -> str:
    """Definitions of a view's tiers and what the numbers say."""
    lang = language
    labels = tier_labels(view, lang)
    defs = tier_definitions(view, settings, lang)
    lines = ["- " + text("segments.tiers.item", lang, tier=labels[k], definition=defs[k]) for k in labels]
    used = summary[summary["customers"] > 0]
    if len(used):
        top = used["clv_share"].idxmax()
        lines += [
            "",
            text("segments.tiers.top", lang, tier=labels[top], customer_share=pct(used.loc[top, "customer_share"]),
                 clv_share=pct(used.loc[top, "clv_share"])),
        ]
    return "\n".join(lines)


def prospects_note_md(language: str = DEFAULT_LANGUAGE) -> str:
    """Why the lifecycle view has no prospects."""
    return text("segments.tiers.prospects", language)


def categories_md(pairs: pd.DataFrame, suggestions: pd.DataFrame, min_pair_customers: int,
                  language: str = DEFAULT_LANGUAGE) -> str:
    """Interpretation of the co-purchase table and the suggestions."""
    lang = language
    usable = pairs[pairs["usable"]]
    n = len(suggestions)
    reasons = suggestions["reason"].value_counts()
    co, popular = int(reasons.get("co-purchase", 0)), int(reasons.get("popular", 0))
    k = len(set(pairs["antecedent"]))
    parts = [text(
        "segments.categories.pairs", lang, customers=count(n), categories=k, usable=len(usable) // 2,
        pairs=len(pairs) // 2, min_customers=min_pair_customers,
    )]
    if len(usable):
        best = usable.iloc[0]
        parts.append(text(
            "segments.categories.strongest", lang, bought=best["antecedent"], more=pct(best["lift"] - 1),
            suggest=best["consequent"], confidence=pct(best["confidence"]),
        ))
    parts.append(text(
        "segments.categories.suggestions", lang, co=count(co), co_share=pct(co / n) if n else "–",
        popular=count(popular),
    ))
    if len(usable) and usable["lift"].max() < 1.5:
        parts.append(text("segments.categories.mild", lang))
    return join_sentences(parts, lang)


#: The column_map example shown when the data has no categories.
CATEGORY_MAP_EXAMPLE = "`column_map: {customer_id: 会员编号, timestamp: 下单时间, amount: 实付金额, category: 品类}`"


def no_categories_md(language: str = DEFAULT_LANGUAGE) -> str:
    return text("segments.categories.none", language, example=CATEGORY_MAP_EXAMPLE)


def method_md(settings: SegmentSettings, segment_map: SegmentMap, library: ActionLibrary, *, as_of: str,
              migration_from: str, horizon_months: int, model_label: str,
              language: str = DEFAULT_LANGUAGE) -> str:
    """How the segments, tiers, CLV at risk and guardrails are computed."""
    lang = language
    segment_map = segment_map.localised(lang)
    monetary = text(
        "segments.method.monetary_total" if settings.monetary == "total" else "segments.method.monetary_mean", lang
    )
    ties = text("segments.method.ties_shared" if settings.ties == "shared" else "segments.method.ties_first", lang)
    items = [
        text("segments.method.rfm", lang, date=as_of, monetary=monetary, ties=ties),
        text("segments.method.segments", lang, path=segment_map.path, name=segment_map.name,
             grid=(" × " if is_chinese(lang) else " x ").join(segment_map.axes)),
        text("segments.method.clv", lang, months=horizon_months, model=model_label, date=as_of),
        text("segments.method.lapsed", lang, threshold=pct(settings.alive_threshold), days=settings.lapsed_days),
        text("segments.method.guardrail", lang, margin_share=pct(library.max_share_of_margin), path=library.path),
        text("segments.method.migration", lang, start=migration_from, date=as_of),
    ]
    return "\n".join(f"- {item}" for item in items)


def segment_map_md(segment_map: SegmentMap, language: str = DEFAULT_LANGUAGE) -> str:
    """The line above the segment map table: its file and description."""
    segment_map = segment_map.localised(language)
    return text("segments.method.map", language, path=segment_map.path, description=segment_map.description)


# ----------------------------------------------------------------- segment pages


def guardrail_short(g: Guardrail, currency: str, markdown: bool = False, language: str = DEFAULT_LANGUAGE) -> str:
    """One sentence: the deepest discount and the amount on a typical order."""
    lang = language
    if g.binding == "none" and g.offers == 0:
        return text("segments.guardrail.none_short", lang)
    if not np.isfinite(g.max_depth):
        return text("segments.guardrail.empty_short", lang, depth=pct(g.policy_depth))
    if g.amount_per_order < 0.5:
        return text("segments.guardrail.tiny_short", lang)
    return text(
        "segments.guardrail.short", lang, depth=pct(g.max_depth, 1 if g.max_depth < 0.1 else 0),
        amount=_money(g.amount_per_order, currency, markdown, lang),
    )


def guardrail_text(g: Guardrail, *, currency: str, gross_margin: float, max_share_of_margin: float,
                   clv_share: float, horizon_months: int, language: str = DEFAULT_LANGUAGE) -> str:
    """The guardrail and why, for a segment page."""
    lang = language
    if g.binding == "none" and g.offers == 0:
        return text("segments.guardrail.none", lang)
    if not np.isfinite(g.max_depth):
        return text("segments.guardrail.empty", lang, depth=pct(g.policy_depth))

    def money_(v: float) -> str:
        return money_text(v, currency, lang)

    head = text(
        "segments.guardrail.head", lang, depth=pct(g.max_depth, 1), amount=money_(g.amount_per_order),
        order=money_(g.order_value),
    )
    if g.binding == "policy":
        why = text("segments.guardrail.policy", lang, policy=pct(g.policy_depth),
                   value_depth=pct(min(g.margin_depth, g.clv_depth), 1))
    elif g.binding == "margin":
        why = text("segments.guardrail.margin", lang, share=pct(max_share_of_margin), margin=pct(gross_margin))
    else:
        offers = text(
            "segments.guardrail.offers_one" if g.offers == 1 else "segments.guardrail.offers_many", lang,
            count=g.offers,
        )
        why = text(
            "segments.guardrail.clv", lang, share=pct(clv_share), clv=money_(g.clv_per_customer),
            months=horizon_months, budget=money_(g.budget_per_customer), offers=offers,
        )
    tail = text("segments.guardrail.tail_small" if g.amount_per_order < 0.5 else "segments.guardrail.tail", lang)
    return join_sentences([head, why, tail], lang)


def segment_lead(row: pd.Series, currency: str, language: str = DEFAULT_LANGUAGE) -> str:
    """One sentence: size and value of a segment."""
    if row["customers"] == 0:
        return text("segments.page.lead_empty", language)
    return text(
        "segments.page.lead", language, customers=count(row["customers"]), share=pct(row["customer_share"]),
        revenue_share=pct(row["revenue_share"]), clv_share=pct(row["clv_share"]),
        clv=money_text(row["clv"], currency, language),
    )


def segment_scores_text(segment_map: SegmentMap, key: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Where the segment sits on the score grid, in words."""
    axes = _punct(language)["comma"].join(parenthesised(axis_name(a, language), a, language) for a in segment_map.axes)
    return text("segments.page.scores", language, scores=segment_map.describe_scores(key, language), axes=axes)


def segment_numbers(row: pd.Series, currency: str, monetary: str,
                    language: str = DEFAULT_LANGUAGE) -> list[tuple[str, str]]:
    """The key numbers of a segment as (label, value) rows."""
    lang = language

    def label(name: str) -> str:
        return text(f"segments.page.numbers.{name}", lang)

    if row["customers"] == 0:
        return [(label("customers"), "0")]

    def money_(v: float) -> str:
        return money_text(v, currency, lang) if np.isfinite(v) else "–"

    def of_all(value: str, share: float) -> str:
        return text("segments.page.numbers.of_all", lang, value=value, share=pct(share, 1))

    return [
        (label("customers"), of_all(count(row["customers"]), row["customer_share"])),
        (label("revenue"), of_all(money_(row["revenue"]), row["revenue_share"])),
        (label("recency"), f"{row['recency_days']:,.0f}"),
        (label("purchase_days"), f"{row['purchase_days']:,.1f}"),
        (label("monetary_total" if monetary == "total" else "monetary_mean"), money_(row["monetary"])),
        (label("order_value"), money_(row["order_value"])),
        (label("scores"), f"{row['r_score']:.1f} / {row['f_score']:.1f} / {row['m_score']:.1f}"),
        (label("p_alive"), pct(row["p_alive"])),
        (label("clv"), text("segments.page.numbers.clv_value", lang, clv=money_(row["clv"]),
                            share=pct(row["clv_share"], 1), per_customer=money_(row["clv_per_customer"]))
         + (text("segments.page.numbers.clv_interval", lang, low=money_(row["clv_low"]), high=money_(row["clv_high"]))
            if "clv_low" in row.index and np.isfinite(row["clv_low"]) else "")),
        (label("clv_at_risk"), money_(row["clv_at_risk"])),
        (label("expected_purchases"), f"{row['expected_purchases']:,.0f}"),
    ]


def segment_moves(migration: pd.DataFrame, segment_map: SegmentMap, key: str, *, migration_from: str,
                  top: int = 3, language: str = DEFAULT_LANGUAGE) -> tuple[str, str]:
    """Where the segment's customers came from and where its earlier customers went."""
    lang = language
    names = segment_map.localised(lang).labels
    labels = {**names, NEW_CUSTOMERS: text("segments.names.first_time_buyers", lang)}
    col = migration[key]
    now = int(col.sum())
    stayed = int(migration.loc[key, key])
    sources = col.drop(index=key)
    sources = sources[sources > 0].sort_values(ascending=False, kind="stable").head(top)
    if now == 0:
        came = text("segments.page.moves.nobody_now", lang)
    elif len(sources):
        came = text(
            "segments.page.moves.came_from", lang, now=count(now), stayed=count(stayed), date=migration_from,
            sources=_join([parenthesised(labels[k], count(v), lang) for k, v in sources.items()], lang),
        )
    else:
        came = text("segments.page.moves.came", lang, now=count(now), stayed=count(stayed), date=migration_from)
    row = migration.loc[key]
    before = int(row.sum())
    dests = row.drop(labels=[key])
    dests = dests[dests > 0].sort_values(ascending=False, kind="stable").head(top)
    if before == 0:
        went = text("segments.page.moves.nobody_before", lang, date=migration_from)
    elif len(dests):
        gone = text("segments.names.not_in_later_data", lang)
        went = text(
            "segments.page.moves.went_to", lang, before=count(before), date=migration_from,
            share=pct(stayed / before),
            targets=_join([parenthesised(names.get(k, gone), count(v), lang) for k, v in dests.items()], lang),
        )
    else:
        went = text("segments.page.moves.went", lang, before=count(before), date=migration_from,
                    share=pct(stayed / before))
    return came, went


def segment_categories(rows: pd.DataFrame, language: str = DEFAULT_LANGUAGE) -> str:
    """The most suggested next categories in a segment."""
    if rows.empty:
        return text("segments.page.categories_none", language)
    items = [parenthesised(str(r["next_category"]), pct(r["share"]), language) for _, r in rows.iterrows()]
    return text("segments.page.categories_top", language, categories=_join(items, language))


# ------------------------------------------------------------------ overview tail


def activation_md(study, *, folder: str, allow_raw_ids: bool, language: str = DEFAULT_LANGUAGE) -> str:
    """What the activation lists hold and how to use them."""
    lang = language
    ids = text("segments.activation.ids_raw" if allow_raw_ids else "segments.activation.ids_pseudo", lang)
    extra = text("segments.activation.category", lang) if study.suggestions is not None else ""
    parts = [text("segments.activation.text", lang, folder=folder, ids=ids, category=extra)]
    if not allow_raw_ids:
        parts.append(text("segments.activation.crm", lang))
    return join_sentences(parts, lang)


def data_md(data_source: str, report, clv_study, language: str = DEFAULT_LANGUAGE) -> str:
    """The data line and the CLV model's holdout check."""
    m = clv_study.metrics
    h = clv_study.holdout
    quality = formatting.fit_quality(h["total_error_pct"])
    return text(
        "segments.data", language, source=data_source, kept=f"{report.rows_kept:,}", read=f"{report.rows_read:,}",
        customers=f"{m['customers']:,}", model=m["model_label"], predicted=count(h["predicted_total"]),
        actual=count(h["actual_total"]), error=f"{h['total_error_pct']:+.1f}%",
        quality=text(f"common.fit_quality.{quality}", language),
    )


def outputs_md(paths: dict, pages: dict, output_dir: str, language: str = DEFAULT_LANGUAGE) -> str:
    """Where the files went."""
    return text(
        "segments.outputs", language, pages=len(pages), folder=output_dir.rstrip("/"),
        customers=paths["customers"], summary=paths["summary"], migration=paths["migration"],
        metrics=paths["metrics"],
    )


def headline_numbers(summary: pd.DataFrame, segment_map: SegmentMap, currency: str = "$",
                     language: str = DEFAULT_LANGUAGE) -> dict:
    """The few numbers the site index shows for the segments page (labels in ``language``)."""
    lang = language
    labels = segment_map.localised(lang).labels

    def label(name: str) -> str:
        return text(f"segments.headline_numbers.{name}", lang)

    used = summary[summary["customers"] > 0]
    top = used["clv_share"].idxmax() if len(used) else None
    numbers = {
        label("customers"): int(summary["customers"].sum()),
        label("segments_in_use"): text("segments.headline_numbers.in_use", lang, used=len(used), total=len(summary)),
        label("clv"): money_text(float(summary["clv"].sum()), currency, lang),
        label("clv_at_risk"): money_text(float(summary["clv_at_risk"].sum()), currency, lang),
    }
    if top is not None:
        numbers[label("most_valuable")] = text(
            "segments.headline_numbers.most_valuable_value", lang, segment=labels[top],
            share=pct(used.loc[top, "clv_share"]),
        )
    return numbers
