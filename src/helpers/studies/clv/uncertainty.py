"""How sure are the CLV numbers? Intervals from the fitted parameters' uncertainty.

Method (stated on the page): the purchase model's and the spend model's parameters are
drawn ``draws`` times from their estimates' asymptotic normal distribution on the log
scale, log(theta) ~ N(log(theta_hat), inverse observed information) (the same covariance
the standard errors come from), and every customer's CLV is recomputed with each draw
through the same closed forms as the point estimate (expected purchases month by month,
Gamma-Gamma expected spend, discounting, gross margin). The intervals are the draws'
quantiles: per customer, for the total, for the share held by the customers who are today's
top 10%, and for any grouping (e.g. segments).

What they cover: the uncertainty of the *expected* CLV that comes from having estimated the
models on a finite sample. They do not cover how much one customer's actual spending will
vary around its expectation (far more), nor a change in the business.

Loops run over draws and chunks of customers, never over customers.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pandas as pd

from helpers.errors import HelperError
from helpers.memo import shared
from helpers.models import fast_models
from helpers.models import lifetimes_adapter as la
from helpers.studies.clv.analysis import ClvSettings, customer_lifetime_value

#: Draws of the parameters behind the intervals on the page.
DEFAULT_DRAWS = 200
#: Coverage of the intervals on the page.
DEFAULT_LEVEL = 0.90
#: Rows of customers per chunk, bounding memory at draws x chunk floats (6.5 MB per array at
#: 200 draws); small chunks stay in cache and reuse freed memory (1M customers, CPU time of the
#: values: 20,000 rows 4.4 s, 4,096 rows 2.7 s).
CHUNK = 4096
#: Histories per chunk where only their sums are needed (see :func:`_bgnbd_block_totals`): half
#: a chunk of customers is cheaper there (1M customers, CPU time of the sums: 2,048 rows 0.32 s,
#: 4,096 rows 0.42 s, 8,192 rows 0.62 s).
HISTORY_CHUNK = 2048


@dataclass
class ClvUncertainty:
    """Draws of the headline numbers and per-customer interval bounds (in ``table`` order)."""

    draws: int
    level: float
    seed: int
    total: np.ndarray  # total CLV (margin) per draw
    top_share: np.ndarray  # share of total CLV held by today's top ``top_fraction`` customers, per draw
    top_fraction: float
    low: np.ndarray  # per-customer lower bound
    high: np.ndarray  # per-customer upper bound
    groups: pd.DataFrame | None = None  # one row per group: clv, low, high (None without groups)

    def interval(self, values: np.ndarray) -> tuple[float, float]:
        """Equal-tailed ``level`` interval of ``values`` (one value per draw)."""
        tail = (1.0 - self.level) / 2.0
        return float(np.quantile(values, tail)), float(np.quantile(values, 1.0 - tail))

    @property
    def total_interval(self) -> tuple[float, float]:
        return self.interval(self.total)

    @property
    def top_share_interval(self) -> tuple[float, float]:
        return self.interval(self.top_share)

    def to_dict(self) -> dict:
        low, high = self.total_interval
        share_low, share_high = self.top_share_interval
        return {
            "method": "parameter draws, log-scale asymptotic normal",
            "draws": self.draws, "level": self.level, "seed": self.seed,
            "clv_total_low": low, "clv_total_high": high,
            "top_share_fraction": self.top_fraction, "top_share_low": share_low, "top_share_high": share_high,
        }


def draw_parameters(model: la.FittedModel, draws: int, rng: np.random.Generator) -> list[dict[str, float]]:
    """``draws`` parameter sets from log(theta) ~ N(log(theta_hat), covariance of the log parameters)."""
    if model.log_covariance is None:
        raise HelperError(
            f"{model.label}: the parameters' covariance could not be estimated (singular information matrix), "
            "so no interval can be given."
        )
    names = list(model.params)
    centre = np.log(np.array([model.params[n] for n in names]))
    chol = np.linalg.cholesky(model.log_covariance)
    values = np.exp(centre + rng.standard_normal((draws, len(names))) @ chol.T)
    return [dict(zip(names, row)) for row in values]


def _spend(params: dict[str, np.ndarray] | dict[str, float], frequency: np.ndarray, monetary: np.ndarray) -> np.ndarray:
    """Gamma-Gamma expected spend per purchase (Fader, Hardie & Lee 2005b, eq. 5), closed form:
    a weighted mean of the population mean p v / (q - 1) and the customer's own mean.
    Parameters may be columns (one row per draw) to give every draw at once."""
    p, q, v = params["p"], params["q"], params["v"]
    weight = p * frequency / (p * frequency + q - 1.0)
    return (1.0 - weight) * (v * p / (q - 1.0)) + weight * monetary


@shared
def clv_uncertainty(
    table: pd.DataFrame,
    purchase_model: la.FittedModel,
    spend_model: la.FittedModel,
    settings: ClvSettings,
    *,
    draws: int = DEFAULT_DRAWS,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
    top_fraction: float = 0.10,
    groups: pd.Series | None = None,
    customer_bounds: bool = True,
) -> ClvUncertainty:
    """Intervals for every customer's CLV, the total, the top-share and each group's sum.

    ``table`` is :func:`helpers.studies.clv.analysis.clv_table`'s output (its ``clv`` column
    picks today's top customers); ``groups`` (same index) labels customers for group sums.
    Spend draws with q <= 1 (no finite mean spend) are redrawn. ``customer_bounds=False``
    skips the per-customer bounds (``low`` and ``high`` are then NaN): sorting every
    customer's draws costs more than all the sums, and group intervals do not need it; under
    BG/NBD the sums then come by history, without any customer's values
    (:func:`_bgnbd_block_totals`), equal to the per-customer sums up to rounding.
    """
    rng = np.random.default_rng(seed)
    purchase_draws = draw_parameters(purchase_model, draws, rng)
    spend_draws: list[dict[str, float]] = []
    while len(spend_draws) < draws:
        spend_draws += [d for d in draw_parameters(spend_model, draws, rng) if d["q"] > 1.0]
    spend_draws = spend_draws[:draws]

    n = len(table)
    columns = tuple(table[c].to_numpy("float64") for c in ("frequency", "recency", "T", "monetary_value"))
    point = table["clv"].to_numpy("float64")
    top_n = max(int(np.ceil(top_fraction * n)), 1)
    top = np.zeros(n, dtype=bool)
    top[np.argsort(-point, kind="stable")[:top_n]] = True
    if groups is not None:
        codes, labels = pd.factorize(groups.reindex(table.index), sort=True)
    else:
        codes, labels = np.zeros(n, dtype=int), pd.Index([])
    n_groups = max(len(labels), 1)
    key = codes * 2 + top
    tail = (1.0 - level) / 2.0
    if customer_bounds or purchase_model.name != "bgnbd":
        models = [la.with_params(purchase_model, d) for d in purchase_draws]
        block_key, block_total, low, high = _customer_draws(
            key, columns, models, spend_draws, settings, [tail, 1.0 - tail] if customer_bounds else None)
    else:
        block_key, block_total = _bgnbd_block_totals(key, columns, purchase_draws, spend_draws, settings)
        low, high = np.full(n, np.nan), np.full(n, np.nan)
    total = block_total.sum(axis=0)
    top_total = block_total[block_key % 2 == 1].sum(axis=0)
    group_total = np.stack([block_total[block_key // 2 == g].sum(axis=0) for g in range(n_groups)], axis=1)
    share = np.divide(top_total, total, out=np.zeros(draws), where=total > 0)
    group_frame = None
    if groups is not None:
        # grouped by the codes as an array: a grouping Series would make pandas look its name
        # up in the customer index, hashing a million ids (0.6 s) for nothing
        point_by_group = pd.Series(point).groupby(codes).sum()
        group_frame = pd.DataFrame(
            {
                "clv": point_by_group.reindex(range(len(labels)), fill_value=0.0).to_numpy(),
                "low": np.quantile(group_total[:, : len(labels)], tail, axis=0),
                "high": np.quantile(group_total[:, : len(labels)], 1.0 - tail, axis=0),
            },
            index=pd.Index(labels, name=groups.name),
        )
    return ClvUncertainty(draws, level, seed, total, share, top_fraction, low, high, group_frame)


def _customer_draws(
    key: np.ndarray, columns: tuple[np.ndarray, ...], models: list[la.FittedModel],
    spend_draws: list[dict[str, float]], settings: ClvSettings, quantiles: list[float] | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every customer's CLV per draw, summed per key: the blocks' keys, their sums (blocks,
    draws), and each customer's bounds at ``quantiles`` (NaN without), in table order."""
    rows = _DistinctRows.of(key, *columns)
    block_total = np.zeros((len(rows.block_key), len(models)))
    low, high = np.full(len(rows.count), np.nan), np.full(len(rows.count), np.nan)
    value_of = _draw_values(models, spend_draws, settings, *(v[rows.first] for v in columns))

    def chunk(sl: slice) -> tuple:
        """The chunk's sums per block and draw, and its rows' bounds."""
        values = value_of(sl)  # (rows, draws): a row's draws are contiguous
        blocks, sums = rows.block_sums(values, sl)
        if not np.isfinite(sums).all():  # only then look for the values that are not finite
            values = np.nan_to_num(values, nan=0.0, posinf=0.0, copy=False)
            blocks, sums = rows.block_sums(values, sl)
        rows.add_repeats(sums, values, sl)
        # after the sums over rows by draw: each row's draws sorted in place (rows
        # contiguous), the bounds read off as np.quantile would interpolate them
        return blocks, sums, row_quantiles(values, quantiles) if quantiles else None

    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy releases the GIL: two chunks at once
        for sl, (blocks, sums, bounds) in zip(_chunks(len(rows.count)), pool.map(chunk, _chunks(len(rows.count)))):
            block_total[blocks] += sums  # in chunk order, as a loop would add them
            if bounds is not None:
                low[sl], high[sl] = bounds
    return rows.block_key, block_total, low[rows.of_customer], high[rows.of_customer]


def _bgnbd_block_totals(
    key: np.ndarray, columns: tuple[np.ndarray, ...], purchase_draws: list[dict[str, float]],
    spend_draws: list[dict[str, float]], settings: ClvSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """The keys' sums of their customers' CLV per draw under BG/NBD, (keys, draws), with no
    customer's values: the sums are all the group intervals need.

    A customer's value is margin x purchases(x, t_x, T) x (population part(x) + weight(x) x m)
    (Gamma-Gamma's spend as in :func:`_spend`), so the customers sharing (key, x, t_x, T) add
    up to purchases x (count x population part + weight x sum of m): only the purchases are
    computed per such history (1M customers: 525,606), and per run of histories with the same
    key and x the count and the sum of m weight them (two dot products per draw); the run's
    spend parts multiply those at the end. A customer whose m is not finite has no finite value
    in any draw, and values not finite count as zero (see :func:`_customer_draws`): left out."""
    draws = len(purchase_draws)
    key, f, r, t, m = key, *columns
    kept = np.isfinite(m)
    if not kept.all():
        key, f, r, t, m = (v[kept] for v in (key, f, r, t, m))
    histories = _DistinctRows.of(key, f, r, t)  # one row per (key, x, t_x, T), in that order
    if len(histories.count) == 0:
        return np.zeros(0, dtype=key.dtype), np.zeros((0, draws))
    weights = np.stack([histories.count.astype("float64"),
                        np.bincount(histories.of_customer, weights=m, minlength=len(histories.count))])
    key, f, r, t = (v[histories.first] for v in (key, f, r, t))
    run_start = np.flatnonzero(np.r_[True, (np.diff(key) != 0) | (np.diff(f) != 0)])
    tables = _BgnbdTables.of(purchase_draws, settings, f, r, t)

    def chunk(sl: slice) -> tuple[np.ndarray, np.ndarray]:
        """The chunk's runs and their weighted sums of purchases, (runs, 2, draws)."""
        purchases = tables.purchases(sl)
        runs, sums = _weighted_run_sums(purchases, weights, run_start, sl)
        if not np.isfinite(sums).all():  # only then look for the purchases that are not finite
            purchases = np.nan_to_num(purchases, nan=0.0, posinf=0.0, neginf=0.0, copy=False)
            runs, sums = _weighted_run_sums(purchases, weights, run_start, sl)
        return runs, sums

    run_sums = np.zeros((len(run_start), 2, draws))
    with ThreadPoolExecutor(max_workers=2) as pool:  # numpy releases the GIL: two chunks at once
        for runs, sums in pool.map(chunk, _chunks(len(histories.count), HISTORY_CHUNK)):
            run_sums[runs] += sums  # in chunk order
    population_part, weight = _spend_parts(spend_draws, f[run_start])
    by_run = population_part * run_sums[:, 0] + weight * run_sums[:, 1]
    block_start = np.flatnonzero(np.r_[True, np.diff(key[run_start]) != 0])
    return key[run_start[block_start]], np.add.reduceat(by_run, block_start, axis=0)


def _chunks(rows: int, size: int | None = None) -> list[slice]:
    """Consecutive slices of ``size`` (default :data:`CHUNK`) rows covering ``rows``."""
    size = size or CHUNK
    return [slice(start, min(start + size, rows)) for start in range(0, rows, size)]


def _pieces(starts: np.ndarray, sl: slice) -> tuple[np.ndarray, np.ndarray]:
    """The runs (beginning at the sorted ``starts``, the first at 0) met in rows ``sl``, and
    the bounds of their pieces within ``sl``, counted from its start."""
    inside = starts[(starts > sl.start) & (starts < sl.stop)]
    first = np.r_[sl.start, inside]
    return np.searchsorted(starts, first, side="right") - 1, np.r_[first, sl.stop] - sl.start


def _weighted_run_sums(
    values: np.ndarray, weights: np.ndarray, run_start: np.ndarray, sl: slice
) -> tuple[np.ndarray, np.ndarray]:
    """The runs met in rows ``sl`` and, per run, the sums of ``values`` (those rows, draws)
    weighted by each row of ``weights`` (k, all rows): (runs, k, draws)."""
    runs, bounds = _pieces(run_start, sl)
    w = weights[:, sl]
    # einsum: its own loop, not BLAS (whose threads spin on a busy machine)
    return runs, np.stack([np.einsum("kr,rd->kd", w[:, a:b], values[a:b]) for a, b in pairwise(bounds)])


@dataclass
class _DistinctRows:
    """Customers with equal (key, frequency, recency, T, monetary value) have equal draws (at
    1M customers: the 273,795 one-time buyers share 731 rows, one per age): their values and
    bounds are computed once, and the sums count each row ``count`` times.

    Rows are sorted by the key (group code x 2 + [today's top customer]), then by the history,
    so every key's rows form one block (its sums are contiguous) and rows with the same
    (frequency, recency, T) are neighbours (see :func:`_draw_values`)."""

    first: np.ndarray  # a customer of each row, (rows,)
    count: np.ndarray  # customers in each row
    of_customer: np.ndarray  # each customer's row, in table order
    block_start: np.ndarray  # first row of each block
    block_key: np.ndarray  # each block's key

    @classmethod
    def of(cls, key: np.ndarray, *columns: np.ndarray) -> _DistinctRows:
        packed = _packed_codes((key, *columns))
        order = np.argsort(packed)  # equal rows are interchangeable: no need for a stable sort
        new_key = np.ones(len(key), dtype=bool)
        new_key[1:] = np.diff(key[order]) != 0
        new_row = np.ones(len(key), dtype=bool)
        new_row[1:] = np.diff(packed[order]) != 0
        starts = np.flatnonzero(new_row)
        of_customer = np.empty(len(key), dtype=np.intp)
        of_customer[order] = np.cumsum(new_row) - 1
        block_start = np.flatnonzero(new_key[starts])
        return cls(order[starts], np.diff(np.r_[starts, len(key)]), of_customer, block_start,
                   key[order[starts[block_start]]])

    def block_sums(self, values: np.ndarray, sl: slice) -> tuple[np.ndarray, np.ndarray]:
        """The blocks met in rows ``sl`` and the sums of ``values`` (those rows) within each."""
        blocks, bounds = _pieces(self.block_start, sl)  # a few blocks: sum beats np.add.reduceat threefold
        return blocks, np.stack([values[a:b].sum(axis=0) for a, b in pairwise(bounds)])

    def add_repeats(self, sums: np.ndarray, values: np.ndarray, sl: slice) -> None:
        """Adds to ``sums`` (from :meth:`block_sums`) the rows' values for their other customers."""
        repeated = np.flatnonzero(self.count[sl] > 1)
        if len(repeated):
            block = np.searchsorted(self.block_start, repeated + sl.start, side="right") - 1
            local = block - (np.searchsorted(self.block_start, sl.start, side="right") - 1)
            np.add.at(sums, local, (self.count[sl][repeated] - 1.0)[:, None] * values[repeated])


def _packed_codes(columns: tuple[np.ndarray, ...]) -> np.ndarray:
    """One int64 per row, ordering rows as ``np.lexsort`` by ``columns`` (the first the most
    significant) would and equal exactly for equal rows (missing values equal each other and
    come first): each column's sorted dense codes in a mixed radix, the packed codes made dense
    again before a radix could overflow. A sort of one integer column and a few hash passes
    cost a third of a lexsort by five float columns (1M customers: 0.18 s against 0.45 s)."""
    packed = np.zeros(len(columns[0]), dtype=np.int64)
    size = 1
    for column in columns:
        codes, uniques = pd.factorize(column, sort=True)  # missing: -1
        radix = len(uniques) + 1
        if size * radix >= 2**62:
            packed, uniques = pd.factorize(packed, sort=True)
            size = len(uniques)
        packed = packed * radix + (codes + 1)
        size *= radix
    return packed


def row_quantiles(values: np.ndarray, quantiles: list[float]) -> np.ndarray:
    """``np.quantile(values, quantiles, axis=1)`` (linear method) for a C-ordered 2-D array of
    finite values, bit for bit: (len(quantiles), rows). ``values`` is sorted within each row.

    np.quantile moves the axis to the front and partitions along it (strided, slow for
    many short rows, even sorted ones); here each contiguous row is sorted, the two ranks
    around each virtual index read off, and numpy's weight and interpolation (``_lerp``) applied."""
    n = values.shape[1]
    virtual = (n - 1) * np.asarray(quantiles, dtype="float64")
    below = np.floor(virtual)
    above = below + 1.0
    last = virtual >= n - 1  # numpy takes the largest value there
    below[last], above[last] = n - 1, n - 1
    below, above = below.astype(np.intp), above.astype(np.intp)
    values.sort(axis=1)  # a full sort of short contiguous rows beats a partition at several ranks
    gamma = (virtual - np.floor(virtual))[:, None]
    a, b = values[:, below].T, values[:, above].T  # (quantiles, rows)
    diff = b - a
    out = a + diff * gamma
    np.subtract(b, diff * (1.0 - gamma), out=out, where=np.broadcast_to(gamma >= 0.5, out.shape))
    return out


def _draw_values(
    models: list[la.FittedModel], spend_draws: list[dict[str, float]], settings: ClvSettings,
    f: np.ndarray, r: np.ndarray, t: np.ndarray, m: np.ndarray,
) -> Callable[[slice], np.ndarray]:
    """A function giving every draw's CLV (margin) for a slice of customers, (customers, draws).

    Under BG/NBD the expensive part is computed for all draws once, up front (see
    :class:`_BgnbdTables`); a slice then costs a few array operations per draw and customer.
    Other models go draw by draw through the point estimate's own function."""
    if models[0].name == "bgnbd":
        tables = _BgnbdTables.of([model.params for model in models], settings, f, r, t)
        # Rows come sorted by (frequency, recency, T) within a block (see _DistinctRows), so
        # the rows of a slice that share all three are neighbours and share their expected
        # purchases: computed once per such group.
        starts = np.r_[True, (np.diff(f) != 0) | (np.diff(r) != 0) | (np.diff(t) != 0)]
        # Gamma-Gamma's weight on the customer's own mean depends on the frequency only.
        x_code, x_values = pd.factorize(f)
        population_part, weight = _spend_parts(spend_draws, np.asarray(x_values))

        def bgnbd_values(sl: slice) -> np.ndarray:
            first = np.flatnonzero(starts[sl]) + sl.start
            if len(first) == 0 or first[0] != sl.start:
                first = np.r_[sl.start, first]
            purchases = tables.purchases(first)
            # margin x spend x purchases, with spend = population part + weight x own mean and
            # both parts fixed within a group (same frequency): two numbers per group and draw
            fixed = population_part[x_code[first]]
            fixed *= purchases
            purchases *= weight[x_code[first]]
            size = np.diff(np.r_[first, sl.stop])  # a group's customers are neighbours
            values = np.repeat(purchases, size, axis=0)
            values *= m[sl, None]
            values += np.repeat(fixed, size, axis=0)
            return values

        return bgnbd_values

    spend_params = {k: np.array([[d[k]] for d in spend_draws]) for k in ("p", "q", "v")}
    common = {"months": settings.horizon_months, "monthly_discount_rate": settings.monthly_discount_rate,
              "periods_per_month": settings.periods_per_month}

    def draw_by_draw(sl: slice) -> np.ndarray:
        spend = _spend(spend_params, f[sl], m[sl])
        return np.stack([
            settings.gross_margin * customer_lifetime_value(model, spend[i], f[sl], r[sl], t[sl], **common)
            for i, model in enumerate(models)  # parameter draws
        ], axis=1)

    return draw_by_draw


def _spend_parts(spend_draws: list[dict[str, float]], frequency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gamma-Gamma's expected spend per purchase split as in :func:`_spend`, population part +
    weight x the customer's own mean, for each frequency and draw: two (frequencies, draws)."""
    p, q, v = (np.array([d[k] for d in spend_draws], dtype="float64")[None, :] for k in ("p", "q", "v"))
    x = np.asarray(frequency, dtype="float64")[:, None]
    weight = p * x / (p * x + q - 1.0)
    return (1.0 - weight) * (v * p / (q - 1.0)), weight


@dataclass
class _BgnbdTables:
    """Every BG/NBD draw's margin x expected discounted purchases for given customers, from
    tables per distinct pair. The hypergeometric terms, per distinct (frequency, T) pair and
    month (see :func:`helpers.models.fast_models.bgnbd_discounted_interpolated`), are the
    expensive part, computed for all draws once; the odds in the denominator are a factor per
    (frequency, T) pair times one per (frequency, recency) pair (see :func:`_factor_odds`).
    Every table is (pairs, draws), rows contiguous: gathering rows copies whole rows, where
    gathering columns would touch every draw apart. Pairs are in frequency order, so that a
    frequency's rows are one slice of each table (worked on in place: at 1M customers a table
    is 36 MB, and memory fresh from the system costs more than the arithmetic on it)."""

    margin_by_pair: np.ndarray  # margin x the discounted purchases' numerator, per (x, T) pair
    pair: np.ndarray  # each customer's (x, T) pair
    recency_pair: np.ndarray  # each customer's (x, t_x) pair
    by_age: np.ndarray  # the odds' part per (x, T) pair: a factor if ``factored``, else its log
    by_recency: np.ndarray  # the part per (x, t_x) pair: a factor, else the log subtracted
    factored: bool

    @classmethod
    def of(cls, params: list[dict[str, float]], settings: ClvSettings,
           f: np.ndarray, r: np.ndarray, t: np.ndarray) -> _BgnbdTables:
        """The tables for BG/NBD parameter sets ``params`` (one per draw)."""
        matrix = fast_models.bgnbd_param_matrix(params)
        (ux, uT), pair = _pairs_by_frequency(f, t)
        (rx, rtx), recency_pair = _pairs_by_frequency(f, r)
        # interpolated across ages (relative error below 1e-10, checked; about 1e-13 in tests),
        # with one shift for every draw so that the split between threads changes nothing
        shift = float(matrix[:, 1].min())
        by_pair = _in_threads(lambda rows: fast_models.bgnbd_discounted_interpolated(
            matrix[rows], ux, uT, months=settings.horizon_months, monthly_discount_rate=settings.monthly_discount_rate,
            periods_per_month=settings.periods_per_month, shift=shift), len(matrix))
        margin_by_pair = np.multiply(by_pair.T, settings.gross_margin, out=np.empty(by_pair.T.shape))
        by_age, by_recency = _bgnbd_log_odds_tables(matrix, ux, uT, rx, rtx)
        factored = _factor_odds(by_age, by_recency, ux, rx)
        return cls(margin_by_pair, pair, recency_pair, by_age, by_recency, factored)

    def purchases(self, rows: slice | np.ndarray) -> np.ndarray:
        """Margin x expected discounted purchases of the customers ``rows``, (customers, draws):
        the numerator over 1 + the odds. In place wherever possible: each step is one pass."""
        pair = self.pair[rows]
        odds = self.by_age[pair]
        with np.errstate(over="ignore"):  # infinite odds: no purchases expected
            if self.factored:
                odds *= self.by_recency[self.recency_pair[rows]]
            else:
                odds -= self.by_recency[self.recency_pair[rows]]
                np.exp(odds, out=odds)
        odds += 1.0
        purchases = self.margin_by_pair[pair]
        purchases /= odds
        return purchases


def _pairs_by_frequency(x: np.ndarray, age: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """:func:`helpers.models.fast_models.distinct_pairs`, the pairs sorted by ``x``, then ``age``."""
    (ux, uage), code = fast_models.distinct_pairs(x, age)
    order = np.lexsort((uage, ux))
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return (ux[order], uage[order]), rank[code]


#: Largest |exponent| in :func:`_factor_odds`' factors: exp(700) and exp(-700) are normal doubles.
FACTOR_EXPONENT = 700.0


def _factor_odds(by_age: np.ndarray, by_recency: np.ndarray, x_by_age: np.ndarray, x_by_recency: np.ndarray) -> bool:
    """Turns, in place, the logs of :func:`_bgnbd_log_odds_tables` (rows sorted by x, then age)
    into exp(by_age - c) per (x, T) pair and exp(c - by_recency) per (x, t_x) pair, whose
    product is a customer's odds exp(by_age - by_recency): an exp per pair and a product per
    customer, not an exp per customer (an exp costs some twenty times a product; at 1M
    customers it was most of the purchases' time). c, per frequency and draw, is the middle of
    that frequency's finite logs, so that no factor overflows or loses digits to underflow as
    long as the logs spread over at most 2 x :data:`FACTOR_EXPONENT`. Beyond that (or with
    logs not finite but x = 0's -inf) the logs are left as they are and False returned: the
    odds are then an exp per customer. The factors round like the difference of logs they
    replace (a few units of 1e-14 against logs of a few hundred)."""
    if len(x_by_age) == 0:
        return False
    xs, age_start = np.unique(x_by_age, return_index=True)  # the same frequencies in both tables
    recency_start = np.searchsorted(x_by_recency, xs)
    age_end, recency_end = np.r_[age_start[1:], len(x_by_age)] - 1, np.r_[recency_start[1:], len(x_by_recency)] - 1
    # Both logs grow with the age ((r + x) ln(alpha + age), r + x > 0, alpha > 0): a
    # frequency's extremes are its first and last rows.
    age_low = by_age[age_start]
    age_low[xs == 0] = np.nan  # no odds at x = 0 (-inf): not part of the spread
    with np.errstate(invalid="ignore"):  # a frequency whose logs are all NaN: NaN
        high = np.fmax(by_age[age_end], by_recency[recency_end])
        low = np.fmin(age_low, by_recency[recency_start])
    if not (high - low <= 2.0 * FACTOR_EXPONENT).all():  # False for NaN and infinities
        return False
    centre = (high + low) / 2.0
    for k, (age_rows, recency_rows) in enumerate(zip(_runs(age_start, len(by_age)),
                                                      _runs(recency_start, len(by_recency)))):  # frequencies
        by_age[age_rows] -= centre[k]
        np.subtract(centre[k], by_recency[recency_rows], out=by_recency[recency_rows])
    np.exp(by_age, out=by_age)
    np.exp(by_recency, out=by_recency)
    return True


def _runs(starts: np.ndarray, rows: int) -> list[slice]:
    """The slices of ``rows`` rows beginning at ``starts`` (sorted, the first at 0)."""
    return [slice(a, b) for a, b in pairwise(np.r_[starts, rows])]


def _bgnbd_log_odds_tables(
    draws: np.ndarray, ux: np.ndarray, uT: np.ndarray, rx: np.ndarray, rtx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The log of :func:`helpers.models.fast_models.bgnbd_odds`, [x > 0] (ln a - ln(b + x - 1)
    + (r + x) (ln(alpha + T) - ln(alpha + t_x))), split in a part per distinct (x, T) pair,
    (pairs, draws), -inf for x = 0, and the part subtracted per distinct (x, t_x) pair: a
    customer's odds cost two look-ups and a product (see :func:`_factor_odds`). The
    subtraction of the two (r + x) ln(...) terms, at most a few hundred, loses a few units of
    1e-14 against the difference of logs taken first. Logs are taken per distinct x, T and t_x
    and gathered; each table is one array, finished in place chunk by chunk (temporaries of a
    chunk's size, reused, where whole-table temporaries would be memory fresh from the system)."""
    r_d, alpha, a, b = (draws[:, k][None, :] for k in range(4))

    def power_times_log_of(x: np.ndarray, age: np.ndarray) -> np.ndarray:
        age_code, ages = pd.factorize(age)
        out = np.log(alpha + np.asarray(ages, dtype="float64")[:, None])[age_code]
        for rows in _chunks(len(x)):
            out[rows] *= r_d + x[rows, None]
        return out

    x_code, x_values = pd.factorize(ux)
    with np.errstate(divide="ignore", invalid="ignore"):  # ln(b - 1) at x = 0, not used
        lead = np.log(a) - np.log(b + np.asarray(x_values, dtype="float64")[:, None] - 1.0)
    by_age = power_times_log_of(ux, uT)
    for rows in _chunks(len(ux)):
        by_age[rows] += lead[x_code[rows]]
    by_age[ux == 0] = -np.inf
    return by_age, power_times_log_of(rx, rtx)


def _in_threads(compute: Callable[[slice], np.ndarray], rows: int, threads: int = 2) -> np.ndarray:
    """``compute`` over ``rows`` split in ``threads`` parts, stacked: numpy and scipy's ufuncs
    release the GIL, so the parts run on separate cores."""
    bounds = np.linspace(0, rows, threads + 1).astype(int)
    parts = [slice(a, b) for a, b in pairwise(bounds) if b > a]
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        return np.concatenate(list(pool.map(compute, parts)), axis=0)
