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

and its output ranks the whole catalogue. It is trained listwise (softmax over every product)
on "next-horizon" windows cut from the train split: features from the purchases before a
cut-off, labels from the purchases in the `horizon_days` after it. A second softmax over only
the products the customer never bought trains the discovery ranking (mode "new").

`pair_features` is a TensorFlow function used both in training and inside the exported serving
model, so the features cannot drift between them.
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


def sparse_tensor(matrix: sp.spmatrix) -> tf.SparseTensor:
    """A SciPy sparse matrix as a `tf.SparseTensor` in canonical (row-major) order."""
    coo = sp.coo_matrix(matrix)
    order = np.lexsort((coo.col, coo.row))
    return tf.SparseTensor(
        indices=np.stack([coo.row[order], coo.col[order]], 1).astype(np.int64),
        values=coo.data[order].astype(np.float32),
        dense_shape=np.asarray(coo.shape, np.int64),
    )


def co_purchase_scores(weights: tf.Tensor, similarity: tf.SparseTensor) -> tf.Tensor:
    """`[..., n_products]`: each row of product weights (e.g. 0/1 bought) times `similarity`."""
    shape = tf.shape(weights)
    rows = tf.reshape(weights, [-1, shape[-1]])
    # (w S)^T = S^T w^T: the sparse operand must come first.
    transposed = tf.sparse.sparse_dense_matmul(similarity, rows, adjoint_a=True, adjoint_b=True)
    return tf.reshape(tf.transpose(transposed), shape)


def scatter_history(items: tf.Tensor, item_features: tf.Tensor, n_products) -> tf.Tensor:
    """`[batch, n_products, len(ITEM_FEATURES)]`: each history item's features at its product,
    zeros elsewhere. `items` `[batch, H]` holds distinct product indices per row, -1 padding."""
    batch = tf.shape(items, out_type=tf.int64)[0]
    valid = tf.where(items >= 0)
    return tf.scatter_nd(
        tf.stack([valid[:, 0], tf.gather_nd(items, valid)], axis=1),
        tf.gather_nd(item_features, valid),
        tf.stack([batch, tf.cast(n_products, tf.int64), len(ITEM_FEATURES)]),
    )


def pair_features(
    history: tf.Tensor,
    customer_features: tf.Tensor,
    product_table: tf.Tensor,
    retrieval_scores: tf.Tensor,
    similarity: tf.SparseTensor,
) -> tf.Tensor:
    """`[batch, n_products, N_FEATURES]` features of every product for each customer.

    Args:
      history: `[batch, n_products, len(ITEM_FEATURES)]` (`scatter_history`).
      customer_features: `[batch, len(CUSTOMER_FEATURES)]`.
      product_table: `[n_products, len(PRODUCT_FEATURES)]`.
      retrieval_scores: `[batch, n_products]` two-tower scores.
      similarity: `[n_products, n_products]` sparse co-purchase similarity.
    """
    batch = tf.shape(history)[0]
    n_products = tf.shape(product_table)[0]
    mean, variance = tf.nn.moments(retrieval_scores, axes=[1], keepdims=True)
    retrieval = (retrieval_scores - mean) / tf.sqrt(variance + 1e-6)
    product = tf.broadcast_to(
        product_table[None], tf.stack([batch, n_products, len(PRODUCT_FEATURES)])
    )
    customer = tf.broadcast_to(
        customer_features[:, None, :], tf.stack([batch, n_products, len(CUSTOMER_FEATURES)])
    )
    bought = history[..., ITEM_FEATURES.index("bought")]
    recent = tf.math.expm1(history[..., ITEM_FEATURES.index("log_decayed_30d")])
    # Bought with anything the customer bought, and with what they bought lately.
    co_purchase = tf.math.log1p(co_purchase_scores(tf.stack([bought, recent], 0), similarity))
    return tf.concat(
        [history, product, customer, tf.transpose(co_purchase, [1, 2, 0]), retrieval[..., None]],
        axis=-1,
    )


def table_features(
    table_items, table_item_features, customer_features, product_table, scores, similarity
):
    """`pair_features` of customers given by rows of a history table."""
    history = scatter_history(table_items, table_item_features, tf.shape(product_table)[0])
    return pair_features(history, customer_features, product_table, scores, similarity)


class ReorderScorer(keras.Model):
    """MLP over standardized pair features -> one score per pair (`[batch, n_products]`)."""

    def __init__(self, hidden: Sequence[int] = (64, 32), *, name: str = "reorder_scorer"):
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
        x = (features - self.mean) / self.std
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


def listwise_loss(scores, labels, bought, new_weight: float) -> tf.Tensor:
    """Softmax cross-entropy over the catalogue, plus `new_weight` times the same over the
    products a customer never bought (customers with no new purchase add nothing to it)."""
    targets = labels / tf.maximum(tf.reduce_sum(labels, 1, keepdims=True), 1e-9)
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(targets, scores))
    if new_weight:
        fresh = labels * (1.0 - bought)
        has_fresh = tf.reduce_sum(fresh, 1) > 0
        targets = fresh / tf.maximum(tf.reduce_sum(fresh, 1, keepdims=True), 1e-9)
        masked = scores - 1e9 * bought
        per_row = tf.nn.softmax_cross_entropy_with_logits(targets, masked)
        per_row = tf.where(has_fresh, per_row, 0.0)
        count = tf.maximum(tf.reduce_sum(tf.cast(has_fresh, tf.float32)), 1.0)
        loss += new_weight * tf.reduce_sum(per_row) / count
    return loss


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
    seed: int = 0,
) -> list[float]:
    """Train the scorer on the windows; returns the mean loss of each epoch."""
    if not windows:
        raise ValueError("no training window has customers with purchases on both sides")
    pieces = [
        (
            window,
            retrieval_scores(window.table, window.customers).astype(np.float32),
            sparse_tensor(window.similarity),
        )
        for window in windows
    ]

    def batch_tensors(w: int, rows: np.ndarray):
        # A batch comes from one window, so it shares that window's product tables.
        window, scores, similarity = pieces[w]
        customers = window.customers[rows]
        return (
            tf.constant(window.table.items[customers]),
            tf.constant(window.table.item_features[customers]),
            tf.constant(window.table.customer_features[customers]),
            tf.constant(window.products),
            tf.constant(scores[rows]),
            similarity,
            tf.constant(window.labels[rows].toarray()),
        )

    rng = np.random.default_rng(seed)
    first = batch_tensors(0, rng.permutation(len(windows[0].customers))[:64])
    scorer.adapt(table_features(*first[:6]).numpy())
    optimizer = keras.optimizers.Adam(learning_rate)
    bought_index = ITEM_FEATURES.index("bought")

    @tf.function(reduce_retracing=True, autograph=False)  # plain TF ops: nothing to convert
    def step(items, feats, cust, prods, retr, similarity, labels):
        x = table_features(items, feats, cust, prods, retr, similarity)
        with tf.GradientTape() as tape:
            scores = scorer(x, training=True)
            loss = listwise_loss(scores, labels, x[..., bought_index], new_weight)
        grads = tape.gradient(loss, scorer.trainable_variables)
        optimizer.apply_gradients(zip(grads, scorer.trainable_variables))
        return loss

    history = []
    for epoch in range(epochs):
        batches = [
            (w, rows[start : start + batch_size])
            for w, (window, _, _) in enumerate(pieces)
            for rows in [rng.permutation(len(window.customers))]
            for start in range(0, len(rows), batch_size)
        ]
        losses = [float(step(*batch_tensors(*batches[j]))) for j in rng.permutation(len(batches))]
        history.append(float(np.mean(losses)))
        log.info("re-order scorer epoch %d: loss %.4f", epoch + 1, history[-1])
    return history
