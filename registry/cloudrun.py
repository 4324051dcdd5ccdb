"""Deployment to Cloud Run: one service per registered model and endpoint, sized by a preset.

The requests are built by pure functions and tested field by field offline; `CloudRunDeployer`
sends them through an authorized session and waits for the operation. Not verified here against
the live service (no cloud access): the shapes follow the Cloud Run Admin API v2 reference.

* The service is `serve-<endpoint>`, the name infra gives the endpoint (`infra/components/
  serving.py`); a name Cloud Run would refuse fails here, before any call.
* `services.patch` with `allowMissing=true` creates the service or rolls out a new revision.
* The revision serves the versioned model path, `<models root>/<model>/v<version>/`, and names
  the registered version in its env and labels, so a rollback is a deploy of an older version.
* Invokers: the app's service account; `allUsers` only for an endpoint marked public. The
  policy is set whole, so a public grant left from an earlier deploy is removed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.config import PRESETS, Preset
from infra.naming import cloud_run
from registry.base import ModelVersion
from registry.labels import label_value
from registry.rest import RestClient, Session
from serving.routing import CONTAINER_PORT, HEALTH_ROUTE

API = "https://run.googleapis.com/v2"


@dataclass(frozen=True)
class Endpoint:
    """Where and how a tenant endpoint is served."""

    name: str
    project: str
    region: str
    preset: Preset
    service_account: str
    """The serving identity (`model-serving@<project>.iam.gserviceaccount.com`)."""
    app_member: str
    """The app's IAM member, always an invoker (`serviceAccount:django-app@...`)."""
    public: bool = False

    @property
    def service_name(self) -> str:
        return cloud_run(f"serve-{self.name}")

    @property
    def service(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/services/{self.service_name}"


def versioned_model_path(models_root: str, version: ModelVersion) -> str:
    """`<models root>/<model>/v<version>/`: a deployed version's files never move."""
    return f"{models_root.rstrip('/')}/{version.model_name}/v{version.version}/"


def deploy_request(
    endpoint: Endpoint, version: ModelVersion, *, image: str, model_path: str
) -> tuple[str, str, dict[str, Any]]:
    """(method, URL, body) that creates or updates the endpoint's service."""
    preset = PRESETS[endpoint.preset]
    labels = {
        "endpoint": label_value(endpoint.name),
        "preset": endpoint.preset.value,
        "model": label_value(version.model_name),
        "model_version": label_value(version.version),
    }
    body = {
        "labels": labels,
        "ingress": "INGRESS_TRAFFIC_ALL",
        "template": {
            "labels": labels,
            "serviceAccount": endpoint.service_account,
            "scaling": {
                "minInstanceCount": preset.min_instances,
                "maxInstanceCount": preset.max_instances,
            },
            "containers": [
                {
                    "image": image,
                    "ports": [{"containerPort": CONTAINER_PORT}],
                    "resources": {"limits": {"cpu": preset.cpu, "memory": preset.memory}},
                    "env": [
                        {"name": "ENDPOINT", "value": endpoint.name},
                        {"name": "MODEL_URI", "value": model_path},
                        {"name": "MODEL_VERSION", "value": version.version},
                    ],
                    "startupProbe": {"httpGet": {"path": HEALTH_ROUTE}},
                }
            ],
        },
    }
    return "PATCH", f"{API}/{endpoint.service}?allowMissing=true", body


def invoker_policy_request(endpoint: Endpoint) -> tuple[str, str, dict[str, Any]]:
    """(method, URL, body) that sets who may call the service: the app, plus allUsers if public."""
    members = [endpoint.app_member] + (["allUsers"] if endpoint.public else [])
    body = {"policy": {"bindings": [{"role": "roles/run.invoker", "members": members}]}}
    return "POST", f"{API}/{endpoint.service}:setIamPolicy", body


class CloudRunDeployer:
    """Deploys a registered version to its endpoint's Cloud Run service."""

    def __init__(
        self,
        session: Session,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 5.0,
        timeout_seconds: float = 900.0,
    ) -> None:
        self._rest = RestClient(
            session, sleep=sleep, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds
        )

    def deploy(
        self, endpoint: Endpoint, version: ModelVersion, *, image: str, model_path: str
    ) -> str:
        """Roll out the version; returns the service's URL. Raises RegistryError on failure."""
        method, url, body = deploy_request(endpoint, version, image=image, model_path=model_path)
        operation = self._rest.call(method, url, body)
        response = self._rest.wait(operation, api=API, what=f"deploying {endpoint.service_name}")
        self._rest.call(*invoker_policy_request(endpoint))
        return response.get("uri", "")
