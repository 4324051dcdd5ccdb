"""Policy rules: every example stack passes them, and each rule fires on a broken variant."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_gcp as gcp
import pytest

from infra import policy
from infra.offline import Graph
from infra.stacks import evaluate_stack

SMALL_PROJECT = "b2brecs-small-shop"
SMALL_APP = f"serviceAccount:django-app@{SMALL_PROJECT}.iam.gserviceaccount.com"


@pytest.mark.parametrize("stack", ["small", "gpu-heavy", "busy", "platform"])
def test_example_stacks_pass_every_rule(graphs, stack):
    graph, ctx = graphs[stack]
    assert len(graph.resources) > 5
    assert policy.check(graph, ctx) == []


def violations_of(graph_ctx, rule: str) -> list[policy.Violation]:
    graph, ctx = graph_ctx
    return [v for v in policy.check(graph, ctx) if v.rule == rule]


def only(violations: list[policy.Violation], resource: str) -> policy.Violation:
    assert [v.resource.split(" ")[0] for v in violations] == [resource], violations
    return violations[0]


def test_basic_role_is_rejected(broken):
    def extra():
        gcp.projects.IAMMember(
            "bad-editor", project=SMALL_PROJECT, role="roles/editor", member=SMALL_APP
        )

    found = only(violations_of(broken("small", extra), "no-basic-roles"), "bad-editor")
    assert "roles/editor" in found.message and "django-app" in found.message


def test_public_service_is_rejected(broken):
    def extra():
        gcp.cloudrunv2.ServiceIamMember(
            "tfdv-public",
            project=SMALL_PROJECT,
            location="europe-central2",
            name="tfdv-parser",
            role="roles/run.invoker",
            member="allUsers",
        )
        gcp.storage.BucketIAMMember(
            "bucket-public",
            bucket=f"{SMALL_PROJECT}-training-artifacts",
            role="roles/storage.objectViewer",
            member="allAuthenticatedUsers",
        )

    found = violations_of(broken("small", extra), "no-public-access")
    assert sorted(v.resource.split(" ")[0] for v in found) == ["bucket-public", "tfdv-public"]
    assert all("not declared public" in v.message for v in found)


def test_explicitly_public_endpoint_is_allowed(graphs):
    graph, ctx = graphs["busy"]
    public = [
        r
        for r in graph.of_type("gcp:cloudrunv2/serviceIamMember:ServiceIamMember")
        if r.input("member") == "allUsers"
    ]
    assert [r.input("name") for r in public] == ["serve-public-demo"]
    assert ctx.public_services == frozenset({"serve-public-demo"})
    assert violations_of((graph, ctx), "no-public-access") == []


def test_bucket_without_lifecycle_is_rejected(broken):
    def extra():
        gcp.storage.Bucket(
            "bare-bucket",
            project=SMALL_PROJECT,
            name=f"{SMALL_PROJECT}-bare",
            location="EUROPE-CENTRAL2",
        )

    found = violations_of(broken("small", extra), "bucket-governance")
    messages = {v.message for v in found}
    assert {v.resource.split(" ")[0] for v in found} == {"bare-bucket"}
    assert "has no lifecycle rule (objects would be kept forever)" in messages
    assert "lacks uniform bucket-level access" in messages
    assert "has no labels" in messages


def test_resource_in_a_third_region_is_rejected(broken):
    def extra():
        gcp.bigquery.Dataset(
            "us-dataset", project=SMALL_PROJECT, dataset_id="elsewhere", location="us-east1"
        )

    found = only(violations_of(broken("small", extra), "allowed-regions"), "us-dataset")
    assert "'us-east1' is outside the allowed regions ['europe-central2', 'europe-west4']" in (
        found.message
    )


def test_cross_tenant_binding_is_rejected(broken):
    other = "serviceAccount:etl-runner@b2brecs-busy-retail.iam.gserviceaccount.com"

    def extra():
        gcp.storage.BucketIAMMember(
            "leak-to-busy",
            bucket=f"{SMALL_PROJECT}-training-artifacts",
            role="roles/storage.objectViewer",
            member=other,
        )
        gcp.projects.IAMMember(
            "grant-in-busy",
            project="b2brecs-busy-retail",
            role="roles/bigquery.dataViewer",
            member=SMALL_APP,
        )
        gcp.serviceaccount.IAMMember(
            "foreign-agent",
            service_account_id=f"projects/{SMALL_PROJECT}/serviceAccounts/x@{SMALL_PROJECT}.iam.gserviceaccount.com",
            role="roles/iam.serviceAccountOpenIdTokenCreator",
            member="serviceAccount:service-999999999999@gcp-sa-cloudscheduler.iam.gserviceaccount.com",
        )

    found = violations_of(broken("small", extra), "no-cross-tenant")
    by_name = {v.resource.split(" ")[0]: v.message for v in found}
    assert set(by_name) == {"leak-to-busy", "grant-in-busy", "foreign-agent"}
    assert "names account etl-runner@b2brecs-busy-retail" in by_name["leak-to-busy"]
    assert "binds on project b2brecs-busy-retail" in by_name["grant-in-busy"]
    assert "service agent of project #999999999999" in by_name["foreign-agent"]


def test_secret_inputs_are_secret_outputs(graphs):
    graph, _ = graphs["busy"]
    versions = graph.of_type("gcp:secretmanager/secretVersion:SecretVersion")
    assert len(versions) == 3  # two tenant secrets and the MLflow connection URI
    assert all(v.secret_paths == ("secretData",) for v in versions)
    assert graph.named("mlflow-user").secret_paths == ("password",)


def test_unmarked_secret_input_is_rejected(graphs):
    # pulumi-gcp itself wraps secret_data in Output.secret, so a program cannot produce this
    # through the SDK; the rule guards against an SDK or a raw provider call that would.
    graph, ctx = graphs["small"]
    version = graph.named("mlflow-db-uri-version")
    plain = dataclasses.replace(version, name="plain-version", secret_paths=())
    broken_graph = Graph(stack="small", resources=[*graph.resources, plain])
    found = violations_of((broken_graph, ctx), "secrets-are-secret")
    assert {v.resource.split(" ")[0] for v in found} == {"plain-version"}
    messages = sorted(v.message for v in found)
    assert messages[0] == "input secretData contains a secret value in clear text"
    assert messages[1].startswith("input secretData is not a Pulumi secret")


def service_with_db_uri(name: str, value: pulumi.Input[str]) -> None:
    """A Cloud Run service ``name`` in the small tenant whose ``DB_URI`` env var is ``value``."""
    gcp.cloudrunv2.Service(
        name,
        project=SMALL_PROJECT,
        name=name,
        location="europe-central2",
        template=gcp.cloudrunv2.ServiceTemplateArgs(
            containers=[
                gcp.cloudrunv2.ServiceTemplateContainerArgs(
                    image="x",
                    envs=[
                        gcp.cloudrunv2.ServiceTemplateContainerEnvArgs(name="DB_URI", value=value)
                    ],
                )
            ]
        ),
    )


def test_secretness_survives_apply(broken):
    def extra():
        password = pulumi.Config("b2b-recs").require_secret("mlflowDbPassword")
        service_with_db_uri("derived", password.apply(lambda v: f"pg://u:{v}@/db"))

    graph, ctx = broken("small", extra)
    assert graph.named("derived").secret_paths  # the env list is marked secret
    assert violations_of((graph, ctx), "secrets-are-secret") == []


def test_secret_plaintext_in_clear_is_rejected(broken):
    def extra():
        password = pulumi.Config("b2b-recs").require_secret("mlflowDbPassword")
        service_with_db_uri("leaky", pulumi.Output.unsecret(password))

    found = only(violations_of(broken("small", extra), "secrets-are-secret"), "leaky")
    assert "contains a secret value in clear text" in found.message


def test_names_beyond_google_limits_are_rejected(broken):
    def extra():
        gcp.cloudrunv2.Service(
            "long-service",
            project=SMALL_PROJECT,
            name="s" * 50,
            location="europe-central2",
            template=gcp.cloudrunv2.ServiceTemplateArgs(
                containers=[gcp.cloudrunv2.ServiceTemplateContainerArgs(image="x")]
            ),
        )
        gcp.storage.Bucket(
            "bad-bucket",
            project=SMALL_PROJECT,
            name="Bad_Bucket",
            location="EUROPE-CENTRAL2",
            uniform_bucket_level_access=True,
            public_access_prevention="enforced",
            labels={"Owner": "x"},
            lifecycle_rules=[
                gcp.storage.BucketLifecycleRuleArgs(
                    action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                    condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=1),
                )
            ],
        )

    found = violations_of(broken("small", extra), "naming-limits")
    messages = sorted(v.message for v in found)
    assert any("Cloud Run service name" in m and "1-49" in m for m in messages)
    assert any("bucket name 'Bad_Bucket' is invalid" in m for m in messages)
    assert any("label key 'Owner' is invalid" in m for m in messages)


def test_enforce_reports_every_violation_in_one_message(broken):
    def extra():
        gcp.projects.IAMMember(
            "owner", project=SMALL_PROJECT, role="roles/owner", member="allUsers"
        )

    graph, ctx = broken("small", extra)
    with pytest.raises(policy.PolicyError) as info:
        policy.enforce(graph, ctx)
    text = str(info.value)
    assert "2 policy violation(s) in small" in text
    assert "[no-basic-roles] owner" in text and "[no-public-access] owner" in text


def test_rules_are_isolated_per_run(graphs):
    # A second evaluation in the same process starts from a clean runtime: same resources.
    graph, _ = evaluate_stack("small")
    assert [r.urn for r in graph.resources] == [r.urn for r in graphs["small"][0].resources]


def test_a_binding_on_a_bucket_sharing_the_tenants_prefix_is_cross_tenant(broken):
    """`b2brecs-small-shop-two-...` begins with small-shop's project id, yet is not its bucket."""

    def extra():
        gcp.storage.BucketIAMMember(
            "prefix-twin",
            bucket=f"{SMALL_PROJECT}-two-training-artifacts",
            role="roles/storage.objectViewer",
            member=SMALL_APP,
        )

    found = violations_of(broken("small", extra), "no-cross-tenant")
    assert [(v.resource.split(" ")[0], v.message) for v in found] == [
        ("prefix-twin", f"binds on bucket {SMALL_PROJECT}-two-training-artifacts, which is not "
                        "this tenant's"),
    ]  # fmt: skip
