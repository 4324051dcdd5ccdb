"""Registry: the tenant's Artifact Registry repositories and read access to shared images."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.tenant import TenantComponent, TenantContext
from infra.config import TenantConfig

# repository id -> (format, accounts that read it). Cloud Run and Vertex pull their containers
# with Google's service agents, not the workload's account; Dataflow workers pull theirs as the
# launching account (pipelines-runner, etl-runner), which therefore reads the images. The app
# reads the templates it submits; the runner receives the compiled spec in the request.
REPOSITORIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "docker-images": ("DOCKER", ("pipelines",)),
    "kfp-templates": ("KFP", ("app",)),
}
# Dataflow workers of both runners run the platform's shared images (Beam stages, ETL).
SHARED_IMAGE_READERS: tuple[str, ...] = ("etl", "pipelines")


class Registry(TenantComponent):
    """Docker and KFP-template repositories, plus reader grants on the platform's images."""

    repositories: dict[str, gcp.artifactregistry.Repository]

    apis = ("artifactregistry",)
    type_token = "b2brecs:tenant:Registry"

    def declare(self, name: str, ctx: TenantContext) -> dict[str, pulumi.Output]:
        config, project_id, identities = ctx.config, ctx.project_id, ctx.identities
        child = self.child_options()
        self.repositories = {}
        for repo_id, (fmt, readers) in REPOSITORIES.items():
            repo = gcp.artifactregistry.Repository(
                f"{name}-{repo_id}",
                project=project_id,
                location=config.data_region,
                repository_id=repo_id,
                format=fmt,
                description=f"{config.id} {fmt.lower()} artifacts",
                labels=config.all_labels(),
                opts=child,
            )
            self.repositories[repo_id] = repo
            for reader in readers:
                gcp.artifactregistry.RepositoryIamMember(
                    f"{name}-{repo_id}-{reader}-reader",
                    project=project_id,
                    location=repo.location,
                    repository=repo.repository_id,
                    role="roles/artifactregistry.reader",
                    member=identities.member(reader),
                    opts=child,
                )
        platform = config.platform
        for reader in SHARED_IMAGE_READERS:
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-shared-images-{reader}-reader",
                project=platform.project_id,
                location=platform.region,
                repository=platform.docker_repository,
                role="roles/artifactregistry.reader",
                member=identities.member(reader),
                opts=child,
            )
        return {key: r.name for key, r in self.repositories.items()}


def shared_image(config: TenantConfig, image: str) -> str:
    """Full reference of a platform image, pinned to the configured release tag."""
    p = config.platform
    return naming.image_reference(p.region, p.project_id, p.docker_repository, image, p.image_tag)
