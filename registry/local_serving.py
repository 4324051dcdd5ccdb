"""Local deployment: a registered version served by the model server on 127.0.0.1.

The embedded stand-in for a Cloud Run service. An endpoint's server is a detached process
(`python -m serving.model_server`) that outlives the pipeline step that started it, as a Cloud
Run revision outlives its deploy. Its state lives beside the model's versions:

    <models_dir>/<endpoint>/serving.json   pid, url, version, model path, start time
    <models_dir>/<endpoint>/serving.log    the server's output

A new deploy is a rollout: the new server must load the model and answer its status route
before the old one is stopped, so a version that fails to start leaves the old one serving.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from pipelines.environment import run_environment
from registry.base import RegistryError
from serving.model_server import listening_url
from serving.routing import HEALTH_ROUTE

_ROOT = Path(__file__).resolve().parents[1]
STATE_FILE, LOG_FILE = "serving.json", "serving.log"


@dataclass(frozen=True)
class LocalDeployment:
    endpoint: str
    version: str
    model_path: str
    url: str
    """The server's root, e.g. `http://127.0.0.1:41233`; predict at `url + PREDICT_ROUTE`."""
    pid: int
    started_at: float


class LocalServing:
    """Deploys, reports and stops the local servers of the endpoints under `models_dir`."""

    def __init__(self, models_dir: str | Path, *, start_timeout: float = 180.0) -> None:
        self.models_dir = Path(models_dir)
        self.start_timeout = start_timeout

    def _folder(self, endpoint: str) -> Path:
        return self.models_dir / endpoint

    def status(self, endpoint: str) -> LocalDeployment | None:
        """The endpoint's deployment if its server is still running, else None."""
        path = self._folder(endpoint) / STATE_FILE
        if not path.exists():
            return None
        deployment = LocalDeployment(**json.loads(path.read_text()))
        return deployment if _is_our_server(deployment.pid) else None

    def deploy(self, endpoint: str, version: str, model_path: str, *, port: int = 0):
        """Start a server of `model_path` (port 0: a free one), wait until it answers, then
        stop the endpoint's previous server. Raises RegistryError if the new one fails."""
        folder = self._folder(endpoint)
        folder.mkdir(parents=True, exist_ok=True)
        previous = self.status(endpoint)
        log_path = folder / LOG_FILE
        command = [sys.executable, "-m", "serving.model_server", "--model-dir", str(model_path),
                   "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        env = run_environment()
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            url = self._wait_until_serving(process, log_path)
        except RegistryError:
            _stop(process.pid)
            raise
        deployment = LocalDeployment(endpoint, str(version), str(model_path), url, process.pid,
                                     time.time())  # fmt: skip
        (folder / STATE_FILE).write_text(json.dumps(asdict(deployment), indent=2) + "\n")
        if previous is not None and previous.pid != process.pid:
            _stop(previous.pid)
        return deployment

    def undeploy(self, endpoint: str) -> bool:
        """Stop the endpoint's server; True if one was running."""
        running = self.status(endpoint)
        if running is not None:
            _stop(running.pid)
        (self._folder(endpoint) / STATE_FILE).unlink(missing_ok=True)
        return running is not None

    def _wait_until_serving(self, process: subprocess.Popen, log_path: Path) -> str:
        deadline = time.monotonic() + self.start_timeout
        url = None
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
                raise RegistryError(
                    f"the model server exited with code {process.returncode}: " + " | ".join(tail)
                )
            if url is None:
                url = listening_url(log_path.read_text(errors="replace"))
            if url is not None and _answers(url):
                return url
            time.sleep(0.25)
        raise RegistryError(f"the model server did not answer within {self.start_timeout:.0f}s")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + HEALTH_ROUTE, timeout=5) as response:
            body = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return False
    states = [v.get("state") for v in body.get("model_version_status", [])]
    return "AVAILABLE" in states


def _is_our_server(pid: int) -> bool:
    """Whether `pid` is a running model server (a recycled pid is not ours)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"serving.model_server" in cmdline


def _stop(pid: int, timeout: float = 10.0) -> None:
    if not _is_our_server(pid):
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
        except ChildProcessError:
            waited = 0
        if waited == pid or not _is_our_server(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
