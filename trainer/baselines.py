"""Non-learned baselines, scored by `trainer.metrics.evaluate` on the model's own split.

Each builder takes an `EvalSplit` and returns a score function (customer indices -> scores over
every product), the interface every model is evaluated through.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from trainer.metrics import EvalSplit, ScoreFn


def _buyers_per_product(split: EvalSplit) -> np.ndarray:
    # Distinct buyers rather than rows: one wholesaler re-ordering a product weekly should not
    # make it the most popular product for everyone.
    return np.asarray((split.train > 0).sum(axis=0), dtype=np.float64).reshape(-1)


def popularity(split: EvalSplit) -> ScoreFn:
    """Every customer gets the same ranking: products by number of distinct train buyers."""
    scores = _buyers_per_product(split)

    def score(customers: np.ndarray) -> np.ndarray:
        return np.broadcast_to(scores, (len(customers), split.n_products))

    return score


def repeat_then_popularity(split: EvalSplit) -> ScoreFn:
    """The customer's own train purchases (most frequent first), then the popular products.

    Popularity is scaled into [0, 1) so it only orders products the customer never bought and
    breaks ties among the ones they did.
    """
    buyers = _buyers_per_product(split)
    tiebreak = buyers / (buyers.max(initial=0.0) + 1.0)

    def score(customers: np.ndarray) -> np.ndarray:
        own = split.train[customers].toarray()
        return own + tiebreak[None, :]

    return score


def ease_weights(matrix: sp.spmatrix | np.ndarray, l2: float) -> np.ndarray:
    """EASE item-item weights in closed form (Steck, 2019) for a binary interaction matrix.

    B = I - P / diag(P) with P = (XᵀX + l2·I)⁻¹, which is the ridge regression of every item on
    the others with the constraint diag(B) = 0.
    """
    x = sp.csr_matrix(matrix, dtype=np.float64)
    gram = (x.T @ x).toarray()
    gram[np.diag_indices_from(gram)] += l2
    p = np.linalg.inv(gram)
    weights = -p / np.diag(p)[None, :]
    weights[np.diag_indices_from(weights)] = 0.0
    return weights


def ease(split: EvalSplit, l2: float = 500.0, *, max_products: int = 10_000) -> ScoreFn:
    """EASE scores: a customer's binary train history times the item-item weights.

    Dense (n_products² memory and an O(n³) inverse): refused above `max_products`.
    """
    return _item_item_scores(split, "EASE", max_products, lambda binary: ease_weights(binary, l2))


def cosine_similarity(matrix: sp.spmatrix | np.ndarray, neighbors: int | None = None) -> np.ndarray:
    """`sparse_cosine_similarity` as a dense array (the item-kNN baseline's weights)."""
    return sparse_cosine_similarity(matrix, neighbors).toarray()


def sparse_cosine_similarity(
    matrix: sp.spmatrix | np.ndarray, neighbors: int | None = None, *, dtype=np.float64
) -> sp.csr_matrix:
    """Product-product cosine similarity of a binary customer x product matrix, diagonal zeroed.

    Entry [i, j] is |buyers(i) ∩ buyers(j)| / sqrt(|buyers(i)|·|buyers(j)|); a product nobody
    bought has similarity 0 with everything. With `neighbors`, row i keeps only product i's
    `neighbors` largest similarities (ties go to the lower product index) and the rest are zeroed,
    so the matrix is no longer symmetric. Sparse throughout: memory follows the co-purchases,
    not the square of the catalogue. `dtype` is the arithmetic's precision.
    """
    if neighbors is not None and neighbors < 1:
        raise ValueError(f"neighbors must be at least 1 (or None for all), got {neighbors}")
    x = (sp.csr_matrix(matrix) > 0).astype(dtype)  # binary, whatever counts it held
    gram = (x.T @ x).tocsr()
    norms = np.sqrt(gram.diagonal())
    inverse = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    sim = sp.diags(inverse) @ gram @ sp.diags(inverse)
    sim = (sim - sp.diags(sim.diagonal())).tocsr()
    sim.eliminate_zeros()
    if neighbors is None:
        return sim
    rows, cols, vals = [], [], []
    for i in range(sim.shape[0]):
        col = sim.indices[sim.indptr[i] : sim.indptr[i + 1]]
        val = sim.data[sim.indptr[i] : sim.indptr[i + 1]]
        if len(val) > neighbors:
            keep = np.lexsort((col, -val))[:neighbors]
            col, val = col[keep], val[keep]
        rows.append(np.full(len(col), i))
        cols.append(col)
        vals.append(val)
    return sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=sim.shape
    )


def item_knn(
    split: EvalSplit, *, neighbors: int | None = None, max_products: int = 10_000
) -> ScoreFn:
    """Item-kNN scores: a customer's binary train history times the cosine similarity matrix.

    A product's score is the sum of its similarities to the products the customer bought (with
    `neighbors`, only where it is among a bought product's `neighbors` most similar). Dense
    (n_products² memory): refused above `max_products`.
    """
    return _item_item_scores(
        split, "item_knn", max_products, lambda binary: cosine_similarity(binary, neighbors)
    )


def _item_item_scores(
    split: EvalSplit, name: str, max_products: int, weights_of: Callable[[sp.spmatrix], np.ndarray]
) -> ScoreFn:
    """Scores of a dense item-item model: a customer's binary train history times the
    `n_products x n_products` matrix `weights_of(binary history)`; refused above `max_products`."""
    if split.n_products > max_products:
        raise ValueError(
            f"{name} is dense: {split.n_products} products exceed max_products={max_products}"
        )
    binary = (split.train > 0).astype(np.float64)
    weights = weights_of(binary)

    def score(customers: np.ndarray) -> np.ndarray:
        return np.asarray(binary[customers] @ weights)

    return score


BASELINES = {
    "popularity": popularity,
    "repeat_then_popularity": repeat_then_popularity,
    "ease": ease,
    "item_knn": item_knn,
}
