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


def history_query_tower() -> tf.keras.Model:
    # The query is the weighted bag of history products, one-hot over the 4 products: with
    # identity candidate embeddings a product's score is its share of the history.
    customer = tf.keras.Input(shape=(), dtype=tf.int64, name="customer_id")
    items = tf.keras.Input(shape=(None,), dtype=tf.int64, name="product_id_history")
    weights = tf.keras.Input(shape=(None,), dtype=tf.float32, name="product_id_history_weight")

    def pool(args):
        ids, w = args
        bag = tf.one_hot(tf.maximum(ids, 0), 4) * (w * tf.cast(ids >= 0, tf.float32))[..., None]
        return tf.reduce_sum(bag, axis=1)

    out = tf.keras.layers.Lambda(pool)([items, weights])
    inputs = {"customer_id": customer, "product_id_history": items}
    inputs["product_id_history_weight"] = weights
    return tf.keras.Model(inputs, out)


def history_module(scorer=None, stored_queries=None):
    from specs import HistoryFeature
    from trainer.history import (
        Purchases,
        co_purchase_similarity,
        history_table,
        product_features,
    )
    from trainer.serving import ServingHistory

    # Customer 0 bought product 2 (twice) and product 0; customer 1 bought product 1.
    log = Purchases(np.array([0, 0, 0, 1]), np.array([2, 2, 0, 1]), np.array([0, 86400, 0, 0]))
    table = history_table(log, 10 * 86400.0, n_customers=2, max_items=3)
    return RetrievalServingModule(
        tft_layer=FakeTransform(),
        query_tower=history_query_tower(),
        query_feature_names=["customer_id", "product_id_history", "product_id_history_weight"],
        raw_query_spec={"customer_id": tf.io.FixedLenFeature([], tf.string)},
        candidate_embeddings=np.eye(4),
        product_ids=PRODUCT_IDS,
        top_k=4,
        history=ServingHistory(
            feature=HistoryFeature(column="product_id", timestamp="ts"),
            customer_id="customer_id",
            table=table,
            product_table=product_features(log, table.now, n_products=4),
            similarity=co_purchase_similarity(log, table.now, n_products=4, neighbors=2),
            scorer=scorer,
            explicit_age_days=30.0,
            stored_queries=stored_queries,
        ),
    )


def ids(out, row=0):
    return [p.decode() for p in out["product_ids"].numpy()[row]]


def test_stored_history_and_an_explicit_history_override(tmp_path):
    export_serving_model(history_module(), str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    assert set(loaded.signatures) == {"serving_default", "discover", "with_history"}
    # C0's stored history: product 2 in two baskets outweighs product 0 in one.
    out = loaded.signatures["serving_default"](customer_id=tf.constant(["C0", "C1", "C9"]))
    assert ids(out, 0)[:2] == ["P-3", "367073001001"]
    assert ids(out, 1)[0] == "383033001001"
    assert out["product_ids"].shape == (3, 4)  # C9 is unknown: no history, still answered
    # An explicit history replaces the stored one ("" pads; unknown ids are ignored).
    out = loaded.signatures["with_history"](
        customer_id=tf.constant(["C0", "C0"]),
        history=tf.constant([["P-4", "", "nope"], ["383033001001", "383033001001", ""]]),
    )
    assert ids(out, 0)[0] == "P-4"
    assert ids(out, 1)[0] == "383033001001"


def test_discover_leaves_out_what_the_customer_bought(tmp_path):
    from trainer.reorder import ReorderScorer

    scorer = ReorderScorer([4])
    export_serving_model(history_module(scorer), str(tmp_path))
    loaded = tf.saved_model.load(str(tmp_path))
    out = loaded.signatures["discover"](customer_id=tf.constant(["C0"]))
    scores = out["scores"].numpy()[0]
    served = [p for p, s in zip(ids(out), scores, strict=True) if np.isfinite(s)]
    assert sorted(served) == ["383033001001", "P-4"]  # products 0 and 2 were bought
    out = loaded.signatures["serving_default"](customer_id=tf.constant(["C0"]))
    assert np.isfinite(out["scores"].numpy()).all()


def stored(known=(True, True), customer_ids=(0, 1)):
    from trainer.serving import StoredQueries

    # FakeTransform's "customer_id" is the only query feature besides the history; storing
    # another value than the customer's own makes their requests differ from the stored query.
    return StoredQueries({"customer_id": np.array(customer_ids)}, known=np.array(known))


@pytest.mark.parametrize("signature", ["serving_default", "discover"])
def test_stored_answers_are_the_computed_ones(tmp_path, signature):
    from trainer.reorder import ReorderScorer

    tf.keras.utils.set_random_seed(3)
    scorer = ReorderScorer([4])
    export_serving_model(history_module(scorer), str(tmp_path / "computed"))
    export_serving_model(history_module(scorer, stored()), str(tmp_path / "stored"))
    batches = [["C0"], ["C1"], ["C0", "C1"], ["C9"], ["C1", "C9"]]
    for path in ("computed", "stored"):
        serve = tf.saved_model.load(str(tmp_path / path)).signatures[signature]
        answers = [serve(customer_id=tf.constant(batch)) for batch in batches]
        if path == "computed":
            expected = answers
            continue
        for got, want in zip(answers, expected, strict=True):
            assert got["product_ids"].numpy().tolist() == want["product_ids"].numpy().tolist()
            np.testing.assert_allclose(got["scores"].numpy(), want["scores"].numpy(), rtol=1e-6)


def test_only_the_stored_query_is_answered_from_the_store():
    module = history_module(stored_queries=stored(known=(True, False)))
    computed = module.serve({"customer_id": tf.constant(["C0", "C1"])})
    # Mark the stored answers: a request answered from the store shows the mark.
    marked = np.full(module.stored_default["scores"].shape, 7.0, np.float32)
    module.stored_default["scores"].assign(marked)

    def scores(*customers):
        return module.serve({"customer_id": tf.constant(customers)})["scores"].numpy()

    assert (scores("C0") == 7.0).all()
    # C1 has no train row (not known) and C9 is not in the vocabulary: computed, and so is any
    # batch that holds one of them.
    np.testing.assert_allclose(scores("C1")[0], computed["scores"].numpy()[1])
    assert np.isfinite(scores("C9")).all() and (scores("C9") != 7.0).all()
    # In a batch, each request on its own: C0 from the store, the others computed.
    mixed = scores("C9", "C0", "C1")
    assert (mixed[1] == 7.0).all()
    np.testing.assert_allclose(mixed[2], computed["scores"].numpy()[1])
    np.testing.assert_allclose(mixed[0], scores("C9")[0])
    # A query feature other than the stored one: computed.
    module = history_module(stored_queries=stored(customer_ids=(0, 5)))
    module.stored_default["scores"].assign(marked)
    assert (scores("C0") == 7.0).all()
    np.testing.assert_allclose(scores("C1")[0], computed["scores"].numpy()[1])


def test_stored_queries_must_cover_the_query_features():
    from trainer.serving import StoredQueries

    with pytest.raises(ValueError, match="stored queries: 3 customers, the table 2"):
        history_module(stored_queries=stored(known=(True, True, True)))
    # The customer id needs no storing: it picks the row.
    module = history_module(stored_queries=StoredQueries({}, known=np.array([True, True])))
    assert set(module.stored_default) == {"product_index", "scores"}
