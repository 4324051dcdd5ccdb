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
* Each revision is named `<service>-v<version>-<digest of its template>` and tagged `v<version>`
  in the traffic list, so a split names both revisions (`split_request`: the second version's
  revision is created with its share in one request) and each version has its own tagged URL.
  The service's `model` label names its owner: a model updates only services it owns.
* `undeploy` deletes the service; a later deploy creates it again (`allowMissing`).
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from infra.config import Preset
from infra.naming import cloud_run
from registry.base import ModelVersion, RegistryError
from registry.deployment import (
    NOT_DEPLOYED,
    SERVING,
    UNKNOWN,
    EndpointStatus,
    Resources,
    resources,
)
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


def _template(
    endpoint: Endpoint, version: ModelVersion, *, image: str, model_path: str, sizing: Resources
) -> tuple[dict[str, Any], dict[str, str]]:
    """(revision template, the service's labels) of a version sized by `sizing`."""
    labels = {
        "endpoint": label_value(endpoint.name),
        "preset": endpoint.preset.value,
        "model": label_value(version.model_name),
        "model_version": label_value(version.version),
    }
    if "blessed" in version.labels:  # a version deployed by hand need not be blessed: say so
        labels["is_blessed"] = label_value(version.labels["blessed"])
    template = {
        "labels": labels,
        "serviceAccount": endpoint.service_account,
        "scaling": {
            "minInstanceCount": sizing.min_instances,
            "maxInstanceCount": sizing.max_instances,
        },
        "timeout": f"{sizing.timeout_seconds}s",
        "containers": [
            {
                "image": image,
                "ports": [{"containerPort": CONTAINER_PORT}],
                "resources": {"limits": {"cpu": sizing.cpu, "memory": sizing.memory}},
                "env": [
                    {"name": "ENDPOINT", "value": endpoint.name},
                    {"name": "MODEL_URI", "value": model_path},
                    {"name": "MODEL_VERSION", "value": version.version},
                ],
                "startupProbe": {"httpGet": {"path": HEALTH_ROUTE}},
            }
        ],
    }
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:6]
    template["revision"] = revision_name(endpoint, version.version, digest)
    return template, labels


def revision_name(endpoint: Endpoint, version: str, digest: str) -> str:
    """`<service>-v<version>-<digest>`: the same version and template, the same revision."""
    return f"{endpoint.service_name}-v{label_value(version)}-{digest}"


def _target(revision: str, version: str, percent: int) -> dict[str, Any]:
    return {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": revision,
            "percent": percent, "tag": f"v{label_value(version)}"}  # fmt: skip


def deploy_request(
    endpoint: Endpoint, version: ModelVersion, *, image: str, model_path: str,
    sizing: Resources | None = None,
) -> tuple[str, str, dict[str, Any]]:  # fmt: skip
    """(method, URL, body) that creates or updates the endpoint's service, all traffic to the
    version's revision. `sizing` defaults to the endpoint's preset (timeout 300 s)."""
    sizing = sizing or resources(endpoint.preset)
    template, labels = _template(endpoint, version, image=image, model_path=model_path,
                                 sizing=sizing)  # fmt: skip
    body = {
        "labels": labels,
        "ingress": "INGRESS_TRAFFIC_ALL",
        "template": template,
        "traffic": [_target(template["revision"], version.version, 100)],
    }
    return "PATCH", f"{API}/{endpoint.service}?allowMissing=true", body


def split_request(
    endpoint: Endpoint, primary_revision: str, primary: ModelVersion, secondary: ModelVersion,
    percent: int, *, image: str, model_path: str, sizing: Resources,
) -> tuple[str, str, dict[str, Any]]:  # fmt: skip
    """(method, URL, body) that rolls out `secondary`'s revision with `percent` % of requests,
    `primary_revision` keeping the rest, both tagged with their versions. The service's labels
    stay the champion's."""
    template, _ = _template(endpoint, secondary, image=image, model_path=model_path,
                            sizing=sizing)  # fmt: skip
    labels = {**template["labels"], "model_version": label_value(primary.version)}
    body = {
        "labels": labels,
        "template": template,
        "traffic": [
            _target(primary_revision, primary.version, 100 - percent),
            _target(template["revision"], secondary.version, percent),
        ],
    }
    return "PATCH", f"{API}/{endpoint.service}", body


def end_split_request(
    endpoint: Endpoint, primary_revision: str, primary: ModelVersion
) -> tuple[str, str, dict[str, Any]]:
    """(method, URL, body): all traffic back to the champion's revision, nothing else changed."""
    body = {"traffic": [_target(primary_revision, primary.version, 100)]}
    return "PATCH", f"{API}/{endpoint.service}?updateMask=traffic", body


def delete_request(endpoint: Endpoint) -> tuple[str, str]:
    return "DELETE", f"{API}/{endpoint.service}"


_REVISION_VERSION = re.compile(r"-v([0-9a-z_-]+)-[0-9a-f]{6}$")


def read_status(endpoint: Endpoint, service: dict[str, Any] | None) -> EndpointStatus:
    """An endpoint's status from its service as `services.get` returns it (None: no service).
    Traffic comes from `trafficStatuses` (what serves), each version from its tag."""
    if service is None:
        return EndpointStatus(endpoint.name, NOT_DEPLOYED)
    traffic: dict[str, int] = {}
    for entry in service.get("trafficStatuses", []):
        tag = entry.get("tag", "")
        found = _REVISION_VERSION.search(entry.get("revision", ""))
        version = tag[1:] if tag.startswith("v") else (found.group(1) if found else "latest")
        if entry.get("percent"):
            traffic[version] = traffic.get(version, 0) + int(entry["percent"])
    template = service.get("template", {})
    container = (template.get("containers") or [{}])[0]
    limits = container.get("resources", {}).get("limits", {})
    scaling = template.get("scaling", {})
    sizing = None
    if limits and scaling:
        sizing = Resources(
            min_instances=int(scaling.get("minInstanceCount", 0)),
            max_instances=int(scaling.get("maxInstanceCount", 100)),
            cpu=str(limits.get("cpu", "1")),
            memory=str(limits.get("memory", "512Mi")),
            timeout_seconds=int(str(template.get("timeout", "300s")).rstrip("s") or 300),
        )
    condition = service.get("terminalCondition", {})
    failed = condition.get("state") == "CONDITION_FAILED"
    return EndpointStatus(
        endpoint.name,
        SERVING if traffic and not failed else UNKNOWN,
        model_name=service.get("labels", {}).get("model", ""),
        traffic=traffic,
        url=service.get("uri", ""),
        resources=sizing,
        detail=condition.get("message", "") if failed else "",
    )


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
        self, endpoint: Endpoint, version: ModelVersion, *, image: str, model_path: str,
        sizing: Resources | None = None,
    ) -> str:  # fmt: skip
        """Roll out the version; returns the service's URL. Raises RegistryError on failure."""
        method, url, body = deploy_request(endpoint, version, image=image, model_path=model_path,
                                           sizing=sizing)  # fmt: skip
        operation = self._rest.call(method, url, body)
        response = self._rest.wait(operation, api=API, what=f"deploying {endpoint.service_name}")
        self._rest.call(*invoker_policy_request(endpoint))
        return response.get("uri", "")


class CloudRunTarget:
    """`registry.deployment.ServingTarget` on Cloud Run: one service per endpoint,
    `serve-<endpoint>`, in the tenant's project and region."""

    def __init__(
        self, session: Session, *, project: str, region: str, image_of: Callable[[ModelVersion], str],
        service_account: Callable[[str], str], app_member: str, public: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:  # fmt: skip
        self._deployer = CloudRunDeployer(session, sleep=sleep)
        self._rest = self._deployer._rest  # noqa: SLF001 (one client for both)
        self.project, self.region, self.public = project, region, public
        self.image_of, self.service_account, self.app_member = image_of, service_account, app_member

    def endpoint(self, name: str) -> Endpoint:
        from infra.config import Preset

        return Endpoint(name=name, project=self.project, region=self.region,
                        preset=Preset.DEVELOPMENT, service_account=self.service_account(name),
                        app_member=self.app_member, public=self.public)  # fmt: skip

    def status(self, endpoint: str) -> EndpointStatus:
        target = self.endpoint(endpoint)
        try:
            service = self._rest.call("GET", f"{API}/{target.service}", missing_ok=True)
        except Exception as exc:  # noqa: BLE001 (any failure to read is an unknown state)
            return EndpointStatus(endpoint, UNKNOWN, detail=f"{type(exc).__name__}: {exc}")
        return read_status(target, service)

    def deploy(self, endpoint: str, version: ModelVersion, sizing: Resources) -> EndpointStatus:
        self._deployer.deploy(self.endpoint(endpoint), version, image=self.image_of(version),
                              model_path=version.artifact_uri, sizing=sizing)  # fmt: skip
        return self.status(endpoint)

    def split(
        self, endpoint: str, primary: ModelVersion, secondary: ModelVersion, percent: int,
        sizing: Resources,
    ) -> EndpointStatus:  # fmt: skip
        target = self.endpoint(endpoint)
        service = self._rest.call("GET", f"{API}/{target.service}", missing_ok=True)
        revision = _revision_of(service, primary.version)
        if revision is None:  # the champion is not served there yet: deploy it first
            self.deploy(endpoint, primary, sizing)
            service = self._rest.call("GET", f"{API}/{target.service}")
            revision = _revision_of(service, primary.version)
        if revision is None:
            raise RegistryError(f"{target.service_name}: no revision tagged v{primary.version}")
        if not percent:
            request = end_split_request(target, revision, primary)
        else:
            request = split_request(target, revision, primary, secondary, percent,
                                    image=self.image_of(secondary),
                                    model_path=secondary.artifact_uri, sizing=sizing)  # fmt: skip
        operation = self._rest.call(*request)
        self._rest.wait(operation, api=API, what=f"splitting {target.service_name}")
        return self.status(endpoint)

    def undeploy(self, endpoint: str) -> bool:
        target = self.endpoint(endpoint)
        operation = self._rest.call(*delete_request(target), missing_ok=True)
        if operation is None:
            return False
        self._rest.wait(operation, api=API, what=f"deleting {target.service_name}")
        return True


def _revision_of(service: dict[str, Any] | None, version: str) -> str | None:
    """The revision serving `version` (by its tag), or None."""
    for entry in (service or {}).get("trafficStatuses", []):
        if entry.get("tag") == f"v{label_value(version)}" and entry.get("revision"):
            return entry["revision"]
    return None
