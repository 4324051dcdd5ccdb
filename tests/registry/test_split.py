"""The traffic split's routing (serving.split): stable per customer, shares as asked, rows back
in order with their versions; the router in front of two real model servers in-process."""

from __future__ import annotations

import json
import urllib.request
from collections import Counter

import pytest

from serving.split import (
    RoutingError,
    _merge,
    _split_rows,
    bucket_of,
    make_app,
    split_table,
    version_for,
)

TABLE = split_table([("2", 10), ("1", 90)])


def test_a_customer_always_gets_the_same_version_and_shares_follow_the_table():
    customers = [f"C-{i}" for i in range(20_000)]
    first = {c: version_for(c, TABLE, "acme-main") for c in customers}
    assert first == {c: version_for(c, TABLE, "acme-main") for c in customers}
    share = Counter(first.values())["2"] / len(customers)
    assert abs(share - 0.10) < 0.01
    # Another endpoint's split draws its own customers (the salt), at the same share.
    other = {c: version_for(c, TABLE, "acme-other") for c in customers}
    assert other != first and abs(Counter(other.values())["2"] / len(customers) - 0.10) < 0.01


def test_growing_the_second_share_keeps_the_customers_it_had():
    customers = [f"C-{i}" for i in range(5_000)]
    wider = split_table([("2", 25), ("1", 75)])
    had = [c for c in customers if version_for(c, TABLE, "e") == "2"]
    assert had and all(version_for(c, wider, "e") == "2" for c in had)


def test_the_bucket_is_a_fixed_function_of_salt_and_id():
    assert bucket_of("C-1", "acme-main") == bucket_of("C-1", "acme-main")
    assert 0 <= bucket_of("C-1", "acme-main") < 10_000
    assert bucket_of("C-1", "acme-main") != bucket_of("C-1", "acme-mai")


@pytest.mark.parametrize(
    ("percents", "message"),
    [([("1", 90), ("2", 20)], "does not add up to 100"), ([("1", 50), ("1", 50)], "each version"),
     ([("1", 101), ("2", -1)], "outside 0-100")],
)  # fmt: skip
def test_a_bad_table_names_the_field(percents, message):
    with pytest.raises(ValueError, match=f"percent: .*{message}"):
        split_table(percents)


def test_rows_are_split_by_customer_and_merged_back_in_order():
    body = {"instances": [{"customer_id": "C-1", "revenue": 1.0}, {"customer_id": "C-2"}]}
    assert _split_rows(body, "customer_id") == ("instances", ["C-1", "C-2"], 2)
    columnar = {"inputs": {"customer_id": ["C-1", "C-2", "C-3"], "revenue": [1, 2, 3]}}
    assert _split_rows(columnar, "customer_id")[1] == ["C-1", "C-2", "C-3"]
    with pytest.raises(RoutingError, match=r"instances\[1\]\.customer_id: required"):
        _split_rows({"instances": [{"customer_id": "C-1"}, {"revenue": 1.0}]}, "customer_id")
    with pytest.raises(RoutingError, match="inputs.revenue: one value per row"):
        _split_rows({"inputs": {"customer_id": ["C-1"], "revenue": [1, 2]}}, "customer_id")
    merged = _merge("instances", {"1": ([0, 2], {"predictions": [{"s": 0}, {"s": 2}]}),
                                  "2": ([1], {"predictions": [{"s": 1}]})}, 3)  # fmt: skip
    assert merged["predictions"] == [{"s": 0, "model_version": "1"},
                                     {"s": 1, "model_version": "2"},
                                     {"s": 2, "model_version": "1"}]  # fmt: skip
    merged = _merge("inputs", {"1": ([1], {"outputs": {"s": [1]}}),
                               "2": ([0], {"outputs": {"s": [0]}})}, 2)  # fmt: skip
    assert merged["outputs"] == {"s": [0, 1], "model_version": ["2", "1"]}


def test_the_router_needs_a_server_for_each_version():
    with pytest.raises(ValueError, match=r"backend: no server for version\(s\) \['2'\]"):
        make_app({"1": "http://127.0.0.1:1"}, TABLE)


class _RouterThread:
    """An aiohttp application on a background event loop, listening on a free port."""

    def __init__(self, app):
        import asyncio
        import threading

        self.app, self.loop = app, asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self):
        import asyncio

        from aiohttp import web

        async def start():
            self.runner = web.AppRunner(self.app)
            await self.runner.setup()
            await web.TCPSite(self.runner, "127.0.0.1", 0).start()
            return self.runner.addresses[0][1]

        self.thread.start()
        port = asyncio.run_coroutine_threadsafe(start(), self.loop).result(timeout=30)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def __exit__(self, *exc):
        import asyncio

        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


def _post(url: str, body: dict) -> tuple[dict, dict]:
    request = urllib.request.Request(url + "/v1/models/recommender:predict",
                                     data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read()), dict(response.headers)


@pytest.mark.integration
def test_the_router_sends_each_customer_to_its_version_and_names_it(tmp_path):
    from serving.model_server import ServerThread
    from tests.registry.versioned_model import catalogue, save_versioned_model

    one = save_versioned_model(tmp_path / "v1", "v1")
    two = save_versioned_model(tmp_path / "v2", "v2")
    with ServerThread(one) as first, ServerThread(two) as second:
        app = make_app({"1": first.url, "2": second.url}, TABLE, salt="acme-main")
        with _RouterThread(app) as router:
            customers = [f"C-{i}" for i in range(40)]
            rows = [{"customer_id": c, "revenue": 1.0} for c in customers]
            answer, _ = _post(router.url, {"instances": rows})
            for customer, prediction in zip(customers, answer["predictions"], strict=True):
                version = version_for(customer, TABLE, "acme-main")
                assert prediction["model_version"] == version
                assert prediction["product_ids"] == catalogue(f"v{version}")
            lone = next(c for c in customers if version_for(c, TABLE, "acme-main") == "2")
            _, headers = _post(router.url, {"instances": [{"customer_id": lone, "revenue": 0.0}]})
            assert headers["X-Model-Version"] == "2"


def test_a_version_whose_server_is_down_is_a_502_naming_it():
    import socket
    import urllib.error

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    app = make_app({"1": dead, "2": dead}, TABLE, salt="acme-main")
    with _RouterThread(app) as router:
        with pytest.raises(urllib.error.HTTPError) as failed:
            _post(router.url, {"instances": [{"customer_id": "C-1", "revenue": 1.0}]})
        assert failed.value.code == 502
        assert "did not answer" in json.loads(failed.value.read())["error"]
        with pytest.raises(urllib.error.HTTPError) as failed:
            _post(router.url, {"instances": [{"revenue": 1.0}]})
        assert failed.value.code == 400
        assert "instances[0].customer_id: required" in json.loads(failed.value.read())["error"]
