"""The TFDV parser service: a pipeline run's statistics and schema, as JSON and as HTML, for the app.

    python -m serving.tfdv_service --artifact-root ROOT [--artifact-root ROOT ...]
                                   [--host 127.0.0.1] [--port 8080]

The roots default to `ARTIFACT_ROOTS` (comma-separated), as the container's environment sets
them: the tenant's quick-test and training buckets, which hold the runs' pipeline roots, and the
models bucket's `_data/` prefix, where registration keeps each registered run's statistics and
schema after its run's bucket has let them go (`registry.registration`).

Routes:

    POST /v1/statistics        {"statistics_uri": ..., "schema_uri": ... (optional),
                                "split": ... (optional)}  -> `serving.statistics.describe`
    POST /v1/statistics:html   {"statistics_uri": ..., "split": ...}  -> TFDV's HTML view
    GET  /healthz              liveness

It reads only artifacts under its roots (those buckets in the cloud, a run folder here): any
other URI is answered 403. In the cloud it runs as the private
Cloud Run service `tfdv-parser` (infra), invoked by the app's identity only. Errors are
`{"error": ...}`: 400 for a bad request, 403 outside the root, 404 for a missing artifact or
split, 422 for an artifact that does not parse.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os

from aiohttp import web

from serving.statistics import ArtifactError, describe, statistics_html

log = logging.getLogger("serving.tfdv")

ROOT = web.AppKey("artifact_roots", tuple)
MAX_BODY_BYTES = 64 * 1024


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


def _inside(uri: str, root: str) -> bool:
    """Whether `uri` names something under `root` (local paths resolved, so `..` cannot
    climb out; a `gs://` URI by prefix, folder boundary included)."""
    if "://" in root or "://" in uri:
        prefix = root.rstrip("/") + "/"
        return uri.startswith(prefix) and "/../" not in uri + "/"
    real_root = os.path.realpath(root)
    return os.path.commonpath([real_root, os.path.realpath(uri)]) == real_root


async def _request(request: web.Request, required: tuple[str, ...]) -> dict[str, str]:
    try:
        body = json.loads(await request.read())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": f"the body is not JSON: {exc}"}),
            content_type="application/json",
        ) from None
    if not isinstance(body, dict):
        raise _bad("the body must be a JSON object")
    for key in required:
        if not body.get(key):
            raise _bad(f"{key!r} is required")
    values = {}
    for key in ("statistics_uri", "schema_uri", "split"):
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise _bad(f"{key!r} must be a string")
        if (
            value
            and key.endswith("_uri")
            and not any(_inside(value, root) for root in request.app[ROOT])
        ):
            raise web.HTTPForbidden(
                text=json.dumps({"error": f"{key} {value!r} is outside the artifact root"}),
                content_type="application/json",
            )
        values[key] = value or None
    unknown = sorted(set(body) - {"statistics_uri", "schema_uri", "split"})
    if unknown:
        raise _bad(f"unknown field(s): {unknown}")
    return values


def _bad(message: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"error": message}), content_type="application/json")


async def _statistics(request: web.Request) -> web.Response:
    values = await _request(request, ("statistics_uri",))
    try:
        # Reading and parsing protos blocks: keep the event loop answering health checks.
        answer = await asyncio.to_thread(
            describe,
            values["statistics_uri"],
            schema_uri=values["schema_uri"],
            split=values["split"],
        )
    except ArtifactError as exc:
        return _error(exc.status, str(exc))
    return web.json_response(answer)


async def _statistics_html(request: web.Request) -> web.Response:
    values = await _request(request, ("statistics_uri", "split"))
    try:
        html = await asyncio.to_thread(statistics_html, values["statistics_uri"], values["split"])
    except ArtifactError as exc:
        return _error(exc.status, str(exc))
    return web.Response(text=html, content_type="text/html")


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


def make_app(*artifact_roots: str) -> web.Application:
    """The service's aiohttp application, reading artifacts under `artifact_roots` only."""
    roots = tuple(root for root in artifact_roots if root)
    if not roots:
        raise ValueError("an artifact root is required: the service reads nothing outside them")
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[ROOT] = roots
    app.router.add_post("/v1/statistics", _statistics)
    app.router.add_post("/v1/statistics:html", _statistics_html)
    app.router.add_get("/healthz", _healthz)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_roots = [r for r in os.environ.get("ARTIFACT_ROOTS", "").split(",") if r]
    parser.add_argument("--artifact-root", action="append", dest="roots",
                        help="local folder or gs://bucket/prefix (repeatable; default: "
                             "$ARTIFACT_ROOTS)")  # fmt: skip
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8080")))
    args = parser.parse_args(argv)
    roots = args.roots or default_roots
    if not roots:
        parser.error("--artifact-root (or ARTIFACT_ROOTS) is required")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    web.run_app(make_app(*roots), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
