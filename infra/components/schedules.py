"""Schedules: Cloud Scheduler jobs that trigger pipeline templates with an OIDC identity."""

from __future__ import annotations

import base64
import json

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.tenant import TenantComponent, TenantContext
from infra.config import Schedule, TenantConfig


def pinned_digest(schedule: Schedule) -> str:
    """The sha256 of the compiled IR of the schedule's template version (the catalogue's)."""
    from pipelines import catalogue

    return catalogue.load()[(schedule.template.name, schedule.template.version)]["ir_sha256"]


def request_body(config: TenantConfig, schedule: Schedule) -> str:
    """The JSON body a job posts, base64-encoded as Cloud Scheduler requires. Deterministic.
    It pins the template version's IR digest, so the app runs exactly the catalogued pipeline."""
    payload = {
        "tenant": config.id,
        "schedule": schedule.name,
        "template": {
            "name": schedule.template.name,
            "version": schedule.template.version,
            "ir_sha256": pinned_digest(schedule),
        },
        "parameters": schedule.parameters,
    }
    if schedule.once_at is not None:
        # Cloud Scheduler has no one-shot job: its cron fires on that date every year, and the
        # webhook runs only the fire of `once_at` (the run's idempotency key is the fire time).
        payload["once_at"] = f"{schedule.every.at} {schedule.time_zone}"
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return base64.b64encode(text.encode()).decode()


class Schedules(TenantComponent):
    """One job per configured schedule, authenticated as ``training-scheduler``."""

    jobs: dict[str, gcp.cloudscheduler.Job]

    apis = ("cloudscheduler",)
    type_token = "b2brecs:tenant:Schedules"

    def declare(self, name: str, ctx: TenantContext) -> dict[str, pulumi.Output]:
        config, project_id, identities = ctx.config, ctx.project_id, ctx.identities
        self.jobs = {}
        for schedule in config.schedules:
            if schedule.runner != "app":
                continue  # a Vertex AI schedule (infra.components.pipelines)
            target = config.target_of(schedule)
            self.jobs[schedule.name] = gcp.cloudscheduler.Job(
                f"{name}-{schedule.name}",
                project=project_id,
                region=config.data_region,
                name=naming.check("scheduler_job", f"{config.id}-{schedule.name}"),
                description=(
                    f"{schedule.template.name} v{schedule.template.version} "
                    f"(IR sha256 {pinned_digest(schedule)[:12]}) for {config.id}"
                ),
                schedule=schedule.crontab,
                paused=schedule.paused,
                time_zone=schedule.time_zone,
                attempt_deadline="320s",
                retry_config=gcp.cloudscheduler.JobRetryConfigArgs(retry_count=3),
                http_target=gcp.cloudscheduler.JobHttpTargetArgs(
                    uri=target,
                    http_method="POST",
                    headers={"Content-Type": "application/json"},
                    body=request_body(config, schedule),
                    oidc_token=gcp.cloudscheduler.JobHttpTargetOidcTokenArgs(
                        service_account_email=identities.email("scheduler"), audience=target
                    ),
                ),
                # The token-creator grant first, or the job's first run fails with 401.
                opts=self.child_options(identities.scheduler_token_binding),
            )
        return {key: job.name for key, job in self.jobs.items()}
