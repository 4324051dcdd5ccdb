"""The Python model server: TF Serving's REST API with request micro-batching, on aiohttp.

    python -m serving.model_server --model-dir DIR [--model-name recommender] [--port 8501]
        [--max-batch-size 128] [--batch-timeout-micros 0] [--max-enqueued 2048]
        [--num-batch-threads <cores>]
        [--max-body-bytes 4194304] [--max-instances 1000]
        [--intra-op-threads 1] [--inter-op-threads <batch threads>]

It serves models TF Serving cannot run (ScaNN's custom ops) and the local deployments
(`registry.local_serving`). The routes and errors are in `serving.app`. On SIGTERM or SIGINT it
stops accepting, answers what is in flight, then exits. Once listening it prints
`serving <name> on http://<host>:<port>/v1/models/<name>` (with `--port 0`, the port it got).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
from pathlib import Path

from aiohttp import web

from serving.access_log import AccessLog, access_logger_class
from serving.app import Limits, make_app
from serving.batching import BatchingConfig
from serving.model import LoadedModel, RequestError, resolve_model_dir
from serving.process import announce_and_wait_for_stop, listening_url

__all__ = ["LoadedModel", "RequestError", "ServerThread", "listening_url", "main",
           "resolve_model_dir"]  # fmt: skip


async def _listen(app: web.Application, host: str, port: int, **runner_args):
    runner = web.AppRunner(app, **runner_args)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0][:2]
    return runner, bound


class ServerThread:
    """The server on a background thread with its own event loop (tests, the demo):

    with ServerThread(model_dir) as server:
        urlopen(server.url + "/v1/models/recommender")
    """

    def __init__(self, model_dir: Path, *, host: str = "127.0.0.1", port: int = 0, **app_args):
        batching = app_args.get("batching") or BatchingConfig()
        self._app = make_app(load(Path(model_dir), batching), **app_args)
        self._loop = asyncio.new_event_loop()
        self._host, self._port = host, port
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner = None
        self.url = ""

    def __enter__(self) -> ServerThread:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(
            _listen(self._app, self._host, self._port), self._loop
        )
        self._runner, (host, port) = future.result(timeout=60)
        self.url = f"http://{host}:{port}"
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=60)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)


def load(model_dir: Path, batching: BatchingConfig, intra_op: int = 1, inter_op: int = 0):
    """The model with the server's thread settings: each batch on one thread (`intra_op` 1),
    as many batches at once as batch threads (`inter_op` 0: `num_batch_threads`).

    Measured on 2 cores with the Online Retail model, two batch threads calling 8 rows each:
    3,747-3,835 rows/s with intra 1 / inter 2, 3,092-3,165 with TensorFlow's choice (a thread
    per core in each pool: small ops handed to other threads cost more than they save), and
    2,078-2,114 with one inter-op thread, which runs the two batches one after the other.
    """
    inter_op = inter_op or batching.num_batch_threads
    return LoadedModel(model_dir, intra_op_threads=intra_op, inter_op_threads=inter_op)


async def _serve(args: argparse.Namespace) -> None:
    batching = BatchingConfig(
        args.max_batch_size, args.batch_timeout_micros, args.max_enqueued, args.num_batch_threads
    )
    app = make_app(
        load(args.model_dir, batching, args.intra_op_threads, args.inter_op_threads),
        model_name=args.model_name,
        batching=batching,
        limits=Limits(args.max_body_bytes, args.max_instances),
    )
    access = AccessLog()
    access.start()
    runner, (host, port) = await _listen(
        app, args.host, args.port, access_log_class=access_logger_class(access),
        access_log=logging.getLogger("serving.access"), shutdown_timeout=args.shutdown_seconds,
    )  # fmt: skip
    await announce_and_wait_for_stop(host, port, args.model_name)
    logging.getLogger("serving").info("shutting down: draining requests in flight")
    await runner.cleanup()  # stops accepting, waits for in-flight requests, stops the batcher
    await access.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.model_server", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--model-name", default="recommender")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8501)
    batching, limits = BatchingConfig(), Limits()
    parser.add_argument("--max-batch-size", type=int, default=batching.max_batch_size)
    parser.add_argument("--batch-timeout-micros", type=int, default=batching.batch_timeout_micros)
    parser.add_argument("--max-enqueued", type=int, default=batching.max_enqueued)
    parser.add_argument("--num-batch-threads", type=int, default=batching.num_batch_threads)
    parser.add_argument("--max-body-bytes", type=int, default=limits.max_body_bytes)
    parser.add_argument("--max-instances", type=int, default=limits.max_instances)
    parser.add_argument("--shutdown-seconds", type=float, default=20.0)
    parser.add_argument("--intra-op-threads", type=int, default=1,
                        help="TensorFlow's threads within an op (0: one per core)")  # fmt: skip
    parser.add_argument("--inter-op-threads", type=int, default=0,
                        help="TensorFlow's threads running ops side by side "
                        "(0: one per batch thread)")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
