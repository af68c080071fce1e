"""Plain-language text and reader-facing tables of the omnichannel page.

Every function returns Markdown (or a styled table) in the page language ("en" or
"zh-CN"; strings live in ``helpers/locales/<language>/omnichannel.yaml``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.formatting import count, money, pct
from helpers.report.i18n import is_chinese, text
from helpers.report.labels import label
from helpers.report.page_text import listing, numbered, semicolons, sentences
from helpers.report.tables import labelled_table, styled
from helpers.studies.omnichannel.analysis import CLV_HOLDOUT_DAYS, OmnichannelStudy

#: Ratio (multi / single) within which two groups are described as "about the same".
SIMILAR_RATIO = 0.10
#: Change of a channel's revenue share (first vs last three months, percentage points)
#: below which the mix is called stable.
STABLE_SHARE_PP = 0.03

#: How the notebook is named in messages about missing inputs.
NOTEBOOK = "omnichannel"


def title(language: str = "en") -> str:
    return text("omnichannel.title.heading", language) + "\n\n" + text("omnichannel.title.intro", language)


def _repeat_groups(study: OmnichannelStudy) -> pd.DataFrame:
    return study.groups[study.groups["population"] == "repeat"].set_index("group")


def _ratio(a: float, b: float) -> float:
    return a / b if b and np.isfinite(a) and np.isfinite(b) else float("nan")


def _how_often(ratio: float, language: str = "en") -> str:
    other = text("omnichannel.compare.single_repeat", language)
    if not np.isfinite(ratio):
        return text("omnichannel.compare.often_na", language, other=other)
    if abs(ratio - 1) <= SIMILAR_RATIO:
        return text("omnichannel.compare.often_same", language, other=other)
    if ratio > 1:
        return text("omnichannel.compare.often_times", language, ratio=f"{ratio:.1f}", other=other)
    return text("omnichannel.compare.often_less", language, share=pct(1 - ratio), other=other)


def _how_much(ratio: float, language: str = "en") -> str:
    if not np.isfinite(ratio):
        return text("omnichannel.compare.much_na", language)
    if abs(ratio - 1) <= SIMILAR_RATIO:
        return text("omnichannel.compare.much_same", language)
    if ratio > 1:
        return text("omnichannel.compare.much_more", language, share=pct(ratio - 1))
    return text("omnichannel.compare.much_less", language, share=pct(1 - ratio))


def _both_groups(g: pd.DataFrame) -> bool:
    return all(k in g.index and g.loc[k, "customers"] > 0 for k in ("single", "multi"))


def _one_group_only(g: pd.DataFrame, language: str = "en") -> str:
    present = [k for k in ("single", "multi") if k in g.index and g.loc[k, "customers"] > 0]
    if not present:
        return text("omnichannel.compare.no_repeat", language)
    return text("omnichannel.compare.one_group", language, group=label(present[0], language).lower())


def _arrow(first: object, later: object, language: str) -> tuple[str, str]:
    return label(first, language), label(later, language)


def headline(study: OmnichannelStudy, currency: str, language: str = "en") -> str:
    lang = language
    m = study.metrics
    g = _repeat_groups(study)
    top = study.mix.iloc[0]
    opening = [text("omnichannel.headline.top", lang, channel=label(top["channel"], lang), share=pct(top["revenue_share"]))]
    if _both_groups(g):
        multi, single = g.loc["multi"], g.loc["single"]
        opening.append(text(
            "omnichannel.headline.both", lang, multi_share=pct(m["multi_share_repeat"]),
            often=_how_often(_ratio(multi["purchase_days_per_year"], single["purchase_days_per_year"]), lang),
            multi_days=f"{multi['purchase_days_per_year']:.1f}", single_days=f"{single['purchase_days_per_year']:.1f}",
            much=_how_much(_ratio(multi["spend_per_purchase_day"], single["spend_per_purchase_day"]), lang),
            multi_spend=money(multi["spend_per_purchase_day"], currency, lang),
            single_spend=money(single["spend_per_purchase_day"], currency, lang),
        ))
    else:
        opening.append(_one_group_only(g, lang))
    lines = ["**" + sentences(opening, lang) + "**", ""]
    if _both_groups(g) and "clv_mean" in g and np.isfinite(g.loc[["single", "multi"], "clv_mean"]).all():
        lines.append("- " + text(
            "omnichannel.headline.clv", lang, multi=money(g.loc["multi", "clv_mean"], currency, lang),
            months=study.clv_info["settings"]["horizon_months"], single=money(g.loc["single", "clv_mean"], currency, lang),
        ))
    crossing = study.crossing.set_index("first_mode")
    if "offline" in crossing.index and crossing.loc["offline", "repeat_buyers"]:
        row = crossing.loc["offline"]
        lines.append("- " + text(
            "omnichannel.headline.store_online", lang, share=pct(row["crossed_share"]),
            days=f"{row['median_days_to_cross']:.0f}",
        ))
    if len(study.migration.paths):
        path = study.migration.paths.iloc[0]
        first, later = _arrow(path["first_channel"], path["later_channel"], lang)
        key = "omnichannel.headline.move_one" if path["customers"] == 1 else "omnichannel.headline.move_many"
        lines.append("- " + text(key, lang, first=first, later=later, customers=count(path["customers"])))
    lines.append("- " + text("omnichannel.headline.care", lang))
    return "\n".join(lines)


def actions(study: OmnichannelStudy, currency: str, language: str = "en") -> str:
    lang = language
    paths = study.migration.paths
    offline = study.crossing.set_index("first_mode")
    items = []
    if len(paths):
        p = paths.iloc[0]
        first, later = _arrow(p["first_channel"], p["later_channel"], lang)
        items.append(text("omnichannel.actions.next_channel", lang, first=first, later=later))
    if "offline" in offline.index:
        items.append(text(
            "omnichannel.actions.invite", lang, days=f"{offline.loc['offline', 'median_days_to_cross']:.0f}"
        ))
    items.append(text("omnichannel.actions.test", lang))
    items.append(text("omnichannel.actions.one_view", lang))
    items.append(text("omnichannel.actions.judge", lang, channel=label(study.mix.iloc[0]["channel"], lang)))
    return numbered(items)


def mix(study: OmnichannelStudy, currency: str, language: str = "en") -> str:
    lang = language
    mx = study.mix
    top = mx.iloc[0]
    high_aov = mx.loc[mx["average_order_value"].idxmax()]
    low_aov = mx.loc[mx["average_order_value"].idxmin()]
    return text(
        "omnichannel.mix", lang, top=label(top["channel"], lang), orders=pct(top["order_share"]),
        revenue=pct(top["revenue_share"]), high=label(high_aov["channel"], lang),
        high_aov=money(high_aov["average_order_value"], currency, lang), low=label(low_aov["channel"], lang),
        low_aov=money(low_aov["average_order_value"], currency, lang),
    )


def monthly_share(study: OmnichannelStudy, language: str = "en") -> str:
    lang = language
    share = study.monthly_share
    if len(share) < 6:
        return text("omnichannel.monthly.too_few", lang)
    first, last = share.head(3).mean(), share.tail(3).mean()
    change = (last - first).dropna()
    biggest = change.abs().idxmax()
    if abs(change[biggest]) < STABLE_SHARE_PP:
        return text("omnichannel.monthly.stable", lang, threshold=pct(STABLE_SHARE_PP))
    direction = text("omnichannel.monthly.grew" if change[biggest] > 0 else "omnichannel.monthly.shrank", lang)
    return text(
        "omnichannel.monthly.shift", lang, channel=label(biggest, lang), direction=direction,
        first=pct(first[biggest]), last=pct(last[biggest]),
    )


def groups(study: OmnichannelStudy, currency: str, language: str = "en") -> str:
    lang = language
    g = _repeat_groups(study)
    all_rows = study.groups[study.groups["population"] == "all"].set_index("group")
    if not _both_groups(g):
        return _one_group_only(g, lang)
    ratio = _ratio(g.loc["multi", "spend_per_purchase_day"], g.loc["single", "spend_per_purchase_day"])
    similar = np.isfinite(ratio) and abs(ratio - 1) <= SIMILAR_RATIO
    parts = [text(
        "omnichannel.groups.intro", lang, customers=count(g["customers"].sum()),
        multi_all=pct(all_rows.loc["multi", "share"]),
        multi_days=f"{g.loc['multi', 'purchase_days_per_year']:.1f}",
        single_days=f"{g.loc['single', 'purchase_days_per_year']:.1f}",
        multi_spend=money(g.loc["multi", "spend_per_purchase_day"], currency, lang),
        single_spend=money(g.loc["single", "spend_per_purchase_day"], currency, lang),
        verdict=text("omnichannel.groups.frequency_only" if similar else "omnichannel.groups.basket_too", lang),
    )]
    if "clv_mean" in g and np.isfinite(g.loc[["single", "multi"], "clv_mean"]).all():
        err = study.clv_info.get("holdout_total_error_pct")
        model = study.clv_info.get("model_label") or text("omnichannel.groups.purchase_model", lang)
        parts.append(text(
            "omnichannel.groups.clv", lang, model=model, multi=money(g.loc["multi", "clv_mean"], currency, lang),
            single=money(g.loc["single", "clv_mean"], currency, lang),
        ))
        if err is not None:
            parts.append(text("omnichannel.groups.holdout", lang, days=CLV_HOLDOUT_DAYS, error=f"{err:+.1f}%"))
    elif study.clv_info.get("error"):
        parts.append(text("omnichannel.groups.no_clv", lang, error=study.clv_info["error"]))
    return sentences(parts, lang)


def bands(study: OmnichannelStudy, currency: str, language: str = "en") -> str:
    lang = language
    b = study.bands.dropna(subset=["multi_share"])
    if b.empty:
        return ""
    low, high = b.iloc[0], b.iloc[-1]
    parts = [text(
        "omnichannel.bands.text", lang, low_days=low["purchase_days"], low_share=pct(low["multi_share"]),
        high_days=high["purchase_days"], high_share=pct(high["multi_share"]),
    )]
    both = b.dropna(subset=["spend_per_purchase_day_single", "spend_per_purchase_day_multi"])
    if len(both):
        ratios = both["spend_per_purchase_day_multi"] / both["spend_per_purchase_day_single"]
        if (ratios.sub(1).abs() <= SIMILAR_RATIO).all():
            parts.append(text("omnichannel.bands.same", lang))
        else:
            parts.append(text("omnichannel.bands.range", lang, low=pct(ratios.min() - 1), high=pct(ratios.max() - 1)))
    return sentences(parts, lang)


def migration(study: OmnichannelStudy, language: str = "en") -> str:
    lang = language
    mg = study.migration
    rows = []
    for channel in mg.repeat.index:
        n = mg.repeat[channel]
        if n:
            rows.append((channel, mg.stayed[channel] / n, n))
    if not rows:
        return text("omnichannel.migration.none", lang)
    rows.sort(key=lambda r: r[1])
    loosest, tightest = rows[0], rows[-1]
    parts = [text(
        "omnichannel.migration.text", lang, tight=label(tightest[0], lang), tight_share=pct(tightest[1]),
        tight_customers=count(tightest[2]), loose=label(loosest[0], lang), loose_share=pct(loosest[1]),
    )]
    if len(mg.paths):
        colon, (open_, close) = ("：", ("（", "）")) if is_chinese(lang) else (": ", (" (", ")"))
        moves = [
            f"{label(r.first_channel, lang)} → {label(r.later_channel, lang)}{colon}{count(r.customers)}"
            f"{open_}{pct(r.share_of_first_channel_repeaters)}{close}"
            for r in mg.paths.head(3).itertuples()
        ]
        parts.append(text("omnichannel.migration.moves", lang, moves=semicolons(moves, lang)))
    return sentences(parts, lang)


def online_offline(study: OmnichannelStudy, currency: str, language: str = "en") -> str:
    lang = language
    c = study.crossing.set_index("first_mode")
    offline_names = listing([label(x, lang) for x in study.offline_channels], lang)
    parts = [text("omnichannel.online_offline.offline_means", lang, channels=offline_names)]
    for mode in ("offline", "online"):
        if mode in c.index and c.loc[mode, "repeat_buyers"]:
            row = c.loc[mode]
            days = row["median_days_to_cross"]
            key = f"omnichannel.online_offline.{mode}_first" + ("_days" if np.isfinite(days) else "")
            parts.append(text(
                key, lang, customers=count(row["repeat_buyers"]), share=pct(row["crossed_share"]), days=f"{days:.0f}"
            ))
    v = study.store_first_value.set_index("segment")
    if {"later_online", "offline_only"} <= set(v.index) and v.loc["later_online", "customers"]:
        a, b = v.loc["later_online"], v.loc["offline_only"]
        parts.append(text(
            "omnichannel.online_offline.value", lang, online_days=f"{a['purchase_days_per_year']:.1f}",
            online_spend=money(a["spend_per_year"], currency, lang), offline_days=f"{b['purchase_days_per_year']:.1f}",
            offline_spend=money(b["spend_per_year"], currency, lang),
        ))
    return sentences(parts, lang)


def method(study: OmnichannelStudy, *, returns_policy: str, include_clv: bool, language: str = "en") -> str:
    lang = language
    lines = [
        text("omnichannel.method.end", lang, end=study.metrics["observation_end"]),
        text("omnichannel.method.order", lang),
        text("omnichannel.method.returns", lang, policy=returns_policy),
        text("omnichannel.method.groups", lang),
        text("omnichannel.method.first", lang),
        text("omnichannel.method.offline", lang,
             channels=listing([label(c, lang) for c in study.offline_channels], lang)),
    ]
    if include_clv:
        s = study.clv_info.get("settings", {})
        lines.append(text(
            "omnichannel.method.clv", lang, model=s.get("model", ""), months=s.get("horizon_months", ""),
            margin=pct(s.get("gross_margin", float("nan"))), discount=pct(s.get("annual_discount_rate", float("nan"))),
            days=CLV_HOLDOUT_DAYS,
        ))
    lines.append(text("omnichannel.method.association", lang))
    return "\n".join(f"- {line}" for line in lines)


# ------------------------------------------------------------------------ tables


def _headers(table: str, columns: list[str], language: str, **values: object) -> dict[str, str]:
    return {c: text(f"omnichannel.table.{table}.{c}", language, **values) for c in columns}


def mix_view(study: OmnichannelStudy, currency: str, language: str = "en") -> Styler:
    columns = ["channel", "orders", "order_share", "revenue", "revenue_share", "customers", "customer_share",
               "average_order_value"]
    headers = _headers("mix", columns, language, currency=currency)
    formats = {"orders": "{:,.0f}", "order_share": "{:.0%}", "revenue": "{:,.0f}", "revenue_share": "{:.0%}",
               "customers": "{:,.0f}", "customer_share": "{:.0%}", "average_order_value": "{:,.0f}"}
    return labelled_table(study.mix, "channel", lambda c: label(c, language), columns, headers, formats)


def groups_view(study: OmnichannelStudy, currency: str, language: str = "en") -> Styler:
    g = study.groups.copy()
    g["population"] = g["population"].map(
        {k: text(f"omnichannel.table.groups.{k}", language) for k in ("all", "repeat")}
    )
    g["group"] = g["group"].map(lambda c: label(c, language))
    columns = ["population", "group", "customers", "share", "purchase_days_per_year", "spend_per_year",
               "spend_per_purchase_day", "mean_channels", "clv_mean", "clv_median"]
    headers = _headers("groups", columns, language, currency=currency)
    view = g[[c for c in columns if c in g]].rename(columns=headers)
    formats = {"customers": "{:,.0f}", "share": "{:.0%}", "purchase_days_per_year": "{:.2f}",
               "spend_per_year": "{:,.0f}", "spend_per_purchase_day": "{:,.0f}", "mean_channels": "{:.2f}",
               "clv_mean": "{:,.0f}", "clv_median": "{:,.0f}"}
    return styled(view, {headers[c]: f for c, f in formats.items()})


def bands_view(study: OmnichannelStudy, currency: str, language: str = "en") -> Styler:
    columns = ["purchase_days", "customers", "multi_share", "spend_per_purchase_day_single",
               "spend_per_purchase_day_multi"]
    headers = _headers("bands", columns, language, currency=currency)
    view = study.bands.rename(columns=headers)
    formats = {"customers": "{:,.0f}", "multi_share": "{:.0%}", "spend_per_purchase_day_single": "{:,.0f}",
               "spend_per_purchase_day_multi": "{:,.0f}"}
    return styled(view, {headers[c]: f for c, f in formats.items()})


def paths_view(study: OmnichannelStudy, n: int = 10, language: str = "en") -> Styler:
    p = study.migration.paths.head(n)
    headers = _headers("paths", ["first_channel", "later_channel", "customers", "share"], language)
    view = pd.DataFrame(
        {
            headers["first_channel"]: p["first_channel"].map(lambda c: label(c, language)),
            headers["later_channel"]: p["later_channel"].map(lambda c: label(c, language)),
            headers["customers"]: p["customers"],
            headers["share"]: p["share_of_first_channel_repeaters"],
        }
    )
    return styled(view, {headers["customers"]: "{:,.0f}", headers["share"]: "{:.0%}"})


def crossing_view(study: OmnichannelStudy, language: str = "en") -> Styler:
    c = study.crossing
    columns = ["first_mode", "customers", "repeat_buyers", "crossed", "crossed_share", "median_days_to_cross"]
    headers = _headers("crossing", columns, language)
    view = pd.DataFrame({headers[col]: c[col] for col in columns})
    view[headers["first_mode"]] = c["first_mode"].map(lambda m: label(m, language))
    formats = {"customers": "{:,.0f}", "repeat_buyers": "{:,.0f}", "crossed": "{:,.0f}", "crossed_share": "{:.0%}",
               "median_days_to_cross": "{:.0f}"}
    return styled(view, {headers[col]: f for col, f in formats.items()})


def data_summary(study: OmnichannelStudy, language: str = "en") -> str:
    m = study.metrics
    return text(
        "omnichannel.data_summary", language, customers=count(m["customers"]), orders=count(m["orders"]),
        channels=len(m["channels"]), end=m["observation_end"],
    )


def headline_numbers(study: OmnichannelStudy, currency: str, language: str = "en") -> dict[str, object]:
    """Numbers for the site index (labels in the page language)."""
    lang = language
    g = _repeat_groups(study)
    top = study.mix.iloc[0]
    numbers: dict[str, object] = {
        text("omnichannel.index.revenue_share", lang, channel=label(top["channel"], lang)): pct(top["revenue_share"]),
        text("omnichannel.index.multi_repeat", lang): pct(study.metrics["multi_share_repeat"]),
    }
    if _both_groups(g):
        numbers[text("omnichannel.index.days", lang)] = text(
            "omnichannel.index.versus", lang, multi=f"{g.loc['multi', 'purchase_days_per_year']:.1f}",
            single=f"{g.loc['single', 'purchase_days_per_year']:.1f}",
        )
    return numbers
