"""Next-best category from co-purchase patterns ("bought tops only, suggest trousers").

For every pair of categories (a, b), over customers:

- ``support(a, b)`` = share of customers who bought both;
- ``confidence(a -> b)`` = share of a's buyers who also bought b = P(b | a);
- ``lift(a, b)`` = confidence(a -> b) / P(b): how much more likely b is among a's
  buyers than among all customers (symmetric; 1 = no association).

A pair is *usable* when at least ``min_pair_customers`` customers bought both (fewer
give noisy lifts) and its lift is above 1. A customer's suggestion is the category
they have not bought with the highest lift to any category they have bought; the
category that triggered it is reported as ``because``. Ties go to the higher
confidence, then to the alphabetically first category. Customers without a usable pair
get the most popular category they have not bought (``reason = "popular"``) when
``fallback`` is true, else nothing.

Everything is vectorised on a customer x category incidence matrix, worked out once per
distinct set of bought categories (customers who bought the same set get the same
suggestion); the loop runs over categories only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from helpers.data.columns import CATEGORY, CUSTOMER_ID, TIMESTAMP
from helpers.errors import ConfigError
from helpers.studies.segments.analysis import customer_codes, id_positions

#: Fewer customers buying both categories than this: the pair is not used.
MIN_PAIR_CUSTOMERS = 20
#: Bought sets handled at once when suggesting (bounds memory to a few arrays of this x categories).
CHUNK_CUSTOMERS = 200_000


@dataclass(frozen=True)
class Incidence:
    """Which customer bought which category: ``matrix[i, j]`` for customers[i], categories[j]."""

    matrix: np.ndarray  # bool, customers x categories
    customers: pd.Index
    categories: pd.Index


def _category_codes(transactions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the code of its stripped category (-1 when missing or blank) and the sorted
    stripped categories. Text is stripped once per distinct value, not once per row."""
    raw_codes, raw = pd.factorize(transactions[CATEGORY])
    stripped = pd.Series(np.asarray(raw, dtype=object)).astype("string").str.strip()
    usable = (stripped.notna() & (stripped != "")).to_numpy()
    codes, categories = pd.factorize(stripped.to_numpy(dtype=object)[usable], sort=True)
    lookup = np.full(len(raw) + 1, -1, dtype=np.int64)  # raw code -1 (missing) -> -1
    lookup[np.flatnonzero(usable)] = codes
    return lookup[raw_codes], np.asarray(categories, dtype=object)


def _two_or_more_categories(transactions: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """:func:`_category_codes` of transactions with a category column holding at least two
    categories, else None."""
    if CATEGORY not in transactions.columns:
        return None
    coded = _category_codes(transactions)
    return coded if len(coded[1]) >= 2 else None


def has_categories(transactions: pd.DataFrame) -> bool:
    """True when the transactions have a category column with at least two categories."""
    return _two_or_more_categories(transactions) is not None


def incidence_if_categories(
    transactions: pd.DataFrame, *, until: object = None, codes: tuple[np.ndarray, pd.Index] | None = None
) -> Incidence | None:
    """:func:`category_incidence` when :func:`has_categories`, else None; the category text
    is coded once for both."""
    coded = _two_or_more_categories(transactions)
    return None if coded is None else category_incidence(transactions, until=until, codes=codes, categories=coded)


def category_incidence(
    transactions: pd.DataFrame, *, until: object = None, codes: tuple[np.ndarray, pd.Index] | None = None,
    categories: tuple[np.ndarray, np.ndarray] | None = None,
) -> Incidence:
    """The customer x category incidence matrix (rows without a category are ignored;
    with ``until``, a day, only rows on or before it count). ``codes``:
    :func:`helpers.studies.segments.analysis.customer_codes` of the ``customer_id`` column
    when the caller has them, ``categories`` the category codes and names the same way.

    Customers and categories are sorted, so the result does not depend on row order.
    """
    if CATEGORY not in transactions.columns:
        raise ConfigError(
            "the transactions have no category column; map one with column_map, e.g. {'category': '品类'}"
        )
    cat_codes, categories = categories if categories is not None else _category_codes(transactions)
    keep = cat_codes >= 0
    if until is not None:
        end = pd.Timestamp(until).normalize() + pd.Timedelta(days=1)
        keep &= (transactions[TIMESTAMP] < end).to_numpy()
    id_codes, ids = codes if codes is not None else customer_codes(transactions[CUSTOMER_ID])  # not per row text
    keep &= id_codes >= 0
    id_codes, cat_codes = id_codes[keep], cat_codes[keep]
    present = np.zeros(len(ids), dtype=bool)
    present[id_codes] = True
    customers = np.asarray(ids)[present]
    cust_codes = (np.cumsum(present) - 1)[id_codes]
    used = np.zeros(len(categories), dtype=bool)
    used[cat_codes] = True  # categories bought only after ``until`` are left out, as before
    cat_codes = (np.cumsum(used) - 1)[cat_codes]
    categories = categories[used]
    matrix = np.zeros((len(customers), len(categories)), dtype=bool)
    matrix[cust_codes, cat_codes] = True
    return Incidence(matrix, pd.Index(customers, name=CUSTOMER_ID), pd.Index(categories, name=CATEGORY))


def _bought_sets(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The distinct rows of an incidence matrix (the sets of categories customers bought),
    each customer's set and how many customers bought each set. A customer's suggestion
    depends on their set only, and the co-buyer counts add up over the sets: a few hundred
    sets stand for a million customers. Rows are packed into one integer each when there
    are at most 64 categories."""
    n, k = matrix.shape
    if k > 64 or n == 0:
        sets, customer_set, count = np.unique(matrix, axis=0, return_inverse=True, return_counts=True)
        return sets.reshape(-1, k), customer_set.reshape(-1), count
    packed = np.zeros((n, 8), dtype=np.uint8)
    packed[:, : (k + 7) // 8] = np.packbits(matrix, axis=1, bitorder="little")
    keys, customer_set, count = np.unique(packed.view(np.uint64).ravel(), return_inverse=True, return_counts=True)
    sets = np.unpackbits(keys.view(np.uint8).reshape(-1, 8), axis=1, count=k, bitorder="little").astype(bool)
    return sets, customer_set.reshape(-1), count


def _pair_stats(sets: np.ndarray, count: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Co-buyer counts, buyers per category, confidence and lift matrices, from the bought
    sets and their customer counts (:func:`_bought_sets`) of ``n`` customers."""
    x = sets.astype(np.int64)
    both = x.T @ (x * count[:, None])  # categories x categories: customers who bought both
    buyers = np.diag(both).astype("float64")
    n = float(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        confidence = np.where(buyers[:, None] > 0, both / buyers[:, None], 0.0)
        lift = np.where(buyers[None, :] > 0, confidence / (buyers[None, :] / n), 0.0)
    return both, buyers, confidence, lift


def category_pairs(inc: Incidence, min_pair_customers: int = MIN_PAIR_CUSTOMERS) -> pd.DataFrame:
    """Every ordered pair (a -> b), a != b, with customers_both, support, confidence,
    lift and ``usable``; highest lift first."""
    sets, _, count = _bought_sets(inc.matrix)
    both, _, confidence, lift = _pair_stats(sets, count, len(inc.customers))
    k = len(inc.categories)
    a, b = np.nonzero(~np.eye(k, dtype=bool))
    n = len(inc.customers)
    frame = pd.DataFrame(
        {
            "antecedent": inc.categories.to_numpy()[a],
            "consequent": inc.categories.to_numpy()[b],
            "customers_both": both[a, b],
            "support": both[a, b] / n if n else 0.0,
            "confidence": confidence[a, b],
            "lift": lift[a, b],
        }
    )
    frame["usable"] = (frame["customers_both"] >= min_pair_customers) & (frame["lift"] > 1.0)
    return frame.sort_values(["lift", "confidence", "antecedent", "consequent"], ascending=[False, False, True, True],
                             kind="stable").reset_index(drop=True)


def next_best_category(
    transactions: pd.DataFrame,
    *,
    min_pair_customers: int = MIN_PAIR_CUSTOMERS,
    fallback: bool = True,
    incidence: Incidence | None = None,
) -> pd.DataFrame:
    """One suggestion per customer (index ``customer_id``): ``next_category``,
    ``because`` (the bought category with the highest lift to it), ``lift``,
    ``confidence`` and ``reason`` ("co-purchase", "popular" or "" when nothing is left
    to suggest). See the module docstring. ``incidence``: :func:`category_incidence` of
    ``transactions`` when the caller already has it (``transactions`` is then not read)."""
    if not isinstance(min_pair_customers, (int, np.integer)) or min_pair_customers < 1:
        raise ConfigError(f"min_pair_customers must be a whole number >= 1, not {min_pair_customers!r}.")
    inc = incidence if incidence is not None else category_incidence(transactions)
    sets, customer_set, count = _bought_sets(inc.matrix)
    both, buyers, confidence, lift = _pair_stats(sets, count, len(inc.customers))
    usable = (both >= min_pair_customers) & (lift > 1.0)
    np.fill_diagonal(usable, False)
    score = np.where(usable, lift, 0.0)

    parts = [
        _suggest(sets[lo:lo + CHUNK_CUSTOMERS], score, confidence, buyers, fallback)
        for lo in range(0, len(sets), CHUNK_CUSTOMERS)  # chunks bound the memory (many categories: many sets)
    ]
    suggested, because, best_lift, best_conf, reason = (
        np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(5)
    )
    cats = np.append(inc.categories.to_numpy().astype(object), None)  # index -1 -> None
    by_set = pd.DataFrame(
        {
            "next_category": cats[suggested.astype(np.int64)],
            "because": cats[because.astype(np.int64)],
            "lift": best_lift.astype("float64"),
            "confidence": best_conf.astype("float64"),
            "reason": reason.astype(object) if len(reason) else np.array([], dtype=object),
        }
    )
    return by_set.take(customer_set).set_axis(inc.customers)  # each customer gets their set's row


def _suggest(
    x: np.ndarray, score: np.ndarray, confidence: np.ndarray, buyers: np.ndarray, fallback: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Suggestions for the customers (rows) of ``x``: category index (-1 none), because
    index (-1 none), lift, confidence and reason."""
    n, k = x.shape
    best = np.zeros((n, k))  # best usable lift to each candidate from a bought category
    best_conf = np.zeros((n, k))
    because = np.full((n, k), -1, dtype=np.int64)
    for a in range(k):  # loop over categories, vectorised over its buyers
        rows = np.flatnonzero(x[:, a])
        cand, cand_conf = score[a][None, :], confidence[a][None, :]
        cur, cur_conf = best[rows], best_conf[rows]
        better = (cand > cur) | ((cand == cur) & (cand > 0) & (cand_conf > cur_conf))
        best[rows] = np.where(better, cand, cur)
        best_conf[rows] = np.where(better, cand_conf, cur_conf)
        because[rows] = np.where(better, a, because[rows])
    best[x] = 0.0  # never suggest what they bought

    # highest lift, then highest confidence, then the first category (categories are sorted)
    key = np.where(best > 0, best, -np.inf)
    top = key.max(axis=1, keepdims=True) if k else np.zeros((n, 1))
    choice = np.where(key == top, best_conf, -np.inf).argmax(axis=1) if k else np.zeros(n, dtype=np.int64)
    rows = np.arange(n)
    chosen = best[rows, choice] if k else np.zeros(n)
    has_pair = chosen > 0

    suggested = np.where(has_pair, choice, -1)
    reason = np.where(has_pair, "co-purchase", "")
    if fallback and k:
        popularity = np.argsort(-buyers, kind="stable")  # most buyers first, then by name
        free = ~x[:, popularity]
        first_free = np.argmax(free, axis=1)
        use = ~has_pair & free.any(axis=1)
        suggested = np.where(use, popularity[first_free], suggested)
        reason = np.where(use, "popular", reason)
    return (
        suggested,
        np.where(has_pair, because[rows, choice] if k else -1, -1),
        np.where(has_pair, chosen, np.nan),
        np.where(has_pair, best_conf[rows, choice] if k else np.nan, np.nan),
        reason,
    )


def suggestion_summary(suggestions: pd.DataFrame, groups: pd.Series, top: int = 3) -> pd.DataFrame:
    """The ``top`` most suggested categories in each group (e.g. segment), with counts.

    ``groups`` maps customer_id to the group (a categorical one is named by its categories'
    text); returns columns group, next_category, customers, share (of the group's customers
    with a suggestion). Counted on codes: customers matched by position, no join of the two
    million-id indexes and no text per customer.
    """
    rows = id_positions(suggestions.index, groups.index)
    group_codes, group_names = pd.factorize(groups)
    if isinstance(groups.dtype, pd.CategoricalDtype):
        group_names = pd.Index(np.asarray(group_names.astype(str), dtype=object), dtype="str")
    category_codes, categories = pd.factorize(suggestions["next_category"])
    group = np.where(rows >= 0, group_codes[np.maximum(rows, 0)], -1)
    counted = (group >= 0) & (category_codes >= 0)
    k = len(categories)
    cells = np.bincount(group[counted] * k + category_codes[counted], minlength=len(group_names) * k)
    present = np.flatnonzero(cells)
    if not len(present):
        return pd.DataFrame(columns=["group", "next_category", "customers", "share"])
    counts = pd.DataFrame({
        "group": group_names.take(present // k), "next_category": categories.take(present % k),
        "customers": cells[present].astype("int64"),
    })
    counts["share"] = counts["customers"] / counts.groupby("group", observed=True)["customers"].transform("sum")
    counts = counts.sort_values(["group", "customers", "next_category"], ascending=[True, False, True], kind="stable")
    return counts.groupby("group", observed=True, sort=False).head(top).reset_index(drop=True)
