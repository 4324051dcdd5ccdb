"""The serving model: raw JSON-friendly query features in, original product ids and scores out.

The exported SavedModel's `serving_default` signature takes one 1-D tensor per raw query-tower
column (named by the column, dtype from the raw feature spec), applies the Transform graph,
embeds the query and scores it against precomputed candidate embeddings by brute force. It
returns the ORIGINAL product ids read from the candidate-id vocabulary file: the product once
returned vocabulary indices, which mean nothing to a client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf


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


class RetrievalServingModule(tf.Module):
    """Brute-force top-k retrieval over a fixed candidate set, from raw query features.

    Args:
      tft_layer: `TFTransformOutput.transform_features_layer()`.
      query_tower: the trained query tower (transformed features -> embeddings).
      query_feature_names: the transformed features the query tower reads.
      raw_query_spec: `{raw column: tf.io.FixedLenFeature | VarLenFeature}` of the query tower's
        raw columns, from `TFTransformOutput.raw_feature_spec()`.
      candidate_embeddings: `[n_products, dim]`, row i for vocabulary entry i.
      product_ids: `[n_products]` original ids (the candidate-id vocabulary file, line i).
      top_k: how many products to return (capped at the number of candidates).
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
        self.product_ids = tf.Variable(
            tf.constant([p if isinstance(p, bytes) else p.encode() for p in product_ids]),
            trainable=False,
        )
        self.k = min(int(top_k), len(product_ids))
        signature = {
            name: tf.TensorSpec([None], spec.dtype, name=name)
            for name, spec in self._raw_query_spec.items()
        }
        self.serve = tf.function(self._serve, input_signature=[signature])

    def _serve(self, features: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        raw = {
            name: _to_raw_input(features[name], spec) for name, spec in self._raw_query_spec.items()
        }
        # TFT prunes its graph to the outputs computable from the inputs given: the candidate
        # features are not requested here, so their raw columns are not needed.
        transformed = self.tft_layer(raw)
        query = self.query_tower(
            {name: transformed[name] for name in self._query_feature_names}, training=False
        )
        scores = tf.linalg.matmul(query, self.candidate_embeddings, transpose_b=True)
        top = tf.math.top_k(scores, k=self.k)
        return {
            "product_ids": tf.gather(self.product_ids, top.indices),
            "scores": tf.cast(top.values, tf.float32),
        }


def export_serving_model(module: RetrievalServingModule, export_dir: str) -> None:
    """Save `module` as a SavedModel whose `serving_default` is `module.serve`."""
    tf.saved_model.save(
        module,
        export_dir,
        signatures={"serving_default": module.serve.get_concrete_function()},
    )
