"""Plain-language text and reader-facing tables of the service page.

Every function returns Markdown (or a styled table) in the page language ("en" or
"zh-CN"; strings live in ``helpers/locales/<language>/service.yaml``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from helpers.data.tables_io import CONTACT_CHANNEL, ISSUE_TYPE, SEVERITY
from helpers.report.formatting import count, pct
from helpers.report.i18n import is_chinese, text
from helpers.report.labels import label
from helpers.report.page_text import listing, numbered, sentences
from helpers.report.tables import styled
from helpers.studies.service.analysis import (
    CONFIDENCE,
    NOT_RECORDED,
    Promise,
    ServiceStudy,
)

#: Breach rate at or below which a promise counts as "kept" on the page.
KEPT_RATE = 0.05
#: ... and above which it is "often broken".
OFTEN_BROKEN_RATE = 0.20
#: Cells of the channel x severity table with fewer tickets are not singled out.
MIN_CELL_TICKETS = 10
#: How the notebook is named in messages about missing inputs.
NOTEBOOK = "service"


def title(language: str = "en") -> str:
    return text("service.title.heading", language) + "\n\n" + text("service.title.intro", language)


def hours(value: float, language: str = "en") -> str:
    """Hours for reading: 15 min, 24 h, 3.5 days (Chinese 15 分钟, 24 小时, 3.5 天)."""
    if not np.isfinite(value):
        return "–"
    if value < 1:
        return text("service.hours.minutes", language, value=f"{value * 60:.0f}")
    if value < 72:
        return text("service.hours.hours", language, value=f"{value:.0f}" if value >= 10 else f"{value:.1f}")
    return text("service.hours.days", language, value=f"{value / 24:.1f}")


def _pct(value: float) -> str:
    """A share, or "–" when it cannot be measured (no such times in the file)."""
    return pct(value) if np.isfinite(value) else "–"


def _verdict(rate: float, language: str = "en") -> str:
    if not np.isfinite(rate):
        key = "unknown"
    elif rate <= KEPT_RATE:
        key = "kept"
    elif rate <= OFTEN_BROKEN_RATE:
        key = "mostly_kept"
    else:
        key = "often_broken"
    return text(f"service.verdict.{key}", language)


def _promise_text(p: Promise, language: str = "en") -> str:
    return text(
        "service.promise", language, response=hours(p.response_hours, language),
        resolution=hours(p.resolution_hours, language),
    )


def _worst_cell(study: ServiceStudy) -> pd.Series | None:
    cells = study.by_channel_severity
    cells = cells[(cells["tickets"] >= MIN_CELL_TICKETS) & cells["either_breach_rate"].notna()]
    if cells.empty:
        return None
    return cells.loc[cells["either_breach_rate"].idxmax()]


def _after_sentence(after: dict | None, language: str = "en") -> str | None:
    if not after:
        return None
    b, m = after["groups"]["breached"], after["groups"]["met"]
    if not b["customers"] or not m["customers"]:
        return None
    lo, hi = after["difference_low"], after["difference_high"]
    verdict = "service.after_sentence.excludes_zero" if hi < 0 or lo > 0 else "service.after_sentence.includes_zero"
    return text(
        "service.after_sentence.text", language, breached=pct(b["repeat_rate"]), days=after["followup_days"],
        met=pct(m["repeat_rate"]), difference=f"{after['difference'] * 100:+.0f}", confidence=pct(CONFIDENCE),
        low=f"{lo * 100:+.0f}", high=f"{hi * 100:+.0f}", verdict=text(verdict, language),
    )


def headline(study: ServiceStudy, language: str = "en") -> str:
    lang = language
    zh = is_chinese(lang)
    m, p, alt = study.metrics, study.promise, study.alternative
    comp = study.comparison.set_index("name")
    parts = []
    for kind, promised in (("response", p.response_hours), ("resolution", p.resolution_hours)):
        rate = m[f"{kind}_breach_rate"]
        if np.isfinite(rate):
            parts.append((
                text(f"service.headline.{kind}_missed", lang, share=pct(rate), hours=hours(promised, lang)),
                text(f"service.headline.{kind}_verdict", lang, verdict=_verdict(rate, lang)),
            ))
    if parts:
        first = text(
            "service.headline.lead", lang, tickets=count(m["tickets"]),
            missed=("，" if zh else " and ").join(a for a, _ in parts),
            verdicts=("，" if zh else ", ").join(b for _, b in parts),
        )
    else:
        first = text("service.headline.no_times", lang, tickets=count(m["tickets"]))
    lines = [
        first,
        "",
        "- " + text(
            "service.headline.typical", lang, response=hours(m["median_response_hours"], lang),
            resolution=hours(m["median_resolution_hours"], lang),
        ),
        "- " + text(
            "service.headline.stricter", lang, promise=_promise_text(alt, lang),
            alternative=_pct(comp.loc[alt.name, "either"]), current=_pct(comp.loc[p.name, "either"]),
        ),
    ]
    worst = _worst_cell(study)
    if worst is not None:
        lines.append("- " + text(
            "service.headline.weakest", lang, severity=label(worst[SEVERITY], lang),
            channel=label(worst[CONTACT_CHANNEL], lang), share=pct(worst["either_breach_rate"]),
            tickets=count(worst["tickets"]),
        ))
    if len(study.issues):
        top = study.issues.iloc[0]
        lines.append("- " + text(
            "service.headline.top_issue", lang, issue=label(top[ISSUE_TYPE], lang), share=pct(top["share"])
        ))
    after = _after_sentence(study.after, lang)
    if after:
        lines.append("- " + text("service.headline.after", lang, after=after))
    return "\n".join(lines)


def actions(study: ServiceStudy, language: str = "en") -> str:
    lang = language
    items = []
    worst = _worst_cell(study)
    if worst is not None:
        items.append(text(
            "service.actions.weakest", lang, severity=label(worst[SEVERITY], lang).lower(),
            channel=label(worst[CONTACT_CHANNEL], lang), share=pct(worst["either_breach_rate"]),
        ))
    if study.metrics["resolution_breach_rate"] > study.metrics["response_breach_rate"]:  # False when either is NaN
        items.append(text("service.actions.resolution", lang))
    if len(study.issues):
        top = study.issues.head(2)
        names = ("和" if is_chinese(lang) else " and ").join(label(x, lang).lower() for x in top[ISSUE_TYPE])
        items.append(text("service.actions.feed_back", lang, issues=names, share=pct(top["share"].sum())))
    if study.per_order_channel is not None and len(study.per_order_channel):
        hi = study.per_order_channel.iloc[0]
        items.append(text(
            "service.actions.staff", lang, channel=label(hi["channel"], lang), rate=f"{hi['tickets_per_1000_orders']:.0f}"
        ))
    after = study.after
    if after and after["groups"]["breached"]["customers"]:
        items.append(text("service.actions.follow_up", lang))
    alt = study.comparison.set_index("name").loc[study.alternative.name]
    items.append(text(
        "service.actions.choose", lang, promise=_promise_text(study.alternative, lang), share=_pct(alt["either"])
    ))
    return numbered(items)


def promises(study: ServiceStudy, language: str = "en") -> str:
    lang = language
    m = study.metrics
    comp = study.comparison.set_index("name")
    p, alt = study.promise, study.alternative
    pending = m["pending_response"] + m["pending_resolution"]
    parts = [text(
        "service.promises.text", lang, promise=_promise_text(p, lang), alternative=_promise_text(alt, lang),
        response=_pct(1 - comp.loc[p.name, "response"]), resolution=_pct(1 - comp.loc[p.name, "resolution"]),
        alt_response=_pct(1 - comp.loc[alt.name, "response"]), alt_resolution=_pct(1 - comp.loc[alt.name, "resolution"]),
    )]
    if pending:
        parts.append(text("service.promises.pending", lang, pending=count(pending)))
    return sentences(parts, lang)


def breaches(study: ServiceStudy, language: str = "en") -> str:
    lang = language
    sev = study.by_severity.set_index(SEVERITY)
    ch = study.by_channel.set_index(CONTACT_CHANNEL).dropna(subset=["either_breach_rate"])
    ch = ch[ch["tickets"] >= MIN_CELL_TICKETS] if (ch["tickets"] >= MIN_CELL_TICKETS).any() else ch
    parts = [text("service.breaches.intro", lang)]
    if len(sev) >= 2:
        listed = listing(
            [f"{label(k, lang)} {pct(r)}" for k, r in sev["either_breach_rate"].items() if np.isfinite(r)], lang
        )
        parts.append(text("service.breaches.severity", lang, listed=listed))
    if len(ch) >= 2:
        worst, best = ch["either_breach_rate"].idxmax(), ch["either_breach_rate"].idxmin()
        parts.append(text(
            "service.breaches.channel", lang, worst=label(worst, lang), worst_share=pct(ch.loc[worst, "either_breach_rate"]),
            best=label(best, lang), best_share=pct(ch.loc[best, "either_breach_rate"]),
        ))
    return sentences(parts, lang)


def issues(study: ServiceStudy, language: str = "en") -> str:
    lang = language
    iss = study.issues
    if iss.empty:
        return text("service.issues.none", lang)
    if (iss[ISSUE_TYPE] == NOT_RECORDED).all():
        return text("service.issues.no_column", lang)
    top = iss.iloc[0]
    parts = [text(
        "service.issues.top", lang, issue=label(top[ISSUE_TYPE], lang), tickets=count(top["tickets"]),
        share=pct(top["share"]),
    )]
    rated = iss.dropna(subset=["breach_rate"])
    rated = rated[rated["tickets"] >= MIN_CELL_TICKETS]
    if len(rated) >= 2:
        slow = rated.loc[rated["breach_rate"].idxmax()]
        parts.append(text(
            "service.issues.slow", lang, minimum=MIN_CELL_TICKETS, issue=label(slow[ISSUE_TYPE], lang),
            share=pct(slow["breach_rate"]),
        ))
    if "mean_satisfaction" in iss and iss["mean_satisfaction"].notna().any():
        low = iss.loc[iss["mean_satisfaction"].idxmin()]
        parts.append(text(
            "service.issues.satisfaction", lang, issue=label(low[ISSUE_TYPE], lang), score=f"{low['mean_satisfaction']:.1f}"
        ))
    return sentences(parts, lang)


def trend(study: ServiceStudy, recent_months: int, language: str = "en") -> str:
    lang = language
    t = study.trend
    basis = text("service.trend.per_orders" if "recent_per_1000_orders" in t else "service.trend.per_month", lang)
    up = t[t["direction"] == "up"]
    down = t[t["direction"] == "down"]
    parts = [text("service.trend.intro", lang, basis=basis, months=recent_months, confidence=pct(CONFIDENCE))]
    if up.empty and down.empty:
        parts.append(text("service.trend.flat", lang))
    else:
        for key, rows in (("up", up), ("down", down)):
            if len(rows):
                listed = listing([f"{label(r.issue_type, lang)} (×{r.rate_ratio:.1f})" for r in rows.itertuples()], lang)
                parts.append(text(f"service.trend.{key}", lang, issues=listed))
    return sentences(parts, lang)


def per_order_channel(study: ServiceStudy, language: str = "en") -> str:
    lang = language
    t = study.per_order_channel
    if t is None or t.empty:
        return ""
    hi, lo = t.iloc[0], t.iloc[-1]
    unmatched = t.attrs.get("unmatched_tickets", 0)
    parts = [text(
        "service.per_order_channel.text", lang, high=label(hi["channel"], lang),
        high_rate=f"{hi['tickets_per_1000_orders']:.1f}", low=label(lo["channel"], lang),
        low_rate=f"{lo['tickets_per_1000_orders']:.1f}",
    )]
    if unmatched:
        parts.append(text("service.per_order_channel.unmatched", lang, tickets=count(unmatched)))
    return sentences(parts, lang)


def after(study: ServiceStudy, language: str = "en") -> str:
    lang = language
    a = study.after
    if a is None:
        return text("service.after.no_transactions", lang)
    sentence = _after_sentence(a, lang)
    if sentence is None:
        return text("service.after.too_few", lang)
    missing = a.get("customers_not_in_transactions")
    return sentences([
        text(
            "service.after.text", lang, days=a["followup_days"], eligible=count(a["eligible_tickets"]),
            recent=count(a["tickets_too_recent"]), sentence=sentence,
            missing=text("service.after.missing", lang, customers=count(missing)) if missing else "",
        ),
        text("service.after.caution", lang),
    ], lang)


def method(
    study: ServiceStudy, *, followup_days: int, recent_months: int, has_transactions: bool, language: str = "en"
) -> str:
    lang = language
    p, alt = study.promise, study.alternative
    lines = [
        text("service.method.promises", lang, promise=_promise_text(p, lang), alternative=_promise_text(alt, lang)),
        text("service.method.times", lang),
        text("service.method.met", lang),
        text("service.method.rate", lang),
        text(
            "service.method.trend_orders" if has_transactions else "service.method.trend", lang,
            months=recent_months, confidence=pct(CONFIDENCE),
        ),
    ]
    if has_transactions:
        lines.append(text("service.method.after", lang, days=followup_days))
    return "\n".join(f"- {line}" for line in lines)


# ------------------------------------------------------------------------ tables


def _headers(table: str, columns: list[str], language: str, **values: object) -> dict[str, str]:
    return {c: text(f"service.table.{table}.{c}", language, **values) for c in columns}


def comparison_view(study: ServiceStudy, language: str = "en") -> Styler:
    lang = language
    c = study.comparison
    h = _headers("comparison", ["standard", "response_hours", "resolution_hours", "response", "resolution", "either"], lang)
    names = {study.promise.name: text("service.table.comparison.promise", lang),
             study.alternative.name: text("service.table.comparison.alternative", lang)}
    view = pd.DataFrame(
        {
            h["standard"]: c["name"].map(names),
            h["response_hours"]: c["response_hours"].map(lambda v: hours(v, lang)),
            h["resolution_hours"]: c["resolution_hours"].map(lambda v: hours(v, lang)),
            h["response"]: c["response"],
            h["resolution"]: c["resolution"],
            h["either"]: c["either"],
        }
    )
    return styled(view, {h[k]: "{:.1%}" for k in ("response", "resolution", "either")})


def breach_view(table: pd.DataFrame, by: list[str], language: str = "en") -> Styler:
    lang = language
    view = table.copy()
    for col in by:
        view[col] = view[col].map(lambda v: label(v, lang))
    rates = ["tickets", "response_breach_rate", "resolution_breach_rate", "either_breach_rate",
             "median_response_hours", "median_resolution_hours"]
    view = view[by + rates]
    view["median_response_hours"] = view["median_response_hours"].map(lambda v: hours(v, lang))
    view["median_resolution_hours"] = view["median_resolution_hours"].map(lambda v: hours(v, lang))
    h = _headers("breach", [c for c in (CONTACT_CHANNEL, SEVERITY) if c in by] + rates, lang)
    view = view.rename(columns=h)
    return styled(view, {h["tickets"]: "{:,.0f}", h["response_breach_rate"]: "{:.0%}",
                         h["resolution_breach_rate"]: "{:.0%}", h["either_breach_rate"]: "{:.0%}"})


def issues_view(study: ServiceStudy, language: str = "en") -> Styler:
    lang = language
    iss = study.issues
    columns = ["issue_type", "tickets", "share", "breach_rate", "median_resolution_hours", "mean_satisfaction"]
    h = _headers("issues", columns, lang)
    view = pd.DataFrame({h[c]: iss[c] for c in columns})
    view[h["issue_type"]] = iss[ISSUE_TYPE].map(lambda v: label(v, lang))
    view[h["median_resolution_hours"]] = iss["median_resolution_hours"].map(lambda v: hours(v, lang))
    return styled(view, {h["tickets"]: "{:,.0f}", h["share"]: "{:.0%}", h["breach_rate"]: "{:.0%}",
                         h["mean_satisfaction"]: "{:.2f}"})


def trend_view(study: ServiceStudy, recent_months: int, language: str = "en") -> Styler:
    lang = language
    t = study.trend
    h = _headers(
        "trend", ["issue_type", "recent", "earlier", "recent_per_1000_orders", "earlier_per_1000_orders", "rate_ratio",
                  "interval", "reading"], lang, months=recent_months, confidence=pct(CONFIDENCE),
    )
    data = {
        h["issue_type"]: t["issue_type"].map(lambda v: label(v, lang)),
        h["recent"]: t["recent"],
        h["earlier"]: t["earlier"],
    }
    if "recent_per_1000_orders" in t:
        data[h["recent_per_1000_orders"]] = t["recent_per_1000_orders"]
        data[h["earlier_per_1000_orders"]] = t["earlier_per_1000_orders"]
    data[h["rate_ratio"]] = t["rate_ratio"]
    data[h["interval"]] = [
        f"{lo:.2f}–{hi:.2f}" if np.isfinite(lo) else "–" for lo, hi in zip(t["ratio_low"], t["ratio_high"])
    ]
    data[h["reading"]] = t["direction"].map({k: text(f"service.table.trend.{k}", lang) for k in ("up", "down", "flat")})
    view = pd.DataFrame(data)
    return styled(view, {h[c]: "{:.2f}" for c in ("recent_per_1000_orders", "earlier_per_1000_orders", "rate_ratio")})


def per_order_channel_view(study: ServiceStudy, language: str = "en") -> Styler | None:
    t = study.per_order_channel
    if t is None:
        return None
    columns = ["channel", "orders", "tickets", "tickets_per_1000_orders"]
    h = _headers("per_order_channel", columns, language)
    view = pd.DataFrame({h[c]: t[c] for c in columns})
    view[h["channel"]] = t["channel"].map(lambda v: label(v, language))
    return styled(view, {h["orders"]: "{:,.0f}", h["tickets"]: "{:,.0f}", h["tickets_per_1000_orders"]: "{:.1f}"})


def after_view(study: ServiceStudy, language: str = "en") -> Styler | None:
    lang = language
    a = study.after
    if a is None:
        return None
    h = _headers("after", ["first_ticket", "customers", "bought_again", "repeat_rate", "interval", "churn"], lang,
                 confidence=pct(CONFIDENCE))

    def points(value: float) -> str:
        return text("service.table.after.points", lang, value=f"{value * 100:+.0f}") if np.isfinite(value) else "–"

    rows = []
    for key in ("met", "breached"):
        g = a["groups"][key]
        rate = g["repeat_rate"]
        rows.append(
            {h["first_ticket"]: text(f"service.table.after.{key}", lang), h["customers"]: f"{g['customers']:,}",
             h["bought_again"]: f"{g['bought_again']:,}",
             h["repeat_rate"]: f"{rate:.0%}" if np.isfinite(rate) else "–",
             h["interval"]: _interval(g["repeat_low"], g["repeat_high"], language=lang),
             h["churn"]: f"{1 - rate:.0%}" if np.isfinite(rate) else "–"}
        )
    d = a["difference"]
    rows.append(
        {h["first_ticket"]: text("service.table.after.difference", lang), h["customers"]: "", h["bought_again"]: "",
         h["repeat_rate"]: points(d),
         h["interval"]: _interval(a["difference_low"], a["difference_high"], signed=True, language=lang),
         h["churn"]: points(-d)}
    )
    return styled(pd.DataFrame(rows))


def _interval(low: float, high: float, signed: bool = False, language: str = "en") -> str:
    if not (np.isfinite(low) and np.isfinite(high)):
        return "–"
    if signed:
        return text("service.table.after.interval_points", language, low=f"{low * 100:+.0f}", high=f"{high * 100:+.0f}")
    return f"{low:.0%}–{high:.0%}"


def data_summary(study: ServiceStudy, language: str = "en") -> str:
    m = study.metrics
    return text(
        "service.data_summary", language, tickets=count(m["tickets"]), customers=count(m["customers"]),
        first=m["first_opened"], last=m["last_opened"], pending_response=count(m["pending_response"]),
        pending_resolution=count(m["pending_resolution"]),
    )


def headline_numbers(study: ServiceStudy, language: str = "en") -> dict[str, object]:
    """Numbers for the site index (labels in the page language)."""
    lang = language
    m, p = study.metrics, study.promise
    return {
        text("service.index.tickets", lang): m["tickets"],
        text("service.index.response_late", lang, hours=hours(p.response_hours, lang)): _pct(m["response_breach_rate"]),
        text("service.index.resolution_late", lang, hours=hours(p.resolution_hours, lang)): _pct(
            m["resolution_breach_rate"]
        ),
    }
