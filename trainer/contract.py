"""The MLflow run contract: what every training run logs, under which names, for the app's
experiments pages and the `experiments` queries to read.

Written here as data, independently of the code that logs (`trainer.tracking`, `trainer.run`):
`tests/trainer/test_contract.py` trains a tiny run and checks it against this contract with
`MlflowClient`, so renaming a logged key in the trainer fails it. `docs/mlflow-contract.md` is
rendered from this module (`python -m trainer.contract`; `--check` exits 1 when out of date).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

DOC = Path(__file__).resolve().parents[1] / "docs" / "mlflow-contract.md"

EXPERIMENT = (
    "the tenant's model endpoint (the template parameter `mlflow_experiment`); without one, the "
    "feature config's name"
)
QUICK_TEST_RUN = "quick-test"
"""The run name of a quick test: its model is logged as the run's `model/` artifact, never registered."""
RUN_NAMES = {QUICK_TEST_RUN: "the quicktest template", "training": "the training template"}

TAGS = {
    "feature_config_name": "the FeatureConfig's `name`",
    "model_config_name": "the ModelConfig's `name`",
    "model_type": "`retrieval`, `ranking` or `multitask`",
}
OPTIONAL_TAGS = {"dataset_name": "the DatasetConfig's `name`, when the run is given it"}

PARAMS = {
    "epochs": "epochs trained for",
    "batch_size": "rows per step (per replica)",
    "learning_rate": "the optimizer's learning rate",
    "optimizer": "the optimizer's name",
    "lr_schedule": "the learning-rate schedule",
    "early_stopping": "the early-stopping setting",
    "validation_days": "days held out for validation",
    "seed": "the run's seed",
    "top_k": "products the serving model returns",
    "output_dim": "the towers' output width",
}

EPOCH_METRICS = {"loss": "the training loss of each epoch (step = the epoch, from 0)"}
OPTIONAL_EPOCH_METRICS = {
    "val_loss": "the validation loss of each epoch, when the run validates",
    "reorder_loss": "the re-order scorer's loss of each epoch, for history-aware models",
}

K = (5, 10, 50, 100)

# The training history (trainer.training_history), logged unless TrainingParams turn it off.
TOWERS = ("query_tower", "candidate_tower")
WEIGHT_STATS = ("l1", "l2", "mean", "std", "min", "max")
HISTORY_EPOCH_METRICS = {
    "eval_loss": "the loss on a fixed sample of eval rows, each epoch",
    **{f"recall_at_{k}": f"recall@{k} of the towers on a fixed sample of test customers, each "
       "epoch" for k in K},
    **{f"weights_{t}_{s}": f"the {s} of the {t}'s trainable weights, each epoch"
       for t in TOWERS for s in WEIGHT_STATS},
}  # fmt: skip
OPTIONAL_HISTORY_EPOCH_METRICS = {
    "weights_rating_head_<stat>": "the same statistics of a ranking or multitask rating head",
    "gradients_<tower>_l2": "the L2 norm of a tower's gradients on a fixed train batch, every "
    "`training_history.histogram_every_epochs` epochs",
}
HISTORY_METRICS = {
    f"parameters_{t}_{kind}": f"the {t}'s {kind.replace('_', '-')} parameters"
    for t in TOWERS
    for kind in ("total", "trainable", "non_trainable")
}
HISTORY_FEATURE_METRICS = {
    "vocab_size_<column>": "a string feature's vocabulary size (without OOV buckets)",
    "oov_rate_<column>": "the share of its eval values outside the vocabulary",
    "oov_rate_train_<column>": "the same share of its train values (a capped vocabulary)",
}
HISTORY_ARTIFACTS = {
    "tensorboard/": "TensorBoard event files: the scalars, and weight and gradient histograms "
    "every `histogram_every_epochs` epochs, from `<model_run_dir>/tensorboard` (a gs:// run "
    "folder keeps them there, where TensorBoard reads them, and logs no copy)"
}

FINAL_METRICS = {
    "final_loss": "the last epoch's training loss",
    **{f"test_recall_at_{k}": f"recall@{k} of the exported serving model on the test customers"
       for k in K},
    **{f"test_new_recall_at_{k}": f"recall@{k} on products the customer never bought" for k in K},
    "test_ndcg_at_10": "NDCG@10 of the exported serving model",
}  # fmt: skip
OPTIONAL_FINAL_METRICS = {"final_val_loss": "the last epoch's validation loss, when validated"}
BASELINES = ("popularity", "repeat_then_popularity", "item_knn", "ease")
BASELINE_METRICS = {
    f"baseline_{b}_recall_at_{k}": f"recall@{k} of the {b} baseline on the same split"
    for b in BASELINES
    for k in K
}

ARTIFACTS = {
    "configs/features.json": "the FeatureConfig the run trained with",
    "configs/model.json": "the ModelConfig",
    "configs/training.json": "the TrainingParams",
    "training_metrics.json": "the metrics file (losses, metrics, baselines, intervals, health)",
}
QUICK_TEST_ARTIFACTS = {"model/saved_model.pb": "a quick test's serving model (`model/`, the "
                        "whole SavedModel), kept with its run and never registered"}  # fmt: skip
MODEL = (
    "A training run's model is not an artifact of its run: the Register stage (`RecsRegistrar`) "
    "copies a blessed model to the models bucket and registers it in the model registry, with "
    "the run id."
)


def violations(
    client: Any, run_id: str, *, experiment: str, run_name: str, history: bool = True
) -> list[str]:
    """What a logged run breaks of the contract (empty when it keeps it), read with
    `MlflowClient` as the app reads it. `history`: the run recorded its training history (the
    default of TrainingParams)."""
    out = []
    run = client.get_run(run_id)
    if run.info.run_name != run_name or run_name not in RUN_NAMES:
        out.append(f"run name {run.info.run_name!r}, expected {run_name!r}")
    if client.get_experiment(run.info.experiment_id).name != experiment:
        out.append(f"experiment is not {experiment!r}")
    tags = set(run.data.tags)
    out += [f"tag {key!r} missing" for key in TAGS if key not in tags]
    out += [f"parameter {key!r} missing" for key in PARAMS if key not in run.data.params]
    metrics = run.data.metrics
    history_keys = [*HISTORY_METRICS] if history else []
    for key in [*FINAL_METRICS, *BASELINE_METRICS, *history_keys]:
        if key not in metrics:
            out.append(f"metric {key!r} missing")
    if history and not any(key.startswith("vocab_size_") for key in metrics):
        out.append("no metric 'vocab_size_<column>'")
    for key in [*EPOCH_METRICS, *(HISTORY_EPOCH_METRICS if history else ())]:
        steps = [m.step for m in client.get_metric_history(run_id, key)]
        if not steps or steps != list(range(len(steps))):
            out.append(f"metric {key!r} is not logged once per epoch from step 0 ({steps})")
    expected = {**ARTIFACTS, **(QUICK_TEST_ARTIFACTS if run_name == QUICK_TEST_RUN else {})}
    folders = {"", *(p.rsplit("/", 1)[0] for p in expected if "/" in p)}
    paths = {a.path for folder in folders for a in client.list_artifacts(run_id, folder or None)}
    out += [f"artifact {path!r} missing" for path in expected if path not in paths]
    if history and not client.list_artifacts(run_id, "tensorboard"):
        out.append("artifact 'tensorboard/' missing")
    if run_name != QUICK_TEST_RUN and "model" in {a.path for a in client.list_artifacts(run_id)}:
        out.append("a training run logs its model as an artifact; the registry keeps it")
    return out


def _table(title: str, rows: dict[str, str]) -> list[str]:
    return ["", f"| {title} | what |", "|---|---|", *(f"| `{k}` | {v} |" for k, v in rows.items())]


def markdown() -> str:
    out = [
        "# The MLflow run contract",
        "",
        "<!-- Rendered from trainer/contract.py by `python -m trainer.contract`; "
        "tests/trainer/test_contract.py trains a run and checks it keeps this. -->",
        "",
        "Every run of a training template logs this, and the app's experiments pages and the "
        "`experiments` queries rely on nothing else.",
        "",
        f"- Experiment: {EXPERIMENT}.",
        "- Run name: " + "; ".join(f"`{k}` for {v}" for k, v in RUN_NAMES.items()) + ".",
    ]
    out += _table("tag (always)", TAGS) + _table("tag (when known)", OPTIONAL_TAGS)
    out += _table("parameter", PARAMS)
    out += _table("metric per epoch", EPOCH_METRICS)
    out += _table("metric per epoch (when it applies)", OPTIONAL_EPOCH_METRICS)
    out += _table("metric at the end", FINAL_METRICS)
    out += _table("metric at the end (when it applies)", OPTIONAL_FINAL_METRICS)
    out += ["", "Baselines at the end, on the identical split: `baseline_<name>_recall_at_<k>` "
            f"for name in {', '.join(f'`{b}`' for b in BASELINES)} and k in "
            f"{', '.join(map(str, K))} (also `_new_recall_at_<k>` and `_ndcg_at_10`)."]  # fmt: skip
    out += [
        "",
        "## The training history",
        "",
        "Logged unless the TrainingParams turn it off (`training_history.enabled`); also in "
        "`training_metrics.json` under `training_history`.",
    ]
    out += _table("metric per epoch", HISTORY_EPOCH_METRICS)
    out += _table("metric per epoch (when it applies)", OPTIONAL_HISTORY_EPOCH_METRICS)
    out += _table("metric at the end", HISTORY_METRICS)
    out += _table("metric at the end, per string feature", HISTORY_FEATURE_METRICS)
    out += _table("artifact", HISTORY_ARTIFACTS)
    out += ["", "## Artifacts"]
    out += _table("artifact", ARTIFACTS)
    out += _table("artifact (quick-test runs)", QUICK_TEST_ARTIFACTS)
    out += ["", MODEL]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    from specs.rendered import write_or_check

    check = bool(argv and "--check" in argv)
    return write_or_check(DOC, markdown(), check=check, command="python -m trainer.contract")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
