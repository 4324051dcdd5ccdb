"""Platform: the central project with shared image/template repositories and tenant readers."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra.components.project import ProjectWithApis
from infra.config import PlatformConfig

PLATFORM_APIS: tuple[str, ...] = (
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "iam.googleapis.com",
)


class PlatformProject(ProjectWithApis):
    """The central project with billing and the APIs the shared repositories need."""

    type_token = "b2brecs:platform:PlatformProject"
    enabled_apis = PLATFORM_APIS


class Platform(pulumi.ComponentResource):
    """Shared repositories; each tenant's Cloud Run agent may pull the shared images."""

    def __init__(
        self, name: str, *, config: PlatformConfig, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("b2brecs:platform:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        project = PlatformProject(
            f"{name}-central",
            project_id=config.project_id,
            billing_account=config.billing_account,
            org_id=config.org_id,
            folder_id=config.folder_id,
            labels=config.all_labels(),
            opts=child,
        )
        repos = {}
        for repo_id, fmt in (
            (config.docker_repository, "DOCKER"),
            (config.templates_repository, "KFP"),
        ):
            repos[repo_id] = gcp.artifactregistry.Repository(
                f"{name}-{repo_id}",
                project=project.project_id,
                location=config.region,
                repository_id=repo_id,
                format=fmt,
                description=f"shared {fmt.lower()} artifacts of the platform",
                labels=config.all_labels(),
                opts=pulumi.ResourceOptions(parent=self, depends_on=project.apis),
            )
        docker = repos[config.docker_repository]
        for tenant in config.tenants:
            # Cloud Run pulls cross-project images as the tenant's serverless service agent,
            # whose email carries the project number known only once the tenant project exists;
            # the tenant stack grants its runner accounts itself.
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-{tenant.id}-run-agent-reader",
                project=project.project_id,
                location=docker.location,
                repository=docker.repository_id,
                role="roles/artifactregistry.reader",
                member=(
                    f"serviceAccount:service-{tenant.project_number}"
                    "@serverless-robot-prod.iam.gserviceaccount.com"
                ),
                opts=child,
            )
        self.register_outputs({"project_id": project.project_id})
