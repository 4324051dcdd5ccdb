"""Warehouse: the BigQuery dataset ``raw_data`` that ETL loads and pipelines read."""

from __future__ import annotations

import pulumi
import pulumi_gcp as gcp

from infra import naming
from infra.components.identities import Identities
from infra.config import TenantConfig

DATASET_ID = "raw_data"
# Dataset-level grants: ETL writes, pipelines and the app read.
GRANTS: dict[str, str] = {
    "etl": "roles/bigquery.dataEditor",
    "pipelines": "roles/bigquery.dataViewer",
    "app": "roles/bigquery.dataViewer",
}


class Warehouse(pulumi.ComponentResource):
    """The ``raw_data`` dataset in the data region with per-account access."""

    def __init__(
        self,
        name: str,
        *,
        config: TenantConfig,
        project_id: pulumi.Input[str],
        identities: Identities,
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("b2brecs:tenant:Warehouse", name, None, opts)
        # Children wait for the APIs they call; a component's own depends_on is not inherited.
        child = pulumi.ResourceOptions(parent=self, depends_on=depends_on or [])
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
        self.register_outputs({"dataset_id": self.dataset.dataset_id})
