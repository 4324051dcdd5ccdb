"""An MLflow tracking server on 127.0.0.1, and a Cloud-Run-like proxy in front of it, for the
experiments CLI's tests.

mlflow-skinny has no `mlflow server` (no Flask), so `mlflow_server` serves the read endpoints
of MLflow's REST API that the experiments queries call (experiments get-by-name and search,
runs search, metric history) over MLflow's own SQLAlchemy store of a real SQLite database,
encoding answers with MLflow's own protobuf messages: `MlflowClient` talks to it as to
`mlflow server`.

`proxy` forwards every request to it, as Cloud Run fronts a private service: it answers 401 to
a request without the expected bearer token, and 503 (a cold start after scale-to-zero) to
the first `cold_starts` requests.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field

PREFIX = "/api/2.0/mlflow/"


def _view_type(value) -> int:
    from mlflow.entities import ViewType
    from mlflow.protos.service_pb2 import ViewType as ProtoViewType

    if value in (None, ""):
        return ViewType.ACTIVE_ONLY
    number = ProtoViewType.Value(value) if isinstance(value, str) else int(value)
    return ViewType.from_proto(number)


def _routes(store):
    from mlflow.protos import service_pb2 as pb
    from mlflow.utils.proto_json_utils import message_to_json

    def search_runs(body):
        runs = store.search_runs(
            experiment_ids=body.get("experiment_ids", []),
            filter_string=body.get("filter", ""),
            run_view_type=_view_type(body.get("run_view_type")),
            max_results=int(body.get("max_results", 1000)),
            order_by=body.get("order_by", []),
            page_token=body.get("page_token") or None,
        )
        answer = pb.SearchRuns.Response()
        answer.runs.extend(r.to_proto() for r in runs)
        if runs.token:
            answer.next_page_token = runs.token
        return message_to_json(answer)

    def search_experiments(body):
        found = store.search_experiments(
            view_type=_view_type(body.get("view_type")),
            max_results=int(body.get("max_results", 1000)),
            filter_string=body.get("filter", ""),
            order_by=body.get("order_by", []),
            page_token=body.get("page_token") or None,
        )
        answer = pb.SearchExperiments.Response()
        answer.experiments.extend(e.to_proto() for e in found)
        if found.token:
            answer.next_page_token = found.token
        return message_to_json(answer)

    def get_by_name(body):
        experiment = store.get_experiment_by_name(body["experiment_name"])
        if experiment is None:
            return None
        return message_to_json(pb.GetExperimentByName.Response(experiment=experiment.to_proto()))

    def metric_history(body):
        points = store.get_metric_history(body.get("run_id") or body["run_uuid"],
                                          body["metric_key"])  # fmt: skip
        answer = pb.GetMetricHistory.Response()
        answer.metrics.extend(m.to_proto() for m in points)
        return message_to_json(answer)

    return {
        ("POST", "runs/search"): search_runs,
        ("POST", "experiments/search"): search_experiments,
        ("GET", "experiments/search"): search_experiments,
        ("GET", "experiments/get-by-name"): get_by_name,
        ("GET", "metrics/get-history"): metric_history,
    }


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (a timeout test) is no error of the server's


def _serve(handler_class) -> tuple[_Server, str]:
    server = _Server(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@contextlib.contextmanager
def mlflow_server(store_uri: str):
    """Yields the base URL of an MLflow REST server over the store at `store_uri`."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    artifacts = store_uri[len("sqlite:///") :] + "-artifacts"
    routes = _routes(SqlAlchemyStore(store_uri, artifacts))

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _reply(self, status: int, text: str) -> None:
            data = text.encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            url = urllib.parse.urlsplit(self.path)
            route = routes.get((method, url.path[len(PREFIX) :]))
            if not url.path.startswith(PREFIX) or route is None:
                self._reply(404, json.dumps({"error_code": "ENDPOINT_NOT_FOUND",
                                             "message": f"{method} {url.path}"}))  # fmt: skip
                return
            if method == "GET":
                body = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
            else:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
            answer = route(body)
            if answer is None:
                self._reply(404, json.dumps({"error_code": "RESOURCE_DOES_NOT_EXIST",
                                             "message": "not found"}))  # fmt: skip
            else:
                self._reply(200, answer)

        def do_GET(self):  # noqa: N802 (http.server API)
            self._handle("GET")

        def do_POST(self):  # noqa: N802 (http.server API)
            self._handle("POST")

    server, url = _serve(Handler)
    try:
        yield url
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class ProxyLog:
    """What the proxy answered: one status per request, in order."""

    statuses: list[int] = field(default_factory=list)


@contextlib.contextmanager
def proxy(upstream: str, *, token: str, cold_starts: int = 0, delay_seconds: float = 0.0):
    """Yields (base URL, ProxyLog) of a proxy to `upstream` that wants `Bearer <token>`,
    answers 503 to its first `cold_starts` requests and waits `delay_seconds` before each
    answer (a slow server)."""
    state = ProxyLog()
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def _answer(self, status: int, data: bytes, content_type: str = "text/html") -> None:
            with lock:
                state.statuses.append(status)
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _forward(self, method: str) -> None:
            time.sleep(delay_seconds)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            if self.headers.get("Authorization") != f"Bearer {token}":
                # Cloud Run's answer to a missing or wrong identity token.
                self._answer(401, b"<html><body>401 Unauthorized</body></html>")
                return
            with lock:
                cold = len([s for s in state.statuses if s == 503]) < cold_starts
            if cold:
                self._answer(503, b"<html><body>Service Unavailable</body></html>")
                return
            request = urllib.request.Request(upstream + self.path, data=body, method=method,
                                             headers={"Content-Type": "application/json"})  # fmt: skip
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    self._answer(response.status, response.read(), "application/json")
            except urllib.error.HTTPError as error:
                self._answer(error.code, error.read(), "application/json")
            except urllib.error.URLError:
                self._answer(502, b"<html><body>Bad Gateway</body></html>")

        def do_GET(self):  # noqa: N802 (http.server API)
            self._forward("GET")

        def do_POST(self):  # noqa: N802 (http.server API)
            self._forward("POST")

    server, url = _serve(Handler)
    try:
        yield url, state
    finally:
        server.shutdown()
        server.server_close()
