"""RecsDeployer: the Deploy stage of the training template."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types

from components.recs_deployer.executor import Executor
from components.recs_deployer.spec import ModelDeployment, RecsDeployerSpec

StrParam = str | data_types.RuntimeParameter
IntParam = int | data_types.RuntimeParameter


class RecsDeployer(base_component.BaseComponent):
    """Serves the version RecsRegistrar registered: on the model server on 127.0.0.1
    (`deploy_target` local), or as the endpoint's Cloud Run service sized by a preset
    (cloud_run). `deployment.json` says `skipped` (deployment disabled, or nothing was
    registered), `deployed` with the endpoint's URL, or `deploy_failed` with the error."""

    SPEC_CLASS = RecsDeployerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        *,
        registration: types.BaseChannel,
        deploy_target: StrParam,
        deploy_preset: StrParam,
        deploy_region: StrParam,
        deploy_public: IntParam,
        deploy_port: IntParam,
        project: StrParam,
        worker_image: StrParam,
        models_dir: StrParam,
    ):
        super().__init__(
            spec=RecsDeployerSpec(
                registration=registration,
                deploy_target=deploy_target,
                deploy_preset=deploy_preset,
                deploy_region=deploy_region,
                deploy_public=deploy_public,
                deploy_port=deploy_port,
                project=project,
                worker_image=worker_image,
                models_dir=models_dir,
                deployment=types.Channel(type=ModelDeployment),
            )
        )
