"""Customer-level pilot (A/B test) data: reading, validating and simulating it.

A pilot file has one row per customer: who they are, which group they were in, a
metric from before the pilot (``pre_metric``, e.g. spend in the 90 days before) and
the outcome measured after it (``outcome``, e.g. spend in the 90 days after), plus
optionally a ``segment`` and whether the customer ``converted`` (bought at all).

- :func:`read_pilot` reads a CSV/TSV/TXT (UTF-8, UTF-8 with BOM or GBK/GB18030),
  Parquet or Excel file; :func:`pilot_from_frame` validates a DataFrame in memory.
  Headers are recognised from :data:`ALIASES` (English and Chinese) or given with a
  column map ``{canonical: header}``. Only mapped columns are read: names, phone
  numbers and anything else in the file never enter the pipeline.
- :func:`simulate_pilot` makes a pilot with a KNOWN true effect, for tests and for
  the default page when no file is given.
- :func:`generator_truth` reads the pilot truth of a ``truth.json`` written by
  :mod:`helpers.data.generator` next to its ``campaign_exposures`` table.

Every problem with a file is a :class:`~helpers.errors.DataError` naming the file,
column, spreadsheet rows (header = row 1) and values; bad parameters are
:class:`~helpers.errors.ConfigError`.
"""

from __future__ import annotations

import json
import math
import os
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from helpers.data import columns as C

# Reading files (encoding detection, delimiter sniffing, Excel/Parquet) and parsing
# numbers are shared with the transaction loader.
from helpers.data.loading import as_text as _as_text
from helpers.data.loading import read_table
from helpers.data.tables_io import TableSchema, number_values, resolve_table_columns
from helpers.errors import MAX_LISTED, ConfigError, DataError
from helpers.memo import shared
from helpers.report.i18n import text

CUSTOMER_ID = C.CUSTOMER_ID
GROUP = "group"
PRE_METRIC = "pre_metric"
OUTCOME = "outcome"
SEGMENT = "segment"
CONVERTED = "converted"

REQUIRED: tuple[str, ...] = (CUSTOMER_ID, GROUP, PRE_METRIC, OUTCOME)
OPTIONAL: tuple[str, ...] = (SEGMENT, CONVERTED)
CANONICAL: tuple[str, ...] = REQUIRED + OPTIONAL

#: Values of the ``group`` column after loading, whatever the file's labels were.
CONTROL = "control"
TREATMENT = "treatment"

#: Label given to customers whose segment cell is blank.
NO_SEGMENT = "(no segment)"

#: Header names recognised without a column map. Matching ignores case, spaces,
#: ``_``/``-``, full-width forms and a trailing unit such as "(元)".
ALIASES: dict[str, tuple[str, ...]] = {
    CUSTOMER_ID: C.ALIASES[C.CUSTOMER_ID],
    GROUP: (
        "group", "groups", "variant", "arm", "treatment_group", "test_group", "experiment_group",
        "ab_group", "cell", "bucket", "assignment",
        "组别", "分组", "组", "实验组别", "实验分组", "测试分组", "试验组别", "试点分组",
    ),
    PRE_METRIC: (
        "pre_metric", "pre_period_metric", "pre_period_spend", "pre_spend", "pre_revenue", "pre_period_revenue",
        "pre_sales", "baseline", "baseline_spend", "spend_before", "revenue_before",
        "活动前消费", "活动前金额", "活动前销售额", "实验前消费", "试点前消费", "前期消费", "基期消费", "基线消费",
    ),
    OUTCOME: (
        "outcome", "outcome_metric", "outcome_spend", "post_spend", "post_period_spend", "post_revenue",
        "post_period_revenue", "post_sales", "spend_after", "revenue_after",
        "活动后消费", "活动后金额", "活动后销售额", "活动期消费", "实验期消费", "试点期消费", "后期消费", "结果指标",
    ),
    SEGMENT: (
        "segment", "customer_segment", "member_segment", "cohort", "tier", "member_tier", "member_level",
        "分群", "客群", "人群", "细分", "客户分群", "会员分群", "会员等级", "客户等级", "分层",
    ),
    CONVERTED: (
        "converted", "conversion", "is_converted", "purchased", "has_purchase", "bought",
        "转化", "是否转化", "是否购买", "是否下单", "已转化",
    ),
}

_TRUE = {"1", "1.0", "true", "t", "yes", "y", "是", "已转化", "转化", "已购买", "购买", "有"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "否", "未转化", "未购买", "无"}


def _norm_label(value: object) -> str:
    return unicodedata.normalize("NFKC", str(value)).strip().casefold()


# --------------------------------------------------------------------------- result


@dataclass(frozen=True)
class PilotData:
    """A validated pilot: one row per customer.

    ``frame`` columns: ``customer_id`` (text), ``group`` (``"control"`` or
    ``"treatment"``), ``pre_metric`` and ``outcome`` (float), and when present
    ``segment`` (text) and ``converted`` (bool). Rows keep the file's order.
    """

    frame: pd.DataFrame
    #: The path (or label) as given, for messages and the page.
    source: str
    #: canonical column -> the file's header.
    columns: dict[str, str]
    #: The file's labels of the two groups.
    control_label: str = CONTROL
    treatment_label: str = TREATMENT
    rows_read: int = 0
    blank_rows: int = 0
    #: Headers that were not mapped and therefore never read.
    ignored_columns: list[str] = field(default_factory=list)
    encoding: str | None = None
    #: The known truth of a simulated or generated pilot (see :func:`simulate_pilot`), else None.
    truth: dict | None = None

    @property
    def n_control(self) -> int:
        return int((self.frame[GROUP] == CONTROL).sum())

    @property
    def n_treatment(self) -> int:
        return int((self.frame[GROUP] == TREATMENT).sum())

    @property
    def has_segments(self) -> bool:
        return SEGMENT in self.frame

    @property
    def has_conversion(self) -> bool:
        return CONVERTED in self.frame

    @property
    def is_simulated(self) -> bool:
        return bool(self.truth) and self.truth.get("kind") == "simulated"

    def arrays(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """``(treatment values, control values)`` of one column as float arrays."""
        treated = (self.frame[GROUP] == TREATMENT).to_numpy()
        values = self.frame[column].to_numpy(dtype=float)
        return values[treated], values[~treated]

    def quality_frame(self, language: str = "en") -> pd.DataFrame:
        """A small (what, rows) table for the page, labelled in ``language``."""
        lines = [
            (text("pilot.data.quality.rows_read", language), self.rows_read),
            (text("pilot.data.quality.blank_rows", language), self.blank_rows),
            (text("pilot.data.quality.control", language, label=self.control_label), self.n_control),
            (text("pilot.data.quality.treatment", language, label=self.treatment_label), self.n_treatment),
        ]
        if self.has_segments:
            lines.append((text("pilot.data.quality.segments", language), int(self.frame[SEGMENT].nunique())))
        return pd.DataFrame(lines, columns=["reason", "rows"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe description of the input (no customer-level data)."""
        return {
            "source": self.source,
            "columns": dict(self.columns),
            "control_label": self.control_label,
            "treatment_label": self.treatment_label,
            "rows_read": int(self.rows_read),
            "blank_rows": int(self.blank_rows),
            "customers": int(len(self.frame)),
            "control": self.n_control,
            "treatment": self.n_treatment,
            "ignored_columns": list(self.ignored_columns),
            "encoding": self.encoding,
            "truth": self.truth,
        }


# --------------------------------------------------------------------------- columns


#: The pilot file's columns for the shared header matching of :mod:`helpers.data.tables_io`.
PILOT = TableSchema(
    name="pilot", parameter="data_path", map_parameter="column_map", required=REQUIRED, optional=OPTIONAL,
    aliases=ALIASES, example="data/newretail/campaign_exposures.csv",
)


def resolve_pilot_columns(
    headers: Sequence[str], column_map: Mapping[str, str] | None, *, file: str
) -> dict[str, str]:
    """Decide which header feeds each pilot column (map entries first, then aliases).

    Returns ``{canonical: header}`` for the four required columns and each optional
    column found. Raises :class:`ConfigError` for a malformed map and
    :class:`DataError` when a mapped header is absent, a required column cannot be
    found or two headers match the same column (:func:`helpers.data.tables_io.resolve_table_columns`).
    """
    return resolve_table_columns(headers, column_map, PILOT, file=file)


# --------------------------------------------------------------------------- loading


@shared
def read_pilot(
    path: str | os.PathLike[str],
    column_map: Mapping[str, str] | None = None,
    *,
    control_label: str = CONTROL,
    treatment_label: str = TREATMENT,
    allow_negative: bool = False,
    encoding: str | None = None,
    sheet: str | int | None = None,
) -> PilotData:
    """Read and validate a customer-level pilot file.

    Parameters
    ----------
    path:
        ``.csv``/``.txt``/``.tsv`` (delimiter sniffed; UTF-8, UTF-8 with BOM or
        GBK/GB18030), ``.parquet`` (file or folder) or ``.xlsx``.
    column_map:
        ``{canonical: header}`` with canonical names from :data:`CANONICAL`, for
        headers :data:`ALIASES` does not know.
    control_label, treatment_label:
        How the file labels the two groups (compared ignoring case, surrounding
        spaces and full-width forms), e.g. ``"对照组"`` and ``"实验组"``.
    allow_negative:
        Accept negative pre-period and outcome values (a metric net of refunds).
        By default a negative value is an error: revenue per customer is not below 0.
    encoding, sheet:
        As in :func:`helpers.data.loading.read_transactions`.
    """
    source = os.fspath(path) if path is not None else ""
    if not str(source).strip():
        raise ConfigError("no pilot file was given. Pass a customer-level pilot file, or use simulate_pilot().")
    # read_table raises the missing-file and cannot-open errors, naming the file
    frame, used = read_table(source, encoding=encoding, sheet=sheet)
    result = pilot_from_frame(
        frame, column_map, source=source, control_label=control_label, treatment_label=treatment_label,
        allow_negative=allow_negative,
    )
    return replace(result, encoding=used)


def pilot_from_frame(
    df: pd.DataFrame,
    column_map: Mapping[str, str] | None = None,
    *,
    source: str = "<DataFrame>",
    control_label: str = CONTROL,
    treatment_label: str = TREATMENT,
    allow_negative: bool = False,
) -> PilotData:
    """Validate a pilot table in memory (see :func:`read_pilot`).

    Row numbers in messages are the index position + 2, as if the frame were a
    spreadsheet with its header on row 1.
    """
    if not isinstance(df, pd.DataFrame):
        raise ConfigError(f"expected a pandas DataFrame, got {type(df).__name__}.")
    labels = _check_labels(control_label, treatment_label)
    headers = [str(c) for c in df.columns]
    if not headers:
        raise DataError("the input is empty (no columns)", file=source)
    if len(df) == 0:
        raise DataError("the input has a header row but no data rows", file=source,
                        hint="Check that the right file or sheet was exported.")
    mapping = resolve_pilot_columns(headers, column_map, file=source)
    raw = pd.DataFrame({c: _column(df, headers, h, source) for c, h in mapping.items()})
    blank = pd.concat([_blank(raw[c]) for c in raw.columns], axis=1).all(axis=1)
    raw = raw[~blank]
    if raw.empty:
        raise DataError("the input has no data rows (all rows are empty)", file=source)

    fail = _Failer(source, mapping)
    out = pd.DataFrame(index=raw.index)
    out[CUSTOMER_ID] = _ids(raw[CUSTOMER_ID], fail)
    out[GROUP] = _groups(raw[GROUP], labels, fail)
    for col in (PRE_METRIC, OUTCOME):
        out[col] = _numbers(raw[col], col, fail, allow_negative=allow_negative)
    if SEGMENT in raw:
        seg = _as_text(raw[SEGMENT])
        out[SEGMENT] = seg.fillna(NO_SEGMENT)
    if CONVERTED in raw:
        out[CONVERTED] = _booleans(raw[CONVERTED], fail)
    _check_both_groups(out, labels, source, mapping)
    return PilotData(
        frame=out.reset_index(drop=True),
        source=source,
        columns=mapping,
        control_label=str(control_label),
        treatment_label=str(treatment_label),
        rows_read=len(df),
        blank_rows=int(blank.sum()),
        ignored_columns=[h for h in headers if h not in mapping.values()],
    )


def _check_labels(control_label: Any, treatment_label: Any) -> dict[str, str]:
    for name, value in (("control_label", control_label), ("treatment_label", treatment_label)):
        if value is None or not str(value).strip():
            raise ConfigError(f"{name} must be the non-empty label your file uses for that group.")
    if _norm_label(control_label) == _norm_label(treatment_label):
        raise ConfigError(
            f"control_label and treatment_label are both {str(control_label)!r}; they must name different groups."
        )
    return {_norm_label(control_label): CONTROL, _norm_label(treatment_label): TREATMENT}


def _column(df: pd.DataFrame, headers: list[str], header: str, source: str) -> pd.Series:
    positions = [i for i, h in enumerate(headers) if h == header]
    if len(positions) > 1:
        raise DataError(f"the header '{header}' appears {len(positions)} times", file=source, column=header,
                        hint="Rename the duplicates or pass a column map to a unique header.")
    return df.iloc[:, positions[0]].reset_index(drop=True)


def _blank(s: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        return s.isna()
    return s.isna() | s.astype(str).str.strip().eq("")


@dataclass(frozen=True)
class _Failer:
    file: str
    mapping: dict[str, str]

    def __call__(self, problem: str, canonical: str, mask: pd.Series, values: pd.Series | None, hint: str) -> DataError:
        bad = mask[mask].index
        shown = values.loc[bad[:MAX_LISTED]].tolist() if values is not None else None
        return DataError(problem, file=self.file, column=self.mapping[canonical], rows=(bad + 2).tolist(),
                         values=shown, hint=hint)


def _ids(s: pd.Series, fail: _Failer) -> pd.Series:
    ids = _as_text(s)
    missing = ids.isna()
    if missing.any():
        raise fail("customer ids are missing", CUSTOMER_ID, missing, None,
                   "Every row of a pilot file is one customer; give each row its customer id.")
    dup = ids.duplicated(keep=False)
    if dup.any():
        raise fail(
            f"{int(ids[dup].nunique()):,} customer id(s) appear on more than one row", CUSTOMER_ID, dup, ids,
            "A pilot file has one row per customer. If the file holds several campaigns, keep one campaign's "
            "rows; if a customer was assigned twice, the assignment needs fixing before the readout.",
        )
    return ids


def _groups(s: pd.Series, labels: dict[str, str], fail: _Failer) -> pd.Series:
    text = _as_text(s)
    missing = text.isna()
    if missing.any():
        raise fail("group labels are missing", GROUP, missing, None,
                   "Every customer must be in the control or the treatment group.")
    mapped = text.map(_norm_label).map(labels)
    unknown = mapped.isna()
    if unknown.any():
        counts = text[unknown].value_counts()
        found = ", ".join(f"'{v}'" + (f" ({n:,})" if len(counts) > 1 else "") for v, n in counts.head(MAX_LISTED).items())
        if len(counts) > MAX_LISTED:
            found += f" and {len(counts) - MAX_LISTED} more"
        expected = " and ".join(f"'{k}'" for k in labels)
        raise fail(
            f"the group column has labels other than {expected}: {found}", GROUP, unknown, text,
            "Set control_label and treatment_label to the labels your file uses, or remove customers of "
            "other groups (e.g. a holdout) before the readout.",
        )
    return mapped.astype(str)


def _numbers(s: pd.Series, canonical: str, fail: _Failer, *, allow_negative: bool) -> pd.Series:
    numbers, text, missing, bad = number_values(s)
    what = "pre-period values" if canonical == PRE_METRIC else "outcome values"
    if missing.any():
        raise fail(
            f"{what} are missing", canonical, missing, None,
            "Write 0 for a customer who bought nothing in the period; drop customers whose value is unknown.",
        )
    if bad.any():
        raise fail(f"{what} are not numbers", canonical, bad, text,
                   "Numbers may use thousands separators (1,280.00) and currency signs (¥ $ 元).")
    negative = numbers < 0
    if negative.any() and not allow_negative:
        raise fail(
            f"{what} are negative", canonical, negative, numbers,
            "Revenue per customer is not below zero; check for refunds booked as negative spend. "
            "If the metric can be negative (net of refunds), pass allow_negative=True.",
        )
    return numbers.astype(float)


def _booleans(s: pd.Series, fail: _Failer) -> pd.Series:
    if pd.api.types.is_bool_dtype(s):
        return s.astype(bool)
    text = _as_text(s)
    missing = text.isna()
    if missing.any():
        raise fail("conversion flags are missing", CONVERTED, missing, None,
                   "Write 1/0 (or true/false, 是/否) for every customer, or leave the converted column unmapped.")
    norm = text.map(_norm_label)
    true, false = norm.isin(_TRUE), norm.isin(_FALSE)
    bad = ~(true | false)
    if bad.any():
        raise fail("conversion flags are not yes/no values", CONVERTED, bad, text,
                   "Accepted: 1/0, true/false, yes/no, y/n, 是/否.")
    return true


def _check_both_groups(out: pd.DataFrame, labels: dict[str, str], source: str, mapping: dict[str, str]) -> None:
    names = {v: k for k, v in labels.items()}
    counts = out[GROUP].value_counts()
    for group in (CONTROL, TREATMENT):
        if counts.get(group, 0) == 0:
            other = TREATMENT if group == CONTROL else CONTROL
            raise DataError(
                f"every customer is in the {other} group ('{names[other]}', {counts.get(other, 0):,} rows); "
                f"no customer has the {group} label '{names[group]}'",
                file=source, column=mapping[GROUP],
                hint="A readout compares two groups: export both, or set control_label/treatment_label.",
            )
        if counts.get(group, 0) < 2:
            raise DataError(
                f"the {group} group has only {counts.get(group, 0)} customer; at least 2 per group are needed "
                "to measure how much customers vary",
                file=source, column=mapping[GROUP],
            )


# --------------------------------------------------------------------------- truth files


def generator_truth(path: str | os.PathLike[str]) -> dict:
    """The pilot truth from a ``truth.json`` of :mod:`helpers.data.generator`.

    Returns ``{"kind": "generator", "true_effect": ..., ...}`` where ``true_effect``
    is the generator's sample average treatment effect (metric units per customer),
    the quantity a difference in means of ``outcome_spend`` estimates.
    """
    file = Path(path)
    try:
        truth = json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise DataError("file not found", file=str(file.resolve())) from exc
    except (OSError, ValueError) as exc:
        raise DataError(f"the truth file cannot be read as JSON ({exc})", file=str(path)) from exc
    pilot = truth.get("pilot") if isinstance(truth, dict) else None
    if not isinstance(pilot, dict) or "sample_average_treatment_effect_cny" not in pilot:
        raise DataError("the truth file has no 'pilot' section with a sample average treatment effect",
                        file=str(path), hint="Pass the truth.json written by helpers.data.generator, or leave truth_path empty.")
    return {
        "kind": "generator",
        "source": str(path),
        "campaign_id": pilot.get("campaign_id"),
        "true_effect": float(pilot["sample_average_treatment_effect_cny"]),
        "true_effect_on_treated": pilot.get("average_treatment_effect_on_treated_cny"),
        "relative_lift": pilot.get("relative_uplift_spend_per_purchase_day"),
        "mean_outcome_without_treatment": pilot.get("mean_outcome_without_treatment_cny"),
        "true_effect_on_conversion": pilot.get("true_effect_on_conversion"),
        "mechanism": pilot.get("mechanism"),
    }


# --------------------------------------------------------------------------- simulation

#: Segments of a simulated pilot, from the lightest to the heaviest spenders:
#: (label, share of customers). Customers are ranked on their latent spending level.
DEFAULT_SEGMENTS: tuple[tuple[str, float], ...] = (("light", 0.5), ("medium", 0.3), ("heavy", 0.2))


def default_segments(language: str = "en") -> tuple[tuple[str, float], ...]:
    """:data:`DEFAULT_SEGMENTS` with their labels in the page language."""
    return tuple((text(f"pilot.data.segment_{name}", language), share) for name, share in DEFAULT_SEGMENTS)


def simulate_pilot(
    n: int,
    true_effect: float,
    rho: float,
    seed: int,
    *,
    baseline_mean: float = 200.0,
    baseline_sd: float = 300.0,
    treatment_share: float = 0.5,
    purchase_share: float | None = None,
    segments: Sequence[tuple[str, float]] = DEFAULT_SEGMENTS,
    language: str = "en",
) -> PilotData:
    """A pilot with a known true effect, for tests and the default page.

    The process (all draws from ``np.random.default_rng(seed)``):

    - each customer has a latent spending level ``L ~ Gamma(k, m/k)``;
    - in each period they buy at all with probability ``purchase_share`` (``B``),
      and spend ``L * U * B`` with ``U ~ Gamma(s, 1/s)`` (mean 1), independently in the
      pre and the outcome period: ``pre = L U1 B1``, untreated outcome ``Y0 = L U2 B2``;
    - customers are assigned to treatment independently with ``treatment_share``;
      treated customers spend ``(1 + lift)`` times their untreated outcome, with
      ``lift = true_effect / baseline_mean``. Whether they buy is not affected.

    ``k`` and ``s`` are solved so that the pre-period metric and the untreated outcome
    both have mean ``baseline_mean``, standard deviation ``baseline_sd`` and
    correlation exactly ``rho`` in the population:
    ``1/k = rho cv^2`` and ``1 + 1/s = purchase_share (1 + cv^2) / (1 + rho cv^2)``
    with ``cv = baseline_sd / baseline_mean``. So the population average treatment
    effect is ``true_effect``, and CUPED should cut the variance by about ``rho^2``.
    Segments are quantiles of ``L``; their true effects ``lift * E[Y0 | segment]``
    follow from the Gamma partial expectation ``E[L; L < c] = m F(c; k + 1, m/k)``.

    Parameters
    ----------
    n: customers in the pilot (at least 20).
    true_effect: population average effect on the outcome, in metric units per customer.
    rho: correlation of the pre-period metric with the outcome, in [0, 1).
    seed: random seed.
    baseline_mean, baseline_sd: mean and standard deviation of the untreated outcome.
    treatment_share: probability that a customer is treated.
    purchase_share: share of customers who buy at all in a period. None picks the
        midpoint between the smallest share compatible with ``rho`` and 1.
    segments: ``(label, share)`` from light to heavy spenders; shares sum to 1.
        An empty sequence gives a pilot without segments.
    language: page language of the default segments' labels and of the source name.

    Returns
    -------
    PilotData
        With ``truth``: ``true_effect``, ``relative_lift``, ``rho``, ``sample_effect``
        (mean of treated minus untreated outcome over these customers),
        ``segment_effects`` and the settings.
    """
    if segments is DEFAULT_SEGMENTS:
        segments = default_segments(language)
    n, rho, cv2, pi, shares = _check_simulation(n, true_effect, rho, baseline_mean, baseline_sd, treatment_share,
                                                purchase_share, segments)
    rng = np.random.default_rng(seed)
    inv_k = rho * cv2
    inv_s = pi * (1.0 + cv2) / (1.0 + inv_k) - 1.0
    level_mean = baseline_mean / pi
    if inv_k > 0:
        k = 1.0 / inv_k
        level = rng.gamma(k, level_mean / k, n)
    else:
        k = math.inf
        level = np.full(n, level_mean)

    def noise() -> np.ndarray:
        if inv_s <= 1e-12:
            return np.ones(n)
        return rng.gamma(1.0 / inv_s, inv_s, n)

    pre = level * noise() * (rng.random(n) < pi)
    y0 = level * noise() * (rng.random(n) < pi)
    treated = rng.random(n) < treatment_share
    lift = true_effect / baseline_mean
    y1 = y0 * (1.0 + lift)
    pre, y0, y1 = (np.round(a, 2) for a in (pre, y0, y1))
    outcome = np.where(treated, y1, y0)

    frame = pd.DataFrame(
        {
            CUSTOMER_ID: np.char.add("S", np.char.zfill(np.arange(1, n + 1).astype(str), 7)),
            GROUP: np.where(treated, TREATMENT, CONTROL),
            PRE_METRIC: pre,
            OUTCOME: outcome,
        }
    )
    segment_truth: dict[str, float] = {}
    if shares:
        names = [name for name, _ in shares]
        edges = np.cumsum([0.0] + [share for _, share in shares])
        edges[-1] = 1.0
        if math.isinf(k):  # no spread in levels: segments are random labels of equal customers
            codes = np.searchsorted(edges[1:-1], rng.random(n), side="right")
            segment_truth = {name: lift * baseline_mean for name in names}
        else:
            cuts = stats.gamma.ppf(edges, k, scale=level_mean / k)
            codes = np.searchsorted(cuts[1:-1], level, side="right")
            partial = stats.gamma.cdf(cuts, k + 1.0, scale=level_mean / k)  # E[L; L < c] / m
            for i, name in enumerate(names):
                share = edges[i + 1] - edges[i]
                segment_truth[name] = float(lift * pi * level_mean * (partial[i + 1] - partial[i]) / share)
        frame[SEGMENT] = np.asarray(names, dtype=object)[codes]
    frame[CONVERTED] = outcome > 0

    truth = {
        "kind": "simulated",
        "true_effect": float(true_effect),
        "relative_lift": float(lift),
        "rho": float(rho),
        "baseline_mean": float(baseline_mean),
        "baseline_sd": float(baseline_sd),
        "purchase_share": float(pi),
        "treatment_share": float(treatment_share),
        "customers": int(n),
        "seed": int(seed),
        "sample_effect": float(np.mean(y1 - y0)),
        "segment_effects": segment_truth,
        "true_effect_on_conversion": 0.0,
        "mechanism": "treated customers spend (1 + relative_lift) times their untreated outcome; "
                     "whether they buy at all is not affected",
    }
    mapping = {c: c for c in frame.columns}
    source = text("pilot.data.simulated_source", language)
    return PilotData(frame=frame, source=source, columns=mapping, rows_read=n, truth=truth)


def _check_simulation(
    n: Any, true_effect: Any, rho: Any, baseline_mean: Any, baseline_sd: Any, treatment_share: Any,
    purchase_share: Any, segments: Any,
) -> tuple[int, float, float, float, list[tuple[str, float]]]:
    def number(name: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"{name} must be a number, not {value!r}.")
        return float(value)

    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 20:
        raise ConfigError(f"a simulated pilot needs a whole number of at least 20 customers, not {n!r}.")
    rho = number("rho", rho)
    if not 0.0 <= rho < 1.0:
        raise ConfigError(f"rho (pre-period correlation) must be in [0, 1), not {rho!r}.")
    mean = number("baseline_mean", baseline_mean)
    sd = number("baseline_sd", baseline_sd)
    if mean <= 0 or sd <= 0:
        raise ConfigError("baseline_mean and baseline_sd must be above 0.")
    effect = number("true_effect", true_effect)
    if effect <= -mean:
        raise ConfigError(f"true_effect {effect!r} would make treated spend negative (baseline_mean is {mean!r}).")
    share = number("treatment_share", treatment_share)
    if not 0.0 < share < 1.0:
        raise ConfigError(f"treatment_share must be between 0 and 1, not {share!r}.")
    cv2 = (sd / mean) ** 2
    smallest = (1.0 + rho * cv2) / (1.0 + cv2)
    if purchase_share is None:
        pi = (smallest + 1.0) / 2.0
    else:
        pi = number("purchase_share", purchase_share)
        if not smallest <= pi <= 1.0:
            raise ConfigError(
                f"purchase_share {pi!r} cannot give a correlation of {rho} with a standard deviation of {sd} "
                f"around a mean of {mean}: it must be between {smallest:.3f} and 1 (or None to choose)."
            )
    shares = [(str(name), float(s)) for name, s in segments]
    if shares:
        if any(s <= 0 for _, s in shares) or abs(sum(s for _, s in shares) - 1.0) > 1e-9:
            raise ConfigError(f"segment shares must be above 0 and sum to 1, not {shares!r}.")
        if len({name for name, _ in shares}) != len(shares):
            raise ConfigError(f"segment labels must be different, not {[n for n, _ in shares]!r}.")
    return int(n), rho, cv2, pi, shares
