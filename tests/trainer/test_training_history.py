"""The training history (trainer.training_history) of a tiny training run: in the metrics file,
in MLflow, and in TensorBoard event files that TensorBoard's own reader reads."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest

from tests.trainer.test_tracking import client_for
from tests.trainer.tiny_data import E2E_CONFIG, fn_args_for
from trainer.metrics import KS
from trainer.tracking import INFO_FILE
from trainer.training_history import (
    WEIGHT_STATS,
    histogram,
    summary_metrics,
    tensorboard_dir,
    weight_stats,
)

TOWERS = ("query_tower", "candidate_tower")


def test_weight_stats_and_histograms_have_known_answers():
    stats = weight_stats(np.array([3.0, -4.0, 0.0, 1.0]))
    assert stats == {"l1": 8.0, "l2": math.sqrt(26.0), "mean": 0.0,
                     "std": math.sqrt(6.5), "min": -4.0, "max": 3.0}  # fmt: skip
    bins = histogram(np.array([0.0, 0.1, 0.9, 1.0]), bins=2)
    assert bins == {"edges": [0.0, 0.5, 1.0], "counts": [2, 2]}


def test_summary_metrics_name_towers_and_features():
    history = {
        "parameters": {"query_tower": {"total": 10, "trainable": 8, "non_trainable": 2}},
        "vocabularies": {"city": {"vocab_size": 3, "oov_rate": 0.25, "oov_rate_train": None}},
    }
    assert summary_metrics(history) == {
        "parameters_query_tower_total": 10, "parameters_query_tower_trainable": 8,
        "parameters_query_tower_non_trainable": 2, "vocab_size_city": 3, "oov_rate_city": 0.25,
    }  # fmt: skip


def _history(trained_run) -> dict:
    return trained_run[1]["training_history"]


def test_every_epoch_has_eval_loss_recall_and_weight_statistics(trained_run):
    history = _history(trained_run)
    epochs = E2E_CONFIG["epochs"]
    assert history["epochs"] == list(range(epochs))
    assert len(history["eval_loss"]) == epochs
    assert all(math.isfinite(v) and v > 0 for v in history["eval_loss"])
    for k in KS:
        values = history["recall"][f"recall_at_{k}"]
        assert len(values) == epochs and all(0.0 <= v <= 1.0 for v in values)
    # No tiny customer has over 3 test items, so recall (hits / min(items, K)) cannot fall as K
    # grows.
    for small, large in zip(KS, KS[1:], strict=False):
        assert all(a <= b + 1e-12 for a, b in zip(history["recall"][f"recall_at_{small}"],
                                                   history["recall"][f"recall_at_{large}"],
                                                   strict=True))  # fmt: skip
    # The tiny data's groups are learnable: the towers beat chance (20 of 60 products per
    # group) by the last epoch.
    assert history["recall"]["recall_at_10"][-1] > 10 / 60
    for tower in TOWERS:
        stats = history["weights"][tower]
        assert set(stats) == set(WEIGHT_STATS)
        for i in range(epochs):
            assert stats["min"][i] <= stats["mean"][i] <= stats["max"][i]
            assert stats["l2"][i] > 0 and stats["l1"][i] >= stats["l2"][i]
        assert stats["l2"][0] != stats["l2"][-1]  # the weights moved


def test_histograms_cover_every_trainable_weight_and_the_gradients(trained_run):
    history = _history(trained_run)
    assert history["histogram_every_epochs"] == 1
    assert [h["epoch"] for h in history["histograms"]] == history["epochs"]
    for entry in history["histograms"]:
        for tower in TOWERS:
            counts = history["parameters"][tower]
            assert sum(entry["weights"][tower]["counts"]) == counts["trainable"]
            gradients = entry["gradients"][tower]
            assert sum(gradients["counts"]) == counts["trainable"]
            assert gradients["l2"] > 0


def test_parameter_counts_equal_the_configs_count(trained_run, tiny_transformed):
    from specs import ModelConfig
    from specs.sizes import tower_parameters

    history = _history(trained_run)
    vocab = {c: v["vocab_size"] for c, v in history["vocabularies"].items()}
    expected = tower_parameters(tiny_transformed.features, ModelConfig.preset("minimal"), vocab)
    assert history["parameters"] == {t: expected[t].as_dict() for t in TOWERS}


def test_vocabulary_sizes_and_oov_rates_match_the_rows(trained_run, tiny_transformed):
    vocabularies = _history(trained_run)["vocabularies"]
    assert set(vocabularies) == {"customer_id", "city", "product_id", "category"}
    for column in vocabularies:
        seen = {row[column] for row in tiny_transformed.train_rows}
        eval_values = [row[column] for row in tiny_transformed.eval_rows]
        assert vocabularies[column]["vocab_size"] == len(seen)
        oov = sum(v not in seen for v in eval_values) / len(eval_values)
        assert vocabularies[column]["oov_rate"] == pytest.approx(oov)
        assert vocabularies[column]["oov_rate_train"] == 0.0


def test_mlflow_holds_the_same_history(trained_run):
    fn_args, metrics = trained_run
    history = metrics["training_history"]
    with open(os.path.join(fn_args.model_run_dir, INFO_FILE)) as f:
        info = json.load(f)
    client = client_for(info["tracking_uri"])
    run_id = info["run_id"]

    def logged(key):
        points = client.get_metric_history(run_id, key)
        assert [m.step for m in points] == history["epochs"]
        return [m.value for m in points]

    assert logged("eval_loss") == pytest.approx(history["eval_loss"])
    assert logged("recall_at_10") == pytest.approx(history["recall"]["recall_at_10"])
    assert logged("weights_candidate_tower_l2") == pytest.approx(
        history["weights"]["candidate_tower"]["l2"]
    )
    final = client.get_run(run_id).data.metrics
    assert final["parameters_query_tower_total"] == history["parameters"]["query_tower"]["total"]
    assert final["vocab_size_product_id"] == history["vocabularies"]["product_id"]["vocab_size"]
    files = [a.path for a in client.list_artifacts(run_id, "tensorboard")]
    assert files and all(p.startswith("tensorboard/events.out.tfevents") for p in files)


def test_tensorboards_own_reader_reads_the_event_files(trained_run):
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.util.tensor_util import make_ndarray

    fn_args, metrics = trained_run
    history = metrics["training_history"]
    folder = tensorboard_dir(fn_args.model_run_dir)
    assert history["tensorboard_dir"] == folder
    reader = event_accumulator.EventAccumulator(folder, size_guidance={"tensors": 0})
    reader.Reload()
    tags = reader.Tags()["tensors"]

    def scalars(tag):
        events = reader.Tensors(tag)
        assert [e.step for e in events] == history["epochs"]
        return [float(make_ndarray(e.tensor_proto)) for e in events]

    assert scalars("eval_loss") == pytest.approx(history["eval_loss"])
    assert scalars("loss") == pytest.approx(metrics["loss"]["loss"])
    assert scalars("recall_at_100") == pytest.approx(history["recall"]["recall_at_100"])
    weight_tags = [t for t in tags if t.startswith("weights/query_tower/")]
    gradient_tags = [t for t in tags if t.startswith("gradients/candidate_tower/")]
    assert weight_tags and gradient_tags
    for tag in weight_tags + gradient_tags:
        events = reader.Tensors(tag)
        assert [e.step for e in events] == history["epochs"]
        # A histogram tensor: one (left edge, right edge, count) row per bin.
        bins = make_ndarray(events[-1].tensor_proto)
        assert bins.ndim == 2 and bins.shape[1] == 3 and bins[:, 2].sum() > 0


def test_the_history_leaves_the_training_itself_unchanged(trained_run, tiny_transformed,
                                                          tmp_path):  # fmt: skip
    """The samples come from NumPy's own generator and gradients are taken without dropout:
    with the history off, the same seed trains to the same losses."""
    from specs import ModelConfig, TrainingParams
    from trainer.run import run_training

    fn_args = fn_args_for(tiny_transformed, str(tmp_path), **E2E_CONFIG)
    metrics = run_training(
        fn_args, features=tiny_transformed.features, model=ModelConfig.preset("minimal"),
        training=TrainingParams(training_history={"enabled": False}),
    )  # fmt: skip
    assert "training_history" not in metrics
    assert not os.path.exists(tensorboard_dir(fn_args.model_run_dir))
    assert metrics["loss"]["loss"] == pytest.approx(trained_run[1]["loss"]["loss"], rel=1e-6)
