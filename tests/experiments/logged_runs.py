"""A dozen quick-test runs with varied configs, logged through the trainer's own MLflow code
(`trainer.tracking.RunTracker`, `EpochMetrics`, `result_metrics`,
`trainer.training_history.summary_metrics`) with small synthetic figures instead of a TFX
training each (a dozen TFX quick tests take far too long on two cores). Each run keeps the run
contract (`trainer.contract.violations`, checked in the tests), so what the experiments queries
read here is what they read from real runs. Real trainings are read too:
`tests/trainer/test_experiments_on_a_dozen_runs.py` (a dozen quick-test trainings of the tiny
data with varied configs) and `tests/trainer/test_experiments_on_trained_runs.py`.

The recall of a run is a known function of its configs: the rich feature config beats the
small one by 0.10, the model configs add 0, 0.05, 0.08, and a learning rate of 0.03 adds 0.20,
plus a small seeded jitter: the four best runs are those with a learning rate of 0.03, the rich
feature config's first.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

EXPERIMENT = "acme-retail"
FEATURES = {"small": 0.0, "rich": 0.10}
MODELS = {"minimal": 0.0, "standard": 0.05, "deep": 0.08}
LEARNING_RATES = (0.01, 0.03, 0.1)
BATCH_SIZES = (256, 1024)
EPOCH_COUNTS = (2, 3, 5)
TOWERS = ("query_tower", "candidate_tower")


@dataclass(frozen=True)
class Plan:
    feature_config: str
    model_config: str
    learning_rate: float
    batch_size: int
    epochs: int
    seed: int


def plans() -> list[Plan]:
    """12 runs: every feature x model config twice, hyperparameters varied."""
    out = []
    for i in range(12):
        feature = list(FEATURES)[i % 2]
        model = list(MODELS)[(i // 2) % 3]
        out.append(Plan(feature, model, LEARNING_RATES[i % 3], BATCH_SIZES[(i // 3) % 2],
                        EPOCH_COUNTS[(i // 4) % 3], seed=100 + i))  # fmt: skip
    return out


def log_run(uri: str, artifacts: str, plan: Plan, workdir: str) -> str:
    """Log one run as the trainer would (module doc); returns its run id."""
    from trainer import contract
    from trainer.tracking import EpochMetrics, RunTracker, TrackingSettings, result_metrics
    from trainer.training_history import summary_metrics

    rng = np.random.default_rng(plan.seed)
    tracker = RunTracker(TrackingSettings(uri, EXPERIMENT, "quick-test", artifacts))
    hp = {"epochs": plan.epochs, "batch_size": plan.batch_size,
          "learning_rate": plan.learning_rate, "optimizer": "adam", "seed": plan.seed,
          "early_stopping": None, "lr_schedule": None, "validation_days": 14, "top_k": 100,
          "output_dim": 32}  # fmt: skip
    tracker.start(
        tags={"feature_config_name": plan.feature_config, "model_config_name": plan.model_config,
              "model_type": "retrieval", "dataset_name": "retail"},
        params=hp,
        configs={"features": {"name": plan.feature_config}, "model": {"name": plan.model_config},
                 "training": {"epochs": plan.epochs}},
    )  # fmt: skip
    quality = (0.3 + FEATURES[plan.feature_config] + MODELS[plan.model_config]
               + (0.20 if plan.learning_rate == 0.03 else 0.0) + rng.uniform(0, 0.01))  # fmt: skip
    losses = {"loss": [], "val_loss": []}
    epoch_metrics = EpochMetrics(tracker)
    for epoch in range(plan.epochs):
        logs = {"loss": 50.0 / (epoch + 1) + rng.uniform(0, 1),
                "val_loss": 55.0 / (epoch + 1) + rng.uniform(0, 1)}  # fmt: skip
        epoch_metrics.on_epoch_end(epoch, logs)
        for key, value in logs.items():
            losses[key].append(value)
        progress = (epoch + 1) / plan.epochs
        # What trainer.training_history.TrainingHistory logs each epoch.
        tracker.log_metrics({
            "eval_loss": 60.0 / (epoch + 1),
            **{f"recall_at_{k}": min(1.0, quality * progress * (k / 100) ** 0.3)
               for k in contract.K},
            **{f"weights_{t}_{s}": float(rng.uniform(0.1, 2.0)) + epoch
               for t in TOWERS for s in contract.WEIGHT_STATS},
        }, step=epoch)  # fmt: skip
    metrics = {
        "loss": losses,
        "final_metrics": {
            **{f"recall_at_{k}": quality * (k / 100) ** 0.3 for k in contract.K},
            **{f"new_recall_at_{k}": 0.5 * quality * (k / 100) ** 0.3 for k in contract.K},
            "ndcg_at_10": quality / 3,
        },
        "baselines": {
            b: {f"recall_at_{k}": 0.2 * (k / 100) ** 0.3 for k in contract.K}
            for b in contract.BASELINES
        },  # fmt: skip
        "training_history": {
            "parameters": {
                t: {"total": 1000 * (i + 1), "trainable": 1000 * (i + 1), "non_trainable": 0}
                for i, t in enumerate(TOWERS)
            },
            "vocabularies": {
                "customer_id": {"vocab_size": 60, "oov_rate": 0.05, "oov_rate_train": 0.0}
            },
        },  # fmt: skip
    }
    tracker.log_metrics(summary_metrics(metrics["training_history"]))
    tracker.log_metrics(result_metrics(metrics))
    folder = os.path.join(workdir, plan.seed.__str__())
    os.makedirs(os.path.join(folder, "tensorboard"), exist_ok=True)
    path = os.path.join(folder, "training_metrics.json")
    with open(path, "w") as f:
        json.dump(metrics, f)
    tracker.log_artifact(path)
    _event_file(os.path.join(folder, "tensorboard"), losses["loss"])
    tracker.log_artifacts(os.path.join(folder, "tensorboard"), "tensorboard")
    os.makedirs(os.path.join(folder, "model"), exist_ok=True)
    with open(os.path.join(folder, "model", "saved_model.pb"), "wb") as f:
        f.write(b"stand-in for the quick test's SavedModel")
    tracker.log_artifacts(os.path.join(folder, "model"), "model")
    tracker.finish()
    assert tracker.error is None, tracker.error
    return tracker.run_id


def _event_file(folder: str, losses: list[float]) -> None:
    """A TensorBoard event file of the loss, written with TensorBoard's own writer."""
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    writer = EventFileWriter(folder)
    for step, value in enumerate(losses):
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="loss",
                                                                       simple_value=value)])  # fmt: skip
        writer.add_event(event_pb2.Event(step=step, wall_time=0.0, summary=summary))
    writer.close()
