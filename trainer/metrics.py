"""The evaluation protocol: Recall@K per test customer, in "all" and "new" modes.

Inputs are plain arrays of (customer index, product index) pairs for the train and eval splits,
so the trainer, the baselines and the benchmark score every model on the identical split:

* products are "in vocabulary" when their index is in `[0, n_products)` (Transform puts values
  unseen in train at `n_products` and above); test items are the distinct in-vocabulary products
  a customer bought in the eval window;
* test customers are those seen in train that have at least one test item (recall is undefined
  without one);
* Recall@K = |top-K ∩ test items| / min(|test items|, K), averaged over test customers;
* NDCG@K with binary relevance: the sum of 1 / log2(rank + 1) over the hits in the top K, divided
  by the same sum for a perfect ranking (min(|test items|, K) hits at ranks 1, 2, ...);
* mode "all" ranks every product, including ones the customer already bought; mode "new" keeps
  only test items not bought in train, skips customers left with none, and removes the products
  bought in train from the ranking before taking the top K.

A model enters as a score function: customer indices `[b]` -> scores `[b, n_products]`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

KS: tuple[int, ...] = (5, 10, 50, 100)
NDCG_KS: tuple[int, ...] = (10,)

ScoreFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class EvalSplit:
    """A train/eval split reduced to what the protocol needs (build it with `make_split`)."""

    n_products: int
    train: sp.csr_matrix
    """Purchase counts, customers x products, in-vocabulary train rows only."""
    customers: np.ndarray
    test_items: tuple[np.ndarray, ...]
    new_customers: np.ndarray
    new_test_items: tuple[np.ndarray, ...]
    train_rows: int
    eval_rows: int

    def mode(self, mode: str) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """(test customers, their test items) of mode "all" or "new"."""
        if mode == "all":
            return self.customers, self.test_items
        if mode == "new":
            return self.new_customers, self.new_test_items
        raise ValueError(f"unknown mode {mode!r}; expected 'all' or 'new'")


def _pairs(customers, products) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(customers, dtype=np.int64).reshape(-1)
    p = np.asarray(products, dtype=np.int64).reshape(-1)
    if c.shape != p.shape:
        raise ValueError(f"customer and product arrays differ in length: {c.shape} vs {p.shape}")
    return c, p


def make_split(
    train_customers,
    train_products,
    eval_customers,
    eval_products,
    *,
    n_products: int,
) -> EvalSplit:
    """Apply the protocol's filters to train and eval (customer index, product index) pairs.

    `n_products` is the train vocabulary size: products at or above it are out of vocabulary.
    Negative customer indices are ignored (a caller may use -1 for an unknown customer).
    """
    tc, tp = _pairs(train_customers, train_products)
    ec, ep = _pairs(eval_customers, eval_products)
    keep = (tp >= 0) & (tp < n_products) & (tc >= 0)
    tc, tp = tc[keep], tp[keep]
    n_customers = int(max(tc.max(initial=-1), ec.max(initial=-1))) + 1
    train = sp.csr_matrix(
        (np.ones(len(tc), dtype=np.float64), (tc, tp)), shape=(n_customers, n_products)
    )
    train.sum_duplicates()
    seen = np.zeros(n_customers, dtype=bool)
    seen[tc] = True
    keep = (ec >= 0) & (ep >= 0) & (ep < n_products)
    keep[keep] &= seen[ec[keep]]
    eval_pairs = np.unique(np.stack([ec[keep], ep[keep]], axis=1), axis=0)

    customers, starts = np.unique(eval_pairs[:, 0], return_index=True)
    test_items = tuple(np.split(eval_pairs[:, 1], starts[1:])) if len(customers) else ()
    new_customers, new_items = [], []
    for customer, items in zip(customers, test_items, strict=True):
        bought = train.indices[train.indptr[customer] : train.indptr[customer + 1]]
        fresh = np.setdiff1d(items, bought, assume_unique=True)
        if len(fresh):
            new_customers.append(customer)
            new_items.append(fresh)
    return EvalSplit(
        n_products=n_products,
        train=train,
        customers=customers,
        test_items=test_items,
        new_customers=np.asarray(new_customers, dtype=np.int64),
        new_test_items=tuple(new_items),
        train_rows=len(tc),
        eval_rows=len(ec),
    )


def top_k(scores: np.ndarray, k: int, exclude: sp.csr_matrix | None = None) -> np.ndarray:
    """Indices of the k best-scored products per row, best first; ties go to the lower index.

    `exclude` (same rows as `scores`) marks products removed from the ranking (mode "new").
    """
    scores = np.array(scores, dtype=np.float64, copy=True)
    if exclude is not None:
        rows, cols = exclude.nonzero()
        scores[rows, cols] = -np.inf
    k = min(k, scores.shape[1])
    # A stable sort of the negated scores keeps ties in index order: rankings are reproducible.
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def recall_at_k(
    ranked: Sequence[np.ndarray], test_items: Sequence[np.ndarray], k: int
) -> np.ndarray:
    """Per-row recall: |ranked[:k] ∩ test items| / min(|test items|, k).

    `ranked` is a 2-D array or a list of 1-D arrays (rows may differ in length)."""
    return _recall(_hits(ranked, test_items, k), test_items, k)


def ndcg_at_k(ranked: Sequence[np.ndarray], test_items: Sequence[np.ndarray], k: int) -> np.ndarray:
    """Per-row NDCG@k with binary relevance (module doc)."""
    return _ndcg(_hits(ranked, test_items, k), test_items, k)


def _hits(
    ranked: Sequence[np.ndarray], test_items: Sequence[np.ndarray], depth: int
) -> list[np.ndarray]:
    """Per row, whether each of the first `depth` ranked products is a test item."""
    return [np.isin(ranked[i][:depth], items) for i, items in enumerate(test_items)]


def _recall(hits: list[np.ndarray], test_items: Sequence[np.ndarray], k: int) -> np.ndarray:
    return np.array(
        [row[:k].sum() / min(len(items), k) for row, items in zip(hits, test_items, strict=True)],
        dtype=np.float64,
    )


def _ndcg(hits: list[np.ndarray], test_items: Sequence[np.ndarray], k: int) -> np.ndarray:
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    out = np.empty(len(test_items), dtype=np.float64)
    for i, (row, items) in enumerate(zip(hits, test_items, strict=True)):
        row = row[:k]
        out[i] = discounts[: len(row)][row].sum() / discounts[: min(len(items), k)].sum()
    return out


def evaluate(
    score_fn: ScoreFn,
    split: EvalSplit,
    ks: Sequence[int] = KS,
    *,
    modes: Sequence[str] = ("all", "new"),
    batch_size: int = 1024,
    per_customer: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Mean Recall@K (`recall_at_<k>`, `new_recall_at_<k>`) and NDCG@10 (`ndcg_at_10`,
    `new_ndcg_at_10`) of a score function.

    A mode with no test customers reports nothing (absent keys, not zeros). `per_customer`, if
    given, receives each metric's value per test customer (as `evaluate_ranked`).
    """

    def rank(batch: np.ndarray, mode: str) -> np.ndarray:
        scores = np.asarray(score_fn(batch))
        if scores.shape != (len(batch), split.n_products):
            raise ValueError(
                f"score_fn returned shape {scores.shape}, expected {(len(batch), split.n_products)}"
            )
        exclude = split.train[batch] if mode == "new" else None
        return top_k(scores, max(*ks, *NDCG_KS), exclude)

    return evaluate_ranked(
        rank, split, ks, modes=modes, batch_size=batch_size, per_customer=per_customer
    )


RankFn = Callable[[np.ndarray, str], Sequence[np.ndarray]]
"""(customer indices, mode) -> one ranked array of product indices per customer, best first."""


def evaluate_ranked(
    rank_fn: RankFn,
    split: EvalSplit,
    ks: Sequence[int] = KS,
    *,
    modes: Sequence[str] = ("all", "new"),
    batch_size: int = 256,
    per_customer: dict[str, np.ndarray] | None = None,
    ranked: dict[str, list[np.ndarray]] | None = None,
) -> dict[str, float]:
    """Mean Recall@K and NDCG@10 of ranked lists (a served model's answers), keyed like
    `evaluate`.

    In mode "new" the products a customer bought in train are dropped from their list, as the
    protocol says; a list shorter than K simply has fewer chances (nothing is filled in). A mode
    with no test customers reports nothing (absent keys, not zeros).

    `per_customer`, if given, receives each metric's value per test customer (in the order of
    `split.mode(mode)`: what a confidence interval resamples); `ranked` receives each mode's
    lists as scored.
    """
    results: dict[str, float] = {}
    for mode in modes:
        customers, items = split.mode(mode)
        if not len(customers):
            continue
        prefix = "new_" if mode == "new" else ""
        values: dict[str, list[np.ndarray]] = {
            f"{prefix}{name}_at_{k}": []
            for name, depths in (("recall", ks), ("ndcg", NDCG_KS))
            for k in depths
        }
        scored: list[np.ndarray] = []
        for start in range(0, len(customers), batch_size):
            batch = customers[start : start + batch_size]
            lists = [np.asarray(ranked, np.int64) for ranked in rank_fn(batch, mode)]
            if mode == "new":
                bought = split.train[batch]
                lists = [
                    ranked[
                        ~np.isin(ranked, bought.indices[bought.indptr[i] : bought.indptr[i + 1]])
                    ]
                    for i, ranked in enumerate(lists)
                ]
            batch_items = items[start : start + batch_size]
            # One membership test per list, at the deepest K; every K reads its prefix.
            hits = _hits(lists, batch_items, max(*ks, *NDCG_KS))
            for k in ks:
                values[f"{prefix}recall_at_{k}"].append(_recall(hits, batch_items, k))
            for k in NDCG_KS:
                values[f"{prefix}ndcg_at_{k}"].append(_ndcg(hits, batch_items, k))
            if ranked is not None:
                scored.extend(lists)
        for key, parts in values.items():
            column = np.concatenate(parts)
            results[key] = float(column.sum() / len(customers))
            if per_customer is not None:
                per_customer[key] = column
        if ranked is not None:
            ranked[mode] = scored
    return results
