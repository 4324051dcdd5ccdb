"""Per tenant, through `pulumi up`: each scheduled template version pinned into the tenant's KFP
repository with the tenant's defaults, and Vertex AI schedules that run the pinned bytes."""

from __future__ import annotations

import copy
import hashlib
import json

import pulumi
import pytest
from kfp.registry import ApiAuth

from infra.components import pipelines as tenant_pipelines
from infra.config import TENANT_KEY, ConfigError, tenant_from_stack_config
from infra.offline import Graph
from infra.policy import check
from infra.stacks import evaluate_stack
from pipelines import catalogue
from tests.infra.conftest import EXAMPLE_TENANTS
from tests.kfp_registry import TOKEN, kfp_registry

DYNAMIC = "pulumi-python:dynamic:Resource"


def kinds(graph: Graph, kind: str):
    return [r for r in graph.of_type(DYNAMIC) if r.input("kind") == kind]


@pytest.mark.parametrize("tenant", EXAMPLE_TENANTS)
def test_each_scheduled_version_is_pinned_with_the_tenants_defaults(tenant, graphs, stack_configs):
    graph, _ = graphs[tenant]
    config = tenant_from_stack_config(stack_configs[tenant])
    pinned = kinds(graph, tenant_pipelines.PINNED_KIND)
    scheduled = {(s.template.name, s.template.version) for s in config.schedules}
    assert {(r.input("package"), r.input("tag")[1:]) for r in pinned} == scheduled
    for r in pinned:
        name, version = r.input("package"), r.input("tag")[1:]
        assert r.input("base_sha256") == catalogue.load()[(name, version)]["ir_sha256"]
        assert r.input("sha256") == hashlib.sha256(r.input("content").encode()).hexdigest()
        assert r.input("host") == tenant_pipelines.tenant_repository(config)
        inputs = json.loads(r.input("content"))["root"]["inputDefinitions"]["parameters"]
        assert inputs["project"]["defaultValue"] == config.gcp_project_id
        assert inputs["dataflow_service_account"]["defaultValue"] == (
            f"pipelines-runner@{config.gcp_project_id}.iam.gserviceaccount.com"
        )
        image = "tfx-trainer-gpu" if config.gpu.count else "tfx-trainer"
        assert inputs["worker_image"]["defaultValue"].endswith(
            f"/{image}:{config.platform.image_tag}"
        )
        assert inputs["mlflow_tracking_uri"]["defaultValue"].startswith("https://mlflow-server-")
        # Only the defaults differ from the catalogued IR.
        base = catalogue.ir(name, version)
        mine = json.loads(r.input("content"))
        assert {k: v for k, v in mine.items() if k != "root"} == {
            k: v for k, v in base.items() if k != "root"
        }


def test_a_vertex_schedule_runs_the_pinned_bytes_as_the_runner(graphs, stack_configs):
    graph, _ = graphs["gpu-heavy"]
    config = tenant_from_stack_config(stack_configs["gpu-heavy"])
    [schedule] = [s for s in config.schedules if s.runner == "vertex"]
    [resource] = kinds(graph, tenant_pipelines.SCHEDULE_KIND)
    [pinned] = [r for r in kinds(graph, tenant_pipelines.PINNED_KIND)
                if r.input("package") == schedule.template.name]  # fmt: skip
    url, body = tenant_pipelines.schedule_request(config, schedule, pinned.input("sha256"))
    assert (resource.input("url"), resource.input("body")) == (url, body)
    assert url == ("https://europe-west4-aiplatform.googleapis.com/v1/projects/b2brecs-gpu-heavy/"
                   "locations/europe-west4/schedules")  # fmt: skip
    job = body["createPipelineJobRequest"]["pipelineJob"]
    assert job["templateUri"] == (
        "https://europe-central2-kfp.pkg.dev/b2brecs-gpu-heavy/kfp-templates/quicktest/"
        f"sha256:{pinned.input('sha256')}"
    )
    assert job["serviceAccount"] == "pipelines-runner@b2brecs-gpu-heavy.iam.gserviceaccount.com"
    assert job["runtimeConfig"]["parameterValues"] == schedule.parameters
    assert job["runtimeConfig"]["gcsOutputDirectory"] == (
        "gs://b2brecs-gpu-heavy-quicktest-artifacts/pipeline-root/scheduled/nightly-quick-check"
    )
    assert body["cron"] == "TZ=Europe/Warsaw 0 1 * * MON-FRI" and body["maxConcurrentRunCount"] == 1
    # ...and no Cloud Scheduler job calls the app for it.
    jobs = [r.input("name") for r in graph.of_type("gcp:cloudscheduler/job:Job")]
    assert "gpu-heavy-nightly-quick-check" not in jobs


def test_a_vertex_schedule_must_give_every_required_input(stack_configs):
    config = copy.deepcopy(stack_configs["gpu-heavy"])
    schedule = config[TENANT_KEY]["schedules"][1]
    del schedule["parameters"]["query"]
    with pytest.raises(ConfigError, match=r"tenant\.schedules\[1\]\.parameters\.query: required "
                                          r"by quicktest-v1\.5\.0 when runner is vertex"):  # fmt: skip
        tenant_from_stack_config(config)


@pytest.fixture
def bumped_catalogue(monkeypatch):
    """A catalogue that also holds quicktest 1.6.0 (the 1.5.0 IR with another description)."""
    entries = dict(catalogue.load())
    spec = catalogue.ir("quicktest", "1.5.0")
    spec["pipelineInfo"]["description"] = "quicktest-v1.6.0: next"
    entries[("quicktest", "1.6.0")] = {**entries[("quicktest", "1.5.0")], "version": "1.6.0",
                                       "tag": "quicktest-v1.6.0",
                                       "ir_sha256": catalogue.ir_digest(spec)}  # fmt: skip
    real_ir = catalogue.ir
    monkeypatch.setattr(catalogue, "load", lambda: entries)
    monkeypatch.setattr(
        catalogue, "ir", lambda n, v: spec if (n, v) == ("quicktest", "1.6.0") else real_ir(n, v)
    )


def test_a_version_bump_is_an_update_of_the_pinned_pipeline(stack_configs, bumped_catalogue):
    before, _ = evaluate_stack("small", stack_configs["small"])
    config = copy.deepcopy(stack_configs["small"])
    tenant = config[TENANT_KEY]
    tenant["scheduler_target_url"] = "https://app.example.com/hook"
    tenant["schedules"] = [{"name": "daily", "cron": "0 6 * * *",
                            "template": {"name": "quicktest", "version": "1.5.0"}}]  # fmt: skip
    old, _ = evaluate_stack("small", config)
    tenant["schedules"][0]["template"]["version"] = "1.6.0"
    new, ctx = evaluate_stack("small", config)
    assert {r.urn for r in old.resources} == {r.urn for r in new.resources}  # not a new tenant
    assert len(new.resources) > len(before.resources)
    [a], [b] = (kinds(g, tenant_pipelines.PINNED_KIND) for g in (old, new))
    assert (a.urn, a.input("tag"), b.input("tag")) == (b.urn, "v1.5.0", "v1.6.0")
    diff = tenant_pipelines.RegistryProvider().diff("id", dict(a.inputs), dict(b.inputs))
    assert diff.changes and not diff.replaces
    assert not check(new, ctx)


def test_two_minor_versions_of_one_major_are_refused(stack_configs, bumped_catalogue):
    config = copy.deepcopy(stack_configs["busy"])
    config[TENANT_KEY]["schedules"][0]["template"]["version"] = "1.6.0"
    with pytest.raises(ConfigError, match=r"schedules\[3\]\.template\.version: quicktest 1\.5\.0 "
                                          r"beside 1\.6\.0"):  # fmt: skip
        tenant_from_stack_config(config)


def test_the_registry_provider_uploads_and_moves_the_tag(tmp_path):
    spec = catalogue.ir("quicktest", "1.5.0")
    with kfp_registry(tmp_path) as (host, context, state):
        provider = tenant_pipelines.RegistryProvider(str(context), ApiAuth(TOKEN))

        def props(defaults):
            content = catalogue.canonical(tenant_pipelines.parameterized(spec, defaults)).decode()
            return {"kind": tenant_pipelines.PINNED_KIND, "host": host, "package": "quicktest",
                    "tag": "v1.5.0", "content": content,
                    "sha256": hashlib.sha256(content.encode()).hexdigest()}  # fmt: skip

        first = props({"project": "b2brecs-acme"})
        created = provider.create(first)
        assert created.outs["version"] == f"sha256:{first['sha256']}"
        second = props({"project": "b2brecs-acme", "epochs": 3})
        updated = provider.update(created.id, created.outs, second)
        assert updated.outs["version"] == f"sha256:{second['sha256']}"
        tags = state.packages["quicktest"]["tags"]
        assert tags == {"v1.5.0": f"sha256:{second['sha256']}"}
        assert len(state.packages["quicktest"]["versions"]) == 2  # the first stays
        provider.delete(created.id, second)
        assert state.packages["quicktest"]["tags"] == {}


class FakeSession:
    def __init__(self):
        self.calls = []

    def _answer(self, payload):
        response = type("R", (), {})()
        response.json = lambda: payload
        response.raise_for_status = lambda: None
        return response

    def post(self, url, json):
        self.calls.append(("POST", url, json))
        return self._answer({"name": "projects/p/locations/l/schedules/123"})

    def delete(self, url):
        self.calls.append(("DELETE", url, None))
        return self._answer({})


def test_the_schedule_provider_creates_and_deletes_through_the_api(stack_configs):
    config = tenant_from_stack_config(stack_configs["gpu-heavy"])
    [schedule] = [s for s in config.schedules if s.runner == "vertex"]
    url, body = tenant_pipelines.schedule_request(config, schedule, "ab" * 32)
    session = FakeSession()
    provider = tenant_pipelines.VertexScheduleProvider(session)
    created = provider.create({"url": url, "body": body})
    assert created.id == "projects/p/locations/l/schedules/123"
    provider.delete(created.id, {"url": url, "body": body})
    assert session.calls == [
        ("POST", url, body),
        ("DELETE", "https://europe-west4-aiplatform.googleapis.com/v1/projects/p/locations/l/"
                   "schedules/123", None),
    ]  # fmt: skip


def _rogue(kind: str, **props):
    def declare():
        resource = (tenant_pipelines.VertexSchedule if kind == tenant_pipelines.SCHEDULE_KIND
                    else tenant_pipelines.PinnedPipeline)  # fmt: skip
        resource("rogue", {"kind": kind, **props}, pulumi.ResourceOptions())

    return declare


@pytest.mark.parametrize(
    ("kind", "props", "message"),
    [
        (tenant_pipelines.PINNED_KIND,
         {"host": "h", "package": "quicktest", "tag": "v1.5.0", "base_sha256": "0" * 64,
          "sha256": "1" * 64, "content": "{}"},
         "does not derive from a catalogued version"),
        (tenant_pipelines.SCHEDULE_KIND,
         {"url": "u", "body": {"createPipelineJobRequest": {"pipelineJob": {
             "templateUri": "https://elsewhere/x/sha256:00",
             "serviceAccount": "pipelines-runner@b2brecs-small-shop.iam.gserviceaccount.com"}}}},
         "not one of the tenant's pinned pipelines"),
        (tenant_pipelines.SCHEDULE_KIND,
         {"url": "u", "body": {"createPipelineJobRequest": {"pipelineJob": {
             "templateUri": "x", "serviceAccount": "django-app@b2brecs-small-shop.iam."
                                                   "gserviceaccount.com"}}}},
         "runs as 'django-app@"),
    ],
)  # fmt: skip
def test_the_policy_flags_what_does_not_pin(broken, kind, props, message):
    graph, ctx = broken("small", _rogue(kind, **props))
    found = [v for v in check(graph, ctx) if v.rule == "schedules-pin-templates"]
    assert any(message in v.message for v in found), found
