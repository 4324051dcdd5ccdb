"""Shared builder for the Cloud Run services of a tenant, private unless stated otherwise."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import naming

run = gcp.cloudrunv2


def private_service(
    name: str,
    *,
    service_name: str,
    project_id: pulumi.Input[str],
    region: str,
    image: str,
    service_account: pulumi.Input[str],
    cpu: str,
    memory: str,
    min_instances: int,
    max_instances: int,
    labels: dict[str, str],
    invokers: list[pulumi.Input[str]],
    envs: list[run.ServiceTemplateContainerEnvArgs] | None = None,
    volumes: list[run.ServiceTemplateVolumeArgs] | None = None,
    volume_mounts: list[run.ServiceTemplateContainerVolumeMountArgs] | None = None,
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource] | None = None,
    ignore_changes: list[str] | None = None,
) -> run.Service:
    """A Cloud Run service that only ``invokers`` may call (``roles/run.invoker`` per service).
    ``ignore_changes``: properties another owner changes after creation (`pulumi up` keeps
    theirs)."""
    service = run.Service(
        name,
        project=project_id,
        name=naming.cloud_run(service_name),
        location=region,
        ingress="INGRESS_TRAFFIC_ALL",
        # IAM stays the gate: requests without an invoker's identity token are rejected.
        invoker_iam_disabled=False,
        deletion_protection=False,
        labels=labels,
        template=run.ServiceTemplateArgs(
            service_account=service_account,
            scaling=run.ServiceTemplateScalingArgs(
                min_instance_count=min_instances, max_instance_count=max_instances
            ),
            containers=[
                run.ServiceTemplateContainerArgs(
                    image=image,
                    resources=run.ServiceTemplateContainerResourcesArgs(
                        limits={"cpu": cpu, "memory": memory}
                    ),
                    envs=envs,
                    volume_mounts=volume_mounts,
                )
            ],
            volumes=volumes,
        ),
        opts=pulumi.ResourceOptions(
            parent=parent, depends_on=depends_on or [], ignore_changes=ignore_changes
        ),
    )
    for index, member in enumerate(invokers):
        run.ServiceIamMember(
            f"{name}-invoker-{index}",
            project=project_id,
            location=service.location,
            name=service.name,
            role="roles/run.invoker",
            member=member,
            opts=pulumi.ResourceOptions(parent=parent),
        )
    return service
