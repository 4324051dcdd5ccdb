"""Clear errors that name the field and hold no secret; hostile table and column names; the
wizard's discovery data. Against the real PostgreSQL and MariaDB."""

from __future__ import annotations

import uuid

import pyarrow.parquet as pq
import pytest

from etl.run import run_job
from etl.sources import Database, describe
from specs.base import SpecError
from specs.etl import load_job

pytestmark = pytest.mark.integration

HOSTILE_TABLE = 'Robert\'); DROP TABLE students; -- "x"'
HOSTILE_COLUMNS = ['a"; DROP TABLE students; --', "Unit Price", "unit_price", "select", "2nd"]


def _job(db, **over):
    return load_job({"name": "j", "source": db.source(), "table": "t",
                     "destination": {"table": "t"}, **over})  # fmt: skip


def test_wrong_password_names_the_field_and_hides_the_password(mariadb, tmp_path, monkeypatch):
    user, secret = f"etl_{uuid.uuid4().hex[:8]}", f"pw-{uuid.uuid4().hex}"
    mariadb.sql(f"CREATE USER '{user}'@'%' IDENTIFIED BY 'right-{secret}'")
    try:
        mariadb.sql(f"CREATE TABLE {mariadb.table('t')} (id int PRIMARY KEY)")
        monkeypatch.setenv("ETL_TEST_SECRET", secret)
        job = _job(mariadb, source=mariadb.source(user=user, password={"env": "ETL_TEST_SECRET"}))
        report = run_job(job, tmp_path)
    finally:
        mariadb.sql(f"DROP USER '{user}'@'%'")
    assert report.status == "failed"
    assert report.error.startswith("source.password: authentication failed for user")
    assert secret not in report.error and secret not in repr(report)
    assert not (tmp_path / "raw_data" / "t.parquet").exists()


def test_unknown_user_and_database_name_their_fields(postgres, tmp_path):
    report = run_job(_job(postgres, source=postgres.source(user="no_such_role_x")), tmp_path)
    assert report.error.startswith("source.user: no user 'no_such_role_x'"), report.error
    report = run_job(_job(postgres, source=postgres.source(database="no_such_db_x")), tmp_path)
    assert report.error.startswith("source.database: no database 'no_such_db_x'"), report.error
    report = run_job(_job(postgres, source=postgres.source(port=1)), tmp_path)
    assert report.error.startswith("source.host: cannot connect to 127.0.0.1:1"), report.error


def test_missing_table_and_columns(database, tmp_path):
    database.sql(f"CREATE TABLE {database.table('t')} (id int PRIMARY KEY, ts date)")
    report = run_job(_job(database, table=HOSTILE_TABLE), tmp_path)
    assert report.error.startswith(f"table: no table {HOSTILE_TABLE!r} in "), report.error
    report = run_job(_job(database, columns=["id", "nope"]), tmp_path)
    assert report.error == "columns: no column 'nope' in table 't'"
    report = run_job(_job(database, primary_key=["id"], strategy={
        "kind": "transactional", "cursor_column": "missing"}), tmp_path)  # fmt: skip
    assert report.error == "strategy.cursor_column: no column 'missing' in table 't'"
    report = run_job(_job(database, primary_key=["id"], strategy={
        "kind": "transactional", "cursor_column": "id", "backfill_days": 30}), tmp_path)  # fmt: skip
    assert report.error.startswith("strategy.backfill_days: the cursor 'id' is not a date")


def test_hostile_table_and_column_names_load_safely(database, tmp_path):
    q = database.table
    database.sql(f"CREATE TABLE {q('students')} (id int PRIMARY KEY)")
    quote = '"' if database.kind == "postgresql" else "`"
    columns = ", ".join(f"{quote}{c.replace(quote, quote * 2)}{quote} int" for c in HOSTILE_COLUMNS)
    hostile = HOSTILE_TABLE if database.kind == "postgresql" else HOSTILE_TABLE.replace('"', "")
    database.sql(
        f"CREATE TABLE {q(hostile.replace(quote, quote * 2))} (id int PRIMARY KEY, {columns})"
    )
    database.sql(f"INSERT INTO {q(hostile.replace(quote, quote * 2))} VALUES (1, 2, 3, 4, 5, 6)")
    job = _job(database, table=hostile, primary_key=["id"], partitions=1)
    report = run_job(job, tmp_path)
    assert report.status == "success", report.error
    table = pq.read_table(tmp_path / "raw_data" / "t.parquet")
    assert table.column_names == ["id", "a_DROP_TABLE_students_", "Unit_Price_2", "unit_price",
                                  "select", "_2nd"]  # fmt: skip
    assert table.to_pylist() == [dict(zip(table.column_names, range(1, 7)))]
    assert database.sql(f"SELECT count(*) FROM {q('students')}") == [(0,)]  # still there


def test_names_that_cannot_be_names_are_spec_errors(postgres):
    with pytest.raises(SpecError, match=r"table: .*control characters"):
        _job(postgres, table="t\x00; DROP")
    with pytest.raises(SpecError, match=r"columns\[0\]: .*not a usable column name"):
        _job(postgres, columns=["a`b"])


def test_discover_lists_rows_columns_key_and_timestamp(database):
    ts = "timestamptz" if database.kind == "postgresql" else "datetime(6)"
    database.sql(f"CREATE TABLE {database.table('orders')} (order_id bigint PRIMARY KEY, "
                 f"created_at {ts}, updated_at {ts}, total decimal(10,2), note text)",
                 f"INSERT INTO {database.table('orders')} (order_id) VALUES (1), (2), (3)")  # fmt: skip
    db = Database(load_job(_job(database).model_dump(by_alias=True)).source, None)
    assert db.tables() == ["orders"]
    found = describe(db, "orders")
    assert (found["rows"], found["primary_key"], found["timestamp_column"]) == (
        3,
        ["order_id"],
        "updated_at",
    )
    assert [(c["name"], c["bigquery_type"]) for c in found["columns"]] == [
        ("order_id", "INT64"), ("created_at", "TIMESTAMP" if database.kind == "postgresql" else "DATETIME"),
        ("updated_at", "TIMESTAMP" if database.kind == "postgresql" else "DATETIME"),
        ("total", "NUMERIC"), ("note", "STRING")]  # fmt: skip


def test_a_driver_error_that_quotes_the_url_is_redacted(postgres, tmp_path, monkeypatch):
    from etl import sources

    postgres.sql(f"CREATE TABLE {postgres.table('t')} (id int PRIMARY KEY)")
    secret = f"pw/{uuid.uuid4().hex}"  # trust authentication accepts any password
    monkeypatch.setenv("ETL_TEST_SECRET", secret)

    def leaky(self, query):
        raise RuntimeError(f"could not connect to {self.url()} while running {query}")

    monkeypatch.setattr(sources.Database, "_read_adbc", leaky)
    job = _job(postgres, source=postgres.source(password={"env": "ETL_TEST_SECRET"}))
    report = run_job(job, tmp_path)
    assert report.error.startswith(
        "table: read failed: could not connect to postgresql://postgres:***@"
    )
    assert secret not in report.error and "pw%2F" not in report.error
