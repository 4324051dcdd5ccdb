"""Every type of the mapping table through the real PostgreSQL and MariaDB, with edge values
and NULLs: the Parquet file holds exactly the source's values, in the mapped types."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pyarrow.parquet as pq
import pytest

from etl.run import run_job
from etl.types import map_type
from specs.etl import load_job

pytestmark = pytest.mark.integration

UTC = dt.timezone.utc
ZERO_UUID = uuid.UUID(int=0)
TEXT = "zażółć 🎉 'q' \"dq\" \\ \t"

# column, declared type, SQL literal of the low edge, of the high edge, Python value low, high
PG_COLUMNS = [
    ("i2", "smallint", "-32768", "32767", -32768, 32767),
    ("i8", "bigint", "-9223372036854775808", "9223372036854775807", -(2**63), 2**63 - 1),
    ("n", "numeric(12,3)", "-999999999.999", "999999999.999",
     Decimal("-999999999.999"), Decimal("999999999.999")),
    ("n28", "numeric(28,10)", "-999999999999999999.9999999999", "-0.0000000001",
     Decimal("-999999999999999999.9999999999"), Decimal("-1E-10")),
    ("nbig", "numeric(38,10)", "-9999999999999999999999999999.9999999999", "0.0000000001",
     Decimal("-9999999999999999999999999999.9999999999"), Decimal("1E-10")),
    ("nwide", "numeric(60,20)", "-1e39", "0.00000000000000000001",
     "-1000000000000000000000000000000000000000.00000000000000000000", "0.00000000000000000001"),
    ("nu", "numeric", "1e-30", "123456789012345678901234567890123456789012345",
     "0.000000000000000000000000000001", "123456789012345678901234567890123456789012345"),
    ("r", "real", "-3.4028235e38", "1.5", -3.4028234663852886e38, 1.5),
    ("d", "double precision", "-1.7976931348623157e308", "5e-324",
     -1.7976931348623157e308, 5e-324),
    ("b", "boolean", "false", "true", False, True),
    ("ts", "timestamp", "'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'",
     dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
    ("tstz", "timestamptz", "'1970-01-01 02:00:00+02'", "'9999-12-31 23:59:59.999999+00'",
     dt.datetime(1970, 1, 1, tzinfo=UTC), dt.datetime(9999, 12, 31, 23, 59, 59, 999999, UTC)),
    ("dt", "date", "'0001-01-01'", "'9999-12-31'", dt.date(1, 1, 1), dt.date(9999, 12, 31)),
    ("tm", "time", "'00:00:00'", "'23:59:59.999999'", dt.time(0), dt.time(23, 59, 59, 999999)),
    ("j", "json", "'{}'", """'{"k": "ü", "n": [1, null]}'""", "{}", '{"k": "ü", "n": [1, null]}'),
    ("jb", "jsonb", "'[]'", """'{"b": 1, "a": "x"}'""", "[]", '{"a": "x", "b": 1}'),
    ("ai", "integer[]", "'{}'", "'{1,NULL,-2147483648}'", [], [1, None, -(2**31)]),
    ("af", "double precision[]", "'{}'", "'{1.5,NULL}'", [], [1.5, None]),
    ("ab", "boolean[]", "'{}'", "'{t,f,NULL}'", [], [True, False, None]),
    ("at", "text[]", "'{}'", """'{"a b",NULL,"ü"}'""", [], ["a b", None, "ü"]),
    ("ad", "date[]", "'{}'", "'{2024-01-01,NULL}'", "[]", '["2024-01-01",null]'),
    ("by", "bytea", "''", "'\\x00ff'", b"", b"\x00\xff"),
    ("tx", "text", "''", "$$" + TEXT + "$$", "", TEXT),
    ("vc", "varchar(10)", "''", "'ünïcödé'", "", "ünïcödé"),
    ("u", "uuid", f"'{ZERO_UUID}'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'",
     str(ZERO_UUID), "ffffffff-ffff-ffff-ffff-ffffffffffff"),
    ("iv", "interval", "'-1 day'", "'1 year 2 mons 3 days 04:05:06.7'",
     "-1 days", "1 year 2 mons 3 days 04:05:06.7"),
]  # fmt: skip

MARIA_COLUMNS = [
    ("ti", "tinyint", "-128", "127", -128, 127),
    ("b", "boolean", "0", "1", False, True),
    ("mi", "mediumint", "-8388608", "8388607", -8388608, 8388607),
    ("bi", "bigint", "-9223372036854775808", "9223372036854775807", -(2**63), 2**63 - 1),
    ("bu", "bigint unsigned", "0", "18446744073709551615", Decimal(0), Decimal(2**64 - 1)),
    ("iu", "int unsigned", "0", "4294967295", 0, 4294967295),
    ("dc", "decimal(12,3)", "-999999999.999", "0.001",
     Decimal("-999999999.999"), Decimal("0.001")),
    ("d20", "decimal(20,4)", "-9999999999999999.9999", "-0.0001",
     Decimal("-9999999999999999.9999"), Decimal("-0.0001")),
    ("d30", "decimal(30,5)", "-9999999999999999999999999.99999", "0.00001",
     Decimal("-9999999999999999999999999.99999"), Decimal("0.00001")),
    ("dwide", "decimal(65,30)", "-1e34", "0.000000000000000000000000000001",
     "-10000000000000000000000000000000000.000000000000000000000000000000",
     "0.000000000000000000000000000001"),
    ("f", "float", "-1.5", "1.5", -1.5, 1.5),
    ("d", "double", "-1.7976931348623157e308", "5e-324", -1.7976931348623157e308, 5e-324),
    ("dt", "date", "'1000-01-01'", "'9999-12-31'", dt.date(1000, 1, 1), dt.date(9999, 12, 31)),
    ("dtt", "datetime(6)", "'1000-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'",
     dt.datetime(1000, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59, 999999)),
    ("ts", "timestamp(6) NULL", "'1970-01-01 00:00:01'", "'2038-01-19 03:14:07.999999'",
     dt.datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC),
     dt.datetime(2038, 1, 19, 3, 14, 7, 999999, tzinfo=UTC)),
    ("tm", "time(6)", "'-838:59:59'", "'838:59:59.999999'", "-838:59:59.000000",
     "838:59:59.999999"),
    ("y", "year", "1901", "2155", 1901, 2155),
    ("bt", "bit(3)", "b'000'", "b'101'", 0, 5),
    ("j", "json", "'{}'", """'{"k": "ü"}'""", "{}", '{"k": "ü"}'),
    ("bl", "blob", "''", "x'00ff'", b"", b"\x00\xff"),
    ("vb", "varbinary(10)", "x'00'", "x'ff'", b"\x00", b"\xff"),
    ("tx", "text", "''", "'zażółć 🎉 \\'q\\' \"dq\" \\\\ \\t'", "", TEXT),
    ("vc", "varchar(20)", "''", "'ünïcödé'", "", "ünïcödé"),
    ("e", "enum('a','b')", "'a'", "'b'", "a", "b"),
    ("st", "set('x','y')", "''", "'x,y'", "", "x,y"),
]  # fmt: skip


@pytest.mark.parametrize("kind", ["postgresql", "mariadb"])
def test_every_mapped_type_keeps_its_edge_values(kind, request, tmp_path):
    db = request.getfixturevalue("postgres" if kind == "postgresql" else "mariadb")
    columns = PG_COLUMNS if kind == "postgresql" else MARIA_COLUMNS
    dialect = "postgresql" if kind == "postgresql" else "mysql"
    ddl = ", ".join(f"{name} {declared}" for name, declared, *_ in columns)
    db.sql(f"CREATE TABLE {db.table('types')} (id int PRIMARY KEY, {ddl})")
    names = ", ".join(c[0] for c in columns)
    for row_id, index in ((1, 2), (2, 3)):
        values = ", ".join(c[index] for c in columns)
        db.sql(f"INSERT INTO {db.table('types')} (id, {names}) VALUES ({row_id}, {values})")
    db.sql(f"INSERT INTO {db.table('types')} (id) VALUES (3)")
    job = load_job({"name": "types", "source": db.source(), "table": "types",
                    "destination": {"table": "types"}, "partitions": 2})  # fmt: skip
    report = run_job(job, tmp_path)
    assert report.status == "success", report.error
    table = pq.read_table(tmp_path / "raw_data" / "types.parquet").sort_by("id")
    declared = dict(db.sql(_declared_types_sql(db), params=(db.namespace,)))
    for name, _, _, _, low, high in columns:
        assert table.schema.field(name).type == map_type(dialect, declared[name]).arrow, name
        assert table.column(name).to_pylist() == [low, high, None], name


def _declared_types_sql(db) -> str:
    if db.kind == "postgresql":
        return ("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                "JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = %s AND c.relname = 'types' AND a.attnum > 0")  # fmt: skip
    return ("SELECT column_name, IF(column_name = 'j', 'json', column_type) "
            "FROM information_schema.columns WHERE table_schema = %s AND table_name = 'types'")  # fmt: skip
