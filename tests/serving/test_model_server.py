"""The Python model server over a real SavedModel on localhost: routes, formats, errors."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request

import pytest

from serving.model_server import make_server, resolve_model_dir
from tests.serving.tiny_model import CATALOGUE, save_tiny_model


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    base = tmp_path_factory.mktemp("model")
    # A TF Serving base path with two versions: the newest must be served.
    for version in ("1", "2"):
        save_tiny_model(base / version)
    server = make_server(base, model_name="recommender", port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}/v1/models/recommender"
    server.shutdown()
    server.server_close()


def _call(url: str, body=None) -> tuple[int, dict]:
    data = (
        None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    )
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_status_reports_newest_version(server_url):
    status, body = _call(server_url)
    assert status == 200
    assert body["model_version_status"][0] == {
        "version": "2",
        "state": "AVAILABLE",
        "status": {"error_code": "OK", "error_message": ""},
    }


def test_metadata_lists_signature_inputs(server_url):
    status, body = _call(f"{server_url}/metadata")
    assert status == 200
    inputs = body["metadata"]["signature_def"]["serving_default"]["inputs"]
    assert inputs == {
        "customer_id": {"dtype": "string", "shape": [None]},
        "revenue": {"dtype": "float32", "shape": [None]},
    }


def test_row_format_returns_one_prediction_per_instance(server_url):
    status, body = _call(f"{server_url}:predict", {"instances": [
        {"customer_id": "C1", "revenue": 1.0},
        {"customer_id": "C123", "revenue": 0.5},
    ]})  # fmt: skip
    assert status == 200
    first, second = body["predictions"]
    assert first["product_ids"] == CATALOGUE
    assert first["scores"] == pytest.approx([9.0, 6.0, 3.0])
    assert second["scores"] == pytest.approx([13.5, 9.0, 4.5])


def test_a_request_picks_its_signature(server_url):
    status, body = _call(f"{server_url}/metadata")
    assert sorted(body["metadata"]["signature_def"]) == ["serving_default", "with_history"]
    assert body["metadata"]["signature_def"]["with_history"]["inputs"]["history"] == {
        "dtype": "string",
        "shape": [None, None],
    }
    status, body = _call(f"{server_url}:predict", {
        "signature_name": "with_history",
        "instances": [{"customer_id": "C1", "history": ["P-C", "P-C", "P-A"]}],
    })  # fmt: skip
    assert status == 200
    assert body["predictions"][0]["scores"] == [1.0, 0.0, 2.0]
    status, body = _call(f"{server_url}:predict", {
        "signature_name": "discover", "instances": [{"customer_id": "C1", "revenue": 1.0}],
    })  # fmt: skip
    assert status == 400
    assert "unknown signature_name 'discover'" in body["error"]
    assert "['serving_default', 'with_history']" in body["error"]


def test_columnar_format(server_url):
    status, body = _call(
        f"{server_url}:predict", {"inputs": {"customer_id": ["C1"], "revenue": [2]}}
    )
    assert status == 200
    assert body["outputs"]["product_ids"] == [CATALOGUE]
    assert body["outputs"]["scores"] == [pytest.approx([12.0, 8.0, 4.0])]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"instances": [{"customer_id": "C1"}]}, "missing inputs ['revenue']"),
        (
            {"instances": [{"customer_id": "C1", "revenue": 1, "city": "x"}]},
            "unknown inputs ['city']",
        ),
        ({"instances": [{"customer_id": "C1", "revenue": "lots"}]}, "input 'revenue'"),
        ({"instances": []}, "non-empty list"),
        ({"rows": []}, "needs 'instances'"),
        (b"{not json", "not JSON"),
    ],
)
def test_bad_requests_are_400_naming_the_problem(server_url, body, expected):
    status, answer = _call(f"{server_url}:predict", body)
    assert status == 400
    assert expected in answer["error"]


def test_unknown_model_is_404(server_url):
    status, answer = _call(
        server_url.replace("recommender", "other") + ":predict", {"instances": []}
    )
    assert status == 404
    assert "no route" in answer["error"]


def test_missing_model_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SavedModel"):
        resolve_model_dir(tmp_path)
