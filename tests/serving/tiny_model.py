"""A tiny SavedModel with the serving signatures' shape and known answers."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf

CATALOGUE = ["P-A", "P-B", "P-C"]


class TinyRecommender(tf.Module):
    """Scores the catalogue by customer id length and a numeric feature: known answers."""

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="customer_id"),
        tf.TensorSpec([None], tf.float32, name="revenue"),
    ])  # fmt: skip
    def serve(self, customer_id, revenue):
        base = tf.cast(tf.strings.length(customer_id), tf.float32) + revenue
        scores = base[:, None] * tf.constant([[3.0, 2.0, 1.0]])
        ids = tf.tile(tf.constant([CATALOGUE]), [tf.shape(customer_id)[0], 1])
        return {"product_ids": ids, "scores": scores}

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="customer_id"),
        tf.TensorSpec([None, None], tf.string, name="history"),
    ])  # fmt: skip
    def with_history(self, customer_id, history):
        """Scores each product by how often the history lists it."""
        counts = tf.reduce_sum(
            tf.cast(history[:, :, None] == tf.constant(CATALOGUE)[None, None, :], tf.float32), 1
        )
        ids = tf.tile(tf.constant([CATALOGUE]), [tf.shape(customer_id)[0], 1])
        return {"product_ids": ids, "scores": counts}


def save_tiny_model(path: Path) -> Path:
    """Save the tiny model at `path` with both signatures; returns `path`."""
    module = TinyRecommender()
    tf.saved_model.save(
        module,
        str(path),
        signatures={"serving_default": module.serve, "with_history": module.with_history},
    )
    return path
