"""The re-order scorer: the served score of every (customer, product) pair.

B2B buyers re-order. The two-tower score says which products suit a customer; what a buyer
orders next also depends on what they bought, how often, how recently, and whether it is due
again, and on what is selling now. The scorer is a small MLP over, per pair:

* the customer's history of the product (`trainer.history.ITEM_FEATURES`, zeros if never bought),
* the product's popularity overall and lately (`PRODUCT_FEATURES`),
* the customer's activity (`CUSTOMER_FEATURES`),
* how often the product is bought by the buyers of what the customer bought, and of what they
  bought lately (co-purchase: the customer's binary history, and its 30-day decayed counts, times
  the sparse item-item cosine similarity of `trainer.history.co_purchase_similarity`, log1p),
* the two-tower score, standardized over the catalogue for the customer,

It scores candidates, not the whole catalogue (`candidate_pairs`): every product the customer
bought, plus the products they never bought that one of the cheap signals ranks high (the top
`per_signal` by co-purchase with everything they bought, with what they bought lately, by the
two-tower score and by recent popularity). A product no signal nominates could not reach a
customer's top 100 anyway, and the MLP's cost no longer grows with the catalogue: on a 3.6k
product catalogue it scores about a quarter of the pairs. It is trained listwise (softmax over the
candidates) on "next-horizon" windows cut from the train split: features from the purchases
before a cut-off, labels from the purchases in the `horizon_days` after it. A second softmax
over only the candidates the customer never bought trains the discovery ranking (mode "new").

`candidate_pairs` is a TensorFlow function used both in training and inside the exported
serving model, so the candidates and their features cannot drift between them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from trainer.history import (
    CUSTOMER_FEATURES,
    DAY,
    ITEM_FEATURES,
    PRODUCT_FEATURES,
    HistoryTable,
    Purchases,
    co_purchase_similarity,
    history_table,
    product_features,
)

log = logging.getLogger(__name__)
keras = tf.keras

N_FEATURES = len(ITEM_FEATURES) + len(PRODUCT_FEATURES) + len(CUSTOMER_FEATURES) + 3


BOUGHT = ITEM_FEATURES.index("bought")
RECENT = ITEM_FEATURES.index("log_decayed_30d")


@dataclass(frozen=True)
class CoPurchase:
    """The co-purchase similarity (`trainer.history.co_purchase_similarity`) as each
    product's neighbour list: row i of `neighbors` `[n_products, K]` holds the products
    similar to product i, `weights` their similarities (0 on padding).

    A customer's co-purchase scores are the sum of the rows of what they bought: a gather
    of a few hundred entries per customer, where multiplying the dense history by the
    sparse matrix touched every entry of the matrix for every customer.
    """

    neighbors: tf.Tensor
    weights: tf.Tensor

    @staticmethod
    def lists(matrix: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
        """`(neighbors, weights)` of a sparse similarity matrix, padded to its fullest row."""
        csr = sp.csr_matrix(matrix)
        n, counts = csr.shape[0], np.diff(csr.indptr)
        width = max(1, int(counts.max(initial=0)))
        neighbors = np.zeros((n, width), np.int64)
        weights = np.zeros((n, width), np.float32)
        rows = np.repeat(np.arange(n), counts)
        place = np.arange(csr.nnz) - np.repeat(csr.indptr[:-1], counts)
        neighbors[rows, place] = csr.indices
        weights[rows, place] = csr.data
        return neighbors, weights

    @classmethod
    def of(cls, matrix: sp.spmatrix) -> CoPurchase:
        neighbors, weights = cls.lists(matrix)
        return cls(tf.constant(neighbors), tf.constant(weights))


class Histories:
    """Customers' purchase histories as lists, as `trainer.history.HistoryTable` rows hold
    them: `items` `[batch, H]` distinct product indices per row, most recent first, padded
    with -1 at the end, and their `features` `[batch, H, len(ITEM_FEATURES)]`.

    Everything the scorer reads of a history is computed from the lists, so nothing of size
    `[batch, n_products, len(ITEM_FEATURES)]` is built: a customer costs what they bought,
    not what the catalogue holds.
    """

    def __init__(self, items: tf.Tensor, features: tf.Tensor):
        self.items, self.features = items, features
        held = tf.where(items >= 0)  # [V, 2]: (row, place in the list)
        self._rows, self._places = held[:, 0], held[:, 1]
        self._products = tf.gather_nd(items, held)
        self._held_features = tf.gather_nd(features, held)  # [V, len(ITEM_FEATURES)]
        self._at = tf.stack([self._rows, self._products], axis=1)
        self._batch = tf.shape(items, out_type=tf.int64)[0]

    @classmethod
    def from_dense(cls, history: tf.Tensor) -> Histories:
        """The lists of a dense `[batch, n_products, len(ITEM_FEATURES)]` history (the bought
        products, most recent first; of equal recency, in catalogue order)."""
        at = tf.where(history[..., BOUGHT] > 0)
        rows = tf.shape(history, out_type=tf.int64)[0]
        items = tf.RaggedTensor.from_value_rowids(at[:, 1], at[:, 0], nrows=rows)
        features = tf.RaggedTensor.from_value_rowids(tf.gather_nd(history, at), at[:, 0],
                                                     nrows=rows).to_tensor(0.0)  # fmt: skip
        items = items.to_tensor(-1)
        since = features[..., ITEM_FEATURES.index("log_days_since_last")]
        order = tf.argsort(tf.where(items >= 0, since, np.inf), axis=1, stable=True)
        return cls(tf.gather(items, order, batch_dims=1), tf.gather(features, order, batch_dims=1))

    def _shape(self, n_products, *inner) -> tf.Tensor:
        return tf.stack([self._batch, tf.cast(n_products, tf.int64), *inner])

    def held(self) -> tuple[tf.Tensor, tf.Tensor]:
        """`[batch, C]` each row's products, most recent first (C: the longest list of the
        batch), and `[batch, C]` False on padding (its product index is 0)."""
        count = tf.reduce_max(tf.reduce_sum(tf.cast(self.items >= 0, tf.int32), axis=1))
        items = self.items[:, :count]
        valid = items >= 0
        return tf.where(valid, items, tf.zeros_like(items)), valid

    def bought(self, n_products) -> tf.Tensor:
        """`[batch, n_products]` True at each product in the row's list."""
        ones = tf.ones_like(self._rows, tf.int32)
        return tf.scatter_nd(self._at, ones, self._shape(n_products)) > 0

    def column(self, name: str, n_products) -> tf.Tensor:
        """`[batch, n_products]`: one item feature at each bought product, zeros elsewhere."""
        values = self._held_features[:, ITEM_FEATURES.index(name)]
        return tf.scatter_nd(self._at, values, self._shape(n_products))

    def of(self, products: tf.Tensor, n_products) -> tf.Tensor:
        """`[batch, m, len(ITEM_FEATURES)]` history features of the `[batch, m]` products
        (zeros for a product the customer never bought)."""
        place = tf.scatter_nd(self._at, self._places + 1, self._shape(n_products))
        padded = tf.pad(self.features, [[0, 0], [1, 0], [0, 0]])  # place 0: never bought
        return tf.gather(padded, tf.gather(place, products, batch_dims=1), batch_dims=1)

    def co_purchase(self, graph: CoPurchase, n_products) -> tf.Tensor:
        """`[batch, n_products, 2]`: co-purchase with everything bought and with what was
        bought lately (the 30-day decayed counts), log1p."""
        weights = tf.stack(
            [self._held_features[:, BOUGHT], tf.math.expm1(self._held_features[:, RECENT])], -1
        )
        neighbors = tf.gather(graph.neighbors, self._products)  # [V, K]
        updates = tf.gather(graph.weights, self._products)[..., None] * weights[:, None, :]
        # A segment sum over flat (row * n_products + product) positions: the served model's
        # hottest op; for 8 Online Retail customers 0.4 ms, where scatter_nd over stacked
        # (row, product) pairs took 1.7 ms with the stacking.
        n = tf.cast(n_products, tf.int64)
        at = tf.reshape(self._rows[:, None] * n + neighbors, [-1])
        summed = tf.math.unsorted_segment_sum(tf.reshape(updates, [-1, 2]), at, self._batch * n)
        return tf.math.log1p(tf.reshape(summed, self._shape(n_products, 2)))


def pair_features(
    histories: Histories,
    customer_features: tf.Tensor,
    product_table: tf.Tensor,
    retrieval_scores: tf.Tensor,
    co_purchase: CoPurchase,
) -> tf.Tensor:
    """`[batch, n_products, N_FEATURES]` features of every product for each customer.

    Args:
      histories: the customers' purchase histories (`Histories`).
      customer_features: `[batch, len(CUSTOMER_FEATURES)]`.
      product_table: `[n_products, len(PRODUCT_FEATURES)]`.
      retrieval_scores: `[batch, n_products]` two-tower scores.
      co_purchase: the co-purchase similarity's neighbour lists (`CoPurchase`).
    """
    scores = TwoTowerScores.dense(retrieval_scores)
    n_products = tf.shape(product_table, out_type=tf.int64)[0]
    products = tf.broadcast_to(tf.range(n_products)[None], tf.shape(retrieval_scores, tf.int64))
    signals = histories.co_purchase(co_purchase, n_products)
    return _gather_pairs(products, histories, customer_features, product_table, signals, scores)


@dataclass(frozen=True)
class TwoTowerScores:
    """The two-tower scores the scorer reads, standardized over the catalogue per customer.

    `standardized` `[batch, n_products]` ranks the products (it nominates candidates); `of`
    gives the exact standardized score of any `[batch, m]` products (a pair feature). From
    every product's score (`dense`: brute force, and training) both are the same numbers. An
    approximate index (`trainer.scann_index`) knows only its top products: the others rank
    at `UNRANKED`, and `of` computes scores from the embeddings instead.
    """

    standardized: tf.Tensor
    of: Callable[[tf.Tensor], tf.Tensor]

    @classmethod
    def dense(cls, scores: tf.Tensor) -> TwoTowerScores:
        mean, variance = tf.nn.moments(scores, axes=[1], keepdims=True)
        standardized = (scores - mean) / tf.sqrt(variance + 1e-6)
        return cls(standardized, lambda products: tf.gather(standardized, products, batch_dims=1))

    @classmethod
    def from_index(
        cls,
        query: tf.Tensor,
        embeddings: tf.Tensor,
        moments: tuple[tf.Tensor, tf.Tensor],
        top: tf.Tensor,
        top_scores: tf.Tensor,
    ) -> TwoTowerScores:
        """Scores of an index's `top` `[batch, r]` products (their `top_scores`), for
        `query` `[batch, dim]` against the catalogue's `embeddings` `[n, dim]` whose mean and
        covariance are `moments`: a customer's mean score over the catalogue is q.mean and
        its variance q'Cq, exactly what `dense` computes, without scoring every product."""
        mean_embedding, covariance = moments
        mean = tf.linalg.matvec(query, mean_embedding)[:, None]
        variance = tf.reduce_sum(tf.linalg.matmul(query, covariance) * query, 1, keepdims=True)
        std = tf.sqrt(tf.maximum(variance, 0.0) + 1e-6)
        batch = tf.shape(top, out_type=tf.int64)[0]
        rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(top, out_type=tf.int64))
        standardized = tf.tensor_scatter_nd_update(
            tf.fill(tf.stack([batch, tf.shape(embeddings, out_type=tf.int64)[0]]), UNRANKED),
            tf.stack([rows, tf.cast(top, tf.int64)], -1),
            (top_scores - mean) / std,
        )

        def of(products):
            scores = tf.einsum("bd,bmd->bm", query, tf.gather(embeddings, products))
            return (scores - mean) / std

        return cls(standardized, of)


UNRANKED = -1e5
"""The rank value of a product outside an index's top: below any standardized score."""


def _gather_pairs(
    products, histories, customer_features, product_table, co_purchase, scores: TwoTowerScores
) -> tf.Tensor:
    """`[batch, m, N_FEATURES]` features of the `[batch, m]` products of each customer."""
    shape = tf.shape(products)
    customer = tf.broadcast_to(
        customer_features[:, None, :], tf.concat([shape, [len(CUSTOMER_FEATURES)]], 0)
    )
    return tf.concat(
        [
            histories.of(products, tf.shape(product_table)[0]),
            tf.gather(product_table, products),
            customer,
            tf.gather(co_purchase, products, batch_dims=1),
            scores.of(products)[..., None],
        ],
        axis=-1,
    )


# The cheap signals that nominate never-bought candidates: the two co-purchase signals and the
# two-tower score (the last three pair features), then the product's recent popularity.
CANDIDATE_SIGNALS = ("co_purchase", "co_purchase_recent", "retrieval", "buyers_30d")


@dataclass(frozen=True)
class CandidatePairs:
    """What `candidate_pairs` returns, each `[batch, m]` (features `[batch, m, N_FEATURES]`)."""

    products: tf.Tensor
    """Product indices; the bought ones first, then the nominated never-bought ones."""
    valid: tf.Tensor
    """False on padding (a batch's customers bought different numbers of products)."""
    bought: tf.Tensor
    """1.0 where the customer bought the product before."""
    features: tf.Tensor


def candidate_pairs(
    histories: Histories,
    customer_features: tf.Tensor,
    product_table: tf.Tensor,
    retrieval_scores: tf.Tensor | TwoTowerScores,
    co_purchase: CoPurchase,
    *,
    per_signal: int,
    include_bought: bool = True,
    min_new: int = 0,
) -> CandidatePairs:
    """Each customer's candidates for the scorer and their `pair_features`.

    Candidates are every product the customer bought (unless `include_bought` is False: the
    discovery ranking), then never-bought products: first the union of each signal's top
    `per_signal` (`CANDIDATE_SIGNALS`), filled up by two-tower score to
    `max(len(CANDIDATE_SIGNALS) x per_signal, min_new)` places, or fewer when the catalogue
    has fewer products the customer never bought (the rest is padding, `valid` False).
    Arguments as `pair_features`; `retrieval_scores` may also come from an index
    (`TwoTowerScores.from_index`, whose top must hold that many never-bought products).
    """
    if not isinstance(retrieval_scores, TwoTowerScores):
        retrieval_scores = TwoTowerScores.dense(retrieval_scores)
    retrieval = retrieval_scores.standardized
    n_products = tf.shape(product_table)[0]
    batch = tf.shape(retrieval)[0]
    signals = histories.co_purchase(co_purchase, n_products)
    bought = histories.bought(n_products)
    old, old_valid = histories.held()
    per = tf.minimum(per_signal, n_products)
    # Each co-purchase signal's top `per` never-bought products. Only the set of nominees
    # counts (they are scattered into a mask): unsorted is cheaper. A bought product is
    # moved below every product never bought (an offset, not a broadcast select: cheaper).
    offset = 1.0 + tf.reduce_max(signals) - tf.reduce_min(signals)
    never = tf.transpose(signals, [0, 2, 1]) - tf.cast(bought, signals.dtype)[:, None, :] * offset
    top = tf.math.top_k(never, k=per, sorted=False).indices
    rows = tf.broadcast_to(tf.range(batch)[:, None, None], tf.shape(top))
    popular, popular_taken = _most_popular_never_bought(
        product_table[:, PRODUCT_FEATURES.index("log_buyers_30d")], bought, per,
        tf.shape(old)[1],
    )  # fmt: skip
    popular_rows = tf.broadcast_to(tf.range(batch)[:, None], tf.shape(popular))
    at = [tf.stack([rows, top], -1), tf.stack([popular_rows, popular], -1)]
    nominated = tf.scatter_nd(
        tf.concat([tf.reshape(a, [-1, 2]) for a in at], axis=0),
        tf.concat([tf.ones([tf.size(top)], tf.float32), tf.reshape(popular_taken, [-1])], 0),
        tf.stack([batch, n_products]),
    )
    # Nominated first, the rest by two-tower score; bought products last, they are not valid.
    # The two-tower score's own top `per` needs no ranking of its own: at most
    # `3 x per` others are nominated, so the fill's `per` or more places by two-tower score
    # hold them (each ranks no lower among the products not nominated than among all).
    order = tf.where(bought, -np.inf, tf.cast(nominated > 0, tf.float32) * 1e6 + retrieval)
    places = tf.minimum(tf.maximum(len(CANDIDATE_SIGNALS) * per_signal, min_new), n_products)
    fresh = tf.math.top_k(order, k=places, sorted=False).indices
    fresh_valid = tf.logical_not(tf.gather(bought, fresh, batch_dims=1))
    products, valid = fresh, fresh_valid
    if include_bought:
        # As many places as the batch's most prolific buyer needs, most recent purchase first.
        products = tf.concat([tf.cast(old, fresh.dtype), fresh], axis=1)
        valid = tf.concat([old_valid, fresh_valid], axis=1)
    features = _gather_pairs(
        products, histories, customer_features, product_table, signals, retrieval_scores
    )
    return CandidatePairs(
        products=products,
        valid=valid,
        bought=tf.gather(tf.cast(bought, tf.float32), products, batch_dims=1),
        features=features,
    )


def _most_popular_never_bought(popularity, bought, per, most_bought):
    """Each customer's `per` most popular never-bought products, as `[batch, P]` product
    indices and `[batch, P]` 1.0 where taken (0.0: bought, or past the `per`th).

    Popularity is the same for every customer: the catalogue is ranked once per batch, and a
    customer's nominees are the first `per` of its top `per + most_bought` they never bought,
    the very products `top_k` over each customer's never-bought popularity would pick (of
    equal popularity, the lowest index first), without a `top_k` over the catalogue per row.
    """
    n_products = tf.shape(popularity)[0]
    ranked = tf.math.top_k(popularity, k=tf.minimum(per + most_bought, n_products)).indices
    ranked = tf.broadcast_to(ranked[None], tf.stack([tf.shape(bought)[0], tf.size(ranked)]))
    fresh = tf.logical_not(tf.gather(bought, ranked, batch_dims=1))
    taken = tf.logical_and(fresh, tf.cumsum(tf.cast(fresh, tf.int32), axis=1) <= per)
    return ranked, tf.cast(taken, tf.float32)


def table_candidates(
    table_items, table_item_features, customer_features, product_table, scores, co_purchase,
    *, per_signal: int,
) -> CandidatePairs:  # fmt: skip
    """`candidate_pairs` of customers given by rows of a history table."""
    return candidate_pairs(
        Histories(table_items, table_item_features), customer_features, product_table, scores,
        co_purchase, per_signal=per_signal,
    )  # fmt: skip


class ReorderScorer(keras.Model):
    """MLP over standardized pair features -> one score per pair (`[batch, n_products]`)."""

    def __init__(self, hidden: Sequence[int], *, name: str = "reorder_scorer"):
        super().__init__(name=name)
        self.hidden = [
            keras.layers.Dense(units, activation="relu", name=f"{name}_{i}")
            for i, units in enumerate(hidden)
        ]
        self.out = keras.layers.Dense(1, name=f"{name}_score")
        self.mean = tf.Variable(tf.zeros([N_FEATURES]), trainable=False, name="feature_mean")
        self.std = tf.Variable(tf.ones([N_FEATURES]), trainable=False, name="feature_std")

    def adapt(self, features: np.ndarray) -> None:
        """Standardization constants from a sample of pair features `[..., N_FEATURES]`."""
        flat = np.asarray(features, np.float64).reshape(-1, N_FEATURES)
        self.mean.assign(flat.mean(0).astype(np.float32))
        self.std.assign((flat.std(0) + 1e-6).astype(np.float32))

    def call(self, features, training=False):
        # One reciprocal of the [N_FEATURES] scales, then a product per pair: a division per
        # pair cost the served model about 2% of its time.
        x = (features - self.mean) * tf.math.reciprocal(self.std)
        for layer in self.hidden:
            x = layer(x)
        return tf.squeeze(self.out(x), -1)


@dataclass(frozen=True)
class ScorerWindow:
    """One training window: the state at `cut` and the purchases in the horizon after it."""

    cut: float
    table: HistoryTable
    products: np.ndarray
    similarity: sp.csr_matrix
    """Co-purchase similarity at `cut` (`trainer.history.co_purchase_similarity`)."""
    customers: np.ndarray
    labels: sp.csr_matrix
    """Binary, customers (rows of `customers`) x products bought in the horizon."""


def training_windows(
    purchases: Purchases,
    *,
    end: float,
    horizon_days: float,
    windows: int,
    n_customers: int,
    n_products: int,
    max_items: int,
    neighbors: int,
) -> list[ScorerWindow]:
    """`windows` consecutive horizons ending at `end`, most recent first.

    Only customers with a purchase before the cut and one inside the horizon train; a window
    with none is skipped.
    """
    out = []
    for w in range(windows):
        stop = end - w * horizon_days * DAY
        cut = stop - horizon_days * DAY
        future = purchases.between(cut, stop)
        table = history_table(purchases, cut, n_customers=n_customers, max_items=max_items)
        known = table.items[:, 0] >= 0
        buyers = np.unique(future.customer)
        customers = buyers[known[buyers]]
        if not len(customers):
            continue
        position = np.full(n_customers, -1, np.int64)
        position[customers] = np.arange(len(customers))
        keep = position[future.customer] >= 0
        labels = sp.csr_matrix(
            (
                np.ones(int(keep.sum()), np.float32),
                (position[future.customer[keep]], future.product[keep]),
            ),
            shape=(len(customers), n_products),
        )
        labels.sum_duplicates()
        labels.data[:] = 1.0
        out.append(
            ScorerWindow(
                cut=cut,
                table=table,
                products=product_features(purchases, cut, n_products=n_products),
                similarity=co_purchase_similarity(
                    purchases, cut, n_products=n_products, neighbors=neighbors
                ),
                customers=customers,
                labels=labels,
            )
        )
    return out


def listwise_loss(scores, labels, bought, new_weight: float, valid=None) -> tf.Tensor:
    """Softmax cross-entropy over the candidates, plus `new_weight` times the same over the
    candidates a customer never bought. `valid` (default: all) masks padding out of both. A
    customer none of whose purchases are among the valid candidates adds nothing to the first
    part, and one with no new purchase among them nothing to the second."""
    if valid is not None:
        valid = tf.cast(valid, scores.dtype)
        scores = scores - 1e9 * (1.0 - valid)
        labels = labels * valid
    loss = _mean_softmax_loss(scores, labels)
    if new_weight:
        loss += new_weight * _mean_softmax_loss(scores - 1e9 * bought, labels * (1.0 - bought))
    return loss


def _mean_softmax_loss(scores, labels) -> tf.Tensor:
    """Softmax cross-entropy towards the normalized labels, averaged over rows with a label."""
    total = tf.reduce_sum(labels, 1)
    per_row = tf.nn.softmax_cross_entropy_with_logits(
        labels / tf.maximum(total[:, None], 1e-9), scores
    )
    has_label = total > 0
    count = tf.maximum(tf.reduce_sum(tf.cast(has_label, scores.dtype)), 1.0)
    return tf.reduce_sum(tf.where(has_label, per_row, 0.0)) / count


@dataclass(frozen=True)
class _WindowPairs:
    """Each window customer's valid candidates: features, labels and whether bought, one
    array per customer (`candidate_pairs` without its padding)."""

    features: list[np.ndarray]
    labels: list[np.ndarray]
    bought: list[np.ndarray]

    def batch(self, rows: np.ndarray) -> tuple[tf.Tensor, ...]:
        """`step`'s tensors for the customers `rows`, padded to the longest list."""
        width = max(len(self.labels[r]) for r in rows)
        features = np.zeros([len(rows), width, N_FEATURES], np.float32)
        labels = np.zeros([len(rows), width], np.float32)
        bought = np.zeros([len(rows), width], np.float32)
        valid = np.zeros([len(rows), width], bool)
        for i, r in enumerate(rows):
            n = len(self.labels[r])
            features[i, :n], labels[i, :n], bought[i, :n] = (
                self.features[r],
                self.labels[r],
                self.bought[r],
            )
            valid[i, :n] = True
        return tuple(tf.constant(x) for x in (features, labels, bought, valid))


def _window_pairs(
    window: ScorerWindow, scores: np.ndarray, per_signal: int, chunk: int = 256
) -> _WindowPairs:
    """`candidate_pairs` of every customer of a window, computed `chunk` customers at a time."""
    out = _WindowPairs([], [], [])
    products, co_purchase = tf.constant(window.products), CoPurchase.of(window.similarity)
    for start in range(0, len(window.customers), chunk):
        rows = np.arange(start, min(start + chunk, len(window.customers)))
        customers = window.customers[rows]
        pairs = table_candidates(
            tf.constant(window.table.items[customers]),
            tf.constant(window.table.item_features[customers]),
            tf.constant(window.table.customer_features[customers]),
            products,
            tf.constant(scores[rows].astype(np.float32)),
            co_purchase,
            per_signal=per_signal,
        )
        valid, chosen = pairs.valid.numpy(), pairs.products.numpy()
        features, bought = pairs.features.numpy(), pairs.bought.numpy()
        labels = window.labels[rows].toarray()
        for i in range(len(rows)):
            keep = valid[i]
            out.features.append(features[i, keep])
            out.labels.append(labels[i, chosen[i, keep]])
            out.bought.append(bought[i, keep])
    return out


RetrievalFn = Callable[[HistoryTable, np.ndarray], np.ndarray]
"""(history table, customer indices) -> `[len(customers), n_products]` two-tower scores."""


def fit_scorer(
    scorer: ReorderScorer,
    windows: Sequence[ScorerWindow],
    retrieval_scores: RetrievalFn,
    *,
    epochs: int,
    batch_size: int = 128,
    learning_rate: float = 3e-3,
    new_weight: float = 1.0,
    per_signal: int,
    seed: int = 0,
) -> list[float]:
    """Train the scorer on the windows (`per_signal`: see `candidate_pairs`); returns the mean
    loss of each epoch."""
    if not windows:
        raise ValueError("no training window has customers with purchases on both sides")
    # A customer's candidates and their features depend on the window, not on the scorer:
    # computed once, they serve every epoch.
    pairs = [
        _window_pairs(window, retrieval_scores(window.table, window.customers), per_signal)
        for window in windows
    ]
    rng = np.random.default_rng(seed)
    first = rng.permutation(len(windows[0].customers))[:64]
    scorer.adapt(np.concatenate([pairs[0].features[i] for i in first]))
    optimizer = keras.optimizers.Adam(learning_rate)

    @tf.function(reduce_retracing=True, autograph=False)  # plain TF ops: nothing to convert
    def step(features, labels, bought, valid):
        with tf.GradientTape() as tape:
            scores = scorer(features, training=True)
            loss = listwise_loss(scores, labels, bought, new_weight, valid)
        grads = tape.gradient(loss, scorer.trainable_variables)
        optimizer.apply_gradients(zip(grads, scorer.trainable_variables))
        return loss

    history = []
    for epoch in range(epochs):
        # A batch comes from one window; its customers are padded to the longest candidate list.
        batches = [
            (w, rows[start : start + batch_size])
            for w, window in enumerate(windows)
            for rows in [rng.permutation(len(window.customers))]
            for start in range(0, len(rows), batch_size)
        ]
        losses = [
            float(step(*pairs[w].batch(rows)))
            for w, rows in (batches[j] for j in rng.permutation(len(batches)))
        ]
        history.append(float(np.mean(losses)))
        log.info("re-order scorer epoch %d: loss %.4f", epoch + 1, history[-1])
    return history
