"""Every query's JSON, from the CLI, equals the same figure computed here directly with
MlflowClient, over the dozen logged runs (tests/experiments/logged_runs.py)."""

from __future__ import annotations

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
from tests.experiments.logged_runs import EXPERIMENT, FEATURES, MODELS
from trainer import contract

METRIC = "test_recall_at_100"


def cli_json(capsys, *argv) -> dict:
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.fixture(scope="module")
def client(logged):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=logged.uri)


@pytest.fixture(scope="module")
def mlflow_runs(client):
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return client.search_runs([experiment.experiment_id], max_results=1000)


def test_the_logged_runs_keep_the_run_contract(logged, client):
    assert len(logged.run_ids) == 12
    for run_id in logged.run_ids:
        assert contract.violations(client, run_id, experiment=EXPERIMENT,
                                   run_name="quick-test") == []  # fmt: skip


def test_leaderboard(logged, client, capsys):
    result = cli_json(capsys, "leaderboard", "--tracking-uri", logged.uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    direct = client.search_runs([experiment.experiment_id],
                                order_by=[f"metrics.{METRIC} DESC"])  # fmt: skip
    assert result["metric"] == METRIC and result["order"] == "descending"
    assert [(r["run_id"], r["value"]) for r in result["runs"]] == [
        (r.info.run_id, r.data.metrics[METRIC]) for r in direct
    ]
    assert [r["rank"] for r in result["runs"]] == list(range(1, 13))
    first = direct[0]
    assert result["runs"][0]["feature_config"] == first.data.tags["feature_config_name"]
    assert result["runs"][0]["learning_rate"] == first.data.params["learning_rate"]
    # The known answer (logged_runs): a learning rate of 0.03 with the rich features wins.
    best = result["runs"][0]
    assert (best["feature_config"], best["learning_rate"]) == ("rich", "0.03")


def test_a_loss_ranks_lowest_first(logged, client, capsys):
    result = cli_json(capsys, "leaderboard", "--tracking-uri", logged.uri, "--metric",
                      "final_loss", "--top", "3")  # fmt: skip
    direct = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id],
                                order_by=["metrics.final_loss ASC"], max_results=3)  # fmt: skip
    assert result["order"] == "ascending"
    assert [r["value"] for r in result["runs"]] == [r.data.metrics["final_loss"] for r in direct]


def test_compare_marks_the_best_value(logged, client, capsys):
    ids = logged.run_ids[:3]
    result = cli_json(capsys, "compare", *ids, "--tracking-uri", logged.uri)
    runs = {i: client.get_run(i) for i in ids}
    assert [r["run_id"] for r in result["runs"]] == ids
    names = set().union(*(r.data.metrics for r in runs.values()))
    assert set(result["metrics"]) == names
    for name in names:
        values = {i: runs[i].data.metrics.get(name) for i in ids}
        assert result["metrics"][name]["values"] == values
        present = {i: v for i, v in values.items() if v is not None}
        pick = min if "loss" in name else max
        best = pick(present.values())
        assert result["metrics"][name]["best"] == [i for i, v in present.items() if v == best]
    for name in ("learning_rate", "batch_size", "epochs"):
        values = {i: runs[i].data.params[name] for i in ids}
        assert result["params"][name] == {"values": values,
                                          "differs": len(set(values.values())) > 1}  # fmt: skip


def test_pairs(logged, mlflow_runs, capsys):
    result = cli_json(capsys, "pairs", "--tracking-uri", logged.uri)
    cells = pair_cells(mlflow_runs, METRIC)
    assert result["feature_configs"] == sorted(FEATURES)
    assert result["model_configs"] == sorted(MODELS)
    assert len(result["cells"]) == 6
    for cell in result["cells"]:
        values = cells[cell["feature_config"], cell["model_config"]]
        assert cell["runs"] == len(values) == 2
        assert cell["mean"] == pytest.approx(sum(values) / len(values), rel=1e-12)


def test_trend(logged, mlflow_runs, capsys):
    result = cli_json(capsys, "trend", "--tracking-uri", logged.uri)
    assert [(p["run_id"], p["start_time"], p["value"], p["best_so_far"])
            for p in result["points"]] == trend_points(mlflow_runs, METRIC)  # fmt: skip


def test_insights(logged, mlflow_runs, capsys):
    result = cli_json(capsys, "insights", "--tracking-uri", logged.uri)
    top = top_share(mlflow_runs, METRIC)
    assert result["top_runs"] == [r.info.run_id for r in top]
    assert result["threshold"] == top[-1].data.metrics[METRIC]
    for param in INSIGHT_PARAMS:
        rows = {row["value"]: (row["top"], row["runs"]) for row in result["params"][param]}
        assert rows == insight_counts(mlflow_runs, top, param)
    # The known answer: every run in the top 30% trained with a learning rate of 0.03.
    assert {row["value"]: row["top"] for row in result["params"]["learning_rate"]}["0.03"] == 4


def test_loss_per_epoch_across_runs(logged, client, mlflow_runs, capsys):
    result = cli_json(capsys, "curves", "--tracking-uri", logged.uri, "--keys",
                      "loss,val_loss,recall_at_10")  # fmt: skip
    for key in ("loss", "val_loss", "recall_at_10"):
        assert set(result["curves"][key]) == {r.info.run_id for r in mlflow_runs}
        for run_id, values in result["curves"][key].items():
            history = sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)
            assert values == [m.value for m in history]
            assert len(values) == int(client.get_run(run_id).data.params["epochs"])


def test_filters_narrow_the_runs(logged, client, capsys):
    result = cli_json(capsys, "leaderboard", "--tracking-uri", str(logged.db), "--experiment",
                      EXPERIMENT, "--filter", "tags.feature_config_name = 'small'")  # fmt: skip
    assert {r["feature_config"] for r in result["runs"]} == {"small"}
    assert len(result["runs"]) == 6
    none = cli_json(capsys, "leaderboard", "--tracking-uri", logged.uri, "--run-name", "training")
    assert none["runs"] == []


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["compare", "only-one"], "runs: compare takes 2 to 4 run ids, got 1"),
        (["leaderboard", "--top", "0"], "top: must be at least 1, got 0"),
        (["report"], "out: report needs --out FILE.html"),
        (["leaderboard", "--experiment", "nope"], "not found: experiment 'nope'"),
        (["compare", "a" * 32, "b" * 32], "not found: run 'aaaa"),
    ],
)
def test_invalid_input_is_named_and_exits_2(logged, capsys, argv, message):
    assert main([*argv, "--tracking-uri", logged.uri]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_missing_local_store_is_named(tmp_path, capsys):
    assert main(["leaderboard", "--tracking-uri", str(tmp_path / "none.db")]) == 2
    err = capsys.readouterr().err
    assert f"no MLflow store at {tmp_path / 'none.db'}" in err
    assert not (tmp_path / "none.db").exists()  # nothing created
