"""Stack files (``infra/Pulumi.<stack>.yaml``) read as data, and their offline evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from infra.config import (
    MLFLOW_DB_PASSWORD_KEY,
    NAMESPACE,
    ConfigError,
    platform_from_stack_config,
    secret_config_key,
    tenant_from_stack_config,
)
from infra.offline import Graph, evaluate
from infra.policy import PolicyContext
from infra.program import PLATFORM_STACK, run_stack

INFRA_DIR = Path(__file__).resolve().parent


class UnknownStack(LookupError):
    """No ``Pulumi.<name>.yaml`` exists; the message lists the stacks that do."""


def available_stacks(directory: Path = INFRA_DIR) -> list[str]:
    """Names of the stacks with a ``Pulumi.<name>.yaml`` file, sorted."""
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in directory.glob("Pulumi.*.yaml"))


MAX_STACK_FILE_BYTES = 1024 * 1024


def load_stack_config(stack: str, directory: Path = INFRA_DIR) -> dict[str, Any]:
    """The ``config:`` mapping of ``Pulumi.<stack>.yaml``; every problem with the file (not
    UTF-8, too large, YAML syntax with line and column, not a mapping) is a ConfigError."""
    path = directory / f"Pulumi.{stack}.yaml"
    if not path.is_file():
        names = ", ".join(available_stacks(directory)) or "none"
        raise UnknownStack(f"unknown stack {stack!r}; available: {names}")
    with open(path, "rb") as f:
        raw = f.read(MAX_STACK_FILE_BYTES + 1)
    if len(raw) > MAX_STACK_FILE_BYTES:
        raise ConfigError(f"{path.name}: larger than {MAX_STACK_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path.name}: not UTF-8 text ({exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise ConfigError(f"{path.name}: {where}YAML error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path.name}: YAML error: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(
            f"{path.name}: the top level must be a mapping, got {type(data).__name__}"
        )
    config = data.get("config") or {}
    if not isinstance(config, Mapping):
        raise ConfigError(f"{path.name}: 'config' must be a mapping")
    check_secrets_are_secure(dict(config))
    return dict(config)


def check_secrets_are_secure(config: Mapping[str, Any]) -> None:
    """Every secret of a tenant stack (the MLflow database password, `secret-<name>`) is a
    Pulumi secret (`secure:`), never cleartext in the file."""
    for key, value in config.items():
        name = str(key).removeprefix(f"{NAMESPACE}:")
        if name == MLFLOW_DB_PASSWORD_KEY or name.startswith("secret-"):
            if not (isinstance(value, Mapping) and "secure" in value):
                raise ConfigError(
                    f"{key}: a secret written in cleartext; set it with `pulumi config set "
                    f"--secret {key}` (the file then holds it encrypted)"
                )


def with_offline_secrets(stack: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Add a secret placeholder for every required secret the file does not set.

    Secret values never live in the example stack files (the CLI encrypts them when an engineer
    runs ``pulumi config set --secret``); offline, a placeholder marked secret stands in.
    """
    out = dict(config)
    if stack == PLATFORM_STACK:
        return out
    tenant = tenant_from_stack_config(config)
    keys = [MLFLOW_DB_PASSWORD_KEY, *(secret_config_key(s.name) for s in tenant.secrets)]
    for key in keys:
        out.setdefault(f"{NAMESPACE}:{key}", {"secure": "offline-placeholder"})
    return out


def policy_context(
    stack: str, config: Mapping[str, Any], directory: Path = INFRA_DIR
) -> PolicyContext:
    """The policy context for a stack's validated config; a tenant's is checked against the
    tenant register (`infra.register`) first, whose platform project is the shared one."""
    if stack == PLATFORM_STACK:
        return PolicyContext.for_platform(platform_from_stack_config(config))
    from infra.register import check_stack

    register = check_stack(stack, config, directory)
    return PolicyContext.for_tenant(tenant_from_stack_config(config), register.platform)


def evaluate_stack(
    stack: str, config: Mapping[str, Any] | None = None, directory: Path = INFRA_DIR
) -> tuple[Graph, PolicyContext]:
    """Evaluate a stack's program with mocks; ``config`` overrides reading the stack file."""
    raw = load_stack_config(stack, directory) if config is None else dict(config)
    # Validate first: a bad config must fail before the runtime declares anything.
    ctx = policy_context(stack, raw, directory)
    graph = evaluate(run_stack, stack=stack, config=with_offline_secrets(stack, raw))
    return graph, ctx
