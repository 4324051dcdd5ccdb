"""ServingEndpoints: one Cloud Run model server per endpoint, sized by its preset.

Private endpoints run as `model-serving`, which reads the model bucket. A public endpoint runs
as its own account, `pub-<endpoint>`, which reads only its model's folder of that bucket: a
compromised public server reaches nothing else. The Deploy stage (`pipelines-runner`) may roll
out to these services only, and act as their accounts.
"""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.cloudrun import private_service, run
from infra.components.identities import CUSTOM_ROLES, Identities, custom_role_name
from infra.components.registry import shared_image
from infra.components.storage import prefix_condition
from infra.components.tenant import TenantComponent, TenantContext
from infra.config import PRESETS, Endpoint
from serving.routing import RUNTIME_IMAGES  # brute force: TF Serving; ScaNN: the Python server

DEPLOYER = "pipelines"
SERVING_OWNED_BY_DEPLOYER = ["template", "traffics"]
"""What `registry` deployments change on an endpoint's service (`registry/cloudrun.py`): the
endpoint's `runtime` picks only the image it starts with, before any model is deployed."""


def model_folder_condition(bucket: str, endpoint: str) -> gcp.storage.BucketIAMMemberConditionArgs:
    """Objects under `<endpoint>/`, and listings with that prefix (how a server downloads a
    version folder), nothing else of the bucket."""
    return prefix_condition(bucket, endpoint, f"model-{endpoint}")


class ServingEndpoints(TenantComponent):
    """Private serving services; an endpoint marked ``public`` additionally admits ``allUsers``."""

    services: dict[str, run.Service]
    public_accounts: dict[str, gcp.serviceaccount.Account]

    apis = ("run",)
    type_token = "b2brecs:tenant:ServingEndpoints"

    def declare(self, name: str, ctx: TenantContext) -> dict[str, pulumi.Output]:
        config, project_id, identities = ctx.config, ctx.project_id, ctx.identities
        child = self.child_options()
        self.services = {}
        self.public_accounts = {}
        models_bucket = naming.bucket(config.gcp_project_id, "models")
        deployer_role = custom_role_name(project_id, CUSTOM_ROLES["endpoint-deployer"].role_id)
        for endpoint in config.endpoints:
            account = self._account(name, endpoint, project_id, models_bucket, identities, child)
            preset = PRESETS[endpoint.preset]
            envs = [run.ServiceTemplateContainerEnvArgs(name="ENDPOINT", value=endpoint.name)]
            if endpoint.model_uri:
                envs.append(
                    run.ServiceTemplateContainerEnvArgs(name="MODEL_URI", value=endpoint.model_uri)
                )
            invokers: list[pulumi.Input[str]] = [identities.member("app")]
            if endpoint.public:
                invokers.append("allUsers")
            service = private_service(
                public_resource_name(name, endpoint.name),
                service_name=f"serve-{endpoint.name}",
                project_id=project_id,
                region=config.data_region,
                image=shared_image(config, RUNTIME_IMAGES[endpoint.runtime]),
                service_account=account,
                cpu=preset.cpu,
                memory=preset.memory,
                min_instances=preset.min_instances,
                max_instances=preset.max_instances,
                labels={**config.all_labels(), "preset": endpoint.preset.value},
                invokers=invokers,
                envs=envs,
                parent=self,
                depends_on=self.depends_on,
                # The registry's deployer owns the revisions from the first rollout on: the
                # image the routing rule picks for the model, MODEL_URI, sizing and traffic.
                # `pulumi up` must not roll a served model back to the endpoint's first image.
                ignore_changes=SERVING_OWNED_BY_DEPLOYER,
            )
            self.services[endpoint.name] = service
            run.ServiceIamMember(
                f"{name}-{endpoint.name}-deployer",
                project=project_id,
                location=service.location,
                name=service.name,
                role=deployer_role,
                member=identities.member(DEPLOYER),
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[identities.custom_roles["endpoint-deployer"]]
                ),
            )
        if not config.endpoints:
            return {}
        gcp.projects.IAMMember(
            f"{name}-{DEPLOYER}-run-operation-reader",
            project=project_id,
            role=custom_role_name(project_id, CUSTOM_ROLES["run-operation-reader"].role_id),
            member=identities.member(DEPLOYER),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[identities.custom_roles["run-operation-reader"]]
            ),
        )
        if any(not endpoint.public for endpoint in config.endpoints):
            # Rolling out a revision that runs as an account needs `actAs` on it.
            gcp.serviceaccount.IAMMember(
                f"{name}-{DEPLOYER}-actas-serving",
                service_account_id=identities.accounts["serving"].name,
                role="roles/iam.serviceAccountUser",
                member=identities.member(DEPLOYER),
                opts=child,
            )
        return {key: svc.uri for key, svc in self.services.items()}

    def _account(
        self,
        name: str,
        endpoint: Endpoint,
        project_id: pulumi.Input[str],
        models_bucket: str,
        identities: Identities,
        child: pulumi.ResourceOptions,
    ) -> pulumi.Input[str]:
        """The email the endpoint's server runs as; a public endpoint's account and grants."""
        if not endpoint.public:
            return identities.email("serving")
        account = gcp.serviceaccount.Account(
            f"{name}-{endpoint.name}-account",
            project=project_id,
            account_id=naming.public_serving_account(endpoint.name),
            display_name=f"Public endpoint {endpoint.name}",
            opts=child,
        )
        self.public_accounts[endpoint.name] = account
        gcp.projects.IAMMember(
            f"{name}-{endpoint.name}-logging-logWriter",
            project=project_id,
            role="roles/logging.logWriter",
            member=account.member,
            opts=child,
        )
        gcp.storage.BucketIAMMember(
            f"{name}-{endpoint.name}-model-reader",
            bucket=models_bucket,
            role="roles/storage.objectViewer",
            member=account.member,
            condition=model_folder_condition(models_bucket, endpoint.name),
            opts=child,
        )
        gcp.serviceaccount.IAMMember(
            f"{name}-{DEPLOYER}-actas-{endpoint.name}",
            service_account_id=account.name,
            role="roles/iam.serviceAccountUser",
            member=identities.member(DEPLOYER),
            opts=child,
        )
        return account.email


def public_resource_name(component: str, endpoint: str) -> str:
    """Logical name of an endpoint's service; policy checks use it to recognise public ones."""
    return f"{component}-{endpoint}"
