"""Executor: hand the typed hyperparameters to `run_fn` through `fn_args.custom_config`."""

from __future__ import annotations

from typing import Any

from tfx.components.trainer.executor import GenericExecutor
from tfx.utils import json_utils

from components.recs_trainer.spec import HYPERPARAMETER_KEYS


def merge_hyperparameters(exec_properties: dict[str, Any]) -> dict[str, Any]:
    """Move the typed hyperparameters into the JSON custom_config that run_fn reads.

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
    props["custom_config"] = json_utils.dumps(config)
    return props


class Executor(GenericExecutor):
    """TFX's generic trainer executor, run with the merged custom_config."""

    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX API)
        super().Do(input_dict, output_dict, merge_hyperparameters(exec_properties))
