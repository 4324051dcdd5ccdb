"""Choosing rows of transformed data: one per product (candidates), one per customer (queries)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def latest_row_per_index(
    index: np.ndarray, size: int, recency: np.ndarray | None = None
) -> np.ndarray:
    """For each value 0..size-1 of `index`, the row holding its most recent occurrence.

    Most recent = largest `recency` (ties: later row); without `recency`, the last row in file
    order. Values that never occur get -1.
    """
    index = np.asarray(index).reshape(-1)
    rows = np.arange(len(index))
    order = rows if recency is None else np.lexsort((rows, np.asarray(recency).reshape(-1)))
    chosen = np.full(size, -1, dtype=np.int64)
    valid = (index[order] >= 0) & (index[order] < size)
    # Later assignments win, and `order` runs from oldest to most recent.
    chosen[index[order][valid]] = order[valid]
    return chosen


def first_row_per_index(index: np.ndarray, size: int) -> np.ndarray:
    """For each value 0..size-1 of `index`, its first row in file order (-1 if absent)."""
    index = np.asarray(index).reshape(-1)
    chosen = np.full(size, -1, dtype=np.int64)
    valid = np.flatnonzero((index >= 0) & (index < size))
    # Assigning in reverse order lets the first occurrence be written last.
    chosen[index[valid[::-1]]] = valid[::-1]
    return chosen


def candidate_features(
    columns: Mapping[str, np.ndarray],
    *,
    id_feature: str,
    feature_names: Sequence[str],
    n_products: int,
    recency: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Candidate-tower features of every product 0..n_products-1 in vocabulary order.

    Each product takes the features of its most recent train row. A product with no train row
    (possible only when the vocabulary and the rows come from different data) gets its id and
    zeros elsewhere (no value of a multi-value feature), so row i always describes vocabulary
    entry i.
    """
    rows = latest_row_per_index(columns[id_feature], n_products, recency)
    present = rows >= 0
    out: dict[str, np.ndarray] = {}
    for name in feature_names:
        values = np.asarray(columns[name])
        # A multi-value feature's absent rows hold no value (-1), as Transform pads them.
        picked = (
            np.full((n_products, *values.shape[1:]), -1, dtype=values.dtype)
            if values.ndim == 2
            else np.zeros(n_products, dtype=values.dtype)
        )
        picked[present] = values[rows[present]]
        out[name] = picked
    out[id_feature] = np.arange(n_products, dtype=np.asarray(columns[id_feature]).dtype)
    return out
