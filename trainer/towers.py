"""Tower builder: transformed features of one tower -> embedding vector.

A tower is a Keras functional model whose inputs are the tower's transformed features (named as
`specs.transformed_names` names them, 1-D `[batch]` tensors) and whose output is the
`output_dim`-wide embedding. It has two stages, built separately so tests can check each:

* the encoder: one embedding per categorical feature (vocabulary index, bucket id, hashed cross),
  the float features as they are, concatenated to `tower_input_dim(tower)` columns;
* the head: the ModelConfig's hidden layers, then a linear Dense(output_dim).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import tensorflow as tf

from specs import TowerFeatures, history_names, transformed_names
from specs.features import timestamp_names

keras = tf.keras  # tf_keras under TF_USE_LEGACY_KERAS=1, which TFRS requires


def embedding_input_dims(
    tower: TowerFeatures, vocab_sizes: Mapping[str, int]
) -> dict[str, tuple[int, int]]:
    """`{transformed name: (input_dim, embedding_dim)}` for every embedded feature of a tower.

    `vocab_sizes` maps a string feature's column to its vocabulary size (without OOV buckets,
    as `TFTransformOutput.vocabulary_size_by_name` reports it): Transform puts unseen values in
    indices vocab_size .. vocab_size + oov_buckets - 1, so the table needs room for both.
    """
    dims: dict[str, tuple[int, int]] = {}
    for feature in tower.features:
        if feature.kind == "string":
            if feature.column not in vocab_sizes:
                raise KeyError(f"no vocabulary size for string feature {feature.column!r}")
            dims[feature.column] = (
                vocab_sizes[feature.column] + feature.oov_buckets,
                feature.embedding_dim,
            )
        elif feature.kind == "numeric" and feature.bucketize is not None:
            # apply_buckets yields 0..len(boundaries): one more bucket than boundaries.
            dims[feature.column] = (
                len(feature.bucketize.boundaries) + 1,
                feature.bucketize.embedding_dim,
            )
    for cross in tower.crosses:
        dims[cross.name] = (cross.hash_buckets, cross.embedding_dim)
    return dims


def _float_names(tower: TowerFeatures) -> list[str]:
    names: list[str] = []
    for feature in tower.features:
        if feature.kind == "numeric" and feature.bucketize is None:
            names.append(feature.column)
        elif feature.kind == "timestamp":
            names.extend(timestamp_names(feature))
    return names


def embedding_layer(tower_model: keras.Model, column: str) -> keras.layers.Embedding:
    """The embedding layer of a string feature inside a tower built by `build_tower`."""
    encoder = tower_model.get_layer(f"{tower_model.name}_encoder")
    return encoder.get_layer(f"{column}_embedding")


class HistoryPooling(keras.layers.Layer):
    """Weighted mean of the embeddings of a list of indices (a history's products, a
    multi-value feature's values); -1 entries are padding, and a row with none is zeros.
    Without weights every entry counts the same (a plain mean)."""

    def __init__(self, embedding: keras.layers.Embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def call(self, items, weights=None):
        valid = tf.cast(items >= 0, tf.float32)
        weights = valid if weights is None else weights * valid
        vectors = self.embedding(tf.maximum(items, 0))
        total = tf.reduce_sum(weights, axis=1, keepdims=True)
        pooled = tf.reduce_sum(vectors * weights[..., None], axis=1)
        return pooled / tf.maximum(total, 1e-6)


def _history_parts(tower, vocab_sizes, shared, inputs, parts) -> set[str]:
    names: set[str] = set()
    for feature in tower.features:
        if feature.kind != "history":
            continue
        items_name, weights_name = history_names(feature)
        inputs[items_name] = keras.Input(shape=(None,), dtype=tf.int64, name=items_name)
        inputs[weights_name] = keras.Input(shape=(None,), dtype=tf.float32, name=weights_name)
        if feature.share_embedding:
            embedding = (shared or {}).get(feature.column)
            if embedding is None:
                raise KeyError(f"history of {feature.column!r} shares an embedding none passed")
        else:
            embedding = keras.layers.Embedding(
                vocab_sizes[feature.column] + 1,
                feature.embedding_dim,
                name=f"{items_name}_embedding",
            )
        pooling = HistoryPooling(embedding, name=f"{items_name}_pooling")
        parts[items_name] = pooling(inputs[items_name], inputs[weights_name])
        names.update((items_name, weights_name))
    return names


def build_encoder(
    tower: TowerFeatures,
    vocab_sizes: Mapping[str, int],
    *,
    name: str,
    shared: Mapping[str, keras.layers.Embedding] | None = None,
) -> keras.Model:
    """The tower's input stage: a model from its transformed features to their concatenation.

    The output width is `tower_input_dim(tower)`; features are concatenated in
    `transformed_names(tower)` order. `shared` maps a column to an embedding layer built in
    another tower (a history pooled through the candidate id's embedding).
    """
    embedded = embedding_input_dims(tower, vocab_sizes)
    floats = set(_float_names(tower))
    inputs: dict[str, keras.Input] = {}
    history_parts: dict[str, tf.Tensor] = {}
    history = _history_parts(tower, vocab_sizes, shared, inputs, history_parts)
    # Multi-value features: `[batch, max_values]` indices, -1 padded, mean-pooled.
    value_lists = {f.column: f for f in tower.features if f.kind == "string_list"}
    for column in value_lists:
        if column not in vocab_sizes:
            raise KeyError(f"no vocabulary size for string_list feature {column!r}")
    parts = []
    for feature_name in transformed_names(tower):
        if feature_name in history:
            if feature_name in history_parts:
                parts.append(history_parts[feature_name])
            continue
        if feature_name in value_lists:
            feature = value_lists[feature_name]
            inputs[feature_name] = keras.Input(
                shape=(feature.max_values,), dtype=tf.int64, name=feature_name
            )
            embedding = keras.layers.Embedding(
                vocab_sizes[feature.column] + feature.oov_buckets,
                feature.embedding_dim,
                name=f"{feature_name}_embedding",
            )
            pooling = HistoryPooling(embedding, name=f"{feature_name}_pooling")
            parts.append(pooling(inputs[feature_name]))
        elif feature_name in embedded:
            inputs[feature_name] = keras.Input(shape=(), dtype=tf.int64, name=feature_name)
            input_dim, output_dim = embedded[feature_name]
            parts.append(
                keras.layers.Embedding(input_dim, output_dim, name=f"{feature_name}_embedding")(
                    inputs[feature_name]
                )
            )
        elif feature_name in floats:
            inputs[feature_name] = keras.Input(shape=(), dtype=tf.float32, name=feature_name)
            parts.append(
                keras.layers.Reshape((1,), name=f"{feature_name}_column")(inputs[feature_name])
            )
        else:  # pragma: no cover - transformed_names and the branches above must agree
            raise AssertionError(f"feature {feature_name!r} has no encoding")
    concat = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="concat", axis=1)(parts)
    return keras.Model(inputs=inputs, outputs=concat, name=name)


def _regularizer(l1: float, l2: float) -> keras.regularizers.Regularizer | None:
    if l1 and l2:
        return keras.regularizers.L1L2(l1=l1, l2=l2)
    if l1:
        return keras.regularizers.L1(l1)
    if l2:
        return keras.regularizers.L2(l2)
    return None


def build_head_layers(layers: Sequence, output_dim: int, *, name: str) -> list[keras.layers.Layer]:
    """Keras layers for a ModelConfig layer list, then the linear Dense(output_dim) projection."""
    built: list[keras.layers.Layer] = []
    for i, layer in enumerate(layers):
        layer_name = f"{name}_{i}_{layer.type}"
        if layer.type == "dense":
            built.append(
                keras.layers.Dense(
                    layer.units,
                    activation=layer.activation,
                    kernel_regularizer=_regularizer(layer.l1, layer.l2),
                    name=layer_name,
                )
            )
        elif layer.type == "dropout":
            built.append(keras.layers.Dropout(layer.rate, name=layer_name))
        elif layer.type == "batch_norm":
            built.append(keras.layers.BatchNormalization(name=layer_name))
        elif layer.type == "layer_norm":
            built.append(keras.layers.LayerNormalization(name=layer_name))
        else:  # pragma: no cover - the spec's discriminated union admits no other type
            raise ValueError(f"unknown layer type {layer.type!r}")
    # Linear: retrieval scores are dot products, which an activation here would constrain.
    built.append(keras.layers.Dense(output_dim, name=f"{name}_projection"))
    return built


def build_tower(
    tower: TowerFeatures,
    layers: Sequence,
    output_dim: int,
    vocab_sizes: Mapping[str, int],
    *,
    name: str,
    shared: Mapping[str, keras.layers.Embedding] | None = None,
) -> keras.Model:
    """A tower: dict of transformed features `[batch]` -> embeddings `[batch, output_dim]`.

    Args:
      tower: the FeatureConfig tower (query_tower or candidate_tower).
      layers: the ModelConfig layer list (query_layers or candidate_layers).
      output_dim: width of the final linear projection.
      vocab_sizes: vocabulary size of each string feature column, without OOV buckets.
      name: model name, also the prefix of its layers' names.
      shared: embedding layers of another tower, by column (see `build_encoder`).
    """
    encoder = build_encoder(tower, vocab_sizes, name=f"{name}_encoder", shared=shared)
    x = encoder(encoder.input)
    for layer in build_head_layers(layers, output_dim, name=name):
        x = layer(x)
    return keras.Model(inputs=encoder.input, outputs=x, name=name)
