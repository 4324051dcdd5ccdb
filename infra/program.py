"""The Pulumi programs: a tenant's resource graph and the platform's, built from validated config.

``run_stack`` is what ``__main__.py`` calls under ``pulumi up``, and what the offline plan and the
tests call under Pulumi's mocks: both read the same ``pulumi.Config``.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from infra.components.budget import TenantBudget
from infra.components.gpu_quota import GpuQuota
from infra.components.identities import Identities
from infra.components.mlflow import MlflowService
from infra.components.pipelines import TenantPipelines
from infra.components.platform import Platform
from infra.components.project import TenantProject
from infra.components.registry import Registry
from infra.components.schedules import Schedules
from infra.components.secrets import Secrets
from infra.components.serving import ServingEndpoints
from infra.components.storage import Storage
from infra.components.tenant import TenantContext
from infra.components.tfdv import TfdvParser
from infra.components.warehouse import Warehouse
from infra.config import (
    MLFLOW_DB_PASSWORD_KEY,
    NAMESPACE,
    PlatformConfig,
    TenantConfig,
    platform_from_stack_config,
    secret_config_key,
    tenant_from_stack_config,
)

PLATFORM_STACK = "platform"


@dataclass(frozen=True)
class TenantSecrets:
    """Secret inputs of a tenant program, each a secret Output (never plain config)."""

    mlflow_db_password: pulumi.Output[str]
    values: dict[str, pulumi.Output[str]]


def build_tenant(config: TenantConfig, secrets: TenantSecrets) -> dict[str, pulumi.Output]:
    """Declare every resource of one tenant; returns the stack outputs."""
    labels = config.all_labels()
    project = TenantProject(
        "tenant",
        project_id=config.gcp_project_id,
        billing_account=config.billing_account,
        org_id=config.org_id,
        folder_id=config.folder_id,
        labels=labels,
    )
    # Each component waits only for the APIs it calls.
    needs = project.needs
    pid = project.project_id
    ids = Identities(
        "identities", project_id=pid, project_number=project.number, depends_on=needs("iam")
    )
    ctx = TenantContext(config, pid, project.number, ids, needs)
    TenantBudget("budget", ctx)
    storage = Storage("storage", ctx)
    registry = Registry("registry", ctx)
    GpuQuota("gpu-quota", ctx)
    Warehouse("warehouse", ctx)
    Secrets(
        "secrets",
        config=config,
        values=secrets.values,
        project_id=pid,
        identities=ids,
        depends_on=needs("secretmanager"),
    )
    mlflow = MlflowService(
        "mlflow",
        config=config,
        project_id=pid,
        identities=ids,
        artifact_bucket=storage.buckets["mlflow"],
        db_password=secrets.mlflow_db_password,
        depends_on=needs("sqladmin", "secretmanager", "run"),
    )
    TenantPipelines(
        "pipelines",
        config=config,
        identities=ids,
        mlflow_url=mlflow.service.uri,
        depends_on=[*needs("aiplatform"), registry.repositories["kfp-templates"]],
    )
    tfdv = TfdvParser("tfdv", ctx, depends_on=[storage.buckets["models"]])
    Schedules("schedules", ctx)
    serving = ServingEndpoints("serving", ctx, depends_on=[storage.buckets["models"]])
    return {
        "project_id": pid,
        "project_number": project.number,
        "mlflow_url": mlflow.service.uri,
        "tfdv_url": tfdv.service.uri,
        "endpoints": pulumi.Output.all(
            **{name: svc.uri for name, svc in sorted(serving.services.items())}
        ),
        "service_accounts": pulumi.Output.all(
            **{key: acc.email for key, acc in sorted(ids.accounts.items())}
        ),
    }


def build_platform(config: PlatformConfig) -> dict[str, pulumi.Output]:
    """Declare the platform stack's resources; returns the stack outputs."""
    Platform("platform", config=config)
    return {"project_id": pulumi.Output.from_input(config.project_id)}


def _raw_config(key: str) -> dict[str, object]:
    # Only the structured key is needed to build the model; Config returns it as parsed JSON.
    value = pulumi.Config(NAMESPACE).get_object(key)
    return {} if value is None else {f"{NAMESPACE}:{key}": value}


def tenant_secrets(config: TenantConfig) -> TenantSecrets:
    """Read the tenant's secret inputs with ``require_secret``, so they stay secret Outputs."""
    cfg = pulumi.Config(NAMESPACE)
    return TenantSecrets(
        mlflow_db_password=cfg.require_secret(MLFLOW_DB_PASSWORD_KEY),
        values={s.name: cfg.require_secret(secret_config_key(s.name)) for s in config.secrets},
    )


def run_stack() -> None:
    """Entry point of the Pulumi program: validate the stack's config, then declare resources."""
    if pulumi.get_stack() == PLATFORM_STACK:
        platform = platform_from_stack_config(_raw_config("platform"))
        outputs = build_platform(platform)
    else:
        raw = _raw_config("tenant")
        tenant = tenant_from_stack_config(raw)
        # The tenant register (the platform stack file of this checkout) before any resource.
        from infra.register import check_stack
        from infra.stacks import INFRA_DIR

        check_stack(pulumi.get_stack(), raw, INFRA_DIR)
        outputs = build_tenant(tenant, tenant_secrets(tenant))
    for key, value in outputs.items():
        pulumi.export(key, value)
