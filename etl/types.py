"""The type mapping: each PostgreSQL and MariaDB/MySQL column type → how it is read, its Arrow
(Parquet) type, its BigQuery type. One table, `RULES`, read by extraction, the BigQuery load and
docs/etl.md; the first rule whose pattern matches the declared type wins.

How a column is read matters as much as where it lands. The drivers (ADBC for PostgreSQL,
ConnectorX for MariaDB) carry most types natively in binary, but not all: ConnectorX panics on
some (PostgreSQL interval, date[]; MariaDB TIME beyond 24 h) and rounds DECIMAL to
decimal(38,10); ADBC hands NUMERIC over as text. Those columns are read by an SQL expression
(`{col}::text`, the unscaled integer of a decimal), exactly. MariaDB TIMESTAMP is read as epoch
microseconds, so the session time zone cannot shift it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

# ConnectorX reads NUMERIC/DECIMAL through a 96-bit decimal into decimal(38,10): exact for at
# most 28 digits and a scale of at most 10. Wider columns up to Arrow's 38 digits are read as
# text and parsed exactly (`etl.run.conform`); beyond 38 digits they stay text.
_CX_SCALE, _CX_DIGITS, _ARROW_DIGITS = 10, 28, 38
# Up to 18 digits the unscaled value (value × 10^scale, an integer) fits in int64: the database
# computes it, ConnectorX carries a plain int64, and `etl.run.conform` lays it out as the
# decimal's own bytes. Exact, and several times cheaper than ConnectorX's decimal path.
_INT64_DIGITS = 18


def _bigquery_decimal(precision: int, scale: int) -> str:
    # BigQuery NUMERIC: scale ≤ 9 and ≤ 29 integer digits; BIGNUMERIC holds the rest of (38, 10).
    return "NUMERIC" if scale <= 9 and precision - scale <= 29 else "BIGNUMERIC"


def _decimal_unscaled(m: re.Match) -> bool:
    return int(m["p"]) <= _INT64_DIGITS


def _decimal_native(m: re.Match) -> bool:
    return int(m["p"]) <= _CX_DIGITS and int(m["s"] or 0) <= _CX_SCALE


def _decimal_arrow(m: re.Match) -> bool:
    return int(m["p"]) <= _ARROW_DIGITS


@dataclass(frozen=True)
class Rule:
    dialect: str
    pattern: str
    """Regex, full match against the declared type in lower case."""
    read: str
    """The SELECT expression; `{col}` is the quoted column."""
    arrow: Callable[[re.Match], pa.DataType]
    bigquery: Callable[[re.Match], str]
    note: str = ""
    when: Callable[[re.Match], bool] = lambda m: True

    def matches(self, declared: str) -> re.Match | None:
        m = re.fullmatch(self.pattern, declared)
        return m if m and self.when(m) else None


def _decimal(m: re.Match) -> pa.DataType:
    return pa.decimal128(int(m["p"]), int(m["s"] or 0))


def _decimal_bigquery(m: re.Match) -> str:
    return _bigquery_decimal(int(m["p"]), int(m["s"] or 0))


def _const(value):
    return lambda m: value


_DEC = r"(?:numeric|decimal)\((?P<p>\d+)(?:,(?P<s>\d+))?\)"
_INTS_PG = r"smallint|integer|bigint"
_STRING, _INT, _FLOAT = pa.string(), pa.int64(), pa.float64()
_TS = r"(?:\(\d\))?"

RULES: tuple[Rule, ...] = (
    # PostgreSQL, as format_type() spells the declared type.
    Rule("postgresql", _INTS_PG, "{col}", _const(_INT), _const("INT64")),
    Rule("postgresql", _DEC, "({col} * {factor})::bigint", _decimal, _decimal_bigquery,
         "up to 18 digits: read as the unscaled int64", when=_decimal_unscaled),
    Rule("postgresql", _DEC, "{col}::text", _decimal, _decimal_bigquery,
         "19 to 38 digits: read as text (as ADBC hands NUMERIC over), parsed exactly",
         when=_decimal_arrow),
    Rule("postgresql", r"numeric.*", "{col}::text", _const(_STRING), _const("STRING"),
         "unconstrained or over 38 digits: exact digits as text"),
    Rule("postgresql", r"real|double precision", "{col}", _const(_FLOAT), _const("FLOAT64")),
    Rule("postgresql", r"boolean", "{col}", _const(pa.bool_()), _const("BOOL")),
    Rule("postgresql", rf"timestamp{_TS} without time zone", "{col}",
         _const(pa.timestamp("us")), _const("DATETIME")),
    Rule("postgresql", rf"timestamp{_TS} with time zone", "{col}",
         _const(pa.timestamp("us", "UTC")), _const("TIMESTAMP"), "the instant, in UTC"),
    Rule("postgresql", r"date", "{col}", _const(pa.date32()), _const("DATE")),
    Rule("postgresql", rf"time{_TS} without time zone", "{col}",
         _const(pa.time64("us")), _const("TIME")),
    Rule("postgresql", r"jsonb?", "{col}::text", _const(_STRING), _const("JSON"),
         "JSON text"),
    Rule("postgresql", rf"(?:{_INTS_PG})\[\]", "{col}", _const(pa.list_(_INT)),
         _const("ARRAY<INT64>"), "one-dimensional; BigQuery refuses NULL elements"),
    Rule("postgresql", r"(?:real|double precision)\[\]", "{col}", _const(pa.list_(_FLOAT)),
         _const("ARRAY<FLOAT64>"), "one-dimensional; BigQuery refuses NULL elements"),
    Rule("postgresql", r"boolean\[\]", "{col}", _const(pa.list_(pa.bool_())),
         _const("ARRAY<BOOL>"), "one-dimensional; BigQuery refuses NULL elements"),
    Rule("postgresql", r"(?:text|character varying(?:\(\d+\))?)\[\]", "{col}",
         _const(pa.list_(_STRING)), _const("ARRAY<STRING>"),
         "one-dimensional; BigQuery refuses NULL elements"),
    Rule("postgresql", r".*\[\]", "array_to_json({col})::text", _const(_STRING),
         _const("JSON"), "other arrays as JSON text"),
    Rule("postgresql", r"bytea", "{col}", _const(pa.binary()), _const("BYTES")),
    Rule("postgresql", r"text|character varying(?:\(\d+\))?|character(?:\(\d+\))?|uuid|name",
         "{col}::text", _const(_STRING), _const("STRING")),
    Rule("postgresql", r".*", "{col}::text", _const(_STRING), _const("STRING"),
         "anything else (interval, time with time zone, money, inet, enums...) as text"),
    # MariaDB / MySQL, as information_schema.COLUMNS.COLUMN_TYPE spells it.
    Rule("mysql", r"tinyint\(1\)(?: unsigned)?", "{col}", _const(pa.bool_()), _const("BOOL"),
         "BOOLEAN is tinyint(1): 0 is false, anything else true (MariaDB's rule)"),
    Rule("mysql", r"bigint(?:\(\d+\))? unsigned", "{col}", _const(pa.decimal128(20, 0)),
         _const("NUMERIC"), "up to 18446744073709551615, beyond INT64"),
    Rule("mysql", r"(?:tinyint|smallint|mediumint|int|integer|bigint)(?:\(\d+\))?(?: unsigned)?",
         "{col}", _const(_INT), _const("INT64")),
    Rule("mysql", _DEC + r"(?: unsigned)?", "CAST({col} * {factor} AS SIGNED)", _decimal,
         _decimal_bigquery, "up to 18 digits: read as the unscaled int64", when=_decimal_unscaled),
    Rule("mysql", _DEC + r"(?: unsigned)?", "{col}", _decimal, _decimal_bigquery,
         "19 to 28 digits, scale up to 10: ConnectorX's decimal", when=_decimal_native),
    Rule("mysql", _DEC + r"(?: unsigned)?", "CAST({col} AS CHAR)", _decimal, _decimal_bigquery,
         "29 to 38 digits or a scale over 10: read as text, parsed exactly", when=_decimal_arrow),
    Rule("mysql", r"decimal.*", "CAST({col} AS CHAR)", _const(_STRING), _const("STRING"),
         "over 38 digits: exact digits as text"),
    Rule("mysql", r"(?:float|double|real)(?:\(\d+(?:,\d+)?\))?(?: unsigned)?", "{col}",
         _const(_FLOAT), _const("FLOAT64")),
    Rule("mysql", r"date", "{col}", _const(pa.date32()), _const("DATE")),
    Rule("mysql", rf"datetime{_TS}", "{col}", _const(pa.timestamp("us")), _const("DATETIME")),
    Rule("mysql", rf"timestamp{_TS}", "CAST(UNIX_TIMESTAMP({col}) * 1000000 AS SIGNED)",
         _const(pa.timestamp("us", "UTC")), _const("TIMESTAMP"),
         "read as epoch microseconds: the instant, whatever the session time zone"),
    Rule("mysql", rf"time{_TS}", "CAST({col} AS CHAR)", _const(_STRING), _const("STRING"),
         "MariaDB TIME spans -838:59:59 to 838:59:59, more than a time of day"),
    Rule("mysql", r"year(?:\(\d\))?", "{col}", _const(_INT), _const("INT64")),
    Rule("mysql", r"bit\((?P<n>\d+)\)", "CAST({col} AS UNSIGNED)", _const(_INT),
         _const("INT64"), "bit(1..63) as an integer", when=lambda m: int(m["n"]) <= 63),
    Rule("mysql", r"json", "{col}", _const(_STRING), _const("JSON"),
         "MariaDB's JSON is longtext with a json_valid check; discovery recognises it"),
    Rule("mysql", r"(?:tiny|medium|long)?blob|(?:var)?binary(?:\(\d+\))?", "{col}",
         _const(pa.binary()), _const("BYTES")),
    Rule("mysql", r"(?:tiny|medium|long)?text|(?:var)?char(?:\(\d+\))?|enum\(.*\)|set\(.*\)",
         "{col}", _const(_STRING), _const("STRING")),
    Rule("mysql", r".*", "CAST({col} AS CHAR)", _const(_STRING), _const("STRING"),
         "anything else (bit(64), geometry, inet6...) as text"),
)  # fmt: skip


@dataclass(frozen=True)
class ColumnType:
    """How one source column is read and stored."""

    declared: str
    read: str
    arrow: pa.DataType
    bigquery: str


def map_type(dialect: str, declared: str) -> ColumnType:
    """The mapping of a declared column type (`format_type()` / `COLUMN_TYPE`)."""
    normalized = re.sub(r"\s+", " ", declared.strip().lower())
    for rule in RULES:
        if rule.dialect == dialect and (m := rule.matches(normalized)):
            read = rule.read
            if "{factor}" in read:
                read = read.replace("{factor}", str(10 ** int(m["s"] or 0)))
            return ColumnType(declared, read, rule.arrow(m), rule.bigquery(m))
    raise ValueError(f"unknown dialect {dialect!r}")


def bigquery_type(arrow: pa.DataType) -> str:
    """The BigQuery type of an Arrow type (files, whose types are Arrow's own)."""
    if pa.types.is_boolean(arrow):
        return "BOOL"
    if pa.types.is_integer(arrow):
        return "INT64"
    if pa.types.is_floating(arrow):
        return "FLOAT64"
    if pa.types.is_decimal(arrow):
        return _bigquery_decimal(arrow.precision, arrow.scale)
    if pa.types.is_string(arrow) or pa.types.is_large_string(arrow):
        return "STRING"
    if pa.types.is_binary(arrow) or pa.types.is_large_binary(arrow):
        return "BYTES"
    if pa.types.is_timestamp(arrow):
        return "TIMESTAMP" if arrow.tz else "DATETIME"
    if pa.types.is_date(arrow):
        return "DATE"
    if pa.types.is_time(arrow):
        return "TIME"
    if pa.types.is_list(arrow) or pa.types.is_large_list(arrow):
        return f"ARRAY<{bigquery_type(arrow.value_type)}>"
    if pa.types.is_struct(arrow):
        fields = ", ".join(f"`{f.name}` {bigquery_type(f.type)}" for f in arrow)
        return f"STRUCT<{fields}>"
    return "STRING"


def storable(arrow: pa.DataType) -> pa.DataType:
    """The type a file column is stored as: large variants narrowed, nulls as strings,
    timestamps in microseconds."""
    if pa.types.is_large_string(arrow) or pa.types.is_null(arrow):
        return pa.string()
    if pa.types.is_large_binary(arrow):
        return pa.binary()
    if pa.types.is_large_list(arrow) or pa.types.is_list(arrow):
        return pa.list_(storable(arrow.value_type))
    if pa.types.is_timestamp(arrow):  # Parquet keeps no seconds unit: one unit for every run
        return pa.timestamp("us", arrow.tz)
    return arrow
