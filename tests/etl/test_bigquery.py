"""The BigQuery destination offline: the load requests, the MERGE transaction (parsed by sqlglot
as BigQuery SQL, and run in DuckDB to check what it does), the calls a client receives."""

from __future__ import annotations

import duckdb
import pytest
import sqlglot

from components.warehouse import bigquery_to_duckdb
from etl import bigquery as bq
from etl.watermark import Watermark

MARK = Watermark("orders_sync", "2024-06-01T00:00:00+00:00", "timestamptz", "run1",
                 "2024-06-01T00:00:00+00:00")  # fmt: skip
SCHEMA = [{"name": "id", "type": "INT64"}, {"name": "amount", "type": "NUMERIC"},
          {"name": "doc", "type": "JSON"}]  # fmt: skip


def _script() -> str:
    staging = bq.staging_table(MARK.job, MARK.run_id)
    return bq.merge_script("acme-prod", "raw_data", "orders", staging, SCHEMA, ["id"], MARK)


def test_the_merge_script_is_one_transaction_of_bigquery_sql():
    statements = sqlglot.parse(_script(), read="bigquery")
    kinds = [type(s).__name__ for s in statements]
    assert kinds == ["Create", "Create", "Transaction", "Merge", "Merge", "Commit", "Drop"]
    merge = statements[3]
    assert merge.this.sql("bigquery") == "`acme-prod.raw_data.orders` AS t"
    assert "_etl_staging_orders_sync_run1" in merge.args["using"].sql("bigquery")
    assert merge.args["on"].sql("bigquery") == "t.`id` = s.`id`"
    assert "PARSE_JSON(s.`doc`)" in merge.sql("bigquery")
    assert "'2024-06-01T00:00:00+00:00' AS cursor" in statements[4].sql("bigquery")


def test_the_merge_updates_by_key_and_a_rerun_adds_nothing():
    merge = sqlglot.parse(_script(), read="bigquery")[3].sql("bigquery")
    merge = merge.replace("PARSE_JSON(s.`doc`)", "s.`doc`")  # DuckDB's JSON type aside
    con = duckdb.connect()
    con.execute("CREATE SCHEMA raw_data")
    con.execute("CREATE TABLE raw_data.orders (id BIGINT, amount DECIMAL(10,2), doc VARCHAR)")
    con.execute("INSERT INTO raw_data.orders VALUES (1, 1.00, 'a'), (2, 2.00, 'b')")
    con.execute("CREATE TABLE raw_data._etl_staging_orders_sync_run1 AS "
                "SELECT * FROM (VALUES (2, 22.00, 'b2'), (3, 3.00, 'c')) v(id, amount, doc)")  # fmt: skip
    for _ in range(2):
        con.execute(bigquery_to_duckdb(merge))
        rows = con.execute(
            "SELECT id, amount::VARCHAR, doc FROM raw_data.orders ORDER BY id"
        ).fetchall()
        assert rows == [(1, "1.00", "a"), (2, "22.00", "b2"), (3, "3.00", "c")]


def test_load_requests():
    uris = ["gs://acme-etl/staging/orders_sync/run1/part-00000.parquet"]
    body = bq.load_request("acme-prod", "raw_data", "orders", uris, SCHEMA)["configuration"]["load"]
    assert body["writeDisposition"] == "WRITE_TRUNCATE" and body["sourceFormat"] == "PARQUET"
    assert body["destinationTable"] == {"projectId": "acme-prod", "datasetId": "raw_data",
                                        "tableId": "orders"}  # fmt: skip
    assert bq.staging_type("JSON") == "STRING" and bq.staging_type("NUMERIC") == "NUMERIC"


def test_hostile_names_never_reach_the_sql():
    with pytest.raises(ValueError, match="not an identifier"):
        bq.table_id("acme-prod", "raw_data", "x`; DROP TABLE y; --")
    with pytest.raises(ValueError, match="not a project id"):
        bq.table_id("acme`prod", "raw_data", "orders")
    hostile = Watermark("j", "x'; DROP TABLE t; --\\", "int", "r", "2024-01-01T00:00:00")
    statement = sqlglot.parse(bq.snapshot_script("acme-prod", "raw_data", hostile), read="bigquery")
    assert [type(s).__name__ for s in statement] == ["Create", "Merge"]


class FakeJob:
    def result(self):
        return self


class FakeClient:
    def __init__(self):
        self.calls = []

    def load_table_from_uri(self, uris, destination, job_config):
        self.calls.append(("load", destination, job_config.to_api_repr()["load"]))
        return FakeJob()

    def query(self, sql):
        self.calls.append(("query", sql))
        return FakeJob()


@pytest.mark.parametrize("snapshot", [False, True])
def test_the_destination_loads_then_runs_the_script(snapshot):
    client = FakeClient()
    dest = bq.BigQueryDestination("acme-prod", "raw_data", "orders", client)
    dest.publish(uris=["gs://b/p/part-0.parquet"], schema=SCHEMA, key=["id"], mark=MARK,
                 snapshot=snapshot)  # fmt: skip
    (kind, table, load), (query_kind, sql) = client.calls
    assert (kind, query_kind) == ("load", "query")
    if snapshot:
        assert table == "acme-prod.raw_data.orders"
        assert {"name": "doc", "type": "JSON"} in load["schema"]["fields"]
        assert "BEGIN TRANSACTION" not in sql
    else:
        assert table == "acme-prod.raw_data._etl_staging_orders_sync_run1"
        assert {"name": "doc", "type": "STRING"} in load["schema"]["fields"]
        assert "COMMIT TRANSACTION" in sql
    assert load["writeDisposition"] == "WRITE_TRUNCATE"


class WatermarkClient(FakeClient):
    """Answers the watermark query with the rows it is given."""

    def __init__(self, stored):
        super().__init__()
        self.stored = stored

    def query(self, sql):
        if sql.startswith("SELECT cursor"):
            self.calls.append(("watermark", sql))
            return type("J", (), {"result": lambda _: self.stored})()
        return super().query(sql)


@pytest.mark.integration
def test_a_run_into_bigquery_stages_parquet_and_merges_from_the_stored_watermark(
    postgres, tmp_path
):
    import pyarrow.parquet as pq

    from etl.cloud import run_job_bigquery
    from specs.etl import load_job

    postgres.sql(f"CREATE TABLE {postgres.table('orders')} (id bigint PRIMARY KEY, doc jsonb, "
                 "at timestamptz)",
                 f"INSERT INTO {postgres.table('orders')} VALUES (1, '{{}}', '2024-05-01'), "
                 "(2, '[1]', '2024-05-02'), (3, NULL, '2024-05-03')")  # fmt: skip
    job = load_job({"name": "orders_sync", "source": postgres.source(), "table": "orders",
                    "primary_key": ["id"], "destination": {"table": "orders"},
                    "strategy": {"kind": "transactional", "cursor_column": "at"}})  # fmt: skip
    stored = [{"cursor": "2024-05-02T00:00:00+00:00", "kind": "timestamptz", "run_id": "old",
               "loaded_at": "2024-05-02T01:00:00+00:00"}]  # fmt: skip
    client = WatermarkClient(stored)
    report = run_job_bigquery(job, "acme-prod", f"file://{tmp_path}/staging", client=client)
    assert report.status == "success", report.error
    assert (report.rows_extracted, report.watermark_before) == (2, stored[0]["cursor"])
    assert report.watermark_after == "2024-05-03T00:00:00+00:00"
    kinds = [c[0] for c in client.calls]
    assert kinds == ["watermark", "load", "query"]
    _, table, load = client.calls[1]
    assert table.startswith("acme-prod.raw_data._etl_staging_orders_sync_")
    uri = load["sourceUris"][0]
    assert uri.startswith(f"file://{tmp_path}/staging/orders_sync/")
    staged = pq.read_table(uri.removeprefix("file://")).to_pylist()
    assert [r["id"] for r in staged] == [2, 3]
    assert {"name": "doc", "type": "STRING"} in load["schema"]["fields"]
    assert "PARSE_JSON(s.`doc`)" in client.calls[2][1]
    assert "'2024-05-03T00:00:00+00:00' AS cursor" in client.calls[2][1]
