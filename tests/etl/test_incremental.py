"""Exactly once against the real PostgreSQL and MariaDB: backfill, incremental runs with new and
late rows, a rerun that adds nothing, a snapshot that drops deleted rows, a failure midway."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from components.warehouse import LocalWarehouse
from etl import local, sources
from etl.run import run_job
from specs.etl import load_job

pytestmark = pytest.mark.integration

NOW = dt.datetime(2024, 6, 1, tzinfo=dt.timezone.utc)


def _create_orders(db) -> None:
    # PostgreSQL's cursor is a timestamptz, MariaDB's a TIMESTAMP (read as epoch microseconds):
    # both time-zone paths of the mapping table are exercised.
    ts = "timestamptz" if db.kind == "postgresql" else "timestamp(6) NULL"
    db.sql(f"CREATE TABLE {db.table('orders')} (id bigint PRIMARY KEY, customer varchar(20), "
           f"amount decimal(10,2), updated_at {ts})")  # fmt: skip


def _insert(db, rows) -> None:
    values = ", ".join(f"({i}, 'c{i}', {amount}, '{ts}')" for i, amount, ts in rows)
    db.sql(f"INSERT INTO {db.table('orders')} VALUES {values}")


def _job(db, **over):
    return load_job({
        "name": "orders_sync",
        "source": db.source(),
        "table": "orders",
        "strategy": {"kind": "transactional", "cursor_column": "updated_at", "backfill_days": 30},
        "primary_key": ["id"],
        "destination": {"table": "orders"},
        **over,
    })  # fmt: skip


def _rows(warehouse) -> list[tuple]:
    table = LocalWarehouse(warehouse).query("SELECT id, amount FROM raw_data.orders ORDER BY id")
    return list(zip(table.column("id").to_pylist(), table.column("amount").to_pylist()))


def test_backfill_new_and_late_rows_then_a_rerun_adds_nothing(database, tmp_path):
    _create_orders(database)
    _insert(database, [(1, 1, "2024-01-01 00:00:00"),  # older than the 30-day backfill
                       (2, 2, "2024-05-10 00:00:00"),
                       (3, 3, "2024-05-20 12:00:00"),
                       (4, 4, "2024-05-31 08:00:00.5")])  # fmt: skip
    job = _job(database)
    first = run_job(job, tmp_path, now=NOW)
    assert (first.status, first.rows_extracted, first.rows_added) == ("success", 3, 3), first
    assert first.watermark_after.startswith("2024-05-31T08:00:00.500000")
    assert [i for i, _ in _rows(tmp_path)] == [2, 3, 4]

    # A late row with the watermark's own cursor value, a new one, and an update of row 3.
    _insert(database, [(5, 5, "2024-05-31 08:00:00.5"), (6, 6, "2024-06-02 00:00:00")])
    database.sql(f"UPDATE {database.table('orders')} SET amount = 33.5, "
                 f"updated_at = '2024-06-02 00:00:00' WHERE id = 3")  # fmt: skip
    second = run_job(job, tmp_path, now=NOW)
    assert (second.status, second.rows_added, second.rows_in_table) == ("success", 2, 5), second
    assert second.watermark_before == first.watermark_after
    assert _rows(tmp_path) == [(2, Decimal("2.00")), (3, Decimal("33.50")), (4, Decimal("4.00")),
                               (5, Decimal("5.00")), (6, Decimal("6.00"))]  # fmt: skip

    _insert(database, [(7, 7, "2024-06-02 00:00:00"), (8, 8, "2024-06-03 00:00:00")])
    third = run_job(job, tmp_path, now=NOW)
    assert (third.rows_added, third.rows_in_table) == (2, 7), third
    before = _rows(tmp_path)

    rerun = run_job(job, tmp_path, now=NOW)
    assert (rerun.status, rerun.rows_added, rerun.rows_in_table) == ("success", 0, 7), rerun
    assert rerun.rows_extracted == 1  # the row at the watermark, read again and replaced
    assert _rows(tmp_path) == before
    assert rerun.watermark_after == third.watermark_after
    assert not list((tmp_path / "raw_data" / local.STAGING).glob("*.parquet"))


def test_snapshot_replaces_the_table_and_drops_deleted_rows(database, tmp_path):
    _create_orders(database)
    _insert(database, [(i, i, "2024-05-10 00:00:00") for i in range(1, 6)])
    job = _job(database, strategy={"kind": "catalog"}, partitions=2)
    assert run_job(job, tmp_path).rows_in_table == 5
    database.sql(f"DELETE FROM {database.table('orders')} WHERE id IN (2, 4)")
    report = run_job(job, tmp_path)
    assert (report.status, report.rows_in_table) == ("success", 3)
    assert [i for i, _ in _rows(tmp_path)] == [1, 3, 5]


@pytest.mark.parametrize("where", ["extract", "publish"])
def test_a_failure_midway_leaves_table_and_watermark_unchanged(
    database, tmp_path, monkeypatch, where
):
    _create_orders(database)
    _insert(database, [(i, i, f"2024-05-{10 + i:02d} 00:00:00") for i in range(1, 9)])
    job = _job(database, partitions=4)
    assert run_job(job, tmp_path, now=NOW).rows_in_table == 8
    path = tmp_path / "raw_data" / "orders.parquet"
    table_bytes = path.read_bytes()
    _insert(database, [(9, 9, "2024-05-30 00:00:00"), (10, 10, "2024-05-31 00:00:00")])

    if where == "extract":
        real, calls = sources.Database.read_arrow, []

        def failing(self, queries):
            calls.append(queries)
            if len(calls) == 2:  # the second of the range reads
                raise sources.SourceError("table: read failed: connection reset (injected)")
            return real(self, queries)

        monkeypatch.setattr(sources.Database, "read_arrow", failing)
    else:

        def failing_publish(self, staged):
            raise OSError("disk full (injected)")

        monkeypatch.setattr(local.LocalDestination, "publish", failing_publish)
    report = run_job(job, tmp_path, now=NOW)
    assert report.status == "failed" and "injected" in report.error
    assert path.read_bytes() == table_bytes
    assert not list((tmp_path / "raw_data" / local.STAGING).glob("*.parquet"))
    monkeypatch.undo()
    retry = run_job(job, tmp_path, now=NOW)
    assert (retry.status, retry.rows_added, retry.rows_in_table) == ("success", 2, 10)


def test_the_watermark_is_stored_with_the_table(postgres, tmp_path):
    _create_orders(postgres)
    _insert(postgres, [(1, 1, "2024-05-10 00:00:00")])
    run_job(_job(postgres), tmp_path, now=NOW)
    meta = local.read_metadata(tmp_path / "raw_data" / "orders.parquet")
    assert meta["job"] == "orders_sync" and meta["kind"] == "timestamptz"
    assert meta["cursor"] == "2024-05-10T00:00:00+00:00"
    assert pq.read_table(tmp_path / "raw_data" / "orders.parquet").num_rows == 1
