"""Vertex AI Endpoints as a second serving target, over the REST API (v1).

Requests are built by pure functions and tested field by field offline; `VertexEndpointTarget`
sends them through an authorized session. Not verified here against the live service (no cloud
access): the shapes follow the v1 REST reference.

* The endpoint of `<name>` is `projects/<p>/locations/<r>/endpoints/serve-<name>` (a chosen
  `endpointId`), created on the first deploy, labelled with the model that owns it.
* A deployed model is a registered version (`.../models/<model>@<version>`), displayed as
  `<model>-v<version>`, on dedicated machines sized from the deploy's CPU and memory. Vertex AI
  keeps at least one replica (no scale to zero) and has no per-request timeout to set.
* deploy: the new version takes 100 % (`trafficSplit` key "0" is the model being deployed), then
  the versions it replaced are undeployed. split: the second version is deployed with its share
  beside the champion; percent 0 undeploys it. undeploy: every deployed model is undeployed; the
  empty endpoint stays, and a later deploy uses it again.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from registry.base import ModelVersion, RegistryError
from registry.deployment import NOT_DEPLOYED, SERVING, UNKNOWN, EndpointStatus, Resources
from registry.labels import label_value
from registry.rest import RestClient, Session
from registry.vertex import Located

# (machine type, vCPUs, memory MiB), smallest first: the deploy gets the first that fits.
MACHINE_TYPES = (
    ("n1-standard-2", 2, 7680),
    ("n1-standard-4", 4, 15360),
    ("n1-standard-8", 8, 30720),
    ("n1-standard-16", 16, 61440),
)
_ENDPOINT_ID = re.compile(r"[a-z][a-z0-9-]{0,61}[a-z0-9]")


def machine_type(sizing: Resources) -> str:
    for name, cpus, mebibytes in MACHINE_TYPES:
        if cpus >= float(sizing.cpu) and mebibytes >= sizing.memory_mib:
            return name
    raise ValueError(f"memory: {sizing.memory} with cpu {sizing.cpu} fits no machine type")


def endpoint_id(endpoint: str) -> str:
    """`serve-<endpoint>`, the same name the endpoint's Cloud Run service has."""
    name = f"serve-{endpoint}"
    if not _ENDPOINT_ID.fullmatch(name):
        raise ValueError(f"endpoint {endpoint!r}: not a Vertex AI endpoint id once prefixed "
                         "(lowercase letters, digits, hyphens, at most 63)")  # fmt: skip
    return name


def endpoint_path(where: Located, endpoint: str) -> str:
    return f"{where.location}/endpoints/{endpoint_id(endpoint)}"


def create_request(where: Located, endpoint: str, model_name: str) -> tuple[str, str, dict]:
    body = {"displayName": endpoint_id(endpoint),
            "labels": {"endpoint": label_value(endpoint), "model": label_value(model_name)}}  # fmt: skip
    return (
        "POST",
        f"{where.api}/{where.location}/endpoints?endpointId={endpoint_id(endpoint)}",
        body,
    )


def deploy_model_request(
    where: Located, endpoint: str, version: ModelVersion, sizing: Resources, *,
    keep: dict[str, int] | None = None,
) -> tuple[str, str, dict]:  # fmt: skip
    """(method, URL, body) of `endpoints.deployModel`: `version` takes what `keep` (deployed
    model id -> percent) leaves of the traffic."""
    keep = keep or {}
    body = {
        "deployedModel": {
            "model": version.resource_name,
            "displayName": f"{version.model_name}-v{version.version}",
            "dedicatedResources": {
                "machineSpec": {"machineType": machine_type(sizing)},
                "minReplicaCount": max(1, sizing.min_instances),
                "maxReplicaCount": max(1, sizing.max_instances),
            },
        },
        "trafficSplit": {"0": 100 - sum(keep.values()), **keep},
    }
    return "POST", f"{where.api}/{endpoint_path(where, endpoint)}:deployModel", body


def undeploy_model_request(
    where: Located, endpoint: str, deployed_model_id: str, remaining: dict[str, int]
) -> tuple[str, str, dict]:
    """(method, URL, body) of `endpoints.undeployModel`; `remaining` is the traffic after it
    (empty when it is the last)."""
    body = {"deployedModelId": deployed_model_id, "trafficSplit": remaining}
    return "POST", f"{where.api}/{endpoint_path(where, endpoint)}:undeployModel", body


def read_status(endpoint: str, found: dict[str, Any] | None) -> EndpointStatus:
    """An endpoint's status from `endpoints.get` (None: no such endpoint)."""
    if found is None:
        return EndpointStatus(endpoint, NOT_DEPLOYED)
    versions = {d["id"]: _version_of(d) for d in found.get("deployedModels", [])}
    traffic: dict[str, int] = {}
    for deployed_id, percent in (found.get("trafficSplit") or {}).items():
        if percent and deployed_id in versions:
            traffic[versions[deployed_id]] = int(percent)
    return EndpointStatus(
        endpoint,
        SERVING if traffic else NOT_DEPLOYED,
        model_name=(found.get("labels") or {}).get("model", ""),
        traffic=traffic,
        url=f"https://{found['name'].split('/')[3]}-aiplatform.googleapis.com/v1/{found['name']}"
        if found.get("name") else "",
    )  # fmt: skip


def _version_of(deployed: dict[str, Any]) -> str:
    if deployed.get("modelVersionId"):
        return str(deployed["modelVersionId"])
    return deployed.get("model", "").rpartition("@")[2]


class VertexEndpointTarget:
    """`registry.deployment.ServingTarget` on Vertex AI Endpoints."""

    def __init__(
        self, where: Located, session: Session, *, sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 10.0, timeout_seconds: float = 1800.0,
    ) -> None:  # fmt: skip
        self.where = where
        self._rest = RestClient(session, sleep=sleep, poll_seconds=poll_seconds,
                                timeout_seconds=timeout_seconds)  # fmt: skip

    def _get(self, endpoint: str) -> dict[str, Any] | None:
        return self._rest.call("GET", f"{self.where.api}/{endpoint_path(self.where, endpoint)}",
                               missing_ok=True)  # fmt: skip

    def _send(self, request: tuple[str, str, dict], what: str) -> dict:
        operation = self._rest.call(*request)
        return self._rest.wait(operation, api=self.where.api, what=what)

    def status(self, endpoint: str) -> EndpointStatus:
        try:
            return read_status(endpoint, self._get(endpoint))
        except Exception as exc:  # noqa: BLE001 (any failure to read is an unknown state)
            return EndpointStatus(endpoint, UNKNOWN, detail=f"{type(exc).__name__}: {exc}")

    def _deployed(self, endpoint: str, model_name: str) -> dict[str, str]:
        """Deployed model id -> version on the endpoint, creating the endpoint if missing."""
        found = self._get(endpoint)
        if found is None:
            self._send(create_request(self.where, endpoint, model_name), "creating the endpoint")
            return {}
        return {d["id"]: _version_of(d) for d in found.get("deployedModels", [])}

    def deploy(self, endpoint: str, version: ModelVersion, sizing: Resources) -> EndpointStatus:
        before = self._deployed(endpoint, version.model_name)
        answer = self._send(deploy_model_request(self.where, endpoint, version, sizing),
                            f"deploying {version.model_name} v{version.version}")  # fmt: skip
        new_id = (answer.get("deployedModel") or {}).get("id", "")
        for deployed_id in before:
            if deployed_id != new_id:
                self._send(undeploy_model_request(self.where, endpoint, deployed_id,
                                                  {new_id: 100} if new_id else {}),
                           f"undeploying {deployed_id}")  # fmt: skip
        return self.status(endpoint)

    def split(
        self, endpoint: str, primary: ModelVersion, secondary: ModelVersion, percent: int,
        sizing: Resources,
    ) -> EndpointStatus:  # fmt: skip
        deployed = self._deployed(endpoint, primary.model_name)
        ids = {version: deployed_id for deployed_id, version in deployed.items()}
        if primary.version not in ids:
            raise RegistryError(f"endpoint {endpoint} does not serve the champion "
                                f"v{primary.version}: deploy it first")  # fmt: skip
        if not percent:
            if secondary.version in ids:
                self._send(undeploy_model_request(self.where, endpoint, ids[secondary.version],
                                                  {ids[primary.version]: 100}),
                           f"ending the split of {endpoint}")  # fmt: skip
            return self.status(endpoint)
        keep = {ids[primary.version]: 100 - percent}
        self._send(deploy_model_request(self.where, endpoint, secondary, sizing, keep=keep),
                   f"splitting {endpoint}")  # fmt: skip
        return self.status(endpoint)

    def undeploy(self, endpoint: str) -> bool:
        found = self._get(endpoint)
        deployed = [d["id"] for d in (found or {}).get("deployedModels", [])]
        split = dict((found or {}).get("trafficSplit") or {})
        for deployed_id in deployed:
            split.pop(deployed_id, None)
            remaining = {k: v for k, v in split.items() if v}
            if remaining:  # the traffic of the models left, summing to 100
                first = next(iter(remaining))
                remaining[first] += 100 - sum(remaining.values())
            self._send(undeploy_model_request(self.where, endpoint, deployed_id, remaining),
                       f"undeploying {deployed_id}")  # fmt: skip
            split = remaining
        return bool(deployed)
