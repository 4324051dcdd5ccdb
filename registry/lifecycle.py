"""A registered model's life after training, over one registry and one serving target.

The local backend is MLflow's registry with the model server on 127.0.0.1; the cloud one is
Vertex AI Model Registry with Cloud Run (or Vertex AI Endpoints). Every verb of
`python -m registry` that changes serving goes through `ModelLifecycle`, which reads the
endpoint live first and refuses one that serves another model (or cannot be read).
An endpoint is named after its model unless told otherwise.
"""

from __future__ import annotations

from registry.base import CHAMPION, ModelRegistry, ModelVersion, RegistryError
from registry.deployment import (
    SERVING,
    EndpointStatus,
    Resources,
    ServingTarget,
    check_owner,
)


class ModelLifecycle:
    def __init__(self, registry: ModelRegistry, target: ServingTarget) -> None:
        self.registry = registry
        self.target = target

    def champion(self, model_name: str) -> ModelVersion:
        found = self.registry.get(model_name, CHAMPION)
        if found is None:
            raise RegistryError(f"{model_name} has no champion (register or promote a version)")
        return found

    def _owned(self, model_name: str, endpoint: str | None) -> EndpointStatus:
        status = self.target.status(endpoint or model_name)
        check_owner(status, model_name)
        return status

    def deploy(
        self, model_name: str, sizing: Resources, *, version: str | None = None,
        endpoint: str | None = None,
    ) -> EndpointStatus:  # fmt: skip
        """Serve `version` (default: the champion) on the model's endpoint, created or updated
        in place; all traffic goes to it."""
        chosen = self.registry.version_of(model_name, version) if version else (
            self.champion(model_name))  # fmt: skip
        self._owned(model_name, endpoint)
        return self.target.deploy(endpoint or model_name, chosen, sizing)

    def split(
        self, model_name: str, version: str, percent: int, sizing: Resources, *,
        endpoint: str | None = None,
    ) -> EndpointStatus:  # fmt: skip
        """Send `percent` % of the endpoint's traffic to `version`, the rest to the champion;
        0 ends the split."""
        if not 0 <= percent < 100:
            raise RegistryError(f"percent: {percent} is outside 0-99 (0 ends the split)")
        champion = self.champion(model_name)
        second = self.registry.version_of(model_name, version)
        if percent and second.version == champion.version:
            raise RegistryError(f"version: v{version} is the champion; split to another version")
        current = self._owned(model_name, endpoint)
        return self.target.split(
            endpoint or model_name, champion, second, percent, current.resources or sizing
        )

    def rollback(
        self, model_name: str, sizing: Resources, *, endpoint: str | None = None
    ) -> tuple[ModelVersion, EndpointStatus | None]:
        """Move `champion` back to the previous champion and, if the endpoint serves this model,
        redeploy it there (keeping the endpoint's sizing)."""
        current = self._owned(model_name, endpoint)
        champion = self.registry.rollback(model_name)
        if current.state != SERVING:
            return champion, None
        return champion, self.target.deploy(
            endpoint or model_name, champion, current.resources or sizing
        )

    def undeploy(self, model_name: str, *, endpoint: str | None = None) -> bool:
        self._owned(model_name, endpoint)
        return self.target.undeploy(endpoint or model_name)

    def status(self, model_name: str, *, endpoint: str | None = None) -> EndpointStatus:
        return self.target.status(endpoint or model_name)
