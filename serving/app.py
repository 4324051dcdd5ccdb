"""The model server's HTTP application (aiohttp): TF Serving's REST API over micro-batching.

Routes (as TF Serving's; `<name>` is the served model's name, `recommender` by default):

    GET  /v1/models/<name>[/versions/<v>]            model status
    GET  /v1/models/<name>[/versions/<v>]/metadata   every signature's inputs and outputs
    POST /v1/models/<name>[/versions/<v>]:predict    {"instances": [...]} or {"inputs": {...}},
                                                     optionally with "signature_name"
    GET  /healthz                                    liveness: the process answers
    GET  /readyz                                     readiness: model loaded, not shutting down

Every client error is a 4xx with `{"error": ...}` naming the problem: malformed JSON, unknown
or missing inputs, wrong types, too many instances (400), an unknown model, version or route
(404), a body over the size limit (413); 503 when too many requests wait. A 500 is only the
server's own failure. Each request is logged as one JSON line with its latency.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import orjson
from aiohttp import web

from serving.batching import BatchingConfig, MicroBatcher, Overloaded
from serving.model import LoadedModel, RequestError, jsonable

log = logging.getLogger("serving.app")


BATCHER = web.AppKey("batcher", MicroBatcher)
"""The app's micro-batcher (its `batches` and `rows` counters tell how requests were batched)."""


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 4 * 1024 * 1024
    max_instances: int = 1000


def _json(status: int, payload: dict) -> web.Response:
    # orjson writes numpy arrays in C (`serving.model.jsonable`): no Python float per score.
    body = orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)
    return web.Response(status=status, body=body, content_type="application/json")


def _error(status: int, message: str) -> web.Response:
    return _json(status, {"error": message})


def make_app(
    model: LoadedModel,
    *,
    model_name: str = "recommender",
    batching: BatchingConfig | None = None,
    limits: Limits | None = None,
) -> web.Application:
    limits = limits or Limits()

    def run(key, columns):
        return model.run(model.signatures[key[0]], columns)

    batcher = MicroBatcher(run, batching or BatchingConfig())
    state = {"ready": False}

    def _check_model(request: web.Request) -> web.Response | None:
        name, version = request.match_info["name"], request.match_info.get("version")
        if name != model_name:
            return _error(404, f"unknown model {name!r}; this server serves {model_name!r}")
        if version is not None and version != model.version:
            return _error(404, f"unknown version {version!r} of {model_name!r}; it serves "
                               f"{model.version!r}")  # fmt: skip
        return None

    async def status(request: web.Request) -> web.Response:
        return _check_model(request) or _json(200, {"model_version_status": [{
            "version": model.version, "state": "AVAILABLE",
            "status": {"error_code": "OK", "error_message": ""},
        }]})  # fmt: skip

    async def metadata(request: web.Request) -> web.Response:
        found = _check_model(request)
        if found is not None:
            return found
        payload = model.metadata()
        payload["model_spec"]["name"] = model_name
        return _json(200, payload)

    async def predict(request: web.Request) -> web.Response:
        found = _check_model(request)
        if found is not None:
            return found
        try:
            raw = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return _error(413, f"the body is over {limits.max_body_bytes} bytes")
        try:
            body = orjson.loads(raw or b"null")
        except orjson.JSONDecodeError as exc:
            return _error(400, f"body is not JSON: {exc}")
        try:
            parsed = model.parse_request(body, max_instances=limits.max_instances)
            key = (parsed.signature.name, tuple(sorted(parsed.columns)))
            outputs = await batcher.submit(key, parsed.columns, parsed.rows)
        except RequestError as exc:
            return _error(400, str(exc))
        except Overloaded as exc:
            return _error(503, str(exc))
        except Exception as exc:  # the server's own failure; it keeps serving
            log.exception("prediction failed")
            return _error(500, f"{type(exc).__name__}: {exc}")
        columns = {name: jsonable(array) for name, array in outputs.items()}
        if not parsed.row_format:
            return _json(200, {"outputs": columns})
        predictions = [
            {name: values[i] for name, values in columns.items()} for i in range(parsed.rows)
        ]
        return _json(200, {"predictions": predictions})

    async def healthz(request: web.Request) -> web.Response:
        return _json(200, {"status": "alive"})

    async def readyz(request: web.Request) -> web.Response:
        if state["ready"] and batcher.running:
            return _json(200, {"status": "ready", "model": model_name, "version": model.version})
        return _error(503, "not ready")

    @web.middleware
    async def json_errors(request: web.Request, handler):
        try:
            return await handler(request)
        except web.HTTPException as exc:  # unknown routes and methods, as JSON
            if exc.status < 400:
                raise
            return _error(exc.status, f"{exc.reason}: {request.method} {request.path}")

    async def on_startup(app: web.Application) -> None:
        batcher.start()
        state["ready"] = True

    async def on_shutdown(app: web.Application) -> None:
        state["ready"] = False  # readiness fails first, so the load balancer stops sending

    async def on_cleanup(app: web.Application) -> None:
        await batcher.stop()

    app = web.Application(client_max_size=limits.max_body_bytes, middlewares=[json_errors])
    app[BATCHER] = batcher
    base = r"/v1/models/{name:[^/:]+}"
    versioned = base + r"/versions/{version:[^/:]+}"
    for prefix in (base, versioned):
        app.router.add_get(prefix, status)
        app.router.add_get(prefix + "/metadata", metadata)
        app.router.add_post(prefix + ":predict", predict)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.on_startup.append(on_startup)
    app.on_shutdown.append(on_shutdown)
    app.on_cleanup.append(on_cleanup)
    return app
