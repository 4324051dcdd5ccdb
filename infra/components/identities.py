"""Identities: one service account per workload, each with only the project roles it needs."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from infra import naming


@dataclass(frozen=True)
class AccountSpec:
    """A workload identity: its account id, what it is for, and its project-level roles."""

    account_id: str
    display_name: str
    project_roles: tuple[str, ...]


# Project-level roles only where no narrower resource exists (jobs, Vertex runs, SQL connections).
# Access to buckets, datasets, secrets, repositories and services is granted on those resources,
# by the component that owns them.
ACCOUNTS: dict[str, AccountSpec] = {
    "app": AccountSpec(
        "django-app",
        "Client-facing app",
        ("roles/aiplatform.user", "roles/bigquery.jobUser", "roles/logging.logWriter"),
    ),
    "etl": AccountSpec(
        "etl-runner",
        "ETL runner",
        ("roles/bigquery.jobUser", "roles/dataflow.worker", "roles/logging.logWriter"),
    ),
    "tfdv": AccountSpec("tfdv-parser", "TFDV parser service", ("roles/logging.logWriter",)),
    "mlflow": AccountSpec(
        "mlflow-server",
        "MLflow tracking server",
        ("roles/cloudsql.client", "roles/logging.logWriter"),
    ),
    "pipelines": AccountSpec(
        "pipelines-runner",
        "Vertex AI pipelines runner",
        (
            "roles/aiplatform.user",
            "roles/bigquery.jobUser",
            "roles/dataflow.worker",
            "roles/logging.logWriter",
        ),
    ),
    # Only mints OIDC tokens for scheduled webhook calls: no project roles at all.
    "scheduler": AccountSpec("training-scheduler", "Cloud Scheduler caller", ()),
    "serving": AccountSpec(
        "model-serving", "Model serving endpoints", ("roles/logging.logWriter",)
    ),
}


@dataclass(frozen=True)
class CustomRole:
    """A project role narrower than any predefined one, and the accounts that hold it."""

    role_id: str
    title: str
    permissions: tuple[str, ...]
    holders: tuple[str, ...]
    """Accounts granted the role project-wide; a role granted on single resources has none."""


# roles/dataflow.developer would also let each runner cancel and update the other's jobs.
# Launching needs only these; Dataflow jobs are not IAM resources, so the grant is project-wide.
CUSTOM_ROLES: dict[str, CustomRole] = {
    "dataflow-launcher": CustomRole(
        "b2brecsDataflowLauncher",
        "Launch and follow Dataflow jobs",
        (
            "dataflow.jobs.create",
            "dataflow.jobs.get",
            "dataflow.jobs.list",
            "dataflow.messages.list",
            "dataflow.metrics.get",
        ),
        ("etl", "pipelines"),
    ),
    # The Deploy stage rolls a registered version out to an endpoint's service and sets who may
    # call it; granted on each `serve-<endpoint>` service, never on the project (which would
    # reach the MLflow and TFDV services too). roles/run.developer cannot set invokers.
    "endpoint-deployer": CustomRole(
        "b2brecsEndpointDeployer",
        "Roll out models to serving endpoints",
        (
            "run.services.get",
            "run.services.getIamPolicy",
            "run.services.setIamPolicy",
            "run.services.update",
        ),
        (),
    ),
    # Following the rollout's long-running operation; operations are project-level only.
    "run-operation-reader": CustomRole(
        "b2brecsRunOperationReader",
        "Follow Cloud Run rollouts",
        ("run.operations.get",),
        (),  # granted by ServingEndpoints, to the deployer, when the tenant has an endpoint
    ),
}

# Dataflow workers and Vertex custom jobs run as the account that launches them, and a launch
# needs `actAs` on the worker account, its own included.
SELF_ACT_AS: tuple[str, ...] = ("etl", "pipelines")


def custom_role_name(project_id: pulumi.Input[str], role_id: str) -> pulumi.Output[str]:
    """`projects/<project>/roles/<role id>`, the form a binding names a project's custom role."""
    return pulumi.Output.concat("projects/", project_id, "/roles/", role_id)


class Identities(pulumi.ComponentResource):
    """The tenant's service accounts and their project-level roles (additive ``IAMMember``)."""

    accounts: dict[str, gcp.serviceaccount.Account]

    def __init__(
        self,
        name: str,
        *,
        project_id: pulumi.Input[str],
        project_number: pulumi.Input[str],
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("b2brecs:tenant:Identities", name, None, opts)
        # Children wait for the APIs they call; a component's own depends_on is not inherited.
        child = pulumi.ResourceOptions(parent=self, depends_on=depends_on or [])
        self.accounts = {}
        for key, spec in ACCOUNTS.items():
            account = gcp.serviceaccount.Account(
                f"{name}-{key}",
                project=project_id,
                account_id=naming.service_account(spec.account_id),
                display_name=spec.display_name,
                opts=child,
            )
            self.accounts[key] = account
            for role in spec.project_roles:
                gcp.projects.IAMMember(
                    f"{name}-{key}-{role.removeprefix('roles/').replace('.', '-')}",
                    project=project_id,
                    role=role,
                    member=account.member,
                    opts=child,
                )
        self.custom_roles: dict[str, gcp.projects.IAMCustomRole] = {}
        for key, custom in CUSTOM_ROLES.items():
            role = gcp.projects.IAMCustomRole(
                f"{name}-role-{key}",
                project=project_id,
                role_id=custom.role_id,
                title=custom.title,
                permissions=list(custom.permissions),
                opts=child,
            )
            self.custom_roles[key] = role
            for holder in custom.holders:
                gcp.projects.IAMMember(
                    f"{name}-{holder}-{key}",
                    project=project_id,
                    role=custom_role_name(project_id, custom.role_id),
                    member=self.accounts[holder].member,
                    opts=pulumi.ResourceOptions(parent=self, depends_on=[role]),
                )
        for key in SELF_ACT_AS:
            gcp.serviceaccount.IAMMember(
                f"{name}-{key}-actas-self",
                service_account_id=self.accounts[key].name,
                role="roles/iam.serviceAccountUser",
                member=self.accounts[key].member,
                opts=child,
            )
        # The pipelines run as pipelines-runner; the app submits them, so it may act as it.
        gcp.serviceaccount.IAMMember(
            f"{name}-app-actas-pipelines",
            service_account_id=self.accounts["pipelines"].name,
            role="roles/iam.serviceAccountUser",
            member=self.accounts["app"].member,
            opts=child,
        )
        # Cloud Scheduler's service agent mints the OIDC tokens of training-scheduler; without
        # this the webhook calls arrive unauthenticated and fail with 401.
        scheduler_agent = pulumi.Output.concat(
            "serviceAccount:service-",
            pulumi.Output.from_input(project_number),
            "@gcp-sa-cloudscheduler.iam.gserviceaccount.com",
        )
        self.scheduler_token_binding = gcp.serviceaccount.IAMMember(
            f"{name}-scheduler-agent-oidc",
            service_account_id=self.accounts["scheduler"].name,
            role="roles/iam.serviceAccountOpenIdTokenCreator",
            member=scheduler_agent,
            opts=child,
        )
        self.register_outputs({key: acc.email for key, acc in self.accounts.items()})

    def member(self, key: str) -> pulumi.Output[str]:
        """The IAM member string (``serviceAccount:<email>``) of account ``key``."""
        return self.accounts[key].member

    def email(self, key: str) -> pulumi.Output[str]:
        """The email of account ``key``."""
        return self.accounts[key].email
