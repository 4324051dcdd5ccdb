"""The local destination: the warehouse's `<root>/<dataset>/<table>.parquet`, written whole to a
staging file and renamed into place, with the job's watermark inside the same file.

Publishing is one `os.replace` on one filesystem: a reader (DuckDB, a template run) sees the old
table or the new one, never a half; and because the watermark travels in the Parquet file's
metadata, the table and its watermark change together or not at all. A failed run leaves only a
staging file, removed on the way out.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from components.warehouse import LocalWarehouse
from etl.watermark import META_KEY, Watermark

STAGING = ".etl-staging"


class LocalDestination:
    def __init__(self, root: str | Path, dataset: str, table: str) -> None:
        self.warehouse = LocalWarehouse(root)
        self.dataset, self.table = dataset, table
        self.path = self.warehouse.table_path(dataset, table)
        # Beside the table (same filesystem, so the rename is atomic); DuckDB's views and
        # LocalWarehouse.tables() list only <dataset>/<table>.parquet and never see it.
        self.staging_dir = self.path.parent / STAGING

    @property
    def name(self) -> str:
        return f"{self.dataset}.{self.table}"

    @contextlib.contextmanager
    def lock(self):
        """One run per table at a time (a second waits): two runs must not both merge into the
        same old table and lose each other's rows."""
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        with open(self.staging_dir / f"{self.table}.lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def watermark(self, job: str) -> Watermark | None:
        """The watermark of `job` stored with the table; None before its first run."""
        if not self.path.is_file():
            return None
        meta = pq.read_schema(self.path).metadata or {}
        if META_KEY not in meta:
            return None
        stored = Watermark.from_json(meta[META_KEY].decode())
        return stored if stored.job == job else None

    def current(self) -> pa.Table | None:
        return pq.read_table(self.path) if self.path.is_file() else None

    def stage(self, table: pa.Table, watermark: Watermark) -> Path:
        """Write the new table with its watermark to a staging file."""
        self.staging_dir.mkdir(parents=True, exist_ok=True)
        staged = self.staging_dir / f"{self.table}.{uuid.uuid4().hex}.parquet"
        meta = dict(table.schema.metadata or {})
        meta[META_KEY] = watermark.to_json().encode()
        # Dictionary encoding pays for text (few distinct values compress well) and costs a third
        # of the write time on numbers and timestamps, so only text columns get it.
        text = [
            f.name for f in table.schema if pa.types.is_string(f.type) or pa.types.is_binary(f.type)
        ]
        pq.write_table(table.replace_schema_metadata(meta), staged, use_dictionary=text or False)
        return staged

    def publish(self, staged: Path) -> None:
        """Rename the staged file over the table (atomic) and make the rename durable."""
        with open(staged, "rb") as f:
            os.fsync(f.fileno())
        os.replace(staged, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def discard(self, staged: Path | None) -> None:
        if staged is not None:
            staged.unlink(missing_ok=True)


def read_metadata(path: Path) -> dict:
    meta = pq.read_schema(path).metadata or {}
    return json.loads(meta[META_KEY]) if META_KEY in meta else {}
