"""`LoadedModel` runs a SavedModel's SignatureDefs in a Session, as TF Serving does."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from serving.model import LoadedModel
from tests.serving.tiny_model import save_tiny_model


def test_the_session_answers_as_the_restored_functions(tmp_path):
    path = save_tiny_model(tmp_path / "tiny")
    loaded = LoadedModel(path, intra_op_threads=1, inter_op_threads=2)
    restored = tf.saved_model.load(str(path))
    inputs = {
        "serving_default": {
            "customer_id": np.array(["C1", "C22"], object),
            "revenue": np.array([0.5, 2], np.float64),
        },
        "with_history": {
            "customer_id": np.array(["C1", "C22"], object),
            "history": np.array([["P-B", "P-B"], ["P-C", ""]], object),
        },
    }
    assert sorted(loaded.signatures) == sorted(inputs)
    for name, columns in inputs.items():
        got = loaded.run(loaded.signatures[name], columns)
        signature = restored.signatures[name]
        expected = signature(**{
            key: tf.constant(value, signature.structured_input_signature[1][key].dtype)
            for key, value in columns.items()
        })  # fmt: skip
        assert sorted(got) == sorted(expected)
        for key, tensor in expected.items():
            np.testing.assert_array_equal(got[key], tensor.numpy())
    # Known answers: scores are (length of the id + revenue) x (3, 2, 1).
    scores = loaded.run(loaded.signatures["serving_default"], inputs["serving_default"])["scores"]
    np.testing.assert_allclose(scores, [[7.5, 5, 2.5], [15, 10, 5]])
    loaded.close()


def test_a_signature_with_a_sparse_input_is_refused_naming_it(tmp_path):
    # TF2 exports flatten sparse inputs into dense ones; a TF1 export keeps them sparse.
    v1 = tf.compat.v1
    graph = tf.Graph()
    with graph.as_default(), v1.Session(graph=graph) as session:
        values = v1.sparse_placeholder(tf.float32, name="values")
        total = tf.sparse.reduce_sum(values, axis=1)
        signature = v1.saved_model.build_signature_def(
            inputs={"values": v1.saved_model.build_tensor_info(values)},
            outputs={"total": v1.saved_model.build_tensor_info(total)},
        )
        builder = v1.saved_model.Builder(str(tmp_path / "sparse"))
        builder.add_meta_graph_and_variables(
            session, [tf.saved_model.SERVING], signature_def_map={"serving_default": signature}
        )
        builder.save()
    with pytest.raises(ValueError, match=r"'serving_default': inputs \['values'\] are not dense"):
        LoadedModel(tmp_path / "sparse")
