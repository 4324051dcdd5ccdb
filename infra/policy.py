"""Policy rules over a recorded resource graph (see :mod:`infra.offline`).

Each rule is a function ``(graph, context) -> list[Violation]``. Rules look at what the program
actually declared, not at the config, so they catch mistakes in component code as well as in
tenant data. Tests prove every rule passes on the example tenants and fires on a broken variant.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from infra import naming
from infra.config import PlatformConfig, TenantConfig
from infra.offline import SECRET_PLACEHOLDER, Graph, Resource

BASIC_ROLES = frozenset({"roles/owner", "roles/editor", "roles/viewer"})
PUBLIC_MEMBERS = frozenset({"allUsers", "allAuthenticatedUsers"})

# Inputs that must only ever hold secret values, per resource type.
SECRET_INPUTS: dict[str, tuple[str, ...]] = {
    "gcp:secretmanager/secretVersion:SecretVersion": ("secretData",),
    "gcp:sql/user:User": ("password",),
    "gcp:sql/databaseInstance:DatabaseInstance": ("rootPassword",),
}

# (input holding the physical name, naming rule) per resource type.
NAMED_INPUTS: dict[str, tuple[str, str]] = {
    "gcp:organizations/project:Project": ("projectId", "project_id"),
    "gcp:serviceaccount/account:Account": ("accountId", "service_account_id"),
    "gcp:storage/bucket:Bucket": ("name", "bucket"),
    "gcp:cloudrunv2/service:Service": ("name", "cloud_run_service"),
    "gcp:cloudscheduler/job:Job": ("name", "scheduler_job"),
    "gcp:secretmanager/secret:Secret": ("secretId", "secret_id"),
    "gcp:artifactregistry/repository:Repository": ("repositoryId", "repository_id"),
    "gcp:bigquery/dataset:Dataset": ("datasetId", "dataset_id"),
    "gcp:sql/databaseInstance:DatabaseInstance": ("name", "sql_instance"),
}

# Types whose `labels` input is not Google's resource labels (a channel's address lives there).
NOT_RESOURCE_LABELS = frozenset({"gcp:monitoring/notificationChannel:NotificationChannel"})

_SA_EMAIL = re.compile(r"([a-z][a-z0-9-]{4,28}[a-z0-9])@([a-z][a-z0-9-]{4,28}[a-z0-9])\.iam\.")
_AGENT = re.compile(r"service-(\d+)@")
_PROJECT_PATH = re.compile(r"projects/([a-z][a-z0-9-]{4,28}[a-z0-9])(/|$)")


@dataclass(frozen=True)
class Violation:
    """One broken rule on one resource."""

    rule: str
    resource: str
    message: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.resource}: {self.message}"


@dataclass(frozen=True)
class PolicyContext:
    """What a graph is checked against."""

    project_id: str
    regions: frozenset[str]
    shared_projects: frozenset[str] = frozenset()
    """Other projects this graph may grant on (the platform's shared repositories)."""
    public_services: frozenset[str] = frozenset()
    """Physical names of Cloud Run services that are explicitly public."""
    secret_values: frozenset[str] = field(default_factory=lambda: frozenset({SECRET_PLACEHOLDER}))
    """Secret plaintexts that must never appear outside a secret input."""
    tenant_scoped: bool = True
    """Apply the cross-tenant rule (the platform stack grants to many tenants by design)."""

    @classmethod
    def for_tenant(cls, config: TenantConfig, platform: PlatformConfig) -> PolicyContext:
        """The context of a tenant stack; the shared project is the platform's per the tenant
        register (`platform`), never what the tenant's own file says."""
        return cls(
            project_id=config.gcp_project_id,
            regions=config.regions,
            shared_projects=frozenset({platform.project_id}),
            public_services=frozenset(f"serve-{e.name}" for e in config.endpoints if e.public),
        )

    @classmethod
    def for_platform(cls, config: PlatformConfig) -> PolicyContext:
        """The context of the platform stack."""
        return cls(
            project_id=config.project_id, regions=frozenset({config.region}), tenant_scoped=False
        )


def _is_binding(resource: Resource) -> bool:
    return resource.type.lower().endswith("iammember") or resource.type.lower().endswith(
        "iambinding"
    )


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}.{index}")
    else:
        yield path, value


def _label(resource: Resource) -> str:
    return f"{resource.name} ({resource.type})"


def no_basic_roles(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """No binding may grant roles/owner, roles/editor or roles/viewer."""
    out = []
    for r in graph.resources:
        for path, value in _walk(dict(r.inputs)):
            if path.split(".")[-1] == "role" and value in BASIC_ROLES:
                out.append(
                    Violation(
                        "no-basic-roles",
                        _label(r),
                        f"grants basic role {value} to {r.input('member')}; "
                        "grant a predefined role on the narrowest resource instead",
                    )
                )
    return out


def no_public_access(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """No allUsers/allAuthenticatedUsers, except invoker on an explicitly public service."""
    out = []
    for r in graph.resources:
        members = [v for p, v in _walk(dict(r.inputs)) if p.split(".")[-1] in ("member", "members")]
        members += [v for p, v in _walk(dict(r.inputs)) if re.search(r"members\.\d+$", p)]
        public = sorted({m for m in members if m in PUBLIC_MEMBERS})
        if not public:
            continue
        allowed = (
            r.type == "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"
            and r.input("role") == "roles/run.invoker"
            and r.input("name") in ctx.public_services
        )
        if not allowed:
            out.append(
                Violation(
                    "no-public-access",
                    _label(r),
                    f"grants {r.input('role')} to {', '.join(public)} on a resource that is not "
                    "declared public",
                )
            )
    for r in graph.of_type("gcp:cloudrunv2/service:Service"):
        if r.input("invokerIamDisabled") and r.input("name") not in ctx.public_services:
            out.append(
                Violation("no-public-access", _label(r), "disables invoker IAM (public service)")
            )
    return out


def _deletes_live_objects(bucket: Resource) -> bool:
    """Whether a lifecycle rule of the bucket deletes current objects (by age, custom time,
    date...) rather than only noncurrent versions."""
    for rule in bucket.input("lifecycleRules") or []:
        if (rule.get("action") or {}).get("type") != "Delete":
            continue
        condition = rule.get("condition") or {}
        noncurrent_only = (
            condition.get("withState") == "ARCHIVED"
            or condition.get("isLive") is False
            or (condition.get("numNewerVersions") or 0) > 0
        )
        if not noncurrent_only:
            return True
    return False


def served_models_are_kept(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """No serving identity (`model-serving`, a public endpoint's `pub-<name>`) reads a bucket
    whose lifecycle deletes live objects: a server fetches its model at every cold start."""
    buckets = {r.input("name"): r for r in graph.of_type("gcp:storage/bucket:Bucket")}
    out = []
    for r in graph.of_type("gcp:storage/bucketIAMMember:BucketIAMMember"):
        match = _SA_EMAIL.search(str(r.input("member")))
        if not match or not (
            match.group(1) == "model-serving" or match.group(1).startswith("pub-")
        ):
            continue
        bucket = buckets.get(r.input("bucket"))
        if bucket is not None and _deletes_live_objects(bucket):
            out.append(
                Violation(
                    "served-models-kept",
                    _label(r),
                    f"{match.group(1)} reads {r.input('bucket')}, whose lifecycle deletes live "
                    "objects: a scaled-to-zero server would lose its model",
                )
            )
    return out


_READ_ROLES = frozenset({"roles/storage.objectViewer", "roles/storage.objectAdmin",
                         "roles/storage.admin"})  # fmt: skip


def tfdv_reads_what_it_serves(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """A service reading artifact roots (`ARTIFACT_ROOTS`: the TFDV parser) may read each of
    them, by a grant on the bucket unconditioned or limited to that prefix; and one root is in
    a bucket that deletes no live objects, so a registered run's statistics outlive its run."""
    buckets = {r.input("name"): r for r in graph.of_type("gcp:storage/bucket:Bucket")}
    grants = graph.of_type("gcp:storage/bucketIAMMember:BucketIAMMember")
    out = []
    for service in graph.of_type("gcp:cloudrunv2/service:Service"):
        template = service.input("template") or {}
        envs = [e for c in template.get("containers") or [] for e in c.get("envs") or []]
        roots = [root for e in envs if e.get("name") == "ARTIFACT_ROOTS"
                 for root in str(e.get("value", "")).split(",") if root]  # fmt: skip
        if not roots:
            continue
        member = f"serviceAccount:{template.get('serviceAccount')}"
        kept = False
        for root in roots:
            bucket, _, prefix = root.removeprefix("gs://").partition("/")
            prefix = prefix.rstrip("/") + "/" if prefix.strip("/") else ""
            readable = any(
                g.input("bucket") == bucket and g.input("member") == member
                and g.input("role") in _READ_ROLES
                and (not g.input("condition") or (prefix and f'/objects/{prefix}")'
                                                  in str(g.input("condition.expression"))))
                for g in grants
            )  # fmt: skip
            if not readable:
                out.append(Violation("tfdv-reads-what-it-serves", _label(service),
                                     f"{template.get('serviceAccount')} cannot read {root}"))  # fmt: skip
            kept |= bucket in buckets and not _deletes_live_objects(buckets[bucket])
        if not kept:
            out.append(Violation(
                "tfdv-reads-what-it-serves", _label(service),
                "every root it reads deletes live objects by age: a registered run's statistics "
                "and schema would go with its run",
            ))  # fmt: skip
    return out


def buckets_are_governed(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """Every bucket: a lifecycle rule, uniform access, public access prevention, labels."""
    out = []
    for r in graph.of_type("gcp:storage/bucket:Bucket"):
        problems = []
        if not r.input("lifecycleRules"):
            problems.append("has no lifecycle rule (objects would be kept forever)")
        if r.input("uniformBucketLevelAccess") is not True:
            problems.append("lacks uniform bucket-level access")
        if r.input("publicAccessPrevention") != "enforced":
            problems.append("does not enforce public access prevention")
        if not r.input("labels"):
            problems.append("has no labels")
        out += [Violation("bucket-governance", _label(r), p) for p in problems]
    return out


def resources_in_allowed_regions(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """Every regional resource sits in the tenant's data or training region."""
    out = []
    for r in graph.resources:
        # A binding's location names the resource it grants on (possibly the platform's).
        if _is_binding(r) or not r.custom:
            continue
        for path, value in _walk(dict(r.inputs)):
            key = path.split(".")[-1]
            if key in ("location", "region") and isinstance(value, str):
                if value.lower() not in ctx.regions:
                    out.append(
                        Violation(
                            "allowed-regions",
                            _label(r),
                            f"{path}={value!r} is outside the allowed regions "
                            f"{sorted(ctx.regions)}",
                        )
                    )
    return out


def secrets_stay_secret(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """Secret inputs are secret outputs, and no secret plaintext appears anywhere else."""
    out = []
    for r in graph.resources:
        for key in SECRET_INPUTS.get(r.type, ()):
            if r.input(key) is not None and key not in r.secret_paths:
                out.append(
                    Violation(
                        "secrets-are-secret",
                        _label(r),
                        f"input {key} is not a Pulumi secret; wrap it with pulumi.Output.secret",
                    )
                )
        for path, value in _walk(dict(r.inputs)):
            if any(p == path or path.startswith(p + ".") for p in r.secret_paths):
                continue
            if isinstance(value, str) and any(
                s and (s in value or urllib.parse.quote(s, safe="") in value)
                for s in ctx.secret_values
            ):  # a secret placed in a URI is encoded there: look for that form too
                out.append(
                    Violation(
                        "secrets-are-secret",
                        _label(r),
                        f"input {path} contains a secret value in clear text",
                    )
                )
    return out


def names_within_limits(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """Physical names and labels respect Google's length and character rules."""
    out = []
    for r in graph.resources:
        checks: list[tuple[str, Any]] = []
        if r.type in NAMED_INPUTS:
            key, rule = NAMED_INPUTS[r.type]
            checks.append((rule, r.input(key)))
        for labels_key in ("labels", "settings.userLabels"):
            if r.type in NOT_RESOURCE_LABELS and labels_key == "labels":
                continue
            for key, value in (r.input(labels_key) or {}).items():
                checks += [("label_key", key), ("label_value", value)]
        for rule, value in checks:
            try:
                naming.check(rule, value)
            except naming.InvalidName as exc:
                out.append(Violation("naming-limits", _label(r), str(exc)))
    return out


def no_cross_tenant_bindings(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """Bindings name only this tenant's project and accounts (or the platform's shared repos)."""
    if not ctx.tenant_scoped:
        return []
    numbers = {
        str(r.outputs.get("number"))
        for r in graph.of_type("gcp:organizations/project:Project")
        if r.input("projectId") == ctx.project_id
    }
    # This tenant's buckets are the ones its graph declares in its project, by exact name: a
    # prefix would let `<project>-two-...`, another tenant's bucket, pass.
    own_buckets = {
        b.input("name")
        for b in graph.of_type("gcp:storage/bucket:Bucket")
        if b.input("project") == ctx.project_id
    }
    out = []
    for r in graph.resources:
        if not _is_binding(r):
            continue
        found: list[str] = []
        for path, value in _walk(dict(r.inputs)):
            if not isinstance(value, str):
                continue
            key = path.split(".")[-1]
            for match in _SA_EMAIL.finditer(value):
                # Google-managed agents (service-<number>@gcp-sa-*) are checked by number below.
                owner = match.group(2)
                if owner != ctx.project_id and not owner.startswith("gcp-sa-"):
                    found.append(f"{path} names account {match.group(1)}@{owner}")
            for match in _AGENT.finditer(value):
                if match.group(1) not in numbers:
                    found.append(f"{path} names the service agent of project #{match.group(1)}")
            for match in _PROJECT_PATH.finditer(value):
                if match.group(1) != ctx.project_id:
                    found.append(f"{path} names project {match.group(1)}")
            if key == "project" and value not in {ctx.project_id, *ctx.shared_projects}:
                found.append(f"binds on project {value}")
            if key == "bucket" and value not in own_buckets:
                found.append(f"binds on bucket {value}, which is not this tenant's")
        out += [Violation("no-cross-tenant", _label(r), f) for f in found]
    return out


def schedules_pin_catalogued_templates(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """Every Cloud Scheduler job posts a template version of the catalogue with that version's
    IR digest, and authenticates as the tenant's own `training-scheduler` account."""
    import base64
    import binascii
    import json

    from pipelines import catalogue

    out = []
    scheduler = naming.sa_email("training-scheduler", ctx.project_id)
    for r in graph.of_type("gcp:cloudscheduler/job:Job"):
        try:
            body = json.loads(base64.b64decode(r.input("httpTarget.body") or "", validate=True))
            template = body["template"]
            key = (template["name"], template["version"])
        except (binascii.Error, ValueError, KeyError, TypeError):
            out.append(Violation("schedules-pin-templates", _label(r), "posts no template"))
            continue
        entry = catalogue.load().get(key)
        if entry is None:
            out.append(Violation("schedules-pin-templates", _label(r),
                                 f"{key[0]} v{key[1]} is not in the catalogue"))  # fmt: skip
        elif template.get("ir_sha256") != entry["ir_sha256"]:
            out.append(Violation("schedules-pin-templates", _label(r),
                                 f"{key[0]} v{key[1]} is not pinned to its IR digest"))  # fmt: skip
        identity = r.input("httpTarget.oidcToken.serviceAccountEmail")
        if identity != scheduler:
            out.append(Violation("schedules-pin-templates", _label(r),
                                 f"authenticates as {identity!r}, not {scheduler}"))  # fmt: skip
    return out + _vertex_schedules_pin(graph, ctx)


def _vertex_schedules_pin(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """A tenant's pinned pipeline derives from a catalogued version; a Vertex AI schedule runs
    one of the tenant's pinned pipelines, by digest, as the tenant's `pipelines-runner`."""
    from infra.components.pipelines import PINNED_KIND, SCHEDULE_KIND, template_uri
    from pipelines import catalogue

    out = []
    dynamic = graph.of_type("pulumi-python:dynamic:Resource")
    pinned = set()
    for r in (r for r in dynamic if r.input("kind") == PINNED_KIND):
        key = (r.input("package"), str(r.input("tag")).removeprefix("v"))
        entry = catalogue.load().get(key)
        if entry is None or entry["ir_sha256"] != r.input("base_sha256"):
            out.append(Violation("schedules-pin-templates", _label(r),
                                 f"{key[0]} v{key[1]} does not derive from a catalogued "
                                 "version's IR"))  # fmt: skip
            continue
        pinned.add(template_uri(r.input("host"), key[0], r.input("sha256")))
    runner = naming.sa_email("pipelines-runner", ctx.project_id)
    for r in (r for r in dynamic if r.input("kind") == SCHEDULE_KIND):
        job = r.input("body.createPipelineJobRequest.pipelineJob") or {}
        if job.get("templateUri") not in pinned:
            out.append(Violation("schedules-pin-templates", _label(r),
                                 f"runs {job.get('templateUri')!r}, not one of the tenant's "
                                 "pinned pipelines"))  # fmt: skip
        if job.get("serviceAccount") != runner:
            out.append(Violation("schedules-pin-templates", _label(r),
                                 f"runs as {job.get('serviceAccount')!r}, not {runner}"))  # fmt: skip
    return out


def every_tenant_has_a_budget(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """A tenant stack declares a billing budget over its own project, with at least one alert
    threshold and a notification channel (GPU training is where a tenant's cost runs away)."""
    if not ctx.tenant_scoped:
        return []
    projects = graph.of_type("gcp:organizations/project:Project")
    numbers = {f"projects/{p.outputs.get('number')}" for p in projects if p.outputs.get("number")}
    for r in graph.of_type("gcp:billing/budget:Budget"):
        scoped = r.input("budgetFilter.projects") or []
        # A preview of a new project does not know its number yet: any project filter then.
        if (
            scoped
            and (set(scoped) <= numbers or not numbers)
            and r.input("thresholdRules")
            and r.input("allUpdatesRule.monitoringNotificationChannels")
        ):
            return []
    return [
        Violation(
            "tenant-budget",
            graph.stack,
            "no billing budget over the tenant's project with alert thresholds and a "
            "notification channel",
        )
    ]


RULES: tuple[Callable[[Graph, PolicyContext], list[Violation]], ...] = (
    no_basic_roles,
    no_public_access,
    buckets_are_governed,
    resources_in_allowed_regions,
    secrets_stay_secret,
    names_within_limits,
    no_cross_tenant_bindings,
    schedules_pin_catalogued_templates,
    every_tenant_has_a_budget,
    served_models_are_kept,
    tfdv_reads_what_it_serves,
)


def check(graph: Graph, ctx: PolicyContext) -> list[Violation]:
    """Run every rule; violations sorted for stable reports."""
    found = [v for rule in RULES for v in rule(graph, ctx)]
    return sorted(found, key=lambda v: (v.rule, v.resource, v.message))


class PolicyError(AssertionError):
    """Raised by :func:`enforce` with one line per violation."""


def enforce(graph: Graph, ctx: PolicyContext) -> None:
    """Raise :class:`PolicyError` listing every violation, if any."""
    violations = check(graph, ctx)
    if violations:
        lines = "\n  ".join(str(v) for v in violations)
        raise PolicyError(f"{len(violations)} policy violation(s) in {graph.stack}:\n  {lines}")
