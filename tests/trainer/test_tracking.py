"""MLflow tracking of training runs (trainer.tracking), read back with MlflowClient."""

from __future__ import annotations

import json
import os

import pytest

from trainer.tracking import (
    INFO_FILE,
    RunTracker,
    TrackingSettings,
    identity_token_for,
    result_metrics,
)


@pytest.fixture(autouse=True)
def _no_ambient_tracking_uri(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN", raising=False)


def client_for(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def test_settings_come_from_custom_config_then_environment_then_the_run_folder(
    tmp_path, monkeypatch
):
    default = TrackingSettings.resolve({}, default_root=str(tmp_path), experiment="retail")
    assert default.tracking_uri == f"sqlite:///{tmp_path}/mlflow.db"
    # A local store's artifacts live beside it, never in the working directory.
    assert default.artifact_location == str(tmp_path / "mlflow-artifacts")
    assert (default.experiment, default.run_name) == ("retail", "training")

    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    from_env = TrackingSettings.resolve(None, default_root=str(tmp_path), experiment="retail")
    assert (from_env.tracking_uri, from_env.artifact_location) == ("http://127.0.0.1:5000", None)

    given = TrackingSettings.resolve(
        {
            "mlflow_tracking_uri": "https://mlflow-abc.a.run.app",
            "mlflow_experiment": "acme-endpoint",
            "run_name": "quick-test",
        },
        default_root=str(tmp_path),
        experiment="retail",
    )
    assert given == TrackingSettings("https://mlflow-abc.a.run.app", "acme-endpoint", "quick-test")


def test_an_https_tracking_uri_gets_an_identity_token_for_its_service():
    audiences = []

    def fetch(audience):
        audiences.append(audience)
        return "id-token"

    assert identity_token_for("https://mlflow-abc.a.run.app/api/x", fetch) == "id-token"
    assert audiences == ["https://mlflow-abc.a.run.app"]
    assert identity_token_for("http://127.0.0.1:5000", fetch) is None
    assert identity_token_for("sqlite:////tmp/mlflow.db", fetch) is None
    assert audiences == ["https://mlflow-abc.a.run.app"]


def test_the_token_is_sent_as_the_tracking_token(tmp_path, monkeypatch):
    # The store is local here, so the request is never made; the token is what MLflow would send.
    settings = TrackingSettings("https://mlflow-abc.a.run.app", "e", "r")
    tracker = RunTracker(settings, token_fetch=lambda audience: f"token for {audience}")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "before")  # restored after the test
    monkeypatch.setattr("mlflow.tracking.MlflowClient", _RefusingClient)
    tracker.start(tags={}, params={}, configs={})
    assert os.environ["MLFLOW_TRACKING_TOKEN"] == "token for https://mlflow-abc.a.run.app"
    assert tracker.error and "refused" in tracker.error


class _RefusingClient:
    def __init__(self, tracking_uri):
        raise ConnectionError("refused")


def test_result_metrics_names():
    metrics = {
        "loss": {"loss": [3.0, 2.0], "val_loss": [2.5, 2.2]},
        "final_metrics": {"recall_at_10": 0.4, "new_recall_at_10": 0.1, "test_rmse": 1.5},
        "baselines": {"popularity": {"recall_at_10": 0.2}},
        "throughput": {"examples_per_second": 100.0, "fit_rows": 50},
    }
    assert result_metrics(metrics) == {
        "final_loss": 2.0,
        "final_val_loss": 2.2,
        "test_recall_at_10": 0.4,
        "test_new_recall_at_10": 0.1,
        "test_rmse": 1.5,
        "baseline_popularity_recall_at_10": 0.2,
        "throughput_examples_per_second": 100.0,
        "throughput_fit_rows": 50.0,
    }


def test_a_training_run_is_logged_and_readable_with_the_mlflow_client(trained_run):
    fn_args, metrics = trained_run
    with open(os.path.join(fn_args.model_run_dir, INFO_FILE)) as f:
        info = json.load(f)
    with open(os.path.join(fn_args.serving_model_dir, INFO_FILE)) as f:
        assert json.load(f) == info
    assert metrics["mlflow"] == info and "error" not in info
    assert info["tracking_uri"] == f"sqlite:///{os.path.abspath(fn_args.model_run_dir)}/mlflow.db"

    client = client_for(info["tracking_uri"])
    run = client.get_run(info["run_id"])
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "training"
    assert client.get_experiment(run.info.experiment_id).name == info["experiment_name"]
    assert run.data.tags["model_type"] == "retrieval"
    assert run.data.tags["feature_config_name"] == info["experiment_name"]
    assert run.data.params["epochs"] == "3" and run.data.params["batch_size"] == "32"

    # Per epoch: the loss Keras reported, one value per epoch, as in the metrics file.
    history = client.get_metric_history(run.info.run_id, "loss")
    assert [m.step for m in history] == [0, 1, 2]
    assert [m.value for m in history] == pytest.approx(metrics["loss"]["loss"], rel=1e-6)
    final = run.data.metrics
    assert final["final_loss"] == pytest.approx(metrics["loss"]["loss"][-1], rel=1e-6)
    for name, value in metrics["final_metrics"].items():
        assert final[f"test_{name}"] == pytest.approx(value)
    for baseline, values in metrics["baselines"].items():
        for name, value in values.items():
            assert final[f"baseline_{baseline}_{name}"] == pytest.approx(value)

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert "training_metrics.json" in artifacts
    configs = {a.path for a in client.list_artifacts(run.info.run_id, "configs")}
    assert configs == {"configs/features.json", "configs/model.json", "configs/training.json"}
    # The artifacts are stored beside the database, in the run's folder.
    assert run.info.artifact_uri.startswith(f"file://{os.path.abspath(fn_args.model_run_dir)}/")


def test_an_unreachable_store_never_fails_the_training(tmp_path):
    settings = TrackingSettings("sqlite:////proc/no-such-folder/mlflow.db", "e", "r")
    tracker = RunTracker(settings)
    tracker.start(tags={"a": "b"}, params={"epochs": 3}, configs={"model": {}})
    assert not tracker.active and "starting the run" in tracker.error
    tracker.log_metrics({"loss": 1.0})  # no-ops, no exceptions
    tracker.finish()
    tracker.write_info(str(tmp_path))
    info = json.loads((tmp_path / INFO_FILE).read_text())
    assert info["run_id"] is None and info["error"] == tracker.error


def test_a_training_that_raises_ends_its_run_failed(tiny_transformed, tmp_path, monkeypatch):
    from specs import ModelConfig, TrainingParams
    from tests.trainer.tiny_data import E2E_CONFIG, fn_args_for
    from trainer import run as run_module

    def broken(*args, **kwargs):
        raise RuntimeError("the towers did not build")

    monkeypatch.setattr(run_module, "_train_and_export", broken)
    fn_args = fn_args_for(tiny_transformed, str(tmp_path), **E2E_CONFIG, run_name="quick-test")
    with pytest.raises(RuntimeError, match="did not build"):
        run_module.run_training(
            fn_args,
            features=tiny_transformed.features,
            model=ModelConfig.preset("minimal"),
            training=TrainingParams(),
        )
    client = client_for(f"sqlite:///{os.path.abspath(fn_args.model_run_dir)}/mlflow.db")
    experiment = client.get_experiment_by_name(tiny_transformed.features.name)
    (run,) = client.search_runs([experiment.experiment_id])
    assert (run.info.status, run.info.run_name) == ("FAILED", "quick-test")
