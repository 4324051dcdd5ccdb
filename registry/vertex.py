"""The cloud backend: Vertex AI Model Registry over its REST API (v1).

Requests are built by pure functions (`upload_request`, `alias_request`), tested field by field
offline; `VertexModelRegistry` sends them through an authorized session
(`google.auth.transport.requests.AuthorizedSession` in the cloud) and waits for the upload's
long-running operation. Not verified here against the live service (no cloud access): the
request shapes follow the v1 REST reference.

A registered model is the Vertex model `projects/<p>/locations/<r>/models/<model_name>`; every
registration uploads a version of it (`parentModel`), or creates it (`modelId`) the first time.
An alias moves to the new version only after the upload succeeded: a failed upload leaves every
alias where it was.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from registry.base import ModelVersion, Registration
from registry.labels import version_labels
from registry.rest import RestClient, Session
from serving.routing import (
    CONTAINER_PORT,
    HEALTH_ROUTE,
    PREDICT_ROUTE,
    RUNTIME_IMAGES,
    serving_runtime,
)


class Located:
    """A target in a project and region: the Vertex AI API root and location name there."""

    project: str
    region: str

    @property
    def api(self) -> str:
        """The regional root of the Vertex AI REST API (v1)."""
        return f"https://{self.region}-aiplatform.googleapis.com/v1"

    @property
    def location(self) -> str:
        return f"projects/{self.project}/locations/{self.region}"


@dataclass(frozen=True)
class VertexTarget(Located):
    """Where models are registered, and where the serving images come from."""

    project: str
    region: str
    image_repository: str = ""
    """The platform's shared image repository, e.g. `europe-docker.pkg.dev/<project>/images`
    (needed to register; lookups do without)."""
    image_tag: str = ""
    """The pinned tag of the platform's images (never `latest`)."""

    def __post_init__(self) -> None:
        if self.image_tag == "latest":
            raise ValueError("image_tag: pin the serving image to a release, not 'latest'")

    def model(self, model_name: str) -> str:
        return f"{self.location}/models/{model_name}"


def serving_image(target: VertexTarget, *, uses_scann: bool) -> str:
    """The serving container of a model, by the routing rule (`serving.routing`)."""
    if not (target.image_repository and target.image_tag):
        raise ValueError("image_repository and image_tag: a registration names its serving image")
    image = RUNTIME_IMAGES[serving_runtime(uses_scann=uses_scann)]
    return f"{target.image_repository}/{image}:{target.image_tag}"


def upload_request(
    registration: Registration,
    target: VertexTarget,
    *,
    model_exists: bool,
    aliases: tuple[str, ...],
) -> tuple[str, dict[str, Any]]:
    """(URL, body) of `models.upload` for a registration: a new version of the model if it
    exists, else the model itself. `aliases`: those the version takes at upload (the ones no
    other version holds)."""
    model: dict[str, Any] = {
        "displayName": registration.model_name,
        "description": registration.description
        or f"recommendations of endpoint {registration.model_name}",
        "versionDescription": f"training run {registration.run_id}",
        "artifactUri": registration.artifact_uri,
        "labels": version_labels(registration),
        "containerSpec": {
            "imageUri": serving_image(target, uses_scann=registration.uses_scann),
            "predictRoute": PREDICT_ROUTE,
            "healthRoute": HEALTH_ROUTE,
            "ports": [{"containerPort": CONTAINER_PORT}],
        },
    }
    if aliases:
        model["versionAliases"] = list(aliases)
    body: dict[str, Any] = {"model": model}
    if model_exists:
        body["parentModel"] = target.model(registration.model_name)
    else:
        body["modelId"] = registration.model_name
    return f"{target.api}/{target.location}/models:upload", body


def alias_request(
    target: VertexTarget, model_name: str, version: str, *, add: tuple[str, ...] = (),
    remove: tuple[str, ...] = (),
) -> tuple[str, dict[str, Any]]:  # fmt: skip
    """(URL, body) of `models.mergeVersionAliases`: "-alias" removes one."""
    aliases = [*add, *(f"-{alias}" for alias in remove)]
    url = f"{target.api}/{target.model(model_name)}@{version}:mergeVersionAliases"
    return url, {"versionAliases": aliases}


class VertexModelRegistry:
    """`ModelRegistry` on Vertex AI, through an authorized HTTP session."""

    def __init__(
        self,
        target: VertexTarget,
        session: Session,
        *,
        sleep: Callable[[float], None] = time.sleep,
        poll_seconds: float = 5.0,
        timeout_seconds: float = 1800.0,
    ) -> None:
        self.target = target
        self._rest = RestClient(
            session, sleep=sleep, poll_seconds=poll_seconds, timeout_seconds=timeout_seconds
        )
        self._call = self._rest.call

    def get(self, model_name: str, alias: str = "champion") -> ModelVersion | None:
        url = f"{self.target.api}/{self.target.model(model_name)}@{alias}"
        found = self._call("GET", url, missing_ok=True)
        return None if found is None else _version(found)

    def versions(self, model_name: str) -> list[ModelVersion]:
        url = f"{self.target.api}/{self.target.model(model_name)}:listVersions"
        out, token = [], ""
        while True:
            page = self._call(
                "GET", url + (f"?pageToken={token}" if token else ""), missing_ok=True
            )
            if page is None:
                return []
            out.extend(_version(m) for m in page.get("models", []))
            token = page.get("nextPageToken", "")
            if not token:
                return sorted(out, key=lambda v: int(v.version))

    def register(self, registration: Registration) -> ModelVersion:
        name = registration.model_name
        model_url = f"{self.target.api}/{self.target.model(name)}"
        exists = self._call("GET", model_url, missing_ok=True) is not None
        held = {a: self.get(name, a) for a in registration.aliases} if exists else {}
        free = tuple(a for a in registration.aliases if held.get(a) is None)
        url, body = upload_request(registration, self.target, model_exists=exists, aliases=free)
        operation = self._call("POST", url, body)
        response = self._rest.wait(operation, api=self.target.api, what="upload")
        version_id = response["modelVersionId"]
        # Move the aliases other versions hold, now that the upload has succeeded.
        for alias, holder in held.items():
            if holder is None:
                continue
            self._call("POST", *alias_request(self.target, name, holder.version, remove=(alias,)))
            self._call("POST", *alias_request(self.target, name, version_id, add=(alias,)))
        return _version(self._call("GET", f"{model_url}@{version_id}"))


def _version(model: dict[str, Any]) -> ModelVersion:
    name = model["name"].split("@")[0]
    return ModelVersion(
        model_name=name.rsplit("/", 1)[-1],
        version=str(model["versionId"]),
        artifact_uri=model.get("artifactUri", ""),
        run_id=model.get("labels", {}).get("run_id", ""),
        aliases=tuple(sorted(a for a in model.get("versionAliases", []) if a != "default")),
        labels=dict(model.get("labels", {})),
        resource_name=f"{name}@{model['versionId']}",
    )
