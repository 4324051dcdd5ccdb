"""Schedules name a template version of the catalogue, with parameters that fit its schema and
limits; checked before any resource is declared, and again by a policy rule over the plan."""

from __future__ import annotations

import base64
import json

import pulumi_gcp as gcp
import pytest

from infra.config import ConfigError, tenant_from_stack_config
from infra.offline import evaluate
from infra.policy import check
from infra.program import run_stack
from pipelines import catalogue
from tests.infra.conftest import EXAMPLE_TENANTS

QUICKTEST = {"name": "quicktest", "version": "1.5.0"}


def with_schedule(stack_configs, **schedule) -> dict:
    config = json.loads(json.dumps(stack_configs["small"]))
    tenant = config["b2b-recs:tenant"]
    tenant["scheduler_target_url"] = "https://app.example.com/hook"
    tenant["schedules"] = [{"name": "nightly", "cron": "0 2 * * *", **schedule}]
    return config


@pytest.mark.parametrize(
    ("schedule", "field", "why"),
    [
        ({"template": {"name": "quicktest", "version": "9.9.9"}},
         "schedules[0].template.version", "quicktest has no version '9.9.9'; published: ['1.5.0']"),
        ({"template": {"name": "batch-scoring", "version": "0.3.1"}},
         "schedules[0].template.name", "no template 'batch-scoring' in the catalogue"),
        ({"template": QUICKTEST, "parameters": {"sample_percent": 500}},
         "schedules[0].parameters.sample_percent", "500 is greater than the maximum of 100"),
        ({"template": QUICKTEST, "parameters": {"split_strategy": "by-moon"}},
         "schedules[0].parameters.split_strategy", "'by-moon' is not one of"),
        ({"template": QUICKTEST, "parameters": {"gpu_count": 8}},
         "schedules[0].parameters.gpu_count", "quicktest-v1.5.0 takes no parameter 'gpu_count'"),
        ({"template": QUICKTEST, "parameters": {"epochs": 40}},
         "schedules[0].parameters.epochs", "40 is outside quicktest-v1.5.0's limits 1-15"),
    ],
)  # fmt: skip
def test_a_schedule_outside_the_catalogue_fails_before_any_resource(stack_configs, schedule,
                                                                    field, why):  # fmt: skip
    config = with_schedule(stack_configs, **schedule)
    recorded: list = []
    with pytest.raises(ConfigError) as caught:
        evaluate(run_stack, stack="small", config=config, recorded=recorded)
    assert f"tenant.{field}: " in str(caught.value) and why in str(caught.value)
    assert recorded == []


def test_a_schedule_in_the_catalogue_is_accepted(stack_configs):
    config = with_schedule(stack_configs, template=QUICKTEST, parameters={"sample_percent": 10})
    [schedule] = tenant_from_stack_config(config).schedules
    assert schedule.template.version == "1.5.0"


@pytest.mark.parametrize("tenant", EXAMPLE_TENANTS)
def test_each_plan_lists_its_schedules_pinned_to_the_catalogue(tenant, graphs, stack_configs):
    graph, _ = graphs[tenant]
    config = tenant_from_stack_config(stack_configs[tenant])
    jobs = graph.of_type("gcp:cloudscheduler/job:Job")
    by_app = [s for s in config.schedules if s.runner == "app"]
    assert len(jobs) == len(by_app)
    for job, schedule in zip(sorted(jobs, key=lambda j: j.name),
                             sorted(by_app, key=lambda s: s.name)):  # fmt: skip
        body = json.loads(base64.b64decode(job.input("httpTarget.body")))
        entry = catalogue.load()[(schedule.template.name, schedule.template.version)]
        assert body["template"]["ir_sha256"] == entry["ir_sha256"]
        assert entry["ir_sha256"][:12] in job.input("description")


def _job(project: str, body: dict, account: str) -> None:
    target = "https://app.example.com/hook"
    gcp.cloudscheduler.Job(
        "rogue-job", project=project, region="europe-central2", name="rogue", schedule="0 1 * * *",
        http_target=gcp.cloudscheduler.JobHttpTargetArgs(
            uri=target, http_method="POST",
            body=base64.b64encode(json.dumps(body).encode()).decode(),
            oidc_token=gcp.cloudscheduler.JobHttpTargetOidcTokenArgs(
                service_account_email=account, audience=target),
        ),
    )  # fmt: skip


@pytest.mark.parametrize(
    ("body", "account", "message"),
    [
        ({"template": {"name": "quicktest", "version": "0.0.1"}}, "training-scheduler",
         "quicktest v0.0.1 is not in the catalogue"),
        ({"template": {**QUICKTEST, "ir_sha256": "0" * 64}}, "training-scheduler",
         "quicktest v1.5.0 is not pinned to its IR digest"),
        ({"template": {**QUICKTEST, "ir_sha256": catalogue.load()[("quicktest", "1.5.0")][
            "ir_sha256"]}}, "pipelines-runner", "authenticates as"),
        ({"nothing": 1}, "training-scheduler", "posts no template"),
    ],
)  # fmt: skip
def test_the_policy_flags_a_job_that_does_not_pin_the_catalogue(broken, stack_configs, body,
                                                                account, message):  # fmt: skip
    project = tenant_from_stack_config(stack_configs["small"]).gcp_project_id
    email = f"{account}@{project}.iam.gserviceaccount.com"
    graph, ctx = broken("small", lambda: _job(project, body, email))
    found = [v for v in check(graph, ctx) if v.rule == "schedules-pin-templates"]
    assert len(found) == 1 and message in found[0].message, found
