"""The serving module on its own, with a stand-in for the Transform layer."""

import numpy as np
import pytest
import tensorflow as tf

from trainer.serving import RetrievalServingModule, _to_raw_input, export_serving_model


class FakeTransform(tf.Module):
    """Maps "C<n>" to index n, whatever shape TFT would receive (dense [b], [b, 1] or sparse)."""

    @tf.function
    def __call__(self, raw):
        x = raw["customer_id"]
        if isinstance(x, tf.SparseTensor):
            x = tf.sparse.to_dense(x)
        ids = tf.strings.to_number(tf.strings.substr(tf.reshape(x, [-1]), 1, 3), tf.int64)
        return {"customer_id": ids, "ignored": ids}


def query_tower() -> tf.keras.Model:
    # Customer n's embedding is one-hot(n) over 3 dims.
    x = tf.keras.Input(shape=(), dtype=tf.int64, name="customer_id")
    return tf.keras.Model({"customer_id": x}, tf.keras.layers.Lambda(lambda i: tf.one_hot(i, 3))(x))


CANDIDATES = np.array([[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0.5, 0.5, 0]])
PRODUCT_IDS = ["367073001001", "383033001001", "P-3", "P-4"]


@pytest.mark.parametrize(
    "spec",
    [
        tf.io.FixedLenFeature([], tf.string),
        tf.io.FixedLenFeature([1], tf.string),
        tf.io.VarLenFeature(tf.string),
    ],
)
def test_saved_model_answers_original_ids_capped_at_the_catalogue(tmp_path, spec):
    module = RetrievalServingModule(
        tft_layer=FakeTransform(),
        query_tower=query_tower(),
        query_feature_names=["customer_id"],
        raw_query_spec={"customer_id": spec},
        candidate_embeddings=CANDIDATES,
        product_ids=PRODUCT_IDS,
        top_k=100,
    )
    export_serving_model(module, str(tmp_path))
    serve = tf.saved_model.load(str(tmp_path)).signatures["serving_default"]
    out = serve(customer_id=tf.constant(["C0", "C1"]))
    assert out["product_ids"].shape == (2, 4)  # k = min(top_k, 4 candidates)
    assert [p.decode() for p in out["product_ids"].numpy()[0]][:2] == [
        "367073001001",
        "P-4",
    ]
    np.testing.assert_allclose(out["scores"].numpy()[1], [1.0, 0.5, 0.0, 0.0])


def test_ids_and_embeddings_must_align():
    with pytest.raises(ValueError, match="3 product ids for 4 embeddings"):
        RetrievalServingModule(
            tft_layer=FakeTransform(),
            query_tower=query_tower(),
            query_feature_names=["customer_id"],
            raw_query_spec={"customer_id": tf.io.FixedLenFeature([], tf.string)},
            candidate_embeddings=CANDIDATES,
            product_ids=PRODUCT_IDS[:3],
            top_k=2,
        )


def test_multi_valued_raw_features_are_refused():
    with pytest.raises(ValueError, match="not scalar"):
        _to_raw_input(tf.constant(["a"]), tf.io.FixedLenFeature([2], tf.string))
