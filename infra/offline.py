"""Evaluate a Pulumi program offline with Pulumi's mocks and record its resource graph.

No CLI, no cloud: ``pulumi.runtime.set_mocks`` replaces the engine. A recording monitor keeps, for
every registered resource, its type, logical name, inputs (with which of them are secret), parent
and the resources its inputs depend on. Mock ids and computed outputs derive from logical names
and inputs only, so the same program always yields the same graph.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc, settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra.config import NAMESPACE

SECRET_PLACEHOLDER = "[secret]"
"""Offline stand-in for every secret config value (ciphertext cannot be decrypted offline)."""


@dataclass(frozen=True)
class Resource:
    """One resource as the program declared it."""

    urn: str
    type: str
    name: str
    custom: bool
    inputs: Mapping[str, Any]
    """Inputs with secret values unwrapped; see :attr:`secret_paths` for which were secret."""
    secret_paths: tuple[str, ...]
    outputs: Mapping[str, Any]
    parent: str | None
    """URN of the parent resource (``None`` for children of the stack)."""
    dependencies: tuple[str, ...]
    """URNs of the resources this one's inputs or ``depends_on`` reference."""
    ignore_changes: tuple[str, ...] = ()
    """Properties ``pulumi up`` leaves as they are once created (``ignore_changes``)."""

    def input(self, path: str, default: Any = None) -> Any:
        """Read a dotted input path such as ``template.scaling.maxInstanceCount``."""
        value: Any = self.inputs
        for part in path.split("."):
            if isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            elif isinstance(value, Mapping) and part in value:
                value = value[part]
            else:
                return default
        return value


@dataclass
class Graph:
    """The recorded resources of one program run, in a stable order (by URN)."""

    stack: str
    resources: list[Resource] = field(default_factory=list)

    def by_urn(self) -> dict[str, Resource]:
        """Resources keyed by URN."""
        return {r.urn: r for r in self.resources}

    def of_type(self, *types: str) -> list[Resource]:
        """Resources whose type token is one of ``types``."""
        return [r for r in self.resources if r.type in types]

    def named(self, name: str) -> Resource:
        """The resource with logical name ``name`` (raises ``KeyError`` if absent)."""
        for r in self.resources:
            if r.name == name:
                return r
        raise KeyError(name)


def _strip_secrets(value: Any, path: str, found: list[str]) -> Any:
    if rpc.is_rpc_secret(value):
        found.append(path or "<root>")
        return _strip_secrets(rpc.unwrap_rpc_secret(value), path, [])
    if isinstance(value, Mapping):
        return {
            k: _strip_secrets(v, f"{path}.{k}" if path else k, found)
            for k, v in sorted(value.items())
        }
    if isinstance(value, list):
        return [_strip_secrets(v, f"{path}.{i}", found) for i, v in enumerate(value)]
    return value


def _digits(text: str, n: int) -> str:
    return str(int(hashlib.sha256(text.encode()).hexdigest(), 16))[:n]


def computed_outputs(type_: str, name: str, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """Outputs the provider would compute, derived deterministically from the inputs."""
    plain = {
        k: (rpc.unwrap_rpc_secret(v) if rpc.is_rpc_secret(v) else v) for k, v in inputs.items()
    }
    project = plain.get("project") or plain.get("projectId") or "unknown-project"
    out: dict[str, Any] = {}
    if type_ == "gcp:organizations/project:Project":
        out["number"] = _digits(plain.get("projectId", name), 12)
    elif type_ == "gcp:serviceaccount/account:Account":
        email = f"{plain['accountId']}@{project}.iam.gserviceaccount.com"
        out.update(
            email=email,
            member=f"serviceAccount:{email}",
            name=f"projects/{project}/serviceAccounts/{email}",
        )
    elif type_ == "gcp:storage/bucket:Bucket":
        out["url"] = f"gs://{plain.get('name', name)}"
    elif type_ == "gcp:cloudrunv2/service:Service":
        out["uri"] = f"https://{plain.get('name', name)}-{_digits(project, 10)}.a.run.app"
    elif type_ == "gcp:sql/databaseInstance:DatabaseInstance":
        out["connectionName"] = f"{project}:{plain.get('region')}:{plain.get('name', name)}"
    elif type_ == "gcp:secretmanager/secret:Secret":
        out["name"] = f"projects/{project}/secrets/{plain.get('secretId')}"
    return out


class DeterministicMocks(pulumi.runtime.Mocks):
    """Mocks whose ids and computed outputs derive from logical names and inputs only."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict]:
        state = {**args.inputs, **computed_outputs(args.typ, args.name, args.inputs)}
        # The id embeds the logical name: readable in plans, stable across runs.
        return f"{args.name}-id", state

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict, None]:
        return {}, None


class _RecordingMonitor(pulumi_mocks.MockMonitor):
    def __init__(self, mocks: pulumi.runtime.Mocks) -> None:
        super().__init__(mocks)
        self.recorded: list[Resource] = []
        self._lock = threading.Lock()

    def RegisterResource(self, request):  # noqa: N802 (gRPC method name)
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            return response
        secret_paths: list[str] = []
        inputs = _strip_secrets(rpc.deserialize_properties(request.object), "", secret_paths)
        outputs = _strip_secrets(rpc.deserialize_properties(response.object), "", [])
        parent = request.parent or None
        # Children of the root stack are top level; the stack itself is not recorded.
        if parent and parent.split("::")[2] == "pulumi:pulumi:Stack":
            parent = None
        record = Resource(
            urn=response.urn,
            type=request.type,
            name=request.name,
            custom=bool(request.custom),
            inputs=inputs,
            secret_paths=tuple(sorted(secret_paths)),
            outputs=outputs,
            parent=parent,
            dependencies=tuple(sorted(set(request.dependencies))),
            ignore_changes=tuple(request.ignoreChanges),
        )
        with self._lock:
            self.recorded.append(record)
        return response


def flatten_stack_config(config: Mapping[str, Any]) -> tuple[dict[str, str], list[str]]:
    """Turn a stack YAML ``config:`` mapping into Pulumi's flat string config and secret keys.

    Structured values become JSON (as the CLI passes them); ``{secure: ...}`` values, which only
    the CLI can decrypt, become :data:`SECRET_PLACEHOLDER` and are marked secret.
    """
    flat: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in sorted(config.items()):
        if isinstance(value, Mapping) and set(value) == {"secure"}:
            flat[key] = SECRET_PLACEHOLDER
            secret_keys.append(key)
        elif isinstance(value, str):
            flat[key] = value
        else:
            flat[key] = json.dumps(value, sort_keys=True)
    return flat, secret_keys


def evaluate(
    program: Callable[[], Any],
    *,
    stack: str,
    config: Mapping[str, Any] | None = None,
    project: str = NAMESPACE,
    recorded: list[Resource] | None = None,
) -> Graph:
    """Run ``program`` under Pulumi's mocks with ``config`` (a stack YAML ``config:`` mapping).

    Runtime state (settings, root stack resource, config) is reset first, so many programs can
    be evaluated one after another in one process. Exceptions raised by the program propagate;
    pass ``recorded`` to receive whatever was registered before the failure.
    """
    flat, secret_keys = flatten_stack_config(config or {})
    set_all_config(flat, secret_keys)
    # Pulumi's runtime takes the thread's current event loop; one closed by an earlier user of
    # asyncio in the same process (an aiohttp test server) would leave it none.
    try:
        loop = asyncio.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        asyncio.set_event_loop(asyncio.new_event_loop())
    monitor = _RecordingMonitor(DeterministicMocks())
    # A fresh root stack resource per run; otherwise resources would parent to the last stack.
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        DeterministicMocks(), project=project, stack=stack, preview=False, monitor=monitor
    )
    settings.SETTINGS.outputs.clear()
    try:
        _sync_await(run_pulumi_func(program))
    finally:
        if recorded is not None:
            recorded.extend(monitor.recorded)
    return Graph(stack=stack, resources=sorted(monitor.recorded, key=lambda r: r.urn))
