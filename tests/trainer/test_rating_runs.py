"""Ranking and multitask models end to end on the tiny data: RMSE/MAE in the metrics file's
layout, and a serving model that answers original product ids for every model type."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from tests.trainer.tiny_data import E2E_CONFIG, TARGET, products_of_group, quantity_of
from trainer.ranking import rating_results
from trainer.run import METRICS_FILE


def written(fn_args) -> dict:
    with open(os.path.join(fn_args.model_run_dir, METRICS_FILE)) as f:
        return json.load(f)


@pytest.mark.parametrize("run", ["ranking_run", "multitask_run"])
def test_rmse_and_mae_per_epoch_and_final_in_the_products_layout(run, request):
    fn_args, _ = request.getfixturevalue(run)
    metrics = written(fn_args)
    epochs = E2E_CONFIG["epochs"]
    # Per-epoch validation values are lists under "loss"; final and test values are scalars
    # under "final_metrics" (the product's extraction bug looked for a bare "rmse" there).
    assert len(metrics["loss"]["val_rmse"]) == len(metrics["loss"]["val_mae"]) == epochs
    final = metrics["final_metrics"]
    assert {"test_rmse", "test_mae", "final_val_rmse", "final_val_mae"} <= set(final)
    assert "rmse" not in final and "mae" not in final
    assert rating_results(metrics) == {
        "rmse": metrics["loss"]["val_rmse"][-1],
        "mae": metrics["loss"]["val_mae"][-1],
        "test_rmse": final["test_rmse"],
        "test_mae": final["test_mae"],
    }
    # Without early stopping the final model is the last epoch's.
    assert final["final_val_rmse"] == pytest.approx(metrics["loss"]["val_rmse"][-1], rel=1e-4)


def test_ranking_learns_the_target_better_than_its_mean(ranking_run, tiny_transformed):
    fn_args, metrics = ranking_run
    target = np.log1p([quantity_of(int(r["product_id"][1:])) for r in tiny_transformed.eval_rows])
    mean_rmse = float(np.sqrt(np.mean((target - target.mean()) ** 2)))
    assert metrics["final_metrics"]["test_rmse"] < 0.5 * mean_rmse
    assert metrics["model_type"] == "ranking"
    assert "val_rmse" in metrics["loss"] and "ranking_loss" not in metrics["loss"]


def test_multitask_reports_both_task_losses(multitask_run):
    _, metrics = multitask_run
    assert {"retrieval_loss", "ranking_loss", "loss"} <= set(metrics["loss"])
    assert (
        metrics["final_metrics"]["recall_at_10"]
        > metrics["baselines"]["popularity"]["recall_at_10"]
    )


def serve(fn_args, customers):
    loaded = tf.saved_model.load(fn_args.serving_model_dir)
    fn = loaded.signatures["serving_default"]
    rows = {"customer_id": customers, "city": ["Warsaw"] * len(customers)}
    rows["revenue"] = [3000.0] * len(customers)
    return fn(**{k: tf.constant(v) for k, v in rows.items()})


def test_ranking_serves_products_by_predicted_quantity(ranking_run):
    out = serve(ranking_run[0], ["C000", "C001"])
    assert set(out) == {"product_ids", "scores"}
    ids = [p.decode() for p in out["product_ids"].numpy()[0]]
    scores = out["scores"].numpy()[0]
    assert len(ids) == E2E_CONFIG["top_k"] and all(p.startswith("P") for p in ids)
    assert np.all(np.diff(scores) <= 1e-6)  # best first
    # The scores are predicted log1p(quantity): the top products are the ones taken by 10.
    top = [int(p[1:]) for p in ids[:3]]
    assert np.mean([quantity_of(p) for p in top]) >= 7
    assert np.all(scores < np.log1p(TARGET["clip_max"]))


def test_multitask_serves_by_retrieval_with_predicted_quantities(multitask_run):
    out = serve(multitask_run[0], ["C000"])
    assert set(out) == {"product_ids", "scores", "ratings"}
    ids = [p.decode() for p in out["product_ids"].numpy()[0]]
    assert ids[0] in products_of_group(0)  # retrieval ranks the customer's group first
    ratings = out["ratings"].numpy()[0]
    expected = np.log1p([quantity_of(int(p[1:])) for p in ids])
    assert np.corrcoef(ratings, expected)[0, 1] > 0.8


def test_early_stopping_stops_and_restores_the_best_epoch(tiny_transformed, tmp_path):
    from specs import EarlyStopping, LearningRateSchedule, ModelConfig, TrainingParams
    from tests.trainer.tiny_data import feature_config, fn_args_for
    from trainer.run import run_training

    # No later epoch can improve by min_delta: training stops after 1 + patience epochs and
    # the model ends with the first epoch's weights.
    training = TrainingParams(
        epochs=6,
        early_stopping=EarlyStopping(monitor="val_rmse", patience=2, min_delta=1e9),
        lr_schedule=LearningRateSchedule(type="cosine"),
    )
    fn_args = fn_args_for(tiny_transformed, str(tmp_path), **{**E2E_CONFIG, "epochs": 6})
    metrics = run_training(
        fn_args,
        features=feature_config(TARGET),
        model=ModelConfig.preset("minimal", model_type="ranking"),
        training=training,
    )
    per_epoch = metrics["loss"]["val_rmse"]
    assert len(per_epoch) == 3 and metrics["hyperparameters"]["epochs_trained"] == 3
    assert metrics["final_metrics"]["final_val_rmse"] == pytest.approx(per_epoch[0], rel=1e-4)
    assert "val_loss" in metrics["loss"]  # Keras evaluated the validation rows too
