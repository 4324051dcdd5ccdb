"""Tiny SavedModels whose answers name the version they are: two versions of one endpoint can be
told apart by what they recommend, not only by what a router says."""

from __future__ import annotations

from pathlib import Path

import tensorflow as tf


def catalogue(tag: str) -> list[str]:
    return [f"P-{tag}-A", f"P-{tag}-B"]


class _Versioned(tf.Module):
    def __init__(self, tag: str):
        super().__init__()
        self.products = tf.constant(catalogue(tag))

    @tf.function(input_signature=[
        tf.TensorSpec([None], tf.string, name="customer_id"),
        tf.TensorSpec([None], tf.float32, name="revenue"),
    ])  # fmt: skip
    def serve(self, customer_id, revenue):
        rows = tf.shape(customer_id)[0]
        scores = (revenue[:, None] + 1.0) * tf.constant([[2.0, 1.0]])
        return {"product_ids": tf.tile(self.products[None, :], [rows, 1]), "scores": scores}


def save_versioned_model(path: Path, tag: str) -> Path:
    """A SavedModel at `path` recommending `catalogue(tag)` to everyone; returns `path`."""
    module = _Versioned(tag)
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path
