"""Storage: the tenant's artifact buckets, each with a retention lifecycle rule."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.tenant import TenantComponent, TenantContext
from registry.registration import DATA_FOLDER

# purpose -> (bucket suffix, retention field, ((account, role), ...)). Grants live on the bucket,
# never on the project, so an account sees only the buckets it works with. The table of
# operations behind each grant is `infra.access` (docs/least-privilege.md).
BUCKETS: dict[str, tuple[str, str, tuple[tuple[str, str], ...]]] = {
    # Pipeline roots of quick tests and training runs (statistics, schemas, transform graphs,
    # trained models, metrics) and the run's uploaded modules.
    "quicktest": (
        "quicktest-artifacts",
        "quick_test",
        (
            ("pipelines", "roles/storage.objectAdmin"),
            ("app", "roles/storage.objectCreator"),
            ("app", "roles/storage.objectViewer"),
            ("tfdv", "roles/storage.objectViewer"),
        ),
    ),
    "training": (
        "training-artifacts",
        "training",
        (
            ("pipelines", "roles/storage.objectAdmin"),
            ("app", "roles/storage.objectCreator"),
            ("app", "roles/storage.objectViewer"),
            ("tfdv", "roles/storage.objectViewer"),
        ),
    ),
    # Temporary files only (Beam and Dataflow staging and temp folders).
    "staging": (
        "pipeline-staging",
        "staging",
        (("pipelines", "roles/storage.objectAdmin"), ("etl", "roles/storage.objectAdmin")),
    ),
    # The MLflow server's own grant is declared by MlflowService, which owns that workload.
    "mlflow": ("mlflow-artifacts", "mlflow", ()),
    # Registered models, `<model>/v<N>/`, the only files a server reads. A public endpoint's own
    # account reads only its model's folder (declared by ServingEndpoints).
    "models": (
        "models",
        "models",
        (("pipelines", "roles/storage.objectAdmin"), ("serving", "roles/storage.objectViewer")),
    ),
}

# The models bucket's prefix holding each registered run's statistics and schema, which the
# TFDV parser reads and nothing else of that bucket.
DATA_PREFIX = DATA_FOLDER


def prefix_condition(
    bucket: str, prefix: str, title: str
) -> gcp.storage.BucketIAMMemberConditionArgs:
    """Objects under `<prefix>/`, and listings with that prefix (how a folder is downloaded or
    browsed), nothing else of the bucket."""
    folder = f"{prefix}/"
    expression = (
        f'resource.name.startsWith("projects/_/buckets/{bucket}/objects/{folder}") || '
        f'api.getAttribute("storage.googleapis.com/objectListPrefix", "").startsWith("{folder}")'
    )
    return gcp.storage.BucketIAMMemberConditionArgs(title=title[:100], expression=expression)


# Buckets whose live objects no age may delete: served models (a champion that scales to zero
# fetches its files at every cold start) and the MLflow artifacts its runs go on listing. They
# keep object versions; only a replaced or deleted version goes, `retention_days` after.
KEEP_LIVE = frozenset({"models", "mlflow"})


def lifecycle_rule(purpose: str, days: int) -> gcp.storage.BucketLifecycleRuleArgs:
    """Delete objects `days` after creation; for KEEP_LIVE buckets, only noncurrent versions,
    `days` after they stopped being current."""
    if purpose in KEEP_LIVE:
        condition = gcp.storage.BucketLifecycleRuleConditionArgs(
            with_state="ARCHIVED", days_since_noncurrent_time=days
        )
    else:
        condition = gcp.storage.BucketLifecycleRuleConditionArgs(age=days)
    return gcp.storage.BucketLifecycleRuleArgs(
        action=gcp.storage.BucketLifecycleRuleActionArgs(type="Delete"), condition=condition
    )


class Storage(TenantComponent):
    """Quick-test, training, staging, MLflow and model buckets."""

    buckets: dict[str, gcp.storage.Bucket]

    apis = ("storage",)
    type_token = "b2brecs:tenant:Storage"

    def declare(self, name: str, ctx: TenantContext) -> dict[str, pulumi.Output]:
        config, project_id, identities = ctx.config, ctx.project_id, ctx.identities
        child = self.child_options()
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
                lifecycle_rules=[lifecycle_rule(purpose, days)],
                versioning=gcp.storage.BucketVersioningArgs(enabled=purpose in KEEP_LIVE),
                opts=child,
            )
            self.buckets[purpose] = bucket
            for account, role in grants:
                gcp.storage.BucketIAMMember(
                    f"{name}-{purpose}-{account}-{role.split('.')[-1]}",
                    bucket=bucket.name,
                    role=role,
                    member=identities.member(account),
                    opts=child,
                )
        return {key: b.url for key, b in self.buckets.items()}
