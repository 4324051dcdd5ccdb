"""The cloud destination: the tenant's BigQuery `raw_data`, written exactly once per window.

The runner writes the window's rows as Parquet under the run's staging prefix in GCS, then:

    transactional: a load job (WRITE_TRUNCATE) into a staging table `_etl_staging_<job>_<run>`,
                   then one multi-statement transaction: MERGE the staging rows into the table on
                   the primary key, MERGE the job's row of `<dataset>._etl_watermarks`; COMMIT.
                   The staging table is dropped after.
    catalog:       a load job with WRITE_TRUNCATE straight into the table (a load job replaces a
                   table atomically), then the watermark row.

A failed load leaves the table untouched; the transaction makes table and watermark move
together; a rerun of the same window MERGEs rows that are already there (updates, no inserts).
Built as request bodies and SQL text here (tested offline, the SQL parsed by sqlglot); executed
by `BigQueryDestination` with a google-cloud-bigquery client.
"""

from __future__ import annotations

import re
from typing import Any

from etl.watermark import Watermark
from specs.base import IDENTIFIER

WATERMARKS = "_etl_watermarks"
_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")


def _ident(name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(f"{name!r} is not an identifier")
    return f"`{name}`"


def table_id(project: str, dataset: str, table: str) -> str:
    """`project.dataset.table`, each part checked (BigQuery's own rules, no quoting games)."""
    if not _PROJECT.fullmatch(project):
        raise ValueError(f"{project!r} is not a project id")
    _ident(dataset), _ident(table)
    return f"{project}.{dataset}.{table}"


def _ref(table: str) -> str:
    return f"`{table}`"


def _string(value: str | None) -> str:
    if value is None:
        return "NULL"
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def staging_table(job: str, run_id: str) -> str:
    return f"_etl_staging_{job}_{run_id}"


def staging_type(bigquery_type: str) -> str:
    """The type a column has in the staging table: what its Parquet column holds (JSON arrives
    as text and is parsed in the MERGE)."""
    return "STRING" if bigquery_type == "JSON" else bigquery_type


def load_request(project: str, dataset: str, table: str, uris: list[str],
                 schema: list[dict[str, str]], *, truncate: bool = True) -> dict[str, Any]:  # fmt: skip
    """The jobs.insert body of a Parquet load job (`configuration.load`)."""
    return {
        "configuration": {
            "load": {
                "sourceUris": list(uris),
                "sourceFormat": "PARQUET",
                "parquetOptions": {"enableListInference": True},
                "destinationTable": {"projectId": project, "datasetId": dataset, "tableId": table},
                "schema": {"fields": [{"name": f["name"], "type": f["type"]} for f in schema]},
                "writeDisposition": "WRITE_TRUNCATE" if truncate else "WRITE_APPEND",
                "createDisposition": "CREATE_IF_NEEDED",
            }
        }
    }


def _create(table: str, schema: list[dict[str, str]]) -> str:
    columns = ", ".join(f"{_ident(f['name'])} {f['type']}" for f in schema)
    return f"CREATE TABLE IF NOT EXISTS {_ref(table)} ({columns})"


def _watermark_merge(project: str, dataset: str, mark: Watermark) -> str:
    marks = _ref(table_id(project, dataset, WATERMARKS))
    row = (f"SELECT {_string(mark.job)} AS job, {_string(mark.cursor)} AS cursor, "
           f"{_string(mark.kind)} AS kind, {_string(mark.run_id)} AS run_id, "
           f"TIMESTAMP({_string(mark.loaded_at)}) AS loaded_at")  # fmt: skip
    return (
        f"MERGE {marks} AS w USING ({row}) AS s ON w.job = s.job "
        "WHEN MATCHED THEN UPDATE SET cursor = s.cursor, kind = s.kind, run_id = s.run_id, "
        "loaded_at = s.loaded_at "
        "WHEN NOT MATCHED THEN INSERT (job, cursor, kind, run_id, loaded_at) "
        "VALUES (s.job, s.cursor, s.kind, s.run_id, s.loaded_at)"
    )


def _watermarks_table(project: str, dataset: str) -> str:
    return _create(table_id(project, dataset, WATERMARKS), [
        {"name": "job", "type": "STRING"}, {"name": "cursor", "type": "STRING"},
        {"name": "kind", "type": "STRING"}, {"name": "run_id", "type": "STRING"},
        {"name": "loaded_at", "type": "TIMESTAMP"}])  # fmt: skip


def merge_script(project: str, dataset: str, table: str, staging: str,
                 schema: list[dict[str, str]], key: list[str], mark: Watermark) -> str:  # fmt: skip
    """The transaction that merges a staged window into the table and advances the watermark."""
    if not key:
        raise ValueError("primary_key: a MERGE needs the primary key")
    target = _ref(table_id(project, dataset, table))
    source = _ref(table_id(project, dataset, staging))
    names = [f["name"] for f in schema]

    def value(f: dict[str, str]) -> str:
        col = f"s.{_ident(f['name'])}"
        return f"PARSE_JSON({col})" if f["type"] == "JSON" else col

    on = " AND ".join(f"t.{_ident(k)} = s.{_ident(k)}" for k in key)
    updates = ", ".join(f"{_ident(f['name'])} = {value(f)}" for f in schema if f["name"] not in key)
    merge = (
        f"MERGE {target} AS t USING {source} AS s ON {on} "
        + (f"WHEN MATCHED THEN UPDATE SET {updates} " if updates else "")
        + f"WHEN NOT MATCHED THEN INSERT ({', '.join(_ident(n) for n in names)}) "
        f"VALUES ({', '.join(value(f) for f in schema)})"
    )
    return ";\n".join([
        _create(table_id(project, dataset, table), schema),
        _watermarks_table(project, dataset),
        "BEGIN TRANSACTION",
        merge,
        _watermark_merge(project, dataset, mark),
        "COMMIT TRANSACTION",
        f"DROP TABLE IF EXISTS {source}",
    ]) + ";\n"  # fmt: skip


def snapshot_script(project: str, dataset: str, mark: Watermark) -> str:
    """After a catalog load (WRITE_TRUNCATE into the table): record the run."""
    return (
        ";\n".join([_watermarks_table(project, dataset), _watermark_merge(project, dataset, mark)])
        + ";\n"
    )


def watermark_query(project: str, dataset: str, job: str) -> str:
    """The job's stored watermark (no row before its first run)."""
    return (f"SELECT cursor, kind, run_id, loaded_at FROM {_ref(table_id(project, dataset, WATERMARKS))} "
            f"WHERE job = {_string(job)}")  # fmt: skip


class BigQueryDestination:
    """Runs the load and the script with a google-cloud-bigquery client (tests fake it)."""

    def __init__(self, project: str, dataset: str, table: str, client: Any) -> None:
        self.project, self.dataset, self.table, self.client = project, dataset, table, client

    def publish(self, *, uris: list[str], schema: list[dict[str, str]], key: list[str],
                mark: Watermark, snapshot: bool) -> None:  # fmt: skip
        from google.cloud import bigquery

        if snapshot:
            target = self.table
        else:
            target = staging_table(mark.job, mark.run_id)
            schema_staged = [{**f, "type": staging_type(f["type"])} for f in schema]
        body = load_request(self.project, self.dataset, target, uris,
                            schema if snapshot else schema_staged)["configuration"]["load"]  # fmt: skip
        config = bigquery.LoadJobConfig.from_api_repr({"load": body})
        self.client.load_table_from_uri(
            uris, table_id(self.project, self.dataset, target), job_config=config
        ).result()
        script = (snapshot_script(self.project, self.dataset, mark) if snapshot else
                  merge_script(self.project, self.dataset, self.table, target, schema, key, mark))  # fmt: skip
        self.client.query(script).result()
