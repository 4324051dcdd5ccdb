"""The model registry's interface: what a registration says, what a registered version is.

Two backends implement `ModelRegistry`: Vertex AI Model Registry in the cloud
(`registry.vertex`) and MLflow's model registry on a local SQLite store (`registry.mlflow`).
A registered model is one per tenant endpoint; each blessed training run adds a version. The
alias `champion` names the version that serves; the evaluator compares a new model with it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

CHAMPION = "champion"
MODEL_TYPES = ("retrieval", "ranking", "multitask")
_ALIAS = re.compile(r"[a-z][a-z0-9-]{0,127}")
_MODEL_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")


class RegistryError(RuntimeError):
    """A registry call failed or was refused; the message says which and why."""


@dataclass(frozen=True)
class Registration:
    """One trained model to register as a new version of `model_name`.

    `metrics` are the evaluation's figures (recall of the exported model, RMSE/MAE); `blessed`
    is the evaluator's verdict. Only a blessed version may take aliases such as `champion`.
    """

    model_name: str
    artifact_uri: str
    run_id: str
    model_type: str
    blessed: bool
    metrics: Mapping[str, float] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    uses_scann: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not _MODEL_NAME.fullmatch(self.model_name):
            raise ValueError(
                f"model_name {self.model_name!r}: 1-63 lowercase letters, digits, hyphens and "
                "underscores, starting with a letter"
            )
        if not self.artifact_uri:
            raise ValueError("artifact_uri: the exported model's folder is required")
        if not self.run_id:
            raise ValueError("run_id: the training run the model comes from is required")
        if self.model_type not in MODEL_TYPES:
            raise ValueError(f"model_type {self.model_type!r}: one of {', '.join(MODEL_TYPES)}")
        for alias in self.aliases:
            if not _ALIAS.fullmatch(alias):
                raise ValueError(
                    f"alias {alias!r}: lowercase letters, digits and hyphens, starting with a letter"
                )
        if self.aliases and not self.blessed:
            raise ValueError(
                f"aliases {list(self.aliases)}: a version the evaluator did not bless takes none"
            )


@dataclass(frozen=True)
class ModelVersion:
    """A registered version, as either backend reports it."""

    model_name: str
    version: str
    artifact_uri: str
    run_id: str
    aliases: tuple[str, ...]
    labels: Mapping[str, str]
    resource_name: str = ""
    """The backend's own name of the version (Vertex: `projects/.../models/<id>@<version>`)."""


class ModelRegistry(Protocol):
    def register(self, registration: Registration) -> ModelVersion:
        """Add a version; aliases it takes move from any version that held them."""

    def get(self, model_name: str, alias: str = CHAMPION) -> ModelVersion | None:
        """The version holding `alias`, or None (no such model, or no version holds it)."""

    def versions(self, model_name: str) -> list[ModelVersion]:
        """Every version of the model, oldest first ([] for a model not registered)."""
