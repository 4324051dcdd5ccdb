"""Database sources: connect, introspect (tables, columns, keys, row counts) and read Arrow.

Metadata goes through the databases' own Python drivers (psycopg, PyMySQL), whose errors are
precise (authentication, unknown database); rows go straight into Arrow in binary, through ADBC's
PostgreSQL driver and ConnectorX for MariaDB/MySQL, one range query per thread. Every error that leaves this module names
the job field at fault and is redacted of the password.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from etl.secrets import Password, redact
from etl.types import ColumnType, map_type
from specs.etl import DatabaseSource


class SourceError(RuntimeError):
    """A source problem, as `<field>: <why>`; never holds a secret."""


@dataclass(frozen=True)
class SourceColumn:
    name: str
    """As the source spells it."""
    type: ColumnType
    nullable: bool = True


def quote(dialect: str, name: str) -> str:
    """`name` as a quoted identifier of the dialect (the quote character doubled inside)."""
    if dialect == "postgresql":
        return '"' + name.replace('"', '""') + '"'
    return "`" + name.replace("`", "``") + "`"


def string_literal(dialect: str, value: str) -> str:
    text = value.replace("'", "''")
    if dialect == "mysql":  # MySQL reads backslash escapes inside string literals
        text = text.replace("\\", "\\\\")
    return f"'{text}'"


class Database:
    """One `DatabaseSource` with its resolved password."""

    def __init__(self, spec: DatabaseSource, password: Password | None) -> None:
        self.spec = spec
        self.password = password
        self.dialect = spec.dialect
        self.schema = spec.schema_ or ("public" if self.dialect == "postgresql" else spec.database)

    # -- connections -----------------------------------------------------------------------
    def _fail(self, field: str, why: str) -> SourceError:
        return SourceError(redact(f"{field}: {why}", self.password))

    def connect(self):
        """A DB-API connection (autocommit, read only use); clear errors naming the field."""
        spec, secret = self.spec, (self.password.reveal() if self.password else None)
        where = f"{spec.host}:{spec.default_port}"
        try:
            if self.dialect == "postgresql":
                import psycopg

                return psycopg.connect(
                    host=spec.host, port=spec.default_port, dbname=spec.database,
                    user=spec.user, password=secret, connect_timeout=10, autocommit=True,
                )  # fmt: skip
            import pymysql

            return pymysql.connect(
                host=spec.host, port=spec.default_port, database=spec.database, user=spec.user,
                password=secret or "", connect_timeout=10, charset="utf8mb4", autocommit=True,
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - mapped to the field at fault below
            raise self._classify(exc, where) from None

    def _classify(self, exc: Exception, where: str) -> SourceError:
        text = str(exc).lower()
        if "password" in text or "access denied" in text or "authentication" in text:
            return self._fail(
                "source.password", f"authentication failed for user {self.spec.user!r} at {where}"
            )
        if "role" in text and "does not exist" in text:
            return self._fail("source.user", f"no user {self.spec.user!r} at {where}")
        if "does not exist" in text and "database" in text or "unknown database" in text:
            return self._fail("source.database", f"no database {self.spec.database!r} at {where}")
        return self._fail("source.host", f"cannot connect to {where}: {type(exc).__name__}")

    def url(self) -> str:
        """The ConnectorX connection URL (holds the password: never print it)."""
        spec = self.spec
        scheme = "postgresql" if self.dialect == "postgresql" else "mysql"
        user = urllib.parse.quote(spec.user, safe="")
        if self.password is not None:
            user += ":" + urllib.parse.quote(self.password.reveal(), safe="")
        database = urllib.parse.quote(spec.database, safe="")
        return f"{scheme}://{user}@{spec.host}:{spec.default_port}/{database}"

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self.connect() as con:
            cur = con.cursor()
            try:
                cur.execute(sql, params or None)
                return list(cur.fetchall())
            except Exception as exc:  # noqa: BLE001
                raise self._fail("table", f"query failed: {type(exc).__name__}: {exc}") from None

    # -- introspection ---------------------------------------------------------------------
    def qualified(self, table: str) -> str:
        return f"{quote(self.dialect, self.schema)}.{quote(self.dialect, table)}"

    def tables(self) -> list[str]:
        if self.dialect == "postgresql":
            sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                   "AND table_type IN ('BASE TABLE', 'VIEW') ORDER BY table_name")  # fmt: skip
        else:
            sql = ("SELECT table_name FROM information_schema.tables WHERE table_schema = %s "
                   "ORDER BY table_name")  # fmt: skip
        return [row[0] for row in self.query(sql, (self.schema,))]

    def columns(self, table: str) -> list[SourceColumn]:
        """The table's columns in order, typed by the mapping table; SourceError if no table."""
        if self.dialect == "postgresql":
            sql = (
                "SELECT a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull "
                "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped "
                "ORDER BY a.attnum"
            )
            rows = self.query(sql, (self.schema, table))
        else:
            sql = (
                "SELECT c.column_name, c.column_type, c.is_nullable = 'YES', "
                "EXISTS (SELECT 1 FROM information_schema.check_constraints k "
                "  WHERE k.constraint_schema = c.table_schema AND k.table_name = c.table_name "
                "  AND k.check_clause = CONCAT('json_valid(`', c.column_name, '`)')) "
                "FROM information_schema.columns c WHERE c.table_schema = %s AND c.table_name = %s "
                "ORDER BY c.ordinal_position"
            )
            rows = [(n, "json" if is_json else t, nullable)
                    for n, t, nullable, is_json in self.query(sql, (self.schema, table))]  # fmt: skip
        if not rows:
            where = (
                f"schema {self.schema!r}"
                if self.dialect == "postgresql"
                else f"database {self.schema!r}"
            )
            raise self._fail("table", f"no table {table!r} in {where}")
        return [
            SourceColumn(n, map_type(self.dialect, t), bool(nullable)) for n, t, nullable in rows
        ]

    def primary_key(self, table: str) -> list[str]:
        if self.dialect == "postgresql":
            sql = (
                "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
                "WHERE i.indisprimary AND n.nspname = %s AND c.relname = %s "
                "ORDER BY array_position(i.indkey, a.attnum)"
            )
        else:
            sql = (
                "SELECT column_name FROM information_schema.key_column_usage "
                "WHERE table_schema = %s AND table_name = %s AND constraint_name = 'PRIMARY' "
                "ORDER BY ordinal_position"
            )
        return [row[0] for row in self.query(sql, (self.schema, table))]

    def row_count(self, table: str, where: str = "") -> int:
        sql = f"SELECT count(*) FROM {self.qualified(table)}" + (f" WHERE {where}" if where else "")
        return int(self.query(sql)[0][0])

    # -- rows -------------------------------------------------------------------------------
    def read_arrow(self, queries: list[str]) -> pa.Table:
        """The rows of `queries`, concatenated in order, as Arrow.

        PostgreSQL through ADBC's libpq driver, MariaDB/MySQL through ConnectorX: on the same
        typed SELECT of a million rows ADBC read PostgreSQL 1.03 to 1.9 times faster than
        ConnectorX here (bench/etl_postgres.py), and ADBC has no MySQL driver."""
        try:
            if self.dialect == "postgresql":
                return pa.concat_tables([self._read_adbc(q) for q in queries])
            return self._read_connectorx(queries)
        except BaseException as exc:  # ConnectorX raises PanicException, a BaseException
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise self._fail("table", f"read failed: {str(exc).splitlines()[0][:300]}") from None

    def _read_adbc(self, query: str) -> pa.Table:
        import adbc_driver_postgresql.dbapi as adbc

        with adbc.connect(self.url()) as con, con.cursor() as cur:
            cur.execute(query)
            return cur.fetch_arrow_table()

    def _read_connectorx(self, queries: list[str]) -> pa.Table:
        import connectorx as cx

        return cx.read_sql(self.url(), queries[0] if len(queries) == 1 else queries,
                           return_type="arrow")  # fmt: skip


def describe(db: Database, table: str) -> dict[str, Any]:
    """What the wizard shows of a table: rows, columns with types, key, timestamp column."""
    from etl.plan import detect_cursor

    columns = db.columns(table)
    return {
        "table": table,
        "rows": db.row_count(table),
        "columns": [
            {
                "name": c.name,
                "type": c.type.declared,
                "bigquery_type": c.type.bigquery,
                "nullable": c.nullable,
            }
            for c in columns
        ],  # fmt: skip
        "primary_key": db.primary_key(table),
        "timestamp_column": detect_cursor(columns),
    }
