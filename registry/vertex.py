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

from registry.base import CHAMPION, ModelVersion, Registration, RegistryError
from registry.labels import label_value, version_labels
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


PREVIOUS_CHAMPION = "previous_champion"
"""Label of a champion: the version it replaced, where `rollback` goes (repeatable: that one
carries its own)."""


def upload_request(
    registration: Registration,
    target: VertexTarget,
    *,
    model_exists: bool,
    aliases: tuple[str, ...],
    replaces_champion: str = "",
) -> tuple[str, dict[str, Any]]:
    """(URL, body) of `models.upload` for a registration: a new version of the model if it
    exists, else the model itself. `aliases`: those the version takes at upload (the ones no
    other version holds); `replaces_champion`: the champion it takes over from, remembered in
    its labels for `rollback`."""
    model: dict[str, Any] = {
        "displayName": registration.model_name,
        "description": registration.description
        or f"recommendations of endpoint {registration.model_name}",
        "versionDescription": f"training run {registration.run_id}",
        "artifactUri": registration.artifact_uri,
        "labels": version_labels(registration)
        | ({PREVIOUS_CHAMPION: replaces_champion} if replaces_champion else {}),
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


def labels_request(
    target: VertexTarget, model_name: str, version: str, labels: dict[str, str]
) -> tuple[str, str, dict[str, Any]]:
    """(method, URL, body) of `models.patch` replacing a version's labels."""
    url = f"{target.api}/{target.model(model_name)}@{version}?updateMask=labels"
    return "PATCH", url, {"labels": labels}


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

    def version_of(self, model_name: str, version: str) -> ModelVersion:
        found = self._call("GET", f"{self.target.api}/{self.target.model(model_name)}@{version}",
                           missing_ok=True)  # fmt: skip
        if found is None:
            known = [v.version for v in self.versions(model_name)]
            if not known:
                raise RegistryError(f"no registered model {model_name!r}")
            raise RegistryError(f"{model_name} has no version {version!r}; it has {known}")
        return _version(found)

    def model_names(self) -> list[str]:
        page = self._call("GET", f"{self.target.api}/{self.target.location}/models") or {}
        return sorted(m["name"].rsplit("/", 1)[-1] for m in page.get("models", []))

    def promote(self, model_name: str, version: str, *, override: str = "") -> ModelVersion:
        """Make `version` the champion; one the evaluator did not bless only with `override`,
        recorded in its labels (`promoted_by_override`, `override_reason`, shortened to a label
        value). The version remembers the champion it replaced (`previous_champion`)."""
        chosen = self.version_of(model_name, version)
        labels = dict(chosen.labels)
        if labels.get("blessed") != "true":
            if not override.strip():
                raise RegistryError(
                    f"{model_name} v{version} was not blessed by the evaluator: promote it only "
                    "with --override REASON"
                )
            labels |= {"promoted_by_override": "true", "override_reason": label_value(override)}
        current = self.get(model_name, CHAMPION)
        if current is not None and current.version == chosen.version:
            return chosen
        if current is not None:
            labels[PREVIOUS_CHAMPION] = current.version
        if labels != dict(chosen.labels):
            self._call(*labels_request(self.target, model_name, chosen.version, labels))
        self._move_champion(model_name, current, chosen.version)
        return self.version_of(model_name, chosen.version)

    def rollback(self, model_name: str) -> ModelVersion:
        """Move the champion back to the version it replaced (its `previous_champion`)."""
        current = self.get(model_name, CHAMPION)
        previous = current.labels.get(PREVIOUS_CHAMPION) if current else None
        if not previous:
            raise RegistryError(f"{model_name} has no earlier champion to roll back to")
        self.version_of(model_name, previous)
        self._move_champion(model_name, current, previous)
        return self.version_of(model_name, previous)

    def _move_champion(self, model_name: str, holder: ModelVersion | None, to: str) -> None:
        if holder is not None:
            self._call("POST", *alias_request(self.target, model_name, holder.version,
                                              remove=(CHAMPION,)))  # fmt: skip
        self._call("POST", *alias_request(self.target, model_name, to, add=(CHAMPION,)))

    def register(self, registration: Registration) -> ModelVersion:
        name = registration.model_name
        model_url = f"{self.target.api}/{self.target.model(name)}"
        exists = self._call("GET", model_url, missing_ok=True) is not None
        held = {a: self.get(name, a) for a in registration.aliases} if exists else {}
        free = tuple(a for a in registration.aliases if held.get(a) is None)
        replaced = held.get(CHAMPION)
        url, body = upload_request(registration, self.target, model_exists=exists, aliases=free,
                                   replaces_champion=replaced.version if replaced else "")  # fmt: skip
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
