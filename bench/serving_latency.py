"""Benchmark: the model server under an open-loop load, against the previous server.

    python bench/serving_latency.py --model-dir DIR [--rates 100,500,1000,2000] [--seconds 10]
        [--instances FILE.jsonl] [--connections 64]

Each server (`serving.model_server`, and as the reference the http.server implementation it
replaced, `bench/reference_http_server.py`) runs in its own process on 127.0.0.1 with the
SavedModel at DIR. A load process sends single-customer predict requests at fixed rates, each
at its scheduled time whether or not earlier ones have returned (open loop), over keep-alive
connections, and measures each latency from the scheduled time (so a stalled server is not
hidden by a stalled client). Instances come from FILE (one JSON object per line) or are made
from the signature's inputs.

Prints ONE JSON line: per server and rate, the achieved rate, p50 / p99 / max latency in ms
and the errors; each server's sustainable rate (the highest offered rate achieved at 95% or
more with no error); the ratio of the two, and of their highest achieved rates.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serving.model_server import listening_url  # noqa: E402 (the repository on the path first)

SERVERS = {
    "aiohttp_batched": [sys.executable, "-m", "serving.model_server"],
    "reference_http_server": [sys.executable, str(ROOT / "bench" / "reference_http_server.py")],
}


def start(command: list[str], model_dir: Path, extra: list[str] = ()) -> tuple:
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and scripts)
        [*command, "--model-dir", str(model_dir), "--port", "0", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        env=os.environ | {"PYTHONPATH": str(ROOT), "TF_USE_LEGACY_KERAS": "1",
                          "TF_CPP_MIN_LOG_LEVEL": "2"},
    )  # fmt: skip
    for line in process.stdout:
        url = listening_url(line)
        if url:
            host, port = url.removeprefix("http://").rsplit(":", 1)
            return process, host, int(port)
    raise RuntimeError(f"{command} exited with {process.wait()} before serving")


def make_instances(host: str, port: int, count: int = 500) -> list[dict]:
    """Instances from the serving signature: strings from a pool of ids, numbers 0."""
    with urllib.request.urlopen(f"http://{host}:{port}/v1/models/recommender/metadata") as r:
        inputs = json.loads(r.read())["metadata"]["signature_def"]["serving_default"]["inputs"]
    rng = random.Random(7)
    out = []
    for _ in range(count):
        out.append({name: (str(rng.randint(12346, 18287)) if spec["dtype"] == "string" else 0)
                    for name, spec in inputs.items()})  # fmt: skip
    return out


async def _load(host, port, bodies, rate, seconds, connections):
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(await asyncio.open_connection(host, port))
    latencies, errors = [], 0
    path = "/v1/models/recommender:predict"

    async def one(scheduled: float, body: bytes):
        nonlocal errors
        reader, writer = await pool.get()
        try:
            writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json"
                         f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)  # fmt: skip
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
            await reader.readexactly(length)
            if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                errors += 1
            latencies.append(time.perf_counter() - scheduled)
            # http.server answers HTTP/1.0 and closes: the next request needs a new connection.
            if head.startswith(b"HTTP/1.0") or re.search(rb"(?i)connection: *close", head):
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
        except Exception:
            errors += 1
            reader, writer = await asyncio.open_connection(host, port)
        finally:
            pool.put_nowait((reader, writer))

    tasks = []
    start = time.perf_counter()
    total = int(rate * seconds)
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(scheduled, bodies[i % len(bodies)])))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    while not pool.empty():
        pool.get_nowait()[1].close()
    latencies.sort()

    def pct(q):
        return round(1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))], 2)

    return {
        "offered": rate,
        "achieved": round(len(latencies) / elapsed, 1),
        "p50_ms": pct(0.50) if latencies else None,
        "p99_ms": pct(0.99) if latencies else None,
        "max_ms": round(1000 * latencies[-1], 2) if latencies else None,
        "errors": errors,
    }


def _load_process(args, queue):
    queue.put(asyncio.run(_load(*args)))


def run_load(host, port, bodies, rate, seconds, connections) -> dict:
    """The load from its own process, so it does not share the server's nor our GIL."""
    queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(
        target=_load_process, args=((host, port, bodies, rate, seconds, connections), queue)
    )
    process.start()
    result = queue.get(timeout=seconds * 20 + 60)
    process.join()
    return result


def sustainable(results: list[dict]) -> float:
    """The highest offered rate the server kept up with: 95% achieved, no error."""
    ok = [r["offered"] for r in results if r["achieved"] >= 0.95 * r["offered"] and not r["errors"]]
    return max(ok, default=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--rates", default="100,500,1000,2000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--instances", type=Path, default=None, help="JSON lines of instances")
    parser.add_argument("--runs", type=int, default=1, help="repeats per rate (median of p99)")
    parser.add_argument(
        "--server-args",
        default="",
        help="extra flags of the batched server, e.g. '--batch-timeout-micros 2000'",
    )
    parser.add_argument("--only", choices=sorted(SERVERS), default=None, help="one server only")
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    report = {"benchmark": "serving_latency", "model_dir": str(args.model_dir),
              "seconds_per_rate": args.seconds, "connections": args.connections, "servers": {}}  # fmt: skip
    for name, command in SERVERS.items():
        if args.only and name != args.only:
            continue
        extra = args.server_args.split() if name == "aiohttp_batched" else []
        process, host, port = start(command, args.model_dir, extra)
        try:
            if args.instances:
                instances = [json.loads(x) for x in args.instances.read_text().splitlines() if x]
            else:
                instances = make_instances(host, port)
            bodies = [json.dumps({"instances": [i]}).encode() for i in instances]
            run_load(host, port, bodies, 50, 2, args.connections)  # warm up
            results = []
            for rate in rates:
                runs = [run_load(host, port, bodies, rate, args.seconds, args.connections)
                        for _ in range(args.runs)]  # fmt: skip
                best = sorted(runs, key=lambda r: r["p99_ms"] or 1e9)[len(runs) // 2]
                results.append(best)
                print(f"{name} {rate:.0f}/s: {best}", file=sys.stderr, flush=True)
            report["servers"][name] = {"rates": results, "sustainable_rate": sustainable(results)}
        finally:
            process.terminate()
            process.wait(timeout=30)
    servers = report["servers"]
    if len(servers) == 2:
        new = servers["aiohttp_batched"]["sustainable_rate"]
        old = servers["reference_http_server"]["sustainable_rate"]
        report["sustainable_ratio"] = round(new / old, 2) if old else None
        top = {name: max(r["achieved"] for r in s["rates"]) for name, s in servers.items()}
        report["peak_throughput_ratio"] = round(
            top["aiohttp_batched"] / top["reference_http_server"], 2
        )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
