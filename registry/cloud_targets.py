"""The cloud serving targets of `python -m registry`, built from a project, a region and a
pinned platform release (whose serving images a deploy uses)."""

from __future__ import annotations

from registry.deployment import ServingTarget


def cloud_target(
    kind: str, session, *, project: str, region: str, release_image: str = "",
    public: bool = False,
) -> ServingTarget:  # fmt: skip
    """`cloud-run` (the default) or `vertex-endpoint`. ValueError `<field>: <why>`."""
    if kind == "vertex-endpoint":
        from registry.vertex import VertexTarget
        from registry.vertex_endpoints import VertexEndpointTarget

        return VertexEndpointTarget(VertexTarget(project, region), session)
    if kind != "cloud-run":
        raise ValueError(f"--target: {kind!r} is not cloud-run or vertex-endpoint")
    from infra.naming import public_serving_account, sa_email
    from registry.cloudrun import CloudRunTarget
    from serving.routing import RUNTIME_IMAGES, image_release

    try:
        repository, tag = image_release(release_image)
    except ValueError as exc:
        raise ValueError(f"--release-image: {exc}") from None

    def image_of(version) -> str:
        runtime = version.labels.get("runtime", "native")
        return f"{repository}/{RUNTIME_IMAGES.get(runtime, RUNTIME_IMAGES['native'])}:{tag}"

    def service_account(endpoint: str) -> str:
        # A public endpoint runs as its own account, which reads only its model's folder.
        return sa_email(public_serving_account(endpoint) if public else "model-serving", project)

    return CloudRunTarget(session, project=project, region=region, image_of=image_of,
                          service_account=service_account,
                          app_member=f"serviceAccount:{sa_email('django-app', project)}",
                          public=public)  # fmt: skip
