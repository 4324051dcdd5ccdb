"""The experiments queries over a dozen real quick-test trainings (issue 14's acceptance): the
tiny data trained twelve times with varied configs (two feature configs, three model presets,
learning rates, batch sizes and epoch counts) into one MLflow store, each run through
`trainer.run.run_training` as the quick test's Trainer runs it; every query's JSON equals the
figure computed here with MlflowClient, and every run keeps the run contract."""

from __future__ import annotations

import itertools
import json

import pytest

from experiments.cli import main
from tests.experiments.direct import (
    INSIGHT_PARAMS,
    insight_counts,
    pair_cells,
    top_share,
    trend_points,
)
from tests.trainer.tiny_data import E2E_CONFIG, feature_config, fn_args_for
from trainer import contract

EXPERIMENT = "tiny-dozen"
METRIC = "test_recall_at_100"
PRESETS = ("minimal", "standard", "asymmetric")


def _ids_only(features):
    """The tiny feature config with only the id features: a second feature config over the
    same transformed data."""
    data = features.model_dump()
    data["name"] = "tiny_ids"
    for tower, column in (("query_tower", "customer_id"), ("candidate_tower", "product_id")):
        data[tower]["features"] = [f for f in data[tower]["features"] if f["column"] == column]
        data[tower]["crosses"] = []
    return type(features).model_validate(data)


@pytest.fixture(scope="module")
def dozen(tiny_transformed, tmp_path_factory):
    """(store URI, MLflow runs) of twelve trainings."""
    from mlflow.tracking import MlflowClient

    from specs import ModelConfig, TrainingParams
    from trainer.run import run_training

    root = tmp_path_factory.mktemp("dozen")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    feature_configs = (feature_config(), _ids_only(feature_config()))
    plans = itertools.product(feature_configs, PRESETS, (0.03, 0.1))
    for i, (features, preset, learning_rate) in enumerate(plans):
        config = {**E2E_CONFIG, "learning_rate": learning_rate, "epochs": 2 + i % 2,
                  "batch_size": (32, 64)[i // 2 % 2], "run_name": "quick-test",
                  "mlflow_tracking_uri": uri, "mlflow_experiment": EXPERIMENT}  # fmt: skip
        args = fn_args_for(tiny_transformed, str(root / f"run{i}"), **config)
        metrics = run_training(args, features=features, model=ModelConfig.preset(preset),
                               training=TrainingParams())  # fmt: skip
        assert "error" not in metrics["mlflow"], metrics["mlflow"]
    client = MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert len(runs) == 12
    return uri, client, runs


def _json(capsys, uri, *argv):
    code = main([*argv, "--tracking-uri", uri, "--experiment", EXPERIMENT, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def test_every_run_keeps_the_run_contract(dozen):
    _, client, runs = dozen
    for r in runs:
        assert contract.violations(client, r.info.run_id, experiment=EXPERIMENT,
                                   run_name="quick-test") == []  # fmt: skip


def test_the_leaderboard_equals_mlflows_order(dozen, capsys):
    uri, client, runs = dozen
    board = _json(capsys, uri, "leaderboard")
    direct = client.search_runs([runs[0].info.experiment_id],
                                order_by=[f"metrics.{METRIC} DESC", "attributes.start_time ASC"])  # fmt: skip
    assert [(r["run_id"], r["value"]) for r in board["runs"]] == [
        (r.info.run_id, r.data.metrics[METRIC]) for r in direct
    ]
    for row in board["runs"]:
        run = client.get_run(row["run_id"])
        assert row["value"] == run.data.metrics[METRIC]
        assert row["model_config"] == run.data.tags["model_config_name"]
        assert row["learning_rate"] == run.data.params["learning_rate"]


def test_pairs_are_the_mean_of_each_feature_and_model_config(dozen, capsys):
    uri, _, runs = dozen
    result = _json(capsys, uri, "pairs")
    cells = pair_cells(runs, METRIC)
    assert result["feature_configs"] == ["tiny", "tiny_ids"]
    assert result["model_configs"] == sorted(PRESETS)
    assert len(result["cells"]) == len(cells) == 6
    for cell in result["cells"]:
        values = cells[cell["feature_config"], cell["model_config"]]
        assert cell["runs"] == len(values) == 2
        assert cell["mean"] == pytest.approx(sum(values) / len(values), rel=1e-12)


def test_the_trend_and_the_insights_equal_the_direct_figures(dozen, capsys):
    uri, _, runs = dozen
    trend = _json(capsys, uri, "trend")
    assert [(p["run_id"], p["start_time"], p["value"], p["best_so_far"])
            for p in trend["points"]] == trend_points(runs, METRIC)  # fmt: skip
    insights = _json(capsys, uri, "insights")
    top = top_share(runs, METRIC)
    assert insights["threshold"] == top[-1].data.metrics[METRIC]
    assert insights["top_runs"] == [r.info.run_id for r in top] and len(top) == 4
    for param in INSIGHT_PARAMS:
        rows = {row["value"]: (row["top"], row["runs"]) for row in insights["params"][param]}
        assert rows == insight_counts(runs, top, param)


def test_loss_per_epoch_is_each_runs_metric_history(dozen, capsys):
    uri, client, runs = dozen
    curves = _json(capsys, uri, "curves", "--keys", "loss,eval_loss,recall_at_10")
    for key in ("loss", "eval_loss", "recall_at_10"):
        assert set(curves["curves"][key]) == {r.info.run_id for r in runs}
        for r in runs:
            history = sorted(client.get_metric_history(r.info.run_id, key), key=lambda m: m.step)
            assert curves["curves"][key][r.info.run_id] == [m.value for m in history]
            assert len(history) == int(r.data.params["epochs"])
