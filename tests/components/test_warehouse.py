"""LocalWarehouse/BigQueryWarehouse: layout, errors, and one local run per BigQuery construct."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from components.warehouse import (
    BigQueryWarehouse,
    LocalWarehouse,
    QueryError,
    TableNotFoundError,
    bigquery_to_duckdb,
    open_warehouse,
)


@pytest.fixture()
def warehouse(tmp_path) -> LocalWarehouse:
    wh = LocalWarehouse(tmp_path / "wh")
    ts = pd.to_datetime(
        [
            "2011-01-01 09:00:01.600",  # sub-second part: UNIX_SECONDS must round down
            "2011-06-01 10:00:00",
            "2011-12-01 11:00:00",
            "2011-12-09 12:50:00",
            "2010-12-31 23:59:59",
        ]
    )
    wh.write_table(
        "raw_data",
        "transactions",
        pd.DataFrame(
            {
                "customer_id": ["C1", "C1", "C2", "C2", "C3"],
                "product_id": ["P1", "P2", "P1", "P3", "P1"],
                "timestamp": ts,
                "quantity": [1, 2, 3, 4, 5],
                "note": ["it's", "plain", "plain", 'say "hi"', "plain"],
            }
        ),
    )
    wh.write_table("raw_data", "products", pa.table({"product_id": ["P1", "P2", "P3"]}))
    return wh


def rows(table: pa.Table) -> list[dict]:
    return table.to_pylist()


def test_layout_and_tables(warehouse):
    assert warehouse.tables() == ["raw_data.products", "raw_data.transactions"]
    assert (warehouse.root / "raw_data" / "transactions.parquet").is_file()


def test_write_table_rejects_names_that_escape_the_root(warehouse):
    with pytest.raises(ValueError, match="invalid table name"):
        warehouse.write_table("raw_data", "../evil", pa.table({"a": [1]}))
    with pytest.raises(ValueError, match="invalid dataset name"):
        warehouse.write_table('raw"; DROP', "t", pa.table({"a": [1]}))


def test_connect_exposes_datasets_as_schemas(warehouse):
    con = warehouse.connect()
    assert con.execute("SELECT COUNT(*) FROM raw_data.products").fetchone() == (3,)


def test_project_qualifier_is_ignored_locally(warehouse):
    # BigQuery also accepts `project`.`raw_data`.`transactions`; the local warehouse is one project.
    out = warehouse.query("SELECT COUNT(*) AS n FROM `tenant-a`.`raw_data`.`products`")
    assert out.column("n").to_pylist() == [3]
    with pytest.raises(TableNotFoundError, match="nope.transactions"):
        warehouse.query("SELECT * FROM `tenant-a.nope.transactions`")


def test_unix_seconds_rounds_down_like_bigquery(warehouse):
    out = warehouse.query(
        "SELECT UNIX_SECONDS(timestamp) AS ts FROM raw_data.transactions ORDER BY quantity"
    )
    expected = dt.datetime(2011, 1, 1, 9, 0, 1, tzinfo=dt.timezone.utc).timestamp()
    assert out.schema.field("ts").type == pa.int64()
    assert out.column("ts")[0].as_py() == int(expected)


def test_unix_seconds_before_1970_rounds_down(tmp_path):
    # sqlglot alone emits CAST(EPOCH(ts) AS BIGINT), which DuckDB rounds to nearest (giving 0).
    assert "FLOOR(EPOCH(" in bigquery_to_duckdb("SELECT UNIX_SECONDS(ts) FROM t")
    wh = LocalWarehouse(tmp_path)
    wh.write_table("d", "t", pd.DataFrame({"ts": pd.to_datetime(["1969-12-31 23:59:59.5"])}))
    assert wh.query("SELECT UNIX_SECONDS(ts) AS s FROM d.t").column("s").to_pylist() == [-1]


def test_cast_as_string_and_int64(warehouse):
    out = warehouse.query(
        "SELECT CAST(quantity AS STRING) AS q, CAST('7' AS INT64) AS seven, "
        "CAST(quantity AS FLOAT64) AS f FROM raw_data.transactions WHERE quantity = 3"
    )
    assert rows(out) == [{"q": "3", "seven": 7, "f": 3.0}]


def test_timestamp_sub_current_timestamp(warehouse):
    # Every row is from 2010/2011, far older than 90 days before now.
    out = warehouse.query(
        "SELECT COUNTIF(timestamp >= TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)) AS new, "
        "COUNTIF(timestamp < TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 90 DAY)) AS old "
        "FROM raw_data.transactions"
    )
    assert rows(out) == [{"new": 0, "old": 5}]
    out = warehouse.query(
        "SELECT quantity FROM raw_data.transactions "
        "WHERE timestamp >= TIMESTAMP_SUB(TIMESTAMP('2011-12-09 12:50:00'), INTERVAL 9 DAY)"
    )
    assert out.column("quantity").to_pylist() == [3, 4]


# One BigQuery construct per case: the query, the column to read and the values it must hold.
@pytest.mark.parametrize(
    ("sql", "column", "expected"),
    [
        pytest.param(
            "SELECT `t`.`product_id` FROM `raw_data`.`transactions` AS `t` "
            "WHERE `t`.`customer_id` = 'C1' ORDER BY 1",
            "product_id",
            ["P1", "P2"],
            id="backquoted_identifiers",
        ),
        pytest.param(
            "SELECT quantity FROM raw_data.transactions "
            "WHERE DATE(timestamp) >= DATE_SUB(DATE '2011-12-09', INTERVAL 8 DAY) ORDER BY quantity",
            "quantity",
            [3, 4],
            id="date_sub",
        ),
        pytest.param(
            "SELECT quantity FROM raw_data.transactions WHERE timestamp < TIMESTAMP('2011-01-01')",
            "quantity",
            [5],
            id="timestamp_literal_is_utc",
        ),
        pytest.param(
            "SELECT quantity, PERCENT_RANK() OVER (ORDER BY timestamp) AS pr "
            "FROM raw_data.transactions ORDER BY quantity",
            "pr",
            [0.25, 0.5, 0.75, 1.0, 0.0],
            id="percent_rank",
        ),
        pytest.param(
            "SELECT customer_id, SUM(quantity) OVER (PARTITION BY customer_id) AS total "
            "FROM raw_data.transactions ORDER BY quantity",
            "total",
            [3, 3, 7, 7, 5],
            id="sum_over_partition",
        ),
        pytest.param(
            "SELECT customer_id, product_id FROM raw_data.transactions "
            "WHERE TRUE QUALIFY COUNT(*) OVER (PARTITION BY customer_id) >= 2 "
            "ORDER BY customer_id, product_id",
            "customer_id",
            ["C1", "C1", "C2", "C2"],
            id="qualify_with_count_over_partition",
        ),
        pytest.param(
            "SELECT quantity FROM raw_data.transactions "
            'WHERE note IN (\'it\\\'s\', "say \\"hi\\"") ORDER BY quantity',
            "quantity",
            [1, 4],
            id="string_literals_with_escaped_quotes",
        ),
    ],
)
def test_bigquery_construct_runs_locally(warehouse, sql, column, expected):
    assert warehouse.query(sql).column(column).to_pylist() == expected


def test_join_and_cte(warehouse):
    out = warehouse.query(
        "WITH recent AS (SELECT * FROM raw_data.transactions WHERE quantity > 1) "
        "SELECT p.product_id, COUNT(*) AS n FROM raw_data.products AS p "
        "JOIN recent AS r ON r.product_id = p.product_id GROUP BY 1 ORDER BY 1"
    )
    assert rows(out) == [
        {"product_id": "P1", "n": 2},
        {"product_id": "P2", "n": 1},
        {"product_id": "P3", "n": 1},
    ]


def test_missing_table_names_the_table(warehouse):
    with pytest.raises(
        TableNotFoundError, match=r"raw_data\.orders.*available: raw_data\.products"
    ):
        warehouse.query("SELECT * FROM raw_data.orders")


def test_sql_error_names_the_query(warehouse):
    with pytest.raises(QueryError, match="no_such_column") as info:
        warehouse.query("SELECT no_such_column FROM raw_data.transactions")
    assert "BigQuery SQL:" in str(info.value)


def test_parse_error_and_multiple_statements_are_query_errors(warehouse):
    with pytest.raises(QueryError, match="cannot parse"):
        warehouse.query("SELECT FROM WHERE (")
    with pytest.raises(QueryError, match="exactly one SQL statement"):
        warehouse.query("SELECT 1; SELECT 2")


class FakeJob:
    def __init__(self, table: pa.Table) -> None:
        self.table = table

    def to_arrow(self) -> pa.Table:
        return self.table


class FakeClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def query(self, sql, job_config=None):
        self.calls.append((sql, job_config))
        return FakeJob(pa.table({"x": [1, 2]}))


def test_bigquery_warehouse_sends_the_sql_unchanged_as_standard_sql():
    client = FakeClient()
    sql = "SELECT UNIX_SECONDS(ts) FROM `raw_data`.`transactions`"
    out = BigQueryWarehouse("tenant-a", client=client).query(sql)
    assert out.column("x").to_pylist() == [1, 2]
    ((sent, config),) = client.calls
    assert sent == sql
    assert config.use_legacy_sql is False


def test_bigquery_not_found_becomes_table_not_found():
    from google.api_core import exceptions

    class MissingClient:
        def query(self, sql, job_config=None):
            raise exceptions.NotFound("Not found: Table p:raw_data.orders")

    with pytest.raises(TableNotFoundError, match="raw_data.orders"):
        BigQueryWarehouse("p", client=MissingClient()).query("SELECT * FROM raw_data.orders")


@pytest.mark.parametrize(
    ("uri", "kind"),
    [
        ("/tmp/wh", LocalWarehouse),
        ("file:///tmp/wh", LocalWarehouse),
        ("rel/wh", LocalWarehouse),
        ("bigquery://my-proj", BigQueryWarehouse),
    ],
)
def test_open_warehouse(uri, kind):
    assert isinstance(open_warehouse(uri), kind)


def test_open_warehouse_parses_paths_and_projects():
    assert str(open_warehouse("file:///tmp/wh").root) == "/tmp/wh"
    assert open_warehouse("bigquery://my-proj").project == "my-proj"


@pytest.mark.parametrize("uri", ["", "gs://bucket/x", "bigquery://", "s3://x"])
def test_open_warehouse_rejects_unknown_uris(uri):
    with pytest.raises(ValueError, match="warehouse URI"):
        open_warehouse(uri)


def test_connections_run_in_utc(warehouse):
    # CAST(naive AS TIMESTAMP) becomes TIMESTAMPTZ in DuckDB, read in the session zone.
    con = warehouse.connect()
    assert con.execute("SELECT current_setting('TimeZone')").fetchone() == ("UTC",)
    out = warehouse.query(
        "SELECT UNIX_SECONDS(CAST(timestamp AS TIMESTAMP)) AS s FROM raw_data.transactions "
        "WHERE quantity = 2"
    )
    assert out.column("s").to_pylist() == [unix_utc(2011, 6, 1, 10)]


def test_running_sum_with_rows_frame(warehouse):
    # The codegen's "top N% by revenue" shape: revenue of every higher-ranked key.
    out = warehouse.query(
        "SELECT customer_id, COALESCE(SUM(total) OVER (ORDER BY total, customer_id "
        "ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING), 0) AS before "
        "FROM (SELECT customer_id, SUM(quantity) AS total FROM raw_data.transactions "
        "GROUP BY customer_id) ORDER BY customer_id"
    )
    assert rows(out) == [
        {"customer_id": "C1", "before": 12},
        {"customer_id": "C2", "before": 0},
        {"customer_id": "C3", "before": 7},
    ]


def unix_utc(*parts: int) -> int:
    return int(dt.datetime(*parts, tzinfo=dt.timezone.utc).timestamp())


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/hostname')",
        "ATTACH '/tmp/another.duckdb' AS other",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "SET allowed_directories = ['/']",
    ],
)
def test_the_connection_reaches_nothing_outside_the_warehouse(warehouse, sql):
    con = warehouse.connect()
    with pytest.raises(duckdb.Error, match="(?i)permission|configuration"):
        con.execute(sql)
    # The warehouse's own tables still answer.
    assert con.execute("SELECT COUNT(*) FROM raw_data.products").fetchone() == (3,)
