"""The tenant register: the platform stack says what the platform is and which tenants exist.

A tenant's stack file names the platform it uses (`platform.project_id`, `region`,
`docker_repository`) because its images and the policy's shared project come from there; read
from the tenant's own file, that would let a tenant name any project "the platform" and be
granted on it. So those values are checked against the platform stack's file (the register),
and the policy takes the platform's project from the register, never from the tenant's file.

Across the register and every tenant stack file of the folder, before any resource is
declared: tenant ids, project ids and bucket names are unique, none is the platform's, and a
tenant registered with a project keeps that project. Offline the register is the platform stack
file; `pulumi up` of a tenant reads the same file from the checkout it deploys (a
StackReference's outputs arrive asynchronously, after validation must already have happened).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra import naming
from infra.config import (
    PLATFORM_KEY,
    TENANT_KEY,
    ConfigError,
    PlatformConfig,
    TenantConfig,
    platform_from_stack_config,
    tenant_from_stack_config,
)

BUCKET_PURPOSES = ("quicktest-artifacts", "training-artifacts", "pipeline-staging",
                   "mlflow-artifacts", "models")  # fmt: skip
"""The suffixes of `infra.components.storage.BUCKETS` (a test keeps them equal)."""


def tenant_buckets(project_id: str) -> set[str]:
    return {naming.bucket(project_id, purpose) for purpose in BUCKET_PURPOSES}


@dataclass(frozen=True)
class TenantRegister:
    platform: PlatformConfig
    tenants: dict[str, TenantConfig]
    """Every tenant stack of the folder, by stack name."""

    @classmethod
    def load(cls, directory: Path, *, platform_stack: str = "platform") -> TenantRegister:
        from infra.stacks import available_stacks, load_stack_config

        platform = platform_from_stack_config(load_stack_config(platform_stack, directory))
        tenants = {}
        for stack in available_stacks(directory):
            config = load_stack_config(stack, directory)
            if stack != platform_stack and TENANT_KEY in config and PLATFORM_KEY not in config:
                try:
                    tenants[stack] = tenant_from_stack_config(config)
                except ConfigError:
                    continue  # that stack's own plan names its errors
        return cls(platform, tenants)

    def check(self, stack: str, tenant: TenantConfig) -> None:
        """Raise ConfigError (naming the field, and the other tenant where there is one) unless
        `tenant` (the config of `stack`) agrees with the register and collides with nobody."""
        platform = self.platform
        for field, value in (("project_id", platform.project_id), ("region", platform.region),
                             ("docker_repository", platform.docker_repository)):  # fmt: skip
            if getattr(tenant.platform, field) != value:
                raise ConfigError(
                    f"tenant.platform.{field}: {getattr(tenant.platform, field)!r} is not the "
                    f"platform's {value!r} (the tenant register, Pulumi.platform.yaml, says which)"
                )
        project = tenant.gcp_project_id
        if project == platform.project_id:
            raise ConfigError(f"tenant.project_id: {project!r} is the platform's own project")
        for ref in platform.tenants:  # another tenant's project first: it names both
            if ref.project_id == project and ref.id != tenant.id:
                raise ConfigError(
                    f"tenant.project_id: {project!r} is registered to tenant {ref.id!r}, "
                    f"not {tenant.id!r}"
                )
        for ref in platform.tenants:
            if ref.id == tenant.id and ref.project_id != project:
                raise ConfigError(
                    f"tenant.project_id: tenant {tenant.id!r} is registered with project "
                    f"{ref.project_id!r}, not {project!r}"
                )
        buckets = tenant_buckets(project)
        for other_stack, other in sorted(self.tenants.items()):
            if other_stack == stack:
                continue
            if other.id == tenant.id:
                raise ConfigError(
                    f"tenant.id: {tenant.id!r} is also the id of stack {other_stack!r}"
                )
            if other.gcp_project_id == project:
                raise ConfigError(
                    f"tenant.project_id: {project!r} is also the project of tenant {other.id!r} "
                    f"(stack {other_stack!r})"
                )
            shared = sorted(buckets & tenant_buckets(other.gcp_project_id))
            if shared:
                raise ConfigError(
                    f"tenant.project_id: bucket {shared[0]!r} is also tenant {other.id!r}'s"
                )


def check_stack(stack: str, config: Mapping[str, Any], directory: Path) -> TenantRegister:
    """The register of `directory`, after checking tenant stack `stack` against it."""
    from infra.stacks import UnknownStack

    tenant = tenant_from_stack_config(config)  # its own errors first, named by field
    try:
        register = TenantRegister.load(directory)
    except UnknownStack:
        raise ConfigError(
            f"the tenant register Pulumi.platform.yaml is not in {directory}: every tenant "
            "stack is checked against it"
        ) from None
    register.check(stack, tenant)
    return register
