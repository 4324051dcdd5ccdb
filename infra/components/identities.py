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
            "roles/dataflow.developer",
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
