"""Executor: hand the typed hyperparameters to `run_fn` through `fn_args.custom_config`; train
here, or in a Vertex AI custom job when the run names a training region."""

from __future__ import annotations

import os
from typing import Any

from tfx.components.trainer.executor import GenericExecutor
from tfx.types import artifact_utils
from tfx.utils import json_utils, name_utils

from components.recs_trainer.spec import HYPERPARAMETER_KEYS, RAW_EXAMPLES_KEY, TRACKING_KEYS
from components.scale_out import TRAINING_JOB_KEYS, TrainingJobSettings, training_job_settings


def with_custom_config(exec_properties: dict[str, Any], **entries: Any) -> dict[str, Any]:
    """A copy of `exec_properties` whose custom_config (a JSON object) also holds `entries`."""
    props = dict(exec_properties)
    raw = props.get("custom_config")
    config = json_utils.loads(raw) if raw else {}
    if not isinstance(config, dict):
        raise ValueError(f"custom_config must be a JSON object, got {type(config).__name__}")
    config.update(entries)
    props["custom_config"] = json_utils.dumps(config)
    return props


def merge_hyperparameters(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """Move the typed hyperparameters and tracking settings into the custom_config run_fn reads.

    Values set as execution parameters win over the same keys in custom_config: they are the
    ones a caller sets per pipeline run.
    """
    props = dict(exec_properties)
    entries = {}
    for key in HYPERPARAMETER_KEYS:
        value = props.pop(key, None)
        if value is not None:
            entries[key] = value
    for key in TRACKING_KEYS:
        value = props.pop(key, None)
        if value:  # "" (a pipeline input left empty) keeps the trainer's default
            entries[key] = value
    return with_custom_config(props, **entries)


def add_raw_eval_files(exec_properties: dict[str, Any], input_dict) -> dict[str, Any]:
    """Name the raw eval split's files in custom_config (`raw_eval_files`), if given."""
    raw = input_dict.get(RAW_EXAMPLES_KEY) or []
    if not raw:
        return exec_properties
    uri = artifact_utils.get_split_uri(raw, "eval")
    return with_custom_config(exec_properties, raw_eval_files=[os.path.join(uri, "*")])


def in_job(exec_properties: dict[str, Any], job: TrainingJobSettings) -> dict[str, Any]:
    """The properties the custom job's executor gets: train where it is (no region), and
    check that the GPUs it was given are visible (`gpu_count`, trainer.strategy)."""
    props = {k: v for k, v in exec_properties.items() if k not in TRAINING_JOB_KEYS}
    return with_custom_config(props, gpu_count=job.accelerator_count)


def job_labels(exec_properties: dict[str, Any]) -> dict[str, str]:
    """Labels of the custom job: which run it trains for."""
    from registry.labels import label_value

    name = exec_properties.get("run_name") or "training"
    return {"b2b-recs-run": label_value(name), "b2b-recs-component": "recstrainer"}


class Executor(GenericExecutor):
    """TFX's generic trainer executor, run with the merged custom_config."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX API)
        job = training_job_settings(exec_properties)
        if job.on_vertex:
            self._train_in_custom_job(input_dict, output_dict, exec_properties, job)
            return
        props = {k: v for k, v in exec_properties.items() if k not in TRAINING_JOB_KEYS}
        props = add_raw_eval_files(merge_hyperparameters(props), input_dict)
        input_dict = {k: v for k, v in input_dict.items() if k != RAW_EXAMPLES_KEY}
        super().Do(input_dict, output_dict, props)

    def _train_in_custom_job(self, input_dict, output_dict, exec_properties, job) -> None:
        """The same executor, in a Vertex AI custom job of the platform's image; TFX's client
        submits it and waits (not verified here against the live service)."""
        from tfx.extensions.google_cloud_ai_platform import runner

        args = job.job_args(
            display_name=f"recs-trainer-{exec_properties.get('run_name') or 'training'}",
            labels=job_labels(exec_properties),
        )
        runner.start_cloud_training(
            input_dict,
            output_dict,
            in_job(exec_properties, job),
            executor_class_path=name_utils.get_full_name(Executor),
            job_args=args,
            job_id=None,
            enable_vertex=True,
            vertex_region=job.training_region,
        )
