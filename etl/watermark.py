"""A job's watermark: the largest cursor value it has loaded, with the run that loaded it.

Stored in the warehouse with the table it describes (locally in the Parquet file's metadata,
on BigQuery in `<dataset>._etl_watermarks`, changed in the same transaction as the table), so a
table and its watermark cannot disagree.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.compute as pc

META_KEY = b"b2brecs.etl"


@dataclass(frozen=True)
class Watermark:
    job: str
    cursor: str | None
    """The largest cursor value loaded, as text (ISO 8601 or an integer); None: no cursor."""
    kind: str | None
    """timestamp, timestamptz, date, int (or string, for files)."""
    run_id: str
    loaded_at: str

    @property
    def value(self):
        if self.cursor is None:
            return None
        if self.kind in ("timestamp", "timestamptz"):
            return dt.datetime.fromisoformat(self.cursor)
        if self.kind == "date":
            return dt.date.fromisoformat(self.cursor)
        if self.kind == "string":
            return self.cursor
        return int(self.cursor)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Watermark:
        return cls(**json.loads(text))


def encode(value, arrow: pa.DataType) -> tuple[str | None, str | None]:
    """(text, kind) of a cursor value of an Arrow type."""
    if value is None:
        return None, None
    if pa.types.is_timestamp(arrow):
        return value.isoformat(), "timestamptz" if arrow.tz else "timestamp"
    if pa.types.is_date(arrow):
        return value.isoformat(), "date"
    if pa.types.is_string(arrow):  # files: ISO 8601 text sorts as time does
        return value, "string"
    return str(int(value)), "int"


def advance(
    previous: Watermark | None,
    job: str,
    cursor: pa.ChunkedArray | None,
    run_id: str,
    now: dt.datetime,
) -> Watermark:
    """The watermark after a run that read `cursor` (the new rows' cursor column): the largest
    value read, never less than the previous watermark."""
    text, kind = (previous.cursor, previous.kind) if previous else (None, None)
    if cursor is not None and len(cursor) and cursor.null_count < len(cursor):
        high = pc.max(cursor).as_py()
        if previous is None or previous.value is None or high > previous.value:
            text, kind = encode(high, cursor.type)
    return Watermark(job, text, kind, run_id, now.isoformat())
