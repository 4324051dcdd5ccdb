"""The Python model server over a real SavedModel on localhost: routes, formats, errors."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from serving.model_server import ServerThread, listening_url, resolve_model_dir
from tests.serving.tiny_model import CATALOGUE, save_tiny_model


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    base = tmp_path_factory.mktemp("model")
    # A TF Serving base path with two versions: the newest must be served.
    for version in ("1", "2"):
        save_tiny_model(base / version)
    with ServerThread(base) as server:
        yield f"{server.url}/v1/models/recommender"


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
    assert "unknown model 'other'; this server serves 'recommender'" in answer["error"]


def test_missing_model_dir_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SavedModel"):
        resolve_model_dir(tmp_path)


@pytest.mark.parametrize(
    ("path", "body", "status", "expected"),
    [
        (":predict", {"instances": [{"customer_id": "C1", "revenue": [1, 2]}]}, 400,
         "input 'revenue': one float32 value per row, not a list"),
        (":predict", {"instances": [{"customer_id": "C1", "revenue": 1}] * 10_000}, 400,
         "too many instances: 10000; at most 1000"),
        (":predict", {"inputs": {"customer_id": ["C1"], "revenue": [1, 2]}}, 400,
         "inputs have different lengths"),
        (":predict", {"instances": [1, 2]}, 400, "each instance must be an object"),
        (":predict", [1, 2], 400, "the body must be a JSON object"),
        # Python writes an infinite float as `Infinity`, which is not JSON; `1e400` is JSON
        # but no finite double.
        (":predict", {"instances": [{"customer_id": "C1", "revenue": 1e400}]}, 400,
         "body is not JSON: unexpected character"),
        (":predict", b'{"instances": [{"customer_id": "C1", "revenue": 1e400}]}', 400,
         "body is not JSON: number is infinity"),
        (":predict", b'{"instances": [{"customer_id": "C1", "revenue": 1}]} trailing', 400,
         "body is not JSON: unexpected content after document"),
        ("/versions/7:predict", {"instances": [{"customer_id": "C1", "revenue": 1}]}, 404,
         "unknown version '7'"),
        (":explain", {"instances": []}, 404, "Not Found"),
        (":predict", b"x" * (10 * 1024 * 1024), 413, "over 4194304 bytes"),
    ],
)  # fmt: skip
def test_hostile_requests_get_a_4xx_naming_the_problem(server_url, path, body, status, expected):
    got, answer = _call(f"{server_url}{path}", body)
    assert got == status, answer
    assert expected in answer["error"]
    # ... and the server keeps answering.
    ok, _ = _call(f"{server_url}:predict", {"instances": [{"customer_id": "C", "revenue": 1}]})
    assert ok == 200


def test_a_predict_route_answers_get_with_a_json_405(server_url):
    request = urllib.request.Request(f"{server_url}:predict", method="GET")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=30)
    assert error.value.code == 405
    assert "Method Not Allowed" in json.loads(error.value.read())["error"]


def test_liveness_and_readiness(server_url):
    root = server_url.split("/v1/")[0]
    assert _call(f"{root}/healthz") == (200, {"status": "alive"})
    status, body = _call(f"{root}/readyz")
    assert status == 200 and body["status"] == "ready" and body["version"] == "2"


def test_concurrent_requests_share_model_calls_and_each_gets_its_own_answer(tmp_path):
    """Forty clients at once: fewer model calls than requests, every answer its own."""
    from concurrent.futures import ThreadPoolExecutor

    from serving.app import BATCHER

    save_tiny_model(tmp_path / "1")
    with ServerThread(tmp_path) as server:
        url = f"{server.url}/v1/models/recommender:predict"

        def ask(i):
            return _call(url, {"instances": [{"customer_id": "C" * (i % 5 + 1), "revenue": i}]})

        with ThreadPoolExecutor(40) as pool:
            answers = list(pool.map(ask, range(200)))
        batcher = server._app[BATCHER]  # noqa: SLF001 (the test reads its counters)
    for i, (status, body) in enumerate(answers):
        assert status == 200
        expected = (i % 5 + 1) + i  # the tiny model: len(customer_id) + revenue, times 3/2/1
        assert body["predictions"][0]["scores"] == pytest.approx([3 * expected, 2 * expected,
                                                                  expected])  # fmt: skip
    assert batcher.rows == 200 and batcher.batches < 200


def test_sigterm_answers_the_request_in_flight_then_exits(tmp_path):
    """Graceful shutdown: a request waiting in a batch when SIGTERM arrives still gets its
    answer, and the process exits 0."""
    import signal
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    save_tiny_model(tmp_path / "1")
    root = Path(__file__).resolve().parents[2]
    # A two-second batch timeout keeps the request in flight while the signal arrives.
    server = subprocess.Popen(
        [sys.executable, "-m", "serving.model_server", "--model-dir", str(tmp_path), "--port", "0",
         "--batch-timeout-micros", "2000000", "--intra-op-threads", "1", "--inter-op-threads", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root,
    )  # fmt: skip
    try:
        root_url = None
        while root_url is None:  # TensorFlow's start-up lines come first
            line = server.stdout.readline()
            assert line, "the server exited before serving"
            root_url = listening_url(line)
        url = f"{root_url}/v1/models/recommender"
        answers = []
        request = threading.Thread(target=lambda: answers.append(_call(
            f"{url}:predict", {"instances": [{"customer_id": "C1", "revenue": 1}]})))  # fmt: skip
        request.start()
        time.sleep(0.5)
        server.send_signal(signal.SIGTERM)
        request.join(timeout=30)
        assert server.wait(timeout=30) == 0
    finally:
        server.kill()
    [(status, body)] = answers
    assert status == 200 and body["predictions"][0]["product_ids"] == CATALOGUE
    output = server.stdout.read()
    assert "draining requests in flight" in output
    # The access log, flushed on the way out: one JSON line per request, with its latency.
    import json

    [logged] = [json.loads(x) for x in output.splitlines() if x.startswith('{"time"')]
    assert logged["path"] == "/v1/models/recommender:predict" and logged["status"] == 200
    assert logged["latency_ms"] >= 500  # it waited in the batch while the signal arrived
