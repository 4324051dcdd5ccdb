"""The Vertex AI backend, offline: a fake session at the transport boundary answers as the
PipelineJobs and Cloud Storage APIs would; requests are compared field by field."""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass

import pytest

from pipelines.runs.status import status_document
from pipelines.runs.store import RunStore
from pipelines.runs.vertex import (
    STATES,
    TASK_STATES,
    VertexBackend,
    VertexError,
    VertexTarget,
    iso_time,
    label,
    pipeline_job_request,
    stage_events,
)
from tests.pipelines.runs_helpers import record

TARGET = VertexTarget(project="b2brecs-acme", region="europe-west4",
                      run_bucket="b2brecs-acme-quick-test",
                      service_account="pipelines-runner@b2brecs-acme.iam.gserviceaccount.com")  # fmt: skip
API = "https://europe-west4-aiplatform.googleapis.com/v1"
JOB = "projects/b2brecs-acme/locations/europe-west4/pipelineJobs/quicktest-20261204-101500-abc123"
COMPONENTS = ["QueryExampleGen", "StatisticsGen", "SchemaGen", "Transform", "RecsTrainer"]
SPEC = {"pipelineInfo": {"name": "quicktest"}, "root": {"inputDefinitions": {"parameters": {
    "query": {}, "epochs": {}, "transform_module": {}, "trainer_module": {}}}}}  # fmt: skip


@dataclass
class Response:
    status_code: int
    body: object

    @property
    def text(self) -> str:
        return self.body if isinstance(self.body, str) else json.dumps(self.body)

    def json(self):
        return self.body


class FakeSession:
    """Answers by (method, URL prefix); records every request."""

    def __init__(self, answers):
        self.answers = answers
        self.requests = []

    def request(self, method, url, json=None, data=None, headers=None):
        self.requests.append({"method": method, "url": url, "json": json, "data": data,
                              "headers": headers})  # fmt: skip
        for (m, prefix), answer in self.answers.items():
            if m == method and url.startswith(prefix):
                return answer() if callable(answer) else answer
        return Response(404, {"error": {"message": f"no fake for {method} {url}"}})


def task(name, state, start="2026-12-04T10:00:00.123456789Z", end=None, error=None, outputs=None):
    out = {"taskName": name, "state": state, "startTime": start}
    if end:
        out["endTime"] = end
    if error:
        out["error"] = {"message": error}
    if outputs:
        out["outputs"] = outputs
    return out


@pytest.fixture()
def store(tmp_path):
    return RunStore.open(tmp_path / "runs.db")


def a_run(store, **extra):
    run, _ = store.create(record(
        "quicktest-20261204-101500-abc123", tenant="Acme Retail",
        parameters={"query": "SELECT 1", "epochs": 3, "transform_module": "/local/t.py",
                    "trainer_module": "/local/m.py"},
        **extra,
    ))  # fmt: skip
    run.data = {"components": COMPONENTS}
    store.update(run.id, data=run.data)
    return store.get(run.id)


def test_the_pipeline_job_request_field_by_field(store):
    run = a_run(store)
    url, body = pipeline_job_request(run, SPEC, {"query": "SELECT 1", "epochs": 3}, TARGET)
    assert url == (f"{API}/projects/b2brecs-acme/locations/europe-west4/pipelineJobs"
                   "?pipelineJobId=quicktest-20261204-101500-abc123")  # fmt: skip
    assert body == {
        "displayName": "quicktest-20261204-101500-abc123",
        "pipelineSpec": SPEC,
        "runtimeConfig": {
            "gcsOutputDirectory": "gs://b2brecs-acme-quick-test/pipeline-root/"
            "quicktest-20261204-101500-abc123",
            "parameterValues": {"query": "SELECT 1", "epochs": 3},
        },
        "serviceAccount": "pipelines-runner@b2brecs-acme.iam.gserviceaccount.com",
        "labels": {"tenant": "acme-retail", "template": "quicktest", "template-version": "1-5-0",
                   "run-id": "quicktest-20261204-101500-abc123"},
    }  # fmt: skip
    with pytest.raises(VertexError, match=r"no parameter\(s\) \['nope'\]"):
        pipeline_job_request(run, SPEC, {"nope": 1}, TARGET)


def test_start_uploads_the_modules_then_creates_the_job_with_their_gcs_paths(store):
    run = a_run(store)
    session = FakeSession({
        ("POST", "https://storage.googleapis.com/upload/"): Response(200, {}),
        ("POST", f"{API}/projects/b2brecs-acme/locations/europe-west4/pipelineJobs"):
            Response(200, {"name": JOB, "state": "PIPELINE_STATE_PENDING"}),
    })  # fmt: skip
    files = {"transform_module.py": "def preprocessing_fn(inputs): ...",
             "trainer_module.py": "def run_fn(fn_args): ...", "dataset_query.sql": "SELECT 1"}  # fmt: skip
    started = VertexBackend(store, TARGET, session).start(run, files, SPEC)
    uploads = [r for r in session.requests if "upload" in r["url"]]
    names = [urllib.parse.parse_qs(urllib.parse.urlsplit(r["url"]).query)["name"][0]
             for r in uploads]  # fmt: skip
    assert names == [f"runs/{run.id}/{n}" for n in sorted(files)]
    assert all(r["url"].startswith("https://storage.googleapis.com/upload/storage/v1/b/"
                                   "b2brecs-acme-quick-test/o?uploadType=media") for r in uploads)  # fmt: skip
    assert uploads[2]["data"] == files["transform_module.py"].encode()
    create = session.requests[-1]
    values = create["json"]["runtimeConfig"]["parameterValues"]
    assert (
        values["transform_module"]
        == f"gs://b2brecs-acme-quick-test/runs/{run.id}/transform_module.py"
    )
    assert (
        values["trainer_module"] == f"gs://b2brecs-acme-quick-test/runs/{run.id}/trainer_module.py"
    )
    assert (started.job_name, started.state) == (JOB, "pending")


@pytest.mark.parametrize("vertex_state", sorted(STATES))
def test_every_pipeline_state_is_mapped(store, vertex_state):
    run = a_run(store, state="submitting", job_name=JOB)
    job = {"name": JOB, "state": vertex_state, "jobDetail": {"taskDetails": []}}
    session = FakeSession({("GET", f"{API}/{JOB}"): Response(200, job)})
    got = VertexBackend(store, TARGET, session).refresh(run)
    assert got.state == STATES[vertex_state]
    assert set(STATES.values()) <= {"pending", "running", "completed", "failed", "cancelled"}


def test_task_details_become_stages_and_a_failed_task_the_failing_stage(store):
    run = a_run(store, state="running", job_name=JOB)
    job = {"name": JOB, "state": "PIPELINE_STATE_FAILED",
           "error": {"message": "The DAG failed because some tasks failed."},
           "jobDetail": {"taskDetails": [
               task("quicktest", "FAILED"),  # the root DAG: not a stage
               task("QueryExampleGen", "SUCCEEDED", end="2026-12-04T10:00:20Z"),
               task("StatisticsGen", "SUCCEEDED", start="2026-12-04T10:00:20Z",
                    end="2026-12-04T10:01:00Z"),
               task("SchemaGen", "SUCCEEDED", start="2026-12-04T10:01:00Z",
                    end="2026-12-04T10:01:05Z"),
               task("Transform", "FAILED", start="2026-12-04T10:01:05Z",
                    end="2026-12-04T10:03:05Z", error="ValueError: no rows"),
               task("RecsTrainer", "NOT_TRIGGERED"),
           ]}}  # fmt: skip
    session = FakeSession({("GET", f"{API}/{JOB}"): Response(200, job)})
    got = VertexBackend(store, TARGET, session).refresh(run)
    doc = status_document(got, COMPONENTS, store.events_of(got.id))
    assert doc["state"] == "failed" and doc["failing_stage"] == "Transform"
    assert [s["state"] for s in doc["stages"]] == ["completed"] * 3 + ["failed", "pending"]
    assert [s["duration_s"] for s in doc["stages"]][1:4] == [40.0, 5.0, 120.0]
    transform = doc["stages"][3]
    assert transform["error"] == "ValueError: no rows"
    assert doc["error"] == "The DAG failed because some tasks failed."


def test_a_completed_job_reads_its_metrics_from_the_trainers_artifact(store):
    run = a_run(store, state="running", job_name=JOB)
    model_run = "gs://b2brecs-acme-quick-test/pipeline-root/x/RecsTrainer_123/model_run"
    job = {"name": JOB, "state": "PIPELINE_STATE_SUCCEEDED", "jobDetail": {"taskDetails": [
        task("RecsTrainer", "SUCCEEDED", end="2026-12-04T10:05:00Z",
             outputs={"model_run": {"artifacts": [{"uri": model_run}]}})]}}  # fmt: skip
    metrics = {"final_metrics": {"recall_at_10": 0.3}, "mlflow": {"run_id": "abc"}}
    object_url = ("https://storage.googleapis.com/storage/v1/b/b2brecs-acme-quick-test/o/"
                  + urllib.parse.quote("pipeline-root/x/RecsTrainer_123/model_run/"
                                       "training_metrics.json", safe=""))  # fmt: skip
    session = FakeSession({("GET", f"{API}/{JOB}"): Response(200, job),
                           ("GET", object_url + "?alt=media"): Response(200, json.dumps(metrics))})  # fmt: skip
    got = VertexBackend(store, TARGET, session).refresh(run)
    assert got.state == "completed"
    cost = got.results.pop("cost_estimate")
    assert got.results == {"metrics": metrics, "artifacts": {"RecsTrainer.model_run": model_run},
                           "mlflow_run_id": "abc"}  # fmt: skip
    # The trainer ran 10:00:00.123456 to 10:05:00 on the component machine (no custom job).
    (trainer,) = [item for item in cost["items"] if item["stage"] == "RecsTrainer"]
    assert trainer["hours"] == pytest.approx((300 - 0.123456) / 3600, abs=1e-6)


def test_cancel_calls_the_api_and_the_run_ends_when_vertex_says_so(store):
    run = a_run(store, state="running", job_name=JOB)
    states = iter(["PIPELINE_STATE_CANCELLING", "PIPELINE_STATE_CANCELLED"])
    session = FakeSession({
        ("POST", f"{API}/{JOB}:cancel"): Response(200, {}),
        ("GET", f"{API}/{JOB}"): lambda: Response(200, {"name": JOB, "state": next(states)}),
    })  # fmt: skip
    backend = VertexBackend(store, TARGET, session)
    assert backend.cancel(run).state == "running"  # cancelling
    assert session.requests[0]["method"] == "POST" and session.requests[0]["url"].endswith(
        ":cancel"
    )
    assert backend.refresh(store.get(run.id)).state == "cancelled"


def test_an_api_error_is_named():
    with pytest.raises(VertexError, match="HTTP 403"):
        VertexBackend(None, TARGET, FakeSession({("GET", API): Response(403, "denied")}))._call(
            "GET", f"{API}/{JOB}"
        )


def test_times_labels_and_every_task_state():
    assert iso_time("2026-12-04T10:00:00.123456789Z") == "2026-12-04T10:00:00.123456+00:00"
    assert iso_time("2026-12-04T10:00:00Z") == "2026-12-04T10:00:00.000000+00:00"
    assert label("Acme Retail 1.5.0") == "acme-retail-1-5-0"
    for state, event in TASK_STATES.items():
        got = stage_events(
            {"jobDetail": {"taskDetails": [task("Transform", state)]}}, ["Transform"]
        )
        assert [e[1] for e in got] == ([] if event is None else
                                       ["started"] + ([event] if event != "started" else []))  # fmt: skip


# -- a submit to Vertex AI through the run service, the tenant `small` of infra/ ---------------

SMALL = "b2brecs-small-shop"
BQ = f"https://bigquery.googleapis.com/bigquery/v2/projects/{SMALL}/datasets/raw_data/tables"
DEMO_TABLES = {
    "transactions": ["customer_id", "product_id", "timestamp", "quantity", "revenue"],
    "customers": ["customer_id", "segment", "city", "revenue_tier"],
    "products": ["product_id", "category", "brand", "unit_price"],
}


def bigquery_and_vertex(missing: str | None = None) -> FakeSession:
    answers = {}
    for table, columns in DEMO_TABLES.items():
        answers[("GET", f"{BQ}/{table}")] = (
            Response(404, {"error": {"message": "Not found"}}) if table == missing else
            Response(200, {"schema": {"fields": [{"name": c} for c in columns]},
                           "lastModifiedTime": "1764842400000", "numRows": "1000"})
        )  # fmt: skip
    answers[("POST", "https://storage.googleapis.com/upload/")] = Response(200, {})
    job = {"name": "projects/x/locations/europe-west4/pipelineJobs/j",
           "state": "PIPELINE_STATE_PENDING"}  # fmt: skip
    answers[("POST", "https://europe-west4-aiplatform.googleapis.com/v1/")] = Response(200, job)
    answers[("GET", "https://europe-west4-aiplatform.googleapis.com/v1/")] = Response(200, job)
    return FakeSession(answers)


@pytest.fixture()
def runs_env(tmp_path, monkeypatch):
    monkeypatch.setenv("B2B_RUNS_DB", str(tmp_path / "runs.db"))
    monkeypatch.setenv("B2B_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


def test_a_vertex_submit_checks_bigquery_reads_a_snapshot_and_creates_the_job(runs_env):
    from demo import steps
    from pipelines.own_data import config_paths
    from pipelines.runs.service import RunService, SubmitRequest

    session = bigquery_and_vertex()
    service = RunService(vertex_session=session)
    request = SubmitRequest(template="quicktest", version=None,
                            paths=config_paths(steps.EXAMPLES / "demo_b2b"), warehouse=None,
                            params={"epochs": 2}, tenant="small", backend="vertex", key="k")  # fmt: skip
    run, created = service.submit(request)
    assert created and run.state == "pending" and run.backend == "vertex"
    (create,) = [r["json"] for r in session.requests if "pipelineJobs?pipelineJobId=" in r["url"]]
    assert create["serviceAccount"] == f"pipelines-runner@{SMALL}.iam.gserviceaccount.com"
    assert create["labels"] == {"tenant": "small", "template": "quicktest",
                                "template-version": "1-5-0", "run-id": run.id}  # fmt: skip
    assert create["runtimeConfig"]["gcsOutputDirectory"] == (
        f"gs://{SMALL}-quicktest-artifacts/pipeline-root/{run.id}"
    )
    values = create["runtimeConfig"]["parameterValues"]
    assert values["warehouse_uri"] == f"bigquery://{SMALL}" and values["epochs"] == 2
    assert values["transform_module"] == (
        f"gs://{SMALL}-quicktest-artifacts/runs/{run.id}/transform_module.py"
    )
    assert values["query"].count("FOR SYSTEM_TIME AS OF") == 3  # every table, one moment
    image = create["pipelineSpec"]["deploymentSpec"]["executors"]
    assert all(e["container"]["image"].endswith("/shared-images/tfx-trainer:0.1.0")
               for e in image.values() if "container" in e)  # fmt: skip
    assert run.data["tables"]["raw_data.products"]["table"] == f"{SMALL}.raw_data.products"
    assert run.ir_sha256 and run.data["snapshot_time"]
    # A re-run reads BigQuery as of the same moment: the same query.
    again, _ = service.rerun(run.id)
    (first_query, second_query) = [
        r["json"]["runtimeConfig"]["parameterValues"]["query"]
        for r in session.requests if "pipelineJobs?pipelineJobId=" in r["url"]
    ]  # fmt: skip
    assert again.data["snapshot_time"] == run.data["snapshot_time"]
    assert second_query == first_query


def test_a_table_missing_from_bigquery_is_named_and_nothing_recorded(runs_env, capsys,
                                                                     monkeypatch):  # fmt: skip
    from demo import steps
    from pipelines.__main__ import main
    from pipelines.runs import service as service_module

    session = bigquery_and_vertex(missing="customers")
    real = service_module.RunService
    # The CLI's service, with the fake session at the transport boundary.
    monkeypatch.setattr(service_module, "RunService", lambda: real(vertex_session=session))
    code = main(["submit", "quicktest", "--configs", str(steps.EXAMPLES / "demo_b2b"),
                 "--tenant", "small", "--backend", "vertex"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and f"table raw_data.customers is not in BigQuery project {SMALL}" in err
    assert RunStore.open(runs_env / "runs.db").list() == []
    assert not [r for r in session.requests if r["method"] == "POST"]  # nothing uploaded


def test_a_vertex_submit_needs_a_tenant_stack(runs_env, capsys):
    from demo import steps
    from pipelines.__main__ import main

    code = main(["submit", "quicktest", "--configs", str(steps.EXAMPLES / "demo_b2b"),
                 "--tenant", "nobody", "--backend", "vertex"])  # fmt: skip
    assert code == 2 and "--tenant: unknown stack 'nobody'" in capsys.readouterr().err
    code = main(["submit", "quicktest", "--configs", str(steps.EXAMPLES / "demo_b2b")])
    assert code == 2 and "--warehouse: required with --backend local" in capsys.readouterr().err
