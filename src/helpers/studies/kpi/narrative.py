"""Plain-language text of the KPI page (strings in ``helpers/report/locales/<language>/kpi.yaml``)."""

from __future__ import annotations

import numpy as np

from helpers.report.formatting import count, money, pct
from helpers.report.i18n import text
from helpers.report.page_text import listing, numbered
from helpers.studies.kpi.analysis import KPIS, KpiStudy

NOTEBOOK = "kpi"
RATES = ("repeat_rate", "churn_rate", "satisfaction")
COUNTS = ("new_members", "active_members")
LIGHT_SYMBOLS = {"green": "🟢", "amber": "🟡", "red": "🔴", "none": "⚪"}
TREND_SYMBOLS = {"up": "↑", "down": "↓", "flat": "→", "none": "–"}


def title(language: str = "en") -> str:
    return text("kpi.title.heading", language) + "\n\n" + text("kpi.title.intro", language)


def heading(key: str, language: str = "en") -> str:
    return "## " + text(f"kpi.heading.{key}", language)


def name(kpi: str, language: str = "en") -> str:
    return text(f"kpi.name.{kpi}", language)


def value(kpi: str, v: float, currency: str = "¥", language: str = "en", markdown: bool = True) -> str:
    """A KPI value as a reader sees it."""
    if v is None or not np.isfinite(v):
        return "–"
    if kpi in RATES:
        return pct(v, 1)
    if kpi in COUNTS:
        return count(v)
    if kpi == "order_value":
        return money(v, currency, language, markdown=markdown)
    return f"{v:.2f}"


def headline(s: KpiStudy, currency: str = "¥", language: str = "en") -> str:
    card = s.scorecard
    with_target = card[card["light"] != "none"]
    missed = [name(k, language) for k in with_target.index if with_target.loc[k, "light"] == "red"]
    close = [name(k, language) for k in with_target.index if with_target.loc[k, "light"] == "amber"]
    lead = text("kpi.headline.lead", language, month=str(s.month), on=count((with_target["light"] == "green").sum()),
                total=count(len(with_target)),
                repeat=value("repeat_rate", card.loc["repeat_rate", "value"], currency, language),
                aov=value("order_value", card.loc["order_value", "value"], currency, language),
                churn=value("churn_rate", card.loc["churn_rate", "value"], currency, language))
    parts = [lead]
    if missed:
        parts.append(text("kpi.headline.missed", language, kpis=listing(missed, language)))
    if close:
        parts.append(text("kpi.headline.close", language, kpis=listing(close, language)))
    if not missed and not close and len(with_target):
        parts.append(text("kpi.headline.all_on", language))
    return " ".join(parts) if language == "en" else "".join(parts)


def actions(s: KpiStudy, language: str = "en") -> str:
    card = s.scorecard
    items = [text(f"kpi.action.{k}", language, kpi=name(k, language)) for k in KPIS if card.loc[k, "light"] in ("red", "amber")]
    yoy = s.changes.loc["yoy"] if "yoy" in s.changes.index else (s.changes.loc["mom"] if "mom" in s.changes.index else None)
    if yoy is not None and np.isfinite(yoy["customers"]) and yoy["change"] < 0:
        drivers = {k: yoy[k] for k in ("customers", "orders_per_customer", "order_value")}
        weakest = min(drivers, key=drivers.get)
        if drivers[weakest] < 0:
            items.append(text(f"kpi.action.driver_{weakest}", language))
    if not items:
        items.append(text("kpi.action.none", language))
    return numbered(items)


def scorecard(s: KpiStudy, language: str = "en") -> str:
    card = s.scorecard
    ups = [name(k, language) for k in card.index if card.loc[k, "trend"] == "up"]
    downs = [name(k, language) for k in card.index if card.loc[k, "trend"] == "down"]
    none = text("kpi.none", language)
    out = text("kpi.scorecard", language, months=s.settings["trend_months"], up=listing(ups, language) or none,
               down=listing(downs, language) or none, band=pct(s.settings["amber_band"]))
    n = int(s.monthly["satisfaction_tickets"].iloc[-1]) if len(s.monthly) else 0
    if n:
        out += (" " if language == "en" else "") + text("kpi.satisfaction_n", language, n=count(n))
    return out


def drivers(s: KpiStudy, currency: str = "¥", language: str = "en") -> str:
    parts = []
    for kind in ("mom", "yoy"):
        if kind not in s.changes.index:
            continue
        r = s.changes.loc[kind]
        parts.append(text(f"kpi.drivers.{kind}", language, month=r["month"], base=r["base_month"],
                          change=money(r["change"], currency, language),
                          customers=money(r["customers"], currency, language),
                          frequency=money(r["orders_per_customer"], currency, language),
                          order_value=money(r["order_value"], currency, language)))
    if not parts:
        return text("kpi.drivers.none", language)
    return " ".join(parts) if language == "en" else "".join(parts)


def cohorts(s: KpiStudy, language: str = "en") -> str:
    c = s.cohorts
    col = "retention_m3" if "retention_m3" in c else c.columns[-1]
    recent = c[col].dropna().tail(6)
    earlier = c[col].dropna().iloc[:-6].tail(6)
    if recent.empty:
        return text("kpi.cohorts_none", language)
    return text("kpi.cohorts", language, recent=pct(recent.mean(), 1), earlier=pct(earlier.mean(), 1) if len(earlier) else "–")


def method(s: KpiStudy, language: str = "en") -> str:
    return text("kpi.method", language, repeat_days=s.settings["repeat_window_days"],
                active_days=s.settings["active_window_days"], band=pct(s.settings["amber_band"]),
                months=s.settings["trend_months"])


def headline_numbers(s: KpiStudy, currency: str = "¥", language: str = "en") -> dict:
    card = s.scorecard
    return {name(k, language): value(k, card.loc[k, "value"], currency, language, markdown=False)
            for k in ("repeat_rate", "order_value", "churn_rate")}
