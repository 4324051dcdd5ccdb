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
