"""Benchmark: the HTTP stacks the model server could run on, with no model behind them.

    python bench/http_stacks.py [--rates 1000,2000,4000,8000] [--seconds 5]

Each stack answers `POST /v1/models/recommender:predict` with a fixed prediction of 100
product ids and scores (about 3 KB, the size of the demo model's answers), after parsing the
request body as JSON: aiohttp (what `serving/app.py` uses), uvicorn with Starlette (the ASGI
choice, as locked: h11, no httptools or uvloop), and Python's http.server (the server it
replaced). The load is `bench/serving_latency.py`'s open loop, from its own process.

Prints ONE JSON line: per stack and rate, the achieved rate, p50 / p99 / max latency and
errors, and each stack's sustainable rate (95% achieved, no error).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serving_latency import run_load, sustainable  # noqa: E402 (beside this file)

ANSWER = json.dumps({"predictions": [{"product_ids": [f"P{i:06d}" for i in range(100)],
                                      "scores": [round(1 / (i + 1), 6) for i in range(100)]}]})  # fmt: skip
ROUTE = "/v1/models/recommender:predict"
STACKS = ("aiohttp", "uvicorn_starlette", "http_server")


def serve(stack: str) -> None:
    """Run one stack on a free port of 127.0.0.1; print `listening <port>` once bound."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    if stack == "aiohttp":
        from aiohttp import web

        async def predict(request):
            json.loads(await request.read())
            return web.Response(text=ANSWER, content_type="application/json")

        app = web.Application()
        app.router.add_post(ROUTE, predict)
        print(f"listening {port}", flush=True)
        web.run_app(app, sock=sock, access_log=None, print=None)
    elif stack == "uvicorn_starlette":
        import uvicorn
        from starlette.applications import Starlette
        from starlette.responses import Response
        from starlette.routing import Route

        async def predict(request):
            json.loads(await request.body())
            return Response(ANSWER, media_type="application/json")

        app = Starlette(routes=[Route(ROUTE, predict, methods=["POST"])])
        print(f"listening {port}", flush=True)
        uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(
            sockets=[sock]
        )
    else:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server API)
                json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                body = ANSWER.encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        sock.close()
        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        print(f"listening {port}", flush=True)
        server.serve_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--rates", default="1000,2000,4000,8000")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--serve", choices=STACKS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    body = json.dumps({"instances": [{"customer_id": "12346", "Country": "France"}]}).encode()
    report = {"benchmark": "http_stacks", "seconds_per_rate": args.seconds, "stacks": {}}
    for stack in STACKS:
        process = subprocess.Popen([sys.executable, __file__, "--serve", stack],  # noqa: S603
                                   stdout=subprocess.PIPE, text=True)  # fmt: skip
        try:
            port = int(process.stdout.readline().split()[1])
            run_load("127.0.0.1", port, [body], 100, 1, args.connections)  # warm up
            results = []
            for rate in (float(r) for r in args.rates.split(",")):
                results.append(run_load("127.0.0.1", port, [body], rate, args.seconds,
                                        args.connections))  # fmt: skip
                print(f"{stack} {rate:.0f}/s: {results[-1]}", file=sys.stderr, flush=True)
            report["stacks"][stack] = {"rates": results, "sustainable_rate": sustainable(results)}
        finally:
            process.terminate()
            process.wait(timeout=30)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
