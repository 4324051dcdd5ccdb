"""The local backend: MLflow's model registry (a SQLite store under the run folder, or a server).

A registered model per endpoint, a model version per registration, the version's labels as
MLflow tags (plus every metric of the registration as `metric.<name>`), and aliases as MLflow
registered-model aliases, which MLflow moves from version to version by itself.
"""

from __future__ import annotations

from registry.base import CHAMPION, ModelVersion, Registration, RegistryError
from registry.labels import version_labels

METRIC_TAG = "metric."
HISTORY_TAG = "champion_history"
"""Model tag: the versions that were champion before the current one, oldest first."""


class MlflowModelRegistry:
    """`ModelRegistry` over an MLflow tracking/registry URI (e.g. `sqlite:///<run>/mlflow.db`)."""

    def __init__(self, registry_uri: str) -> None:
        from mlflow.tracking import MlflowClient

        self.registry_uri = registry_uri
        self._client = MlflowClient(tracking_uri=registry_uri, registry_uri=registry_uri)

    def register(self, registration: Registration) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        name = registration.model_name
        tags = version_labels(registration)
        tags.update(
            {f"{METRIC_TAG}{k}": repr(float(v)) for k, v in sorted(registration.metrics.items())}
        )
        try:
            if self._registered(name) is None:
                self._client.create_registered_model(
                    name, description=f"recommendations of endpoint {name}"
                )
            created = self._client.create_model_version(
                name,
                source=registration.artifact_uri,
                run_id=registration.run_id,
                tags=tags,
                description=registration.description or None,
            )
            if CHAMPION in registration.aliases:
                self._remember_champion(name)
            for alias in registration.aliases:
                self._client.set_registered_model_alias(name, alias, created.version)
        except MlflowException as exc:
            raise RegistryError(f"registering {name} at {self.registry_uri}: {exc}") from exc
        return self._version(name, str(created.version))

    def get(self, model_name: str, alias: str = "champion") -> ModelVersion | None:
        from mlflow.exceptions import MlflowException

        if self._registered(model_name) is None:
            return None
        try:
            found = self._client.get_model_version_by_alias(model_name, alias)
        except MlflowException:  # no version holds the alias
            return None
        return self._version(model_name, str(found.version))

    def versions(self, model_name: str) -> list[ModelVersion]:
        if self._registered(model_name) is None:
            return []
        found = self._client.search_model_versions(f"name = '{model_name}'")
        numbers = sorted(int(v.version) for v in found)
        return [self._version(model_name, str(n)) for n in numbers]

    def model_names(self) -> list[str]:
        return sorted(m.name for m in self._client.search_registered_models())

    def promote(self, model_name: str, version: str, *, override: str = "") -> ModelVersion:
        """Make `version` the champion. A version the evaluator did not bless only with an
        `override` reason, recorded on the version (`override_reason`, `promoted_by_override`).
        The champion it replaces is remembered for `rollback` (model tag `champion_history`)."""
        target = self.version_of(model_name, version)
        if target.labels.get("blessed") != "true":
            if not override.strip():
                raise RegistryError(
                    f"{model_name} v{version} was not blessed by the evaluator: promote it only "
                    "with --override REASON"
                )
            self._client.set_model_version_tag(model_name, version, "override_reason", override)
            self._client.set_model_version_tag(model_name, version, "promoted_by_override", "true")
        current = self.get(model_name)
        if current is not None and current.version == version:
            return self._version(model_name, version)
        self._remember_champion(model_name)
        self._client.set_registered_model_alias(model_name, CHAMPION, version)
        return self._version(model_name, version)

    def rollback(self, model_name: str) -> ModelVersion:
        """Move the champion back to the version it replaced last (repeatable)."""
        history = self._history(model_name)
        if not history:
            raise RegistryError(f"{model_name} has no earlier champion to roll back to")
        previous, rest = history[-1], history[:-1]
        self.version_of(model_name, previous)
        self._client.set_registered_model_alias(model_name, CHAMPION, previous)
        self._client.set_registered_model_tag(model_name, HISTORY_TAG, ",".join(rest))
        return self._version(model_name, previous)

    def _remember_champion(self, model_name: str) -> None:
        """Append the current champion (if any) to the history `rollback` walks back."""
        current = self.get(model_name)
        if current is not None:
            history = [*self._history(model_name), current.version]
            self._client.set_registered_model_tag(model_name, HISTORY_TAG, ",".join(history))

    def _history(self, model_name: str) -> list[str]:
        model = self._registered(model_name)
        if model is None:
            raise RegistryError(f"no registered model {model_name!r}")
        return [v for v in (model.tags or {}).get(HISTORY_TAG, "").split(",") if v]

    def version_of(self, model_name: str, version: str) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        if self._registered(model_name) is None:
            raise RegistryError(f"no registered model {model_name!r}")
        try:
            return self._version(model_name, str(version))
        except MlflowException:
            known = [v.version for v in self.versions(model_name)]
            raise RegistryError(
                f"{model_name} has no version {version!r}; it has {known}"
            ) from None

    def _registered(self, name: str):
        from mlflow.exceptions import MlflowException

        try:
            return self._client.get_registered_model(name)
        except MlflowException as exc:
            if getattr(exc, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise RegistryError(f"reading {name} at {self.registry_uri}: {exc}") from exc

    def _version(self, name: str, version: str) -> ModelVersion:
        v = self._client.get_model_version(name, version)
        return ModelVersion(
            model_name=name,
            version=str(v.version),
            artifact_uri=v.source,
            run_id=v.run_id or "",
            aliases=tuple(sorted(v.aliases or ())),
            labels={k: val for k, val in v.tags.items() if not k.startswith(METRIC_TAG)},
            resource_name=f"models:/{name}/{v.version}",
        )
