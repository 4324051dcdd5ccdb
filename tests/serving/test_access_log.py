"""The buffered access log: every line reaches the stream, in few writes."""

import asyncio
import io
import json

from serving.access_log import AccessLog


class CountingStream(io.StringIO):
    writes = 0

    def write(self, text):
        self.writes += 1
        return super().write(text)


def test_lines_are_written_together_when_the_buffer_fills_and_on_stop():
    stream = CountingStream()
    log = AccessLog(stream, flush_seconds=60, max_lines=3)

    async def scenario():
        log.start()
        for i in range(7):
            log.add({"path": f"/{i}", "latency_ms": i / 10})
        assert stream.writes == 2  # two full buffers of three lines
        await log.stop()  # the seventh line is flushed on the way out

    asyncio.run(scenario())
    lines = [json.loads(x) for x in stream.getvalue().splitlines()]
    assert [x["path"] for x in lines] == [f"/{i}" for i in range(7)]
    assert stream.writes == 3


def test_a_quiet_server_still_writes_its_lines_within_the_flush_period():
    stream = CountingStream()
    log = AccessLog(stream, flush_seconds=0.05)

    async def scenario():
        log.start()
        log.add({"path": "/v1/models/recommender:predict", "status": 200})
        await asyncio.sleep(0.3)
        written = stream.getvalue()
        await log.stop()
        return written

    assert json.loads(asyncio.run(scenario()))["status"] == 200
