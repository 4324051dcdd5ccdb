"""The model registry: registrations, labels, the MLflow backend on SQLite, Vertex requests."""

from __future__ import annotations

from dataclasses import replace

import pytest

from registry import CHAMPION, Registration, RegistryError
from registry.labels import version_labels
from registry.mlflow_registry import MlflowModelRegistry
from registry.vertex import VertexModelRegistry, VertexTarget, alias_request, upload_request
from tests.registry.fakes import Response

RUN_ID = "0123456789abcdef0123456789abcdef"
METRICS = {"recall_at_10": 0.3729, "recall_at_100": 0.5177, "new_recall_at_10": 0.1206}


def registration(**changes) -> Registration:
    base = Registration(
        model_name="acme-retail",
        artifact_uri="gs://acme-training-artifacts/run-7/serving_model",
        run_id=RUN_ID,
        model_type="retrieval",
        blessed=True,
        metrics=METRICS,
        aliases=(CHAMPION,),
    )
    return replace(base, **changes)


def test_a_registration_names_the_field_it_rejects():
    with pytest.raises(ValueError, match="model_name 'Acme Retail'"):
        registration(model_name="Acme Retail")
    with pytest.raises(ValueError, match="model_type 'regression'"):
        registration(model_type="regression")
    with pytest.raises(ValueError, match="alias 'Champion!'"):
        registration(aliases=("Champion!",))
    with pytest.raises(ValueError, match="a version the evaluator did not bless takes none"):
        registration(blessed=False)
    with pytest.raises(ValueError, match="run_id"):
        registration(run_id="")


def test_labels_carry_run_type_verdict_runtime_and_key_metrics():
    assert version_labels(registration()) == {
        "run_id": RUN_ID,
        "model_type": "retrieval",
        "blessed": "true",
        "runtime": "native",
        "recall_at_10": "0_3729",
        "recall_at_100": "0_5177",
        "new_recall_at_10": "0_1206",
    }
    scann = version_labels(registration(uses_scann=True, blessed=False, aliases=(), metrics={}))
    assert scann["runtime"] == "scann" and scann["blessed"] == "false"


# --- MLflow's registry on a local SQLite store -------------------------------------------------


@pytest.fixture
def local_registry(tmp_path):
    return MlflowModelRegistry(f"sqlite:///{tmp_path}/mlflow.db")


def test_mlflow_registry_versions_aliases_and_tags(local_registry, tmp_path):
    assert local_registry.get("acme-retail") is None
    assert local_registry.versions("acme-retail") == []

    first = local_registry.register(registration(artifact_uri=str(tmp_path / "m1")))
    assert (first.version, first.aliases) == ("1", (CHAMPION,))
    assert first.labels["blessed"] == "true" and first.labels["run_id"] == RUN_ID
    assert first.artifact_uri == str(tmp_path / "m1") and first.run_id == RUN_ID

    # Not blessed: registered (for the record) without aliases; the champion stays.
    local_registry.register(registration(blessed=False, aliases=(), artifact_uri="m2"))
    assert local_registry.get("acme-retail").version == "1"

    third = local_registry.register(registration(artifact_uri="m3"))
    assert local_registry.get("acme-retail") == third
    versions = local_registry.versions("acme-retail")
    assert [(v.version, v.aliases) for v in versions] == [
        ("1", ()),
        ("2", ()),
        ("3", ("champion",)),
    ]
    assert versions[1].labels["blessed"] == "false"

    # Any MLflow client reads the same registry, every metric included.
    from mlflow.tracking import MlflowClient

    uri = local_registry.registry_uri
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    version = client.get_model_version_by_alias("acme-retail", CHAMPION)
    assert str(version.version) == "3" and float(version.tags["metric.recall_at_10"]) == 0.3729


# --- Vertex AI Model Registry: requests, offline ----------------------------------------------

TARGET = VertexTarget(
    project="b2brecs-acme",
    region="europe-west4",
    image_repository="europe-docker.pkg.dev/b2brecs-platform/images",
    image_tag="1.4.0",
)
API = "https://europe-west4-aiplatform.googleapis.com/v1"
MODEL = "projects/b2brecs-acme/locations/europe-west4/models/acme-retail"


def test_first_upload_creates_the_model_with_its_alias_labels_and_container():
    url, body = upload_request(registration(), TARGET, model_exists=False, aliases=(CHAMPION,))
    assert url == f"{API}/projects/b2brecs-acme/locations/europe-west4/models:upload"
    assert body == {
        "modelId": "acme-retail",
        "model": {
            "displayName": "acme-retail",
            "description": "recommendations of endpoint acme-retail",
            "versionDescription": f"training run {RUN_ID}",
            "artifactUri": "gs://acme-training-artifacts/run-7/serving_model",
            "labels": version_labels(registration()),
            "versionAliases": ["champion"],
            "containerSpec": {
                "imageUri": "europe-docker.pkg.dev/b2brecs-platform/images/tf-serving-native:1.4.0",
                "predictRoute": "/v1/models/recommender:predict",
                "healthRoute": "/v1/models/recommender",
                "ports": [{"containerPort": 8080}],
            },
        },
    }


def test_a_later_upload_is_a_version_of_the_model_and_scann_models_get_the_python_server():
    reg = registration(uses_scann=True)
    _, body = upload_request(reg, TARGET, model_exists=True, aliases=())
    assert body["parentModel"] == MODEL and "modelId" not in body
    assert "versionAliases" not in body["model"]
    assert body["model"]["containerSpec"]["imageUri"].endswith("/model-server-scann:1.4.0")


def test_alias_requests_add_and_remove():
    assert alias_request(TARGET, "acme-retail", "2", add=("champion",), remove=("canary",)) == (
        f"{API}/{MODEL}@2:mergeVersionAliases",
        {"versionAliases": ["champion", "-canary"]},
    )


def test_the_serving_image_is_pinned():
    with pytest.raises(ValueError, match="image_tag"):
        replace(TARGET, image_tag="latest")
    lookup_only = VertexTarget("b2brecs-acme", "europe-west4")
    with pytest.raises(ValueError, match="a registration names its serving image"):
        upload_request(registration(), lookup_only, model_exists=False, aliases=())


def test_a_registry_uri_names_its_backend(tmp_path):
    from registry import open_registry

    assert isinstance(open_registry(f"sqlite:///{tmp_path}/m.db"), MlflowModelRegistry)
    vertex = open_registry("vertex://b2brecs-acme/europe-west4", session=FakeVertex())
    assert isinstance(vertex, VertexModelRegistry) and vertex.get("acme-retail") is None
    for bad in ("vertex://b2brecs-acme", "s3://bucket/x"):
        with pytest.raises(ValueError, match="registry URI"):
            open_registry(bad)


def test_a_vertex_registry_opened_for_a_release_registers_its_serving_image():
    from registry import open_registry

    vertex = FakeVertex()
    registry = open_registry("vertex://b2brecs-acme/europe-west4", session=vertex,
                             release_image="europe-docker.pkg.dev/platform/images/tfx-trainer:1.4.2")  # fmt: skip
    registry._rest._sleep = lambda s: None  # noqa: SLF001 (no real operation to wait for)
    registry.register(registration())
    (upload,) = vertex.calls_to("models:upload")
    image = upload["model"]["containerSpec"]["imageUri"]
    assert image == "europe-docker.pkg.dev/platform/images/tf-serving-native:1.4.2"
    with pytest.raises(ValueError, match="is not a pinned"):
        open_registry("vertex://b2brecs-acme/europe-west4", session=vertex,
                      release_image="europe-docker.pkg.dev/platform/images/tfx-trainer:latest")  # fmt: skip


class FakeVertex:
    """The few Model Registry routes the backend calls, enough to follow its requests."""

    def __init__(self, fail_upload: bool = False):
        self.calls: list[tuple[str, str, object]] = []
        self.versions: list[dict] = []
        self.fail_upload = fail_upload

    def request(self, method, url, json=None):
        self.calls.append((method, url, json))
        path = url.removeprefix(API + "/")
        if method == "POST" and path.endswith("models:upload"):
            return Response(200, {"name": "operations/upload-1", "done": False})
        if method == "GET" and path == "operations/upload-1":
            if self.fail_upload:
                return Response(200, {"name": "operations/upload-1", "done": True,
                                       "error": {"message": "artifact not found"}})  # fmt: skip
            body = self.calls_to("models:upload")[-1]
            version = {**body["model"], "name": MODEL, "versionId": str(len(self.versions) + 1)}
            version.setdefault("versionAliases", [])
            self.versions.append(version)
            return Response(200, {"name": "operations/upload-1", "done": True,
                                   "response": {"model": MODEL,
                                                "modelVersionId": version["versionId"]}})  # fmt: skip
        if method == "POST" and path.endswith(":mergeVersionAliases"):
            version = self._find(path.removesuffix(":mergeVersionAliases").split("@")[1])
            for alias in json["versionAliases"]:
                if alias.startswith("-"):
                    version["versionAliases"].remove(alias[1:])
                else:
                    version["versionAliases"].append(alias)
            return Response(200, version)
        if method == "PATCH" and path.startswith(MODEL) and path.endswith("?updateMask=labels"):
            version = self._find(path.removesuffix("?updateMask=labels").split("@")[1])
            version["labels"] = dict(json["labels"])
            return Response(200, version)
        if method == "GET" and path == f"{MODEL}:listVersions":
            return Response(200, {"models": self.versions})
        if method == "GET" and path.startswith(MODEL):
            if not self.versions:
                return Response(404, {"error": {"code": 404}})
            if "@" not in path:
                return Response(200, self.versions[-1])
            found = self._find(path.split("@")[1])
            return Response(200, found) if found else Response(404, {"error": {"code": 404}})
        raise AssertionError(f"unexpected call {method} {url}")

    def _find(self, ref):
        for v in self.versions:
            if v["versionId"] == ref or ref in v["versionAliases"]:
                return v
        return None

    def calls_to(self, suffix):
        return [body for method, url, body in self.calls if url.endswith(suffix)]


def test_vertex_registry_uploads_then_moves_the_champion_alias():
    vertex = FakeVertex()
    registry = VertexModelRegistry(TARGET, vertex, sleep=lambda s: None)
    first = registry.register(registration())
    assert (first.version, first.aliases, first.resource_name) == ("1", ("champion",), f"{MODEL}@1")
    (upload,) = vertex.calls_to("models:upload")
    assert upload["modelId"] == "acme-retail" and upload["model"]["versionAliases"] == ["champion"]

    second = registry.register(registration(artifact_uri="gs://acme-training-artifacts/run-8/m"))
    upload = vertex.calls_to("models:upload")[-1]
    assert upload["parentModel"] == MODEL and "versionAliases" not in upload["model"]
    # The alias moves only after the upload succeeded: off version 1, onto version 2.
    assert vertex.calls_to(":mergeVersionAliases") == [
        {"versionAliases": ["-champion"]},
        {"versionAliases": ["champion"]},
    ]
    assert second.aliases == ("champion",) and registry.get("acme-retail").version == "2"


def test_a_failed_upload_raises_and_moves_no_alias():
    vertex = FakeVertex()
    registry = VertexModelRegistry(TARGET, vertex, sleep=lambda s: None)
    registry.register(registration())
    vertex.fail_upload = True
    with pytest.raises(RegistryError, match="upload failed: artifact not found"):
        registry.register(registration())
    assert vertex.calls_to(":mergeVersionAliases") == []
    assert registry.get("acme-retail").version == "1"


def test_an_http_error_names_the_call():
    class Forbidden:
        def request(self, method, url, json=None):
            return Response(403, {"error": {"message": "permission denied"}})

    registry = VertexModelRegistry(TARGET, Forbidden())
    with pytest.raises(RegistryError, match=r"GET .*models/acme-retail: HTTP 403"):
        registry.register(registration())
