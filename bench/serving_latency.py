"""Benchmark: the model server under an open-loop load, against the previous server.

    python bench/serving_latency.py --model-dir DIR [--rates 100,500,1000,2000] [--seconds 10]
        [--instances FILE.jsonl] [--connections 64] [--scann-products 1000000]
        [--scann-model-dir DIR2]

Two models are served: the one at DIR (the Online Retail model: bench/quicktest_online_retail.py
--workdir W leaves it under W/run0, its Trainer's serving_model_dir; `--model-dir` takes that
folder), and a ScaNN model of `--scann-products` random 32-dimensional embeddings exported as
the trainer exports ScaNN models (bench/synthetic_scann_model.py; built into DIR2, or reused
from it; 0 skips it). Its recall@100 against brute force is measured from the exported model's
answers for 200 customers. Each server (`serving.model_server`, and as the reference the
http.server implementation it replaced, `bench/reference_http_server.py`, given ScaNN's ops)
runs in its own process on 127.0.0.1 with the model. A load process sends single-customer predict requests at fixed rates, each
at its scheduled time whether or not earlier ones have returned (open loop), over keep-alive
connections, and measures each latency from the scheduled time (so a stalled server is not
hidden by a stalled client). The Online Retail model's instances come from FILE (one JSON
object per line; the quick-test bench writes W/test_requests.jsonl, one per customer of the
test split as the app would send it, which the model answers from its stored answers when the
customer is known) or are made from the signature's inputs (random ids and countries: every
request is computed); the ScaNN model's are made from its signature.

Prints ONE JSON line: per model, server and rate, the achieved rate, p50 / p99 / max latency in
ms, the errors, and the cores the server process and the load process kept busy (on 2 shared
cores, how close the machine was to saturation); each server's sustainable rate (the highest
offered rate achieved at 95% or more with no error) and that rate within a latency objective
(also p99 at most `--slo-ms`); the ratios of the two servers' rates, and of their highest
achieved rates; the ScaNN model's settings and recall.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from serving.process import listening_url  # noqa: E402 (the repository on the path first)

_REFERENCE = ROOT / "bench" / "reference_http_server.py"
SERVERS = {
    "aiohttp_batched": [sys.executable, "-m", "serving.model_server"],
    # The reference unchanged; only ScaNN's ops are registered first, so it loads ScaNN models.
    "reference_http_server": [
        sys.executable, "-c",
        "from scann.scann_ops.py import scann_ops; import runpy; "
        f"runpy.run_path({str(_REFERENCE)!r}, run_name='__main__')",
    ],
}  # fmt: skip
RECALL_CUSTOMERS = 200


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


REQUEST_TIMEOUT = 5.0
"""A request unanswered this long after it was sent counts as an error."""
DRAIN_SECONDS = 15.0
"""After the last request is sent, how long the run waits for answers; the rest are errors.
Together they bound a run, however far behind a server falls."""


def cpu_seconds(pid: int | None = None) -> float | None:
    """CPU seconds (user and system) used so far by this process, or by process `pid` (read
    from /proc: Linux only; None elsewhere or once the process is gone)."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _load(host, port, bodies, rate, seconds, connections, server_pid=None):
    pool: asyncio.Queue = asyncio.Queue()
    for _ in range(connections):
        pool.put_nowait(None)  # connected on first use, and again after a failure
    latencies, errors = [], 0
    path = "/v1/models/recommender:predict"
    total = int(rate * seconds)
    remaining = total
    all_answered = asyncio.Event()

    async def exchange(reader, writer, body):
        writer.write(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json"
                     f"\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body)  # fmt: skip
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
        await reader.readexactly(length)
        return head

    async def one(scheduled: float, body: bytes):
        nonlocal errors, remaining
        connection = await pool.get()
        try:
            if connection is None:
                connection = await asyncio.wait_for(
                    asyncio.open_connection(host, port), REQUEST_TIMEOUT
                )
            head = await asyncio.wait_for(exchange(*connection, body), REQUEST_TIMEOUT)
            if not head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                errors += 1
            latencies.append(time.perf_counter() - scheduled)
            # http.server answers HTTP/1.0 and closes: the next request needs a new connection.
            if head.startswith(b"HTTP/1.0") or re.search(rb"(?i)connection: *close", head):
                connection[1].close()
                connection = None
        except Exception:  # refused, reset, timed out: an error, and a fresh connection next
            errors += 1
            if connection is not None:
                connection[1].close()
            connection = None
        finally:
            pool.put_nowait(connection)
            remaining -= 1
            if not remaining:
                all_answered.set()

    tasks = []
    load_cpu, server_cpu = cpu_seconds(), cpu_seconds(server_pid) if server_pid else None
    start = time.perf_counter()
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(scheduled, bodies[i % len(bodies)])))
    # One event, not asyncio.wait over every task: registering 10,000 of them stalled this
    # loop for ~30 ms, and the answers still in flight then were read that much later (each
    # run's max latency was this client's).
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(all_answered.wait(), DRAIN_SECONDS)
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    errors += len(pending)
    elapsed = time.perf_counter() - start
    # Cores busy over the run: on a shared machine, how much of it the server left unused.
    load_cores = (cpu_seconds() - load_cpu) / elapsed
    server_end = cpu_seconds(server_pid) if server_cpu is not None else None
    server_cores = (server_end - server_cpu) / elapsed if server_end is not None else None
    while not pool.empty():
        connection = pool.get_nowait()
        if connection is not None:
            connection[1].close()
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
        "unanswered": len(pending),
        "server_cores": round(server_cores, 2) if server_cores is not None else None,
        "load_cores": round(load_cores, 2),
    }


def _load_process(args, queue):
    queue.put(asyncio.run(_load(*args)))


def run_load(host, port, bodies, rate, seconds, connections, server_pid=None) -> dict:
    """The load from its own process, so it does not share the server's nor our GIL."""
    queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(
        target=_load_process,
        args=((host, port, bodies, rate, seconds, connections, server_pid), queue),
    )
    process.start()
    result = queue.get(timeout=seconds + DRAIN_SECONDS + 120)
    process.join()
    return result


def sustainable(results: list[dict], slo_ms: float | None = None) -> float:
    """The highest offered rate the server kept up with: 95% achieved, no error, and with
    `slo_ms` a p99 of at most that. Without it, a server that answers every request but leaves
    some waiting a second counts as keeping up (http.server at 500/s: p99 413-1,030 ms, as its
    listen backlog of 5 overflows and the client's SYN is retried after 1 s)."""
    ok = [
        r["offered"]
        for r in results
        if r["achieved"] >= 0.95 * r["offered"]
        and not r["errors"]
        and (slo_ms is None or (r["p99_ms"] is not None and r["p99_ms"] <= slo_ms))
    ]
    return max(ok, default=0)


def scann_model(args) -> tuple[Path, dict]:
    """The ScaNN model's folder (built unless `--scann-model-dir` holds it) and its report,
    with recall@100 of its answers against brute force over the same embeddings."""
    import numpy as np

    import bench.synthetic_scann_model as synthetic
    from serving.model import LoadedModel

    folder = args.scann_model_dir or Path(tempfile.mkdtemp(prefix="bench-scann-")) / "model"
    data = synthetic.catalogue(args.scann_products, 10_000, 32)
    if (folder / "saved_model.pb").exists():
        report = {"model_dir": str(folder), "products": args.scann_products, "reused": True}
    else:
        report = synthetic.export(folder, data)
    print(f"scann model: {report}", file=sys.stderr, flush=True)
    ids = [f"C{i}" for i in range(RECALL_CUSTOMERS)]
    loaded = LoadedModel(folder)
    answers = loaded.run(loaded.signatures["serving_default"],
                         {"customer_id": np.array(ids, dtype=object)})["product_ids"]  # fmt: skip
    exact = synthetic.brute_force_top(data, synthetic.customer_rows(ids, 10_000))
    served = [{int(p.decode()[1:]) for p in row} for row in answers]
    recall = np.mean([len(s & set(e)) / len(e) for s, e in zip(served, exact, strict=True)])
    report["recall_at_100_vs_brute_force"] = round(float(recall), 4)
    report["recall_customers"] = RECALL_CUSTOMERS
    del loaded
    return folder, report


def answers_recall(brute_dir: Path, scann_dir: Path, customers: int = 1000) -> dict:
    """Recall@k of a ScaNN model's answers against a brute-force model's (the same towers,
    retrieval brute force vs ScaNN) for the same requests: each signature's mean overlap."""
    import numpy as np

    from serving.model import LoadedModel

    brute, scann = LoadedModel(brute_dir), LoadedModel(scann_dir)
    rng = np.random.default_rng(7)
    out = {"model_dir": str(scann_dir), "customers": customers}
    for name in ("serving_default", "discover"):
        if name not in brute.signatures or name not in scann.signatures:
            continue
        inputs = {
            column: np.array([str(v) for v in rng.integers(12346, 18288, customers)], dtype=object)
            if spec.dtype.name == "string"
            else np.zeros(customers, spec.dtype.as_numpy_dtype)
            for column, spec in brute.signatures[name].specs.items()
        }
        a = brute.run(brute.signatures[name], inputs)["product_ids"]
        b = scann.run(scann.signatures[name], inputs)["product_ids"]
        overlap = [len(set(x) & set(y)) / len(x) for x, y in zip(a, b, strict=True)]
        out[f"recall_at_{a.shape[1]}_vs_brute_force_{name}"] = round(float(np.mean(overlap)), 4)
    return out


def measure(model_dir: Path, args, rates: list[float], instances: Path | None = None) -> dict:
    """Both servers under the load at each rate, with the model at `model_dir`, requests from
    the JSON lines at `instances` (None: made from the signature, `make_instances`)."""
    out: dict = {"model_dir": str(model_dir), "servers": {},
                 "requests": str(instances) if instances else "synthetic"}  # fmt: skip
    for name, command in SERVERS.items():
        if args.only and name != args.only:
            continue
        extra = args.server_args.split() if name == "aiohttp_batched" else []
        process, host, port = start(command, model_dir, extra)
        try:
            if instances:
                rows = [json.loads(x) for x in instances.read_text().splitlines() if x]
            else:
                rows = make_instances(host, port)
            bodies = [json.dumps({"instances": [row]}).encode() for row in rows]
            run_load(host, port, bodies, 50, 2, args.connections)  # warm up
            results = []
            for rate in rates:
                runs = [run_load(host, port, bodies, rate, args.seconds, args.connections,
                                 process.pid) for _ in range(args.runs)]  # fmt: skip
                best = sorted(runs, key=lambda r: r["p99_ms"] or 1e9)[len(runs) // 2]
                results.append(best)
                print(f"{model_dir.name} {name} {rate:.0f}/s: {best}", file=sys.stderr,
                      flush=True)  # fmt: skip
            out["servers"][name] = {
                "rates": results,
                "sustainable_rate": sustainable(results),
                "sustainable_rate_within_slo": sustainable(results, args.slo_ms),
            }
        finally:
            process.terminate()
            process.wait(timeout=30)
    servers = out["servers"]
    if len(servers) == 2:
        for rate, ratio in (("sustainable_rate", "sustainable_ratio"),
                            ("sustainable_rate_within_slo", "sustainable_ratio_within_slo")):  # fmt: skip
            new = servers["aiohttp_batched"][rate]
            old = servers["reference_http_server"][rate]
            out[ratio] = round(new / old, 2) if old else None
        top = {name: max(r["achieved"] for r in s["rates"]) for name, s in servers.items()}
        out["peak_throughput_ratio"] = round(
            top["aiohttp_batched"] / top["reference_http_server"], 2
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="the Online Retail serving model (none: the ScaNN model only)")  # fmt: skip
    parser.add_argument("--rates", default="100,500,1000,2000")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--instances", type=Path, default=None,
                        help="JSON lines of the --model-dir model's instances, such as the "
                        "quick-test bench's test_requests.jsonl (default: synthetic ones)")  # fmt: skip
    parser.add_argument("--runs", type=int, default=1, help="repeats per rate (median of p99)")
    parser.add_argument(
        "--server-args",
        default="",
        help="extra flags of the batched server, e.g. '--batch-timeout-micros 2000'",
    )
    parser.add_argument("--slo-ms", type=float, default=100.0,
                        help="the p99 bound of each server's sustainable_rate_within_slo")  # fmt: skip
    parser.add_argument("--only", choices=sorted(SERVERS), default=None, help="one server only")
    parser.add_argument("--scann-products", type=int, default=1_000_000,
                        help="the ScaNN model's catalogue (0: no ScaNN model)")  # fmt: skip
    parser.add_argument("--scann-model-dir", type=Path, default=None,
                        help="build the ScaNN model here, or reuse the one here")  # fmt: skip
    parser.add_argument("--scann-online-retail-dir", type=Path, default=None,
                        help="the same model trained with retrieval scann (quicktest bench "
                        "--retrieval scann): recall of its answers against --model-dir's")  # fmt: skip
    args = parser.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    report = {"benchmark": "serving_latency", "seconds_per_rate": args.seconds, "slo_ms": args.slo_ms,
              "connections": args.connections, "cpus": os.cpu_count(), "models": {}}  # fmt: skip
    if args.model_dir:
        report["models"]["online_retail"] = measure(args.model_dir, args, rates, args.instances)
    if args.model_dir and args.scann_online_retail_dir:
        report["models"]["online_retail"]["scann_variant"] = answers_recall(
            args.model_dir, args.scann_online_retail_dir
        )
    if args.scann_products:
        folder, scann = scann_model(args)
        report["models"]["scann"] = scann | measure(folder, args, rates)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
