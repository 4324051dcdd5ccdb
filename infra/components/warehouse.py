"""Warehouse: the BigQuery dataset ``raw_data`` that ETL loads and pipelines read."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.tenant import TenantComponent, TenantContext

DATASET_ID = "raw_data"
# Dataset-level grants: ETL writes, pipelines and the app read.
GRANTS: dict[str, str] = {
    "etl": "roles/bigquery.dataEditor",
    "pipelines": "roles/bigquery.dataViewer",
    "app": "roles/bigquery.dataViewer",
}


class Warehouse(TenantComponent):
    """The ``raw_data`` dataset in the data region with per-account access."""

    apis = ("bigquery",)
    type_token = "b2brecs:tenant:Warehouse"

    def declare(self, name: str, ctx: TenantContext) -> dict[str, pulumi.Output]:
        config, project_id, identities = ctx.config, ctx.project_id, ctx.identities
        child = self.child_options()
        self.dataset = gcp.bigquery.Dataset(
            f"{name}-{DATASET_ID}",
            project=project_id,
            dataset_id=naming.check("dataset_id", DATASET_ID),
            location=config.data_region,
            labels=config.all_labels(),
            delete_contents_on_destroy=False,
            opts=child,
        )
        for account, role in GRANTS.items():
            gcp.bigquery.DatasetIamMember(
                f"{name}-{DATASET_ID}-{account}",
                project=project_id,
                dataset_id=self.dataset.dataset_id,
                role=role,
                member=identities.member(account),
                opts=child,
            )
        return {"dataset_id": self.dataset.dataset_id}
