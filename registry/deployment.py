"""What a deployment is, in every serving target: the resources it gets, what an endpoint serves.

Three targets implement `ServingTarget`: the model server on 127.0.0.1 (`registry.local_serving`),
Cloud Run (`registry.cloudrun`) and Vertex AI Endpoints (`registry.vertex_endpoints`). An
endpoint belongs to the registered model it serves (its `model` label, or the local state's
`model_name`): a model may only update endpoints it owns or that serve nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from infra.config import CLOUD_RUN_MEMORY_MI, PRESETS, Preset
from registry.base import ModelVersion, RegistryError

DEFAULT_TIMEOUT_SECONDS = 300
"""A request's time limit unless overridden: Cloud Run's default, and the seeds'."""
SERVING, NOT_DEPLOYED, UNKNOWN = "serving", "not_deployed", "unknown"


class DeployOverrides(BaseModel):
    """Changes to a preset's sizing for one deployment; None keeps the preset's value."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_instances: int | None = Field(default=None, ge=0, le=1000)
    max_instances: int | None = Field(default=None, ge=1, le=1000)
    cpu: Literal["1", "2", "4", "8"] | None = None
    memory: str | None = Field(default=None, pattern=r"^[1-9][0-9]{0,5}(Mi|Gi)$")
    """Cloud Run's notation, 512Mi to 32Gi."""
    timeout_seconds: int = Field(default=DEFAULT_TIMEOUT_SECONDS, ge=1, le=3600)


@dataclass(frozen=True)
class Resources:
    """A deployment's sizing: a preset with its overrides applied, checked."""

    min_instances: int
    max_instances: int
    cpu: str
    memory: str
    timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS

    @property
    def memory_mib(self) -> int:
        return int(self.memory[:-2]) * (1024 if self.memory.endswith("Gi") else 1)


def overrides(**values) -> DeployOverrides:
    """`DeployOverrides` of the given values (None ones left out); ValueError `<field>: <why>`."""
    try:
        return DeployOverrides(**{k: v for k, v in values.items() if v is not None})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "overrides"
        raise ValueError(f"{where}: {first['msg']}") from None


def resources(preset: Preset | str, changes: DeployOverrides | None = None) -> Resources:
    """The preset's sizing with `changes` applied; ValueError naming the field that does not fit."""
    try:
        base = PRESETS[Preset(preset)]
    except ValueError:
        raise ValueError(f"preset: {preset!r} is not one of {[p.value for p in Preset]}") from None
    changes = changes or DeployOverrides()
    out = Resources(
        min_instances=base.min_instances if changes.min_instances is None else changes.min_instances,
        max_instances=base.max_instances if changes.max_instances is None else changes.max_instances,
        cpu=changes.cpu or base.cpu,
        memory=changes.memory or base.memory,
        timeout_seconds=changes.timeout_seconds,
    )  # fmt: skip
    if out.min_instances > out.max_instances:
        field_name = "min_instances" if changes.min_instances is not None else "max_instances"
        raise ValueError(
            f"{field_name}: min_instances {out.min_instances} exceeds max_instances "
            f"{out.max_instances}"
        )
    low, high = CLOUD_RUN_MEMORY_MI
    if not low <= out.memory_mib <= high:
        raise ValueError(f"memory: {out.memory} is outside 512Mi to 32Gi")
    # Cloud Run needs at least 2 GiB for 4 CPUs and 4 GiB for 8.
    needed = {"4": 2048, "8": 4096}.get(out.cpu, 0)
    if out.memory_mib < needed:
        raise ValueError(f"memory: {out.memory} is too little for cpu {out.cpu} (at least "
                         f"{needed // 1024}Gi)")  # fmt: skip
    return out


@dataclass(frozen=True)
class EndpointStatus:
    """An endpoint as read live from its target.

    `state`: `serving`, `not_deployed`, or `unknown` when the target could not be read (`detail`
    says why). `traffic`: registered version -> percent of requests."""

    endpoint: str
    state: str
    model_name: str = ""
    traffic: dict[str, int] = field(default_factory=dict)
    url: str = ""
    resources: Resources | None = None
    detail: str = ""


class EndpointNotOwned(RegistryError):
    """The endpoint serves another registered model."""


def check_owner(status: EndpointStatus, model_name: str) -> None:
    """Refuse to touch an endpoint that serves another model, or whose state is unknown."""
    if status.state == UNKNOWN:
        raise RegistryError(
            f"endpoint {status.endpoint}: its state is unknown ({status.detail}); not changed"
        )
    if status.state == SERVING and status.model_name and status.model_name != model_name:
        raise EndpointNotOwned(
            f"endpoint {status.endpoint} serves model {status.model_name!r}; a model may only "
            f"update endpoints it owns ({model_name!r} does not)"
        )


class ServingTarget(Protocol):
    """Where registered versions are served: the local server, Cloud Run, Vertex AI Endpoints."""

    def deploy(self, endpoint: str, version: ModelVersion, sizing: Resources) -> EndpointStatus:
        """Serve `version` on `endpoint` (created if missing), all traffic to it."""

    def split(
        self, endpoint: str, primary: ModelVersion, secondary: ModelVersion, percent: int,
        sizing: Resources,
    ) -> EndpointStatus:  # fmt: skip
        """Serve `secondary` to `percent` % of requests beside `primary` (which keeps the rest)."""

    def undeploy(self, endpoint: str) -> bool:
        """Stop serving on `endpoint`; True if something was served."""

    def status(self, endpoint: str) -> EndpointStatus:
        """The endpoint read live; `unknown` when the target cannot be read."""
