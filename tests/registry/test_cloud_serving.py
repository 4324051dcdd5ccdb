"""The cloud serving targets offline, as requests: Cloud Run revision tags and percentages,
Vertex AI Endpoint deploy and undeploy, status read live (`unknown` when the API fails), an
endpoint owned by another model left alone, and the Vertex registry's promote and rollback."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.config import Preset
from registry import ModelVersion, RegistryError
from registry.cloudrun import (
    CloudRunTarget,
    Endpoint,
    deploy_request,
    end_split_request,
    read_status,
    split_request,
)
from registry.deployment import EndpointNotOwned, overrides, resources
from registry.lifecycle import ModelLifecycle
from registry.vertex import VertexModelRegistry, VertexTarget
from registry.vertex_endpoints import (
    VertexEndpointTarget,
    deploy_model_request,
    machine_type,
    undeploy_model_request,
)
from tests.registry.fakes import FakeRunService, FakeVertexEndpoint
from tests.registry.test_registry import TARGET, FakeVertex, registration

PROJECT, REGION = "b2brecs-acme", "europe-central2"
ENDPOINT = Endpoint(name="acme-main", project=PROJECT, region=REGION, preset=Preset.PRODUCTION,
                    service_account=f"model-serving@{PROJECT}.iam.gserviceaccount.com",
                    app_member=f"serviceAccount:django-app@{PROJECT}.iam.gserviceaccount.com")  # fmt: skip
SERVICE = f"projects/{PROJECT}/locations/{REGION}/services/serve-acme-main"
IMAGE = "europe-docker.pkg.dev/b2brecs-platform/images/tf-serving-native:1.4.0"


def version(number: str, model: str = "acme-main") -> ModelVersion:
    return ModelVersion(model_name=model, version=number,
                        artifact_uri=f"gs://{PROJECT}-models/{model}/v{number}/", run_id="r",
                        aliases=(), labels={"runtime": "native", "blessed": "true"},
                        resource_name=f"projects/{PROJECT}/locations/{REGION}/models/{model}@{number}")  # fmt: skip


def cloud_run(session) -> CloudRunTarget:
    return CloudRunTarget(session, project=PROJECT, region=REGION, image_of=lambda v: IMAGE,
                          service_account=lambda e: ENDPOINT.service_account,
                          app_member=ENDPOINT.app_member, sleep=lambda s: None)  # fmt: skip


# --- Cloud Run -------------------------------------------------------------------------------


def test_a_deploy_is_sized_by_preset_and_overrides_and_tags_its_revision():
    sizing = resources(Preset.PRODUCTION, overrides(max_instances=4, memory="8Gi", cpu="4",
                                                    timeout_seconds=900))  # fmt: skip
    _, _, body = deploy_request(ENDPOINT, version("3"), image=IMAGE, model_path="gs://m/v3/",
                                sizing=sizing)  # fmt: skip
    template = body["template"]
    assert template["scaling"] == {"minInstanceCount": 1, "maxInstanceCount": 4}
    assert template["containers"][0]["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}
    assert template["timeout"] == "900s"
    assert body["labels"]["is_blessed"] == "true"
    unblessed = replace(version("4"), labels={"blessed": "false"})
    _, _, body4 = deploy_request(ENDPOINT, unblessed, image=IMAGE, model_path="gs://m/v4/")
    assert body4["labels"]["is_blessed"] == "false" == body4["template"]["labels"]["is_blessed"]
    revision = template["revision"]
    assert (
        revision.startswith("serve-acme-main-v3-")
        and len(revision) == len("serve-acme-main-v3-") + 6
    )
    assert body["traffic"] == [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION",
                                "revision": revision, "percent": 100, "tag": "v3"}]  # fmt: skip
    # The same version and sizing name the same revision; another sizing, another one.
    again = deploy_request(ENDPOINT, version("3"), image=IMAGE, model_path="gs://m/v3/",
                           sizing=sizing)[2]["template"]["revision"]  # fmt: skip
    other = deploy_request(ENDPOINT, version("3"), image=IMAGE,
                           model_path="gs://m/v3/")[2]["template"]  # fmt: skip
    assert again == revision and other["revision"] != revision and other["timeout"] == "300s"


def test_a_split_tags_both_revisions_with_their_percentages():
    sizing = resources(Preset.PRODUCTION)
    method, url, body = split_request(ENDPOINT, "serve-acme-main-v3-abcdef", version("3"),
                                      version("5"), 10, image=IMAGE, model_path="gs://m/v5/",
                                      sizing=sizing)  # fmt: skip
    assert (method, url) == ("PATCH", f"https://run.googleapis.com/v2/{SERVICE}")
    new = body["template"]["revision"]
    assert new.startswith("serve-acme-main-v5-")
    assert body["traffic"] == [
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": "serve-acme-main-v3-abcdef",
         "percent": 90, "tag": "v3"},
        {"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": new, "percent": 10,
         "tag": "v5"},
    ]  # fmt: skip
    assert body["labels"]["model_version"] == "3"  # the champion's service still
    method, url, body = end_split_request(ENDPOINT, "serve-acme-main-v3-abcdef", version("3"))
    assert url.endswith("?updateMask=traffic") and [t["percent"] for t in body["traffic"]] == [100]


def test_the_target_deploys_splits_undeploys_and_deploys_again():
    session = FakeRunService()
    target = cloud_run(session)
    sizing = resources(Preset.DEVELOPMENT)
    status = target.deploy("acme-main", version("3"), sizing)
    assert (status.state, status.traffic, status.model_name) == ("serving", {"3": 100}, "acme-main")
    assert status.resources == sizing
    status = target.split("acme-main", version("3"), version("5"), 10, sizing)
    assert status.traffic == {"3": 90, "5": 10}
    assert target.split("acme-main", version("3"), version("5"), 0, sizing).traffic == {"3": 100}
    assert target.undeploy("acme-main") is True
    assert ("DELETE", SERVICE, None) in session.calls
    assert target.status("acme-main").state == "not_deployed"
    assert target.undeploy("acme-main") is False
    assert target.deploy("acme-main", version("5"), sizing).traffic == {"5": 100}


def test_the_status_is_unknown_when_the_api_fails():
    status = cloud_run(FakeRunService(failing=True)).status("acme-main")
    assert status.state == "unknown" and "HTTP 500" in status.detail
    failed = {"labels": {"model": "acme-main"}, "terminalCondition": {
        "state": "CONDITION_FAILED", "message": "container failed to start"},
        "trafficStatuses": [{"revision": "serve-acme-main-v3-abcdef", "percent": 100}]}  # fmt: skip
    status = read_status(ENDPOINT, failed)
    assert (status.state, status.detail, status.traffic) == (
        "unknown",
        "container failed to start",
        {"3": 100},
    )


def test_a_model_may_not_update_an_endpoint_another_model_owns():
    session = FakeRunService({"labels": {"model": "acme-other"}, "trafficStatuses": [
        {"revision": "serve-acme-main-v1-abcdef", "percent": 100, "tag": "v1"}]})  # fmt: skip
    registry = FakeVertex()
    lifecycle = ModelLifecycle(VertexModelRegistry(TARGET, registry, sleep=lambda s: None),
                               cloud_run(session))  # fmt: skip
    lifecycle.registry.register(registration())
    with pytest.raises(EndpointNotOwned, match="serves model 'acme-other'"):
        lifecycle.deploy("acme-retail", resources(Preset.DEVELOPMENT), endpoint="acme-main")
    with pytest.raises(EndpointNotOwned):
        lifecycle.undeploy("acme-retail", endpoint="acme-main")
    assert [method for method, _, _ in session.calls] == ["GET", "GET"]  # read, nothing sent
    session.failing = True  # an endpoint that cannot be read is not changed either
    with pytest.raises(RegistryError, match="its state is unknown"):
        lifecycle.deploy("acme-retail", resources(Preset.DEVELOPMENT), endpoint="acme-main")


# --- Vertex AI Endpoints ---------------------------------------------------------------------

WHERE = VertexTarget(PROJECT, REGION)
VAPI = f"https://{REGION}-aiplatform.googleapis.com/v1"
VENDPOINT = f"projects/{PROJECT}/locations/{REGION}/endpoints/serve-acme-main"


def test_vertex_deploy_and_undeploy_requests():
    sizing = resources(Preset.PRODUCTION, overrides(min_instances=0, max_instances=3))
    method, url, body = deploy_model_request(WHERE, "acme-main", version("5"), sizing,
                                             keep={"101": 90})  # fmt: skip
    assert (method, url) == ("POST", f"{VAPI}/{VENDPOINT}:deployModel")
    assert body == {
        "deployedModel": {
            "model": f"projects/{PROJECT}/locations/{REGION}/models/acme-main@5",
            "displayName": "acme-main-v5",
            "dedicatedResources": {"machineSpec": {"machineType": "n1-standard-2"},
                                   "minReplicaCount": 1, "maxReplicaCount": 3},
        },
        "trafficSplit": {"0": 10, "101": 90},
    }  # fmt: skip
    assert undeploy_model_request(WHERE, "acme-main", "101", {}) == (
        "POST",
        f"{VAPI}/{VENDPOINT}:undeployModel",
        {"deployedModelId": "101", "trafficSplit": {}},
    )
    assert machine_type(resources(Preset.HIGH_TRAFFIC)) == "n1-standard-4"
    assert machine_type(resources(Preset.DEVELOPMENT, overrides(cpu="8", memory="16Gi"))) == (
        "n1-standard-8"
    )


def test_the_vertex_target_creates_its_endpoint_splits_and_undeploys():
    session = FakeVertexEndpoint(VAPI)
    target = VertexEndpointTarget(WHERE, session, sleep=lambda s: None)
    sizing = resources(Preset.DEVELOPMENT)
    assert target.status("acme-main").state == "not_deployed"
    status = target.deploy("acme-main", version("3"), sizing)
    assert (status.state, status.traffic, status.model_name) == ("serving", {"3": 100}, "acme-main")
    create = next(call for call in session.calls if call[0] == "POST")
    assert (
        create[1] == f"projects/{PROJECT}/locations/{REGION}/endpoints?endpointId=serve-acme-main"
    )
    assert create[2]["labels"] == {"endpoint": "acme-main", "model": "acme-main"}
    assert target.split("acme-main", version("3"), version("5"), 10, sizing).traffic == {
        "3": 90,
        "5": 10,
    }
    # A new deploy takes all traffic, then the versions it replaced are undeployed.
    status = target.deploy("acme-main", version("6"), sizing)
    assert status.traffic == {"6": 100} and len(session.endpoint["deployedModels"]) == 1
    assert target.undeploy("acme-main") is True
    undeploys = [body for _, path, body in session.calls if path.endswith(":undeployModel")]
    assert undeploys[-1] == {"deployedModelId": "102", "trafficSplit": {}}
    assert target.status("acme-main").state == "not_deployed"
    assert target.deploy("acme-main", version("6"), sizing).traffic == {"6": 100}


def test_the_vertex_status_is_unknown_when_the_api_fails():
    status = VertexEndpointTarget(WHERE, FakeVertexEndpoint(VAPI, failing=True)).status("acme-main")
    assert status.state == "unknown" and "HTTP 503" in status.detail


# --- Vertex AI Model Registry: promote and rollback ------------------------------------------


def test_vertex_promote_needs_an_override_for_an_unblessed_version_and_rollback_walks_back():
    vertex = FakeVertex()
    registry = VertexModelRegistry(TARGET, vertex, sleep=lambda s: None)
    registry.register(registration())
    registry.register(registration())  # champion v2, replacing v1
    assert registry.get("acme-retail").labels["previous_champion"] == "1"
    registry.register(registration(blessed=False, aliases=()))
    with pytest.raises(RegistryError, match=r"v3 was not blessed .* --override REASON"):
        registry.promote("acme-retail", "3")
    promoted = registry.promote("acme-retail", "3", override="Holiday catalogue hotfix!")
    assert promoted.aliases == ("champion",)
    assert promoted.labels["override_reason"] == "holiday_catalogue_hotfix_"
    assert promoted.labels["promoted_by_override"] == "true"
    assert registry.rollback("acme-retail").version == "2"
    assert registry.rollback("acme-retail").version == "1"
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback("acme-retail")
    with pytest.raises(RegistryError, match=r"has no version '9'"):
        registry.version_of("acme-retail", "9")
