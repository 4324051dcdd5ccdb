"""Served models are never deleted by age: no serving identity reads a bucket whose lifecycle
deletes live objects, and the model and MLflow buckets delete only noncurrent versions."""

from __future__ import annotations

import pulumi_gcp as gcp
import pytest

from infra.config import tenant_from_stack_config
from infra.policy import check
from tests.infra.conftest import EXAMPLE_TENANTS


@pytest.mark.parametrize("tenant", EXAMPLE_TENANTS)
def test_models_and_mlflow_artifacts_keep_live_objects(tenant, graphs, stack_configs):
    graph, ctx = graphs[tenant]
    config = tenant_from_stack_config(stack_configs[tenant])
    buckets = {r.input("labels")["purpose"]: r for r in graph.of_type("gcp:storage/bucket:Bucket")}
    for purpose, days in (("models", config.retention_days.models),
                          ("mlflow-artifacts", config.retention_days.mlflow)):  # fmt: skip
        bucket = buckets[purpose]
        assert bucket.input("versioning") == {"enabled": True}
        [rule] = bucket.input("lifecycleRules")
        assert rule["condition"] == {"withState": "ARCHIVED", "daysSinceNoncurrentTime": days}
    assert not [v for v in check(graph, ctx) if v.rule == "served-models-kept"]


@pytest.mark.parametrize("account", ["model-serving", "pub-public-demo"])
def test_the_policy_fails_the_old_layout(broken, account):
    """Before: serving read the training-artifacts bucket, whose objects go after 30 days."""

    def extra() -> None:
        gcp.storage.BucketIAMMember(
            "old-layout", bucket="b2brecs-busy-retail-training-artifacts",
            role="roles/storage.objectViewer",
            member=f"serviceAccount:{account}@b2brecs-busy-retail.iam.gserviceaccount.com",
        )  # fmt: skip

    graph, ctx = broken("busy", extra)
    [violation] = [v for v in check(graph, ctx) if v.rule == "served-models-kept"]
    assert f"{account} reads b2brecs-busy-retail-training-artifacts" in violation.message


SERVING_IDENTITIES = ("model-serving@", "pub-")


@pytest.mark.parametrize("tenant", EXAMPLE_TENANTS)
def test_no_bucket_a_serving_identity_reads_has_a_delete_rule_for_live_objects(
    tenant, graphs, stack_configs
):
    """Read from the plan itself, independently of the policy rule: servers read the models
    bucket only, whose one rule deletes only noncurrent versions."""
    graph, _ = graphs[tenant]
    project = tenant_from_stack_config(stack_configs[tenant]).gcp_project_id
    buckets = {r.input("name"): r for r in graph.of_type("gcp:storage/bucket:Bucket")}
    read = {g.input("bucket") for g in graph.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
            if any(s in str(g.input("member")) for s in SERVING_IDENTITIES)}  # fmt: skip
    assert read == {f"{project}-models"}
    for name in read:
        for rule in buckets[name].input("lifecycleRules"):
            assert rule["condition"].get("withState") == "ARCHIVED", (name, rule)


@pytest.mark.parametrize("tenant", EXAMPLE_TENANTS)
def test_the_tfdv_parser_may_read_the_statistics_it_serves(tenant, graphs, stack_configs):
    """Its roots include the models bucket's `_data/` prefix, where registration keeps every
    registered run's statistics and schema (`registry.registration.data_folder`), its account
    reads that prefix only, and the bucket deletes no live objects."""
    from registry.registration import data_folder

    graph, ctx = graphs[tenant]
    project = tenant_from_stack_config(stack_configs[tenant]).gcp_project_id
    [parser] = [r for r in graph.of_type("gcp:cloudrunv2/service:Service")
                if r.input("name") == "tfdv-parser"]  # fmt: skip
    [env] = parser.input("template.containers.0.envs")
    roots = env["value"].split(",")
    models = f"gs://{project}-models"
    assert f"{models}/_data/" in roots
    kept = data_folder(models, "acme-main", "3")
    assert kept == f"{models}/_data/acme-main/v3" and any(kept.startswith(r) for r in roots)
    account = f"serviceAccount:tfdv-parser@{project}.iam.gserviceaccount.com"
    [grant] = [g for g in graph.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
               if g.input("member") == account and g.input("bucket") == f"{project}-models"]  # fmt: skip
    assert grant.input("role") == "roles/storage.objectViewer"
    assert 'objects/_data/")' in grant.input("condition.expression")
    assert not [v for v in check(graph, ctx) if v.rule == "tfdv-reads-what-it-serves"]


def test_the_policy_fails_a_parser_reading_the_staging_bucket(broken):
    """The issue's finding: statistics read from the staging bucket (3 days), which the parser's
    account cannot read at all."""
    from infra.components.cloudrun import run

    def extra() -> None:
        run.Service(
            "old-parser", name="tfdv-parser-old", location="europe-central2",
            project="b2brecs-busy-retail",
            template=run.ServiceTemplateArgs(
                service_account="tfdv-parser@b2brecs-busy-retail.iam.gserviceaccount.com",
                containers=[run.ServiceTemplateContainerArgs(image="img", envs=[
                    run.ServiceTemplateContainerEnvArgs(
                        name="ARTIFACT_ROOTS", value="gs://b2brecs-busy-retail-pipeline-staging/")
                ])],
            ),
        )  # fmt: skip

    graph, ctx = broken("busy", extra)
    found = [v.message for v in check(graph, ctx) if v.rule == "tfdv-reads-what-it-serves"]
    assert found == [
        "every root it reads deletes live objects by age: a registered run's statistics and "
        "schema would go with its run",
        "tfdv-parser@b2brecs-busy-retail.iam.gserviceaccount.com cannot read "
        "gs://b2brecs-busy-retail-pipeline-staging/",
    ]
