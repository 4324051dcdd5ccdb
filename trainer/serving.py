"""The serving model: raw JSON-friendly query features in, original product ids and scores out.

The exported SavedModel's `serving_default` signature takes one 1-D tensor per raw query-tower
column (named by the column, dtype from the raw feature spec), applies the Transform graph,
embeds the query and scores it against precomputed candidate embeddings, by brute force or with
a ScaNN index (`trainer.scann_index`; `ModelConfig.retrieval`). It returns the ORIGINAL product
ids read from the candidate-id vocabulary file: the product once returned vocabulary indices,
which mean nothing to a client.

A model with purchase histories ranks a customer from the history it holds, frozen at export,
so a known customer's answer is fixed by their query features: with `StoredQueries` it stores
every known customer's `serving_default` and `discover` answers for their latest query,
computed at export by the function that computes a request, and answers a request that is that
query from the store (a gather instead of the re-order scorer's few hundred ops). Any other
request (a new customer, other query features, an explicit `with_history`) is computed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from specs import HistoryFeature, ReorderConfig, history_names
from specs.model import ScannRetrieval
from trainer.history import CUSTOMER_FEATURES, DECAY_DAYS, ITEM_FEATURES, HistoryTable
from trainer.reorder import (
    CANDIDATE_SIGNALS,
    CoPurchase,
    Histories,
    TwoTowerScores,
    candidate_pairs,
)
from trainer.scann_index import SAVE_OPTIONS, build_scann_index, scann_parameters

log = logging.getLogger(__name__)

MATERIALIZE_BATCH = 512
"""Customers per call when the stored answers are computed at export."""


def _dtype(values: np.ndarray) -> tf.DType:
    return tf.string if np.asarray(values).dtype.kind in "OSU" else tf.as_dtype(values.dtype)


def _to_raw_input(values: tf.Tensor, spec) -> tf.Tensor | tf.SparseTensor:
    """A 1-D request tensor in the form the Transform graph was traced with."""
    if isinstance(spec, tf.io.VarLenFeature):
        batch = tf.shape(values, out_type=tf.int64)[0]
        rows = tf.range(batch, dtype=tf.int64)
        return tf.SparseTensor(
            indices=tf.stack([rows, tf.zeros_like(rows)], axis=1),
            values=values,
            dense_shape=tf.stack([batch, tf.constant(1, tf.int64)]),
        )
    shape = list(spec.shape)
    if shape == []:
        return values
    if shape == [1]:
        return tf.expand_dims(values, -1)
    raise ValueError(f"raw feature spec {spec} is not scalar per row; cannot serve it from JSON")


@dataclass(frozen=True)
class ServingHistory:
    """What the serving model knows of each known customer, as of the end of training.

    Row `i` describes customer vocabulary index `i` (`trainer.history.HistoryTable`); the model
    appends an empty row for customers it does not know. `product_table` is
    `trainer.history.product_features` at the same time, `similarity` the co-purchase
    similarity (`trainer.history.co_purchase_similarity`), `scorer` the trained re-order scorer
    (None: rank by the two-tower score alone). `explicit_age_days` is how long ago a product
    listed in a request's explicit `history` counts as bought (requests carry no dates).
    `candidates_per_signal` is the scorer's `trainer.reorder.candidate_pairs` setting.
    """

    feature: HistoryFeature
    customer_id: str
    table: HistoryTable
    product_table: np.ndarray
    similarity: sp.csr_matrix
    scorer: tf.keras.Model | None
    explicit_age_days: float
    candidates_per_signal: int = ReorderConfig.model_fields["candidates"].default
    stored_queries: StoredQueries | None = None
    """Given, the model stores each known customer's answers for these queries
    (`RetrievalServingModule` materializes them when it is built)."""


@dataclass(frozen=True)
class StoredQueries:
    """Each known customer's query-tower inputs other than the history and the customer id,
    transformed, as of their latest train row: `features[name][i]` is customer vocabulary
    index i's value. `known[i]` is False for a customer without a train row; their requests
    are always computed."""

    features: Mapping[str, np.ndarray]
    known: np.ndarray


@dataclass(frozen=True)
class ServingRatings:
    """The rating head of a ranking or multitask model (`TwoTowerModel.rating_head`).

    `rank_by_rating`: rank products by predicted target (ranking models); otherwise the
    retrieval score ranks them and the predicted targets of the answer come as `ratings`.
    `sigmoid`: the head outputs logits (a "bce" model), served as probabilities.
    """

    head: tf.keras.Model
    rank_by_rating: bool
    sigmoid: bool


class RetrievalServingModule(tf.Module):
    """Top-k products over a fixed candidate set, from raw query features.

    Args:
      tft_layer: `TFTransformOutput.transform_features_layer()`.
      query_tower: the trained query tower (transformed features -> embeddings).
      query_feature_names: the transformed features the query tower reads.
      raw_query_spec: `{raw column: tf.io.FixedLenFeature | VarLenFeature}` of the query tower's
        raw columns, from `TFTransformOutput.raw_feature_spec()`.
      candidate_embeddings: `[n_products, dim]`, row i for vocabulary entry i.
      product_ids: `[n_products]` original ids (the candidate-id vocabulary file, line i).
      top_k: how many products to return (capped at the number of candidates).
      history: the customers' purchase history and the re-order scorer (`ServingHistory`); with
        it the model also exports the signatures `discover` (products the customer has not
        bought) and `with_history` (an explicit list of product ids replaces the stored one).
      ratings: the rating head of a ranking or multitask model (`ServingRatings`). A ranking
        model ranks by predicted target; a multitask model ranks by the retrieval score and
        answers each product's predicted target as `ratings` too.
      scann: find the top two-tower scores with a ScaNN index of the candidate embeddings
        instead of scoring every product (`trainer.scann_index`); its resolved settings are
        `scann_settings`. Not for a ranking model, which ranks by its rating head.
    """

    def __init__(
        self,
        *,
        tft_layer: tf.keras.Model,
        query_tower: tf.keras.Model,
        query_feature_names: Sequence[str],
        raw_query_spec: Mapping[str, tf.io.FixedLenFeature | tf.io.VarLenFeature],
        candidate_embeddings: np.ndarray,
        product_ids: Sequence[bytes | str],
        top_k: int,
        history: ServingHistory | None = None,
        ratings: ServingRatings | None = None,
        scann: ScannRetrieval | None = None,
    ) -> None:
        super().__init__()
        if len(product_ids) != len(candidate_embeddings):
            raise ValueError(
                f"{len(product_ids)} product ids for {len(candidate_embeddings)} embeddings"
            )
        self.tft_layer = tft_layer
        self.query_tower = query_tower
        self._query_feature_names = list(query_feature_names)
        self._raw_query_spec = dict(raw_query_spec)
        # Variables, not constants: a large catalogue would overflow the 2 GB graph proto.
        self.candidate_embeddings = tf.Variable(
            np.asarray(candidate_embeddings, dtype=np.float32), trainable=False
        )
        encoded = [p if isinstance(p, bytes) else p.encode() for p in product_ids]
        self.product_ids = tf.Variable(tf.constant(encoded), trainable=False)
        self.k = min(int(top_k), len(product_ids))
        self.ratings = ratings
        # An attribute of the module, so that the SavedModel tracks the head's variables.
        self.rating_head = ratings.head if ratings is not None else None
        signature = {
            name: tf.TensorSpec([None], spec.dtype, name=name)
            for name, spec in self._raw_query_spec.items()
        }
        self._history = history
        self.scann = self.scann_settings = None
        self.stored_queries = None
        if scann is not None:
            if ratings is not None and ratings.rank_by_rating:
                raise ValueError("a ranking model ranks every product by its rating head: no ScaNN")
            self._index(np.asarray(candidate_embeddings, np.float32), scann, history)
        if history is None:
            self.serve = tf.function(self._serve, input_signature=[signature], autograph=False)
            return
        self._history_names = history_names(history.feature)
        table = history.table
        n_customers = table.items.shape[0]
        # One extra, empty row: where every customer the model does not know is looked up.
        self.history_items = tf.Variable(
            np.concatenate([table.items, np.full((1, table.max_items), -1)]), trainable=False
        )
        self.history_item_features = tf.Variable(
            np.concatenate(
                [table.item_features, np.zeros((1, *table.item_features.shape[1:]))]
            ).astype(np.float32),
            trainable=False,
        )
        self.history_weights = tf.Variable(
            np.concatenate([table.weights, np.zeros((1, table.max_items))]).astype(np.float32),
            trainable=False,
        )
        self.customer_features = tf.Variable(
            np.concatenate([table.customer_features, np.zeros((1, len(CUSTOMER_FEATURES)))]).astype(
                np.float32
            ),
            trainable=False,
        )
        self.product_table = tf.Variable(history.product_table.astype(np.float32), trainable=False)
        neighbors, weights = CoPurchase.lists(history.similarity)
        self.co_purchase_neighbors = tf.Variable(neighbors, trainable=False)
        self.co_purchase_weights = tf.Variable(weights, trainable=False)
        self.n_customers = n_customers
        self.scorer = history.scorer
        self.product_index = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(encoded), tf.range(len(encoded), dtype=tf.int64)
            ),
            default_value=-1,
        )
        self.explicit_age_days = float(history.explicit_age_days)
        self.candidates_per_signal = int(history.candidates_per_signal)
        self.pooled_items = min(history.feature.max_items, table.max_items)
        if history.stored_queries is not None:
            self._materialize(history.stored_queries)
        self.serve = tf.function(
            lambda features: self._serve_stored(features, exclude_bought=False),
            input_signature=[signature],
            autograph=False,
        )
        self.discover = tf.function(
            lambda features: self._serve_stored(features, exclude_bought=True),
            input_signature=[signature],
            autograph=False,
        )
        with_history = dict(signature)
        with_history["history"] = tf.TensorSpec([None, None], tf.string, name="history")
        self.serve_with_history = tf.function(
            self._serve_explicit, input_signature=[with_history], autograph=False
        )

    def _index(self, embeddings: np.ndarray, spec: ScannRetrieval, history) -> None:
        """The ScaNN index, asked for as many neighbours as the model's rankings need: k; k
        more than a customer's history when bought products are left out; and for the
        re-order scorer its candidates' places plus the history (`candidate_pairs`)."""
        n = len(embeddings)
        needed = self.k
        if history is not None:
            width = min(n, history.table.max_items)
            needed = self.k + width
            if history.scorer is not None:
                places = max(len(CANDIDATE_SIGNALS) * history.candidates_per_signal, self.k)
                needed = places + width
        self.scann_k = min(n, needed)
        self.scann_settings = scann_parameters(spec, n, self.scann_k)
        self.scann = build_scann_index(embeddings, self.scann_settings, self.scann_k)
        # Every customer's mean and variance of scores over the catalogue come from these
        # (`TwoTowerScores.from_index`): the scorer's features without scoring every product.
        centred = embeddings.astype(np.float64) - embeddings.mean(0, dtype=np.float64)
        self.embedding_mean = tf.Variable(embeddings.mean(0, dtype=np.float64).astype(np.float32),
                                          trainable=False)  # fmt: skip
        self.embedding_covariance = tf.Variable(
            (centred.T @ centred / n).astype(np.float32), trainable=False
        )

    def _search(self, query: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        """`[batch, scann_k]` scores and product indices from the index, best first."""
        scores, indices = self.scann(query, k=self.scann_k)
        # ScaNN's ops leave the shapes unknown; the signatures' outputs should say them.
        shape = tf.TensorShape([query.shape[0], self.scann_k])
        return tf.ensure_shape(scores, shape), tf.ensure_shape(indices, shape)

    def _index_top(self, query: tf.Tensor, bought: tf.Tensor | None = None):
        """The top k by two-tower score from the index; `bought` `[batch, n]` left out."""
        scores, indices = self._search(query)
        if bought is not None:
            scores = tf.where(
                tf.gather(bought, indices, batch_dims=1), tf.constant(-np.inf, scores.dtype), scores
            )
        return self._top(scores, query, indices)

    def signatures(self) -> dict[str, tf.types.experimental.ConcreteFunction]:
        """The SavedModel's signatures: `serving_default`, plus `discover` and `with_history`
        when the model knows purchase histories."""
        out = {"serving_default": self.serve.get_concrete_function()}
        if self._history is not None:
            out["discover"] = self.discover.get_concrete_function()
            out["with_history"] = self.serve_with_history.get_concrete_function()
        return out

    def _transform(self, features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        raw = {
            name: _to_raw_input(features[name], spec) for name, spec in self._raw_query_spec.items()
        }
        # TFT prunes its graph to the outputs computable from the inputs given: the candidate
        # features are not requested here, so their raw columns are not needed.
        return self.tft_layer(raw)

    def _rate(self, query: tf.Tensor, candidates: tf.Tensor) -> tf.Tensor:
        """`[batch, m]` predicted targets of each query with its `[batch, m, dim]` candidates."""
        ratings = self.ratings

        def one_query(pair):
            q, c = pair
            x = tf.concat([tf.broadcast_to(q[None], tf.shape(c)), c], axis=-1)
            out = tf.squeeze(self.rating_head(x, training=False), -1)
            return tf.sigmoid(out) if ratings.sigmoid else out

        # One query at a time: the head reads [m, 2 x dim], never [batch, m, 2 x dim].
        return tf.map_fn(one_query, (query, candidates), fn_output_signature=tf.float32)

    def _base_scores(self, query: tf.Tensor) -> tf.Tensor:
        """Every product's score for each query: predicted target (ranking) or dot product."""
        if self.ratings is not None and self.ratings.rank_by_rating:
            batch = tf.shape(query)[0]
            every = tf.broadcast_to(
                self.candidate_embeddings[None],
                tf.concat([[batch], tf.shape(self.candidate_embeddings)], 0),
            )
            return self._rate(query, every)
        return tf.linalg.matmul(query, self.candidate_embeddings, transpose_b=True)

    def _top(
        self, scores: tf.Tensor, query: tf.Tensor, products: tf.Tensor | None = None
    ) -> dict[str, tf.Tensor]:
        """The top k of `scores`, which are the catalogue's or, given `products` (`[batch, m]`
        product indices), those products'."""
        top = tf.math.top_k(scores, k=self.k)
        chosen = top.indices
        if products is not None:
            chosen = tf.gather(products, chosen, batch_dims=1)
        out = {
            "product_ids": tf.gather(self.product_ids, chosen),
            "scores": tf.cast(top.values, tf.float32),
        }
        if self.ratings is not None and not self.ratings.rank_by_rating:
            out["ratings"] = self._rate(query, tf.gather(self.candidate_embeddings, chosen))
        return out

    def _serve(self, features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        transformed = self._transform(features)
        query = self.query_tower(
            {name: transformed[name] for name in self._query_feature_names}, training=False
        )
        if self.scann is not None:
            return self._index_top(query)
        return self._top(self._base_scores(query), query)

    def _score(self, transformed, items, weights, histories, customer, exclude_bought: bool):
        inputs = {
            name: transformed[name]
            for name in self._query_feature_names
            if name not in self._history_names
        }
        inputs[self._history_names[0]] = items
        inputs[self._history_names[1]] = weights
        query = self.query_tower(inputs, training=False)
        n_products = tf.shape(self.product_table)[0]
        if self.scann is not None and self.scorer is None:
            bought = histories.bought(n_products) if exclude_bought else None
            return self._index_top(query, bought)
        if self.scann is not None:
            index_scores, top = self._search(query)
            scores = TwoTowerScores.from_index(
                query, self.candidate_embeddings,
                (self.embedding_mean, self.embedding_covariance), top, index_scores,
            )  # fmt: skip
        else:
            scores = self._base_scores(query)
        if self.scorer is None:
            if exclude_bought:
                bought = histories.bought(n_products)
                scores = tf.where(bought, tf.constant(-np.inf, scores.dtype), scores)
            return self._top(scores, query)
        co_purchase = CoPurchase(self.co_purchase_neighbors, self.co_purchase_weights)
        # Discovery ranks only never-bought candidates; there are always k places for them.
        pairs = candidate_pairs(
            histories, customer, self.product_table, scores, co_purchase,
            per_signal=self.candidates_per_signal, include_bought=not exclude_bought,
            min_new=self.k,
        )  # fmt: skip
        # Only real candidates are scored: a batch's rows are padded to its longest history.
        real = tf.where(pairs.valid)
        scored = tf.scatter_nd(
            real, self.scorer(tf.gather_nd(pairs.features, real), training=False),
            tf.shape(pairs.valid, out_type=tf.int64),
        )  # fmt: skip
        scored = tf.where(pairs.valid, scored, tf.constant(-np.inf, scored.dtype))
        return self._top(scored, query, pairs.products)

    def _row(self, transformed) -> tf.Tensor:
        """Each request's row of the customer tables; the empty last row for customers the
        model does not know (vocabulary indices at or past the table are OOV buckets)."""
        customer = tf.cast(transformed[self._history.customer_id], tf.int64)
        return tf.where(customer < self.n_customers, customer, self.n_customers)

    def _serve_stored(self, features, exclude_bought: bool):
        transformed = self._transform(features)
        if self.stored_queries is None:
            return self._answer_stored(transformed, exclude_bought)
        row = self._row(transformed)
        stored = self.stored_discover if exclude_bought else self.stored_default
        hit = self._is_stored_query(transformed, row)

        def computing_the_others():
            # Only the requests that are not their customer's stored query are computed.
            others = tf.where(tf.logical_not(hit))
            inputs = {*self.stored_queries, self._history.customer_id}
            computed = self._answer_stored(
                {name: tf.gather_nd(transformed[name], others) for name in inputs},
                exclude_bought,
            )
            return {
                name: tf.tensor_scatter_nd_update(answer, others, computed[name])
                for name, answer in self._stored_answers(stored, row).items()
            }

        return tf.cond(
            tf.reduce_all(hit), lambda: self._stored_answers(stored, row), computing_the_others
        )

    def _is_stored_query(self, transformed, row) -> tf.Tensor:
        """`[batch]` True where the request's query features are its customer's stored ones."""
        same = tf.gather(self.stored_known, row)
        for name, table in self.stored_queries.items():
            value, kept = transformed[name], tf.gather(table, row)
            if not isinstance(value, tf.Tensor) or (value.dtype == tf.string) != (
                kept.dtype == tf.string
            ):
                raise ValueError(f"query feature {name!r}: the Transform layer gives "
                                 f"{value!r}; the stored queries hold {table.dtype.name}")  # fmt: skip
            batch = tf.shape(value)[0]
            equal = tf.equal(tf.reshape(value, [batch, -1]),
                             tf.reshape(tf.cast(kept, value.dtype), [batch, -1]))  # fmt: skip
            same = tf.logical_and(same, tf.reduce_all(equal, axis=1))
        return same

    def _stored_answers(self, stored, row) -> dict[str, tf.Tensor]:
        out = {name: tf.gather(values, row) for name, values in stored.items()}
        out["product_ids"] = tf.gather(self.product_ids, out.pop("product_index"))
        return out

    def _materialize(self, queries: StoredQueries) -> None:
        """Every known customer's answers of `serving_default` and `discover`, computed now by
        the very function that computes a request's (`_answer_stored`), a batch at a time."""
        n = self.n_customers
        if not n:
            return
        # Row i is customer index i: the customer id needs no storing, it picks the row.
        customer = self._history.customer_id
        columns = {customer: np.arange(n, dtype=np.int64), **queries.features}
        needed = sorted(set(self._query_feature_names) - set(self._history_names))
        missing = sorted(set(needed) - set(columns))
        if missing:
            raise ValueError(f"stored queries lack the query features {missing}")
        if len(queries.known) != n:
            raise ValueError(f"stored queries: {len(queries.known)} customers, the table {n}")

        def with_empty_row(values: np.ndarray) -> np.ndarray:
            values = np.asarray(values)
            empty = np.full_like(values[:1], b"" if _dtype(values) == tf.string else 0)
            return np.concatenate([values[:n], empty])

        self.stored_queries = {
            name: tf.Variable(with_empty_row(columns[name]), trainable=False) for name in needed
        }
        inputs = sorted({*needed, customer})
        specs = {
            name: tf.TensorSpec([None, *np.shape(columns[name])[1:]], _dtype(columns[name]))
            for name in inputs
        }
        self.stored_known = tf.Variable(
            np.append(np.asarray(queries.known, bool), False), trainable=False
        )
        index = {p: i for i, p in enumerate(self.product_ids.numpy())}
        for exclude_bought in (False, True):
            # One trace: any number of rows (the last batch is shorter).
            compute = tf.function(
                lambda features, exclude=exclude_bought: self._answer_stored(features, exclude),
                input_signature=[specs],
                autograph=False,
            )
            started, parts = time.perf_counter(), []
            for start in range(0, n, MATERIALIZE_BATCH):
                rows = slice(start, start + MATERIALIZE_BATCH)
                out = compute({name: columns[name][rows] for name in inputs})
                parts.append({name: value.numpy() for name, value in out.items()})
            answers = {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
            answers["product_index"] = np.vectorize(index.__getitem__, otypes=[np.int32])(
                answers.pop("product_ids")
            )
            stored = {
                name: tf.Variable(with_empty_row(values), trainable=False)
                for name, values in answers.items()
            }
            if exclude_bought:
                self.stored_discover = stored
            else:
                self.stored_default = stored
            log.info("stored the %s answers of %d customers in %.1f s",
                     "discover" if exclude_bought else "serving_default", n,
                     time.perf_counter() - started)  # fmt: skip

    def _answer_stored(self, transformed, exclude_bought: bool):
        """The ranking for transformed query features, with the customers' stored history."""
        row = self._row(transformed)
        items = tf.gather(self.history_items, row)
        histories = Histories(items, tf.gather(self.history_item_features, row))
        # The query tower pools the most recent `max_items`; the scorer sees the whole table.
        return self._score(
            transformed,
            items[:, : self.pooled_items],
            tf.gather(self.history_weights, row)[:, : self.pooled_items],
            histories,
            tf.gather(self.customer_features, row),
            exclude_bought,
        )

    def _serve_explicit(self, features):
        """Rank for an explicit history: product ids, repeats counting as repeat purchases,
        "" as padding. Unknown ids are ignored."""
        transformed = self._transform({k: v for k, v in features.items() if k != "history"})
        items = self.product_index.lookup(features["history"])
        history, customer, weights = explicit_history(
            items, tf.shape(self.product_table)[0], self.explicit_age_days
        )
        return self._score(
            transformed, items, weights, Histories.from_dense(history), customer,
            exclude_bought=False,
        )  # fmt: skip


def explicit_history(items: tf.Tensor, n_products, age_days: float):
    """Dense history features, customer features and pooling weights of explicit histories.

    `items` `[batch, L]` are product indices (-1: padding or unknown). Each listed product
    counts one basket per occurrence, all bought `age_days` ago: a request carries no dates.
    Mirrors `trainer.history.history_table` for that case.
    """
    batch = tf.shape(items, out_type=tf.int64)[0]
    valid = tf.where(items >= 0)
    counts = tf.scatter_nd(
        tf.stack([valid[:, 0], tf.gather_nd(items, valid)], axis=1),
        tf.ones([tf.shape(valid)[0]], tf.float32),
        tf.stack([batch, tf.cast(n_products, tf.int64)]),
    )
    bought = tf.cast(counts > 0, tf.float32)
    baskets = tf.reduce_max(counts, axis=1, keepdims=True)
    columns = {
        "bought": bought,
        "log_baskets": tf.math.log1p(counts),
        "log_days_since_last": bought * float(np.log1p(age_days)),
        # Requests carry no dates: every listed product counts as in the latest basket.
        "log_baskets_since": tf.zeros_like(counts),
        "log_due_ratio": tf.zeros_like(counts),
        "repeat_buyer": tf.cast(counts >= 2, tf.float32),
        "basket_share": counts / tf.maximum(baskets, 1.0),
    }
    for days in DECAY_DAYS:
        columns[f"log_decayed_{int(days)}d"] = tf.math.log1p(
            counts * float(np.exp(-age_days / days))
        )
    history = tf.stack([columns[name] for name in ITEM_FEATURES], axis=-1)
    distinct = tf.reduce_sum(bought, axis=1)
    known = tf.cast(distinct > 0, tf.float32)
    customer = tf.stack(
        [
            tf.math.log1p(baskets[:, 0]),
            known * float(np.log1p(age_days)),
            tf.math.log1p(distinct),
        ],
        axis=1,
    )
    weights = tf.where(items >= 0, 1.0, 0.0)
    return history, customer, weights


def export_serving_model(module: RetrievalServingModule, export_dir: str) -> None:
    """Save `module` as a SavedModel whose `serving_default` is `module.serve` (ScaNN's op
    namespace allowed: a model with an index holds its ops)."""
    tf.saved_model.save(module, export_dir, signatures=module.signatures(), options=SAVE_OPTIONS)
