import numpy as np
import pytest
import tensorflow as tf

from specs import ModelConfig, TowerFeatures, tower_input_dim, transformed_names
from trainer.towers import build_encoder, build_tower, embedding_input_dims

TOWER = TowerFeatures.model_validate(
    {
        "features": [
            {"kind": "string", "column": "customer_id", "embedding_dim": 8, "oov_buckets": 3},
            {"kind": "string", "column": "segment", "embedding_dim": 4},
            {"kind": "numeric", "column": "revenue", "normalization": "log"},
            {
                "kind": "numeric",
                "column": "employees",
                "bucketize": {"boundaries": [10, 100, 1000], "embedding_dim": 5},
            },
            {
                "kind": "timestamp",
                "column": "first_order",
                "cyclical": ["month", "day_of_week"],
                "normalize": True,
            },
        ],
        "crosses": [{"columns": ["segment", "employees"], "hash_buckets": 97, "embedding_dim": 6}],
    }
)
VOCAB = {"customer_id": 50, "segment": 4}


def batch(n: int = 3) -> dict[str, tf.Tensor]:
    rng = np.random.default_rng(0)
    out = {}
    for name in transformed_names(TOWER):
        if name in ("customer_id", "segment", "employees", "cross_segment_x_employees"):
            out[name] = tf.constant(rng.integers(0, 4, n), tf.int64)
        else:
            out[name] = tf.constant(rng.normal(size=n), tf.float32)
    return out


def test_embedding_sizes_cover_vocabulary_oov_buckets_and_hash_buckets():
    assert embedding_input_dims(TOWER, VOCAB) == {
        "customer_id": (53, 8),  # 50 vocabulary entries + 3 OOV buckets
        "segment": (5, 4),
        "employees": (4, 5),  # 3 boundaries -> buckets 0..3
        "cross_segment_x_employees": (97, 6),
    }


def test_missing_vocabulary_size_is_an_error():
    with pytest.raises(KeyError, match="segment"):
        embedding_input_dims(TOWER, {"customer_id": 50})


def test_encoder_width_equals_tower_input_dim():
    encoder = build_encoder(TOWER, VOCAB, name="enc")
    assert encoder.output_shape[-1] == tower_input_dim(TOWER) == 8 + 4 + 1 + 5 + 5 + 6
    assert encoder(batch()).shape == (3, tower_input_dim(TOWER))


def test_largest_indices_fit_the_embedding_tables():
    encoder = build_encoder(TOWER, VOCAB, name="enc")
    features = batch(1)
    features["customer_id"] = tf.constant([52], tf.int64)  # last OOV bucket
    features["employees"] = tf.constant([3], tf.int64)
    features["cross_segment_x_employees"] = tf.constant([96], tf.int64)
    assert encoder(features).shape == (1, tower_input_dim(TOWER))


def test_tower_applies_every_layer_type_then_linear_projection():
    config = ModelConfig.model_validate(
        {
            "name": "m",
            "query_layers": [
                {"type": "dense", "units": 16, "activation": "gelu", "l1": 0.01},
                {"type": "batch_norm"},
                {"type": "dropout", "rate": 0.5},
                {"type": "dense", "units": 8, "l2": 0.01},
                {"type": "layer_norm"},
                {"type": "dense", "units": 8, "l1": 0.01, "l2": 0.01},
            ],
            "output_dim": 6,
        }
    )
    tower = build_tower(TOWER, config.query_layers, config.output_dim, VOCAB, name="query")
    kinds = [
        type(layer).__name__
        for layer in tower.layers
        if not isinstance(layer, (tf.keras.layers.InputLayer, tf.keras.Model))
    ]
    assert kinds == [
        "Dense",
        "BatchNormalization",
        "Dropout",
        "Dense",
        "LayerNormalization",
        "Dense",
        "Dense",
    ]
    regularizers = [
        type(layer.kernel_regularizer).__name__
        for layer in tower.layers
        if isinstance(layer, tf.keras.layers.Dense)
    ]
    assert regularizers == ["L1", "L2", "L1L2", "NoneType"]
    projection = tower.layers[-1]
    assert projection.units == 6 and projection.activation is tf.keras.activations.linear
    out = tower(batch(4), training=False)
    assert out.shape == (4, 6)
    assert len(tower.losses) == 3  # one penalty per regularized Dense


def test_tower_with_no_hidden_layers_is_a_projection_of_the_encoder():
    tower = build_tower(TOWER, [], 4, VOCAB, name="candidate")
    assert tower(batch(2)).shape == (2, 4)
    assert tower.layers[-1].kernel.shape == (tower_input_dim(TOWER), 4)


GENRES = TowerFeatures.model_validate(
    {
        "features": [
            {"kind": "string", "column": "product_id", "embedding_dim": 4},
            {"kind": "string_list", "column": "genres", "embedding_dim": 3, "max_values": 4,
             "oov_buckets": 2},
        ]
    }
)  # fmt: skip


def test_a_multi_value_feature_is_the_mean_of_its_values_embeddings():
    encoder = build_encoder(GENRES, {"product_id": 5, "genres": 6}, name="enc")
    assert encoder.output_shape[-1] == tower_input_dim(GENRES) == 4 + 3
    table = encoder.get_layer("genres_pooling").embedding.embeddings.numpy()
    assert table.shape == (6 + 2, 3)  # vocabulary plus OOV buckets
    out = encoder(
        {
            "product_id": tf.constant([0, 1, 2], tf.int64),
            # two values; one value then padding; no value at all (an empty string)
            "genres": tf.constant([[1, 7, -1, -1], [3, -1, -1, -1], [-1] * 4], tf.int64),
        }
    ).numpy()[:, 4:]
    np.testing.assert_allclose(out[0], (table[1] + table[7]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[1], table[3], rtol=1e-6)
    np.testing.assert_array_equal(out[2], np.zeros(3))


def test_a_multi_value_feature_needs_its_vocabulary_size():
    with pytest.raises(KeyError, match="genres"):
        build_encoder(GENRES, {"product_id": 5}, name="enc")
