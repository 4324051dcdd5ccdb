"""EtlJob: one source table (or file) copied into the warehouse on its own schedule.

A job names its source (a database connection or a file), the table and columns it reads, its
load strategy (transactional: append by a timestamp cursor with a first-sync backfill; catalog: a
full snapshot that replaces the table), the primary key, the destination table in the warehouse,
an optional row limit and the engine (one machine, or Beam for large tables). Passwords are never
in a job: `password` is a reference (an environment variable or a file locally, a Secret Manager
secret version in the cloud) resolved when the job runs (`etl.secrets`).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from specs.base import Identifier, SourceName, Spec

_SECRET_VERSION = re.compile(
    r"projects/[a-z0-9-]{1,63}/secrets/[A-Za-z0-9_-]{1,255}/versions/(latest|\d+)"
)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_HOST = re.compile(r"[A-Za-z0-9.:_-]{1,253}")


class SecretRef(Spec):
    """Where a password comes from: exactly one of `env`, `file` or `secret_manager`."""

    env: str | None = None
    """Name of an environment variable holding the password (local runs)."""
    file: str | None = None
    """Path of a file whose content (trailing newline dropped) is the password (local runs)."""
    secret_manager: str | None = None
    """`projects/<project>/secrets/<name>/versions/<n|latest>` (cloud runs, the infra Secrets
    component's secrets)."""

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [n for n in ("env", "file", "secret_manager") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of env, file or secret_manager")
        if self.env and not _ENV_NAME.fullmatch(self.env):
            raise ValueError("env: not an environment variable name")
        if self.secret_manager and not _SECRET_VERSION.fullmatch(self.secret_manager):
            raise ValueError(
                "secret_manager: expected projects/<project>/secrets/<name>/versions/<n|latest>"
            )
        return self


class DatabaseSource(Spec):
    """A PostgreSQL or MySQL/MariaDB database."""

    kind: Literal["postgresql", "mariadb", "mysql"]
    host: str = Field(default="127.0.0.1", pattern=_HOST.pattern)
    port: int | None = Field(default=None, ge=1, le=65535)
    """Default: 5432 (PostgreSQL), 3306 (MariaDB/MySQL)."""
    database: SourceName
    schema_: SourceName | None = Field(default=None, alias="schema")
    """PostgreSQL schema (default `public`); MariaDB has none (its database is the schema)."""
    user: SourceName
    password: SecretRef | None = None
    """None: no password (trust or socket authentication)."""

    model_config = Spec.model_config | {"populate_by_name": True}

    @model_validator(mode="after")
    def _schema_only_for_postgres(self):
        if self.schema_ is not None and self.kind != "postgresql":
            raise ValueError("schema: only PostgreSQL has schemas; use database")
        return self

    @property
    def default_port(self) -> int:
        return self.port or (5432 if self.kind == "postgresql" else 3306)

    @property
    def dialect(self) -> Literal["postgresql", "mysql"]:
        """The SQL dialect: MariaDB speaks MySQL's."""
        return "postgresql" if self.kind == "postgresql" else "mysql"


FileFormat = Literal["csv", "parquet", "json"]


class FileSource(Spec):
    """Files: a local path (a file or a folder), or gs://, s3://, az:// objects under a prefix."""

    kind: Literal["files"] = "files"
    uri: str = Field(min_length=1, max_length=2048)
    format: FileFormat
    """csv (with a header row), parquet, json (newline-delimited objects)."""

    @model_validator(mode="after")
    def _known_scheme(self):
        if "://" in self.uri and self.uri.split("://", 1)[0] not in ("gs", "s3", "az", "file"):
            raise ValueError("uri: use a local path, file://, gs://, s3:// or az://")
        return self


Source = Annotated[DatabaseSource | FileSource, Field(discriminator="kind")]


class Transactional(Spec):
    """Append new rows by a timestamp (or increasing number) cursor, merged on the primary key.

    Each run reads rows whose cursor is at or after the job's watermark (the largest cursor value
    loaded so far), so rows that arrive late with a cursor equal to the watermark are read; rows
    read twice replace themselves by primary key, so a rerun adds nothing."""

    kind: Literal["transactional"] = "transactional"
    cursor_column: SourceName
    backfill_days: int | None = Field(default=None, ge=1, le=3650)
    """First sync only: load the last N days (30, 60, 90 in the app); None loads all history."""


class Catalog(Spec):
    """A daily snapshot: every run replaces the whole table (rows deleted at the source go)."""

    kind: Literal["catalog"] = "catalog"


Strategy = Annotated[Transactional | Catalog, Field(discriminator="kind")]


class Destination(Spec):
    dataset: Identifier = "raw_data"
    table: Identifier


Engine = Literal["auto", "single", "distributed"]

DISTRIBUTED_FROM_ROWS = 1_000_000
"""engine auto: a job that moves at least this many rows runs on Beam (Dataflow in the cloud)."""


class EtlJob(Spec):
    """One source table into one warehouse table."""

    name: Identifier
    """The job's id: its watermark is kept under it."""
    source: Source
    table: SourceName | None = None
    """The source table (databases); files have none."""
    columns: list[SourceName] | None = Field(default=None, min_length=1)
    """Columns to copy; None copies every column."""
    strategy: Strategy = Field(default_factory=Catalog)
    primary_key: list[SourceName] = Field(default_factory=list)
    destination: Destination
    row_limit: int | None = Field(default=None, ge=1)
    """At most this many rows per run (oldest cursor first for transactional jobs)."""
    engine: Engine = "auto"
    partitions: int = Field(default=4, ge=1, le=64)
    """Parallel range reads of the source (by integer primary key or by cursor range)."""

    @model_validator(mode="after")
    def _consistent(self):
        is_db = isinstance(self.source, DatabaseSource)
        if is_db and self.table is None:
            raise ValueError("table: a database source needs a table")
        if not is_db and self.table is not None:
            raise ValueError("table: a file source has no table (its uri names the files)")
        if isinstance(self.strategy, Transactional) and not self.primary_key:
            raise ValueError(
                "primary_key: a transactional job needs the primary key (rows read again "
                "replace themselves by it)"
            )
        if len(set(self.primary_key)) != len(self.primary_key):
            raise ValueError("primary_key: a column is named twice")
        if self.columns is not None:
            if len(set(self.columns)) != len(self.columns):
                raise ValueError("columns: a column is named twice")
            needed = list(self.primary_key)
            if isinstance(self.strategy, Transactional):
                needed.append(self.strategy.cursor_column)
            missing = [c for c in needed if c not in self.columns]
            if missing:
                raise ValueError(f"columns: must include the key and cursor column(s) {missing}")
        return self


# A discriminated union puts the member's tag into an error's path (`source.postgresql.port`);
# the reader wrote `source.port`, so the tag is dropped.
_TAGGED = re.compile(
    r"^(source|strategy)\.(postgresql|mariadb|mysql|files|transactional|catalog)(?=\.|$)"
)


def load_job(source) -> EtlJob:
    """An EtlJob from a JSON file (Path), JSON text or a dict; SpecError naming the fields."""
    from specs.base import SpecError, load_spec

    try:
        return load_spec(EtlJob, source)
    except SpecError as exc:
        raise SpecError(
            exc.source, [_named(_TAGGED.sub(r"\1", f), why) for f, why in exc.problems]
        ) from None


_SUBFIELD = re.compile(r"([a-z_]+): (.+)", flags=re.S)


def _named(field: str, why: str) -> tuple[str, str]:
    """A nested model's own check says `name: why` of one of its fields: put it in the path."""
    m = _SUBFIELD.fullmatch(why)
    if m and field != "<root>":
        return f"{field}.{m.group(1)}", m.group(2)
    return field, why
