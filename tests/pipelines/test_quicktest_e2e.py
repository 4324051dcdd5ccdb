"""One LocalDagRunner run of the quick-test template on generated modules and synthetic data.

This is the execution test of the generated code: the Transform and Trainer modules rendered from
the demo example config run inside TFX on Beam's DirectRunner; the served model then answers an
HTTP request with original product ids.
"""

from __future__ import annotations

import dataclasses
import json

import pyarrow.parquet as pq
import pytest

from demo import steps
from pipelines.local import PipelineStepError, run_local
from pipelines.registry import get_template
from tests.receiver import events, receiver

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def quicktest_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("quicktest")
    warehouse = steps.make_data(work / "warehouse", customers=200, products=80, transactions=4000)
    configs = steps.load_example(steps.EXAMPLES / "demo_b2b", epochs=2)
    generated = steps.render(configs, work / "generated")
    lines: list[str] = []
    values = steps.pipeline_values(configs, generated, warehouse)
    with receiver() as (url, received):  # the app's webhooks, on localhost
        run = run_local(get_template("quicktest"), values | {"callback_url": url},
                        root=work / "run", report=lines.append, beam_workers=1)  # fmt: skip
    return run, warehouse, generated, lines, events(received)


def test_the_app_hears_every_stage_and_epoch(quicktest_run):
    *_, posted = quicktest_run
    kinds = [path.rsplit("/", 2)[-2] for path, _ in posted]
    # Epochs complete while RecsTrainer runs, before its stage does; "completed" comes last.
    assert kinds == ["stage-complete"] * 4 + ["epoch-complete"] * 2 + [
        "stage-complete",
        "completed",
    ]
    stages = [p for path, p in posted if "stage-complete" in path]
    assert [(p["stage"], p["stage_index"]) for p in stages] == [
        (name, i) for i, name in enumerate(get_template("quicktest").components, start=1)
    ]
    assert [p["epoch"] for path, p in posted if "epoch-complete" in path] == [1, 2]
    # The last event carries the run's status and the product's stages.
    completed = posted[-1][1]
    assert completed["status"] == "completed"
    assert [(s["name"], s["status"]) for s in completed["stages"]] == [
        (name, "completed")
        for name in ("Compile", "Examples", "Stats", "Schema", "Transform", "Train")
    ]


def test_every_stage_ran_and_reported_progress(quicktest_run):
    run, _, _, lines, _ = quicktest_run
    template = get_template("quicktest")
    assert sorted(run.stage_seconds) == sorted(template.components)
    assert [line.split(" done in ")[0] for line in lines if " done in " in line] == [
        f"[{i}/5] {name}" for i, name in enumerate(template.components, start=1)
    ]
    assert run.metadata_path.exists()


def test_metrics_file_has_losses_recalls_and_baseline(quicktest_run):
    run, *_ = quicktest_run
    metrics = steps.read_metrics(run)
    assert len(metrics["loss"]["loss"]) == 2  # one value per epoch
    for k in (5, 10, 50, 100):
        assert 0.0 <= metrics["final_metrics"][f"recall_at_{k}"] <= 1.0
    assert metrics["final_metrics"]["recall_at_100"] >= metrics["final_metrics"]["recall_at_10"]
    assert "recall_at_10" in metrics["baselines"]["popularity"]
    table = steps.metrics_table(metrics)
    assert "model" in table and "popularity" in table and "R@100 all" in table


def test_the_run_is_tracked_in_the_run_folders_mlflow_store(quicktest_run):
    from mlflow.tracking import MlflowClient

    run, *_ = quicktest_run
    metrics = steps.read_metrics(run)
    info = metrics["mlflow"]
    assert info["tracking_uri"] == f"sqlite:///{run.root / 'mlflow.db'}" and "error" not in info
    tracked = MlflowClient(tracking_uri=info["tracking_uri"]).get_run(info["run_id"])
    assert (tracked.info.run_name, tracked.info.status) == ("quick-test", "FINISHED")
    assert tracked.data.metrics["test_recall_at_100"] == pytest.approx(
        metrics["final_metrics"]["recall_at_100"]
    )
    assert tracked.info.artifact_uri.startswith(f"file://{run.root / 'mlflow-artifacts'}")
    line = steps.tracked_run_line(metrics)  # what the demo prints
    assert f"MLflow run {info['run_id']} (quick-test, FINISHED)" in line


def test_served_model_answers_with_original_product_ids(quicktest_run):
    run, warehouse, generated, *_ = quicktest_run
    answer = steps.serve_and_ask(run, warehouse, (generated / "dataset_query.sql").read_text())
    prediction = answer["predictions"][0]
    catalogue = set(
        pq.read_table(warehouse / "raw_data" / "products.parquet")["product_id"].to_pylist()
    )
    assert prediction["product_ids"], "no recommendations"
    # Original ids ("P000123"), never vocabulary indices: the product's recorded bug.
    assert set(prediction["product_ids"]) <= catalogue
    assert prediction["scores"] == sorted(prediction["scores"], reverse=True)
    json.dumps(answer)  # the whole answer is JSON-serializable


def test_the_readmes_serving_request_is_answered_by_the_demo_model(quicktest_run):
    """The request the README shows, sent as it is written, to the model of the README's demo."""
    import re
    import urllib.request
    from pathlib import Path

    from serving.model_server import ServerThread

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    (url_path, body), *_ = re.findall(
        r"curl -s localhost:8501(/v1/models/recommender:predict) \\\n\s+-d '([^']+)'", readme
    )
    run, *_ = quicktest_run
    with ServerThread(steps.serving_dir(run)) as server:
        request = urllib.request.Request(server.url + url_path, data=body.encode(),
                                         headers={"Content-Type": "application/json"})  # fmt: skip
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200
            answer = json.loads(response.read())
    assert len(answer["predictions"][0]["product_ids"]) > 0


def test_the_tfdv_parser_reads_the_runs_statistics_and_schema_as_tfdv_does(quicktest_run):
    import tensorflow_data_validation as tfdv
    from tensorflow_metadata.proto.v0 import schema_pb2

    from serving.statistics import describe, statistics_html

    run, *_ = quicktest_run
    statistics = run.output("StatisticsGen", "statistics")
    schema = run.output("SchemaGen", "schema")
    answer = describe(str(statistics), schema_uri=str(schema))
    assert [s["split"] for s in answer["splits"]] == ["eval", "train"]
    inferred = tfdv.load_schema_text(str(schema / "schema.pbtxt"))
    for split in answer["splits"]:
        stats = tfdv.load_stats_binary(
            str(statistics / f"Split-{split['split']}" / "FeatureStats.pb")
        )
        dataset = stats.datasets[0]
        assert split["num_examples"] == dataset.num_examples > 0
        assert {f["name"] for f in split["features"]} == {
            ".".join(f.path.step) for f in dataset.features
        }
        for ours in split["features"]:
            theirs = tfdv.get_feature_stats(dataset, tfdv.FeaturePath([ours["name"]]))
            kind = theirs.WhichOneof("stats")
            common = getattr(theirs, kind).common_stats
            assert (ours["count"], ours["missing"]) == (common.num_non_missing, common.num_missing)
            if kind == "num_stats":
                assert (ours["mean"], ours["std"], ours["min"], ours["max"]) == (
                    theirs.num_stats.mean, theirs.num_stats.std_dev,
                    theirs.num_stats.min, theirs.num_stats.max,
                )  # fmt: skip
            if kind == "string_stats":
                assert ours["unique"] == theirs.string_stats.unique
                assert [v["value"] for v in ours["top_values"]] == [
                    v.value for v in theirs.string_stats.top_values
                ]
            feature = tfdv.get_feature(inferred, ours["name"])
            assert ours["schema"]["type"] == schema_pb2.FeatureType.Name(feature.type)
    assert "<facets-overview" in statistics_html(str(statistics), "train")


def test_a_failing_step_is_named(tmp_path, quicktest_run):
    _, warehouse, generated, *_ = quicktest_run
    configs = steps.load_example(steps.EXAMPLES / "demo_b2b", epochs=1)
    values = steps.pipeline_values(configs, generated, warehouse)
    values["query"] = "SELECT * FROM `raw_data`.`no_such_table`"
    with receiver() as (url, received), pytest.raises(PipelineStepError) as error:
        run_local(get_template("quicktest"), values | {"callback_url": url},
                  root=tmp_path / "run", report=lambda _: None, beam_workers=1)  # fmt: skip
    assert error.value.component == "QueryExampleGen"
    assert "no_such_table" in str(error.value)
    ((path, payload),) = events(received)
    assert path.endswith("/failed/") and payload["stage"] == "QueryExampleGen"


@pytest.mark.parametrize("model_type", ["ranking", "multitask"])
def test_ranking_and_multitask_configs_render_train_and_serve(model_type, tmp_path, quicktest_run):
    """The demo config as a ranking or multitask model (target: log1p of the quantity), through
    the whole template: RMSE/MAE in the metrics file, original product ids from the server."""
    _, warehouse, *_ = quicktest_run
    configs = steps.load_example(steps.EXAMPLES / "demo_b2b", epochs=1)
    configs = dataclasses.replace(
        configs, model=configs.model.model_copy(update={"model_type": model_type})
    )
    generated = steps.render(configs, tmp_path / "generated")
    assert f'"model_type": "{model_type}"' in (generated / "trainer_module.py").read_text()
    run = run_local(get_template("quicktest"), steps.pipeline_values(configs, generated, warehouse),
                    root=tmp_path / "run", report=lambda _: None, beam_workers=1)  # fmt: skip
    metrics = steps.read_metrics(run)
    assert len(metrics["loss"]["val_rmse"]) == len(metrics["loss"]["val_mae"]) == 1
    final = metrics["final_metrics"]
    assert final["test_rmse"] > 0 and final["test_mae"] > 0 and "recall_at_10" in final
    answer = steps.serve_and_ask(run, warehouse, (generated / "dataset_query.sql").read_text())
    prediction = answer["predictions"][0]
    catalogue = set(
        pq.read_table(warehouse / "raw_data" / "products.parquet")["product_id"].to_pylist()
    )
    assert prediction["product_ids"] and set(prediction["product_ids"]) <= catalogue
    assert prediction["scores"] == sorted(prediction["scores"], reverse=True)
    if model_type == "multitask":
        assert len(prediction["ratings"]) == len(prediction["product_ids"])
