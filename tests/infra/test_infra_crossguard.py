"""The CrossGuard policy pack runs the offline plan's rule functions on what the engine hands a
policy, and reports what `infra.policy.check` reports."""

from __future__ import annotations

import pulumi_gcp as gcp
import pytest
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    StackValidationArgs,
)

from infra import crossguard, policy
from infra.offline import Graph
from tests.infra.conftest import EXAMPLE_TENANTS


def as_engine_resources(graph: Graph) -> list[PolicyResource]:
    """What CrossGuard hands a stack policy: props in plain text (secrets unwrapped), parents
    and dependencies as resources, a provider for custom resources."""
    opts = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [])
    made: dict[str, PolicyResource] = {}
    for r in graph.resources:
        provider = (PolicyProviderResource("pulumi:providers:gcp", {}, "urn:provider", "default")
                    if r.custom else None)  # fmt: skip
        made[r.urn] = PolicyResource(r.type, {**r.inputs, **r.outputs}, r.urn, r.name, opts,
                                     provider, None, [], {})  # fmt: skip
    for r in graph.resources:
        made[r.urn].parent = made.get(r.parent) if r.parent else None
        made[r.urn].dependencies = [made[d] for d in r.dependencies if d in made]
    return list(made.values())


def run_pack(graph: Graph) -> dict[str, list[str]]:
    """Policy name -> the messages it reported."""
    args = StackValidationArgs(as_engine_resources(graph), {})
    reported: dict[str, list[str]] = {}
    for p in crossguard.policies():
        p.validate(args, lambda message, urn=None, name=p.name: reported.setdefault(name, [])
                   .append(message))  # fmt: skip
    return reported


def test_one_mandatory_policy_per_rule():
    pack = crossguard.policies()
    assert [p.name for p in pack] == [r.__name__.replace("_", "-") for r in policy.RULES]
    assert {p.enforcement_level for p in pack} == {EnforcementLevel.MANDATORY}


@pytest.mark.parametrize("stack", [*EXAMPLE_TENANTS, "platform"])
def test_the_pack_passes_every_example_stack(stack, graphs):
    graph, ctx = graphs[stack]
    assert crossguard.context_for(crossguard.to_graph(stack, as_engine_resources(graph))) == ctx
    assert run_pack(graph) == {}


def test_the_pack_reports_what_the_offline_check_reports(broken):
    def extra() -> None:
        gcp.storage.BucketIAMMember("leak", bucket="b2brecs-small-shop-models",
                                    role="roles/storage.objectViewer", member="allUsers")  # fmt: skip

    graph, ctx = broken("small", extra)
    offline = policy.check(graph, ctx)
    assert offline
    reported = run_pack(graph)
    expected: dict[str, list[str]] = {}
    for v in offline:
        rule = next(r.__name__.replace("_", "-") for r in policy.RULES if v in r(graph, ctx))
        expected.setdefault(rule, []).append(f"{v.resource}: {v.message}")
    assert {k: sorted(v) for k, v in reported.items()} == {
        k: sorted(v) for k, v in expected.items()
    }
