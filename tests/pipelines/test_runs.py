"""The run contract (pipelines.runs): store, idempotency, status, limits, bad input, crashes.

The store tests run on SQLite and on the PostgreSQL server of this machine (127.0.0.1:5432, a
database created for the session and dropped after; skipped with the reason where there is
none). The e2e test submits, follows, cancels and re-runs real quick tests.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa

from demo import steps
from pipelines.__main__ import main
from pipelines.runs.status import progress_percent, stages, status_document
from pipelines.runs.store import RunNotFound, RunStore
from tests.pipelines.runs_helpers import create_with_key, record

EXAMPLE = steps.EXAMPLES / "demo_b2b"
ROOT = Path(__file__).resolve().parents[2]
PG_SERVER = os.environ.get("B2B_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


def _postgres_database():
    """A fresh database on the local PostgreSQL server, dropped after the session."""
    admin_url = f"{PG_SERVER.replace('postgresql://', 'postgresql+pg8000://')}/postgres"
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as con:
            name = f"runs_test_{secrets.token_hex(4)}"
            con.execute(sa.text(f"CREATE DATABASE {name}"))
    except Exception as exc:  # noqa: BLE001 (any reason the server is not usable)
        pytest.skip(f"no PostgreSQL server at {PG_SERVER} ({type(exc).__name__}: {exc})")
    return admin, name


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def store_url(request, tmp_path_factory):
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("store") / "runs.db")
        return
    admin, name = _postgres_database()
    yield f"{PG_SERVER}/{name}"
    with admin.connect() as con:
        con.execute(sa.text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
        ), {"n": name})  # fmt: skip
        con.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))


def test_a_run_is_recorded_and_read_back_whole(store_url):
    store = RunStore.open(store_url)
    run_id = f"r-{secrets.token_hex(4)}"
    created, fresh = store.create(record(run_id, results={"x": [1, 2]}))
    assert fresh and store.get(run_id) == created
    assert store.get(run_id).config_sha256 == {"dataset": "a" * 64}
    with pytest.raises(RunNotFound, match=run_id + "x"):
        store.get(run_id + "x")


def test_a_terminal_state_is_final(store_url):
    store = RunStore.open(store_url)
    run_id = f"r-{secrets.token_hex(4)}"
    store.create(record(run_id))
    assert store.transition(run_id, "running")
    assert store.transition(run_id, "cancelled", error="cancelled on request")
    # The dying run process reports a failure a moment later: the cancel stands.
    assert not store.transition(run_id, "failed", error="killed")
    run = store.get(run_id)
    assert (run.state, run.error) == ("cancelled", "cancelled on request")
    history = [e["name"] for e in store.events_of(run_id) if e["kind"] == "state"]
    assert history == ["pending", "running", "cancelled"]


def test_opening_a_store_twice_migrates_once(store_url):
    RunStore.open(store_url)
    store = RunStore.open(store_url)
    with store.engine.connect() as con:
        assert con.execute(sa.text("SELECT count(*) FROM schema_migrations")).scalar() == 1


def test_runs_are_listed_by_tenant_and_state(store_url):
    store = RunStore.open(store_url)
    tenant = f"t-{secrets.token_hex(3)}"
    for i, state in enumerate(("pending", "completed", "completed")):
        store.create(record(f"{tenant}-{i}", tenant=tenant, state=state))
    assert [r.id for r in store.list(tenant=tenant)] == [f"{tenant}-{i}" for i in range(3)]
    assert [r.id for r in store.list(tenant=tenant, state="completed")] == [
        f"{tenant}-1", f"{tenant}-2",
    ]  # fmt: skip


def _create_with_key(args) -> str:
    return create_with_key(*args)


def test_twenty_concurrent_submits_with_one_key_record_one_run(store_url):
    """Threads in one process and separate processes race to record a run under the same key:
    the store's unique key lets exactly one in, and every caller gets that run back."""
    key = f"schedule-nightly@2026-12-04T03:00:00Z-{secrets.token_hex(3)}"
    with ThreadPoolExecutor(20) as pool:
        by_threads = set(pool.map(_create_with_key, [(store_url, key, i) for i in range(20)]))
    # Twenty Python processes started at once, each recording its own run under the key.
    script = (
        "import sys; from tests.pipelines.runs_helpers import create_with_key; "
        "print(create_with_key(*sys.argv[1:]))"
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script, store_url, key, str(20 + i)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        for i in range(20)
    ]
    by_processes = {child.communicate(timeout=120)[0].strip() for child in children}
    assert len(by_threads) == 1 and by_threads == by_processes
    store = RunStore.open(store_url)
    assert [r.id for r in store.list() if r.idempotency_key == key] == list(by_threads)


# -- status -----------------------------------------------------------------------------------

COMPONENTS = ["QueryExampleGen", "StatisticsGen", "SchemaGen", "Transform", "RecsTrainer"]


def event(kind: str, name: str, at: str, detail: str | None = None) -> dict:
    return {"kind": kind, "name": name, "at": at, "detail": detail}


def test_progress_uses_the_seeds_weights_and_counts_a_running_stage_half():
    run = record("r", state="running")
    events = [
        event("stage_started", "QueryExampleGen", "2026-12-04T10:00:00+00:00"),
        event("stage_completed", "QueryExampleGen", "2026-12-04T10:00:02+00:00"),
        event("stage_started", "StatisticsGen", "2026-12-04T10:00:02+00:00"),
        event("stage_completed", "StatisticsGen", "2026-12-04T10:00:05+00:00"),
        event("stage_started", "SchemaGen", "2026-12-04T10:00:05+00:00"),
        event("stage_completed", "SchemaGen", "2026-12-04T10:00:05.500000+00:00"),
        event("stage_started", "Transform", "2026-12-04T10:00:06+00:00"),
    ]
    got = stages(COMPONENTS, run, events)
    assert [s["state"] for s in got] == ["completed"] * 3 + ["running", "pending"]
    assert [s["duration_s"] for s in got] == [2.0, 3.0, 0.5, None, None]
    assert progress_percent(run, got) == 20 + 10 + 5 + 25 / 2  # 47.5
    assert progress_percent(record("r", state="completed"), got) == 100.0


def test_a_failed_stage_is_the_failing_stage_with_its_error():
    run = record("r", state="failed", failing_stage="Transform", error="step Transform failed")
    events = [event("stage_started", "Transform", "2026-12-04T10:00:00+00:00"),
              event("stage_failed", "Transform", "2026-12-04T10:00:09+00:00", "ValueError: x")]  # fmt: skip
    doc = status_document(run, COMPONENTS, events)
    assert doc["state"] == "failed" and doc["failing_stage"] == "Transform"
    transform = next(s for s in doc["stages"] if s["name"] == "Transform")
    assert transform == {"name": "Transform", "state": "failed", "start": events[0]["at"],
                         "end": events[1]["at"], "duration_s": 9.0, "error": "ValueError: x"}  # fmt: skip


def test_the_stage_running_when_a_run_is_cancelled_is_cancelled():
    run = record("r", state="cancelled")
    run.updated_at = "2026-12-04T10:00:04+00:00"
    events = [event("stage_started", "Transform", "2026-12-04T10:00:00+00:00")]
    transform = next(s for s in stages(COMPONENTS, run, events) if s["name"] == "Transform")
    assert (transform["state"], transform["duration_s"]) == ("cancelled", 4.0)


# -- the CLI on bad input: a clear message, exit 2, nothing recorded --------------------------


@pytest.fixture()
def runs_env(tmp_path, monkeypatch):
    monkeypatch.setenv("B2B_RUNS_DB", str(tmp_path / "runs.db"))
    monkeypatch.setenv("B2B_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    return steps.make_data(tmp_path_factory.mktemp("warehouse"), customers=150, products=50,
                           transactions=4000)  # fmt: skip


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def nothing_recorded(root: Path) -> bool:
    runs = root / "runs"
    return RunStore.open(root / "runs.db").list() == [] and (
        not runs.exists() or not any(runs.iterdir())
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["quicktest@9.9.9"], "unknown version '9.9.9' of template 'quicktest'"),
        (["nosuch"], "unknown pipeline template 'nosuch'"),
        (["quicktest", "--param", "epochs=40"],
         "epochs: 40 is outside quicktest-v1.5.0's limits [1, 15]"),
        (["quicktest", "--param", "batch_size=256"],
         "batch_size: 256 is outside quicktest-v1.5.0's limits [1024, 8192]"),
    ],
)  # fmt: skip
def test_a_bad_submit_is_refused_and_recorded_nowhere(runs_env, warehouse, capsys, args, expected):
    code, out, err = cli(capsys, "submit", *args[:1], "--configs", str(EXAMPLE), "--warehouse",
                         str(warehouse), *args[1:])  # fmt: skip
    assert code == 2 and expected in err, err
    assert out == "" and nothing_recorded(runs_env)


def test_a_table_missing_from_the_warehouse_is_refused(runs_env, warehouse, tmp_path, capsys):
    partial = tmp_path / "partial"
    (partial / "raw_data").mkdir(parents=True)
    for table in ("transactions", "customers"):
        (partial / "raw_data" / f"{table}.parquet").write_bytes(
            (warehouse / "raw_data" / f"{table}.parquet").read_bytes()
        )
    code, _, err = cli(capsys, "submit", "quicktest", "--configs", str(EXAMPLE), "--warehouse",
                       str(partial))  # fmt: skip
    assert code == 2 and "table raw_data.products is not in the warehouse" in err
    assert nothing_recorded(runs_env)


@pytest.mark.parametrize("verb", ["status", "wait", "cancel", "results", "logs", "rerun"])
def test_an_unknown_run_id_is_named(runs_env, capsys, verb):
    code, _, err = cli(capsys, verb, "quicktest-nosuch")
    assert code == 2 and "no run 'quicktest-nosuch' in the run store" in err


def test_cancelling_a_finished_run_is_refused(runs_env, capsys):
    RunStore.open(runs_env / "runs.db").create(record("done-1", state="completed"))
    code, _, err = cli(capsys, "cancel", "done-1")
    assert code == 2 and "run done-1 is completed: there is nothing to cancel" in err
    code, _, err = cli(capsys, "list", "--state", "finished")
    assert code == 2 and "--state: 'finished' is not one of" in err


# -- the local backend: a crashed run process is detected --------------------------------------


def _python_child(leader: int, timeout_s: float = 30.0) -> int:
    """The run's Python process under its `sh` leader, once it exists."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = subprocess.run(["pgrep", "-P", str(leader)], capture_output=True, text=True)
        if found.stdout.strip():
            return int(found.stdout.split()[0])
        time.sleep(0.05)
    raise AssertionError("the run process did not start")


def test_a_run_process_that_is_killed_is_marked_failed_with_the_cause(runs_env):
    from pipelines.runs.local import LocalBackend, group_gone

    store = RunStore.open(runs_env / "runs.db")
    run, _ = store.create(record("crash-1", run_dir=str(runs_env / "runs" / "crash-1")))
    backend = LocalBackend(store)
    backend.start(run)
    run = store.get("crash-1")
    os.kill(_python_child(run.pid), signal.SIGKILL)  # before it has even read its record
    deadline = time.monotonic() + 10
    while not group_gone(run.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    ended = backend.refresh(store.get("crash-1"))
    assert ended.state == "failed"
    assert ended.error == "the run process was killed by SIGKILL; see `logs crash-1`"


def test_a_run_that_cannot_start_fails_with_its_own_error(runs_env):
    """A record whose configs are missing: the run process reports why it failed."""
    from pipelines.runs.local import LocalBackend, group_gone

    store = RunStore.open(runs_env / "runs.db")
    run, _ = store.create(record("broken-1", run_dir=str(runs_env / "runs" / "broken-1")))
    LocalBackend(store).start(run)
    pid = store.get("broken-1").pid
    deadline = time.monotonic() + 60
    while not group_gone(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    ended = store.get("broken-1")
    assert ended.state == "failed"
    assert ended.error == (
        f"RunInputError: --dataset: {runs_env}/runs/broken-1/configs/dataset.json is not a file"
    )


# -- e2e: submit, follow, cancel, re-run -------------------------------------------------------


def _wait_for(service, run_id: str, predicate, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = service.status(run_id)
        if predicate(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"run {run_id} never got there: {service.status(run_id)}")


@pytest.mark.e2e
def test_submit_follow_cancel_and_rerun_quick_tests(runs_env, warehouse, capsys):
    from pipelines.runs.local import group_gone
    from pipelines.runs.service import RunService

    code, out, _ = cli(capsys, "submit", "quicktest", "--configs", str(EXAMPLE), "--warehouse",
                       str(warehouse), "--param", "epochs=1", "--key", "first")  # fmt: skip
    assert code == 0
    first = json.loads(out)["run_id"]
    service = RunService()
    seen: list[float] = []
    final = service.wait(first, poll_s=0.2, on_change=lambda s: seen.append(s["progress_percent"]))
    assert final["state"] == "completed", final
    assert [s["state"] for s in final["stages"]] == ["completed"] * 5
    assert [s["name"] for s in final["stages"]] == COMPONENTS
    assert seen == sorted(seen) and seen[-1] == 100.0 and len(set(seen)) >= 3, seen
    results = service.results(first)
    assert results["metrics"]["final_metrics"]["recall_at_10"] > 0
    assert Path(results["artifacts"]["serving model"]).is_dir()
    cost = results["cost_estimate"]
    assert [item["stage"] for item in cost["items"]] == COMPONENTS
    assert cost["total"] > cost["pipeline_run_fee"] and cost["currency"] == "USD"
    # The same key again: the same run, nothing new started.
    code, out, _ = cli(capsys, "submit", "quicktest", "--configs", str(EXAMPLE), "--warehouse",
                       str(warehouse), "--param", "epochs=1", "--key", "first")  # fmt: skip
    assert json.loads(out) == {"run_id": first, "state": "completed", "created": False}

    code, out, _ = cli(capsys, "submit", "quicktest", "--configs", str(EXAMPLE), "--warehouse",
                       str(warehouse), "--param", "epochs=1")  # fmt: skip
    second = json.loads(out)["run_id"]
    _wait_for(service, second, lambda s: any(
        st["name"] == "Transform" and st["state"] == "running" for st in s["stages"]
    ))  # fmt: skip
    pgid = service.get(second).pid
    started = time.monotonic()
    assert cli(capsys, "cancel", second)[0] == 0
    assert time.monotonic() - started < 10 and group_gone(pgid)
    cancelled = service.status(second)
    assert cancelled["state"] == "cancelled"
    assert [s["state"] for s in cancelled["stages"]][:4] == ["completed"] * 3 + ["cancelled"]
    statistics = Path(service.get(second).run_dir) / "run" / "artifacts" / "StatisticsGen"
    assert any(statistics.rglob("FeatureStats.pb"))  # what it wrote before the cancel stays

    code, out, _ = cli(capsys, "rerun", first)
    third = json.loads(out)["run_id"]
    assert third != first and service.wait(third, poll_s=0.5)["state"] == "completed"
    before, again = service.get(first), service.get(third)
    assert again.rerun_of == first
    assert (again.config_sha256, again.data["tables"], again.ir_sha256) == (
        before.config_sha256, before.data["tables"], before.ir_sha256,
    )  # fmt: skip
    same = {k: v for k, v in before.parameters.items() if "/" not in str(v)}
    assert {k: again.parameters[k] for k in same} == same  # paths differ: each run its folder
    assert service.results(third)["metrics"]["final_metrics"] == results["metrics"]["final_metrics"]
    code, out, _ = cli(capsys, "list", "--json")
    assert [r["state"] for r in json.loads(out)] == ["completed", "cancelled", "completed"]


def test_twenty_threads_submitting_one_key_start_one_run(store_url, runs_env, warehouse,
                                                          monkeypatch):  # fmt: skip
    """Through the whole submit (checks, hashes, record, start): one run is started, and every
    caller gets it; on SQLite and on PostgreSQL."""
    from pipelines.own_data import config_paths
    from pipelines.runs.local import group_gone
    from pipelines.runs.service import RunService, SubmitRequest

    monkeypatch.setenv("B2B_RUNS_DB", store_url)
    service = RunService()
    key = f"small/nightly@2026-12-04T03:00:00Z-{secrets.token_hex(3)}"
    request = SubmitRequest(template="quicktest", version=None, paths=config_paths(EXAMPLE),
                            warehouse=warehouse, params={"epochs": 1}, key=key)  # fmt: skip
    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: service.submit(request), range(20)))
    assert len({run.id for run, _ in answers}) == 1
    assert sum(created for _, created in answers) == 1
    (run,) = [r for r in service.store.list() if r.idempotency_key == key]
    service.cancel(run.id)  # the one started run: not needed beyond this point
    assert group_gone(run.pid) and service.get(run.id).state == "cancelled"
