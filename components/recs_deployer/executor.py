"""Executor: serve the registered champion where the run says, and record how it went.

A failed deployment does not fail the run: the model was trained, blessed and registered, and
stays so; the stage's status is `deploy_failed` with the error, as the product reports it.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timezone
from typing import Any

from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components.artifact_files import read_artifact_json
from components.recs_deployer.settings import (
    LOCAL,
    NONE,
    DeploySettings,
    deploy_settings,
)
from components.recs_deployer.spec import DEPLOYMENT_FILE
from components.recs_registrar.spec import REGISTRATION_FILE

log = logging.getLogger(__name__)

SKIPPED, DEPLOYED, DEPLOY_FAILED = "skipped", "deployed", "deploy_failed"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def deploy(registration: dict[str, Any], exec_properties: dict[str, Any], *, session=None) -> dict:
    """The deployment record of `registration` (registration.json) under the run's settings.

    `session` is the authorized HTTP session for Cloud Run (default: the ambient credentials)."""
    record: dict[str, Any] = {"model_name": registration.get("model_name", ""),
                              "version": registration.get("version"), "endpoint_url": "",
                              "error": "", "started_at": _now()}  # fmt: skip

    def finished(status: str, **fields: Any) -> dict:
        return record | {"status": status, **fields, "completed_at": _now()}

    try:
        settings = deploy_settings(exec_properties)
    except ValueError as exc:
        return finished(DEPLOY_FAILED, target=exec_properties.get("deploy_target"), error=str(exc))
    record |= {"target": settings.deploy_target, "preset": settings.deploy_preset}
    if settings.deploy_target == NONE:
        return finished(SKIPPED, reason="deployment disabled (deploy_target none)")
    if not registration.get("registered"):
        why = registration.get("reason", "not blessed")
        return finished(SKIPPED, reason=f"nothing registered to deploy: {why}")
    try:
        if settings.deploy_target == LOCAL:
            url = _deploy_local(registration, settings, exec_properties["models_dir"])
        else:
            url = _deploy_cloud_run(registration, settings, session)
    except Exception as exc:  # the error is the stage's result, not the run's
        log.exception("deployment failed")
        return finished(DEPLOY_FAILED, error=f"{type(exc).__name__}: {exc}")
    return finished(DEPLOYED, endpoint_url=url)


def _deploy_local(registration: dict, settings: DeploySettings, models_dir: str) -> str:
    from dataclasses import asdict

    from registry.deployment import resources
    from registry.local_serving import LocalServing

    # The owner and sizing are recorded, so `python -m registry` can split, roll back and redeploy.
    deployment = LocalServing(models_dir).deploy(
        registration["model_name"], registration["version"], registration["artifact_uri"],
        port=settings.deploy_port, model_name=registration["model_name"],
        resources=asdict(resources(settings.deploy_preset)),
    )  # fmt: skip
    return deployment.url


def _deploy_cloud_run(registration: dict, settings: DeploySettings, session) -> str:
    from infra.config import Preset
    from infra.naming import public_serving_account, sa_email
    from registry.base import ModelVersion
    from registry.cloudrun import CloudRunDeployer, Endpoint
    from registry.rest import default_session
    from serving.routing import RUNTIME_IMAGES, serving_runtime

    session = session or default_session()
    project = settings.project
    public = bool(settings.deploy_public)
    # A public endpoint runs as its own account, which reads only its model's folder.
    account = public_serving_account(registration["model_name"]) if public else "model-serving"
    endpoint = Endpoint(
        name=registration["model_name"],
        project=project,
        region=settings.deploy_region,
        preset=Preset(settings.deploy_preset),
        service_account=sa_email(account, project),
        app_member=f"serviceAccount:{sa_email('django-app', project)}",
        public=public,
    )
    version = ModelVersion(
        model_name=registration["model_name"],
        version=registration["version"],
        artifact_uri=registration["artifact_uri"],
        run_id=registration.get("run_id", ""),
        aliases=tuple(registration.get("aliases", ())),
        labels={},
    )
    # A model with a ScaNN index (the registration's `uses_scann`) runs in the Python server.
    runtime = serving_runtime(uses_scann=bool(registration.get("uses_scann", False)))
    image = settings.serving_image(RUNTIME_IMAGES[runtime])
    return CloudRunDeployer(session).deploy(
        endpoint, version, image=image, model_path=registration["artifact_uri"]
    )


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX API)
        registration = read_artifact_json(input_dict["registration"], REGISTRATION_FILE)
        record = deploy(registration, exec_properties)
        out = artifact_utils.get_single_instance(output_dict["deployment"])
        io_utils.write_string_file(
            os.path.join(out.uri, DEPLOYMENT_FILE), json.dumps(record, indent=2, sort_keys=True)
        )
        out.set_string_custom_property("status", record["status"])
        out.set_string_custom_property("endpoint_url", record["endpoint_url"])
        log.info("RecsDeployer: %s", record)
