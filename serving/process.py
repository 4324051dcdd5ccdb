"""What every serving process of the platform does around its app: announce the address it listens
on in the one line its starters read (`listening_url`), then run until SIGTERM or SIGINT.

The model server and the split router both print that line; local deployments and the benchmarks
wait for it. Light on purpose: the router imports no TensorFlow.
"""

from __future__ import annotations

import asyncio
import re
import signal

_LISTENING = re.compile(r"serving \S+ on (http://[\d.]+:\d+)/v1/models/")


def listening_url(text: str) -> str | None:
    """The server's root (`http://<host>:<port>`) from the line it prints once listening, or
    None if `text` has no such line. Local deployments and the benchmarks wait for it."""
    found = _LISTENING.search(text)
    return found.group(1) if found else None


async def announce_and_wait_for_stop(host: str, port: int, model_name: str) -> None:
    """Print the listening line, then return on the first SIGTERM or SIGINT (Cloud Run's and a
    terminal's stop): the caller drains and cleans up after it."""
    print(f"serving {model_name} on http://{host}:{port}/v1/models/{model_name}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()


async def cancel_background(task: asyncio.Task | None) -> None:
    """Cancel a serving loop's background task (a batcher's, a log's flush) and wait for it."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
