"""The local backend: each run in its own process group and run folder, the caller free.

`submit` starts `sh -c 'python -m pipelines.runs.execute RUN; echo $? > exit_code'` as the leader
of a new session: the run's Python, Beam's workers and pip's builds are all in its process
group, so `cancel` stops every one of them with one signal, and the shell outlives a Python that
crashes to write down how it ended. `refresh` notices a run whose processes are gone without
having reported an end, and marks it failed with the cause.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipelines.environment import run_environment
from pipelines.runs.store import Run, RunStore

EXIT_FILE = "exit_code"
LOG_FILE = "run.log"
CANCEL_GRACE_S = 5.0

_CHILDREN: dict[int, subprocess.Popen] = {}
"""Run processes this process started: polled, so that an ended one is reaped, not a zombie."""

ROOT = Path(__file__).resolve().parents[2]


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat): with
    the pid it names one process, even once the pid is reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else fields[19]  # a zombie has ended


def alive(run: Run) -> bool:
    """Whether the run's process group leader is still the process it started."""
    if run.pid is None:
        return False
    child = _CHILDREN.get(run.pid)
    if child is not None and child.poll() is not None:
        return False
    started = _start_time(run.pid)
    return started is not None and started == run.pid_started


def group_gone(pgid: int) -> bool:
    child = _CHILDREN.get(pgid)
    if child is not None:
        child.poll()
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # pragma: no cover - another user's group: not ours to judge
        return False
    return False


class LocalBackend:
    name = "local"

    def __init__(self, store: RunStore):
        self.store = store

    def start(self, run: Run) -> None:
        """Start the run's process group; record its pid. The run is `submitting` until the
        run process says it is running."""
        run_dir = Path(run.run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        log = open(run_dir / LOG_FILE, "ab")  # noqa: SIM115 (the child holds it; closed below)
        command = [
            "/bin/sh", "-c", '"$0" -m pipelines.runs.execute "$1"; echo $? > "$2"',
            sys.executable, run.id, str(run_dir / EXIT_FILE),
        ]  # fmt: skip
        env = run_environment(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        env["B2B_RUNS_DB"] = self.store.engine.url.render_as_string(hide_password=False)
        try:
            child = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, cwd=run_dir, env=env,
                start_new_session=True,
            )  # fmt: skip
        finally:
            log.close()
        _CHILDREN[child.pid] = child
        self.store.update(run.id, pid=child.pid, pid_started=_start_time(child.pid))

    def refresh(self, run: Run) -> Run:
        """`run`, marked failed if its processes ended without reporting an end."""
        if run.terminal or run.pid is None or alive(run):
            return run
        # The leader is gone: give a run that just ended a moment to write its state.
        for _ in range(10):
            current = self.store.get(run.id)
            if current.terminal:
                return current
            time.sleep(0.1)
        code = _exit_code(Path(run.run_dir) / EXIT_FILE)
        if code is None:
            cause = "the run's processes ended without a word (killed with the whole group?)"
        elif code > 128:
            cause = f"the run process was killed by {_signal_name(code - 128)}"
        else:
            cause = f"the run process exited with code {code} before reporting an end"
        self.store.transition(run.id, "failed", error=f"{cause}; see `logs {run.id}`")
        return self.store.get(run.id)

    def cancel(self, run: Run) -> Run:
        """Stop every process of the run (SIGTERM, then SIGKILL after a grace period) and mark
        it cancelled; what it already wrote stays."""
        if run.pid is not None and not group_gone(run.pid):
            with _suppress_gone():
                os.killpg(run.pid, signal.SIGTERM)
            deadline = time.monotonic() + CANCEL_GRACE_S
            while time.monotonic() < deadline and not group_gone(run.pid):
                time.sleep(0.1)
            if not group_gone(run.pid):
                with _suppress_gone():
                    os.killpg(run.pid, signal.SIGKILL)
                while not group_gone(run.pid):
                    time.sleep(0.05)
        self.store.transition(run.id, "cancelled", error="cancelled on request")
        return self.store.get(run.id)


class _suppress_gone:
    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        return kind is ProcessLookupError


def _exit_code(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
