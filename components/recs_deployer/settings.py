"""The Deploy stage's settings, checked once: when a run is submitted (the template's schema)
and when the stage runs (a compiled pipeline's inputs reach it unchecked)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from components.scale_out import REGION, set_values
from infra.config import Preset
from serving.routing import image_release

NONE, LOCAL, CLOUD_RUN = "none", "local", "cloud_run"
TARGETS = (NONE, LOCAL, CLOUD_RUN)
PRESET_NAMES = tuple(p.value for p in Preset)
DEPLOY_SETTINGS_KEYS = ("deploy_target", "deploy_preset", "deploy_region", "deploy_public",
                        "deploy_port", "project", "worker_image")  # fmt: skip


class DeploySettingsError(ValueError):
    """A deploy setting is missing or malformed; the message names the parameter."""


@dataclass(frozen=True)
class DeploySettings:
    deploy_target: str = NONE
    deploy_preset: str = Preset.DEVELOPMENT.value
    deploy_region: str = ""
    deploy_public: int = 0
    deploy_port: int = 0
    project: str = ""
    worker_image: str = ""

    def __post_init__(self) -> None:
        if self.deploy_target not in TARGETS:
            raise DeploySettingsError(
                f"deploy_target: {self.deploy_target!r} is not one of {TARGETS}"
            )
        if self.deploy_preset not in PRESET_NAMES:
            raise DeploySettingsError(
                f"deploy_preset: {self.deploy_preset!r} is not one of {PRESET_NAMES}"
            )
        if self.deploy_public not in (0, 1):
            raise DeploySettingsError(f"deploy_public: {self.deploy_public} is not 0 or 1")
        if not 0 <= self.deploy_port <= 65535:
            raise DeploySettingsError(f"deploy_port: {self.deploy_port} is not a port (0: any)")
        if self.deploy_target != CLOUD_RUN:
            return
        if not self.project:
            raise DeploySettingsError("project: the tenant's project is required for cloud_run")
        if not REGION.fullmatch(self.deploy_region):
            raise DeploySettingsError(
                f"deploy_region: {self.deploy_region!r} is not a region such as europe-central2"
            )
        try:
            image_release(self.worker_image)
        except ValueError as exc:
            raise DeploySettingsError(
                f"worker_image: {exc}: the serving image is taken from the same repository "
                "and release"
            ) from None

    def serving_image(self, runtime_image: str) -> str:
        """`runtime_image` (serving.routing) of the platform's repository, at its release."""
        repository, tag = image_release(self.worker_image)
        return f"{repository}/{runtime_image}:{tag}"


def deploy_settings(values: Mapping[str, Any]) -> DeploySettings:
    """The Deploy stage's settings among `values` (execution properties or parameters)."""
    return DeploySettings(**set_values(values, DEPLOY_SETTINGS_KEYS))
