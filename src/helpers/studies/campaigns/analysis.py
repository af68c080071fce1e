"""Campaign readout: coupon funnel against a randomised holdout, uplift by segment, a
per-customer uplift model with a Qini curve, and personalised vs broadcast messages.

Inputs are the validated tables of :mod:`helpers.data.campaigns` (coupons, messages) and,
optionally, transactions for pre-campaign features. The statistics reuse the pilot readout
(:mod:`helpers.studies.pilot.analysis`): Welch differences, CUPED and Holm / Bonferroni.

- **Funnel** (by coupon type, segment, campaign): treated customers, redemptions, conversion
  with and without the coupon, the uplift (treatment minus holdout conversion, Welch
  interval), incremental buyers ``= uplift x treated``, coupon cost ``= redemptions x face
  value``, cost per incremental buyer, and cannibalisation: the share of redemptions by
  customers who would have bought anyway, ``1 - incremental buyers / redemptions``.
- **Uplift by segment**: CUPED-adjusted treatment minus holdout conversion per segment
  (pre-period metric: purchase days in the 365 days before the issue day), with per-segment
  and simultaneous (Bonferroni) intervals. Recommendation: *send* when the simultaneous
  interval lies above 0, *do not send* when the point estimate is at or below 0 and the
  per-segment interval lies below ``minimum_uplift``, otherwise *test again*.
- **Uplift model** (two-model "T-learner"): one ridge-penalised logistic regression of
  conversion on pre-campaign features per arm, fitted on a random 70% of customers;
  predicted uplift = P(buy | coupon) - P(buy | no coupon). On the other 30% (the model never
  saw them), customers are ranked by predicted uplift and the Qini curve
  ``Q(k) = Y_T(k) - Y_C(k) N_T(k) / N_C(k)`` (incremental buyers among the top k) is
  compared with random targeting (the straight line to ``Q(n)``).
- **Messages**: open, click and purchase rates of personalised and broadcast sends with
  Welch intervals of the difference and of the ratio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from helpers.data import campaigns as K
from helpers.data.columns import CUSTOMER_ID
from helpers.data.generator.campaigns import PurchaseDays
from helpers.errors import ConfigError
from helpers.memo import shared
from helpers.studies.pilot.analysis import (
    Effect,
    difference_in_means,
    effects_by_segment,
)

ALPHA = 0.05
#: Share of customers whose rows train the uplift model (the rest is the Qini holdout).
TRAIN_SHARE = 0.7
#: Ridge penalty of the logistic regressions (on standardised features).
RIDGE = 1.0
#: Uplift below which a segment is not worth a coupon (absolute, 0.01 = 1 point).
MINIMUM_UPLIFT = 0.01
#: Points of the Qini curve.
QINI_POINTS = 50
SEND, STOP, RETEST = "send", "do_not_send", "test_again"
FEATURES_NUMERIC = ("recency_days", "purchase_days_365", "spend_per_day_365", "tenure_days", "purchase_days_90")


# --------------------------------------------------------------------------- features


def pre_campaign_features(coupons: pd.DataFrame, transactions: pd.DataFrame | None) -> pd.DataFrame:
    """Per coupon row, what was known at the issue day: days since the last purchase day,
    purchase days in the last 365 and 90 days, spend per purchase day over 365 days and
    days since the first purchase. Without transactions (or issue dates) every feature is 0."""
    out = pd.DataFrame(0.0, index=coupons.index, columns=list(FEATURES_NUMERIC))
    if transactions is None or K.ISSUED_AT not in coupons or transactions.empty:
        return out
    ids = np.unique(np.concatenate([transactions[CUSTOMER_ID].astype(str).unique(),
                                    coupons[CUSTOMER_ID].astype(str).unique()]))
    origin = transactions["timestamp"].min().normalize()
    days = PurchaseDays.from_transactions(transactions, ids, origin)
    code = np.searchsorted(ids, coupons[CUSTOMER_ID].astype(str).to_numpy())
    day = ((coupons[K.ISSUED_AT].dt.normalize() - origin).dt.days).to_numpy(np.int64)
    ever = days.count(code, np.zeros_like(day), day)  # day offsets start at 0 (the first transaction)
    year = days.count(code, day - 365, day)
    last = days.last_before(code, day)
    first_ok = ever > 0
    base = code.astype(np.int64) * 2**20
    first_pos = np.searchsorted(days.key, base)  # the customer's first purchase day
    first = np.where(first_ok, days.key[np.minimum(first_pos, len(days.key) - 1)] - base, day)
    out["recency_days"] = np.where(last >= 0, day - last, 999).astype(float)
    out["purchase_days_365"] = year.astype(float)
    out["purchase_days_90"] = days.count(code, day - 90, day).astype(float)
    out["spend_per_day_365"] = days.spend(code, day - 365, day) / np.maximum(year, 1)
    out["tenure_days"] = np.where(first_ok, day - first, 0).astype(float)
    return out


# --------------------------------------------------------------------------- funnel


def _effect(frame: pd.DataFrame, column: str, alpha: float) -> Effect | None:
    t = frame.loc[frame[K.GROUP] == K.TREATMENT, column].to_numpy(float)
    c = frame.loc[frame[K.GROUP] == K.HOLDOUT, column].to_numpy(float)
    if len(t) < 2 or len(c) < 2:
        return None
    return difference_in_means(t, c, alpha=alpha)


def funnel(coupons: pd.DataFrame, by: str | None = None, *, alpha: float = ALPHA) -> pd.DataFrame:
    """The coupon funnel, overall (``by=None``) or by a column (coupon type, segment, campaign)."""
    if by is not None and by not in coupons:
        raise ConfigError(f"the coupons table has no column {by!r} to split the funnel by.")
    groups = [("all", coupons)] if by is None else list(coupons.groupby(by, sort=True))
    rows = []
    for name, part in groups:  # a few coupon types / segments
        treated = part[K.GROUP] == K.TREATMENT
        n_t, n_h = int(treated.sum()), int((~treated).sum())
        redeemed = int(part.loc[treated, K.REDEEMED_AT].notna().sum()) if K.REDEEMED_AT in part else np.nan
        eff = _effect(part, K.CONVERTED, alpha)
        value = part.loc[treated & part[K.REDEEMED_AT].notna(), K.COUPON_VALUE].sum() if (
            K.REDEEMED_AT in part and K.COUPON_VALUE in part) else np.nan
        row = {
            "group": str(name), "treated": n_t, "holdout": n_h, "redeemed": redeemed,
            "redemption_rate": redeemed / n_t if n_t else np.nan,
            "conversion_treated": eff.treatment_mean if eff else np.nan,
            "conversion_holdout": eff.control_mean if eff else np.nan,
            "uplift": eff.difference if eff else np.nan,
            "uplift_low": eff.ci_low if eff else np.nan, "uplift_high": eff.ci_high if eff else np.nan,
            "p_value": eff.p_value if eff else np.nan,
        }
        row["incremental_buyers"] = row["uplift"] * n_t
        if K.ORDERS in part:
            orders = _effect(part, K.ORDERS, alpha)
            row["incremental_orders"] = orders.difference * n_t if orders else np.nan
        else:
            row["incremental_orders"] = row["incremental_buyers"]
        row["coupon_cost"] = float(value)
        inc = row["incremental_orders"]
        row["cost_per_incremental_order"] = value / inc if inc and inc > 0 and not math.isnan(value) else np.nan
        row["cannibalised_share"] = (
            float(np.clip(1 - row["incremental_buyers"] / redeemed, 0, 1)) if redeemed and redeemed > 0 else np.nan
        )
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- segments


@dataclass(frozen=True)
class SegmentUplift:
    table: pd.DataFrame  # segment, n_control, n_treatment, difference, ci_low, ci_high, ..., decision
    heterogeneity_p: float
    method: str


def uplift_by_segment(coupons: pd.DataFrame, features: pd.DataFrame, *, alpha: float = ALPHA,
                      minimum_uplift: float = MINIMUM_UPLIFT) -> SegmentUplift:
    """CUPED-adjusted uplift in conversion per segment (see the module doc for the decision)."""
    segment = coupons[K.SEGMENT] if K.SEGMENT in coupons else pd.Series("all", index=coupons.index)
    pre = features["purchase_days_365"]
    frame = pd.DataFrame({
        "segment": segment.astype(str).to_numpy(),
        "group": np.where(coupons[K.GROUP] == K.TREATMENT, "treatment", "control"),
        "outcome": coupons[K.CONVERTED].astype(float).to_numpy(),
        "pre_metric": pre.to_numpy(float),
    })
    use_cuped = bool(pre.std() > 0)
    effects = effects_by_segment(frame, alpha=alpha, use_cuped=use_cuped)
    table = effects.table.copy()
    send = table["ci_low_simultaneous"] > 0
    stop = (table["difference"] <= 0) & (table["ci_high"] < minimum_uplift)
    table["decision"] = np.select([send, stop], [SEND, STOP], RETEST)
    return SegmentUplift(table, effects.heterogeneity_p, effects.method)


# --------------------------------------------------------------------------- uplift model


def _design(coupons: pd.DataFrame, features: pd.DataFrame, levels: dict[str, list[str]]) -> np.ndarray:
    parts = [np.log1p(features[list(FEATURES_NUMERIC)].to_numpy(float))]
    for col, values in levels.items():  # segment and coupon type: a few levels each
        parts.append((coupons[col].astype(str).to_numpy()[:, None] == np.array(values)[None, :]).astype(float))
    return np.hstack(parts)


def fit_logistic(x: np.ndarray, y: np.ndarray, ridge: float = RIDGE, iterations: int = 50) -> np.ndarray:
    """Ridge-penalised logistic regression by Newton's method; returns [intercept, coefficients].

    Minimises ``-loglik + ridge/2 |beta|^2`` (the intercept is not penalised).
    """
    n, k = x.shape
    design = np.hstack([np.ones((n, 1)), x])
    beta = np.zeros(k + 1)
    penalty = np.full(k + 1, float(ridge))
    penalty[0] = 0.0
    for _ in range(iterations):  # Newton steps (converges in a handful)
        p = 1.0 / (1.0 + np.exp(-(design @ beta)))
        grad = design.T @ (y - p) - penalty * beta
        hess = (design * (p * (1 - p))[:, None]).T @ design + np.diag(penalty) + 1e-9 * np.eye(k + 1)
        step = np.linalg.solve(hess, grad)
        beta = beta + step
        if np.max(np.abs(step)) < 1e-8:
            break
    return beta


def predict_logistic(beta: np.ndarray, x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(beta[0] + x @ beta[1:])))


def qini_curve(score: np.ndarray, treated: np.ndarray, outcome: np.ndarray, points: int = QINI_POINTS) -> pd.DataFrame:
    """Qini curve: targeting the top share ``k/n`` by ``score`` (ties broken by row order).

    ``qini = Y_T(k) - Y_C(k) * N_T(k) / N_C(k)`` (0 while the top k has no holdout customer);
    ``random = share * qini(n)``.
    """
    order = np.argsort(-score, kind="stable")
    t, y = treated[order].astype(float), outcome[order].astype(float)
    n_t, n_c = np.cumsum(t), np.cumsum(1 - t)
    y_t, y_c = np.cumsum(t * y), np.cumsum((1 - t) * y)
    with np.errstate(divide="ignore", invalid="ignore"):
        q = np.where(n_c > 0, y_t - y_c * n_t / np.maximum(n_c, 1), 0.0)
    n = len(order)
    k = np.unique(np.linspace(0, n, points + 1).round().astype(int))
    qk = np.concatenate([[0.0], q])[k]
    share = k / n
    return pd.DataFrame({"share": share, "customers": k, "qini": qk, "random": share * (q[-1] if n else 0.0)})


def qini_gain(curve: pd.DataFrame) -> float:
    """Area between the Qini curve and random targeting (trapezoid rule over the targeted
    share), in incremental buyers: positive when the ranking beats random."""
    diff = (curve["qini"] - curve["random"]).to_numpy()
    share = curve["share"].to_numpy()
    return float(np.sum((diff[1:] + diff[:-1]) / 2 * np.diff(share)))


@dataclass
class UpliftModel:
    curve: pd.DataFrame
    gain: float  # area between the Qini curve and random, incremental buyers
    gain_per_1000: float  # the same per 1,000 holdout-set customers
    best_share: float  # targeted share with the most incremental buyers on the holdout
    best_incremental: float
    all_incremental: float
    n_train: int
    n_test: int
    #: per coupon row: predicted uplift, and whether the row was in the test set
    scores: pd.DataFrame = field(repr=False, default_factory=pd.DataFrame)


def uplift_model(coupons: pd.DataFrame, features: pd.DataFrame, *, seed: int = 15,
                 train_share: float = TRAIN_SHARE, ridge: float = RIDGE) -> UpliftModel:
    """T-learner and its Qini curve on the customers held out of training (module doc)."""
    levels = {col: sorted(coupons[col].astype(str).unique()) for col in (K.SEGMENT, K.COUPON_TYPE) if col in coupons}
    x = _design(coupons, features, levels)
    mean, sd = x.mean(axis=0), x.std(axis=0)
    x = (x - mean) / np.where(sd > 0, sd, 1.0)
    customers = coupons[CUSTOMER_ID].astype(str)
    uniq, inverse = np.unique(customers.to_numpy(), return_inverse=True)
    in_train = (np.random.default_rng(seed).random(len(uniq)) < train_share)[inverse]
    treated = (coupons[K.GROUP] == K.TREATMENT).to_numpy()
    y = coupons[K.CONVERTED].astype(float).to_numpy()
    fits = {}
    for arm, mask in (("t", treated), ("c", ~treated)):  # two models
        rows = in_train & mask
        if rows.sum() < 10 or len(np.unique(y[rows])) < 2:
            raise ConfigError("too few customers in a group to fit the uplift model (need 10 and both outcomes).")
        fits[arm] = fit_logistic(x[rows], y[rows], ridge)
    score = predict_logistic(fits["t"], x) - predict_logistic(fits["c"], x)
    test = ~in_train
    curve = qini_curve(score[test], treated[test], y[test])
    gain = qini_gain(curve)
    best = int(curve["qini"].to_numpy().argmax())
    scores = pd.DataFrame({"predicted_uplift": score, "test": test}, index=coupons.index)
    return UpliftModel(
        curve=curve, gain=gain, gain_per_1000=gain / max(int(test.sum()), 1) * 1000,
        best_share=float(curve["share"].iloc[best]), best_incremental=float(curve["qini"].iloc[best]),
        all_incremental=float(curve["qini"].iloc[-1]), n_train=int(in_train.sum()), n_test=int(test.sum()),
        scores=scores,
    )


# --------------------------------------------------------------------------- messages


def message_experiment(messages: pd.DataFrame, *, alpha: float = ALPHA) -> pd.DataFrame:
    """Open, click and purchase rates per send: personalised minus broadcast, with intervals."""
    flags = {}
    if K.OPENED_AT in messages:
        flags["open"] = messages[K.OPENED_AT].notna()
    if K.CLICKED_AT in messages:
        flags["click"] = messages[K.CLICKED_AT].notna()
    if K.PURCHASED in messages:
        flags["purchase"] = messages[K.PURCHASED].astype(bool)
    personal = (messages[K.VARIANT] == K.PERSONALISED).to_numpy()
    rows = []
    for metric, values in flags.items():  # three metrics
        v = values.to_numpy(float)
        e = difference_in_means(v[personal], v[~personal], alpha=alpha)
        rows.append({
            "metric": metric, "personalised": e.treatment_mean, "broadcast": e.control_mean,
            "n_personalised": e.n_treatment, "n_broadcast": e.n_control,
            "difference": e.difference, "ci_low": e.ci_low, "ci_high": e.ci_high, "p_value": e.p_value,
            "ratio": e.relative + 1, "ratio_low": e.relative_ci_low + 1, "ratio_high": e.relative_ci_high + 1,
        })
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- the study


@dataclass
class CampaignStudy:
    coupons: pd.DataFrame
    overall: pd.DataFrame
    by_type: pd.DataFrame
    by_segment_funnel: pd.DataFrame
    segments: SegmentUplift
    model: UpliftModel | None
    messages: pd.DataFrame | None
    metrics: dict

    def export_table(self) -> pd.DataFrame:
        """Per coupon row: campaign, customer, segment, group, outcome and the model's predicted uplift."""
        cols = [c for c in (K.CAMPAIGN_ID, CUSTOMER_ID, K.SEGMENT, K.COUPON_TYPE, K.GROUP, K.CONVERTED)
                if c in self.coupons]
        out = self.coupons[cols].copy()
        if self.model is not None:
            out["predicted_uplift"] = self.model.scores["predicted_uplift"].round(4)
        return out


@shared
def run_campaign_study(coupons: pd.DataFrame, messages: pd.DataFrame | None = None,
                       transactions: pd.DataFrame | None = None, *, alpha: float = ALPHA, seed: int = 15,
                       minimum_uplift: float = MINIMUM_UPLIFT) -> CampaignStudy:
    features = pre_campaign_features(coupons, transactions)
    overall = funnel(coupons, alpha=alpha)
    by_type = funnel(coupons, K.COUPON_TYPE, alpha=alpha) if K.COUPON_TYPE in coupons else overall
    by_seg = funnel(coupons, K.SEGMENT, alpha=alpha) if K.SEGMENT in coupons else overall
    segments = uplift_by_segment(coupons, features, alpha=alpha, minimum_uplift=minimum_uplift)
    try:
        model = uplift_model(coupons, features, seed=seed)
    except ConfigError:
        model = None
    msg = message_experiment(messages, alpha=alpha) if messages is not None else None
    o = overall.iloc[0]
    metrics = {
        "alpha": alpha, "campaigns": int(coupons[K.CAMPAIGN_ID].nunique()), "rows": len(coupons),
        "overall": o.to_dict(), "by_coupon_type": by_type.to_dict(orient="records"),
        "by_segment": segments.table.to_dict(orient="records"), "segment_method": segments.method,
        "heterogeneity_p": segments.heterogeneity_p,
        "uplift_model": None if model is None else {
            "qini_gain": model.gain, "qini_gain_per_1000": model.gain_per_1000, "best_share": model.best_share,
            "best_incremental": model.best_incremental, "all_incremental": model.all_incremental,
            "n_train": model.n_train, "n_test": model.n_test,
        },
        "messages": None if msg is None else msg.to_dict(orient="records"),
    }
    return CampaignStudy(coupons, overall, by_type, by_seg, segments, model, msg, metrics)


def measured_uplift(study: CampaignStudy) -> dict[str, float]:
    """Measured uplift by segment (and ``"all"``) for the trigger backtest's margin."""
    return _uplift_by_segment(study.overall, study.segments)


@shared
def campaign_uplift(coupons: pd.DataFrame, transactions: pd.DataFrame | None = None, *, alpha: float = ALPHA,
                    minimum_uplift: float = MINIMUM_UPLIFT) -> dict[str, float]:
    """:func:`measured_uplift` of :func:`run_campaign_study` on the same coupons and transactions,
    from the two parts it reads (the overall funnel and the uplift by segment): the triggers page
    needs no uplift model, funnel by coupon type or message test."""
    features = pre_campaign_features(coupons, transactions)
    segments = uplift_by_segment(coupons, features, alpha=alpha, minimum_uplift=minimum_uplift)
    return _uplift_by_segment(funnel(coupons, alpha=alpha), segments)


def _uplift_by_segment(overall: pd.DataFrame, segments) -> dict[str, float]:
    out = {"all": float(overall["uplift"].iloc[0])}
    out.update({str(r.segment): float(r.difference) for r in segments.table.itertuples()})
    return out
