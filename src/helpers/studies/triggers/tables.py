"""Reader tables of the triggers page (headers in the page language; ``styled`` escapes every cell)."""

from __future__ import annotations

import pandas as pd
from pandas.io.formats.style import Styler

from helpers.report.formatting import money
from helpers.report.i18n import text
from helpers.report.tables import styled
from helpers.studies.triggers.analysis import TriggerStudy
from helpers.studies.triggers.narrative import (
    CURRENCY,
    describe,
    guards,
    offer,
    share,
)


def _h(key: str, language: str) -> str:
    return text(f"triggers.table.{key}", language)


def rules_view(study: TriggerStudy, language: str = "en") -> Styler:
    lang = language
    rules = study.config.rules
    return styled(pd.DataFrame({
        _h("rule", lang): [r.name(lang) for r in rules],
        _h("what", lang): [describe(r, lang) for r in rules],
        _h("offer", lang): [offer(r, lang) for r in rules],
        _h("guards", lang): [guards(r, lang) for r in rules],
    }))


def backtest_view(study: TriggerStudy, language: str = "en") -> Styler:
    lang = language
    s = study.backtest.summary
    rules = {r.id: r for r in study.config.rules}
    return styled(pd.DataFrame({
        _h("rule", lang): [rules[i].name(lang) for i in s["rule"]],
        _h("weekly", lang): s["weekly_audience"].map("{:,.0f}".format),
        _h("hit_rate", lang): s["hit_rate"].map(lambda v: share(v, 1)),
        _h("interval", lang): [f"{share(a, 1)} … {share(b, 1)}" for a, b in zip(s["hit_rate_low"], s["hit_rate_high"])],
        _h("margin", lang): s["weekly_incremental_margin"].map(
            lambda v: "–" if pd.isna(v) else money(v, CURRENCY, lang, markdown=False)),
        _h("moved", lang): s["quiet_hours_moved"].map(share),
    }))


def calendar_view(study: TriggerStudy, language: str = "en") -> Styler:
    lang = language
    cal = study.calendar.copy()
    rules = {r.id: r for r in study.config.rules}
    cal["shown"] = [
        f"{v:,.0f}" if basis == "scheduled" else text("triggers.calendar.average", lang, value=f"{v:,.0f}")
        for v, basis in zip(cal["audience"], cal["basis"])
    ]
    wide = cal.pivot(index="rule", columns="week", values="shown").reindex([r.id for r in study.config.rules])
    wide.columns = [f"{_h('week', lang)} {w:%Y-%m-%d}" for w in wide.columns]
    wide.insert(0, _h("rule", lang), [rules[i].name(lang) for i in wide.index])
    return styled(wide.reset_index(drop=True))
