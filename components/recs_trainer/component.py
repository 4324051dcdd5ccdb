"""RecsTrainer component: builds a RecsTrainerSpec the way TFX's Trainer builds its own spec."""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.components.util import udf_utils
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.utils import json_utils

from components.recs_trainer.executor import Executor
from components.recs_trainer.spec import RecsTrainerSpec
from components.scale_out import TRAINING_JOB_KEYS

IntParam = int | data_types.RuntimeParameter
FloatParam = float | data_types.RuntimeParameter
StrParam = str | data_types.RuntimeParameter


class RecsTrainer(base_component.BaseComponent):
    """Trains a model with a user module's `run_fn` on transformed examples.

    Same inputs and outputs as TFX's Trainer (`model`, `model_run`); epochs, batch size,
    learning rate and seed are typed parameters that reach `run_fn` in `fn_args.custom_config`,
    and so are the MLflow tracking URI, experiment and run name (`trainer.tracking`).
    `training_job` holds the scale-out parameters' values (`components.scale_out`): with a
    training region the executor trains in a Vertex AI custom job, with GPUs if asked for.
    """

    SPEC_CLASS = RecsTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        *,
        examples: types.BaseChannel,
        transform_graph: types.BaseChannel,
        schema: types.BaseChannel | None = None,
        raw_examples: types.BaseChannel | None = None,
        module_file: str | data_types.RuntimeParameter,
        epochs: IntParam,
        batch_size: IntParam,
        learning_rate: FloatParam,
        seed: IntParam,
        mlflow_tracking_uri: StrParam | None = None,
        mlflow_experiment: StrParam | None = None,
        run_name: StrParam | None = None,
        callback_url: StrParam | None = None,
        training_job: dict[str, Any] | None = None,
        custom_config: dict[str, Any] | None = None,
    ):
        job = training_job or {}
        spec = RecsTrainerSpec(
            examples=examples,
            transform_graph=transform_graph,
            schema=schema,
            raw_examples=raw_examples,
            train_args=trainer_pb2.TrainArgs(),
            eval_args=trainer_pb2.EvalArgs(),
            module_file=module_file,
            custom_config=json_utils.dumps(custom_config or {}),
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            seed=seed,
            mlflow_tracking_uri=mlflow_tracking_uri,
            mlflow_experiment=mlflow_experiment,
            run_name=run_name,
            callback_url=callback_url,
            **{key: job[key] for key in TRAINING_JOB_KEYS if key in job},
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun),
        )
        super().__init__(spec=spec)
        # As TFX's Trainer does: package the user module into a wheel when the orchestrator
        # supports it, so the module travels with the pipeline rather than by path.
        if udf_utils.should_package_user_modules():
            udf_utils.add_user_module_dependency(
                self,
                standard_component_specs.MODULE_FILE_KEY,
                standard_component_specs.MODULE_PATH_KEY,
            )
