"""Secrets: Secret Manager secrets whose values only ever arrive as Pulumi secrets."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.identities import Identities
from infra.config import TenantConfig


def declare_secret(
    name: str,
    *,
    secret_id: str,
    value: pulumi.Output[str],
    project_id: pulumi.Input[str],
    region: str,
    labels: dict[str, str],
    accessors: list[pulumi.Input[str]],
    parent: pulumi.Resource,
    depends_on: list[pulumi.Resource] | None = None,
) -> gcp.secretmanager.Secret:
    """One secret, its version and accessor grants, parented under ``parent``.

    ``value`` is wrapped with :func:`pulumi.Output.secret` again, so even a caller that passes a
    plain Output cannot leak it into the state in clear text.
    """
    child = pulumi.ResourceOptions(parent=parent, depends_on=depends_on or [])
    secret = gcp.secretmanager.Secret(
        name,
        project=project_id,
        secret_id=naming.check("secret_id", secret_id),
        # User-managed replication keeps secret material inside the tenant's data region.
        replication=gcp.secretmanager.SecretReplicationArgs(
            user_managed=gcp.secretmanager.SecretReplicationUserManagedArgs(
                replicas=[
                    gcp.secretmanager.SecretReplicationUserManagedReplicaArgs(location=region)
                ]
            )
        ),
        labels=labels,
        opts=child,
    )
    gcp.secretmanager.SecretVersion(
        f"{name}-version",
        secret=secret.id,
        secret_data=pulumi.Output.secret(value),
        opts=child,
    )
    for index, member in enumerate(accessors):
        gcp.secretmanager.SecretIamMember(
            f"{name}-accessor-{index}",
            project=project_id,
            secret_id=secret.secret_id,
            role="roles/secretmanager.secretAccessor",
            member=member,
            opts=child,
        )
    return secret


class Secrets(pulumi.ComponentResource):
    """The tenant's configured secrets (``config.secrets``), readable by their accessors only."""

    def __init__(
        self,
        name: str,
        *,
        config: TenantConfig,
        values: dict[str, pulumi.Output[str]],
        project_id: pulumi.Input[str],
        identities: Identities,
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("b2brecs:tenant:Secrets", name, None, opts)
        self.secrets = {
            spec.name: declare_secret(
                f"{name}-{spec.name}",
                secret_id=spec.name,
                value=values[spec.name],
                project_id=project_id,
                region=config.data_region,
                labels=config.all_labels(),
                accessors=[identities.member(a) for a in spec.accessors],
                parent=self,
                depends_on=depends_on,
            )
            for spec in config.secrets
        }
        self.register_outputs({key: s.secret_id for key, s in self.secrets.items()})
