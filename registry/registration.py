"""Registering a blessed training run: the Register stage and `python -m registry register`.

A registered version's files live in the models folder (the tenant's models bucket, which no
age rule empties), never in the run's pipeline root (30 days):

    <models>/<model>/v<N>/                         the serving model, what a server loads
    <models>/_data/<model>/v<N>/statistics/        the run's StatisticsGen artifact (Split-*/)
    <models>/_data/<model>/v<N>/schema/            its SchemaGen artifact (schema.pbtxt)

`_data/` sits beside the model folders, not inside them, so a server downloads only its model,
and the TFDV parser's identity is granted that prefix alone (`infra.access`). No model name can
be `_data` (names start with a letter).

Registering is idempotent per training run: a run already registered as a version of the model
is that version (a retry registers nothing twice). A version folder left by an attempt that
failed before the registry recorded it is rewritten (nothing refers to it).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from registry.base import CHAMPION, ModelRegistry, ModelVersion, Registration, RegistryError

DATA_FOLDER = "_data"


@dataclass(frozen=True)
class RunOutputs:
    """What a training run produced that a registration needs."""

    serving_model: str
    """The exported serving model's folder (the Trainer's `Format-Serving`)."""
    run_id: str
    model_type: str
    blessed: bool
    metrics: Mapping[str, float] = field(default_factory=dict)
    statistics: str = ""
    """The run's StatisticsGen artifact folder ('' when unknown)."""
    schema: str = ""
    """The run's SchemaGen artifact folder ('' when unknown)."""
    why_not_blessed: str = ""


def version_folder(models_dir: str, model_name: str, version: str) -> str:
    return os.path.join(models_dir, model_name, f"v{version}")


def data_folder(models_dir: str, model_name: str, version: str) -> str:
    """Where a registered run's statistics and schema are kept (`statistics/`, `schema/`)."""
    return os.path.join(models_dir, DATA_FOLDER, model_name, f"v{version}")


def register_run(
    registry: ModelRegistry, run: RunOutputs, *, model_name: str, models_dir: str,
    aliases: tuple[str, ...] = (CHAMPION,),
) -> tuple[ModelVersion, dict[str, str]]:  # fmt: skip
    """Copy a blessed run's model (and its statistics and schema) to the next version's folders
    and register it; a run registered before is returned as it is. Returns the version and the
    kept data's URIs ({"statistics_uri", "schema_uri"}, those the run had)."""
    from tfx.dsl.io import fileio
    from tfx.utils import io_utils

    from serving.routing import saved_model_uses_scann

    if not run.blessed:
        raise RegistryError(
            f"run {run.run_id} was not blessed ({run.why_not_blessed or 'see its evaluation'}): "
            "only a blessed run is registered"
        )
    existing = registry.versions(model_name)
    for version in existing:
        if version.run_id == run.run_id:
            return version, _kept(models_dir, model_name, version.version)
    number = str(max((int(v.version) for v in existing), default=0) + 1)
    target = version_folder(models_dir, model_name, number)
    if any(v.artifact_uri.rstrip("/") == target.rstrip("/") for v in existing):
        raise RegistryError(f"{target} belongs to a registered version; not overwritten")
    if fileio.exists(target):  # left by an attempt that failed before it was registered
        fileio.rmtree(target)
    io_utils.copy_dir(run.serving_model, target)
    data = data_folder(models_dir, model_name, number)
    for kind, source in (("statistics", run.statistics), ("schema", run.schema)):
        if source:
            if fileio.exists(os.path.join(data, kind)):
                fileio.rmtree(os.path.join(data, kind))
            io_utils.copy_dir(source, os.path.join(data, kind))
    version = registry.register(
        Registration(
            model_name=model_name,
            artifact_uri=target,
            run_id=run.run_id,
            model_type=run.model_type,
            blessed=True,
            metrics=dict(run.metrics),
            aliases=aliases,
            # The routing rule's fact, read from the model: a ScaNN index needs the Python server.
            uses_scann=saved_model_uses_scann(target),
        )
    )
    if version.version != number:
        raise RegistryError(f"registered as version {version.version}, copied as v{number}")
    return version, _kept(models_dir, model_name, number)


def _kept(models_dir: str, model_name: str, version: str) -> dict[str, str]:
    from tfx.dsl.io import fileio

    data = data_folder(models_dir, model_name, version)
    return {
        f"{kind}_uri": os.path.join(data, kind)
        for kind in ("statistics", "schema")
        if fileio.exists(os.path.join(data, kind))
    }


# --- Finding a run's outputs ---------------------------------------------------------------

_LOCAL_ID = re.compile(r"\d+")


def sibling_output(model_uri: str, component: str, key: str) -> str:
    """The output `key` of `component` in the same pipeline run as the Trainer's `model_uri`,
    or '' when there is none. Two layouts: a local run's `<root>/<Component>/<key>/<execution>`
    (the newest execution before the Trainer's: runs of one folder share the root), and Vertex
    AI's `<root>/<project number>/<job>/<Component>_<id>/<key>` (one per job)."""
    import tensorflow as tf

    uri = model_uri.rstrip("/")
    parts = uri.split("/")
    if len(parts) >= 3 and _LOCAL_ID.fullmatch(parts[-1]):
        root = "/".join(parts[:-3])
        base = f"{root}/{component}/{key}"
        trainer_id = int(parts[-1])
        if not tf.io.gfile.isdir(base):
            return ""
        found = [int(p.rstrip("/")) for p in tf.io.gfile.listdir(base)
                 if _LOCAL_ID.fullmatch(p.rstrip("/")) and int(p.rstrip("/")) < trainer_id]  # fmt: skip
        return f"{base}/{max(found)}" if found else ""
    job = "/".join(parts[:-2])
    found = sorted(tf.io.gfile.glob(f"{job}/{component}_*/{key}"))
    return found[0] if len(found) == 1 else ""


def outputs_of_pipeline_root(pipeline_root: str) -> RunOutputs:
    """The newest training run's outputs under a local pipeline root (`python -m registry
    register --run`): its Trainer's model, the Evaluator's verdict and metrics, and the
    statistics and schema it trained on."""
    from pathlib import Path

    from components.recs_evaluator.spec import EVALUATION_FILE
    from trainer.run import METRICS_FILE

    root = Path(pipeline_root)

    def newest(component: str, key: str) -> Path:
        base = root / component / key
        found = sorted((p for p in base.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
        if not found:
            raise RegistryError(f"--run: no {component} {key} under {root}")
        return found[-1]

    model = newest("RecsTrainer", "model")
    trainer = _json(newest("RecsTrainer", "model_run") / METRICS_FILE)
    evaluation = _json(newest("RecsEvaluator", "evaluation") / EVALUATION_FILE)
    blessing = newest("RecsEvaluator", "blessing")
    metrics = {k: v for k, v in evaluation.get("metrics", {}).items()
               if isinstance(v, int | float) and not isinstance(v, bool)}  # fmt: skip
    return RunOutputs(
        serving_model=str(model / "Format-Serving"),
        run_id=str((trainer.get("mlflow") or {}).get("run_id") or f"{root.name}-{model.name}"),
        model_type=trainer.get("model_type", "retrieval"),
        blessed=(blessing / "BLESSED").exists(),
        metrics=metrics,
        statistics=sibling_output(str(model), "StatisticsGen", "statistics"),
        schema=sibling_output(str(model), "SchemaGen", "schema"),
        why_not_blessed=str(evaluation.get("summary", "")),
    )


def _json(path) -> dict:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return {}
