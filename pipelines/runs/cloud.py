"""What a run on Vertex AI needs to know about its tenant and its data, offline-testable.

- `tenant_target`: the tenant's project, region, buckets and `pipelines-runner` account, derived
  from its stack file (`infra/Pulumi.<tenant>.yaml`) with the names `pulumi up` gives them;
- `tfx_image`: the pinned image of the platform the tenant's stack names;
- `check_bigquery_tables`: every table the dataset config reads exists in the tenant's BigQuery
  with the columns it uses (the cloud's `check_warehouse`), through `tables.get`;
- the query reads every table `FOR SYSTEM_TIME AS OF` the submit time (`codegen.sql`), recorded
  with the run, so a re-run reads the same rows while BigQuery keeps them.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from pipelines.own_data import RunInputError, columns_read
from pipelines.runs.vertex import VertexError, VertexTarget

BIGQUERY_TABLE = "https://bigquery.googleapis.com/bigquery/v2/projects/{project}/datasets/{dataset}/tables/{table}"


def _tenant(tenant: str):
    from infra.config import ConfigError, tenant_from_stack_config
    from infra.stacks import UnknownStack, load_stack_config

    try:
        return tenant_from_stack_config(load_stack_config(tenant))
    except (UnknownStack, ConfigError) as exc:
        raise RunInputError(f"--tenant: {exc}") from None


def tenant_target(tenant: str, template: str) -> VertexTarget:
    """Where `tenant`'s runs of `template` go, by the names its infrastructure has."""
    from infra import naming
    from infra.components.storage import BUCKETS

    config = _tenant(tenant)
    project = config.gcp_project_id
    run_bucket = BUCKETS["training" if template == "training" else "quicktest"][0]
    return VertexTarget(
        project=project,
        region=config.training_region,
        run_bucket=naming.bucket(project, run_bucket),
        service_account=naming.sa_email("pipelines-runner", project),
    )


def tfx_image(tenant: str) -> str:
    """The platform's TFX image, at the release the tenant's stack pins."""
    platform = _tenant(tenant).platform
    return (f"{platform.region}-docker.pkg.dev/{platform.project_id}/"
            f"{platform.docker_repository}/tfx-trainer:{platform.image_tag}")  # fmt: skip


def check_bigquery_tables(dataset, project: str, session) -> dict[str, Any]:
    """`{"<dataset>.<table>": {"table", "last_modified", "rows"}}` of every table the dataset
    config reads; RunInputError naming a table or columns that are missing."""
    out = {}
    for table, columns in columns_read(dataset).items():
        url = BIGQUERY_TABLE.format(
            project=project, dataset=dataset.dataset, table=urllib.parse.quote(table, safe="")
        )
        response = session.request("GET", url)
        if response.status_code == 404:
            raise RunInputError(
                f"table {dataset.dataset}.{table} is not in BigQuery project {project}"
            )
        if response.status_code >= 400:
            raise VertexError(f"GET {url}: HTTP {response.status_code}: {response.text}")
        meta = response.json()
        present = {f["name"] for f in meta.get("schema", {}).get("fields", [])}
        missing = sorted(columns - present)
        if missing:
            raise RunInputError(
                f"table {project}.{dataset.dataset}.{table} has no column(s) {missing}; "
                f"it has {sorted(present)}"
            )
        out[f"{dataset.dataset}.{table}"] = {
            "table": f"{project}.{dataset.dataset}.{table}",
            "last_modified": meta.get("lastModifiedTime"),
            "rows": meta.get("numRows"),
        }
    return out
