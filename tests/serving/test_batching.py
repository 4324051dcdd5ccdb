"""Micro-batching with a stand-in model: who shares a call, limits, and failures kept apart."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from serving.batching import BatchingConfig, MicroBatcher, Overloaded
from serving.model import RequestError


class Model:
    """Doubles its input; records each call's rows; refuses the value -1."""

    def __init__(self, gate: threading.Event | None = None):
        self.calls: list[tuple[tuple, int]] = []
        self.gate = gate

    def __call__(self, key, columns):
        if self.gate is not None:
            self.gate.wait(10)
        x = columns["x"]
        self.calls.append((key, len(x)))
        if (x == -1).any():
            raise ValueError("refused -1")
        return {"y": x * 2}


async def _run(batcher, requests):
    batcher.start()
    try:
        return await asyncio.gather(
            *(batcher.submit(key, {"x": np.array(rows)}, len(rows)) for key, rows in requests),
            return_exceptions=True,
        )
    finally:
        await batcher.stop()


def test_concurrent_requests_run_in_one_call_and_get_their_own_rows():
    model = Model()
    batcher = MicroBatcher(model, BatchingConfig(max_batch_size=64, batch_timeout_micros=5000))
    answers = asyncio.run(_run(batcher, [(("s",), [i, i + 100]) for i in range(10)]))
    assert model.calls == [(("s",), 20)]
    for i, answer in enumerate(answers):
        assert answer["y"].tolist() == [2 * i, 2 * (i + 100)]


def test_a_batch_holds_at_most_max_batch_size_rows_and_one_signature():
    model = Model()
    batcher = MicroBatcher(model, BatchingConfig(max_batch_size=8, batch_timeout_micros=5000))
    requests = [(("a",), [1, 2, 3])] * 4 + [(("b",), [7])] * 2
    answers = asyncio.run(_run(batcher, requests))
    assert all(not isinstance(a, Exception) for a in answers)
    assert sorted(model.calls) == [(("a",), 6), (("a",), 6), (("b",), 2)]


def test_a_failing_batch_is_rerun_request_by_request_so_only_the_bad_one_fails():
    model = Model()
    batcher = MicroBatcher(model, BatchingConfig(batch_timeout_micros=5000))
    good, bad = (("s",), [1]), (("s",), [-1])
    answers = asyncio.run(_run(batcher, [good, bad, good]))
    assert answers[0]["y"].tolist() == [2] and answers[2]["y"].tolist() == [2]
    assert isinstance(answers[1], ValueError)


def test_tensorflows_invalid_argument_is_the_requests_fault():
    class InvalidArgumentError(Exception):
        message = "shape mismatch"

    def model(key, columns):
        raise InvalidArgumentError()

    [answer] = asyncio.run(_run(MicroBatcher(model), [(("s",), [1])]))
    assert isinstance(answer, RequestError) and "shape mismatch" in str(answer)


def test_too_many_waiting_requests_are_refused_at_once():
    gate = threading.Event()
    model = Model(gate)
    batcher = MicroBatcher(model, BatchingConfig(max_batch_size=1, batch_timeout_micros=0,
                                                 max_enqueued=2))  # fmt: skip

    async def scenario():
        batcher.start()
        first = asyncio.ensure_future(batcher.submit(("s",), {"x": np.array([1])}, 1))
        await asyncio.sleep(0.05)  # the first is running (held by the gate)
        waiting = [asyncio.ensure_future(batcher.submit(("s",), {"x": np.array([i])}, 1))
                   for i in range(2)]  # fmt: skip
        await asyncio.sleep(0)
        with pytest.raises(Overloaded, match="2 requests are waiting"):
            await batcher.submit(("s",), {"x": np.array([9])}, 1)
        gate.set()
        results = await asyncio.gather(first, *waiting)
        await batcher.stop()
        return results

    results = asyncio.run(scenario())
    assert [r["y"].tolist() for r in results] == [[2], [0], [2]]


def test_rank_two_inputs_are_padded_to_the_widest_request():
    from serving.batching import _concatenate

    parts = [
        {"h": np.array([["a"]], dtype=object)},
        {"h": np.array([["b", "c", "d"]], dtype=object)},
    ]
    joined = _concatenate(parts)["h"]
    assert joined.tolist() == [["a", "", ""], ["b", "c", "d"]]


@pytest.mark.parametrize("bad", [{"max_batch_size": 0}, {"batch_timeout_micros": -1},
                                 {"max_enqueued": 0}, {"num_batch_threads": 0}])  # fmt: skip
def test_batching_settings_are_checked(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        BatchingConfig(**bad)


def test_batch_threads_run_batches_side_by_side():
    """Two signatures' batches meet inside the model: only two batch threads let them."""
    met = threading.Barrier(2, timeout=10)
    calls = []

    def model(key, columns):
        met.wait()  # raises BrokenBarrierError if the other batch cannot run meanwhile
        calls.append(key)
        return {"y": columns["x"] * 2}

    batcher = MicroBatcher(model, BatchingConfig(num_batch_threads=2))
    answers = asyncio.run(_run(batcher, [(("a",), [1]), (("b",), [2])]))
    assert [a["y"].tolist() for a in answers] == [[2], [4]]
    assert sorted(calls) == [("a",), ("b",)]


def test_stop_waits_for_every_batch_in_flight():
    gate = threading.Event()
    model = Model(gate)
    batcher = MicroBatcher(model, BatchingConfig(num_batch_threads=2))

    async def scenario():
        batcher.start()
        pending = [asyncio.ensure_future(batcher.submit((k,), {"x": np.array([1])}, 1))
                   for k in "ab"]  # fmt: skip
        await asyncio.sleep(0.05)
        threading.Timer(0.2, gate.set).start()  # both batches are running, held at the gate
        await batcher.stop()
        return [p.done() for p in pending]

    assert asyncio.run(scenario()) == [True, True]
