"""The run store: what every template run was, is, and read.

One schema on two databases: embedded SQLite by default (a file), PostgreSQL in the cloud
(`B2B_RUNS_DB=postgresql://user@host:5432/db`). Tables:

- `runs`: one row per run: id, tenant, template, version, the compiled IR's sha256, the resolved
  parameters, the sha256 of every config, the data it read, the backend and its job name, the
  state and the idempotency key (unique: one run per key, whoever submits it and however often),
  the run folder, the process, the failing stage, the error and the results;
- `run_events`: the state history and every stage's start and end, with timestamps;
- `schema_migrations`: which of `MIGRATIONS` ran, so an older store is brought up to date.

State changes go through `transition`, which refuses to leave a terminal state: a run cancelled
by one process cannot be marked failed by its dying child a moment later.
"""

from __future__ import annotations

import json
import os
import secrets
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError

STATES = ("pending", "submitting", "running", "completed", "failed", "cancelled")
TERMINAL = frozenset({"completed", "failed", "cancelled"})

DEFAULT_DB = Path("out") / "runs" / "runs.db"
"""Where runs are recorded without `B2B_RUNS_DB`: under the working folder, beside their runs."""

# Each migration is a list of statements both dialects take, once `{serial}` is the dialect's
# auto-numbered key (TEXT, not JSON column types: values are written and read as JSON text).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE runs (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            template TEXT NOT NULL,
            version TEXT NOT NULL,
            ir_sha256 TEXT NOT NULL,
            parameters TEXT NOT NULL,
            config_sha256 TEXT NOT NULL,
            data TEXT NOT NULL,
            backend TEXT NOT NULL,
            job_name TEXT,
            state TEXT NOT NULL,
            idempotency_key TEXT UNIQUE,
            run_dir TEXT,
            pid INTEGER,
            pid_started TEXT,
            failing_stage TEXT,
            error TEXT,
            results TEXT,
            rerun_of TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE run_events (
            id {serial},
            run_id TEXT NOT NULL REFERENCES runs (id),
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            detail TEXT,
            at TEXT NOT NULL
        )""",
        "CREATE INDEX run_events_by_run ON run_events (run_id, id)",
        "CREATE INDEX runs_by_tenant_state ON runs (tenant, state)",
    ),
)


class RunNotFound(KeyError):
    """No run has this id."""


class RunStoreError(RuntimeError):
    """The store cannot be opened or used; the message says which store and why."""


def now() -> str:
    """UTC, ISO 8601 with microseconds: sortable as text in both databases."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def new_run_id(template: str) -> str:
    """`<template>-<UTC time>-<random>`: sortable by creation, unique without coordination."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return f"{template}-{stamp}-{secrets.token_hex(3)}"


@dataclass
class Run:
    """A row of `runs`, JSON columns decoded."""

    id: str
    tenant: str
    template: str
    version: str
    ir_sha256: str
    parameters: dict[str, Any]
    config_sha256: dict[str, str]
    data: dict[str, Any]
    backend: str
    state: str
    created_at: str
    updated_at: str
    job_name: str | None = None
    idempotency_key: str | None = None
    run_dir: str | None = None
    pid: int | None = None
    pid_started: str | None = None
    failing_stage: str | None = None
    error: str | None = None
    results: dict[str, Any] = field(default_factory=dict)
    rerun_of: str | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


_JSON_COLUMNS = ("parameters", "config_sha256", "data", "results")


def database_url(value: str | os.PathLike | None = None) -> str:
    """The SQLAlchemy URL of the store: `value`, else `B2B_RUNS_DB`, else `DEFAULT_DB`.

    A `postgresql://` URL uses the pure-Python pg8000 driver; anything else is a SQLite file."""
    raw = str(value) if value is not None else os.environ.get("B2B_RUNS_DB") or str(DEFAULT_DB)
    if raw.startswith(("postgresql://", "postgres://")):
        return "postgresql+pg8000://" + raw.split("://", 1)[1]
    if raw.startswith("postgresql+"):
        return raw
    if raw.startswith("sqlite:"):
        return raw
    path = Path(raw).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


class RunStore:
    """The runs of one database. Open with `RunStore.open()`."""

    def __init__(self, engine: sa.engine.Engine):
        self.engine = engine
        self.meta = sa.MetaData()
        self._migrate()
        self.meta.reflect(self.engine, only=("runs", "run_events"))
        self.runs = self.meta.tables["runs"]
        self.events = self.meta.tables["run_events"]

    @classmethod
    def open(cls, url: str | os.PathLike | None = None) -> RunStore:
        resolved = database_url(url)
        kwargs: dict[str, Any] = {}
        if resolved.startswith("sqlite:"):
            # Concurrent submitters wait for the write lock instead of failing at once.
            kwargs["connect_args"] = {"timeout": 30}
        shown = sa.engine.make_url(resolved).render_as_string(hide_password=True)
        try:
            engine = sa.create_engine(resolved, **kwargs)
            if resolved.startswith("sqlite:"):
                sa.event.listen(engine, "connect", _sqlite_pragmas)
            return cls(engine)
        except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
            raise RunStoreError(f"run store {shown} cannot be opened: {exc}") from None

    # -- schema -------------------------------------------------------------------------------

    def _migrate(self) -> None:
        """Bring the schema to the newest migration, once, even with several processes
        starting at the same time (the migration runs in one transaction per step)."""
        serial = {"postgresql": "BIGSERIAL PRIMARY KEY"}.get(
            self.engine.dialect.name, "INTEGER PRIMARY KEY"
        )
        for attempt in range(5):
            try:
                with self.engine.begin() as con:
                    con.execute(sa.text(
                        "CREATE TABLE IF NOT EXISTS schema_migrations "
                        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
                    ))  # fmt: skip
                for version, statements in enumerate(MIGRATIONS, start=1):
                    with self.engine.begin() as con:
                        done = con.execute(
                            sa.text("SELECT 1 FROM schema_migrations WHERE version = :v"),
                            {"v": version},
                        ).first()
                        if done:
                            continue
                        for statement in statements:
                            con.execute(sa.text(statement.format(serial=serial)))
                        con.execute(
                            sa.text("INSERT INTO schema_migrations VALUES (:v, :at)"),
                            {"v": version, "at": now()},
                        )
                return
            except (IntegrityError, OperationalError, sa.exc.ProgrammingError):
                # Another process migrated first (its table or row exists): look again.
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    # -- runs ---------------------------------------------------------------------------------

    def create(self, run: Run) -> tuple[Run, bool]:
        """Insert `run`; with an idempotency key already used, return that run instead.

        Returns (the run, whether it was created now)."""
        row = _to_row(run)
        try:
            with self.engine.begin() as con:
                con.execute(self.runs.insert().values(**row))
                con.execute(self.events.insert().values(
                    run_id=run.id, kind="state", name=run.state, detail=None, at=run.created_at
                ))  # fmt: skip
            return run, True
        except IntegrityError:
            if run.idempotency_key is None:
                raise
            existing = self.find_by_key(run.idempotency_key)
            if existing is None:  # pragma: no cover - the unique key was violated by a row
                raise
            return existing, False

    def get(self, run_id: str) -> Run:
        with self.engine.connect() as con:
            row = con.execute(self.runs.select().where(self.runs.c.id == run_id)).mappings().first()
        if row is None:
            raise RunNotFound(f"no run {run_id!r} in the run store")
        return _from_row(row)

    def find_by_key(self, key: str) -> Run | None:
        with self.engine.connect() as con:
            row = (
                con.execute(self.runs.select().where(self.runs.c.idempotency_key == key))
                .mappings()
                .first()
            )
        return _from_row(row) if row else None

    def list(self, *, tenant: str | None = None, state: str | None = None) -> list[Run]:
        query = self.runs.select().order_by(self.runs.c.created_at, self.runs.c.id)
        if tenant is not None:
            query = query.where(self.runs.c.tenant == tenant)
        if state is not None:
            query = query.where(self.runs.c.state == state)
        with self.engine.connect() as con:
            return [_from_row(row) for row in con.execute(query).mappings()]

    def update(self, run_id: str, **values: Any) -> None:
        """Set columns of a run (not its state: `transition` does that)."""
        if "state" in values:
            raise ValueError("states change through transition()")
        for name in _JSON_COLUMNS:
            if name in values:
                values[name] = json.dumps(values[name], sort_keys=True)
        values["updated_at"] = now()
        with self.engine.begin() as con:
            con.execute(self.runs.update().where(self.runs.c.id == run_id).values(**values))

    def transition(self, run_id: str, state: str, **values: Any) -> bool:
        """Move a run to `state` (with other columns) unless it is already in a terminal state.

        Returns whether the state changed. The check and the change are one statement, so two
        processes racing to end a run cannot both win."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}; states: {STATES}")
        for name in _JSON_COLUMNS:
            if name in values:
                values[name] = json.dumps(values[name], sort_keys=True)
        at = now()
        with self.engine.begin() as con:
            changed = con.execute(
                self.runs.update()
                .where(self.runs.c.id == run_id)
                .where(self.runs.c.state.notin_(sorted(TERMINAL)))
                .values(state=state, updated_at=at, **values)
            ).rowcount
            if changed:
                con.execute(self.events.insert().values(
                    run_id=run_id, kind="state", name=state, detail=values.get("error"), at=at
                ))  # fmt: skip
        return bool(changed)

    def stage_event(
        self, run_id: str, stage: str, event: str, detail: str | None = None, *,
        at: str | None = None,
    ) -> None:  # fmt: skip
        """Record that `stage` started, completed, failed or was cancelled (now, or `at`: the
        time a backend reports)."""
        with self.engine.begin() as con:
            con.execute(self.events.insert().values(
                run_id=run_id, kind=f"stage_{event}", name=stage, detail=detail, at=at or now()
            ))  # fmt: skip

    def events_of(self, run_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as con:
            rows = con.execute(
                self.events.select()
                .where(self.events.c.run_id == run_id)
                .order_by(self.events.c.id)
            ).mappings()  # fmt: skip
            return [dict(row) for row in rows]


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    # WAL lets readers (status, list) read while a run writes its events.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _to_row(run: Run) -> dict[str, Any]:
    row = dict(run.__dict__)
    for name in _JSON_COLUMNS:
        row[name] = json.dumps(row[name], sort_keys=True)
    return row


def _from_row(row) -> Run:
    values = dict(row)
    for name in _JSON_COLUMNS:
        values[name] = json.loads(values[name]) if values[name] else {}
    return Run(**values)


def iter_stage_events(events: Sequence[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for event in events:
        if event["kind"].startswith("stage_"):
            yield {**event, "event": event["kind"].removeprefix("stage_")}
