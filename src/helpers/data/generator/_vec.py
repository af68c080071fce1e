"""Vectorised group operations on flat arrays (parents with a count of children each).

Children are stored contiguously, parent by parent, as ``np.repeat`` lays them out.
Nothing here loops over parents or children.
"""

from __future__ import annotations

import numpy as np

DAY = 86_400  # seconds


def starts(counts: np.ndarray) -> np.ndarray:
    """Index of each parent's first child."""
    return np.cumsum(counts) - counts


def parent_of(counts: np.ndarray) -> np.ndarray:
    """Parent index of every child."""
    return np.repeat(np.arange(len(counts)), counts)


def rank_in_group(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each parent."""
    return np.arange(int(counts.sum())) - np.repeat(starts(counts), counts)


def group_sum(values: np.ndarray, parent: np.ndarray, n_parents: int) -> np.ndarray:
    return np.bincount(parent, weights=values, minlength=n_parents)


def group_count(parent: np.ndarray, n_parents: int) -> np.ndarray:
    return np.bincount(parent, minlength=n_parents).astype(np.int64)


def group_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Inclusive cumulative sum within each parent (values in parent order)."""
    total = np.cumsum(values)
    before = np.concatenate([[0], total])[starts(counts)]
    return total - np.repeat(before, counts)


def pick(cdf_rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw per row: ``cdf_rows`` holds cumulative shares, ``u`` uniforms."""
    cdf = cdf_rows.copy()
    cdf[:, -1] = np.inf
    return (u[:, None] >= cdf).sum(axis=1)


def cdf_of(weights: np.ndarray) -> np.ndarray:
    """Row-wise cumulative shares of non-negative weights (rows sum to 1)."""
    w = np.atleast_2d(weights).astype("float64")
    return np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)


def split_total(total: np.ndarray, counts: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Split integer ``total`` of each parent over its children in proportion to ``weights``.

    The parts are integers that add up to the parent's total exactly.
    """
    n = len(total)
    par = parent_of(counts)
    first = starts(counts)
    share = weights / group_sum(weights, par, n)[par]
    edges = np.rint(group_cumsum(share, counts) * total[par]).astype(np.int64)
    edges[first + counts - 1] = total
    previous = np.empty_like(edges)
    previous[1:] = edges[:-1]
    previous[first] = 0
    return edges - previous


def push_forward(days: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Make sorted days strictly increasing within each parent by moving ties forward.

    ``out[i] = max(days[i], out[i-1] + 1)``, computed as ``i + cummax(days - i)``.
    """
    k = rank_in_group(counts)
    offset = np.repeat(np.arange(len(counts), dtype=np.int64) * (2**40), counts)
    return np.maximum.accumulate(days - k + offset) - offset + k


def previous_in_group(values: np.ndarray, counts: np.ndarray, fill) -> np.ndarray:
    """Value of the previous child of the same parent, ``fill`` for first children."""
    out = np.empty_like(values)
    out[1:] = values[:-1]
    out[starts(counts)[counts > 0]] = fill
    return out
