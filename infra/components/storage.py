"""Storage: the tenant's artifact buckets, each with a retention lifecycle rule."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.identities import Identities
from infra.components.tenant import TenantComponent
from infra.config import TenantConfig

# purpose -> (bucket suffix, retention field, {account: role}). Grants live on the bucket,
# never on the project, so an account sees only the buckets it works with.
BUCKETS: dict[str, tuple[str, str, dict[str, str]]] = {
    "quicktest": (
        "quicktest-artifacts",
        "quick_test",
        {
            "pipelines": "roles/storage.objectAdmin",
            "app": "roles/storage.objectViewer",
            "tfdv": "roles/storage.objectViewer",
        },
    ),
    "training": (
        "training-artifacts",
        "training",
        {
            "pipelines": "roles/storage.objectAdmin",
            "app": "roles/storage.objectViewer",
            "tfdv": "roles/storage.objectViewer",
            "serving": "roles/storage.objectViewer",
        },
    ),
    "staging": (
        "pipeline-staging",
        "staging",
        {"pipelines": "roles/storage.objectAdmin", "etl": "roles/storage.objectAdmin"},
    ),
    # The MLflow server's own grant is declared by MlflowService, which owns that workload.
    "mlflow": ("mlflow-artifacts", "mlflow", {}),
}


class Storage(TenantComponent):
    """Quick-test, training, staging and MLflow artifact buckets."""

    buckets: dict[str, gcp.storage.Bucket]

    type_token = "b2brecs:tenant:Storage"

    def declare(
        self,
        name: str,
        *,
        config: TenantConfig,
        project_id: pulumi.Input[str],
        identities: Identities,
        depends_on: list[pulumi.Resource],
    ) -> dict[str, pulumi.Output]:
        child = self.child_options(depends_on)
        self.buckets = {}
        for purpose, (suffix, retention_field, grants) in BUCKETS.items():
            days = getattr(config.retention_days, retention_field)
            bucket = gcp.storage.Bucket(
                f"{name}-{purpose}",
                project=project_id,
                name=naming.bucket(config.gcp_project_id, suffix),
                location=config.data_region.upper(),
                uniform_bucket_level_access=True,
                public_access_prevention="enforced",
                labels={**config.all_labels(), "purpose": suffix},
                lifecycle_rules=[
                    gcp.storage.BucketLifecycleRuleArgs(
                        action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"),
                        condition=gcp.storage.BucketLifecycleRuleConditionArgs(age=days),
                    )
                ],
                opts=child,
            )
            self.buckets[purpose] = bucket
            for account, role in sorted(grants.items()):
                gcp.storage.BucketIAMMember(
                    f"{name}-{purpose}-{account}-{role.split('.')[-1]}",
                    bucket=bucket.name,
                    role=role,
                    member=identities.member(account),
                    opts=child,
                )
        return {key: b.url for key, b in self.buckets.items()}
