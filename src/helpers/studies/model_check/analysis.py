"""Our BG/NBD, Pareto/NBD and Gamma-Gamma fits on the CDNOW 1/10 sample next to the
published ones.

Fader, Hardie & Lee (2005), "Counting your customers the easy way", Marketing Science
24(2): BG/NBD on the CDNOW 1/10 sample (2,357 customers who made their first purchase in
the first quarter of 1997), calibration period 1997-01-01 to 1997-09-30, time in weeks:
r 0.243, alpha 4.414, a 0.793, b 2.426, log-likelihood -9582.4; the Pareto/NBD on the same
data: r 0.55, alpha 10.58, s 0.61, beta 11.67, log-likelihood -9595.0. Fader, Hardie & Lee
(2005), "RFM and CLV: using iso-value curves", Journal of Marketing Research 42(4), and
Fader & Hardie's Gamma-Gamma note: on the 946 repeat buyers, p 6.25, q 3.74, gamma 15.44.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from helpers.data.datasets import load_cdnow_sample
from helpers.memo import shared
from helpers.models import lifetimes_adapter as la
from helpers.models.summary import customer_summary

CALIBRATION_END = "1997-09-30"
TIME_UNIT = "W"
FIRST_DAY = "1997-01-01"

#: (model, parameter, published value, decimals the paper reports, source key)
PUBLISHED: tuple[tuple[str, str, float, int, str], ...] = (
    ("bgnbd", "r", 0.243, 3, "fhl2005"),
    ("bgnbd", "alpha", 4.414, 3, "fhl2005"),
    ("bgnbd", "a", 0.793, 3, "fhl2005"),
    ("bgnbd", "b", 2.426, 3, "fhl2005"),
    ("bgnbd", "log_likelihood", -9582.4, 1, "fhl2005"),
    ("pareto", "r", 0.55, 2, "fhl2005"),
    ("pareto", "alpha", 10.58, 2, "fhl2005"),
    ("pareto", "s", 0.61, 2, "fhl2005"),
    ("pareto", "beta", 11.67, 2, "fhl2005"),
    ("pareto", "log_likelihood", -9595.0, 1, "fhl2005"),
    ("gamma_gamma", "p", 6.25, 2, "fh_gg"),
    ("gamma_gamma", "q", 3.74, 2, "fh_gg"),
    ("gamma_gamma", "v", 15.44, 2, "fh_gg"),
)


#: names of models and parameters as the papers write them (symbols, the same in every language)
MODEL_NAMES = {"bgnbd": "BG/NBD", "pareto": "Pareto/NBD", "gamma_gamma": "Gamma-Gamma"}
PARAMETER_SYMBOLS = {"r": "r", "alpha": "α", "a": "a", "b": "b", "s": "s", "beta": "β", "p": "p", "q": "q", "v": "γ"}


def parameter_label(parameter: str, language: str = "en") -> str:
    if parameter == "log_likelihood":
        from helpers.report.i18n import text

        return text("model_check.log_likelihood", language)
    return PARAMETER_SYMBOLS[parameter]


@dataclass
class ModelCheck:
    """The comparison table and what it was computed on."""

    table: pd.DataFrame  #: model, parameter, published, ours, difference, within_rounding
    customers: int
    repeat_buyers: int
    first_day: str
    calibration_end: str
    last_day: str

    @property
    def all_within_rounding(self) -> bool:
        return bool(self.table["within_rounding"].all())

    @property
    def rows_within_rounding(self) -> int:
        return int(self.table["within_rounding"].sum())


@shared
def check_models(data_path: str = "cdnow:sample") -> ModelCheck:
    """Fit the three models on the CDNOW 1/10 sample's calibration period, as the papers did.

    ``within_rounding``: our value rounds to the published one at the precision the paper
    reports (at most half a unit of its last decimal away); ``in_last_digits`` is the
    difference in units of that last decimal. ``data_path`` must be ``"cdnow:sample"``:
    the published numbers are fits to that sample and no other data."""
    if data_path != "cdnow:sample":
        from helpers.errors import ConfigError

        raise ConfigError(
            f"data_path {data_path!r}: the model check compares with fits published on the CDNOW 1/10 sample; "
            "use 'cdnow:sample' (run the CLV page for other data)."
        )
    transactions = load_cdnow_sample()
    summary = customer_summary(transactions, CALIBRATION_END, TIME_UNIT)
    f, r, t = summary["frequency"], summary["recency"], summary["T"]
    ours: dict[tuple[str, str], float] = {}
    for name in ("bgnbd", "pareto"):
        model = la.fit_transaction_model(name, f, r, t)
        for key, value in model.params.items():
            ours[(name, key)] = float(value)
        ours[(name, "log_likelihood")] = float(model.log_likelihood)
    spend = la.fit_gamma_gamma(f, summary["monetary_value"])
    for key, value in spend.params.items():
        ours[("gamma_gamma", key)] = float(value)
    rows = []
    for model, parameter, published, decimals, source in PUBLISHED:
        value = ours[(model, parameter)]
        difference = value - published
        unit = 10.0 ** (-decimals)
        rows.append(
            {
                "model": model, "parameter": parameter, "published": published, "ours": value,
                "difference": difference, "decimals": decimals, "source": source,
                "in_last_digits": difference / unit,
                "within_rounding": abs(difference) <= 0.5 * unit * (1 + 1e-9),
            }
        )
    table = pd.DataFrame(rows)
    return ModelCheck(
        table=table,
        customers=len(summary),
        repeat_buyers=int((summary["frequency"] > 0).sum()),
        first_day=FIRST_DAY,
        calibration_end=CALIBRATION_END,
        last_day=str(pd.Timestamp(transactions["timestamp"].max()).date()),
    )
