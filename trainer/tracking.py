"""MLflow tracking of a training run: parameters, configs, per-epoch and final metrics, baselines.

Where runs go (`TrackingSettings.resolve`): `custom_config["mlflow_tracking_uri"]` (a pipeline
parameter: on Vertex AI the trainer has no environment of ours), else `MLFLOW_TRACKING_URI`, else a
SQLite store beside the run's outputs. A local store keeps its artifacts in a folder next to the
database file, never in the working directory. An https URI is the tenant's private MLflow
service: requests carry a Google identity token for it (`MLFLOW_TRACKING_TOKEN`).

The layout, which the seeds' experiments pages read:

* experiment: `custom_config["mlflow_experiment"]` (the tenant's model endpoint), else the
  feature config's name; run name: `custom_config["run_name"]` (`quick-test`, `training`);
* tags: `dataset_name`, `feature_config_name`, `model_config_name`, `model_type`;
* parameters: the resolved hyperparameters; artifacts: `configs/*.json` and the metrics file;
* metrics: per epoch, what Keras logs (`loss`, `val_loss`, ..., step = epoch) and the re-order
  scorer's `reorder_loss`; at the end `final_<name>` of the last epoch's logs, `test_<metric>`
  of the evaluation (recall of the exported model, RMSE/MAE) and `baseline_<name>_<metric>`.

The run id is written to `mlflow_info.json` in the model run folder and in the serving model's
folder. Tracking never fails a training: a store that cannot be reached is logged as a warning
and named in the metrics file, and the model is still trained and exported.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import tensorflow as tf

from trainer.identity import identity_token_for

log = logging.getLogger(__name__)

INFO_FILE = "mlflow_info.json"
DEFAULT_RUN_NAME = "training"
_MAX_PARAM_LENGTH = 500  # MLflow's limit on a parameter value


@dataclass(frozen=True)
class TrackingSettings:
    """Where a run is logged, and under which names."""

    tracking_uri: str
    experiment: str
    run_name: str
    artifact_location: str | None = None
    """For a local store: where its artifacts go (None: the store's own default)."""

    @classmethod
    def resolve(
        cls, custom_config: Mapping[str, Any] | None, *, default_root: str, experiment: str
    ) -> TrackingSettings:
        """Settings from the trainer's custom_config, the environment, then the defaults."""
        config = custom_config or {}
        uri = config.get("mlflow_tracking_uri") or os.environ.get("MLFLOW_TRACKING_URI") or ""
        if not uri and "://" not in default_root:  # no local default for a gs:// run folder
            uri = "sqlite:///" + os.path.join(os.path.abspath(default_root), "mlflow.db")
        artifacts = None
        if uri.startswith("sqlite:///"):
            artifacts = os.path.join(os.path.dirname(uri[len("sqlite:///") :]), "mlflow-artifacts")
        return cls(
            tracking_uri=uri,
            experiment=config.get("mlflow_experiment") or experiment,
            run_name=config.get("run_name") or DEFAULT_RUN_NAME,
            artifact_location=artifacts,
        )


def _flat_params(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flat_params(value, prefix=f"{name}."))
        else:
            text = "" if value is None else str(value)
            out[name] = text[:_MAX_PARAM_LENGTH]
    return out


def _finite(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return number == number and abs(number) != float("inf")


class RunTracker:
    """One MLflow run of a training; every call is a no-op once tracking has failed.

    `start` creates the run in a background thread, so the training goes on meanwhile (a new
    local SQLite store first migrates its schema, which takes seconds); every later call, and
    reading `run_id`, `experiment_id` or `error`, waits for it to finish.
    """

    def __init__(self, settings: TrackingSettings, *, token_fetch=None) -> None:
        self.settings = settings
        self._run_id: str | None = None
        self._experiment_id: str | None = None
        self._error: str | None = None
        self._client = None
        self._token_fetch = token_fetch
        self._starting: threading.Thread | None = None

    def _started(self) -> None:
        if self._starting is not None:
            self._starting.join()
            self._starting = None

    @property
    def run_id(self) -> str | None:
        self._started()
        return self._run_id

    @property
    def experiment_id(self) -> str | None:
        self._started()
        return self._experiment_id

    @property
    def error(self) -> str | None:
        self._started()
        return self._error

    @property
    def active(self) -> bool:
        return self.run_id is not None and self._client is not None and self._error is None

    def _fail(self, action: str, exc: Exception) -> None:
        self._error = f"{action}: {type(exc).__name__}: {exc}"
        log.warning("MLflow tracking at %s stopped (%s)", self.settings.tracking_uri, self._error)

    def start(self, *, tags: Mapping[str, str], params: Mapping[str, Any], configs) -> None:
        """Create the run (and its experiment), with its tags, parameters and configs, in a
        background thread (class doc)."""
        self._starting = threading.Thread(
            target=self._start,
            kwargs={"tags": dict(tags), "params": dict(params), "configs": dict(configs)},
            name="mlflow-start",
            daemon=True,
        )
        self._starting.start()

    def _start(self, *, tags: Mapping[str, str], params: Mapping[str, Any], configs) -> None:
        try:
            if not self.settings.tracking_uri:
                raise ValueError("no tracking URI was given and the run folder is not local")
            from mlflow.entities import Param
            from mlflow.tracking import MlflowClient

            token = identity_token_for(self.settings.tracking_uri, self._token_fetch)
            if token:
                os.environ["MLFLOW_TRACKING_TOKEN"] = token
            client = MlflowClient(tracking_uri=self.settings.tracking_uri)
            experiment = client.get_experiment_by_name(self.settings.experiment)
            if experiment is not None:
                self._experiment_id = experiment.experiment_id
            else:
                self._experiment_id = client.create_experiment(
                    self.settings.experiment, artifact_location=self._artifact_location()
                )
            run = client.create_run(
                self._experiment_id, run_name=self.settings.run_name, tags=dict(tags)
            )
            self._client, self._run_id = client, run.info.run_id
            client.log_batch(
                self._run_id, params=[Param(k, v) for k, v in _flat_params(params).items()]
            )
            for name, config in configs.items():
                client.log_dict(self._run_id, config, f"configs/{name}.json")
            log.info("MLflow run %s in experiment %r", self._run_id, self.settings.experiment)
        except Exception as exc:  # tracking never fails the training
            self._fail("starting the run", exc)

    def _artifact_location(self) -> str | None:
        location = self.settings.artifact_location
        if location is None:
            return None
        os.makedirs(location, exist_ok=True)
        return "file://" + os.path.abspath(location)

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        """Numeric, finite values only (MLflow stores floats)."""
        if not self.active:
            return
        try:
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            batch = [
                Metric(name, float(value), now, step)
                for name, value in metrics.items()
                if _finite(value)
            ]
            if batch:
                self._client.log_batch(self.run_id, metrics=batch)
        except Exception as exc:
            self._fail("logging metrics", exc)

    def log_artifact(self, path: str, folder: str | None = None) -> None:
        if not self.active:
            return
        try:
            self._client.log_artifact(self.run_id, path, folder)
        except Exception as exc:
            self._fail("logging an artifact", exc)

    def log_artifacts(self, folder: str, artifact_path: str) -> None:
        """A whole folder (a SavedModel) under `artifact_path` of the run."""
        if not self.active:
            return
        try:
            self._client.log_artifacts(self.run_id, folder, artifact_path)
        except Exception as exc:
            self._fail("logging artifacts", exc)

    def finish(self, status: str = "FINISHED") -> None:
        """End the run: FINISHED, or FAILED when the training raised."""
        if not self.active:
            return
        try:
            self._client.set_terminated(self.run_id, status=status)
        except Exception as exc:
            self._fail("ending the run", exc)

    def info(self) -> dict[str, Any]:
        """What the metrics file and `mlflow_info.json` say of the run."""
        out: dict[str, Any] = {
            "tracking_uri": self.settings.tracking_uri,
            "experiment_name": self.settings.experiment,
            "run_name": self.settings.run_name,
            "experiment_id": self.experiment_id,
            "run_id": self.run_id,
        }
        if self.error:
            out["error"] = self.error
        return out

    def write_info(self, *folders: str) -> None:
        """`mlflow_info.json` in each folder (the model run folder, the serving model)."""
        text = json.dumps(self.info(), indent=2, sort_keys=True)
        for folder in folders:
            tf.io.gfile.makedirs(folder)
            with tf.io.gfile.GFile(os.path.join(folder, INFO_FILE), "w") as f:
                f.write(text)


class EpochMetrics(tf.keras.callbacks.Callback):
    """Logs what Keras reports at the end of every epoch (step = epoch, from 0)."""

    def __init__(self, tracker: RunTracker) -> None:
        super().__init__()
        self.tracker = tracker

    def on_epoch_end(self, epoch, logs=None):
        self.tracker.log_metrics(dict(logs or {}), step=epoch)


def result_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The end-of-run metrics of a `training_metrics.json` dict, under their MLflow names."""
    out: dict[str, float] = {}
    for name, values in (metrics.get("loss") or {}).items():
        if values:
            out[f"final_{name}"] = values[-1]
    for name, value in (metrics.get("final_metrics") or {}).items():
        out[name if name.startswith(("test_", "final_")) else f"test_{name}"] = value
    for baseline, values in (metrics.get("baselines") or {}).items():
        for name, value in values.items():
            out[f"baseline_{baseline}_{name}"] = value
    for name, value in (metrics.get("throughput") or {}).items():
        out[f"throughput_{name}"] = value
    return {k: v for k, v in out.items() if _finite(v)}
