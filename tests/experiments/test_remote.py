"""The CLI against an MLflow server on 127.0.0.1 behind a Cloud-Run-like proxy
(tests/experiments/mlflow_server.py): a bearer token, cold starts, timeouts; classified errors,
never a traceback."""

from __future__ import annotations

import json

import pytest

from experiments.cli import main
from tests.experiments.logged_runs import EXPERIMENT
from tests.experiments.mlflow_server import mlflow_server, proxy

TOKEN = "identity-token-for-the-mlflow-service"
FAST = ["--retry-wait", "0.05"]


@pytest.fixture(scope="module")
def server(logged):
    with mlflow_server(logged.uri) as url:
        yield url


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_behind_a_proxy_that_answers_503_twice_the_cli_succeeds(server, logged, capsys,
                                                                  monkeypatch):  # fmt: skip
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    with proxy(server, token=TOKEN, cold_starts=2) as (url, answered):
        code, out, err = _run(capsys, "leaderboard", "--tracking-uri", url, "--experiment",
                              EXPERIMENT, "--json", *FAST)  # fmt: skip
    assert code == 0, err
    assert answered.statuses[:2] == [503, 503] and set(answered.statuses[2:]) == {200}
    assert "retrying" in err or err == ""  # the retries are logged, not raised
    local = main(["leaderboard", "--tracking-uri", logged.uri, "--json"])
    assert local == 0
    assert json.loads(out) == json.loads(capsys.readouterr().out)


def test_every_query_reads_through_the_proxy(server, logged, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    with proxy(server, token=TOKEN) as (url, _):
        for verb in (["compare", *logged.run_ids[:2]], ["pairs"], ["trend"], ["insights"],
                     ["curves", "--keys", "loss"]):  # fmt: skip
            code, out, err = _run(capsys, *verb, "--tracking-uri", url, "--json")
            assert code == 0, err
            main([*verb, "--tracking-uri", logged.uri, "--json"])
            assert json.loads(out) == json.loads(capsys.readouterr().out), verb


def test_a_wrong_token_says_authentication_failed_and_exits_2(server, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "someone-elses-token")
    with proxy(server, token=TOKEN) as (url, answered):
        code, out, err = _run(capsys, "leaderboard", "--tracking-uri", url, *FAST)
    assert code == 2 and out == ""
    assert err.startswith("experiments: authentication failed") and "401" in err
    assert "Traceback" not in err
    assert answered.statuses == [401]  # not retried


def test_no_identity_token_is_an_authentication_failure(capsys):
    def fetch(audience):
        raise RuntimeError(f"no credentials for {audience}")

    code = main(["leaderboard", "--tracking-uri", "https://mlflow-abc.a.run.app"],
                token_fetch=fetch)  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert "authentication failed: no Google identity token for https://mlflow-abc.a.run.app" in err


def test_a_server_that_stays_cold_is_unavailable_after_the_retries(server, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    with proxy(server, token=TOKEN, cold_starts=100) as (url, answered):
        code, _, err = _run(capsys, "trend", "--tracking-uri", url, "--retries", "2", *FAST)
    assert code == 1
    assert "unavailable" in err and "answered 503" in err and "after 2 retries" in err
    assert answered.statuses == [503, 503, 503] and "Traceback" not in err


def test_a_slow_server_times_out(server, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    with proxy(server, token=TOKEN, delay_seconds=2.5) as (url, _):
        code, _, err = _run(capsys, "pairs", "--tracking-uri", url, "--timeout", "1", *FAST)
    assert code == 1
    assert err.startswith("experiments: timeout") and "Traceback" not in err


def test_an_unknown_experiment_on_the_server_is_not_found(server, capsys, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", TOKEN)
    with proxy(server, token=TOKEN) as (url, _):
        code, _, err = _run(capsys, "pairs", "--tracking-uri", url, "--experiment", "nope")
    assert code == 2 and "not found: experiment 'nope'" in err


def test_nothing_listens_is_unavailable(capsys):
    import socket

    with socket.socket() as s:  # a port that was free a moment ago
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code = main(["pairs", "--tracking-uri", f"http://127.0.0.1:{port}", "--retries", "1", *FAST])
    err = capsys.readouterr().err
    assert code == 1 and "cannot connect" in err
