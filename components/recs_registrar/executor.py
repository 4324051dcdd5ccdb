"""Executor: register the pushed model when the evaluator blessed it; say why when not."""

from __future__ import annotations

import json
import logging
import os

from tfx.dsl.components.base import base_executor
from tfx.dsl.io import fileio
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components.artifact_files import read_artifact_json
from components.recs_evaluator.spec import EVALUATION_FILE
from components.recs_registrar.spec import REGISTRATION_FILE

log = logging.getLogger(__name__)


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX API)
        from registry import CHAMPION, Registration, open_registry
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
            number = str(len(registry.versions(name)) + 1)
            target = os.path.join(exec_properties["models_dir"], name, f"v{number}")
            if fileio.exists(target):  # never overwrite files a version may point at
                raise RuntimeError(f"{target} exists: the models folder and the registry disagree")
            source = path_utils.serving_model_path(
                artifact_utils.get_single_uri(input_dict["model"])
            )
            io_utils.copy_dir(source, target)
            version = registry.register(
                Registration(
                    model_name=name,
                    artifact_uri=target,
                    run_id=str(run_id),
                    model_type=trainer.get("model_type", "retrieval"),
                    blessed=True,
                    metrics=metrics,
                    aliases=(CHAMPION,),
                )
            )
            if version.version != number:
                raise RuntimeError(f"registered as version {version.version}, copied as v{number}")
            record = {
                "registered": True,
                "model_name": name,
                "version": version.version,
                "aliases": list(version.aliases),
                "artifact_uri": version.artifact_uri,
                "resource_name": version.resource_name,
                "run_id": version.run_id,
            }
        out = artifact_utils.get_single_instance(output_dict["registration"])
        io_utils.write_string_file(
            os.path.join(out.uri, REGISTRATION_FILE), json.dumps(record, indent=2, sort_keys=True)
        )
        out.set_int_custom_property("registered", int(record["registered"]))
        if record["registered"]:
            out.set_string_custom_property("version", record["version"])
        log.info("RecsRegistrar: %s", record)
