"""Parameter counts of the two towers, from the configs alone (what the app shows before
training), equal to Keras's count of the towers `trainer.towers.build_tower` builds.

Vocabulary sizes are data, not config: a string feature's table holds its vocabulary (capped by
`vocab_size`) plus `oov_buckets` rows. `vocab_sizes` gives them by column (the wizard's distinct
counts); a feature that caps its vocabulary is counted at its cap when none is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from specs.features import FeatureConfig, TowerFeatures, tower_input_dim
from specs.model import ModelConfig


@dataclass(frozen=True)
class Counts:
    trainable: int
    non_trainable: int

    @property
    def total(self) -> int:
        return self.trainable + self.non_trainable

    def as_dict(self) -> dict[str, int]:
        return {"total": self.total, "trainable": self.trainable,
                "non_trainable": self.non_trainable}  # fmt: skip


def _vocabulary(tower_name: str, index: int, feature, vocab_sizes: Mapping[str, int]) -> int:
    size = vocab_sizes.get(feature.column, feature.vocab_size)
    if size is None:
        raise ValueError(
            f"{tower_name}.features[{index}].vocab_size: unknown; give the vocabulary size of "
            f"{feature.column!r} (its distinct values) or cap it"
        )
    return size


def _embeddings(tower_name: str, tower: TowerFeatures, config: FeatureConfig,
                vocab_sizes: Mapping[str, int]) -> int:  # fmt: skip
    """The tower's embedding parameters (all trainable)."""
    total = 0
    for i, f in enumerate(tower.features):
        if f.kind in ("string", "string_list"):
            total += (_vocabulary(tower_name, i, f, vocab_sizes) + f.oov_buckets) * f.embedding_dim
        elif f.kind == "numeric" and f.bucketize is not None:
            total += (len(f.bucketize.boundaries) + 1) * f.bucketize.embedding_dim
        elif f.kind == "history":
            if f.share_embedding:
                # The candidate id's table, pooled here: Keras counts it in this tower too.
                cid = _candidate_id(config)
                size = vocab_sizes.get(cid.column, cid.vocab_size)
                if size is None:
                    raise ValueError(f"{tower_name}.features[{i}]: the shared candidate id "
                                     f"{cid.column!r} needs a vocabulary size")  # fmt: skip
                total += (size + cid.oov_buckets) * cid.embedding_dim
            else:
                total += (_vocabulary(tower_name, i, f, vocab_sizes) + 1) * f.embedding_dim
    total += sum(c.hash_buckets * c.embedding_dim for c in tower.crosses)
    return total


def _candidate_id(config: FeatureConfig):
    return next(f for f in config.candidate_tower.features if f.column == config.candidate_id)


def _head(layers, output_dim: int, width: int) -> Counts:
    trainable = non_trainable = 0
    for layer in layers:
        if layer.type == "dense":
            trainable += width * layer.units + layer.units
            width = layer.units
        elif layer.type == "batch_norm":
            trainable += 2 * width  # gamma, beta
            non_trainable += 2 * width  # moving mean and variance
        elif layer.type == "layer_norm":
            trainable += 2 * width
    trainable += width * output_dim + output_dim  # the linear projection
    return Counts(trainable, non_trainable)


def tower_parameters(
    features: FeatureConfig, model: ModelConfig, vocab_sizes: Mapping[str, int] | None = None
) -> dict[str, Counts]:
    """`{"query_tower": Counts, "candidate_tower": Counts}` as Keras counts each tower."""
    vocab_sizes = dict(vocab_sizes or {})
    cid = _candidate_id(features)
    cid_dim = cid.embedding_dim
    out = {}
    for name, tower, layers in (
        ("query_tower", features.query_tower, model.query_layers),
        ("candidate_tower", features.candidate_tower, model.candidate_layers),
    ):
        embeddings = _embeddings(name, tower, features, vocab_sizes)
        head = _head(layers, model.output_dim, tower_input_dim(tower, candidate_id_dim=cid_dim))
        out[name] = Counts(embeddings + head.trainable, head.non_trainable)
    return out
