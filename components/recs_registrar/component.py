"""RecsRegistrar: pushes a blessed model to its versioned path and registers it as champion."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types

from components.recs_registrar.executor import Executor
from components.recs_registrar.spec import ModelRegistration, RecsRegistrarSpec

StrParam = str | data_types.RuntimeParameter


class RecsRegistrar(base_component.BaseComponent):
    """The Register stage: a blessed model is copied to `<models_dir>/<model_name>/v<version>/`
    (the next version of the registered model) and registered there (`registry.open_registry`)
    with the alias `champion`, labelled with its MLflow run, model type, key metrics and verdict.
    Push and registration are one step: a registered version always has its files. A model that
    was not blessed is neither copied nor registered; `registration.json` says why."""

    SPEC_CLASS = RecsRegistrarSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        *,
        model_run: types.BaseChannel,
        blessing: types.BaseChannel,
        evaluation: types.BaseChannel,
        model: types.BaseChannel,
        registry_uri: StrParam,
        model_name: StrParam,
        models_dir: StrParam,
        worker_image: StrParam = "",
    ):
        super().__init__(
            spec=RecsRegistrarSpec(
                model_run=model_run,
                blessing=blessing,
                evaluation=evaluation,
                model=model,
                registry_uri=registry_uri,
                model_name=model_name,
                models_dir=models_dir,
                worker_image=worker_image,
                registration=types.Channel(type=ModelRegistration),
            )
        )
