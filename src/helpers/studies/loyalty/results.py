"""From simulations to answers: ROI with intervals, break-even lift, sensitivity, segments.

Money is scaled from the simulated customers to the whole base (``base.scale``), except
the fixed costs, which are charged once. Definitions (also listed on the pages):

- incremental revenue = design-arm revenue - baseline revenue (same draws);
  incremental margin = gross margin x incremental revenue (revenue at list price;
  discounts are a cost);
- programme cost = rewards redeemed (points x point value x reward cost ratio) + tier and
  member benefits (discounts, shipping, returns, early access and other services) +
  trigger rewards + per-member and enrolment costs + fixed costs + the expected cost of
  the points still outstanding at the horizon (outstanding x point value x reward cost
  ratio x ``outstanding_redeemed_share``);
- profit = incremental margin - programme cost; ROI = profit / programme cost;
- intervals are the 2.5th and 97.5th percentiles across simulation runs of the whole-base
  totals. When a sample of n of the base's N customers is simulated, a run's total is scaled
  as if every customer had been simulated: its mean across runs by N / n, its deviation from
  that mean by sqrt(N / n) (independent customers: the spread of a sum grows with the square
  root of the number of customers). Scaling each run by N / n would inflate the spread by
  sqrt(N / n). So the interval covers the run-to-run randomness of the base's customers'
  behaviour given the models and assumptions; not the uncertainty in the behavioural
  assumptions (that is the sensitivity chart), in the fitted population parameters, or in
  which customers were sampled;
- break-even lift: the single uniform frequency lift of members (in place of every lift
  assumption) at which the expected profit is zero, found by bracketed secant steps on
  seeded simulations (common random numbers make profit a smooth function of the lift).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from helpers.memo import shared
from helpers.report.i18n import text
from helpers.studies.loyalty import assumptions as A
from helpers.studies.loyalty.base import CustomerBase
from helpers.studies.loyalty.design import Design
from helpers.studies.loyalty.engine import SimResult, SimSettings, simulate

#: Percentiles of the interval across simulation runs.
INTERVAL = (2.5, 97.5)
#: Break-even search: largest lift tried, tolerance on profit (share of cost) and on the lift, steps.
MAX_LIFT = 2.0
BREAK_EVEN_TOL = 0.005
BREAK_EVEN_LIFT_TOL = 0.002
BREAK_EVEN_STEPS = 8
#: Gross-margin bar of the sensitivity chart: +/- this many points.
MARGIN_SWING = 0.05

BENEFIT_COSTS = ("discount_cost", "shipping_cost", "returns_cost", "tier_service_cost")
MEMBER_COSTS = ("member_cost", "enrolment_cost")


@dataclass
class BreakEven:
    """The uniform lift at which a design pays for itself (None: not within 0..MAX_LIFT)."""

    lift: float | None
    profit_at_lift: float
    cost_at_lift: float
    evaluations: list = field(default_factory=list)  # (lift, expected profit) pairs tried
    note: str = ""  # why there is no lift (English, for the exported metrics)
    reason: str = ""  # the same as a key of the catalog ``loyalty.break_even.reason``: pays_anyway, no_gain, max_lift
    max_lift: float = MAX_LIFT  # the largest lift tried


@dataclass
class DesignResult:
    """Everything the pages show about one design."""

    design: Design
    sim: SimResult
    gross_margin: float
    scale: float
    runs: pd.DataFrame  # one row per simulation run, money scaled to the base
    summary: pd.DataFrame  # metric x (mean, low, high)
    monthly: pd.DataFrame  # mean per month, scaled
    tiers: pd.DataFrame  # mean members by level per month, scaled
    segments: pd.DataFrame
    break_even: BreakEven | None = None
    sensitivity: pd.DataFrame | None = None

    def metric(self, name: str, stat: str = "mean") -> float:
        return float(self.summary.loc[name, stat])

    @property
    def name(self) -> str:
        return self.design.name

    def display_name(self, language: str = "en") -> str:
        """The design's name on a page in ``language``."""
        return self.design.display_name(language)


def _fixed_cost(design: Design, months: int) -> float:
    return design.costs.fixed_setup + design.costs.fixed_per_month * months


def scale_runs(values: np.ndarray, scale: float) -> np.ndarray:
    """Run totals of a sample scaled to the whole base: mean x ``scale``, deviations from the
    mean x sqrt(``scale``) (see the module notes); at scale 1 the values are unchanged."""
    values = np.asarray(values, dtype="float64")
    mean = values.mean(axis=0, keepdims=True) if values.size else values
    return mean * scale + (values - mean) * np.sqrt(scale)


def per_run(sim: SimResult, scale: float, gross_margin: float) -> pd.DataFrame:
    """One row per run: money and points over the horizon, scaled to the whole base
    (:func:`scale_runs`: the mean by ``scale``, the run-to-run noise by its square root)."""
    d, v = sim.design, sim.values
    mo = {k: scale_runs(a.sum(axis=1), scale) for k, a in sim.monthly.items()}
    months = sim.settings.horizon_months
    # columns as arrays, one frame at the end: the break-even and sensitivity searches build
    # this table dozens of times, and thirty column insertions into a small frame cost several
    # times the arithmetic
    runs: dict[str, np.ndarray] = {}
    runs["revenue_base"] = mo["revenue_base"]
    runs["revenue_design"] = mo["revenue_design"]
    runs["incremental_revenue"] = mo["revenue_design"] - mo["revenue_base"]
    runs["incremental_margin"] = gross_margin * runs["incremental_revenue"]
    runs["reward_cost"] = mo["reward_cost"]
    runs["benefit_cost"] = sum(mo[k] for k in BENEFIT_COSTS)
    for k in BENEFIT_COSTS:
        runs[k] = mo[k]
    runs["trigger_cost"] = mo["trigger_cost"]
    runs["member_cost"] = sum(mo[k] for k in MEMBER_COSTS)
    runs["fixed_cost"] = np.full(sim.settings.runs, _fixed_cost(d, months))
    outstanding = scale_runs(sim.outstanding, scale)
    runs["outstanding_points"] = outstanding
    runs["liability_face"] = outstanding * d.burn.point_value
    runs["liability_cost"] = runs["liability_face"] * d.burn.reward_cost_ratio * v["outstanding_redeemed_share"]
    runs["total_cost"] = _nan_as_zero_sum([runs[k] for k in TOTAL_COST_PARTS])
    runs["profit"] = runs["incremental_margin"] - runs["total_cost"]
    total = runs["total_cost"]
    with np.errstate(divide="ignore", invalid="ignore"):
        runs["roi"] = runs["profit"] / np.where(total > 0, total, np.nan)
        runs["points_earned"] = mo["points_earned"]
        runs["points_redeemed"] = mo["points_redeemed"]
        runs["points_expired"] = mo["points_expired"]
        earned = runs["points_earned"]
        runs["breakage_rate"] = runs["points_expired"] / np.where(earned > 0, earned, np.nan)
        runs["members"] = scale_runs(sim.monthly["members"][:, -1], scale)
        runs["subsidy_cost"] = mo["subsidy_cost"]
        runs["effective_lift"] = mo["member_purchases_design"] / mo["member_purchases_base"] - 1.0
    return pd.DataFrame(runs, index=pd.RangeIndex(sim.settings.runs, name="run"))


#: The columns the programme cost adds up, in the order they are added.
TOTAL_COST_PARTS = ("reward_cost", "benefit_cost", "trigger_cost", "member_cost", "fixed_cost", "liability_cost")


def _nan_as_zero_sum(columns: list[np.ndarray]) -> np.ndarray:
    """Row sums of the columns, a missing value counting as 0, added left to right: the same
    numbers as ``DataFrame.sum(axis=1)`` of the columns."""
    first, *rest = (np.where(np.isnan(c), 0.0, c) for c in columns)
    total = first.astype("float64")  # a copy: the first column is not added to in place
    for column in rest:
        total += column
    return total


def mean_roi(runs: pd.DataFrame) -> float:
    """ROI of the expected values, E[profit] / E[cost] (NaN without cost): the summary's ROI."""
    cost = runs["total_cost"].mean()
    return float(runs["profit"].mean() / cost) if cost > 0 else np.nan


def _margin(design: Design, gross_margin: float) -> float:
    """The design's own gross margin, else the lab's."""
    return design.gross_margin if design.gross_margin is not None else gross_margin


def interval_summary(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and percentile interval of every column; ROI's mean is E[profit] / E[cost]."""
    low, high = INTERVAL
    table = pd.DataFrame(
        {"mean": runs.mean(), "low": runs.quantile(low / 100), "high": runs.quantile(high / 100)}
    )
    table.loc["roi", "mean"] = mean_roi(runs)
    earned = runs["points_earned"].mean()
    table.loc["breakage_rate", "mean"] = runs["points_expired"].mean() / earned if earned > 0 else np.nan
    base = runs["revenue_base"].mean()
    table.loc["subsidy_share", ["mean", "low", "high"]] = np.nan
    per_purchase = runs[["reward_cost", "discount_cost", "shipping_cost", "returns_cost"]].sum(axis=1).mean()
    table.loc["subsidy_share", "mean"] = runs["subsidy_cost"].mean() / per_purchase if per_purchase > 0 else np.nan
    table.loc["probability_profit", ["mean", "low", "high"]] = [float((runs["profit"] > 0).mean()), np.nan, np.nan]
    table.loc["incremental_share", ["mean", "low", "high"]] = [
        runs["incremental_revenue"].mean() / base if base else np.nan, np.nan, np.nan,
    ]
    table.index.name = "metric"
    return table


def monthly_table(sim: SimResult, scale: float) -> pd.DataFrame:
    """Mean per month across runs (scaled): revenue, members, points, costs."""
    frame = pd.DataFrame({k: a.mean(axis=0) * scale for k, a in sim.monthly.items()})
    frame.insert(0, "month", np.arange(1, sim.settings.horizon_months + 1))
    frame["points_outstanding"] = (frame["points_earned"] - frame["points_redeemed"] - frame["points_expired"]).cumsum()
    return frame


def tier_table(sim: SimResult, scale: float) -> pd.DataFrame:
    """Mean members in each level at the end of each month (scaled)."""
    names = sim.design.tier_names
    frame = pd.DataFrame(sim.tiers.mean(axis=0) * scale, columns=names)
    frame.insert(0, "month", np.arange(1, sim.settings.horizon_months + 1))
    return frame


def segment_table(sim: SimResult, base: CustomerBase, gross_margin: float) -> pd.DataFrame:
    """By value segment: members, incremental margin and variable cost (fixed costs not allocated)."""
    scale = base.scale
    d, v = sim.design, sim.values
    seg = sim.segments
    counts = base.segments.value_counts().reindex(sim.segment_labels).fillna(0).to_numpy()
    liability = seg["outstanding"].mean(0) * d.burn.point_value * d.burn.reward_cost_ratio * v["outstanding_redeemed_share"]
    inc = seg["incremental_revenue"].mean(0) * scale
    cost = (seg["variable_cost"].mean(0) + liability) * scale
    margin = gross_margin * inc
    frame = pd.DataFrame(
        {
            "segment": sim.segment_labels,
            "customers": counts * scale,
            "members": seg["members"].mean(0) * scale,
            "revenue_base": seg["revenue_base"].mean(0) * scale,
            "incremental_revenue": inc,
            "incremental_margin": margin,
            "variable_cost": cost,
            "contribution": margin - cost,
        }
    )
    frame["roi_before_fixed"] = frame["contribution"] / frame["variable_cost"].where(frame["variable_cost"] > 0)
    return frame


def summarise(sim: SimResult, base: CustomerBase, gross_margin: float) -> DesignResult:
    """Scaled per-run results, intervals, monthly and tier tables, segments."""
    gm = _margin(sim.design, gross_margin)
    runs = per_run(sim, base.scale, gm)
    return DesignResult(
        design=sim.design,
        sim=sim,
        gross_margin=gm,
        scale=base.scale,
        runs=runs,
        summary=interval_summary(runs),
        monthly=monthly_table(sim, base.scale),
        tiers=tier_table(sim, base.scale),
        segments=segment_table(sim, base, gm),
    )


# ------------------------------------------------------------------------- break-even


def uniform_lift(lift: float) -> dict:
    """Assumption overrides that replace every lift by one uniform member lift."""
    return {name: 0.0 for name in A.LIFT_NAMES} | {"member_lift": float(lift)}


def expected_profit(
    design: Design, base: CustomerBase, settings: SimSettings, assumptions: dict | None, gross_margin: float
) -> tuple[float, float]:
    """Mean profit and mean programme cost of one seeded simulation (the per-run table
    only: the search needs no intervals or tables)."""
    runs = per_run(simulate(design, base, settings, assumptions), base.scale, _margin(design, gross_margin))
    return float(runs["profit"].mean()), float(runs["total_cost"].mean())


def break_even_lift(
    design: Design,
    base: CustomerBase,
    settings: SimSettings,
    assumptions: dict | None = None,
    gross_margin: float = 0.3,
    *,
    tol: float = BREAK_EVEN_TOL,
    max_lift: float = MAX_LIFT,
    steps: int = BREAK_EVEN_STEPS,
) -> BreakEven:
    """Solve for the uniform member lift at which the design's expected profit is zero.

    Other assumptions (redemption, enrolment, ...) stay as given. Profit is close to
    linear in the lift, so a secant step from (0, profit at zero lift) usually lands
    next to the root; bracketing (false position, Illinois variant) keeps it safe.
    """
    def profit(lift: float) -> tuple[float, float]:
        p, c = expected_profit(design, base, settings, {**(assumptions or {}), **uniform_lift(lift)}, gross_margin)
        tried.append((float(lift), p))
        return p, c

    tried: list = []
    p0, c0 = profit(0.0)
    if p0 >= 0:
        return BreakEven(0.0, p0, c0, tried, _reason_text("pays_anyway", max_lift), "pays_anyway", max_lift)
    x, (p, c) = min(0.05, max_lift), profit(min(0.05, max_lift))
    if p <= p0:
        return BreakEven(None, p, c, tried, _reason_text("no_gain", max_lift), "no_gain", max_lift)
    lo, plo, prev, pprev = 0.0, p0, 0.0, p0
    while p < 0:  # walk up with secant steps until the profit turns positive
        if x >= max_lift:
            return BreakEven(None, p, c, tried, _reason_text("max_lift", max_lift), "max_lift", max_lift)
        lo, plo = x, p
        slope = (p - pprev) / (x - prev)
        nxt = x - p / slope if slope > 0 else 2 * x
        prev, pprev = x, p
        x = float(min(max(nxt, 1.05 * x), max_lift))
        p, c = profit(x)
    hi, phi, chi = x, p, c
    best = (hi, phi, chi)
    side = 0
    for _ in range(steps):  # false position (Illinois) inside [lo, hi]
        if abs(best[1]) <= tol * max(best[2], 1e-9) or hi - lo <= BREAK_EVEN_LIFT_TOL:
            break
        x = lo - plo * (hi - lo) / (phi - plo)
        p, c = profit(x)
        if abs(p) < abs(best[1]):
            best = (x, p, c)
        if p < 0:
            lo, plo = x, p
            if side == -1:
                phi /= 2
            side = -1
        else:
            hi, phi = x, p
            if side == 1:
                plo /= 2
            side = 1
    return BreakEven(float(best[0]), best[1], best[2], tried, max_lift=max_lift)


def _reason_text(reason: str, max_lift: float, language: str = "en") -> str:
    return text(f"loyalty.break_even.reason.{reason}", language, max_lift=f"{max_lift:.0%}")


# ------------------------------------------------------------------------ sensitivity


def sensitivity(
    design: Design,
    base: CustomerBase,
    settings: SimSettings,
    assumptions: dict | None = None,
    gross_margin: float = 0.3,
) -> pd.DataFrame:
    """ROI at the low and high value of every assumption that matters for ``design``.

    Each row changes one assumption and keeps the others; all simulations share the seed,
    so differences come from the assumption, not from noise. Returns one row per
    assumption (and gross margin), sorted by the width of the swing, widest first.
    """
    values = A.resolve(design.assumptions, assumptions)
    gm = _margin(design, gross_margin)
    central = summarise(simulate(design, base, settings, assumptions), base, gm)

    def roi(sim: SimResult, margin: float = gm) -> float:  # the summary's ROI without the rest of summarise
        return mean_roi(per_run(sim, base.scale, margin))

    rows = []
    for name, spec in A.SPECS.items():
        if not A.relevant(design, name):
            continue
        out = {"parameter": name, "assumption": spec.label, "value": values[name], "low_value": spec.low,
               "high_value": spec.high}
        for side, setting in (("low", spec.low), ("high", spec.high)):
            override = {**(assumptions or {}), name: setting}
            if name == "outstanding_redeemed_share":  # accounting only: no need to simulate again
                sim = replace(central.sim, values={**central.sim.values, name: setting})
            else:
                sim = simulate(design, base, settings, override)
            out[f"roi_{side}"] = roi(sim)
        rows.append(out)
    margin_row = {"parameter": "gross_margin", "assumption": "Gross margin", "value": gm,
                  "low_value": max(gm - MARGIN_SWING, 0.01), "high_value": min(gm + MARGIN_SWING, 1.0)}
    for side in ("low", "high"):
        margin_row[f"roi_{side}"] = roi(central.sim, margin_row[f"{side}_value"])
    rows.append(margin_row)
    frame = pd.DataFrame(rows)
    frame["roi_central"] = central.metric("roi")
    frame["swing"] = (frame["roi_high"] - frame["roi_low"]).abs()
    return frame.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


# -------------------------------------------------------------------------- the lab


@dataclass
class Lab:
    """Results of every design on one base, plus the comparison table."""

    results: list[DesignResult]
    base: CustomerBase
    settings: SimSettings
    assumptions: dict
    gross_margin: float

    @property
    def comparison(self) -> pd.DataFrame:
        return comparison_table(self.results)

    def comparison_in(self, language: str = "en") -> pd.DataFrame:
        """The comparison table with the designs' names in ``language`` (for pages)."""
        return comparison_table(self.results, language)

    @property
    def best(self) -> DesignResult:
        """The design with the highest expected profit."""
        return max(self.results, key=lambda r: r.metric("profit"))


@shared
def run_lab(
    designs: list[Design],
    base: CustomerBase,
    settings: SimSettings,
    *,
    assumptions: dict | None = None,
    gross_margin: float = 0.3,
    analysis_runs: int | None = None,
    break_even: bool = True,
    sensitivity_analysis: bool = True,
    progress=None,
) -> Lab:
    """Simulate every design; add break-even lifts and sensitivity (with ``analysis_runs`` runs)."""
    analysis = replace(settings, runs=min(analysis_runs or settings.runs, settings.runs))
    results = []
    for i, design in enumerate(designs):
        if progress:
            progress(f"{design.name}: simulating")
        res = summarise(simulate(design, base, settings, assumptions), base, gross_margin)
        if break_even:
            if progress:
                progress(f"{design.name}: break-even lift")
            res.break_even = break_even_lift(design, base, analysis, assumptions, gross_margin)
        if sensitivity_analysis:
            if progress:
                progress(f"{design.name}: sensitivity")
            res.sensitivity = sensitivity(design, base, analysis, assumptions, gross_margin)
        results.append(res)
    return Lab(results, base, settings, dict(assumptions or {}), gross_margin)


def comparison_table(results: list[DesignResult], language: str = "en") -> pd.DataFrame:
    """One row per design: the headline numbers with intervals (names in ``language``)."""
    rows = []
    for r in results:
        s = r.summary
        rows.append(
            {
                "design": r.display_name(language),
                "slug": r.design.slug,
                "roi": s.loc["roi", "mean"],
                "roi_low": s.loc["roi", "low"],
                "roi_high": s.loc["roi", "high"],
                "profit": s.loc["profit", "mean"],
                "profit_low": s.loc["profit", "low"],
                "profit_high": s.loc["profit", "high"],
                "probability_profit": s.loc["probability_profit", "mean"],
                "incremental_revenue": s.loc["incremental_revenue", "mean"],
                "incremental_margin": s.loc["incremental_margin", "mean"],
                "total_cost": s.loc["total_cost", "mean"],
                "effective_lift": s.loc["effective_lift", "mean"],
                "break_even_lift": r.break_even.lift if r.break_even else np.nan,
                "liability_face": s.loc["liability_face", "mean"],
                "breakage_rate": s.loc["breakage_rate", "mean"],
                "members": s.loc["members", "mean"],
            }
        )
    return pd.DataFrame(rows)


def metrics_dict(lab: Lab) -> dict:
    """A JSON-safe summary of the lab (for the exported metrics file)."""
    out = {
        "customers_in_base": lab.base.n_base,
        "customers_simulated": lab.base.n,
        "horizon_months": lab.settings.horizon_months,
        "runs": lab.settings.runs,
        "seed": lab.settings.seed,
        "gross_margin": lab.gross_margin,
        "purchase_model": {"name": lab.base.purchase_model.name, "params": lab.base.purchase_model.params},
        "spend_model": {"params": lab.base.spend_model.params},
        "designs": [],
    }
    for r in lab.results:
        entry = {
            "name": r.name,
            "slug": r.design.slug,
            "source": r.design.source,
            "assumptions": {k: v for k, v in r.sim.values.items()},
            "summary": {m: {k: _num(v) for k, v in row.items()} for m, row in r.summary.to_dict("index").items()},
        }
        if r.break_even:
            entry["break_even_lift"] = r.break_even.lift
            entry["break_even_note"] = r.break_even.note
        if r.sensitivity is not None:
            entry["sensitivity"] = [{k: _num(v) for k, v in row.items()} for row in r.sensitivity.to_dict("records")]
        out["designs"].append(entry)
    return out


def _num(value):
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
