"""Run records for the run-store tests, importable by the processes a test starts."""

from __future__ import annotations

from pipelines.runs.store import Run, RunStore, now


def record(run_id: str, *, key: str | None = None, state: str = "pending", **extra) -> Run:
    """A run record with plausible values; `extra` sets any other field."""
    at = now()
    fields = dict(
        id=run_id, tenant="acme", template="quicktest", version="1.5.0", ir_sha256="0" * 64,
        parameters={"epochs": 1}, config_sha256={"dataset": "a" * 64},
        data={"components": ["QueryExampleGen", "Transform"]}, backend="local", state=state,
        created_at=at, updated_at=at, idempotency_key=key,
    )  # fmt: skip
    return Run(**(fields | extra))


def create_with_key(store_url: str, key: str, i: int | str) -> str:
    """Record run `<key>-<i>` under idempotency key `key`; the id of the run the key holds."""
    run, _ = RunStore.open(store_url).create(record(f"{key}-{i}", key=key))
    return run.id
