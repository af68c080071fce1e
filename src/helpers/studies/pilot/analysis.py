"""Reading out a pilot (A/B test) on a customer-level metric.

Everything a readout page shows, each piece usable on its own:

- :func:`srm_test`: sample-ratio-mismatch check, Pearson chi-square goodness of fit
  of the group sizes against the planned split (1 degree of freedom).
- :func:`difference_in_means`: treatment minus control with a Welch
  (unequal-variance) t interval and Welch-Satterthwaite degrees of freedom, plus the
  relative lift ``mean_t / mean_c - 1`` with a delta-method interval.
- :func:`cuped`: CUPED (Deng, Xu, Kohavi & Walker 2013): ``Y - theta (X - mean(X))``
  with ``theta = cov(Y, X) / var(X)`` estimated on both groups pooled, the adjusted
  difference and its interval, and the variance reduction
  ``1 - var(adjusted estimate) / var(raw estimate)`` (about ``rho^2``).
- :func:`bootstrap_difference`: seeded, vectorised percentile bootstrap of the
  difference in means (customers resampled within each group).
- :func:`effects_by_segment`: the effect in each segment with Holm-adjusted p-values,
  Bonferroni simultaneous intervals and Cochran's Q test of equal effects.
- :func:`sample_size`, :func:`power`, :func:`minimum_detectable_effect`,
  :func:`power_curve`: planning a two-sample comparison of means (normal
  approximation), optionally with CUPED (variance times ``1 - rho^2``).
- :func:`decide`: the roll out / extend / stop rule stated on the page.
- :func:`run_readout`: all of the above for a :class:`~helpers.data.pilot.PilotData`,
  and :func:`write_readout` for its JSON and CSV outputs.

Conventions: ``treatment`` first, then ``control``; ``alpha`` is two-sided; all
intervals are ``1 - alpha``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats

from helpers import __version__
from helpers.data.pilot import (
    CONVERTED,
    GROUP,
    NO_SEGMENT,
    OUTCOME,
    PRE_METRIC,
    SEGMENT,
    TREATMENT,
    PilotData,
)
from helpers.errors import ConfigError, SettingsModel
from helpers.files import write_text_atomic
from helpers.memo import shared
from helpers.report.exports import csv_text
from helpers.report.i18n import text

#: SRM p-value below which the split is called broken. Strict on purpose: with many
#: readouts a looser threshold would cry wolf, and a real assignment bug gives tiny p-values.
SRM_THRESHOLD = 0.001
#: Segments beyond this many (the largest kept) are pooled into OTHER_SEGMENT.
MAX_SEGMENTS = 12
OTHER_SEGMENT = "(other segments)"
#: Index cells drawn per bootstrap chunk; fixed so that a seed always gives the same draws.
BOOTSTRAP_CHUNK_CELLS = 4_000_000

READOUT_JSON = "pilot_readout.json"
SEGMENTS_CSV = "segment_effects.csv"

#: Decision codes (stable: written to the readout JSON); :func:`decision_label` words them for a page.
ROLL_OUT, EXTEND, STOP, CHECK_SPLIT = "roll out", "extend", "stop", "check the split first"
_DECISION_KEYS = {ROLL_OUT: "roll_out", EXTEND: "extend", STOP: "stop", CHECK_SPLIT: "check_split"}
#: Segment labels made by the code (not read from the file), shown in the page language.
_SEGMENT_KEYS = {OTHER_SEGMENT: "other_segments", NO_SEGMENT: "no_segment"}


def decision_label(action: str, language: str = "en") -> str:
    """A decision code (:data:`ROLL_OUT`, ...) as the page shows it: "Roll out", "全面推广"."""
    return text(f"pilot.decision.{_DECISION_KEYS[action]}", language)


def segment_label(name: str, language: str = "en") -> str:
    """A segment name for the page: the file's own labels as they are, the code's
    placeholders (:data:`OTHER_SEGMENT`, ``NO_SEGMENT``) in the page language."""
    key = _SEGMENT_KEYS.get(name)
    return text(f"pilot.data.{key}", language) if key else str(name)


# --------------------------------------------------------------------------- checks


def _alpha(alpha: Any) -> float:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 < alpha < 0.5:
        raise ConfigError(f"alpha must be a number between 0 and 0.5 (0.05 for 95% intervals), not {alpha!r}.")
    return float(alpha)


def _values(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size < 2:
        raise ConfigError(f"{name} needs at least 2 customers, got {arr.size}.")
    if not np.isfinite(arr).all():
        raise ConfigError(f"{name} contains missing or infinite values.")
    return arr


# --------------------------------------------------------------------------- SRM


@dataclass(frozen=True)
class SrmResult:
    """Sample-ratio-mismatch check of the group sizes against the planned split."""

    n_control: int
    n_treatment: int
    planned_treatment_share: float
    expected_treatment: float
    observed_treatment_share: float
    chi2: float
    p_value: float
    threshold: float

    @property
    def mismatch(self) -> bool:
        """True when the split is too far from the plan to be chance."""
        return self.p_value < self.threshold

    def to_dict(self) -> dict:
        return {**asdict(self), "mismatch": self.mismatch}


def srm_test(
    n_control: int, n_treatment: int, planned_treatment_share: float = 0.5, *, threshold: float = SRM_THRESHOLD
) -> SrmResult:
    """Pearson chi-square goodness-of-fit test of the two group sizes (1 degree of freedom).

    ``chi2 = sum((observed - expected)^2 / expected)`` over the two groups, with
    expected counts ``n * share``; p-value from the chi-square distribution.
    """
    share = planned_treatment_share
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 < share < 1.0:
        raise ConfigError(f"planned_treatment_share must be between 0 and 1 (0.5 for 50/50), not {share!r}.")
    if n_control < 0 or n_treatment < 0 or n_control + n_treatment == 0:
        raise ConfigError("group sizes must be non-negative and not both zero.")
    n = n_control + n_treatment
    exp_t, exp_c = n * share, n * (1.0 - share)
    chi2 = (n_treatment - exp_t) ** 2 / exp_t + (n_control - exp_c) ** 2 / exp_c
    return SrmResult(
        n_control=int(n_control),
        n_treatment=int(n_treatment),
        planned_treatment_share=float(share),
        expected_treatment=float(exp_t),
        observed_treatment_share=float(n_treatment / n),
        chi2=float(chi2),
        p_value=float(stats.chi2.sf(chi2, 1)),
        threshold=float(threshold),
    )


# --------------------------------------------------------------------------- effects


@dataclass(frozen=True)
class Effect:
    """Treatment minus control on one metric, absolute and relative."""

    label: str
    n_treatment: int
    n_control: int
    treatment_mean: float
    control_mean: float
    treatment_sd: float
    control_sd: float
    difference: float
    se: float
    df: float
    ci_low: float
    ci_high: float
    p_value: float
    alpha: float
    #: ``treatment_mean / control_mean - 1`` and its delta-method interval (NaN when the control mean is not above 0).
    relative: float
    relative_se: float
    relative_ci_low: float
    relative_ci_high: float

    @property
    def significant(self) -> bool:
        """The interval excludes zero (equivalently p < alpha)."""
        return self.ci_low > 0 or self.ci_high < 0

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2.0

    def to_dict(self) -> dict:
        return {**asdict(self), "significant": self.significant}


def difference_in_means(treatment: Any, control: Any, *, alpha: float = 0.05, label: str = "raw") -> Effect:
    """Welch's two-sample comparison of means, with a delta-method relative lift.

    ``se = sqrt(s_t^2/n_t + s_c^2/n_c)``; degrees of freedom by Welch-Satterthwaite;
    interval ``difference ± t_{1-alpha/2, df} se``; two-sided p-value from the same t.
    Relative lift ``r = m_t/m_c - 1`` with
    ``var(r) ≈ var(m_t)/m_c^2 + m_t^2 var(m_c)/m_c^4`` (groups independent) and a
    normal interval.
    """
    alpha = _alpha(alpha)
    t, c = _values(treatment, "the treatment group"), _values(control, "the control group")
    n_t, n_c = t.size, c.size
    m_t, m_c = float(t.mean()), float(c.mean())
    s_t, s_c = float(t.std(ddof=1)), float(c.std(ddof=1))
    v_t, v_c = s_t**2 / n_t, s_c**2 / n_c
    diff = m_t - m_c
    se = math.sqrt(v_t + v_c)
    if se > 0:
        df = (v_t + v_c) ** 2 / (v_t**2 / (n_t - 1) + v_c**2 / (n_c - 1))
        q = float(stats.t.ppf(1 - alpha / 2, df))
        p = float(2 * stats.t.sf(abs(diff) / se, df))
    else:  # every customer has the same value within each group
        df, q, p = float(n_t + n_c - 2), 0.0, (1.0 if diff == 0 else 0.0)
    z = float(stats.norm.ppf(1 - alpha / 2))
    if m_c > 0:
        rel = m_t / m_c - 1.0
        rel_se = math.sqrt(v_t / m_c**2 + m_t**2 * v_c / m_c**4)
        rel_low, rel_high = rel - z * rel_se, rel + z * rel_se
    else:
        rel = rel_se = rel_low = rel_high = float("nan")
    return Effect(
        label=label, n_treatment=n_t, n_control=n_c, treatment_mean=m_t, control_mean=m_c,
        treatment_sd=s_t, control_sd=s_c, difference=diff, se=se, df=float(df),
        ci_low=diff - q * se, ci_high=diff + q * se, p_value=p, alpha=alpha,
        relative=rel, relative_se=rel_se, relative_ci_low=rel_low, relative_ci_high=rel_high,
    )


# --------------------------------------------------------------------------- CUPED


@dataclass(frozen=True)
class CupedResult:
    """Raw and CUPED-adjusted effects on the same customers."""

    theta: float
    #: Pooled mean of the pre-period metric (the centre of the adjustment).
    pre_mean: float
    #: Pooled correlation of the pre-period metric with the outcome.
    rho: float
    raw: Effect
    adjusted: Effect
    #: ``1 - se_adjusted^2 / se_raw^2``: the share of the estimate's variance removed.
    variance_reduction: float
    #: Treatment minus control on the pre-period metric: a balance check (should be ~0).
    pre_period: Effect

    @property
    def sample_size_factor(self) -> float:
        """How many times more customers the raw comparison needs for CUPED's precision."""
        return 1.0 / (1.0 - self.variance_reduction) if self.variance_reduction < 1 else float("inf")

    def to_dict(self) -> dict:
        return {
            "theta": self.theta, "pre_mean": self.pre_mean, "rho": self.rho,
            "variance_reduction": self.variance_reduction, "sample_size_factor": self.sample_size_factor,
            "raw": self.raw.to_dict(), "adjusted": self.adjusted.to_dict(), "pre_period": self.pre_period.to_dict(),
        }


def cuped_theta(outcome: Any, pre: Any) -> float:
    """``cov(Y, X) / var(X)`` on the data given (0 when X does not vary)."""
    y, x = np.asarray(outcome, dtype=float), np.asarray(pre, dtype=float)
    var_x = float(np.var(x, ddof=1))
    if var_x <= 0:
        return 0.0
    return float(np.cov(y, x, ddof=1)[0, 1] / var_x)


def cuped(
    y_treatment: Any, x_treatment: Any, y_control: Any, x_control: Any, *, alpha: float = 0.05
) -> CupedResult:
    """CUPED with the pre-period metric ``x`` as covariate (Deng et al. 2013).

    ``theta`` is estimated on both groups pooled; each customer's outcome becomes
    ``y - theta (x - mean_pooled(x))``, and the adjusted difference is Welch's
    comparison of the adjusted outcomes. It estimates the same effect as the raw
    difference when ``x`` is measured before assignment (not affected by treatment).
    """
    y_t, x_t = _values(y_treatment, "the treatment outcome"), _values(x_treatment, "the treatment pre-period")
    y_c, x_c = _values(y_control, "the control outcome"), _values(x_control, "the control pre-period")
    if y_t.size != x_t.size or y_c.size != x_c.size:
        raise ConfigError("outcome and pre-period arrays must have one value per customer.")
    y, x = np.concatenate([y_t, y_c]), np.concatenate([x_t, x_c])
    theta = cuped_theta(y, x)
    x_bar = float(x.mean())
    raw = difference_in_means(y_t, y_c, alpha=alpha, label="raw")
    adjusted = difference_in_means(y_t - theta * (x_t - x_bar), y_c - theta * (x_c - x_bar), alpha=alpha, label="CUPED")
    sd_x, sd_y = float(x.std()), float(y.std())
    rho = float(np.corrcoef(x, y)[0, 1]) if sd_x > 0 and sd_y > 0 else 0.0
    reduction = 1.0 - adjusted.se**2 / raw.se**2 if raw.se > 0 else 0.0
    return CupedResult(
        theta=theta, pre_mean=x_bar, rho=rho, raw=raw, adjusted=adjusted, variance_reduction=float(reduction),
        pre_period=difference_in_means(x_t, x_c, alpha=alpha, label="pre-period"),
    )


# --------------------------------------------------------------------------- bootstrap


@dataclass(frozen=True)
class BootstrapResult:
    """Percentile bootstrap of the difference in means."""

    estimate: float
    ci_low: float
    ci_high: float
    se: float
    n_resamples: int
    seed: int
    alpha: float
    draws: np.ndarray = field(repr=False)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k != "draws"}


def bootstrap_difference(
    treatment: Any, control: Any, *, n_resamples: int = 2000, seed: int = 0, alpha: float = 0.05
) -> BootstrapResult:
    """Percentile interval of ``mean(treatment) - mean(control)`` by resampling customers.

    Each resample draws ``n_t`` treatment and ``n_c`` control customers with
    replacement (group sizes fixed, as in the pilot). Indices are drawn as one
    ``(resamples, customers)`` integer array per chunk of resamples, so the work is
    vectorised; chunks only bound memory (:data:`BOOTSTRAP_CHUNK_CELLS` index cells).
    """
    alpha = _alpha(alpha)
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 100:
        raise ConfigError(f"bootstrap_samples must be a whole number of at least 100, not {n_resamples!r}.")
    t, c = _values(treatment, "the treatment group"), _values(control, "the control group")
    rng = np.random.default_rng(seed)
    draws = np.empty(int(n_resamples))
    per_chunk = max(1, BOOTSTRAP_CHUNK_CELLS // (t.size + c.size))
    for start in range(0, int(n_resamples), per_chunk):  # a loop over chunks of resamples
        b = min(per_chunk, int(n_resamples) - start)
        mean_t = t[rng.integers(0, t.size, size=(b, t.size))].mean(axis=1)
        mean_c = c[rng.integers(0, c.size, size=(b, c.size))].mean(axis=1)
        draws[start : start + b] = mean_t - mean_c
    low, high = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
    return BootstrapResult(
        estimate=float(t.mean() - c.mean()), ci_low=float(low), ci_high=float(high), se=float(draws.std(ddof=1)),
        n_resamples=int(n_resamples), seed=int(seed), alpha=alpha, draws=draws,
    )


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class SegmentEffects:
    """Effects by segment, with the multiple-comparison corrections."""

    #: One row per segment (largest first): segment, n_control, n_treatment, control_mean,
    #: treatment_mean, difference, ci_low, ci_high, p_value, p_holm, ci_low_simultaneous,
    #: ci_high_simultaneous, relative, significant, significant_holm.
    table: pd.DataFrame
    method: str
    alpha: float
    #: Cochran's Q test that every segment has the same effect.
    heterogeneity_q: float
    heterogeneity_df: int
    heterogeneity_p: float
    #: Chance that at least one of the segments looks significant when none has an effect.
    false_alarm_chance: float
    #: Segments with fewer than 2 customers in a group (left out of the table).
    too_small: list[str] = field(default_factory=list)
    pooled: list[str] = field(default_factory=list)

    @property
    def n_segments(self) -> int:
        return int(len(self.table))

    def to_dict(self) -> dict:
        return {
            "method": self.method, "alpha": self.alpha, "segments": self.n_segments,
            "heterogeneity_q": self.heterogeneity_q, "heterogeneity_df": self.heterogeneity_df,
            "heterogeneity_p": self.heterogeneity_p, "false_alarm_chance": self.false_alarm_chance,
            "too_small": list(self.too_small), "pooled": list(self.pooled),
            "table": self.table.to_dict(orient="records"),
        }


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (controls the family-wise error rate)."""
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def effects_by_segment(
    frame: pd.DataFrame,
    *,
    alpha: float = 0.05,
    use_cuped: bool = True,
    max_segments: int = MAX_SEGMENTS,
) -> SegmentEffects:
    """The effect in each segment of a pilot frame (see :class:`~helpers.data.pilot.PilotData`).

    With ``use_cuped`` each segment is CUPED-adjusted with its own ``theta``. Segments
    beyond ``max_segments`` (smallest first) are pooled into one; segments with fewer than
    2 customers in a group are listed in ``too_small`` and left out. With ``m`` segments
    the table adds Holm-adjusted p-values and Bonferroni intervals at ``alpha / m``
    (all intervals hold together with probability ``1 - alpha``), and Cochran's
    ``Q = sum w_i (d_i - d_w)^2`` (``w_i = 1/se_i^2``, ``m - 1`` degrees of freedom)
    tests whether the effects differ more than chance would make them.
    """
    alpha = _alpha(alpha)
    if SEGMENT not in frame:
        raise ConfigError("the pilot has no segment column; map one with column_map {'segment': '<header>'}.")
    seg = frame[SEGMENT].astype(str)
    sizes = seg.value_counts(sort=True)
    pooled: list[str] = []
    if len(sizes) > max_segments:
        keep = list(sizes.index[: max_segments - 1])
        pooled = [str(s) for s in sizes.index[max_segments - 1 :]]
        seg = seg.where(seg.isin(keep), OTHER_SEGMENT)
    treated = (frame[GROUP] == TREATMENT).to_numpy()
    y, x = frame[OUTCOME].to_numpy(float), frame[PRE_METRIC].to_numpy(float)
    rows, too_small = [], []
    for name in seg.value_counts(sort=True).index:  # a loop over segments (few)
        inside = (seg == name).to_numpy()
        t, c = inside & treated, inside & ~treated
        if t.sum() < 2 or c.sum() < 2:
            too_small.append(str(name))
            continue
        if use_cuped:
            eff = cuped(y[t], x[t], y[c], x[c], alpha=alpha).adjusted
        else:
            eff = difference_in_means(y[t], y[c], alpha=alpha)
        rows.append((str(name), eff))
    m = len(rows)
    columns = ["segment", "n_control", "n_treatment", "control_mean", "treatment_mean", "difference", "se", "df",
               "ci_low", "ci_high", "p_value", "p_holm", "ci_low_simultaneous", "ci_high_simultaneous",
               "relative", "significant", "significant_holm"]
    if m == 0:
        return SegmentEffects(pd.DataFrame(columns=columns), "CUPED" if use_cuped else "raw", alpha,
                              float("nan"), 0, float("nan"), 0.0, too_small, pooled)
    eff = [e for _, e in rows]
    table = pd.DataFrame(
        {
            "segment": [name for name, _ in rows],
            "n_control": [e.n_control for e in eff],
            "n_treatment": [e.n_treatment for e in eff],
            "control_mean": [e.control_mean for e in eff],
            "treatment_mean": [e.treatment_mean for e in eff],
            "difference": [e.difference for e in eff],
            "se": [e.se for e in eff],
            "df": [e.df for e in eff],
            "ci_low": [e.ci_low for e in eff],
            "ci_high": [e.ci_high for e in eff],
            "p_value": [e.p_value for e in eff],
            "relative": [e.relative for e in eff],
        }
    )
    table["p_holm"] = holm(table["p_value"].to_numpy())
    q = stats.t.ppf(1 - alpha / (2 * m), table["df"].to_numpy())
    table["ci_low_simultaneous"] = table["difference"] - q * table["se"]
    table["ci_high_simultaneous"] = table["difference"] + q * table["se"]
    table["significant"] = table["p_value"] < alpha
    table["significant_holm"] = table["p_holm"] < alpha
    se = table["se"].to_numpy()
    if m > 1 and (se > 0).all():
        w = 1.0 / se**2
        d = table["difference"].to_numpy()
        q_stat = float(np.sum(w * (d - np.sum(w * d) / np.sum(w)) ** 2))
        q_p = float(stats.chi2.sf(q_stat, m - 1))
    else:
        q_stat, q_p = float("nan"), float("nan")
    return SegmentEffects(
        table=table[columns], method="CUPED" if use_cuped else "raw", alpha=alpha,
        heterogeneity_q=q_stat, heterogeneity_df=m - 1, heterogeneity_p=q_p,
        false_alarm_chance=float(1 - (1 - alpha) ** m), too_small=too_small, pooled=pooled,
    )


# --------------------------------------------------------------------------- power


@dataclass(frozen=True)
class SampleSize:
    """Customers needed to detect an effect of ``delta`` with the given power."""

    n_control: int
    n_treatment: int
    delta: float
    sd: float
    alpha: float
    power: float
    treatment_share: float
    rho: float

    @property
    def n_total(self) -> int:
        return self.n_control + self.n_treatment

    def to_dict(self) -> dict:
        return {**asdict(self), "n_total": self.n_total}


def _check_plan(alpha: Any, power_: Any, share: Any, rho: Any, sd: Any) -> None:
    _alpha(alpha)
    if isinstance(power_, bool) or not isinstance(power_, (int, float)) or not 0.5 <= power_ < 1.0:
        raise ConfigError(f"power must be at least 0.5 and below 1 (0.8 for 80%), not {power_!r}.")
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0.0 < share < 1.0:
        raise ConfigError(f"the treatment share must be between 0 and 1, not {share!r}.")
    if isinstance(rho, bool) or not isinstance(rho, (int, float)) or not -1.0 < rho < 1.0:
        raise ConfigError(f"rho must be strictly between -1 and 1, not {rho!r}.")
    if not (isinstance(sd, (int, float)) and math.isfinite(sd) and sd > 0):
        raise ConfigError(f"the standard deviation must be above 0, not {sd!r}.")


def sample_size(
    baseline_mean: float,
    sd: float,
    relative_mde: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    treatment_share: float = 0.5,
    rho: float = 0.0,
) -> SampleSize:
    """Customers per group for a two-sided two-sample test of means (normal approximation).

    With ``delta = relative_mde * baseline_mean``, treatment share ``p`` and the
    outcome's standard deviation ``sd`` (the same in both groups),
    ``N = (z_{1-alpha/2} + z_{power})^2 sd^2 (1 - rho^2) / (delta^2 p (1 - p))``
    customers in total, ``ceil(N p)`` treated and ``ceil(N (1 - p))`` control. For a
    50/50 split and ``rho = 0`` that is ``2 (z_{1-alpha/2} + z_{power})^2 sd^2 / delta^2``
    per group. ``rho`` is the pre-period correlation CUPED will exploit (0 without CUPED).
    """
    _check_plan(alpha, power, treatment_share, rho, sd)
    if not (isinstance(baseline_mean, (int, float)) and baseline_mean > 0):
        raise ConfigError(f"the baseline mean must be above 0, not {baseline_mean!r}.")
    if isinstance(relative_mde, bool) or not isinstance(relative_mde, (int, float)) or not relative_mde > 0:
        raise ConfigError(f"the minimum detectable lift must be above 0 (0.05 for +5%), not {relative_mde!r}.")
    delta = relative_mde * baseline_mean
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    total = z**2 * sd**2 * (1 - rho**2) / (delta**2 * treatment_share * (1 - treatment_share))
    return SampleSize(
        n_control=int(math.ceil(total * (1 - treatment_share) - 1e-9)),
        n_treatment=int(math.ceil(total * treatment_share - 1e-9)),
        delta=float(delta), sd=float(sd), alpha=float(alpha), power=float(power),
        treatment_share=float(treatment_share), rho=float(rho),
    )


def power(n_control: Any, n_treatment: Any, sd: float, delta: float, *, alpha: float = 0.05, rho: float = 0.0) -> Any:
    """Chance a two-sided test at ``alpha`` detects a true difference ``delta`` (normal approximation).

    ``Phi(|delta|/se - z_{1-alpha/2}) + Phi(-|delta|/se - z_{1-alpha/2})`` with
    ``se = sd sqrt(1 - rho^2) sqrt(1/n_control + 1/n_treatment)``. Arrays broadcast.
    """
    _alpha(alpha)
    z = stats.norm.ppf(1 - alpha / 2)
    se = sd * np.sqrt(1 - rho**2) * np.sqrt(1 / np.asarray(n_control, float) + 1 / np.asarray(n_treatment, float))
    shift = np.abs(delta) / se
    result = stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z)
    return float(result) if np.ndim(result) == 0 else result


def minimum_detectable_effect(
    n_control: int, n_treatment: int, sd: float, *, alpha: float = 0.05, power: float = 0.8, rho: float = 0.0
) -> float:
    """Smallest true difference detected with the given power: ``(z_{1-alpha/2} + z_power) se``."""
    _check_plan(alpha, power, 0.5, rho, sd)
    z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
    return float(z * sd * math.sqrt(1 - rho**2) * math.sqrt(1 / n_control + 1 / n_treatment))


def power_curve(
    sd: float, delta: float, *, alpha: float = 0.05, treatment_share: float = 0.5, rho: float = 0.0,
    n_total: Any = None, points: int = 60, up_to: int | None = None,
) -> pd.DataFrame:
    """Power against the total number of customers, without and with CUPED.

    Columns ``n_total``, ``power_raw`` (rho = 0) and ``power_cuped`` (the given rho).
    Without ``n_total`` the grid runs to ``up_to`` (default: 1.5 times the raw
    sample size for 90% power) on a square-root scale.
    """
    if n_total is None:
        if up_to is None:
            z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(0.9)
            up_to = int(1.5 * z**2 * sd**2 / (delta**2 * treatment_share * (1 - treatment_share))) + 10
        n_total = np.unique(np.round(np.linspace(math.sqrt(8), math.sqrt(max(up_to, 16)), points) ** 2))
    n = np.asarray(n_total, dtype=float)
    n_t, n_c = n * treatment_share, n * (1 - treatment_share)
    return pd.DataFrame(
        {
            "n_total": n.astype(int),
            "power_raw": power(n_c, n_t, sd, delta, alpha=alpha),
            "power_cuped": power(n_c, n_t, sd, delta, alpha=alpha, rho=rho),
        }
    )


# --------------------------------------------------------------------------- decision


@dataclass(frozen=True)
class Decision:
    action: str
    #: Which branch of the rule applied, in words.
    reason: str


def decide(effect: Effect, srm: SrmResult, minimum_worthwhile: float) -> Decision:
    """The rule stated on the page, applied to the headline (CUPED) effect.

    1. Split broken (SRM) -> check the split first: no decision on a broken randomisation.
    2. Whole interval above 0 -> roll out.
    3. Whole interval below 0 -> stop (the campaign hurts).
    4. Whole interval below ``minimum_worthwhile`` -> stop (even the optimistic end is too small to matter).
    5. Otherwise -> extend: the pilot cannot tell yet.
    """
    if srm.mismatch:
        return Decision(CHECK_SPLIT, "the group sizes do not match the planned split")
    if effect.ci_low > 0:
        return Decision(ROLL_OUT, "the whole interval is above zero")
    if effect.ci_high < 0:
        return Decision(STOP, "the whole interval is below zero")
    if effect.ci_high < minimum_worthwhile:
        return Decision(STOP, "the whole interval is below the smallest effect worth having")
    return Decision(EXTEND, "the interval includes both zero and effects worth having")


# --------------------------------------------------------------------------- readout


class ReadoutSettings(SettingsModel):
    """The parameters of a readout (the notebook's parameters, validated on construction)."""

    source: ClassVar[str] = "pilot settings"

    #: Two-sided significance level (0.05 for 95% intervals).
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.05
    planned_treatment_share: Annotated[float, Field(gt=0, lt=1)] = 0.5
    bootstrap_samples: Annotated[int, Field(ge=100)] = 2000
    seed: Annotated[int, Field(ge=0)] = 42
    #: Smallest relative lift worth having: the decision rule and the planning target.
    mde: Annotated[float, Field(gt=0, allow_inf_nan=False)] = 0.05
    planning_power: Annotated[float, Field(ge=0.5, lt=1)] = 0.8
    srm_threshold: Annotated[float, Field(gt=0, lt=1)] = SRM_THRESHOLD


@dataclass(frozen=True)
class Readout:
    """Everything the readout page shows."""

    settings: ReadoutSettings
    srm: SrmResult
    cuped: CupedResult
    bootstrap: BootstrapResult
    segments: SegmentEffects | None
    conversion: Effect | None
    #: Smallest effect worth having, in metric units (``mde`` times the control mean).
    minimum_worthwhile: float
    decision: Decision
    #: Next pilot: customers needed without and with CUPED.
    plan_raw: SampleSize | None
    plan_cuped: SampleSize | None
    #: This pilot's power for an effect of ``minimum_worthwhile`` (with CUPED), and the effect it could detect.
    power_now: float
    detectable_now: float
    curve: pd.DataFrame
    truth: dict | None = None

    @property
    def headline(self) -> Effect:
        """The effect the page leads with: CUPED-adjusted."""
        return self.cuped.adjusted

    @property
    def n_total(self) -> int:
        return self.srm.n_control + self.srm.n_treatment

    @property
    def truth_covered(self) -> bool | None:
        """Whether the headline interval contains the known true effect (None when unknown)."""
        if not self.truth or self.truth.get("true_effect") is None:
            return None
        return bool(self.headline.ci_low <= self.truth["true_effect"] <= self.headline.ci_high)

    def to_dict(self) -> dict:
        return _json_safe(
            {
                "package_version": __version__,
                "settings": self.settings.model_dump(),
                "decision": asdict(self.decision),
                "minimum_worthwhile": self.minimum_worthwhile,
                "srm": self.srm.to_dict(),
                "cuped": self.cuped.to_dict(),
                "bootstrap": self.bootstrap.to_dict(),
                "segments": self.segments.to_dict() if self.segments is not None else None,
                "conversion": self.conversion.to_dict() if self.conversion is not None else None,
                "plan_raw": self.plan_raw.to_dict() if self.plan_raw else None,
                "plan_cuped": self.plan_cuped.to_dict() if self.plan_cuped else None,
                "power_now": self.power_now,
                "detectable_now": self.detectable_now,
                "truth": self.truth,
                "truth_covered": self.truth_covered,
            }
        )


@shared
def run_readout(pilot: PilotData, settings: ReadoutSettings | None = None, *, truth: dict | None = None) -> Readout:
    """SRM, raw and CUPED effects, bootstrap, segments, conversion, decision and planning.

    ``truth`` (e.g. from :func:`helpers.data.pilot.generator_truth`) overrides the
    pilot's own truth; it only feeds the check shown on the page.
    """
    s = settings or ReadoutSettings()
    y_t, y_c = pilot.arrays(OUTCOME)
    x_t, x_c = pilot.arrays(PRE_METRIC)
    srm = srm_test(pilot.n_control, pilot.n_treatment, s.planned_treatment_share, threshold=s.srm_threshold)
    cup = cuped(y_t, x_t, y_c, x_c, alpha=s.alpha)
    boot = bootstrap_difference(y_t, y_c, n_resamples=s.bootstrap_samples, seed=s.seed, alpha=s.alpha)
    segments = effects_by_segment(pilot.frame, alpha=s.alpha) if pilot.has_segments else None
    conversion = None
    if pilot.has_conversion:
        conv_t, conv_c = pilot.arrays(CONVERTED)
        conversion = difference_in_means(conv_t, conv_c, alpha=s.alpha, label="conversion")

    baseline = cup.raw.control_mean
    minimum = s.mde * baseline if baseline > 0 else float("nan")
    sd = cup.raw.control_sd if cup.raw.control_sd > 0 else float(np.std(np.concatenate([y_t, y_c]), ddof=1))
    rho = min(max(cup.rho, 0.0), 0.99)
    plan_raw = plan_cuped = None
    if baseline > 0 and sd > 0:
        common = dict(alpha=s.alpha, power=s.planning_power, treatment_share=s.planned_treatment_share)
        plan_raw = sample_size(baseline, sd, s.mde, **common)
        plan_cuped = sample_size(baseline, sd, s.mde, rho=rho, **common)
    if sd > 0 and baseline > 0:
        power_now = power(srm.n_control, srm.n_treatment, sd, minimum, alpha=s.alpha, rho=rho)
        detectable = minimum_detectable_effect(srm.n_control, srm.n_treatment, sd, alpha=s.alpha,
                                               power=s.planning_power, rho=rho)
        top = max(int(1.3 * plan_raw.n_total), int(1.2 * (srm.n_control + srm.n_treatment)), 100)
        curve = power_curve(sd, minimum, alpha=s.alpha, treatment_share=s.planned_treatment_share, rho=rho, up_to=top)
    else:
        power_now, detectable = float("nan"), float("nan")
        curve = pd.DataFrame(columns=["n_total", "power_raw", "power_cuped"])
    decision = decide(cup.adjusted, srm, minimum if math.isfinite(minimum) else 0.0)
    return Readout(
        settings=s, srm=srm, cuped=cup, bootstrap=boot, segments=segments, conversion=conversion,
        minimum_worthwhile=float(minimum), decision=decision, plan_raw=plan_raw, plan_cuped=plan_cuped,
        power_now=float(power_now), detectable_now=float(detectable), curve=curve,
        truth=truth if truth is not None else pilot.truth,
    )


def write_readout(output_dir: str | Path, readout: Readout, pilot: PilotData | None = None) -> dict[str, Path]:
    """Write ``pilot_readout.json`` (every number on the page) and ``segment_effects.csv``.

    No customer-level data is written. Files are written atomically.
    """
    folder = Path(output_dir)
    folder.mkdir(parents=True, exist_ok=True)
    payload = readout.to_dict()
    if pilot is not None:
        payload["input"] = _json_safe(pilot.to_dict())
    paths = {"json": write_text_atomic(folder / READOUT_JSON, json.dumps(payload, indent=2, ensure_ascii=False))}
    if readout.segments is not None:
        csv = csv_text(readout.segments.table, float_format="%.6g")
        paths["segments"] = write_text_atomic(folder / SEGMENTS_CSV, csv)
    return paths


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return None if math.isnan(value) or math.isinf(value) else value
    return value
