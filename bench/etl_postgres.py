"""Benchmark: the ETL from the local PostgreSQL into a local warehouse, next to COPY.

    python bench/etl_postgres.py [--rows 1000000] [--repeats 3] [--partitions 4]

Generates a `transactions` table of `--rows` rows (id, customer, product, quantity, amount
numeric(12,2), currency, created_at timestamptz) in a fresh schema of the local PostgreSQL
(127.0.0.1:5432, database test), then measures, each `--repeats` times in this same run:

- etl: a first transactional run of `etl.run.run_job` (engine single, every row, merged and
  published as Parquet with its watermark) into a fresh temporary warehouse, end to end;
- copy: `COPY (SELECT * FROM transactions) TO STDOUT` read to the end with psycopg (the
  reference: the fastest way PostgreSQL itself hands the rows out, as text);
- connectorx / adbc: the ETL's own SELECT (one range, the mapping table's typed read
  expressions) into an Arrow table with each driver: the extraction alone, one connection.

Prints ONE JSON line: medians in seconds and rows/s, the ETL/COPY ratio and whether the goals
(>= 300,000 rows/s, >= 0.5 of COPY) are met. The schema is dropped at the end.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from etl.run import run_job  # noqa: E402
from specs.etl import load_job  # noqa: E402

DSN = "host=127.0.0.1 port=5432 dbname=test user=postgres"
URL = "postgresql://postgres@127.0.0.1:5432/test"


def generate(schema: str, rows: int) -> None:
    with psycopg.connect(DSN, autocommit=True) as con:
        con.execute(f'CREATE SCHEMA "{schema}"')
        con.execute(
            f'CREATE TABLE "{schema}".transactions (id bigint PRIMARY KEY, customer_id bigint, '
            "product_id bigint, quantity integer, amount numeric(12,2), currency text, "
            "created_at timestamptz)"
        )
        con.execute(
            f'INSERT INTO "{schema}".transactions SELECT i, (i * 7919) % 50000, (i * 104729) % 20000, '
            "1 + i % 5, ((i * 31) % 100000) / 100.0, (ARRAY['EUR','USD','PLN'])[1 + i % 3], "
            "'2024-01-01'::timestamptz + i * interval '1 second' "
            f"FROM generate_series(1::bigint, {rows}) i"
        )
        con.execute(f'ANALYZE "{schema}".transactions')


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def copy_out(schema: str) -> int:
    size = 0
    with psycopg.connect(DSN) as con, con.cursor() as cur:
        with cur.copy(f'COPY (SELECT * FROM "{schema}".transactions) TO STDOUT') as copy:
            for block in copy:
                size += len(block)
    return size


def bench_job(schema: str, partitions: int):
    return load_job({
        "name": "bench", "table": "transactions", "primary_key": ["id"],
        "source": {"kind": "postgresql", "database": "test", "schema": schema, "user": "postgres"},
        "strategy": {"kind": "transactional", "cursor_column": "created_at"},
        "destination": {"table": "transactions"}, "engine": "single", "partitions": partitions,
    })  # fmt: skip


def etl_query(schema: str) -> str:
    """The ETL's own SELECT of the whole table (the mapping table's typed read expressions)."""
    from etl import plan
    from etl.sources import Database

    job = bench_job(schema, 1)
    return plan.build(job, Database(job.source, None), None).queries[0]


def etl_once(schema: str, rows: int, partitions: int) -> None:
    job = bench_job(schema, partitions)
    with tempfile.TemporaryDirectory() as warehouse:
        report = run_job(job, warehouse)
        if report.status != "success" or report.rows_in_table != rows:
            raise SystemExit(f"ETL run failed: {report}")


def connectorx_read(query: str) -> None:
    import connectorx as cx

    cx.read_sql(URL, query, return_type="arrow")


def adbc_read(query: str) -> None:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(URL) as con, con.cursor() as cur:
        cur.execute(query)
        cur.fetch_arrow_table()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    args = parser.parse_args()
    schema = f"etl_bench_{uuid.uuid4().hex[:8]}"
    try:
        generate(schema, args.rows)
        query = etl_query(schema)
        runs = {"copy": [], "etl": [], "connectorx_read": [], "adbc_read": []}
        for _ in range(args.repeats):  # interleaved, so drift hits every measure alike
            runs["copy"].append(timed(lambda: copy_out(schema)))
            runs["etl"].append(timed(lambda: etl_once(schema, args.rows, args.partitions)))
            runs["connectorx_read"].append(timed(lambda: connectorx_read(query)))
            runs["adbc_read"].append(timed(lambda: adbc_read(query)))
    finally:
        with psycopg.connect(DSN, autocommit=True) as con:
            con.execute(f'DROP SCHEMA "{schema}" CASCADE')
    median = {k: statistics.median(v) for k, v in runs.items()}
    rate = {k: round(args.rows / v) for k, v in median.items()}
    ratio = median["copy"] / median["etl"]
    print(json.dumps({
        "rows": args.rows, "repeats": args.repeats, "partitions": args.partitions,
        "median_seconds": {k: round(v, 3) for k, v in median.items()},
        "rows_per_second": rate,
        "etl_vs_copy": round(ratio, 3),
        "goal_rows_per_second_300k": rate["etl"] >= 300_000,
        "goal_half_of_copy": ratio >= 0.5,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
