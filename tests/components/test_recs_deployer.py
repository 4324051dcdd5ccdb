"""The Deploy stage: skipped, deployed (locally on 127.0.0.1, or Cloud Run through a fake of
its API), or deploy_failed with the error, never failing the run; and local rollouts."""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from components.recs_deployer.executor import deploy
from registry.local_serving import LocalServing
from tests.registry.fakes import FakeCloudRun
from tests.serving.tiny_model import CATALOGUE, save_tiny_model

IMAGE = "europe-docker.pkg.dev/platform/images/tfx-trainer:1.2.3"
REGISTERED = {
    "registered": True,
    "model_name": "acme-main",
    "version": "3",
    "artifact_uri": "gs://acme-models/acme-main/v3",
    "run_id": "run-3",
    "aliases": ["champion"],
}
NOT_REGISTERED = {"registered": False, "model_name": "acme-main", "reason": "not blessed: x"}
CLOUD_RUN = {
    "deploy_target": "cloud_run",
    "deploy_preset": "production",
    "deploy_region": "europe-central2",
    "deploy_public": 0,
    "deploy_port": 0,
    "project": "acme-recs",
    "worker_image": IMAGE,
    "models_dir": "gs://acme-models",
}


def test_a_disabled_deploy_is_skipped():
    record = deploy(REGISTERED, CLOUD_RUN | {"deploy_target": "none"})
    assert record["status"] == "skipped" and "disabled" in record["reason"]
    assert record["endpoint_url"] == ""


def test_nothing_registered_is_nothing_deployed():
    cloud = FakeCloudRun({"response": {"uri": "https://x"}}, done_at_once=True)
    record = deploy(NOT_REGISTERED, CLOUD_RUN, session=cloud)
    assert record["status"] == "skipped"
    assert record["reason"] == "nothing registered to deploy: not blessed: x"
    assert cloud.calls == []


def test_cloud_run_serves_the_registered_version_with_the_preset_and_the_pinned_image():
    cloud = FakeCloudRun({"response": {"uri": "https://serve-acme-main-x.a.run.app"}},
                         done_at_once=True)  # fmt: skip
    record = deploy(REGISTERED, CLOUD_RUN, session=cloud)
    assert record["status"] == "deployed", record
    assert record["endpoint_url"] == "https://serve-acme-main-x.a.run.app"
    assert (record["target"], record["preset"], record["version"]) == (
        "cloud_run",
        "production",
        "3",
    )
    service = "projects/acme-recs/locations/europe-central2/services/serve-acme-main"
    assert cloud.calls == [("PATCH", f"{service}?allowMissing=true"),
                           ("POST", f"{service}:setIamPolicy")]  # fmt: skip
    template = cloud.bodies[0]["template"]
    assert template["serviceAccount"] == "model-serving@acme-recs.iam.gserviceaccount.com"
    assert template["scaling"] == {"minInstanceCount": 1, "maxInstanceCount": 10}
    [container] = template["containers"]
    # The brute-force model goes to TF Serving's image (serving.routing), same release.
    assert container["image"] == "europe-docker.pkg.dev/platform/images/tf-serving-native:1.2.3"
    env = {item["name"]: item["value"] for item in container["env"]}
    assert env["MODEL_URI"] == "gs://acme-models/acme-main/v3" and env["MODEL_VERSION"] == "3"
    members = cloud.bodies[1]["policy"]["bindings"][0]["members"]
    assert members == ["serviceAccount:django-app@acme-recs.iam.gserviceaccount.com"]


def test_a_scann_model_is_served_by_the_python_server_image():
    cloud = FakeCloudRun({"response": {"uri": "https://x"}}, done_at_once=True)
    record = deploy(REGISTERED | {"uses_scann": True}, CLOUD_RUN, session=cloud)
    assert record["status"] == "deployed", record
    [container] = cloud.bodies[0]["template"]["containers"]
    assert container["image"] == "europe-docker.pkg.dev/platform/images/model-server-scann:1.2.3"


def test_a_public_endpoint_runs_as_its_own_account_and_admits_all_users():
    cloud = FakeCloudRun({"response": {"uri": "https://x"}}, done_at_once=True)
    record = deploy(REGISTERED, CLOUD_RUN | {"deploy_public": 1}, session=cloud)
    assert record["status"] == "deployed", record
    # The account infra declares for a public endpoint (it reads only the model's folder).
    assert cloud.bodies[0]["template"]["serviceAccount"] == (
        "pub-acme-main@acme-recs.iam.gserviceaccount.com"
    )
    members = cloud.bodies[1]["policy"]["bindings"][0]["members"]
    assert members == ["serviceAccount:django-app@acme-recs.iam.gserviceaccount.com", "allUsers"]


def test_a_failed_rollout_is_deploy_failed_not_a_failed_run():
    cloud = FakeCloudRun({"error": {"message": "image not found"}}, done_at_once=True)
    record = deploy(REGISTERED, CLOUD_RUN, session=cloud)
    assert record["status"] == "deploy_failed"
    assert "deploying serve-acme-main failed: image not found" in record["error"]
    assert [method for method, _ in cloud.calls] == ["PATCH"]  # no access was granted


@pytest.mark.parametrize(
    ("change", "named"),
    [({"deploy_region": ""}, "deploy_region"), ({"worker_image": "img:latest"}, "worker_image"),
     ({"deploy_preset": "huge"}, "deploy_preset"), ({"project": ""}, "project")],
)  # fmt: skip
def test_bad_settings_at_run_time_are_deploy_failed_naming_the_parameter(change, named):
    record = deploy(REGISTERED, CLOUD_RUN | change, session=FakeCloudRun({}))
    assert record["status"] == "deploy_failed" and record["error"].startswith(f"{named}: ")


def test_the_executor_records_the_outcome(tmp_path):

    from components.recs_deployer.executor import Executor
    from components.recs_deployer.spec import ModelDeployment
    from components.recs_registrar.spec import ModelRegistration

    registration = ModelRegistration()
    registration.uri = str(tmp_path / "registration")
    os.makedirs(registration.uri)
    (tmp_path / "registration" / "registration.json").write_text(json.dumps(NOT_REGISTERED))
    out = ModelDeployment()
    out.uri = str(tmp_path / "deployment")
    Executor().Do({"registration": [registration]}, {"deployment": [out]},
                  CLOUD_RUN | {"deploy_target": "local"})  # fmt: skip
    record = json.loads((tmp_path / "deployment" / "deployment.json").read_text())
    assert record["status"] == "skipped" and out.get_string_custom_property("status") == "skipped"


def _ask(url: str) -> dict:
    body = json.dumps({"instances": [{"customer_id": "C-1", "revenue": 1.0}]}).encode()
    request = urllib.request.Request(f"{url}/v1/models/recommender:predict", data=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_a_local_rollout_replaces_the_server_only_once_the_new_one_answers(tmp_path):
    models = tmp_path / "models"
    v1 = save_tiny_model(models / "acme-main" / "v1")
    v2 = save_tiny_model(models / "acme-main" / "v2")
    serving = LocalServing(models, start_timeout=120)
    try:
        first = serving.deploy("acme-main", "1", str(v1))
        assert first.url.startswith("http://127.0.0.1:")
        assert _ask(first.url)["predictions"][0]["product_ids"] == CATALOGUE

        # A version whose files are broken does not start; version 1 keeps serving.
        broken = models / "acme-main" / "v9"
        broken.mkdir()
        (broken / "saved_model.pb").write_bytes(b"not a SavedModel")
        with pytest.raises(Exception, match="the model server exited with code"):
            serving.deploy("acme-main", "9", str(broken))
        assert serving.status("acme-main").version == "1"
        assert _ask(first.url)["predictions"]

        second = serving.deploy("acme-main", "2", str(v2))
        assert serving.status("acme-main").version == "2" and _ask(second.url)["predictions"]
        with pytest.raises(OSError):  # the old server was stopped after the new one answered
            _ask(first.url)
    finally:
        serving.undeploy("acme-main")
    assert serving.status("acme-main") is None
