"""The customer base a loyalty design is simulated on.

:func:`fit_base` turns transactions into what the simulation needs: each customer's
history in lifetimes' conventions, the fitted purchase and spend models (fitted on every
customer, through :mod:`helpers.studies.clv.analysis` and :mod:`helpers.models.lifetimes_adapter`), value
segments, and, when the data has ``channel`` or ``category`` columns, each customer's
share of spend by channel and category (for channel/category points multipliers).
The simulation may run on a random sample of customers; totals are then scaled up to
the whole base (:attr:`CustomerBase.scale`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.data.columns import AMOUNT, CATEGORY, CHANNEL, CUSTOMER_ID
from helpers.errors import DataError
from helpers.memo import shared
from helpers.models import lifetimes_adapter as la
from helpers.models.summary import DAYS_PER_UNIT, customer_summary, normalise_time_unit
from helpers.report.i18n import text
from helpers.studies.clv import analysis as clv

#: Value segments, most valuable first: key of the catalog ``loyalty.segment`` and share of customers.
SEGMENT_KEYS: tuple[tuple[str, float], ...] = (("high", 0.2), ("middle", 0.3), ("low", 0.5))
#: Value segments: label (English; the value in the data and the exports) and share of customers.
SEGMENTS: tuple[tuple[str, float], ...] = tuple(
    (text(f"loyalty.segment.{key}"), share) for key, share in SEGMENT_KEYS
)
_SEGMENT_KEY = {label: key for (label, _), (key, _) in zip(SEGMENTS, SEGMENT_KEYS)}


def segment_label(label: str, language: str = "en") -> str:
    """A value segment's label (as in :data:`SEGMENTS`) in ``language``."""
    key = _SEGMENT_KEY.get(label)
    return text(f"loyalty.segment.{key}", language) if key else label


@dataclass
class CustomerBase:
    """Customers to simulate, the fitted models and what the rules need to know about them."""

    summary: pd.DataFrame  # simulated customers: frequency, recency, T, monetary_value (index customer_id)
    purchase_model: la.FittedModel
    spend_model: la.FittedModel
    unit_days: float  # days per model time unit
    n_base: int  # customers in the whole base (results are scaled to it)
    segments: pd.Series  # value segment of each simulated customer (same index)
    p_alive: np.ndarray  # P(alive) of each simulated customer
    channel_shares: pd.DataFrame | None = None  # spend share by channel (rows add to 1)
    category_shares: pd.DataFrame | None = None
    data_source: str = ""

    @property
    def n(self) -> int:
        return len(self.summary)

    @property
    def scale(self) -> float:
        """Customers in the base per simulated customer."""
        return self.n_base / max(self.n, 1)

    @property
    def month_units(self) -> float:
        """Model time units in one month (30 days)."""
        return clv.DAYS_PER_MONTH / self.unit_days

    @property
    def segment_labels(self) -> list[str]:
        present = set(self.segments.dropna().unique())
        return [label for label, _ in SEGMENTS if label in present]


def value_segments(values: np.ndarray) -> np.ndarray:
    """Label customers by rank of predicted value: top 20%, next 30%, bottom 50% (ties by order)."""
    values = np.asarray(values, "float64")
    order = np.argsort(-values, kind="stable")
    labels = np.empty(len(values), dtype=object)
    start = 0
    for i, (label, share) in enumerate(SEGMENTS):
        stop = len(values) if i == len(SEGMENTS) - 1 else start + int(round(share * len(values)))
        labels[order[start:stop]] = label
        start = stop
    return labels


def spend_shares(transactions: pd.DataFrame, column: str) -> pd.DataFrame | None:
    """Each customer's share of positive spend by ``column`` (None when the column is absent)."""
    if column not in transactions or AMOUNT not in transactions:
        return None
    tx = transactions[[CUSTOMER_ID, column, AMOUNT]]
    tx = tx[(tx[AMOUNT] > 0) & tx[column].notna()]
    if tx.empty:
        return None
    spend = tx.groupby([CUSTOMER_ID, tx[column].astype(str)], observed=True)[AMOUNT].sum().unstack(fill_value=0.0)
    return spend.div(spend.sum(axis=1), axis=0)


def build_base(
    full: pd.DataFrame,
    purchase_model: la.FittedModel,
    spend_model: la.FittedModel,
    *,
    time_unit: str,
    horizon_months: int = 12,
    customers: int = 0,
    seed: int = 0,
    transactions: pd.DataFrame | None = None,
    data_source: str = "",
) -> CustomerBase:
    """A base from a full-period summary and models fitted on it; ``customers`` > 0 samples that many."""
    if full.empty:
        raise DataError("there are no customers to simulate")
    unit_days = DAYS_PER_UNIT[normalise_time_unit(time_unit)]
    f, r, t, m = (full[c].to_numpy("float64") for c in ("frequency", "recency", "T", "monetary_value"))
    horizon = horizon_months * clv.DAYS_PER_MONTH / unit_days
    value = la.expected_purchases(purchase_model, horizon, f, r, t) * la.expected_spend(spend_model, f, m)
    segments = pd.Series(value_segments(np.nan_to_num(value)), index=full.index, name="segment")
    chosen = full
    if 0 < customers < len(full):
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(len(full), size=customers, replace=False))
        chosen = full.iloc[idx]
    p_alive = la.probability_alive(
        purchase_model, chosen["frequency"], chosen["recency"], chosen["T"]
    )
    shares = {}
    for column in (CHANNEL, CATEGORY):
        table = spend_shares(transactions, column) if transactions is not None else None
        shares[column] = table.reindex(chosen.index) if table is not None else None
    return CustomerBase(
        summary=chosen[["frequency", "recency", "T", "monetary_value"]].copy(),
        purchase_model=purchase_model,
        spend_model=spend_model,
        unit_days=unit_days,
        n_base=len(full),
        segments=segments.reindex(chosen.index),
        p_alive=p_alive,
        channel_shares=shares[CHANNEL],
        category_shares=shares[CATEGORY],
        data_source=data_source,
    )


@shared
def fit_base(
    transactions: pd.DataFrame,
    *,
    observation_end: str | None = None,
    time_unit: str = "W",
    model: str = "bgnbd",
    penalizer: float = 0.0,
    horizon_months: int = 12,
    customers: int = 0,
    seed: int = 0,
    data_source: str = "",
) -> CustomerBase:
    """Fit the purchase model (``bgnbd``, ``mbgnbd`` or ``pareto``) and Gamma-Gamma on every
    customer up to ``observation_end`` and return the base to simulate (``customers`` > 0:
    a seeded random sample of that many customers; totals are scaled to the whole base)."""
    full = customer_summary(transactions, observation_end, time_unit)
    purchase_model = clv.fit_purchase_model(full, model, penalizer)
    spend_model = la.fit_gamma_gamma(full["frequency"], full["monetary_value"], penalizer=penalizer)
    return build_base(
        full, purchase_model, spend_model, time_unit=time_unit, horizon_months=horizon_months,
        customers=customers, seed=seed, transactions=transactions, data_source=data_source,
    )


def base_from_study(study, transactions: pd.DataFrame | None = None, *, customers: int = 0, seed: int = 0) -> CustomerBase:
    """A base from a finished :class:`helpers.studies.clv.study.ClvStudy` (its full-period models)."""
    s = study.settings
    return build_base(
        study.summary, study.purchase_model, study.spend_model, time_unit=s.time_unit,
        horizon_months=s.horizon_months, customers=customers, seed=seed, transactions=transactions,
        data_source=study.metrics.get("data_source", ""),
    )
