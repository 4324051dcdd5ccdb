"""The extraction plan of one run: which columns, under which names and types, which rows
(the cursor window), in which range queries.

Everything that reaches SQL is either a quoted identifier (`sources.quote`) or a literal rendered
here from a typed value (an integer, an ISO date or timestamp): a hostile table or column name
cannot inject SQL, and no literal comes from user text.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa

from etl.names import column_names
from etl.sources import Database, SourceColumn, SourceError, quote, string_literal
from specs.etl import EtlJob, Transactional

# Timestamp-like column names, best first: the cursor the wizard proposes.
_CURSOR_HINTS = ("updated_at", "modified_at", "last_modified", "updated", "modified",
                 "created_at", "created", "inserted_at", "timestamp", "event_time", "ts",
                 "date", "order_date", "transaction_date")  # fmt: skip


def _is_time(arrow: pa.DataType) -> bool:
    return pa.types.is_timestamp(arrow) or pa.types.is_date(arrow)


def detect_cursor(columns: list[SourceColumn]) -> str | None:
    """The timestamp column a transactional job would use: a known name first, else the first
    timestamp (then date) column; None when the table has none."""
    timed = [c for c in columns if _is_time(c.type.arrow)]
    for hint in _CURSOR_HINTS:
        for column in timed:
            if column.name.lower() == hint:
                return column.name
    pool = [c for c in timed if pa.types.is_timestamp(c.type.arrow)] or timed
    return pool[0].name if pool else None


def _epoch_read(column: SourceColumn) -> bool:
    return "UNIX_TIMESTAMP" in column.type.read


def literal(dialect: str, column: SourceColumn, value) -> str:
    """A SQL literal comparable with the column's read expression."""
    if isinstance(value, dt.datetime):
        if _epoch_read(column):
            aware = value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
            delta = aware - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
            return str(delta // dt.timedelta(microseconds=1))
        text = value.isoformat(sep=" ")
        if dialect == "postgresql":
            return f"'{text}'::" + ("timestamptz" if value.tzinfo else "timestamp")
        return f"CAST('{text}' AS DATETIME(6))"
    if isinstance(value, dt.date):
        return (
            f"'{value.isoformat()}'::date"
            if dialect == "postgresql"
            else f"CAST('{value.isoformat()}' AS DATE)"
        )
    if isinstance(value, bool):
        raise TypeError("a boolean is not a cursor")
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, Decimal):
        return str(value)
    return string_literal(dialect, str(value))


@dataclass
class Plan:
    job: EtlJob
    columns: list[SourceColumn]
    names: dict[str, str]
    """Source name → warehouse identifier, for the selected columns."""
    where: str
    queries: list[str] = field(default_factory=list)

    @property
    def schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(self.names[c.name], c.type.arrow, nullable=True) for c in self.columns]
        )

    @property
    def key(self) -> list[str]:
        return [self.names[k] for k in self.job.primary_key]

    @property
    def cursor(self) -> str | None:
        strategy = self.job.strategy
        return self.names[strategy.cursor_column] if isinstance(strategy, Transactional) else None

    def bigquery_schema(self) -> list[dict[str, str]]:
        return [{"name": self.names[c.name], "type": c.type.bigquery} for c in self.columns]


def _column(
    columns: dict[str, SourceColumn], name: str, field_name: str, table: str
) -> SourceColumn:
    if name not in columns:
        raise SourceError(f"{field_name}: no column {name!r} in table {table!r}")
    return columns[name]


def build(job: EtlJob, db: Database, watermark, *, now: dt.datetime | None = None) -> Plan:
    """The plan of one run of `job` on `db`, given the stored watermark (None on a first run)."""
    now = now or dt.datetime.now(dt.timezone.utc)
    source = db.columns(job.table)
    by_name = {c.name: c for c in source}
    all_names = column_names([c.name for c in source])
    wanted = job.columns or [c.name for c in source]
    selected = [_column(by_name, n, "columns", job.table) for n in wanted]
    for key in job.primary_key:
        _column(by_name, key, "primary_key", job.table)
    dialect = db.dialect

    def expr(column: SourceColumn) -> str:
        return column.type.read.format(col=quote(dialect, column.name))

    where = ""
    order = [expr(by_name[k]) for k in job.primary_key]
    if isinstance(job.strategy, Transactional):
        cursor = _column(by_name, job.strategy.cursor_column, "strategy.cursor_column", job.table)
        arrow = cursor.type.arrow
        if not (_is_time(arrow) or pa.types.is_integer(arrow)):
            raise SourceError(
                f"strategy.cursor_column: {cursor.name!r} is {cursor.type.declared}, "
                "not a timestamp, date or integer"
            )
        start = watermark.value if watermark is not None and watermark.cursor is not None else None
        if start is None and job.strategy.backfill_days:
            if not _is_time(arrow):
                raise SourceError(
                    f"strategy.backfill_days: the cursor {cursor.name!r} is not a date or timestamp"
                )
            start = now - dt.timedelta(days=job.strategy.backfill_days)
            if pa.types.is_date(arrow):
                start = start.date()
            elif arrow.tz is None:
                start = start.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if start is not None:
            # At or after the watermark: rows that arrive late with the watermark's own cursor
            # value are read again; the merge on the primary key drops what was already loaded.
            where = f"{expr(cursor)} >= {literal(dialect, cursor, start)}"
        order = [expr(cursor), *order]
    select = ", ".join(f"{expr(c)} AS {quote(dialect, all_names[c.name])}" for c in selected)
    base = f"SELECT {select} FROM {db.qualified(job.table)}"
    plan = Plan(job, selected, {c.name: all_names[c.name] for c in selected}, where)
    if job.row_limit:
        tail = f" ORDER BY {', '.join(order)}" if order else ""
        plan.queries = [f"{base}{' WHERE ' + where if where else ''}{tail} LIMIT {job.row_limit}"]
        return plan
    plan.queries = [f"{base} WHERE {w}" if w else base for w in _ranges(job, db, by_name, where)]
    return plan


def _range_column(job: EtlJob, by_name: dict[str, SourceColumn]) -> SourceColumn | None:
    """An integer primary key, else (transactional jobs) the cursor."""
    if len(job.primary_key) == 1:
        key = by_name[job.primary_key[0]]
        if pa.types.is_integer(key.type.arrow):
            return key
    if isinstance(job.strategy, Transactional):
        return by_name[job.strategy.cursor_column]
    return None


def _ranges(job: EtlJob, db: Database, by_name, where: str) -> list[str]:
    """`where` split into up to `job.partitions` disjoint ranges covering every row."""
    column = _range_column(job, by_name) if job.partitions > 1 else None
    if column is None:
        return [where]
    dialect = db.dialect
    col = column.type.read.format(col=quote(dialect, column.name))
    sql = f"SELECT min({col}), max({col}) FROM {db.qualified(job.table)}"
    low, high = db.query(sql + (f" WHERE {where}" if where else ""))[0]
    if low is None or low == high:
        return [where]
    if isinstance(low, dt.date) and not isinstance(low, dt.datetime):
        low, high = dt.datetime.combine(low, dt.time()), dt.datetime.combine(high, dt.time())
    n = job.partitions
    cuts = sorted({low + (high - low) * i // n if isinstance(low, int) else low + (high - low) * i / n
                   for i in range(1, n)} - {low})  # fmt: skip
    if pa.types.is_date(column.type.arrow):
        cuts = sorted({c.date() for c in cuts} - {low.date()})
    bounds = [None, *cuts, None]
    out = []
    for lo, hi in zip(bounds, bounds[1:]):
        # The first range is open below and the last open above, so rows written between the
        # min/max query and the reads are not skipped.
        parts = [where] if where else []
        if lo is not None:
            parts.append(f"{col} >= {literal(dialect, column, lo)}")
        if hi is not None:
            parts.append(f"{col} < {literal(dialect, column, hi)}")
        out.append(" AND ".join(parts))
    return out
