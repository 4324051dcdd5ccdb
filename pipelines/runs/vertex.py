"""The Vertex AI backend of the run contract: requests built by pure functions, sent through an
authorized session (`google.auth.transport.requests.AuthorizedSession` in the cloud, a fake at
the same boundary in tests).

A submit uploads the generated modules to the tenant's run bucket under the run id, then creates
a `PipelineJob` from the template's IR with the resolved parameters, its pipeline root in the
staging bucket, the tenant's `pipelines-runner` account and labels (tenant, template, version,
run id). `refresh` reads the job back: its state maps onto the run's, its task details become
stage events, a failed task becomes the failing stage. `cancel` calls `:cancel`. `results` reads
the trainer's metrics file from the run's artifacts.

Not verified here against the live service (no cloud access): the shapes follow the v1 REST
reference of `projects.locations.pipelineJobs` and the Cloud Storage JSON API.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any

from pipelines.runs.store import Run, RunStore
from registry.vertex import Located

STATES = {
    "PIPELINE_STATE_UNSPECIFIED": "pending",
    "PIPELINE_STATE_QUEUED": "pending",
    "PIPELINE_STATE_PENDING": "pending",
    "PIPELINE_STATE_RUNNING": "running",
    "PIPELINE_STATE_SUCCEEDED": "completed",
    "PIPELINE_STATE_FAILED": "failed",
    "PIPELINE_STATE_CANCELLING": "running",  # still running until Vertex says cancelled
    "PIPELINE_STATE_CANCELLED": "cancelled",
    "PIPELINE_STATE_PAUSED": "running",
}
"""Every `PipelineState` of the v1 API, as the run's state."""

TASK_STATES = {
    "STATE_UNSPECIFIED": None,
    "PENDING": None,
    "NOT_TRIGGERED": None,
    "RUNNING": "started",
    "CANCEL_PENDING": "started",
    "CANCELLING": "started",
    "SUCCEEDED": "completed",
    "SKIPPED": "completed",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
}
"""Every `PipelineTaskDetail.State`, as the stage event it amounts to (None: not started)."""

STORAGE_UPLOAD = "https://storage.googleapis.com/upload/storage/v1/b/{bucket}/o"
STORAGE_OBJECT = "https://storage.googleapis.com/storage/v1/b/{bucket}/o/{name}"


class VertexError(RuntimeError):
    """A call to Vertex AI or Cloud Storage failed; the message names it."""


@dataclass(frozen=True)
class VertexTarget(Located):
    """Where a tenant's runs go."""

    project: str
    region: str
    run_bucket: str
    """The run kind's artifact bucket: each run's generated modules (`runs/<run id>/`) and its
    pipeline root (`pipeline-root/<run id>`), kept as long as that kind's retention says (the
    staging bucket keeps only temporary files, three days)."""
    service_account: str
    """The tenant's `pipelines-runner` account: the identity every step runs as."""


def label(value: str) -> str:
    """A value as a Google Cloud label value: lowercase letters, digits, `-` and `_`, at most 63
    characters (`1.5.0` becomes `1-5-0`)."""
    return re.sub(r"[^a-z0-9_-]", "-", value.lower())[:63]


def module_uri(target: VertexTarget, run_id: str, name: str) -> str:
    return f"gs://{target.run_bucket}/runs/{run_id}/{name}"


def upload_request(target: VertexTarget, run_id: str, name: str, text: str):
    """(method, URL, headers, body) of a Cloud Storage media upload of a generated file."""
    url = (
        STORAGE_UPLOAD.format(bucket=target.run_bucket)
        + "?"
        + urllib.parse.urlencode({"uploadType": "media", "name": f"runs/{run_id}/{name}"})
    )
    return "POST", url, {"Content-Type": "text/plain; charset=utf-8"}, text.encode()


def job_name(target: VertexTarget, run_id: str) -> str:
    return f"{target.location}/pipelineJobs/{run_id}"


def pipeline_job_request(
    run: Run, spec: dict[str, Any], values: dict[str, Any], target: VertexTarget
) -> tuple[str, dict[str, Any]]:
    """(URL, body) of `pipelineJobs.create` for a run: the IR, the resolved parameters (module
    paths pointing at the uploaded files), the pipeline root, the runner account, the labels."""
    url = f"{target.api}/{target.location}/pipelineJobs?pipelineJobId={run.id}"
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    unknown = sorted(set(values) - set(inputs))
    if unknown:
        raise VertexError(f"the template's IR has no parameter(s) {unknown}")
    body = {
        "displayName": run.id,
        "pipelineSpec": spec,
        "runtimeConfig": {
            "gcsOutputDirectory": f"gs://{target.run_bucket}/pipeline-root/{run.id}",
            "parameterValues": values,
        },
        "serviceAccount": target.service_account,
        "labels": {
            "tenant": label(run.tenant),
            "template": label(run.template),
            "template-version": label(run.version),
            "run-id": label(run.id),
        },
    }
    return url, body


def iso_time(value: str | None) -> str | None:
    """An RFC 3339 time as Vertex writes it (`...T10:00:00.123456789Z`) in the run store's form
    (ISO 8601, microseconds, `+00:00`)."""
    if not value:
        return value
    match = re.fullmatch(r"(.+T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", value)
    if match is None:
        raise VertexError(f"unreadable time {value!r}")
    base, fraction, zone = match.groups()
    return f"{base}.{(fraction or '0')[:6].ljust(6, '0')}{'+00:00' if zone == 'Z' else zone}"


def stage_events(
    job: dict[str, Any], components: list[str]
) -> list[tuple[str, str, str, str | None]]:
    """(stage, event, at, detail) of every task of a job that is a component of the template:
    `started` at its start time, then `completed` / `failed` / `cancelled` at its end."""
    out = []
    for task in (job.get("jobDetail") or {}).get("taskDetails", []):
        name = task.get("taskName")
        if name not in components:  # the root DAG and drivers are not stages
            continue
        event = TASK_STATES.get(task.get("state", "STATE_UNSPECIFIED"))
        if event is None:
            continue
        start = iso_time(task.get("startTime") or task.get("createTime"))
        out.append((name, "started", start, None))
        if event != "started":
            error = (task.get("error") or {}).get("message")
            out.append((name, event, iso_time(task.get("endTime")) or start, error))
    return out


class VertexBackend:
    name = "vertex"

    def __init__(self, store: RunStore, target: VertexTarget, session):
        self.store = store
        self.target = target
        self.session = session

    def _call(self, method: str, url: str, *, json_body=None, data=None, headers=None):
        if data is not None:
            response = self.session.request(method, url, data=data, headers=headers)
        else:
            response = self.session.request(method, url, json=json_body)
        if response.status_code >= 400:
            raise VertexError(f"{method} {url}: HTTP {response.status_code}: {response.text}")
        return response

    def start(self, run: Run, files: dict[str, str], spec: dict[str, Any]) -> Run:
        """Upload the run's generated files, then create its PipelineJob."""
        values = dict(run.parameters)
        for name, text in sorted(files.items()):
            method, url, headers, body = upload_request(self.target, run.id, name, text)
            self._call(method, url, data=body, headers=headers)
        for parameter, name in (("transform_module", "transform_module.py"),
                                ("trainer_module", "trainer_module.py")):  # fmt: skip
            if parameter in values:
                values[parameter] = module_uri(self.target, run.id, name)
        url, body = pipeline_job_request(run, spec, values, self.target)
        job = self._call("POST", url, json_body=body).json()
        self.store.update(run.id, job_name=job.get("name", job_name(self.target, run.id)))
        return self.refresh(self.store.get(run.id), job=job)

    def refresh(self, run: Run, *, job: dict[str, Any] | None = None) -> Run:
        """Read the job back: new stage events, and the run's state from the job's."""
        if run.terminal or not run.job_name:
            return run
        job = job or self._call("GET", f"{self.target.api}/{run.job_name}").json()
        recorded = {(e["name"], e["kind"]) for e in self.store.events_of(run.id)}
        components = run.data.get("components", [])
        for stage, event, at, detail in stage_events(job, components):
            if (stage, f"stage_{event}") not in recorded:
                self.store.stage_event(run.id, stage, event, detail, at=at)
        state = STATES.get(job.get("state", "PIPELINE_STATE_UNSPECIFIED"), "pending")
        if state != run.state:
            values: dict[str, Any] = {}
            if state == "failed":
                failed = [s for s, e, _, _ in stage_events(job, components) if e == "failed"]
                values["failing_stage"] = failed[0] if failed else None
                values["error"] = (job.get("error") or {}).get("message") or "the job failed"
            if state == "completed":
                from pipelines.runs.cost import estimate
                from pipelines.runs.status import stages

                values["results"] = self.results_of(run, job)
                stage_list = stages(components, run, self.store.events_of(run.id))
                values["results"]["cost_estimate"] = estimate(stage_list, run.parameters)
            self.store.transition(run.id, state, **values)
        return self.store.get(run.id)

    def cancel(self, run: Run) -> Run:
        self._call("POST", f"{self.target.api}/{run.job_name}:cancel", json_body={})
        return self.refresh(self.store.get(run.id))

    def results_of(self, run: Run, job: dict[str, Any]) -> dict[str, Any]:
        """The trainer's metrics file (read from its `model_run` artifact) and the artifacts."""
        artifacts = {}
        for task in (job.get("jobDetail") or {}).get("taskDetails", []):
            for key, output in (task.get("outputs") or {}).items():
                for artifact in output.get("artifacts", []):
                    artifacts[f"{task.get('taskName')}.{key}"] = artifact.get("uri")
        model_run = artifacts.get("RecsTrainer.model_run")
        metrics = {}
        if model_run:
            bucket, _, prefix = model_run.removeprefix("gs://").partition("/")
            url = (
                STORAGE_OBJECT.format(
                    bucket=bucket,
                    name=urllib.parse.quote(f"{prefix}/training_metrics.json", safe=""),
                )
                + "?alt=media"
            )
            metrics = json.loads(self._call("GET", url).text)
        return {"metrics": metrics, "artifacts": artifacts,
                "mlflow_run_id": (metrics.get("mlflow") or {}).get("run_id")}  # fmt: skip
