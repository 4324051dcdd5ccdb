"""Executor: hand the typed hyperparameters to `run_fn` through `fn_args.custom_config`."""

from __future__ import annotations

import os
from typing import Any

from tfx.components.trainer.executor import GenericExecutor
from tfx.types import artifact_utils
from tfx.utils import json_utils

from components.recs_trainer.spec import HYPERPARAMETER_KEYS, RAW_EXAMPLES_KEY, TRACKING_KEYS


def merge_hyperparameters(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """Move the typed hyperparameters and tracking settings into the custom_config run_fn reads.

    Values set as execution parameters win over the same keys in custom_config: they are the
    ones a caller sets per pipeline run.
    """
    props = dict(exec_properties)
    raw = props.get("custom_config")
    config = json_utils.loads(raw) if raw else {}
    if not isinstance(config, dict):
        raise ValueError(f"custom_config must be a JSON object, got {type(config).__name__}")
    for key in HYPERPARAMETER_KEYS:
        value = props.pop(key, None)
        if value is not None:
            config[key] = value
    for key in TRACKING_KEYS:
        value = props.pop(key, None)
        if value:  # "" (a pipeline input left empty) keeps the trainer's default
            config[key] = value
    props["custom_config"] = json_utils.dumps(config)
    return props


def add_raw_eval_files(exec_properties: dict[str, Any], input_dict) -> dict[str, Any]:
    """Name the raw eval split's files in custom_config (`raw_eval_files`), if given."""
    raw = input_dict.get(RAW_EXAMPLES_KEY) or []
    if not raw:
        return exec_properties
    props = dict(exec_properties)
    config = json_utils.loads(props["custom_config"])
    uri = artifact_utils.get_split_uri(raw, "eval")
    config["raw_eval_files"] = [os.path.join(uri, "*")]
    props["custom_config"] = json_utils.dumps(config)
    return props


class Executor(GenericExecutor):
    """TFX's generic trainer executor, run with the merged custom_config."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX API)
        props = add_raw_eval_files(merge_hyperparameters(exec_properties), input_dict)
        input_dict = {k: v for k, v in input_dict.items() if k != RAW_EXAMPLES_KEY}
        super().Do(input_dict, output_dict, props)
