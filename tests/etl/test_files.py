"""File sources: local CSV, Parquet and JSON into the warehouse; cloud locations as requests."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from components.warehouse import LocalWarehouse
from etl.files import cloud_request
from etl.run import run_job
from specs.etl import FileSource, load_job

ROWS = [{"Order ID": 1, "customer": "a", "ts": "2024-01-01T00:00:00"},
        {"Order ID": 2, "customer": "b", "ts": "2024-01-02T00:00:00"}]  # fmt: skip


def _write(folder, fmt, rows, name="part1"):
    folder.mkdir(exist_ok=True)
    table = pa.Table.from_pylist(rows)
    if fmt == "csv":
        lines = [
            "Order ID,customer,ts",
            *(f"{r['Order ID']},{r['customer']},{r['ts']}" for r in rows),
        ]
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n")
    elif fmt == "json":
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        pq.write_table(table, folder / f"{name}.parquet")


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_local_files_load_and_append_by_cursor(tmp_path, fmt):
    source = tmp_path / "in"
    _write(source, fmt, ROWS)
    job = load_job({"name": "files_job", "source": {"kind": "files", "uri": str(source), "format": fmt},
                    "strategy": {"kind": "transactional", "cursor_column": "ts"},
                    "primary_key": ["Order ID"], "destination": {"table": "orders"}})  # fmt: skip
    warehouse = tmp_path / "wh"
    assert run_job(job, warehouse).rows_in_table == 2
    _write(source, fmt, [{"Order ID": 3, "customer": "c", "ts": "2024-01-03T00:00:00"}], "part2")
    report = run_job(job, warehouse)
    assert (report.status, report.rows_added, report.rows_in_table) == ("success", 1, 3), (
        report.error
    )
    table = LocalWarehouse(warehouse).query(
        "SELECT Order_ID, customer FROM raw_data.orders ORDER BY 1"
    )
    assert table.to_pylist() == [{"Order_ID": 1, "customer": "a"}, {"Order_ID": 2, "customer": "b"},
                                 {"Order_ID": 3, "customer": "c"}]  # fmt: skip
    assert run_job(job, warehouse).rows_added == 0


def test_missing_files_name_the_field(tmp_path):
    job = load_job({"name": "f", "source": {"kind": "files", "uri": str(tmp_path / "none"),
                    "format": "csv"}, "destination": {"table": "t"}})  # fmt: skip
    assert run_job(job, tmp_path).error.startswith("source.uri: ")


@pytest.mark.parametrize(("uri", "service", "bucket", "prefix"), [
    ("gs://acme-exports/daily/orders/", "GCS", "acme-exports", "daily/orders/"),
    ("s3://acme/orders", "S3", "acme", "orders"),
    ("az://container/path/x", "Azure Blob Storage", "container", "path/x"),
])  # fmt: skip
def test_cloud_locations_become_listing_requests(uri, service, bucket, prefix):
    request = cloud_request(FileSource(uri=uri, format="parquet"))
    assert (request["service"], request["bucket"], request["prefix"]) == (service, bucket, prefix)
    assert request["suffixes"] == [".parquet", ".pq"]
