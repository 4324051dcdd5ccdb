"""Offline plan: evaluate a stack's program with Pulumi's mocks and print its resource graph.

Usage: ``python -m infra.plan --tenant NAME [--format table|json]`` (``NAME`` may be
``platform``). The output is deterministic: resources in tree order, no ids or timestamps,
secrets masked. Exit status 0 when the graph passes every policy rule, 1 when it violates one,
2 on an unknown stack or an invalid configuration (the message names the field).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.config import ConfigError
from infra.offline import SECRET_PLACEHOLDER, Graph, Resource
from infra.policy import Violation, check
from infra.stacks import INFRA_DIR, UnknownStack, evaluate_stack

# Inputs worth reading in a plan, per resource type (dotted paths into the inputs).
KEY_PROPERTIES: dict[str, tuple[str, ...]] = {
    "gcp:organizations/project:Project": ("projectId", "orgId", "folderId"),
    "gcp:billing/projectInfo:ProjectInfo": ("billingAccount",),
    "gcp:projects/service:Service": ("service",),
    "gcp:serviceaccount/account:Account": ("accountId",),
    "gcp:projects/iAMMember:IAMMember": ("role", "member"),
    "gcp:serviceaccount/iAMMember:IAMMember": ("role", "member", "serviceAccountId"),
    "gcp:storage/bucket:Bucket": (
        "name",
        "location",
        "lifecycleRules.0.condition.age=deleteAfterDays",
        "lifecycleRules.0.condition.daysSinceNoncurrentTime=deleteNoncurrentAfterDays",
        "versioning.enabled=versioning",
        "uniformBucketLevelAccess",
        "publicAccessPrevention",
    ),
    "gcp:storage/bucketIAMMember:BucketIAMMember": ("bucket", "role", "member", "condition.title"),
    "gcp:projects/iAMCustomRole:IAMCustomRole": ("roleId", "permissions"),
    "gcp:artifactregistry/repository:Repository": ("repositoryId", "format", "location"),
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember": (
        "project",
        "repository",
        "role",
        "member",
    ),
    "gcp:cloudquota/sQuotaPreference:SQuotaPreference": (
        "quotaId",
        "dimensions.region",
        "quotaConfig.preferredValue",
    ),
    "gcp:bigquery/dataset:Dataset": ("datasetId", "location"),
    "gcp:bigquery/datasetIamMember:DatasetIamMember": ("datasetId", "role", "member"),
    "gcp:secretmanager/secret:Secret": (
        "secretId",
        "replication.userManaged.replicas.0.location=replica",
    ),
    "gcp:secretmanager/secretVersion:SecretVersion": ("secretData",),
    "gcp:secretmanager/secretIamMember:SecretIamMember": ("secretId", "role", "member"),
    "gcp:sql/databaseInstance:DatabaseInstance": (
        "name",
        "databaseVersion",
        "region",
        "settings.tier",
    ),
    "gcp:sql/database:Database": ("name", "instance"),
    "gcp:sql/user:User": ("name", "instance", "password"),
    "gcp:cloudrunv2/service:Service": (
        "name",
        "location",
        "template.serviceAccount",
        "template.scaling.minInstanceCount",
        "template.scaling.maxInstanceCount",
        "template.containers.0.resources.limits.cpu",
        "template.containers.0.resources.limits.memory",
        "template.containers.0.image",
    ),
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember": ("name", "role", "member"),
    "gcp:billing/budget:Budget": (
        "displayName",
        "amount.specifiedAmount.units=amount",
        "amount.specifiedAmount.currencyCode=currency",
        "thresholdRules=thresholds",
        "budgetFilter.projects=projects",
    ),
    "gcp:monitoring/notificationChannel:NotificationChannel": ("type", "labels.email_address"),
    # Dynamic resources (infra.components.pipelines) carry their kind as an input.
    "pulumi-python:dynamic:Resource": (
        "kind",
        "package",
        "tag",
        "base_sha256",
        "sha256",
        "body.cron=cron",
        "body.createPipelineJobRequest.pipelineJob.templateUri=templateUri",
        "body.createPipelineJobRequest.pipelineJob.serviceAccount=serviceAccount",
    ),
    "gcp:cloudscheduler/job:Job": (
        "name",
        "description",
        "schedule",
        "timeZone",
        "httpTarget.uri",
        "httpTarget.oidcToken.serviceAccountEmail",
    ),
}


def short_type(token: str) -> str:
    """``gcp:storage/bucket:Bucket`` -> ``gcp:storage:Bucket``; component tokens unchanged."""
    pkg, module, kind = token.split(":")
    return f"{pkg}:{module.split('/')[0]}:{kind}"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict) and len(value) == 1:
        return _scalar(next(iter(value.values())))
    if isinstance(value, list):
        return " ".join(_scalar(v) for v in value)
    return str(value)


def _masked(resource: Resource, path: str, value: Any) -> Any:
    if any(path == p or path.startswith(p + ".") for p in resource.secret_paths):
        return SECRET_PLACEHOLDER
    return value


def key_properties(resource: Resource) -> dict[str, str]:
    """The readable subset of a resource's inputs, secrets masked."""
    out = {}
    for spec in KEY_PROPERTIES.get(resource.type, ()):
        path, _, alias = spec.partition("=")
        value = resource.input(path)
        if value is not None:
            out[alias or path.split(".")[-1]] = _scalar(_masked(resource, path, value))
    return out


def _mask_all(resource: Resource, value: Any, path: str = "") -> Any:
    if path and _masked(resource, path, value) is SECRET_PLACEHOLDER:
        return SECRET_PLACEHOLDER
    if isinstance(value, dict):
        return {k: _mask_all(resource, v, f"{path}.{k}" if path else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask_all(resource, v, f"{path}.{i}") for i, v in enumerate(value)]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _collapse(names: list[str]) -> list[str]:
    # Thirteen API dependencies on every resource would drown the table: fold a family of
    # siblings that differ only in their last word into one entry.
    families: dict[str, list[str]] = defaultdict(list)
    for name in names:
        match = re.match(r"^(.*-api)-[a-z0-9]+$", name)
        families[match.group(1) + "-*" if match else name].append(name)
    return sorted(
        members[0] if len(members) == 1 else f"{key} ({len(members)})"
        for key, members in families.items()
    )


def ordered(graph: Graph) -> list[tuple[int, Resource]]:
    """Resources in tree order (parents before children, siblings by name) with their depth."""
    children: dict[str | None, list[Resource]] = defaultdict(list)
    for r in graph.resources:
        children[r.parent].append(r)
    out: list[tuple[int, Resource]] = []

    def visit(parent: str | None, depth: int) -> None:
        for r in sorted(children.get(parent, []), key=lambda r: (r.custom, r.name, r.type)):
            out.append((depth, r))
            visit(r.urn, depth + 1)

    visit(None, 0)
    return out


def dependencies(graph: Graph, resource: Resource) -> list[str]:
    """Logical names of the resources ``resource`` depends on (its parent excluded)."""
    urns = graph.by_urn()
    names = [urns[u].name for u in resource.dependencies if u in urns and u != resource.parent]
    return _collapse(sorted(set(names)))


def plan_document(graph: Graph, violations: list[Violation]) -> dict[str, Any]:
    """The plan as plain data (what ``--format json`` prints)."""
    urns = graph.by_urn()
    return {
        "stack": graph.stack,
        "resource_count": len(graph.resources),
        "resources": [
            {
                "type": r.type,
                "name": r.name,
                "parent": urns[r.parent].name if r.parent in urns else None,
                "key_properties": key_properties(r),
                "depends_on": dependencies(graph, r),
                "inputs": _mask_all(r, dict(r.inputs)),
            }
            for _, r in ordered(graph)
        ],
        "policy_violations": [
            {"rule": v.rule, "resource": v.resource, "message": v.message} for v in violations
        ],
    }


def render_json(graph: Graph, violations: list[Violation]) -> str:
    """Deterministic JSON text of the plan."""
    return json.dumps(plan_document(graph, violations), indent=2, sort_keys=True)


def _wrap(items: list[str], width: int) -> list[str]:
    lines: list[str] = []
    for item in items:
        if lines and len(lines[-1]) + 2 + len(item) <= width:
            lines[-1] += ", " + item
        else:
            lines.append(item)
    return lines or ["-"]


PROPS_WIDTH = 72
DEPS_WIDTH = 48


def render_table(graph: Graph, violations: list[Violation]) -> str:
    """A readable table: type, logical name (indented under its parent), properties, deps.

    Long property and dependency lists wrap onto continuation lines within their columns.
    """
    rows: list[tuple[str, str, list[str], list[str]]] = []
    for depth, r in ordered(graph):
        props = [f"{k}={v}" for k, v in key_properties(r).items()]
        name = "  " * depth + r.name
        rows.append(
            (
                short_type(r.type),
                name,
                _wrap(props, PROPS_WIDTH),
                _wrap(dependencies(graph, r), DEPS_WIDTH),
            )
        )
    header = ("TYPE", "NAME", ["KEY PROPERTIES"], ["DEPENDS ON"])
    w_type = max(len(row[0]) for row in [header, *rows])
    w_name = max(len(row[1]) for row in [header, *rows])
    w_props = max(len(line) for row in [header, *rows] for line in row[2])
    lines = []
    for kind, name, props, deps in [header, *rows]:
        for i in range(max(len(props), len(deps))):
            cells = [
                (kind if i == 0 else "").ljust(w_type),
                (name if i == 0 else "").ljust(w_name),
                (props[i] if i < len(props) else "").ljust(w_props),
                deps[i] if i < len(deps) else "",
            ]
            lines.append("  ".join(cells).rstrip())
    components = sum(1 for r in graph.resources if not r.custom)
    lines.append("")
    lines.append(
        f"stack {graph.stack}: {len(graph.resources) - components} resources "
        f"in {components} components"
    )
    if violations:
        lines.append(f"policy: {len(violations)} violation(s)")
        lines += [f"  {v}" for v in violations]
    else:
        lines.append("policy: all rules pass")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m infra.plan", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--tenant", required=True, help="stack name (Pulumi.<name>.yaml)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument(
        "--stack-dir", type=Path, default=INFRA_DIR, help="folder of the stack files (tests)"
    )
    args = parser.parse_args(argv)
    try:
        graph, ctx = evaluate_stack(args.tenant, directory=args.stack_dir)
    except UnknownStack as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"error: stack {args.tenant!r}: {exc}", file=sys.stderr)
        return 2
    violations = check(graph, ctx)
    render = render_json if args.format == "json" else render_table
    print(render(graph, violations))
    return 1 if violations else 0


if __name__ == "__main__":
    sys.exit(main())
