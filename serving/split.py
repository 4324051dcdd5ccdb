"""A traffic split between two model versions: each customer always reaches the same one.

    python -m serving.split --backend VERSION=URL --backend VERSION=URL
        --percent VERSION=P [--percent ...] [--key customer_id] [--salt ENDPOINT]
        [--host 127.0.0.1] [--port 0] [--timeout-seconds 300]

The local stand-in for Cloud Run's revision percentages (`registry.local_serving` starts it in
front of two model servers). Cloud Run splits per request; here the split is per customer, so an
A/B comparison never shows one customer both versions: a customer id is hashed with the salt
(the endpoint's name) into one of 10,000 buckets, and the versions take consecutive ranges of
buckets in the order given, so raising the second version's share from 10 to 20 % keeps the
customers it already had.

It speaks the model server's REST API (`serving.app`): `:predict` rows go to their customers'
versions (a request with several customers may reach both) and every prediction names its
version (`model_version`, one per row in the columnar format); the `X-Model-Version` header
names it when one version answered. `/v1/models/<name>/versions/<v>:predict` asks one version
directly. The status route lists both versions with their share.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from typing import Any

import aiohttp
from aiohttp import web

from serving.process import announce_and_wait_for_stop
from serving.routing import MODEL_NAME

BUCKETS = 10_000
VERSION_HEADER = "X-Model-Version"
log = logging.getLogger("serving.split")

SplitTable = tuple[tuple[str, int], ...]
"""(version, percent) pairs in routing order; the percents add up to 100."""


def split_table(percents: Sequence[tuple[str, int]]) -> SplitTable:
    """The checked table: distinct versions, whole percents 0-100 adding up to 100."""
    versions = [v for v, _ in percents]
    if len(set(versions)) != len(versions) or not versions:
        raise ValueError(f"percent: each version once, got {versions}")
    for version, percent in percents:
        if not 0 <= percent <= 100:
            raise ValueError(f"percent: {version}={percent} is outside 0-100")
    if sum(p for _, p in percents) != 100:
        raise ValueError(f"percent: {dict(percents)} does not add up to 100")
    return tuple((str(v), int(p)) for v, p in percents)


def bucket_of(customer_id: str, salt: str) -> int:
    """A stable bucket in [0, 10000) of a customer: the same in every process and run
    (Python's own `hash` is randomised per process)."""
    digest = hashlib.sha256(f"{salt}\x00{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def version_for(customer_id: str, table: SplitTable, salt: str) -> str:
    """The version a customer's requests go to."""
    bucket, upper = bucket_of(customer_id, salt), 0
    for version, percent in table:
        upper += percent * BUCKETS // 100
        if bucket < upper:
            return version
    return table[-1][0]


class RoutingError(ValueError):
    """The request cannot be routed; answered 400 with the message."""


def _split_rows(body: Any, key: str) -> tuple[str, list[str], int]:
    """(format, the routing key of each row, rows) of a predict body."""
    if not isinstance(body, dict):
        raise RoutingError("the body must be a JSON object with 'instances' or 'inputs'")
    if isinstance(body.get("instances"), list):
        ids = []
        for index, row in enumerate(body["instances"]):
            value = row.get(key) if isinstance(row, dict) else row
            if value is None or isinstance(value, dict | list):
                raise RoutingError(f"instances[{index}].{key}: required to choose its version")
            ids.append(str(value))
        return "instances", ids, len(ids)
    inputs = body.get("inputs")
    if isinstance(inputs, dict):
        column = inputs.get(key)
        if not isinstance(column, list):
            raise RoutingError(f"inputs.{key}: a list, one per row, to choose each row's version")
        for name, values in inputs.items():
            if not isinstance(values, list) or len(values) != len(column):
                raise RoutingError(f"inputs.{name}: one value per row ({len(column)})")
        return "inputs", [str(v) for v in column], len(column)
    raise RoutingError("the body needs 'instances' (a list) or 'inputs' (an object of columns)")


def _sub_body(body: dict, kind: str, rows: list[int]) -> dict:
    out = {k: v for k, v in body.items() if k not in ("instances", "inputs")}
    if kind == "instances":
        out["instances"] = [body["instances"][i] for i in rows]
    else:
        out["inputs"] = {name: [values[i] for i in rows] for name, values in body["inputs"].items()}
    return out


def _merge(kind: str, answers: dict[str, tuple[list[int], dict]], total: int) -> dict:
    """One answer of the versions' answers, rows back in the request's order, each naming its
    version."""
    if kind == "instances":
        predictions: list[Any] = [None] * total
        for version, (rows, answer) in answers.items():
            for row, prediction in zip(rows, answer["predictions"], strict=True):
                if isinstance(prediction, dict):
                    prediction = {**prediction, "model_version": version}
                predictions[row] = prediction
        return {"predictions": predictions}
    outputs: dict[str, list[Any]] = {}
    versions: list[Any] = [None] * total
    for version, (rows, answer) in answers.items():
        columns = answer["outputs"]
        if not isinstance(columns, dict):
            columns = {"outputs": columns}
        for name, values in columns.items():
            merged = outputs.setdefault(name, [None] * total)
            for row, value in zip(rows, values, strict=True):
                merged[row] = value
        for row in rows:
            versions[row] = version
    return {"outputs": {**outputs, "model_version": versions}}


def make_app(
    backends: dict[str, str], table: SplitTable, *, key: str = "customer_id", salt: str = "",
    model_name: str = MODEL_NAME, timeout_seconds: float = 300.0,
) -> web.Application:  # fmt: skip
    """The router's application: `backends` maps each version of `table` to its server's root."""
    missing = sorted({v for v, _ in table} - set(backends))
    if missing:
        raise ValueError(f"backend: no server for version(s) {missing}")
    session_key = web.AppKey("session", aiohttp.ClientSession)

    def error(status: int, message: str) -> web.Response:
        return web.json_response({"error": message}, status=status)

    async def forward(request: web.Request, version: str, path: str, body: dict | None):
        session = request.app[session_key]
        method = "POST" if body is not None else "GET"
        async with session.request(method, backends[version] + path, json=body) as response:
            return response.status, await response.json(content_type=None)

    async def predict(request: web.Request) -> web.Response:
        if request.match_info["name"] != model_name:
            return error(404, f"unknown model {request.match_info['name']!r}")
        try:
            body = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError) as exc:
            return error(400, f"body is not JSON: {exc}")
        path = f"/v1/models/{model_name}:predict"
        pinned = request.match_info.get("version")
        if pinned is not None:
            if pinned not in backends:
                return error(404, f"unknown version {pinned!r}; this split serves "
                                  f"{sorted(backends)}")  # fmt: skip
            status, answer = await forward(request, pinned, path, body)
            return web.json_response(answer, status=status, headers={VERSION_HEADER: pinned})
        try:
            kind, ids, total = _split_rows(body, key)
        except RoutingError as exc:
            return error(400, str(exc))
        groups: dict[str, list[int]] = {}
        for row, customer in enumerate(ids):
            groups.setdefault(version_for(customer, table, salt), []).append(row)
        versions = list(groups)
        try:
            replies = await asyncio.gather(
                *(forward(request, v, path, _sub_body(body, kind, groups[v])) for v in versions)
            )
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            return error(502, f"a version's server did not answer: {type(exc).__name__}: {exc}")
        for status, answer in replies:
            if status != 200:  # the server's own error, as it gave it
                return web.json_response(answer, status=status)
        merged = _merge(kind, {v: (groups[v], a) for v, (_, a) in zip(versions, replies)}, total)
        headers = {VERSION_HEADER: versions[0]} if len(versions) == 1 else {}
        return web.json_response(merged, headers=headers)

    async def status(request: web.Request) -> web.Response:
        if request.match_info["name"] != model_name:
            return error(404, f"unknown model {request.match_info['name']!r}")
        entries = []
        for version, percent in table:
            try:
                code, answer = await forward(request, version, f"/v1/models/{model_name}", None)
                state = "AVAILABLE" if code == 200 else "UNAVAILABLE"
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                state, answer = "UNAVAILABLE", {"error": str(exc)}
            entries.append({"version": version, "state": state, "percent": percent,
                            "status": {"error_code": "OK" if state == "AVAILABLE" else "UNAVAILABLE",
                                       "error_message": answer.get("error", "")}})  # fmt: skip
        return web.json_response({"model_version_status": entries})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "alive"})

    async def on_startup(app: web.Application) -> None:
        app[session_key] = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=timeout_seconds)
        )

    async def on_cleanup(app: web.Application) -> None:
        await app[session_key].close()

    app = web.Application()
    base = r"/v1/models/{name:[^/:]+}"
    app.router.add_post(base + ":predict", predict)
    app.router.add_post(base + r"/versions/{version:[^/:]+}:predict", predict)
    app.router.add_get(base, status)
    app.router.add_get("/healthz", healthz)
    app.on_startup.append(on_startup)
    app.on_cleanup.append(on_cleanup)
    return app


def _pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    out = []
    for value in values:
        version, sep, rest = value.partition("=")
        if not sep or not version or not rest:
            raise SystemExit(f"error: {flag}: {value!r} is not VERSION=VALUE")
        out.append((version, rest))
    return out


async def _serve(app: web.Application, host: str, port: int, model_name: str) -> None:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    await announce_and_wait_for_stop(bound_host, bound_port, model_name)
    await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.split", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--backend", action="append", default=[], help="VERSION=URL")
    parser.add_argument("--percent", action="append", default=[], help="VERSION=PERCENT")
    parser.add_argument("--key", default="customer_id")
    parser.add_argument("--salt", default="")
    parser.add_argument("--model-name", default=MODEL_NAME)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--timeout-seconds", type=float, default=300.0)
    args = parser.parse_args(argv)
    backends = dict(_pairs(args.backend, "--backend"))
    try:
        table = split_table([(v, int(p)) for v, p in _pairs(args.percent, "--percent")])
        app = make_app(backends, table, key=args.key, salt=args.salt,
                       model_name=args.model_name, timeout_seconds=args.timeout_seconds)  # fmt: skip
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_serve(app, args.host, args.port, args.model_name))


if __name__ == "__main__":
    main()
