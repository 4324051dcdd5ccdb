"""Real PostgreSQL and MariaDB for the ETL tests: each test gets its own uniquely named schema
(PostgreSQL) or database (MariaDB), dropped afterwards, so parallel runs never collide.
`.ci/run` starts both servers (scripts/ensure-services.sh)."""

from __future__ import annotations

import socket
import uuid

import pytest

PG_PORT, MARIA_PORT = 5432, 3306


def _up(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """One test's namespace on a server: `sql(...)` runs statements, `source(...)` is the job's
    source spec pointing at it."""

    def __init__(self, kind: str, namespace: str, connect) -> None:
        self.kind, self.namespace, self._connect = kind, namespace, connect

    def sql(self, *statements: str, params=None) -> list[tuple]:
        rows: list[tuple] = []
        with self._connect() as con:
            cur = con.cursor()
            for statement in statements:
                cur.execute(statement, params)
                if cur.description:
                    rows = list(cur.fetchall())
        return rows

    def source(self, **over) -> dict:
        if self.kind == "postgresql":
            base = {"kind": "postgresql", "database": "test", "schema": self.namespace,
                    "user": "postgres", "port": PG_PORT}  # fmt: skip
        else:
            base = {"kind": "mariadb", "database": self.namespace, "user": "root",
                    "port": MARIA_PORT}  # fmt: skip
        return {**base, **over}

    def table(self, name: str) -> str:
        """A qualified, quoted table name for the test's own statements."""
        if self.kind == "postgresql":
            return f'"{self.namespace}"."{name}"'
        return f"`{self.namespace}`.`{name}`"


def _postgres():
    import psycopg

    if not _up(PG_PORT):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432 (scripts/ensure-services.sh)")
    namespace = f"etl_{uuid.uuid4().hex[:10]}"

    def connect():
        return psycopg.connect(host="127.0.0.1", port=PG_PORT, dbname="test", user="postgres",
                               autocommit=True)  # fmt: skip

    server = Server("postgresql", namespace, connect)
    server.sql(f'CREATE SCHEMA "{namespace}"', "SET TIME ZONE 'UTC'")
    return server, lambda: server.sql(f'DROP SCHEMA "{namespace}" CASCADE')


def _mariadb():
    import pymysql

    if not _up(MARIA_PORT):
        pytest.skip("MariaDB is not running on 127.0.0.1:3306 (scripts/ensure-services.sh)")
    namespace = f"etl_{uuid.uuid4().hex[:10]}"

    def connect():
        return pymysql.connect(host="127.0.0.1", port=MARIA_PORT, user="root", password="",
                               charset="utf8mb4", autocommit=True, init_command="SET time_zone = '+00:00'")  # fmt: skip

    server = Server("mariadb", namespace, connect)
    server.sql(f"CREATE DATABASE `{namespace}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    return server, lambda: server.sql(f"DROP DATABASE `{namespace}`")


@pytest.fixture
def postgres():
    server, drop = _postgres()
    yield server
    drop()


@pytest.fixture
def mariadb():
    server, drop = _mariadb()
    yield server
    drop()


@pytest.fixture(params=["postgresql", "mariadb"])
def database(request):
    server, drop = _postgres() if request.param == "postgresql" else _mariadb()
    yield server
    drop()
