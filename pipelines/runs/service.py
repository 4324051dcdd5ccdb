"""One interface over runs: submit, status, wait, cancel, results, logs, rerun, list.

A submit checks everything `pipelines run` checks, plus the template's parameter limits, before
anything is recorded; then it records what the run is (template, version, the compiled IR's
sha256, the parameters, the sha256 of every config and of every warehouse table it reads), copies
the configs into the run folder (a re-run reads those, not files that may have changed since)
and starts it on the backend. One run per idempotency key: a repeated or concurrent submit with a
key already seen gets the run that key started.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.own_data import RunInputError, check_warehouse, prepare
from pipelines.runs.local import LOG_FILE, LocalBackend
from pipelines.runs.status import status_document
from pipelines.runs.store import Run, RunStore, new_run_id, now

CONFIGS_DIR = "configs"
DEFAULT_RUNS_DIR = Path("out") / "runs"


class RunStateError(RuntimeError):
    """The run is not in a state that allows this (cancelling a finished run)."""


def runs_dir() -> Path:
    """Where local runs get their folders: `B2B_RUNS_DIR`, else `out/runs`."""
    return Path(os.environ.get("B2B_RUNS_DIR") or DEFAULT_RUNS_DIR).resolve()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_IR_SHA256: dict[str, str] = {}


def ir_sha256(template) -> str:
    """The sha256 of the template's compiled KFP IR (what Vertex AI would run); compiled once
    per template version and process."""
    if template.tag not in _IR_SHA256:
        from absl import logging as absl_logging

        from pipelines import vertex

        absl_logging.set_verbosity(absl_logging.ERROR)  # TFX warns once per module parameter
        spec = vertex.compile_template(template)
        _IR_SHA256[template.tag] = hashlib.sha256(
            json.dumps(spec, sort_keys=True).encode()
        ).hexdigest()
    return _IR_SHA256[template.tag]


def check_limits(template, values: dict[str, Any]) -> None:
    """The template's per-run limits (a quick test stays cheap); the error names the field."""
    for name, (low, high) in template.limits.items():
        value = values.get(name)
        if value is not None and not low <= value <= high:
            raise RunInputError(
                f"{name}: {value} is outside {template.tag}'s limits [{low}, {high}]; set it "
                f"with --param {name}=N or in the configs"
            )


def data_fingerprint(dataset, warehouse: Path) -> dict[str, Any]:
    """The warehouse tables the dataset config reads, each with its file's sha256."""
    from components.warehouse import LocalWarehouse

    local = LocalWarehouse(warehouse)
    tables = {}
    for table in dataset.tables:
        path = local.table_path(dataset.dataset, table)
        tables[f"{dataset.dataset}.{table}"] = {"path": str(path), "sha256": sha256_file(path)}
    return tables


@dataclass(frozen=True)
class SubmitRequest:
    template: str
    version: str | None
    paths: dict[str, Path | None]
    warehouse: Path
    params: dict[str, Any]
    tenant: str = "local"
    key: str | None = None
    backend: str = "local"
    rerun_of: str | None = None
    snapshot_time: str | None = None
    """Vertex AI: read BigQuery as of this time (ISO 8601, UTC); None: the submit time."""


BACKENDS = ("local", "vertex")


class RunService:
    def __init__(self, store: RunStore | None = None, *, vertex_session=None):
        self.store = store or RunStore.open()
        self.local = LocalBackend(self.store)
        self._vertex_session = vertex_session
        """An authorized session for Google's APIs (made on first use; tests pass a fake)."""

    def vertex_session(self):
        if self._vertex_session is None:
            from registry.rest import default_session

            self._vertex_session = default_session()
        return self._vertex_session

    def backend(self, run: Run):
        """The backend of a recorded run."""
        if run.backend == "vertex":
            from pipelines.runs.vertex import VertexBackend, VertexTarget

            return VertexBackend(self.store, VertexTarget(**run.data["target"]),
                                 self.vertex_session())  # fmt: skip
        return self.local

    # -- submit -------------------------------------------------------------------------------

    def submit(self, request: SubmitRequest) -> tuple[Run, bool]:
        """Check, record and start a run; (the run, whether this call created it)."""
        if request.backend not in BACKENDS:
            raise RunInputError(f"--backend: {request.backend!r} is not one of {list(BACKENDS)}")
        if request.key is not None:
            existing = self.store.find_by_key(request.key)
            if existing is not None:
                return existing, False
        run_id = new_run_id(request.template)
        run_dir = runs_dir() / run_id
        cloud = request.backend == "vertex"
        if cloud:
            from pipelines.runs.cloud import check_bigquery_tables, tenant_target, tfx_image

            target = tenant_target(request.tenant, request.template)
            warehouse: Path | str = f"bigquery://{target.project}"
        else:
            warehouse = request.warehouse
        prepared = prepare(request.template, version=request.version, paths=request.paths,
                           warehouse=warehouse, out=run_dir, params=request.params)  # fmt: skip
        template = prepared.template
        check_limits(template, prepared.values)
        data: dict[str, Any] = {"warehouse": str(prepared.warehouse), "params": request.params,
                                "components": list(template.components)}  # fmt: skip
        values, files = dict(prepared.values), dict(prepared.files)
        if cloud:
            import dataclasses
            import datetime as dt

            from codegen.sql import dataset_sql

            data["tables"] = check_bigquery_tables(
                prepared.configs.dataset, target.project, self.vertex_session()
            )
            data["snapshot_time"] = request.snapshot_time or now()
            data["target"] = dataclasses.asdict(target)
            # Every table as of the submit time: a re-run reads the same rows.
            query = dataset_sql(prepared.configs.dataset,
                                as_of=dt.datetime.fromisoformat(data["snapshot_time"]))  # fmt: skip
            values["query"] = files["dataset_query.sql"] = query
            image = tfx_image(request.tenant)
        else:
            data["tables"] = data_fingerprint(prepared.configs.dataset, prepared.warehouse)
        config_sha = {name: sha256_file(path) for name, path in request.paths.items() if path}
        spec = None
        if cloud:
            from pipelines import vertex

            spec = vertex.compile_template(template, image=image)
            digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()
        else:
            digest = ir_sha256(template)
        record = Run(
            id=run_id, tenant=request.tenant, template=template.name, version=template.version,
            ir_sha256=digest, parameters=_json_safe(values), config_sha256=config_sha, data=data,
            backend=request.backend, state="pending", created_at=now(), updated_at=now(),
            idempotency_key=request.key, run_dir=str(run_dir), rerun_of=request.rerun_of,
        )  # fmt: skip
        run, created = self.store.create(record)
        if not created:
            return run, False
        try:
            (run_dir / CONFIGS_DIR).mkdir(parents=True, exist_ok=True)
            for name, path in request.paths.items():
                if path is not None:
                    shutil.copyfile(path, run_dir / CONFIGS_DIR / f"{name}.json")
            self.store.transition(run.id, "submitting")
            if cloud:
                self.backend(run).start(self.store.get(run.id), files, spec)
            else:
                self.local.start(self.store.get(run.id))
        except Exception as exc:
            self.store.transition(run.id, "failed", error=f"could not start: {exc}")
            raise
        return self.store.get(run.id), True

    def rerun(self, run_id: str, *, key: str | None = None) -> tuple[Run, bool]:
        """A new run with the same template, version, parameters, configs and data. Refused when
        a table it read has changed since (the re-run would read other rows)."""
        from pipelines.own_data import config_paths, load_configs

        past = self.get(run_id)
        configs_dir = Path(past.run_dir) / CONFIGS_DIR
        paths = config_paths(configs_dir)
        warehouse = Path(past.data["warehouse"])
        if past.backend == "local":
            configs = load_configs(paths)
            check_warehouse(configs.dataset, warehouse)
            now_tables = data_fingerprint(configs.dataset, warehouse)
            for table, before in past.data["tables"].items():
                if now_tables.get(table, {}).get("sha256") != before["sha256"]:
                    raise RunInputError(
                        f"table {table} ({before['path']}) changed since run {run_id}: a re-run "
                        "would read other rows"
                    )
        # On Vertex AI the re-run reads BigQuery as of the first run's snapshot time.
        return self.submit(SubmitRequest(
            template=past.template, version=past.version, paths=paths, warehouse=warehouse,
            params=past.data["params"], tenant=past.tenant, key=key, backend=past.backend,
            rerun_of=past.id, snapshot_time=past.data.get("snapshot_time"),
        ))  # fmt: skip

    # -- follow -------------------------------------------------------------------------------

    def get(self, run_id: str) -> Run:
        """The run, its state brought up to date by its backend (a crashed run is failed)."""
        run = self.store.get(run_id)
        return self.backend(run).refresh(run)

    def status(self, run_id: str) -> dict:
        run = self.get(run_id)
        return status_document(run, run.data.get("components", []), self.store.events_of(run.id))

    def wait(
        self,
        run_id: str,
        *,
        timeout_s: float | None = None,
        poll_s: float = 1.0,
        on_change: Callable[[dict], None] | None = None,
    ) -> dict:
        """Follow the run until it ends (or `timeout_s`); `on_change` hears each new status."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last = None
        while True:
            status = self.status(run_id)
            seen = (status["state"], status["progress_percent"])
            if seen != last and on_change is not None:
                on_change(status)
            last = seen
            if status["state"] in ("completed", "failed", "cancelled"):
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} is still {status['state']} after {timeout_s}s")
            time.sleep(poll_s)

    def cancel(self, run_id: str) -> Run:
        run = self.get(run_id)
        if run.terminal:
            raise RunStateError(f"run {run_id} is {run.state}: there is nothing to cancel")
        return self.backend(run).cancel(run)

    def results(self, run_id: str) -> dict:
        run = self.get(run_id)
        if run.state != "completed":
            raise RunStateError(
                f"run {run_id} is {run.state}: results exist once it has completed"
                + (f" (error: {run.error})" if run.error else "")
            )
        return {"run_id": run.id, "state": run.state, **run.results}

    def log_path(self, run_id: str) -> Path:
        return Path(self.store.get(run_id).run_dir) / LOG_FILE

    def list(self, *, tenant: str | None = None, state: str | None = None) -> list[Run]:
        return [self.backend(r).refresh(r) for r in self.store.list(tenant=tenant, state=state)]


def run_results(run: Run, metrics: dict, paths: dict[str, str]) -> dict:
    """What `results RUN` shows of a completed run: the metrics file and where things are."""
    return {
        "metrics": metrics,
        "artifacts": paths,
        "mlflow_run_id": (metrics.get("mlflow") or {}).get("run_id"),
        "log": str(Path(run.run_dir) / LOG_FILE),
    }


def _json_safe(values: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(values, default=str))
