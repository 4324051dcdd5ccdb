"""A run into BigQuery: the same window as a local run, staged as Parquet in GCS and published
by a load job and one MERGE transaction (`etl.bigquery`).

    read the job's watermark from `<dataset>._etl_watermarks` (none: first run)
    extract the window (one machine, or Beam on Dataflow)
    write it as Parquet under `<staging_uri>/<job>/<run id>/`
    load it into a staging table and MERGE it with the watermark (catalog: WRITE_TRUNCATE)

The staged files stay until the staging bucket's lifecycle rule removes them (3 days), so a
failed load can be inspected; nothing in the table or the watermark changes before the commit.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import uuid
from typing import Any

import pyarrow.parquet as pq
from pyarrow import fs

from etl.bigquery import BigQueryDestination, table_id, watermark_query
from etl.run import Progress, TableReport, extract_window, failure_message, finish, new_report
from etl.secrets import resolve
from etl.watermark import Watermark, advance
from specs.etl import DatabaseSource, EtlJob, Transactional


def read_watermark(client: Any, project: str, dataset: str, job: str) -> Watermark | None:
    """The job's stored watermark; None before its first run (or before the table exists)."""
    from google.api_core import exceptions

    try:
        rows = list(client.query(watermark_query(project, dataset, job)).result())
    except exceptions.NotFound:
        return None
    if not rows:
        return None
    row = rows[0]
    return Watermark(job, row["cursor"], row["kind"], row["run_id"], str(row["loaded_at"]))


def write_staging(rows, prefix: str, *, rows_per_file: int = 1_000_000) -> list[str]:
    """The window as Parquet files under `prefix` (gs://... in the cloud); their URIs."""
    filesystem, root = fs.FileSystem.from_uri(prefix)
    filesystem.create_dir(root, recursive=True)
    uris = []
    for index, start in enumerate(range(0, max(rows.num_rows, 1), rows_per_file)):
        name = f"part-{index:05d}.parquet"
        pq.write_table(rows.slice(start, rows_per_file), f"{root}/{name}", filesystem=filesystem)
        uris.append(f"{prefix.rstrip('/')}/{name}")
    return uris


def run_job_bigquery(job: EtlJob, project: str, staging_uri: str, *, client: Any = None,
                     progress: Progress | None = None, now: dt.datetime | None = None,
                     secret_client: Any = None, beam_args: list[str] | None = None) -> TableReport:  # fmt: skip
    """Run `job` into BigQuery `project`; `client` is a google-cloud-bigquery Client (built
    for the project when None; tests pass a fake)."""
    progress = progress or (lambda line: None)
    now = now or dt.datetime.now(dt.timezone.utc)
    dataset, table = job.destination.dataset, job.destination.table
    is_db = isinstance(job.source, DatabaseSource)
    report = new_report(job, table_id(project, dataset, table))
    started, password = time.perf_counter(), None
    try:
        if client is None:
            from google.cloud import bigquery

            client = bigquery.Client(project=project)
        password = resolve(job.source.password, client=secret_client) if is_db else None
        before = read_watermark(client, project, dataset, job.name)
        report.watermark_before = before.cursor if before else None
        with tempfile.TemporaryDirectory() as local_staging:
            window = extract_window(job, password, before, now=now, progress=progress,
                                    staging_dir=local_staging, beam_args=beam_args)  # fmt: skip
        report.engine, report.rows_extracted = window.engine, window.rows.num_rows
        run_id = uuid.uuid4().hex[:12]
        after = advance(before, job.name, window.rows.column(window.cursor) if window.cursor else None,
                        run_id, now)  # fmt: skip
        uris = write_staging(window.rows, f"{staging_uri.rstrip('/')}/{job.name}/{run_id}")
        BigQueryDestination(project, dataset, table, client).publish(
            uris=uris, schema=window.bigquery_schema, key=window.key, mark=after,
            snapshot=not isinstance(job.strategy, Transactional),
        )  # fmt: skip
        report.watermark_after = after.cursor
        report.status = "success"
    except Exception as exc:  # noqa: BLE001 - reported, never a traceback with a secret
        report.error = failure_message(exc, password)
    return finish(report, started, progress)
