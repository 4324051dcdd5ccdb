"""The serving module with a ScaNN index: searching every leaf and re-scoring every candidate,
the index is exact, so its answers must be brute force's, with and without the re-order
scorer; the routing rule reads the index from the saved model."""

import numpy as np
import pytest
import tensorflow as tf

from serving.model import LoadedModel
from serving.routing import saved_model_uses_scann
from specs import HistoryFeature, ModelConfig
from specs.base import SpecError, load_spec
from specs.model import ScannRetrieval
from tests.trainer.test_serving import FakeTransform
from trainer.history import Purchases, co_purchase_similarity, history_table, product_features
from trainer.reorder import ReorderScorer
from trainer.scann_index import scann_parameters
from trainer.serving import RetrievalServingModule, ServingHistory, export_serving_model

N_PRODUCTS, N_CUSTOMERS, DIM = 300, 6, 8
RNG = np.random.default_rng(3)
EMBEDDINGS = RNG.normal(size=(N_PRODUCTS, DIM)).astype(np.float32)
CUSTOMERS = RNG.normal(size=(N_CUSTOMERS + 1, DIM)).astype(np.float32)
PRODUCT_IDS = [f"P{i}" for i in range(N_PRODUCTS)]
EXACT = ScannRetrieval(num_leaves=4, num_leaves_to_search=4, num_reordering_candidates=N_PRODUCTS)
"""Every leaf searched, every candidate re-scored: the index's answers are exact."""


def query_tower(history: bool) -> tf.keras.Model:
    """Customer n's row of CUSTOMERS, plus (with a history) the mean of its products' embeddings."""
    customer = tf.keras.Input(shape=(), dtype=tf.int64, name="customer_id")
    inputs = {"customer_id": customer}
    if history:
        inputs["product_id_history"] = tf.keras.Input(shape=(None,), dtype=tf.int64)
        inputs["product_id_history_weight"] = tf.keras.Input(shape=(None,), dtype=tf.float32)

    def embed(x):
        rows = tf.minimum(x["customer_id"], N_CUSTOMERS)
        out = tf.gather(tf.constant(CUSTOMERS), rows)
        if history:
            items, w = x["product_id_history"], x["product_id_history_weight"]
            w = w * tf.cast(items >= 0, tf.float32)
            bag = tf.gather(tf.constant(EMBEDDINGS), tf.maximum(items, 0)) * w[..., None]
            out += tf.reduce_sum(bag, 1) / tf.maximum(tf.reduce_sum(w, 1, keepdims=True), 1.0)
        return out

    return tf.keras.Model(inputs, tf.keras.layers.Lambda(embed)(inputs))


def serving_history(scorer) -> ServingHistory:
    customer = RNG.integers(0, N_CUSTOMERS, 200)
    product = RNG.integers(0, N_PRODUCTS, 200)
    log = Purchases(customer, product, RNG.integers(0, 60, 200) * 86400.0)
    table = history_table(log, 61 * 86400.0, n_customers=N_CUSTOMERS, max_items=50)
    return ServingHistory(
        feature=HistoryFeature(column="product_id", timestamp="ts"),
        customer_id="customer_id",
        table=table,
        product_table=product_features(log, table.now, n_products=N_PRODUCTS),
        similarity=co_purchase_similarity(log, table.now, n_products=N_PRODUCTS, neighbors=5),
        scorer=scorer,
        explicit_age_days=30.0,
        candidates_per_signal=10,
    )


def module(history=None, scann=None, top_k=20) -> RetrievalServingModule:
    names = ["customer_id"]
    if history is not None:
        names += ["product_id_history", "product_id_history_weight"]
    return RetrievalServingModule(
        tft_layer=FakeTransform(),
        query_tower=query_tower(history is not None),
        query_feature_names=names,
        raw_query_spec={"customer_id": tf.io.FixedLenFeature([], tf.string)},
        candidate_embeddings=EMBEDDINGS,
        product_ids=PRODUCT_IDS,
        top_k=top_k,
        history=history,
        scann=scann,
    )


def answers(model_dir, signature="serving_default"):
    """The model's answers through the model server's loader (which registers ScaNN's ops)."""
    loaded = LoadedModel(model_dir)
    customers = np.array([f"C{i}" for i in range(N_CUSTOMERS + 1)], dtype=object)
    return loaded.run(loaded.signatures[signature], {"customer_id": customers})


def test_an_exact_index_answers_the_brute_force_top_k(tmp_path):
    export_serving_model(module(), str(tmp_path / "brute"))
    export_serving_model(module(scann=EXACT), str(tmp_path / "scann"))
    brute, scann = answers(tmp_path / "brute"), answers(tmp_path / "scann")
    np.testing.assert_array_equal(scann["product_ids"], brute["product_ids"])
    np.testing.assert_allclose(scann["scores"], brute["scores"], rtol=1e-4, atol=1e-4)
    # The outputs' shapes are known although ScaNN's ops do not say them.
    outputs = LoadedModel(tmp_path / "scann").metadata()["metadata"]["signature_def"]
    assert outputs["serving_default"]["outputs"]["product_ids"]["shape"] == [None, 20]
    # The routing rule's fact, read from the saved graphs.
    assert saved_model_uses_scann(str(tmp_path / "scann"))
    assert not saved_model_uses_scann(str(tmp_path / "brute"))


@pytest.mark.parametrize("with_scorer", [False, True])
def test_with_a_history_the_index_gives_the_scorer_the_same_candidates(tmp_path, with_scorer):
    tf.keras.utils.set_random_seed(0)
    scorer = ReorderScorer([8]) if with_scorer else None
    history = serving_history(scorer)
    export_serving_model(module(history), str(tmp_path / "brute"))
    indexed = module(history, EXACT)
    # Discovery leaves out up to 50 bought products; the scorer needs its 4 x 10 places too.
    assert indexed.scann_k == (50 + max(40, 20) if with_scorer else 20 + 50)
    export_serving_model(indexed, str(tmp_path / "scann"))
    for signature in ("serving_default", "discover"):
        brute = answers(tmp_path / "brute", signature)
        scann = answers(tmp_path / "scann", signature)
        np.testing.assert_array_equal(scann["product_ids"], brute["product_ids"])
        np.testing.assert_allclose(scann["scores"], brute["scores"], rtol=1e-3, atol=1e-3)


def test_unset_counts_are_sized_from_the_catalogue():
    sized = scann_parameters(ScannRetrieval(), 1_000_000, top_k=100)
    assert (sized.num_leaves, sized.num_leaves_to_search, sized.num_reordering_candidates) == (
        1000, 400, 3000,
    )  # fmt: skip
    small = scann_parameters(ScannRetrieval(num_reordering_candidates=10), 300, top_k=50)
    # 17 leaves, 14 searched; never fewer re-scored candidates than the answer has products.
    assert (small.num_leaves, small.num_leaves_to_search, small.num_reordering_candidates) == (
        17, 14, 50,
    )  # fmt: skip


def test_the_spec_names_the_field_at_fault(tmp_path):
    path = tmp_path / "model.json"
    path.write_text(
        '{"name": "m", "retrieval": {"type": "scann", "num_leaves": 10, '
        '"num_leaves_to_search": 20}}'
    )
    with pytest.raises(SpecError, match=r"retrieval\.scann: num_leaves_to_search: 20 is more"):
        load_spec(ModelConfig, path)
    path.write_text('{"name": "m", "model_type": "ranking", "retrieval": {"type": "scann"}}')
    with pytest.raises(SpecError, match="retrieval: a ScaNN index finds the top two-tower"):
        load_spec(ModelConfig, path)
    path.write_text('{"name": "m", "retrieval": {"type": "scann", "num_leaves": 0}}')
    with pytest.raises(SpecError, match=r"retrieval\.scann\.num_leaves: "):
        load_spec(ModelConfig, path)
    assert ModelConfig(name="m").retrieval.type == "brute_force"


def test_registering_a_scann_model_names_the_python_server_as_its_runtime(tmp_path):
    """The registry reads the routing rule's fact from the registered copy of a real model:
    the deployer then picks the image by it (ScaNN: the Python server; else TF Serving)."""
    from registry.mlflow_registry import MlflowModelRegistry
    from registry.registration import RunOutputs, register_run

    registry = MlflowModelRegistry(f"sqlite:///{tmp_path}/mlflow.db")
    export_serving_model(module(), str(tmp_path / "brute"))
    export_serving_model(module(scann=EXACT), str(tmp_path / "scann"))
    runtimes = []
    for run_id, folder in (("run-brute", "brute"), ("run-scann", "scann")):
        outputs = RunOutputs(serving_model=str(tmp_path / folder), run_id=run_id,
                             model_type="retrieval", blessed=True)  # fmt: skip
        version, _ = register_run(
            registry, outputs, model_name="acme", models_dir=str(tmp_path / "models")
        )
        runtimes.append(version.labels["runtime"])
    assert runtimes == ["native", "scann"]
    # The registered copy is the model the Python server loads and answers from.
    copied = answers(tmp_path / "models" / "acme" / "v2")
    np.testing.assert_array_equal(copied["product_ids"], answers(tmp_path / "scann")["product_ids"])
