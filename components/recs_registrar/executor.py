"""Executor: register the pushed model when the evaluator blessed it; say why when not."""

from __future__ import annotations

import json
import logging
import os

from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components.artifact_files import read_artifact_json
from components.recs_evaluator.spec import EVALUATION_FILE
from components.recs_registrar.spec import REGISTRATION_FILE

log = logging.getLogger(__name__)


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX API)
        from registry import open_registry
        from registry.registration import RunOutputs, register_run, sibling_output
        from serving.routing import saved_model_uses_scann
        from trainer.run import METRICS_FILE

        blessing = artifact_utils.get_single_instance(input_dict["blessing"])
        evaluation = read_artifact_json(input_dict["evaluation"], EVALUATION_FILE)
        name = exec_properties["model_name"]
        if not blessing.get_int_custom_property("blessed"):
            record = {"registered": False, "model_name": name,
                      "reason": evaluation.get("summary", "not blessed")}  # fmt: skip
        else:
            trainer = read_artifact_json(input_dict["model_run"], METRICS_FILE)
            run_id = (trainer.get("mlflow") or {}).get("run_id") or blessing.id or "unknown"
            metrics = {k: v for k, v in evaluation.get("metrics", {}).items()
                       if isinstance(v, int | float)}  # fmt: skip
            registry = open_registry(exec_properties["registry_uri"],
                                     release_image=exec_properties.get("worker_image") or "")  # fmt: skip
            model_uri = artifact_utils.get_single_uri(input_dict["model"])
            run = RunOutputs(
                serving_model=path_utils.serving_model_path(model_uri),
                run_id=str(run_id),
                model_type=trainer.get("model_type", "retrieval"),
                blessed=True,
                metrics=metrics,
                # Kept beside the model, where no age rule deletes them and the TFDV parser
                # reads (the run's pipeline root goes after 30 days).
                statistics=sibling_output(model_uri, "StatisticsGen", "statistics"),
                schema=sibling_output(model_uri, "SchemaGen", "schema"),
            )
            version, kept = register_run(registry, run, model_name=name,
                                         models_dir=exec_properties["models_dir"])  # fmt: skip
            record = {
                "registered": True,
                "model_name": name,
                "version": version.version,
                "aliases": list(version.aliases),
                "artifact_uri": version.artifact_uri,
                # Which serving image runs it (serving.routing), for the Deploy stage.
                "uses_scann": saved_model_uses_scann(version.artifact_uri),
                "resource_name": version.resource_name,
                "run_id": version.run_id,
                **kept,
            }
        out = artifact_utils.get_single_instance(output_dict["registration"])
        io_utils.write_string_file(
            os.path.join(out.uri, REGISTRATION_FILE), json.dumps(record, indent=2, sort_keys=True)
        )
        out.set_int_custom_property("registered", int(record["registered"]))
        if record["registered"]:
            out.set_string_custom_property("version", record["version"])
        log.info("RecsRegistrar: %s", record)
