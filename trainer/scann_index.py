"""The ScaNN index of a serving model: its parameters, how it is built and how it is saved.

A model whose `ModelConfig.retrieval` is `ScannRetrieval` finds its top two-tower scores with
a ScaNN index (`tfrs.layers.factorized_top_k.ScaNN`) saved inside the serving SavedModel. The
index's ops live in ScaNN's op namespace ("Scann"): saving needs `SAVE_OPTIONS`, and a process
must register the ops before it loads such a model (`serving.model.register_scann_ops`). TF
Serving cannot; the platform's Python server can (`serving.routing`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import tensorflow as tf

from serving.routing import SCANN_NAMESPACE
from specs.model import ScannRetrieval

SAVE_OPTIONS = tf.saved_model.SaveOptions(namespace_whitelist=[SCANN_NAMESPACE])
"""Options of `tf.saved_model.save` that allow ScaNN's ops in the graph."""


@dataclass(frozen=True)
class ScannParameters:
    """The resolved settings of one index (the spec's, with unset counts sized)."""

    num_leaves: int
    num_leaves_to_search: int
    num_reordering_candidates: int
    dimensions_per_block: int
    training_iterations: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def scann_parameters(spec: ScannRetrieval, catalogue_size: int, top_k: int) -> ScannParameters:
    """The index settings for a catalogue of `catalogue_size` products answering `top_k`.

    Unset counts follow the rule measured on random 32-dimensional embeddings (the hardest
    case: no clusters), which reached recall@100 >= 0.95 against brute force at 3,624, 20,000,
    250,000 and 1,000,000 products: about sqrt(n) leaves; a share of them searched that falls
    with the catalogue (85% under 10,000 products, 70% under 200,000, 50% under 500,000, then
    40%); and 20 x top_k (at least 3,000) candidates re-scored exactly. Counts are capped by
    what the catalogue has; `top_k` is the most neighbours the model asks the index for.
    """
    # Recall@100 measured (leaves, searched, re-scored): 3,624 products (60, 30, 2000) 0.84,
    # (60, 50, 2000) 0.98; 20,000 (141, 70, 2000) 0.94, (141, 99, 2000) 0.985; 250,000
    # (500, 200, 3000) 0.957, (500, 250, 3000) 0.979; 1,000,000 (1000, 300, 3000) 0.944,
    # (1000, 350, 3000) 0.958, (1000, 400, 3000) 0.970 at 0.48 ms a query, (1000, 500, 4000)
    # 0.985 at 0.70 ms: the search's cost grows with the share searched and the re-scored.
    if catalogue_size < 1:
        raise ValueError("a ScaNN index needs at least one product")
    leaves = spec.num_leaves or max(1, round(math.sqrt(catalogue_size)))
    leaves = min(leaves, catalogue_size)
    shares = ((10_000, 0.85), (200_000, 0.7), (500_000, 0.5))
    share = next((share for below, share in shares if catalogue_size < below), 0.4)
    search = spec.num_leaves_to_search or max(1, round(share * leaves))
    reorder = spec.num_reordering_candidates or max(3000, 20 * top_k)
    return ScannParameters(
        num_leaves=leaves,
        num_leaves_to_search=min(search, leaves),
        # The final answer comes from the re-scored candidates: never fewer than top_k.
        num_reordering_candidates=min(max(reorder, top_k), catalogue_size),
        dimensions_per_block=spec.dimensions_per_block,
        training_iterations=spec.training_iterations,
    )


def build_scann_index(embeddings: np.ndarray, parameters: ScannParameters, top_k: int):
    """A `tfrs.layers.factorized_top_k.ScaNN` layer indexing `embeddings` (`[n, dim]`, row i
    for product i) by dot product; called on `[batch, dim]` queries it returns
    `(scores, product indices)`, best first."""
    import tensorflow_recommenders as tfrs

    layer = tfrs.layers.factorized_top_k.ScaNN(
        k=min(top_k, len(embeddings)),
        distance_measure="dot_product",
        num_leaves=parameters.num_leaves,
        num_leaves_to_search=parameters.num_leaves_to_search,
        training_iterations=parameters.training_iterations,
        dimensions_per_block=parameters.dimensions_per_block,
        num_reordering_candidates=parameters.num_reordering_candidates,
        name="scann_index",
    )
    return layer.index(tf.constant(np.asarray(embeddings, np.float32)))
