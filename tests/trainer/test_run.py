"""End to end: TFT-transformed tiny data -> run_training -> metrics file and SavedModel."""

import json
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

from specs import ModelConfig, TrainingParams
from tests.trainer.tiny_data import (
    E2E_CONFIG,
    fn_args_for,
    group_of_customer,
    products_of_group,
)
from trainer.run import METRICS_FILE, hyperparameters, run_training

KS = (5, 10, 50, 100)


def test_hyperparameter_precedence():
    model = ModelConfig.preset("standard", learning_rate=0.5, batch_size=256)
    training = TrainingParams(epochs=4, learning_rate=0.2)
    hp = hyperparameters(model, training, None)
    assert (hp["epochs"], hp["batch_size"], hp["learning_rate"], hp["top_k"]) == (4, 256, 0.2, 100)
    hp = hyperparameters(model, training, {"epochs": "2", "batch_size": 64, "top_k": 5})
    assert (hp["epochs"], hp["batch_size"], hp["learning_rate"], hp["top_k"]) == (2, 64, 0.2, 5)
    assert hp["seed"] == training.seed and hp["optimizer"] == "adam"  # the ModelConfig default


def test_metrics_file_layout(trained_run):
    fn_args, metrics = trained_run
    with open(os.path.join(fn_args.model_run_dir, METRICS_FILE)) as f:
        written = json.load(f)
    assert written == json.loads(json.dumps(metrics))
    assert set(written) == {
        "loss",
        "final_metrics",
        "baselines",
        "intervals",
        "health",
        "eval",
        "hyperparameters",
        "mlflow",
        "model_type",
        "throughput",
        "timing_seconds",
        "training_history",  # tests/trainer/test_training_history.py
        "retrieval",
    }
    assert written["retrieval"] == {
        "type": "brute_force"
    }  # ScaNN: tests/trainer/test_scann_serving.py
    assert written["throughput"]["fit_rows"] == 480
    assert written["throughput"]["examples_per_second"] > 0
    assert written["model_type"] == "retrieval"
    epochs = E2E_CONFIG["epochs"]
    for name in ("loss", "regularization_loss", "total_loss"):
        assert len(written["loss"][name]) == epochs
    expected = {f"{p}recall_at_{k}" for p in ("", "new_") for k in KS} | {
        "ndcg_at_10",
        "new_ndcg_at_10",
    }
    assert set(written["final_metrics"]) == expected
    assert set(written["baselines"]["popularity"]) == expected
    assert all(0.0 <= v <= 1.0 for v in written["final_metrics"].values())
    assert written["mlflow"]["run_id"] and "error" not in written["mlflow"]
    assert written["eval"] == {
        "customers": 60,
        "customers_new": written["eval"]["customers_new"],
        "train_rows": 480,
        "eval_rows": 180,
        "products": written["eval"]["products"],
        "eval_customers": 60,
        "evaluated": 60,
        "dropped_unknown_customer": 0,
        "dropped_no_known_product": 0,
    }
    # A 95% interval around every mean, the model's and each baseline's.
    assert set(written["intervals"]) == {"model", *written["baselines"]}
    for name, values in (("model", written["final_metrics"]), *written["baselines"].items()):
        for key, (low, high) in written["intervals"][name].items():
            assert low <= values[key] + 1e-9 and values[key] <= high + 1e-9, (name, key)
    assert written["health"]["diverged"] is False
    assert written["health"]["collapsed_to_popularity"] is False
    assert written["health"]["warnings"] == []
    assert 0 <= written["health"]["popularity_overlap_at_10"] < 0.9
    assert 0 < written["eval"]["customers_new"] <= 60
    assert 50 <= written["eval"]["products"] <= 60
    assert written["hyperparameters"]["top_k"] == E2E_CONFIG["top_k"]
    assert set(written["timing_seconds"]) == {"read", "train", "evaluate", "export"}


def test_model_beats_popularity_on_structured_data(trained_run):
    _, metrics = trained_run
    model, popular = metrics["final_metrics"], metrics["baselines"]["popularity"]
    # Popularity ranks all 60 products the same for everyone; the towers learn the 3 groups.
    assert model["recall_at_10"] > popular["recall_at_10"] + 0.05
    assert model["new_recall_at_10"] > popular["new_recall_at_10"] + 0.2
    assert metrics["loss"]["loss"][-1] < metrics["loss"]["loss"][0]


def test_serving_model_returns_original_product_ids(trained_run, tiny_transformed):
    """Regression: the product's serving model answered with vocabulary indices."""
    fn_args, _ = trained_run
    loaded = tf.saved_model.load(fn_args.serving_model_dir)
    serve = loaded.signatures["serving_default"]
    _, inputs = serve.structured_input_signature
    # Only raw query-tower columns, typed as the raw feature spec says: TFT pruned the rest.
    assert {name: spec.dtype for name, spec in inputs.items()} == {
        "customer_id": tf.string,
        "city": tf.string,
        "revenue": tf.float32,
    }
    row = next(r for r in tiny_transformed.train_rows if r["customer_id"] == "C007")
    out = serve(
        customer_id=tf.constant(["C007", "C047"]),
        city=tf.constant([row["city"], "Gdansk"]),
        revenue=tf.constant([row["revenue"], 20000.0]),
    )
    ids, scores = out["product_ids"], out["scores"]
    k = E2E_CONFIG["top_k"]
    assert ids.dtype == tf.string and scores.dtype == tf.float32
    assert ids.shape == scores.shape == (2, k)
    first = [p.decode() for p in ids.numpy()[0]]
    assert all(p.startswith("P") and len(p) == 4 for p in first)
    # The learned structure: C007 buys from group 0's products, C047 from group 2's.
    assert sum(p in products_of_group(group_of_customer(7)) for p in first) >= 0.8 * k
    last = [p.decode() for p in ids.numpy()[1]]
    assert sum(p in products_of_group(group_of_customer(47)) for p in last) >= 0.8 * k
    assert np.all(np.diff(scores.numpy(), axis=1) <= 0)  # best first


def test_unknown_customer_is_served_from_the_oov_bucket(trained_run):
    fn_args, _ = trained_run
    serve = tf.saved_model.load(fn_args.serving_model_dir).signatures["serving_default"]
    out = serve(
        customer_id=tf.constant(["NEW-CUSTOMER"]),
        city=tf.constant(["Lodz"]),
        revenue=tf.constant([1.0]),
    )
    assert out["product_ids"].shape == (1, E2E_CONFIG["top_k"])


def test_same_seed_gives_identical_losses(trained_run, tiny_transformed, tmp_path):
    _, first = trained_run
    again = run_training(
        fn_args_for(tiny_transformed, str(tmp_path), **E2E_CONFIG),
        features=tiny_transformed.features,
        model=ModelConfig.preset("minimal"),
        training=TrainingParams(),
    )
    assert again["loss"] == first["loss"]
    assert again["final_metrics"] == first["final_metrics"]


def test_a_diverging_run_is_flagged_in_the_metrics_file(tiny_transformed, tmp_path):
    config = {**E2E_CONFIG, "learning_rate": 10.0, "epochs": 3}
    metrics = run_training(
        fn_args_for(tiny_transformed, str(tmp_path), **config),
        features=tiny_transformed.features,
        model=ModelConfig.preset("minimal"),
        training=TrainingParams(),
    )
    assert metrics["health"]["diverged"] is True
    assert "diverged" in metrics["health"]["warnings"][0]


def test_stored_queries_are_each_customers_latest_train_row():
    from specs import HistoryFeature
    from trainer.history import Purchases
    from trainer.run import _History, _stored_queries

    feature = HistoryFeature(column="product_id", timestamp="ts")
    # Customer 0's rows 0 and 2 (row 2 the later), customer 2's row 1; customer 1 has none.
    train = {"customer_id": np.array([0, 2, 0]), "city": np.array([5, 6, 7]),
             "revenue": np.array([0.5, 1.5, 2.5], np.float32)}  # fmt: skip
    history = _History(feature, Purchases(np.zeros(0), np.zeros(0), np.zeros(0)),
                       times=np.array([10.0, 20.0, 30.0]), n_customers=3, n_products=4,
                       table_items=5)  # fmt: skip
    names = ["customer_id", "city", "revenue", "product_id_history", "product_id_history_weight"]
    stored = _stored_queries(history, train, names, "customer_id", limit=3)
    assert sorted(stored.features) == ["city", "revenue"]  # no history, no customer id
    assert stored.features["city"][[0, 2]].tolist() == [7, 6]
    assert stored.known.tolist() == [True, False, True]
    # More customers than the limit, or a limit of 0: nothing stored.
    assert _stored_queries(history, train, names, "customer_id", limit=2) is None
    assert _stored_queries(history, train, names, "customer_id", limit=0) is None


def test_a_query_tower_that_reads_the_time_stores_no_answers():
    from specs import FeatureConfig
    from trainer.run import _store_limit

    example = json.loads(
        (Path(__file__).parents[2] / "codegen/examples/demo_b2b/features.json").read_text()
    )
    model = ModelConfig.preset("minimal", materialize_max_customers=500)
    assert _store_limit(FeatureConfig.model_validate(example), model) == 0  # its "ts" feature
    example["query_tower"]["features"] = [
        f for f in example["query_tower"]["features"] if f["kind"] != "timestamp"
    ]
    assert _store_limit(FeatureConfig.model_validate(example), model) == 500
