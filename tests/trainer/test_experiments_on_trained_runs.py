"""The experiments queries over real trainer runs: the session's tiny training and a second one
(another model preset and learning rate) logged to the same MLflow store. Their figures equal
what the trainer wrote in each run's training_metrics.json."""

from __future__ import annotations

import json
import os

import pytest

from experiments.cli import main
from tests.trainer.tiny_data import E2E_CONFIG, fn_args_for
from trainer.tracking import INFO_FILE


@pytest.fixture(scope="module")
def two_runs(trained_run, tiny_transformed, tmp_path_factory):
    """[(run id, metrics)] of the session's run and of a second run into its store."""
    from specs import ModelConfig, TrainingParams
    from trainer.run import run_training

    first_args, first = trained_run
    with open(os.path.join(first_args.model_run_dir, INFO_FILE)) as f:
        info = json.load(f)
    config = {**E2E_CONFIG, "learning_rate": 0.1, "mlflow_tracking_uri": info["tracking_uri"],
              "mlflow_experiment": info["experiment_name"]}  # fmt: skip
    second_args = fn_args_for(tiny_transformed, str(tmp_path_factory.mktemp("run2")), **config)
    second = run_training(second_args, features=tiny_transformed.features,
                          model=ModelConfig.preset("standard"), training=TrainingParams())  # fmt: skip
    assert second["mlflow"]["run_id"] and "error" not in second["mlflow"]
    return info["tracking_uri"], [(info["run_id"], first), (second["mlflow"]["run_id"], second)]


def _json(capsys, *argv):
    assert main([*argv, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_leaderboard_ranks_the_real_runs_by_their_test_recall(two_runs, capsys):
    uri, runs = two_runs
    # Only these two: tests/trainer/test_contract.py adds a copied run to the same store.
    only = "attributes.run_id IN (" + ", ".join(f"'{rid}'" for rid, _ in runs) + ")"
    board = _json(capsys, "leaderboard", "--tracking-uri", uri, "--filter", only)
    expected = sorted(((m["final_metrics"]["recall_at_100"], rid) for rid, m in runs),
                      key=lambda p: -p[0])  # fmt: skip
    assert [r["run_id"] for r in board["runs"]] == [rid for _, rid in expected]
    assert [r["value"] for r in board["runs"]] == pytest.approx([v for v, _ in expected])
    assert {r["model_config"] for r in board["runs"]} == {"minimal", "standard"}


def test_compare_and_curves_read_back_what_the_trainer_wrote(two_runs, capsys):
    uri, runs = two_runs
    ids = [rid for rid, _ in runs]
    table = _json(capsys, "compare", *ids, "--tracking-uri", uri)
    for rid, metrics in runs:
        values = {name: entry["values"][rid] for name, entry in table["metrics"].items()}
        assert values["final_loss"] == pytest.approx(metrics["loss"]["loss"][-1])
        assert values["test_recall_at_10"] == pytest.approx(
            metrics["final_metrics"]["recall_at_10"]
        )
        history = metrics["training_history"]
        assert (
            values["parameters_query_tower_total"] == history["parameters"]["query_tower"]["total"]
        )
    assert table["params"]["learning_rate"]["differs"]
    only = "attributes.run_id IN (" + ", ".join(f"'{rid}'" for rid in ids) + ")"
    curves = _json(capsys, "curves", "--tracking-uri", uri, "--keys", "loss,eval_loss,recall_at_10",
                   "--filter", only)  # fmt: skip
    for rid, metrics in runs:
        history = metrics["training_history"]
        assert curves["curves"]["loss"][rid] == pytest.approx(metrics["loss"]["loss"])
        assert curves["curves"]["eval_loss"][rid] == pytest.approx(history["eval_loss"])
        assert curves["curves"]["recall_at_10"][rid] == pytest.approx(
            history["recall"]["recall_at_10"]
        )
