"""One run of a job: extract the window, merge it with what the table holds, publish both the
table and the advanced watermark at once, and report.

    transactional: new rows = cursor ≥ watermark (first run: the backfill window, or all);
                   table = old rows whose key was not read again + new rows
    catalog:       table = every row read now (deleted rows go)

A run that fails anywhere before the publish leaves the table and its watermark as they were;
running the same window again reads rows that are already there and they replace themselves.
"""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from etl import files
from etl import plan as planning
from etl.local import LocalDestination
from etl.names import column_names
from etl.secrets import SecretError, redact, resolve
from etl.sources import Database, SourceError
from etl.types import bigquery_type
from etl.watermark import Watermark, advance
from specs.etl import DISTRIBUTED_FROM_ROWS, DatabaseSource, EtlJob, Transactional

Progress = Callable[[str], None]


class EtlError(RuntimeError):
    """A run failed; the message names the field or step and holds no secret."""


@dataclass
class TableReport:
    """One table's result, in the shape the app stores per ETL run (`ETLRun` results)."""

    job: str
    source: str
    destination: str
    strategy: str
    engine: str = "single"
    status: str = "failed"
    rows_extracted: int = 0
    rows_added: int = 0
    rows_in_table: int = 0
    watermark_before: str | None = None
    watermark_after: str | None = None
    seconds: float = 0.0
    rows_per_second: float = 0.0
    error: str | None = None


def unscaled_to_decimal(column: pa.ChunkedArray, decimal: pa.DataType) -> pa.Array:
    """int64 unscaled values (value × 10^scale) as a decimal128 array: each becomes the 16-byte
    two's complement the decimal stores (low word, then the sign extended)."""
    values = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    words = np.empty((len(values), 2), dtype=np.int64)
    words[:, 0] = pc.fill_null(values, 0).to_numpy(zero_copy_only=False)
    words[:, 1] = words[:, 0] >> 63
    validity = pc.is_valid(values).buffers()[1] if values.null_count else None
    return pa.Array.from_buffers(decimal, len(values), [validity, pa.py_buffer(words)],
                                 null_count=values.null_count)  # fmt: skip


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The extracted columns cast to the mapping table's types (ConnectorX's decimal(38,10),
    int32, large_list... become the declared ones); a value that does not fit is an error."""
    arrays = []
    for target in schema:
        column = table.column(target.name)
        if column.type == target.type:
            arrays.append(column)
        elif pa.types.is_decimal(target.type) and pa.types.is_int64(column.type):
            arrays.append(unscaled_to_decimal(column, target.type))
        elif pa.types.is_decimal(target.type) and pa.types.is_string(column.type):
            # Wide decimals arrive as text (see etl.types); this Arrow cannot cast text to
            # decimal, so Python's Decimal parses them, exactly.
            values = [None if v is None else Decimal(v) for v in column.to_pylist()]
            arrays.append(pa.array(values, target.type))
        else:
            arrays.append(pc.cast(column, target.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def merge(old: pa.Table | None, new: pa.Table, key: list[str]) -> pa.Table:
    """Old rows whose key was not read again, then the new rows (new wins)."""
    if old is None or old.num_rows == 0:
        return new
    rows = pa.array(range(old.num_rows), pa.int64())
    left = old.select(key).append_column("__etl_row", rows)
    kept = left.join(new.select(key), keys=key, join_type="left anti")
    # The join does not keep order: take the kept rows back in the table's own order.
    positions = pc.array_sort_indices(kept.column("__etl_row"))
    old_kept = old.take(pc.take(kept.column("__etl_row"), positions))
    try:
        return pa.concat_tables([old_kept, new], promote=True)
    except pa.ArrowInvalid as exc:
        raise EtlError(f"destination: the table's columns changed since the last run ({exc}); "
                       "run it as a catalog job once, or drop the table") from None  # fmt: skip


def extract_database(db: Database, plan: planning.Plan, progress: Progress) -> pa.Table:
    """The plan's range queries, read in parallel (one ConnectorX read each, in threads: it
    releases the GIL), concatenated in plan order."""
    started, done = time.perf_counter(), 0
    workers = max(1, min(len(plan.queries), os.cpu_count() or 1, 8))
    parts: list[pa.Table | None] = [None] * len(plan.queries)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(db.read_arrow, [q]): i for i, q in enumerate(plan.queries)}
        for future in futures:
            index = futures[future]
            parts[index] = conform(future.result(), plan.schema)
            done += parts[index].num_rows
            elapsed = time.perf_counter() - started
            progress(f"{plan.job.name}: range {index + 1}/{len(plan.queries)}, {done} rows, "
                     f"{done / elapsed if elapsed else 0:,.0f} rows/s")  # fmt: skip
    return pa.concat_tables(parts) if len(parts) > 1 else parts[0]


def extract_files(
    job: EtlJob, watermark: Watermark | None
) -> tuple[pa.Table, list[str], str | None]:
    """(rows of the window, key columns, cursor column) of a file source, named for the warehouse."""
    table = files.read(job.source)
    names = column_names(table.column_names)
    wanted = job.columns or table.column_names
    for field_name, cols in (("columns", wanted), ("primary_key", job.primary_key)):
        for c in cols:
            if c not in names:
                raise SourceError(f"{field_name}: no column {c!r} in the files")
    table = table.select(wanted).rename_columns([names[c] for c in wanted])
    cursor = None
    if isinstance(job.strategy, Transactional):
        if job.strategy.cursor_column not in names:
            raise SourceError(
                f"strategy.cursor_column: no column {job.strategy.cursor_column!r} in the files"
            )
        cursor = names[job.strategy.cursor_column]
        if watermark is not None and watermark.value is not None:
            table = table.filter(pc.greater_equal(table.column(cursor),
                                                  pa.scalar(watermark.value, table.schema.field(cursor).type)))  # fmt: skip
        table = table.take(pc.sort_indices(table, [(cursor, "ascending")]))
    if job.row_limit:
        table = table.slice(0, job.row_limit)
    return table, [names[k] for k in job.primary_key], cursor


def choose_engine(job: EtlJob, rows: int | None) -> str:
    """auto: one machine below DISTRIBUTED_FROM_ROWS rows, Beam from there on."""
    if job.engine != "auto":
        return job.engine
    return "distributed" if rows is not None and rows >= DISTRIBUTED_FROM_ROWS else "single"


@dataclass
class Window:
    """The rows one run read, named and typed for the warehouse."""

    rows: pa.Table
    key: list[str]
    cursor: str | None
    bigquery_schema: list[dict[str, str]]
    engine: str = "single"


def extract_window(job: EtlJob, password, before: Watermark | None, *, now: dt.datetime,
                   progress: Progress, staging_dir: Path | str,
                   beam_args: list[str] | None = None) -> Window:  # fmt: skip
    """The rows of the job's window (after `before`), on the engine the job asks for."""
    if not isinstance(job.source, DatabaseSource):
        rows, key, cursor = extract_files(job, before)
        schema = [{"name": f.name, "type": bigquery_type(f.type)} for f in rows.schema]
        return Window(rows, key, cursor, schema)
    db = Database(job.source, password)
    plan = planning.build(job, db, before, now=now)
    rows = None
    if job.engine == "auto":
        rows = db.row_count(job.table, plan.where)
        rows = min(rows, job.row_limit) if job.row_limit else rows
    engine = choose_engine(job, rows)
    progress(f"{job.name}: {len(plan.queries)} range(s), engine {engine}")
    if engine == "distributed":
        from etl.beam import extract_with_beam

        new = extract_with_beam(job, plan, Path(staging_dir), beam_args=beam_args)
    else:
        new = extract_database(db, plan, progress)
    return Window(new, plan.key, plan.cursor, plan.bigquery_schema(), engine)


def new_report(job: EtlJob, destination: str) -> TableReport:
    """A job's report before it runs: where from, where to, which strategy."""
    source = job.table if isinstance(job.source, DatabaseSource) else job.source.uri
    return TableReport(job=job.name, source=source, destination=destination,
                       strategy=job.strategy.kind)  # fmt: skip


def failure_message(exc: Exception, password: str | None) -> str:
    """The report's error for a failed run: the platform's own errors as they are, anything
    else with its type; the password redacted from both (drivers quote connection strings)."""
    known = isinstance(exc, (SourceError, SecretError, EtlError))
    return redact(str(exc) if known else f"{type(exc).__name__}: {exc}", password)


def finish(report: TableReport, started: float, progress: Progress) -> TableReport:
    report.seconds = round(time.perf_counter() - started, 3)
    if report.seconds:
        report.rows_per_second = round(report.rows_extracted / report.seconds, 1)
    progress(f"{report.job}: {report.status}, {report.rows_extracted} rows in {report.seconds} s "
             f"({report.rows_per_second:,.0f} rows/s)")  # fmt: skip
    return report


def run_job(job: EtlJob, warehouse: str | Path, *, progress: Progress | None = None,
            now: dt.datetime | None = None, secret_client: Any = None,
            beam_args: list[str] | None = None) -> TableReport:  # fmt: skip
    """Run `job` into the local warehouse at `warehouse`; the report says what happened (a
    failure is reported, with the table and watermark left as they were)."""
    progress = progress or (lambda line: None)
    now = now or dt.datetime.now(dt.timezone.utc)
    dest = LocalDestination(warehouse, job.destination.dataset, job.destination.table)
    is_db = isinstance(job.source, DatabaseSource)
    report = new_report(job, dest.name)
    started = time.perf_counter()
    password = None
    staged = None
    try:
        password = resolve(job.source.password, client=secret_client) if is_db else None
        with dest.lock():
            before = dest.watermark(job.name)
            report.watermark_before = before.cursor if before else None
            window = extract_window(job, password, before, now=now, progress=progress,
                                    staging_dir=dest.staging_dir, beam_args=beam_args)  # fmt: skip
            new, key, cursor = window.rows, window.key, window.cursor
            report.engine = window.engine
            report.rows_extracted = new.num_rows
            old = dest.current() if isinstance(job.strategy, Transactional) else None
            table = merge(old, new, key)
            after = advance(before, job.name, new.column(cursor) if cursor else None,
                            uuid.uuid4().hex[:12], now)  # fmt: skip
            staged = dest.stage(table, after)
            dest.publish(staged)
            staged = None
            report.rows_in_table = table.num_rows
            report.rows_added = table.num_rows - (old.num_rows if old is not None else 0)
            if not isinstance(job.strategy, Transactional):
                report.rows_added = table.num_rows
            report.watermark_after = after.cursor
            report.status = "success"
    except Exception as exc:  # noqa: BLE001 - reported, never a traceback with a secret
        report.error = failure_message(exc, password)
    finally:
        dest.discard(staged)
    return finish(report, started, progress)


def run_report(reports: list[TableReport]) -> dict[str, Any]:
    """The run's report: status, total rows, one entry per table."""
    ok = sum(r.status == "success" for r in reports)
    status = "success" if ok == len(reports) else ("failed" if ok == 0 else "partial")
    return {
        "status": status,
        "tables_succeeded": ok,
        "tables_failed": len(reports) - ok,
        "total_rows_extracted": sum(r.rows_extracted for r in reports),
        "tables": [asdict(r) for r in reports],
    }
