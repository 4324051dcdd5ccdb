"""Local deployment: a registered version served by the model server on 127.0.0.1.

The embedded stand-in for a Cloud Run service. An endpoint's server is a detached process
(`python -m serving.model_server`) that outlives the pipeline step that started it, as a Cloud
Run revision outlives its deploy. Its state lives beside the model's versions:

    <models_dir>/<endpoint>/serving.json   pid, url, version, model path, owner, sizing, split
    <models_dir>/<endpoint>/serving.log    the server's output (canary.log, router.log: a split's)

A new deploy is a rollout: the new server must load the model and answer its status route
before the old one is stopped, so a version that fails to start leaves the old one serving.
A split starts a second server and a router (`serving.split`) in front of both, which sends each
customer to one version by a stable hash of its id; the router's url is the endpoint's until the
split ends or a deploy replaces both versions.
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
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from pipelines.environment import run_environment
from registry.base import RegistryError
from registry.deployment import NOT_DEPLOYED, SERVING, UNKNOWN, EndpointStatus, Resources
from serving.process import listening_url
from serving.routing import HEALTH_ROUTE

_ROOT = Path(__file__).resolve().parents[1]
STATE_FILE, LOG_FILE = "serving.json", "serving.log"
CANARY_LOG, ROUTER_LOG = "canary.log", "router.log"


@dataclass(frozen=True)
class Canary:
    """The second version of a split and its server."""

    version: str
    model_path: str
    url: str
    pid: int
    percent: int


@dataclass(frozen=True)
class LocalDeployment:
    endpoint: str
    version: str
    """The version taking all traffic, or the rest of a split's (the champion)."""
    model_path: str
    url: str
    """The endpoint's root, e.g. `http://127.0.0.1:41233`; predict at `url + PREDICT_ROUTE`.
    During a split, the router's (`serving.split`)."""
    pid: int
    started_at: float
    model_name: str = ""
    """The registered model the endpoint serves (its owner)."""
    resources: dict | None = None
    """The validated sizing it was deployed with (`registry.deployment.Resources`); a local
    server runs one process whatever it says, but a redeploy keeps it."""
    server_url: str = ""
    """The champion's own server (the endpoint's url unless split)."""
    canary: Canary | None = None
    router_pid: int = 0

    @property
    def traffic(self) -> dict[str, int]:
        if self.canary is None:
            return {self.version: 100}
        return {self.version: 100 - self.canary.percent, self.canary.version: self.canary.percent}

    def pids(self) -> list[int]:
        return [p for p in (self.router_pid, self.canary and self.canary.pid, self.pid) if p]


def _load(path: Path) -> LocalDeployment:
    fields = json.loads(path.read_text())
    if fields.get("canary"):
        fields["canary"] = Canary(**fields["canary"])
    return LocalDeployment(**fields)


class LocalServing:
    """Deploys, splits, reports and stops the local servers of the endpoints under `models_dir`."""

    def __init__(self, models_dir: str | Path, *, start_timeout: float = 180.0) -> None:
        self.models_dir = Path(models_dir)
        self.start_timeout = start_timeout

    def _folder(self, endpoint: str) -> Path:
        return self.models_dir / endpoint

    def status(self, endpoint: str) -> LocalDeployment | None:
        """The endpoint's deployment if its servers are still running, else None."""
        path = self._folder(endpoint) / STATE_FILE
        if not path.exists():
            return None
        deployment = _load(path)
        return deployment if all(_is_our_server(p) for p in deployment.pids()) else None

    def deploy(
        self, endpoint: str, version: str, model_path: str, *, port: int = 0,
        model_name: str = "", resources: dict | None = None,
    ) -> LocalDeployment:  # fmt: skip
        """Start a server of `model_path` (port 0: a free one), wait until it answers, then
        stop the endpoint's previous servers (a split's too): all traffic goes to `version`.
        Raises RegistryError if the new one fails, leaving the old ones serving."""
        previous = self.status(endpoint)
        pid, url = self._start_model_server(endpoint, model_path, LOG_FILE, port)
        deployment = LocalDeployment(endpoint, str(version), str(model_path), url, pid,
                                     time.time(), model_name=model_name, resources=resources,
                                     server_url=url)  # fmt: skip
        self._write(deployment)
        if previous is not None:
            for old in previous.pids():
                if old != pid:
                    _stop(old)
        return deployment

    def split(self, endpoint: str, version: str, model_path: str, percent: int) -> LocalDeployment:
        """Route `percent` % of the endpoint's customers to `version` (a second server) and the
        rest to the version it serves, through a router (`serving.split`) whose url becomes the
        endpoint's. `percent` 0 ends a split: the champion's server answers alone again."""
        current = self.status(endpoint)
        if current is None:
            raise RegistryError(f"endpoint {endpoint} serves nothing: deploy a version first")
        if not 0 <= percent < 100:
            raise RegistryError(f"percent: {percent} is outside 0-99 (0 ends the split)")
        if percent and str(version) == current.version:
            raise RegistryError(f"percent: version {version} already serves {endpoint}")
        old = [p for p in (current.router_pid, current.canary and current.canary.pid) if p]
        if percent == 0:
            deployment = replace(current, url=current.server_url or current.url, canary=None,
                                 router_pid=0)  # fmt: skip
        else:
            reuse = current.canary is not None and current.canary.version == str(version)
            if reuse:
                canary = replace(current.canary, percent=percent)
            else:
                pid, url = self._start_model_server(endpoint, model_path, CANARY_LOG, 0)
                canary = Canary(str(version), str(model_path), url, pid, percent)
            server_url = current.server_url or current.url
            command = [sys.executable, "-m", "serving.split", "--salt", endpoint,
                       "--backend", f"{canary.version}={canary.url}",
                       "--backend", f"{current.version}={server_url}",
                       "--percent", f"{canary.version}={percent}",
                       "--percent", f"{current.version}={100 - percent}"]  # fmt: skip
            if current.resources:
                command += ["--timeout-seconds", str(current.resources["timeout_seconds"])]
            try:
                router_pid, router_url = self._start(endpoint, command, ROUTER_LOG)
            except RegistryError:
                if not reuse:
                    _stop(canary.pid)
                raise
            deployment = replace(current, url=router_url, server_url=server_url, canary=canary,
                                 router_pid=router_pid)  # fmt: skip
        self._write(deployment)
        for pid in old:
            if pid not in deployment.pids():
                _stop(pid)
        return deployment

    def undeploy(self, endpoint: str) -> bool:
        """Stop the endpoint's servers; True if one was running."""
        running = self.status(endpoint)
        if running is not None:
            for pid in running.pids():
                _stop(pid)
        (self._folder(endpoint) / STATE_FILE).unlink(missing_ok=True)
        return running is not None

    def _write(self, deployment: LocalDeployment) -> None:
        path = self._folder(deployment.endpoint) / STATE_FILE
        path.write_text(json.dumps(asdict(deployment), indent=2) + "\n")

    def _start_model_server(self, endpoint: str, model_path: str, log_name: str, port: int):
        command = [sys.executable, "-m", "serving.model_server", "--model-dir", str(model_path),
                   "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
        return self._start(endpoint, command, log_name)

    def _start(self, endpoint: str, command: list[str], log_name: str) -> tuple[int, str]:
        """(pid, url) of a server process, once it answers its status route."""
        folder = self._folder(endpoint)
        folder.mkdir(parents=True, exist_ok=True)
        log_path = folder / log_name
        env = run_environment()
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(_ROOT), env.get("PYTHONPATH")) if p)
        with open(log_path, "wb") as log:
            process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            return process.pid, self._wait_until_serving(process, log_path)
        except RegistryError:
            _stop(process.pid)
            raise

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
            if url is not None and answers(url):
                return url
            time.sleep(0.25)
        raise RegistryError(f"the model server did not answer within {self.start_timeout:.0f}s")


def answers(url: str) -> bool:
    """Whether the server at `url` answers its status route with a model available."""
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
    return b"serving.model_server" in cmdline or b"serving.split" in cmdline


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


class LocalTarget:
    """`registry.deployment.ServingTarget` on 127.0.0.1: the local backend's serving half."""

    def __init__(self, models_dir: str | Path, *, start_timeout: float = 180.0) -> None:
        self.serving = LocalServing(models_dir, start_timeout=start_timeout)

    def deploy(self, endpoint: str, version, sizing) -> EndpointStatus:
        self.serving.deploy(endpoint, version.version, version.artifact_uri,
                            model_name=version.model_name, resources=asdict(sizing))  # fmt: skip
        return self.status(endpoint)

    def split(self, endpoint: str, primary, secondary, percent: int, sizing) -> EndpointStatus:
        current = self.serving.status(endpoint)
        if current is None or current.version != primary.version:
            self.deploy(endpoint, primary, sizing)
        self.serving.split(endpoint, secondary.version, secondary.artifact_uri, percent)
        return self.status(endpoint)

    def undeploy(self, endpoint: str) -> bool:
        return self.serving.undeploy(endpoint)

    def status(self, endpoint: str) -> EndpointStatus:
        """Read live: the servers' processes, then the endpoint's status route."""
        deployment = self.serving.status(endpoint)
        if deployment is None:
            return EndpointStatus(endpoint, NOT_DEPLOYED)
        sizing = Resources(**deployment.resources) if deployment.resources else None
        fields = {"model_name": deployment.model_name, "traffic": deployment.traffic,
                  "url": deployment.url, "resources": sizing}  # fmt: skip
        if not answers(deployment.url):
            return EndpointStatus(endpoint, UNKNOWN, **fields,
                                  detail=f"{deployment.url} does not answer")  # fmt: skip
        return EndpointStatus(endpoint, SERVING, **fields)
