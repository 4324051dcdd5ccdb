"""Fixtures for the infra tests: example stacks evaluated once per session with Pulumi's mocks."""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest

from infra.config import TENANT_KEY
from infra.offline import Graph, evaluate
from infra.policy import PolicyContext
from infra.program import run_stack
from infra.stacks import evaluate_stack, load_stack_config, policy_context, with_offline_secrets

EXAMPLE_TENANTS = ("small", "gpu-heavy", "busy")


@pytest.fixture(scope="session")
def stack_configs() -> dict[str, dict]:
    """The ``config:`` mapping of every example stack file."""
    return {name: load_stack_config(name) for name in (*EXAMPLE_TENANTS, "platform")}


@pytest.fixture(scope="session")
def graphs(stack_configs) -> dict[str, tuple[Graph, PolicyContext]]:
    """Each example stack evaluated once (graphs are immutable records)."""
    return {name: evaluate_stack(name, config) for name, config in stack_configs.items()}


@pytest.fixture
def variant(stack_configs) -> Callable[..., dict]:
    """Factory: a deep copy of an example stack's config with top-level tenant fields replaced."""

    def make(name: str, **changes) -> dict:
        config = copy.deepcopy(stack_configs[name])
        config[TENANT_KEY].update(changes)
        return config

    return make


@pytest.fixture
def broken(stack_configs) -> Callable[..., tuple[Graph, PolicyContext]]:
    """Factory: evaluate an example tenant's program plus ``extra`` resources it should not have."""

    def make(stack: str, extra: Callable[[], None]) -> tuple[Graph, PolicyContext]:
        config = stack_configs[stack]

        def program() -> None:
            run_stack()
            extra()

        graph = evaluate(program, stack=stack, config=with_offline_secrets(stack, config))
        return graph, policy_context(stack, config)

    return make
