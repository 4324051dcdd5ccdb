"""TenantProject: the tenant's Google Cloud project, its billing link and the APIs it uses."""

from __future__ import annotations

from typing import ClassVar

import pulumi
import pulumi_gcp as gcp

# Every API a tenant's workloads call; enabling is idempotent and additive.
TENANT_APIS: tuple[str, ...] = (
    "aiplatform.googleapis.com",
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudquotas.googleapis.com",
    "cloudscheduler.googleapis.com",
    "compute.googleapis.com",
    "dataflow.googleapis.com",
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "monitoring.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "sqladmin.googleapis.com",
    "storage.googleapis.com",
)


class ProjectWithApis(pulumi.ComponentResource):
    """A project, the billing link that pays for it and its enabled APIs.

    Shared by :class:`TenantProject` and the platform stack's project, which differ only in
    ``type_token`` and ``enabled_apis``.
    """

    type_token: ClassVar[str]
    enabled_apis: ClassVar[tuple[str, ...]]

    project_id: pulumi.Output[str]
    number: pulumi.Output[str]
    apis: list[gcp.projects.Service]

    def __init__(
        self,
        name: str,
        *,
        project_id: str,
        billing_account: str,
        org_id: str | None,
        folder_id: str | None,
        labels: dict[str, str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(self.type_token, name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = gcp.organizations.Project(
            f"{name}-project",
            project_id=project_id,
            name=project_id,
            org_id=org_id,
            folder_id=folder_id,
            labels=labels,
            # The default network has permissive firewall rules; nothing here needs a VPC.
            auto_create_network=False,
            deletion_policy="PREVENT",
            opts=child,
        )
        # A separate billing link can be re-pointed without replacing the project.
        billing = gcp.billing.ProjectInfo(
            f"{name}-billing",
            project=project.project_id,
            billing_account=billing_account,
            opts=child,
        )
        self.apis = [
            gcp.projects.Service(
                f"{name}-api-{api.split('.')[0]}",
                project=project.project_id,
                service=api,
                # Disabling an API on destroy would break workloads still running in the project.
                disable_on_destroy=False,
                opts=pulumi.ResourceOptions(parent=self, depends_on=[billing]),
            )
            for api in self.enabled_apis
        ]
        self._apis_by_name = dict(zip(self.enabled_apis, self.apis, strict=True))
        self.project_id = project.project_id
        self.number = project.number
        self.register_outputs({"project_id": self.project_id, "number": self.number})

    def needs(self, *short_names: str) -> list[gcp.projects.Service]:
        """The enabled-API resources a component must wait for, e.g. ``needs("run")``."""
        return [self._apis_by_name[f"{name}.googleapis.com"] for name in short_names]


class TenantProject(ProjectWithApis):
    """The tenant's isolated project with billing and the APIs the platform needs."""

    type_token = "b2brecs:tenant:TenantProject"
    enabled_apis = TENANT_APIS
