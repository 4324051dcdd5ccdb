"""The policy rules of `infra.policy` as a Pulumi CrossGuard policy pack, one source for both.

    pulumi preview --stack <stack> --policy-pack infra/policypack

Offline, the plan evaluates the program under mocks and runs `infra.policy.check` on the graph.
Here the same rule functions run on what the engine resolves in a real preview or update:
each rule is a stack validation policy (mandatory), fed a `Graph` built from the engine's
resources, and a context taken from the tenant register (the project the stack declares names
its tenant). What the engine cannot tell a policy: which values were secrets (CrossGuard hands
policies plaintext), so the "secret inputs are Pulumi secrets" half of `secrets-are-secret`
runs offline only; the clear-text half runs on both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from infra import policy
from infra.offline import Graph, Resource

PACK_NAME = "b2b-recs"


def to_graph(stack: str, resources: Iterable[Any]) -> Graph:
    """A `Graph` from CrossGuard's `PolicyResource`s (their props stand for inputs and outputs;
    the secret-typed inputs are taken as secret, since the engine no longer says)."""
    out = []
    for r in resources:
        custom = r.provider is not None or not r.resource_type.startswith("b2brecs:")
        props = dict(r.props or {})
        out.append(
            Resource(
                urn=r.urn,
                type=r.resource_type,
                name=r.name,
                custom=custom,
                inputs=props,
                secret_paths=policy.SECRET_INPUTS.get(r.resource_type, ()),
                outputs=props,
                parent=r.parent.urn if r.parent is not None else None,
                dependencies=tuple(d.urn for d in r.dependencies or ()),
            )
        )
    return Graph(stack=stack, resources=sorted(out, key=lambda r: r.urn))


def context_for(graph: Graph) -> policy.PolicyContext:
    """The policy context of a stack, from the tenant register: the project the graph declares
    is a tenant's (its register entry) or the platform's."""
    from infra.register import TenantRegister
    from infra.stacks import INFRA_DIR

    register = TenantRegister.load(INFRA_DIR)
    projects = {r.input("projectId") for r in graph.of_type("gcp:organizations/project:Project")}
    if register.platform.project_id in projects:
        return policy.PolicyContext.for_platform(register.platform)
    for tenant in register.tenants.values():
        if tenant.gcp_project_id in projects:
            return policy.PolicyContext.for_tenant(tenant, register.platform)
    raise ValueError(f"no tenant of the register declares project(s) {sorted(projects)}")


def validator(rule: Callable[[Graph, policy.PolicyContext], list[policy.Violation]]):
    """A CrossGuard stack validation function that runs `rule` and reports its violations."""

    def validate(args: Any, report_violation: Callable[[str, Any], None]) -> None:
        graph = to_graph("stack", args.resources)
        try:
            ctx = context_for(graph)
        except ValueError as exc:
            report_violation(str(exc), None)
            return
        for violation in rule(graph, ctx):
            report_violation(f"{violation.resource}: {violation.message}", None)

    return validate


def policies() -> list:
    """One mandatory stack validation policy per rule of `infra.policy.RULES`."""
    from pulumi_policy import EnforcementLevel, StackValidationPolicy

    out = []
    for rule in policy.RULES:
        name = rule.__name__.replace("_", "-")
        description = (rule.__doc__ or name).strip().splitlines()[0]
        out.append(StackValidationPolicy(name=name, description=description,
                                         validate=validator(rule),
                                         enforcement_level=EnforcementLevel.MANDATORY))  # fmt: skip
    return out
