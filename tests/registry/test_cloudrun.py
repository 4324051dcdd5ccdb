"""Cloud Run deployment requests (registry.cloudrun), field by field, offline."""

from __future__ import annotations

from dataclasses import replace

import pytest

from infra.config import Preset
from registry import ModelVersion, RegistryError
from registry.cloudrun import (
    CloudRunDeployer,
    Endpoint,
    deploy_request,
    invoker_policy_request,
    versioned_model_path,
)
from tests.registry.fakes import FakeCloudRun

ENDPOINT = Endpoint(
    name="acme-main",
    project="b2brecs-acme",
    region="europe-central2",
    preset=Preset.PRODUCTION,
    service_account="model-serving@b2brecs-acme.iam.gserviceaccount.com",
    app_member="serviceAccount:django-app@b2brecs-acme.iam.gserviceaccount.com",
)
VERSION = ModelVersion(
    model_name="acme-retail", version="3", artifact_uri="gs://a/m", run_id="r", aliases=(),
    labels={},
)  # fmt: skip
IMAGE = "europe-docker.pkg.dev/b2brecs-platform/images/tf-serving-native:1.4.0"
SERVICE = "projects/b2brecs-acme/locations/europe-central2/services/serve-acme-main"


def test_the_versioned_model_path_names_model_and_version():
    assert versioned_model_path("gs://b2brecs-acme-models/", VERSION) == (
        "gs://b2brecs-acme-models/acme-retail/v3/"
    )


def test_deploy_request_sizes_the_service_by_its_preset_and_serves_the_versioned_path():
    path = versioned_model_path("gs://b2brecs-acme-models", VERSION)
    method, url, body = deploy_request(ENDPOINT, VERSION, image=IMAGE, model_path=path)
    assert (method, url) == ("PATCH", f"https://run.googleapis.com/v2/{SERVICE}?allowMissing=true")
    labels = {"endpoint": "acme-main", "preset": "production", "model": "acme-retail",
              "model_version": "3"}  # fmt: skip
    revision = body["template"]["revision"]
    assert revision.startswith("serve-acme-main-v3-")
    assert body == {
        "labels": labels,
        "ingress": "INGRESS_TRAFFIC_ALL",
        "template": {
            "labels": labels,
            "serviceAccount": "model-serving@b2brecs-acme.iam.gserviceaccount.com",
            "scaling": {"minInstanceCount": 1, "maxInstanceCount": 10},
            "timeout": "300s",
            "revision": revision,
            "containers": [
                {
                    "image": IMAGE,
                    "ports": [{"containerPort": 8080}],
                    "resources": {"limits": {"cpu": "2", "memory": "4Gi"}},
                    "env": [
                        {"name": "ENDPOINT", "value": "acme-main"},
                        {"name": "MODEL_URI", "value": "gs://b2brecs-acme-models/acme-retail/v3/"},
                        {"name": "MODEL_VERSION", "value": "3"},
                    ],
                    "startupProbe": {"httpGet": {"path": "/v1/models/recommender"}},
                }
            ],
        },
        "traffic": [{"type": "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION", "revision": revision,
                     "percent": 100, "tag": "v3"}],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("preset", "scaling", "limits"),
    [
        (Preset.DEVELOPMENT, (0, 2), ("1", "2Gi")),
        (Preset.PRODUCTION, (1, 10), ("2", "4Gi")),
        (Preset.HIGH_TRAFFIC, (2, 50), ("4", "8Gi")),
    ],
)
def test_every_preset_of_the_seeds(preset, scaling, limits):
    _, _, body = deploy_request(replace(ENDPOINT, preset=preset), VERSION, image=IMAGE,
                                model_path="gs://m/")  # fmt: skip
    template = body["template"]
    assert tuple(template["scaling"].values()) == scaling
    container = template["containers"][0]["resources"]["limits"]
    assert (container["cpu"], container["memory"]) == limits


def test_a_service_name_cloud_run_would_refuse_fails_before_any_call():
    for bad in ("Acme", "a" * 45, "acme-"):
        with pytest.raises(ValueError, match="Cloud Run service name"):
            deploy_request(replace(ENDPOINT, name=bad), VERSION, image=IMAGE, model_path="gs://m/")


def test_only_a_public_endpoint_admits_all_users():
    _, url, body = invoker_policy_request(ENDPOINT)
    assert url == f"https://run.googleapis.com/v2/{SERVICE}:setIamPolicy"
    assert body["policy"]["bindings"] == [
        {"role": "roles/run.invoker", "members": [ENDPOINT.app_member]}
    ]
    _, _, body = invoker_policy_request(replace(ENDPOINT, public=True))
    assert body["policy"]["bindings"][0]["members"] == [ENDPOINT.app_member, "allUsers"]


def test_the_deployer_waits_for_the_rollout_then_sets_the_invokers():
    cloud = FakeCloudRun({"response": {"uri": "https://serve-acme-main-xyz.a.run.app"}})
    url = CloudRunDeployer(cloud, sleep=lambda s: None).deploy(
        ENDPOINT, VERSION, image=IMAGE, model_path="gs://m/acme-retail/v3/"
    )
    assert url == "https://serve-acme-main-xyz.a.run.app"
    assert cloud.calls == [
        ("PATCH", f"{SERVICE}?allowMissing=true"),
        ("GET", "operations/deploy-1"),
        ("POST", f"{SERVICE}:setIamPolicy"),
    ]


def test_a_failed_rollout_raises_and_changes_no_access():
    cloud = FakeCloudRun({"error": {"message": "image not found"}})
    with pytest.raises(RegistryError, match="deploying serve-acme-main failed: image not found"):
        CloudRunDeployer(cloud, sleep=lambda s: None).deploy(
            ENDPOINT, VERSION, image=IMAGE, model_path="gs://m/"
        )
    assert [method for method, _ in cloud.calls] == ["PATCH", "GET"]
