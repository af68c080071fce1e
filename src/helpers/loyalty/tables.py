"""Reader-facing tables of the loyalty lab (styled with :func:`helpers.tables.styled`)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.io.formats.style import Styler

from ..tables import styled
from . import assumptions as A
from .results import DesignResult, Lab

#: Rows of a design's results table: metric, label, kind ("money", "pct", "count", "points").
RESULT_ROWS = (
    ("revenue_base", "Revenue without the programme", "money"),
    ("incremental_revenue", "Incremental revenue", "money"),
    ("incremental_margin", "Incremental gross margin", "money"),
    ("reward_cost", "Rewards redeemed (cost)", "money"),
    ("benefit_cost", "Tier and member benefits", "money"),
    ("trigger_cost", "Trigger rewards", "money"),
    ("member_cost", "Per-member and enrolment costs", "money"),
    ("fixed_cost", "Fixed costs", "money"),
    ("liability_cost", "Expected cost of outstanding points", "money"),
    ("total_cost", "Total programme cost", "money"),
    ("profit", "Profit", "money"),
    ("roi", "ROI", "pct"),
    ("members", "Members at the horizon", "count"),
    ("effective_lift", "Extra purchases of members (lift)", "pct"),
    ("points_earned", "Points earned", "count"),
    ("points_redeemed", "Points redeemed", "count"),
    ("points_expired", "Points expired", "count"),
    ("breakage_rate", "Breakage (expired / earned)", "pct"),
    ("liability_face", "Outstanding points at face value", "money"),
)


def _fmt(kind: str, currency: str):
    def money(v):
        return "–" if not np.isfinite(v) else f"{currency}{v:,.0f}" if v >= 0 else f"-{currency}{-v:,.0f}"

    return {
        "money": money,
        "pct": lambda v: "–" if not np.isfinite(v) else f"{v:+.1%}" if v < 0 else f"{v:.1%}",
        "count": lambda v: "–" if not np.isfinite(v) else f"{v:,.0f}",
    }[kind]


def comparison(lab: Lab, currency: str = "$") -> Styler:
    """The headline table across designs."""
    table = lab.comparison
    view = pd.DataFrame(
        {
            "Design": table["design"],
            "Expected ROI": table["roi"],
            "ROI, 95% of runs": [f"{lo:+.0%} to {hi:+.0%}" for lo, hi in zip(table["roi_low"], table["roi_high"])],
            f"Expected profit ({currency})": table["profit"],
            "Runs with a profit": table["probability_profit"],
            "Lift expected": table["effective_lift"],
            "Break-even lift": table["break_even_lift"],
            f"Points liability ({currency})": table["liability_face"],
            "Breakage": table["breakage_rate"],
            "Members": table["members"],
        }
    )
    return styled(
        view,
        {
            "Expected ROI": "{:+.0%}",
            f"Expected profit ({currency})": "{:,.0f}",
            "Runs with a profit": "{:.0%}",
            "Lift expected": "{:.1%}",
            "Break-even lift": "{:.1%}",
            f"Points liability ({currency})": "{:,.0f}",
            "Breakage": "{:.0%}",
            "Members": "{:,.0f}",
        },
    )


def results(r: DesignResult, currency: str = "$") -> Styler:
    """A design's results with their intervals across runs."""
    rows = []
    for key, label, kind in RESULT_ROWS:
        if key not in r.summary.index:
            continue
        mean, low, high = (r.summary.loc[key, c] for c in ("mean", "low", "high"))
        fmt = _fmt(kind, currency)
        rows.append({"": label, "Expected": fmt(mean), "Low (2.5%)": fmt(low), "High (97.5%)": fmt(high)})
    return styled(pd.DataFrame(rows))


def segments(r: DesignResult, currency: str = "$") -> Styler:
    """A design's results by value segment."""
    view = r.segments.rename(
        columns={
            "segment": "Segment",
            "customers": "Customers",
            "members": "Members",
            "revenue_base": f"Revenue without programme ({currency})",
            "incremental_revenue": f"Incremental revenue ({currency})",
            "incremental_margin": f"Incremental margin ({currency})",
            "variable_cost": f"Variable cost ({currency})",
            "contribution": f"Contribution ({currency})",
            "roi_before_fixed": "ROI before fixed costs",
        }
    )
    money_cols = [c for c in view.columns if c.endswith(f"({currency})")]
    return styled(view, {**{c: "{:,.0f}" for c in money_cols}, "Customers": "{:,.0f}", "Members": "{:,.0f}",
                         "ROI before fixed costs": "{:+.0%}"})


def assumptions(values: dict, design=None) -> Styler:
    """The behavioural assumptions used, with their range and source."""
    table = A.table(values, design)
    view = table.rename(
        columns={"assumption": "Assumption", "parameter": "Parameter", "value": "Value", "low": "Low", "high": "High",
                 "meaning": "Meaning", "source": "Source"}
    ).drop(columns=["default"])
    return styled(view, {"Value": "{:g}", "Low": "{:g}", "High": "{:g}"})


def assumptions_by_design(lab: Lab) -> Styler:
    """Assumption values used by each design (blank: does not apply to that design)."""
    rows = []
    for name, spec in A.SPECS.items():
        row = {"Assumption": spec.label, "Parameter": name, "Default": spec.default,
               "Range (tornado)": f"{spec.low:g} – {spec.high:g}"}
        for r in lab.results:
            row[r.name] = r.sim.values[name] if A.relevant(r.design, name) else np.nan
        rows.append(row)
    view = pd.DataFrame(rows)
    return styled(view, {"Default": "{:g}", **{r.name: "{:g}" for r in lab.results}})


def sources() -> Styler:
    """Where each default comes from."""
    view = pd.DataFrame(
        [{"Assumption": s.label, "What it means": s.meaning, "Where the default comes from": s.source} for s in A.SPECS.values()]
    )
    return styled(view)


def activity_rates(values: dict) -> Styler:
    rates = values["activity_rates"]
    view = pd.DataFrame({"Activity": [k.replace("_", " ") for k in rates], "Events per member per month": list(rates.values())})
    return styled(view, {"Events per member per month": "{:g}"})


def sensitivity(r: DesignResult) -> Styler:
    """The tornado chart's numbers: each assumption at its low and high value."""
    from .figures import _short

    sens = r.sensitivity
    view = pd.DataFrame(
        {
            "Assumption": sens["assumption"],
            "Low value": [_short(v, p) for v, p in zip(sens["low_value"], sens["parameter"])],
            "High value": [_short(v, p) for v, p in zip(sens["high_value"], sens["parameter"])],
            "ROI at low": sens["roi_low"],
            "ROI at high": sens["roi_high"],
        }
    )
    return styled(view, {"ROI at low": "{:+.0%}", "ROI at high": "{:+.0%}"})
