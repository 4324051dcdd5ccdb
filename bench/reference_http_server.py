"""The reference of bench/serving_latency.py: the model server as it was before micro-batching
(Python's http.server, one prediction at a time behind a lock), kept unchanged so the benchmark
measures the new server against it in the same run. Not used by the platform.

    python bench/reference_http_server.py --model-dir DIR [--model-name recommender] [--port 8501]

Routes (as TF Serving's):
    GET  /v1/models/<name>            model status
    GET  /v1/models/<name>/metadata   every signature's inputs and outputs
    POST /v1/models/<name>:predict    {"instances": [{...}, ...]} or {"inputs": {name: [...]}},
                                      optionally with "signature_name" (default serving_default)

Row format ("instances") answers {"predictions": [{"product_ids": [...], "scores": [...]}, ...]};
columnar format ("inputs") answers {"outputs": {...}}. Bad requests get 400 with {"error": ...}
naming the input at fault, as TF Serving does.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

log = logging.getLogger("serving.model_server")


class RequestError(ValueError):
    """The request is malformed; the message is returned to the caller with status 400."""


def resolve_model_dir(path: Path) -> tuple[Path, str]:
    """A SavedModel folder, or a TF Serving base path with numeric versions (newest wins)."""
    path = Path(path)
    if (path / "saved_model.pb").exists():
        return path, "1"
    versions = sorted((p for p in path.glob("*") if p.name.isdigit()), key=lambda p: int(p.name))
    if versions and (versions[-1] / "saved_model.pb").exists():
        return versions[-1], versions[-1].name
    raise FileNotFoundError(f"no SavedModel in {path} (nor in a numeric version folder under it)")


class _Signature:
    """One signature of the SavedModel: its input and output specs, and the function."""

    def __init__(self, function):
        self.function = function
        _, self.input_specs = function.structured_input_signature
        self.output_specs = function.structured_outputs


class LoadedModel:
    """A SavedModel's signatures with JSON → tensor conversion.

    A request picks a signature with "signature_name", as in TF Serving's REST API; without it
    the request goes to `default_signature`. The platform's history-aware models export
    `serving_default`, `discover` and `with_history`.
    """

    def __init__(self, model_dir: Path, default_signature: str = "serving_default"):
        import tensorflow as tf

        self.tf = tf
        self.path, self.version = resolve_model_dir(model_dir)
        self._saved = tf.saved_model.load(str(self.path))
        self.signatures = {
            name: _Signature(function) for name, function in self._saved.signatures.items()
        }
        if default_signature not in self.signatures:
            raise ValueError(f"{self.path} has no signature {default_signature!r}")
        self.default_signature = default_signature
        # Concrete functions are thread-safe, but TF's eager context is not worth the risk
        # on a 2-core box; one prediction at a time.
        self._lock = threading.Lock()

    def metadata(self) -> dict:
        def describe(specs):
            return {
                name: {"dtype": spec.dtype.name, "shape": spec.shape.as_list()}
                for name, spec in sorted(specs.items())
            }

        return {
            "model_spec": {"name": None, "version": self.version},
            "metadata": {
                "signature_def": {
                    name: {
                        "inputs": describe(signature.input_specs),
                        "outputs": describe(signature.output_specs),
                    }
                    for name, signature in sorted(self.signatures.items())
                }
            },
        }

    def signature(self, name: str | None) -> _Signature:
        """The signature a request names (the default when None)."""
        name = self.default_signature if name is None else name
        if not isinstance(name, str) or name not in self.signatures:
            raise RequestError(
                f"unknown signature_name {name!r}; the model has {sorted(self.signatures)}"
            )
        return self.signatures[name]

    def _tensor(self, signature: _Signature, name: str, values: list) -> Any:
        spec = signature.input_specs[name]
        try:
            if spec.dtype == self.tf.string:
                values = [_strings(v) for v in values]
            return self.tf.constant(values, dtype=spec.dtype)
        except (TypeError, ValueError) as exc:
            raise RequestError(
                f"input {name!r}: cannot convert to {spec.dtype.name}: {exc}"
            ) from exc

    def predict_columns(
        self, columns: dict[str, list], signature_name: str | None = None
    ) -> dict[str, list]:
        signature = self.signature(signature_name)
        takes = sorted(signature.input_specs)
        missing = sorted(set(takes) - set(columns))
        if missing:
            raise RequestError(f"missing inputs {missing}; the model takes {takes}")
        unknown = sorted(set(columns) - set(takes))
        if unknown:
            raise RequestError(f"unknown inputs {unknown}; the model takes {takes}")
        sizes = {name: len(values) for name, values in columns.items()}
        if len(set(sizes.values())) != 1:
            raise RequestError(f"inputs have different lengths: {sizes}")
        tensors = {name: self._tensor(signature, name, values) for name, values in columns.items()}
        with self._lock:
            outputs = signature.function(**tensors)
        return {name: _to_json(tensor.numpy()) for name, tensor in outputs.items()}

    def predict(self, body: dict) -> dict:
        name = body.get("signature_name")
        if "instances" in body:
            instances = body["instances"]
            if not isinstance(instances, list) or not instances:
                raise RequestError("'instances' must be a non-empty list of objects")
            if not all(isinstance(row, dict) for row in instances):
                raise RequestError("each instance must be an object of named inputs")
            names = set().union(*instances)
            columns = {}
            for column in names:
                if not all(column in row for row in instances):
                    raise RequestError(f"input {column!r} is missing from some instances")
                columns[column] = [row[column] for row in instances]
            outputs = self.predict_columns(columns, name)
            return {
                "predictions": [
                    {key: values[i] for key, values in outputs.items()}
                    for i in range(len(instances))
                ]
            }
        if "inputs" in body and isinstance(body["inputs"], dict):
            return {"outputs": self.predict_columns(body["inputs"], name)}
        raise RequestError("the body needs 'instances' (row format) or 'inputs' (columnar format)")


def _strings(value):
    """A string input's value: lists stay lists (a `[batch, n]` input such as `history`),
    anything that is not a string becomes its JSON text."""
    if isinstance(value, list):
        return [_strings(v) for v in value]
    return value if isinstance(value, str) else json.dumps(value)


def _to_json(array) -> list:
    if array.dtype.kind in ("S", "O"):
        return [_to_json(row) if getattr(row, "ndim", 0) else row.decode() for row in array]
    return array.tolist()


def make_handler(model: LoadedModel, model_name: str) -> type[BaseHTTPRequestHandler]:
    base = f"/v1/models/{model_name}"

    class Handler(BaseHTTPRequestHandler):
        server_version = "b2b-recs-model-server/0.1"

        def _send(self, status: HTTPStatus, payload: dict) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (http.server API)
            if self.path in (base, f"{base}/versions/{model.version}"):
                self._send(HTTPStatus.OK, {"model_version_status": [{
                    "version": model.version, "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }]})  # fmt: skip
            elif self.path == f"{base}/metadata":
                payload = model.metadata()
                payload["model_spec"]["name"] = model_name
                self._send(HTTPStatus.OK, payload)
            else:
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}; try {base}"})

        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            if self.path not in (f"{base}:predict", f"{base}/versions/{model.version}:predict"):
                self._send(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null")
                if not isinstance(body, dict):
                    raise RequestError("the body must be a JSON object")
                self._send(HTTPStatus.OK, model.predict(body))
            except json.JSONDecodeError as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": f"body is not JSON: {exc}"})
            except RequestError as exc:
                self._send(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            except Exception as exc:  # the model failed: report, keep serving
                log.exception("prediction failed")
                self._send(
                    HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"{type(exc).__name__}: {exc}"}
                )

        def log_message(self, fmt: str, *args) -> None:
            log.info("%s %s", self.address_string(), fmt % args)

    return Handler


def make_server(model_dir: Path, *, model_name: str = "recommender", host: str = "127.0.0.1",
                port: int = 8501) -> ThreadingHTTPServer:  # fmt: skip
    """Load the model and bind the server (port 0 picks a free port); call serve_forever()."""
    model = LoadedModel(Path(model_dir))
    server = ThreadingHTTPServer((host, port), make_handler(model, model_name))
    server.daemon_threads = True
    return server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/reference_http_server.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--model-name", default="recommender")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8501)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    server = make_server(args.model_dir, model_name=args.model_name, host=args.host, port=args.port)
    host, port = server.server_address[:2]
    print(
        f"serving {args.model_name} on http://{host}:{port}/v1/models/{args.model_name}", flush=True
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
