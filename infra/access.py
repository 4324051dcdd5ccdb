"""Least privilege per operation: what the platform does in a tenant's project, who does it, and
the roles it needs, on the narrowest scope that works.

The table (:data:`OPERATIONS`) is written independently of the components that declare the
grants, and the two are held equal: `tests/infra/test_infra_access.py` evaluates every example
tenant's plan and asserts it grants exactly what the table expands to for that tenant, no more
and no less. `docs/least-privilege.md` is rendered from the table (`python -m infra.access`;
`--check` exits 1 when the page is out of date).

Scopes: ``project``; ``bucket:<purpose>`` (the keys of `infra.components.storage.BUCKETS`);
``dataset:<id>``; ``secret:<id>``; ``service:<Cloud Run service>``; ``account:<identity>``
(a grant on a service account: acting as it or minting its tokens); ``repository:<id>`` (the
tenant's) and ``platform-repository`` (the platform's shared images). Roles ``custom:<key>`` are
the project roles of `infra.components.identities.CUSTOM_ROLES`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from infra.config import TenantConfig
from registry.registration import DATA_FOLDER

DOC = Path(__file__).resolve().parents[1] / "docs" / "least-privilege.md"

# Identities that are not the tenant's accounts.
ALL_USERS = "allUsers"
SCHEDULER_AGENT = "cloudscheduler-agent"
"""Cloud Scheduler's service agent in the tenant's project (`service-<number>@gcp-sa-...`)."""


@dataclass(frozen=True)
class Grant:
    role: str
    scope: str
    condition: str | None = None
    """``folder:<prefix>``: only objects under ``<prefix>/`` (and listings of that prefix): an
    endpoint's model folder, or the registered runs' data."""


@dataclass(frozen=True)
class Operation:
    name: str
    identity: str
    """An account key of `infra.components.identities.ACCOUNTS`, ``public:{endpoint}``,
    ``{accessor}``, :data:`ALL_USERS` or :data:`SCHEDULER_AGENT`."""
    grants: tuple[Grant, ...]
    why: str
    each: str | None = None
    """``endpoint``, ``private endpoint``, ``public endpoint`` or ``secret accessor``: one copy
    per such item of the tenant's config, with ``{endpoint}`` / ``{secret}`` / ``{accessor}``
    filled in."""


def _g(role: str, *scopes: str, condition: str | None = None) -> tuple[Grant, ...]:
    return tuple(Grant(role, scope, condition) for scope in scopes)


LOGS = _g("roles/logging.logWriter", "project")
RUN_BUCKETS = ("bucket:quicktest", "bucket:training")

OPERATIONS: tuple[Operation, ...] = (
    Operation(
        "Submit a pipeline run (Vertex AI PipelineJob)",
        "app",
        (
            *_g("roles/aiplatform.user", "project"),
            *_g("roles/iam.serviceAccountUser", "account:pipelines"),
            *_g("roles/artifactregistry.reader", "repository:kfp-templates"),
            *_g("roles/storage.objectCreator", *RUN_BUCKETS),
            *LOGS,
        ),
        "creates the job running as pipelines-runner from a published template, after uploading "
        "the run's generated modules to the run kind's bucket",
    ),
    Operation(
        "Read a run's results",
        "app",
        _g("roles/storage.objectViewer", *RUN_BUCKETS),
        "the metrics file and artifacts under the run's pipeline root",
    ),
    Operation(
        "Preview the client's tables",
        "app",
        (
            *_g("roles/bigquery.jobUser", "project"),
            *_g("roles/bigquery.dataViewer", "dataset:raw_data"),
        ),
        "column detection and the dataset wizard; BigQuery jobs are project resources",
    ),
    Operation(
        "Run a pipeline's steps",
        "pipelines",
        (
            *_g("roles/aiplatform.user", "project"),
            *_g("roles/bigquery.jobUser", "project"),
            *_g("roles/bigquery.dataViewer", "dataset:raw_data"),
            *_g("roles/storage.objectAdmin", *RUN_BUCKETS, "bucket:staging"),
            *_g("roles/artifactregistry.reader", "repository:docker-images", "platform-repository"),
            *_g("roles/run.invoker", "service:mlflow-server"),
            *LOGS,
        ),
        "reads the warehouse, writes the pipeline root and temporary files, logs to MLflow",
    ),
    Operation(
        "Launch Dataflow for a pipeline step",
        "pipelines",
        (
            *_g("custom:dataflow-launcher", "project"),
            *_g("roles/iam.serviceAccountUser", "account:pipelines"),
            *_g("roles/dataflow.worker", "project"),
        ),
        "StatisticsGen and Transform at scale; the workers run as the launcher, which must act as "
        "itself; launching needs no cancel or update of other jobs (no roles/dataflow.developer)",
    ),
    Operation(
        "Run a custom training job (the GPU trainer)",
        "pipelines",
        (
            *_g("roles/aiplatform.user", "project"),
            *_g("roles/iam.serviceAccountUser", "account:pipelines"),
        ),
        "a Vertex AI CustomJob running as pipelines-runner",
    ),
    Operation(
        "Register a model",
        "pipelines",
        (
            *_g("roles/storage.objectAdmin", "bucket:models"),
            *_g("roles/run.invoker", "service:mlflow-server"),
        ),
        "copies a blessed model to <models>/<model>/v<N>/ and records the version in MLflow",
    ),
    Operation(
        "Deploy a model to an endpoint",
        "pipelines",
        (
            *_g("custom:endpoint-deployer", "service:serve-{endpoint}"),
            *_g("custom:run-operation-reader", "project"),
        ),
        "rolls a new revision out and sets its invokers, on the endpoint's service only",
        each="endpoint",
    ),
    Operation(
        "Deploy a model to a private endpoint",
        "pipelines",
        _g("roles/iam.serviceAccountUser", "account:serving"),
        "the revision runs as model-serving",
        each="private endpoint",
    ),
    Operation(
        "Deploy a model to a public endpoint",
        "pipelines",
        _g("roles/iam.serviceAccountUser", "account:public:{endpoint}"),
        "the revision runs as the endpoint's own account",
        each="public endpoint",
    ),
    Operation(
        "Serve a model (private endpoints)",
        "serving",
        (*_g("roles/storage.objectViewer", "bucket:models"), *LOGS),
        "downloads the registered version at start; reads nothing but the model bucket",
    ),
    Operation(
        "Serve a model (a public endpoint)",
        "public:{endpoint}",
        (
            *_g("roles/storage.objectViewer", "bucket:models", condition="folder:{endpoint}"),
            *LOGS,
        ),
        "its own account, reading only its model's folder, so a public server reaches nothing else",
        each="public endpoint",
    ),
    Operation(
        "Call an endpoint",
        "app",
        _g("roles/run.invoker", "service:serve-{endpoint}"),
        "the app asks for recommendations with its identity token",
        each="endpoint",
    ),
    Operation(
        "Call a public endpoint",
        ALL_USERS,
        _g("roles/run.invoker", "service:serve-{endpoint}"),
        "declared public in the tenant's config (`public: true`)",
        each="public endpoint",
    ),
    Operation(
        "Load the warehouse (ETL)",
        "etl",
        (
            *_g("roles/bigquery.jobUser", "project"),
            *_g("roles/bigquery.dataEditor", "dataset:raw_data"),
            *_g("roles/storage.objectAdmin", "bucket:staging"),
            *LOGS,
        ),
        "loads raw_data through load jobs, staging files in the staging bucket",
    ),
    Operation(
        "Launch Dataflow for a large ETL load",
        "etl",
        (
            *_g("custom:dataflow-launcher", "project"),
            *_g("roles/iam.serviceAccountUser", "account:etl"),
            *_g("roles/dataflow.worker", "project"),
            *_g("roles/artifactregistry.reader", "platform-repository"),
        ),
        "above a million rows; the workers run as etl-runner and pull the platform's ETL image",
    ),
    Operation(
        "Read a secret",
        "{accessor}",
        _g("roles/secretmanager.secretAccessor", "secret:{secret}"),
        "only the accounts a secret's `accessors` lists, on that secret only",
        each="secret accessor",
    ),
    Operation(
        "Read statistics and schemas (TFDV parser)",
        "tfdv",
        (
            *_g("roles/storage.objectViewer", *RUN_BUCKETS),
            *_g("roles/storage.objectViewer", "bucket:models", condition=f"folder:{DATA_FOLDER}"),
            *LOGS,
        ),
        "renders a run's statistics and schema from its pipeline root, or a registered run's from "
        f"the models bucket's `{DATA_FOLDER}/` prefix, where they outlive the run's bucket",
    ),
    Operation(
        "Call the TFDV parser",
        "app",
        _g("roles/run.invoker", "service:tfdv-parser"),
        "the app shows a run's data",
    ),
    Operation(
        "Track experiments (MLflow server)",
        "mlflow",
        (
            *_g("roles/cloudsql.client", "project"),
            *_g("roles/storage.objectAdmin", "bucket:mlflow"),
            *_g("roles/secretmanager.secretAccessor", "secret:mlflow-db-uri"),
            *LOGS,
        ),
        "its database over the Cloud SQL connector (project-level only) and its artifact bucket",
    ),
    Operation(
        "Read experiments",
        "app",
        _g("roles/run.invoker", "service:mlflow-server"),
        "the experiments pages",
    ),
    Operation(
        "Trigger a scheduled run",
        SCHEDULER_AGENT,
        _g("roles/iam.serviceAccountOpenIdTokenCreator", "account:scheduler"),
        "mints training-scheduler's identity token for the webhook call; training-scheduler "
        "itself holds no role",
    ),
)


@dataclass(frozen=True, order=True)
class Binding:
    """One grant as a plan holds it: who, which role, on what, under which condition."""

    identity: str
    role: str
    scope: str
    condition: str = ""


def _expansions(operation: Operation, config: TenantConfig) -> Iterator[dict[str, str]]:
    if operation.each is None:
        yield {}
    elif operation.each == "secret accessor":
        for secret in config.secrets:
            for accessor in secret.accessors:
                yield {"secret": secret.name, "accessor": accessor}
    else:
        for endpoint in config.endpoints:
            wanted = {"endpoint": None, "private endpoint": False, "public endpoint": True}
            if wanted[operation.each] in (None, endpoint.public):
                yield {"endpoint": endpoint.name}


def expected(config: TenantConfig) -> set[Binding]:
    """Every binding the tenant's plan must hold, per the table."""
    out = set()
    for operation in OPERATIONS:
        for values in _expansions(operation, config):
            for grant in operation.grants:
                out.add(
                    Binding(
                        operation.identity.format(**values),
                        grant.role,
                        grant.scope.format(**values),
                        (grant.condition or "").format(**values),
                    )
                )
    return out


class UnreadableGrant(ValueError):
    """A binding in a plan that the table's vocabulary cannot describe."""


BINDING_TYPES = (
    "gcp:projects/iAMMember:IAMMember",
    "gcp:serviceaccount/iAMMember:IAMMember",
    "gcp:storage/bucketIAMMember:BucketIAMMember",
    "gcp:bigquery/datasetIamMember:DatasetIamMember",
    "gcp:secretmanager/secretIamMember:SecretIamMember",
    "gcp:cloudrunv2/serviceIamMember:ServiceIamMember",
    "gcp:artifactregistry/repositoryIamMember:RepositoryIamMember",
)


def granted(graph, config: TenantConfig) -> set[Binding]:
    """Every binding a tenant's plan (an `infra.offline.Graph`) declares, in the table's terms.

    Raises :class:`UnreadableGrant` for a binding of another kind or on a resource the table
    has no name for (another project's bucket, an unknown account), so nothing escapes the check.
    """
    from infra import naming
    from infra.components.identities import ACCOUNTS, CUSTOM_ROLES
    from infra.components.serving import model_folder_condition
    from infra.components.storage import BUCKETS, prefix_condition

    project = config.gcp_project_id
    identities = {naming.sa_email(spec.account_id, project): key for key, spec in ACCOUNTS.items()}
    for endpoint in config.endpoints:
        if endpoint.public:
            email = naming.sa_email(naming.public_serving_account(endpoint.name), project)
            identities[email] = f"public:{endpoint.name}"
    roles = {
        f"projects/{project}/roles/{r.role_id}": f"custom:{k}" for k, r in CUSTOM_ROLES.items()
    }
    buckets = {naming.bucket(project, suffix): purpose for purpose, (suffix, *_) in BUCKETS.items()}

    def identity(member: str, where: str) -> str:
        if member == ALL_USERS:
            return ALL_USERS
        email = member.removeprefix("serviceAccount:")
        if email in identities:
            return identities[email]
        if email.startswith("service-") and email.endswith(
            "@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
        ):
            return SCHEDULER_AGENT
        raise UnreadableGrant(f"{where}: member {member!r} is none of the tenant's identities")

    out = set()
    for r in graph.resources:
        if not r.type.lower().endswith(("iammember", "iambinding", "iampolicy")):
            continue
        if r.type not in BINDING_TYPES:
            raise UnreadableGrant(f"{r.name}: {r.type} is not a kind of grant the table knows")
        role = roles.get(r.input("role"), r.input("role"))
        condition = ""
        if r.type == "gcp:projects/iAMMember:IAMMember":
            if r.input("project") != project:
                raise UnreadableGrant(f"{r.name}: grants on project {r.input('project')!r}")
            scope = "project"
        elif r.type == "gcp:serviceaccount/iAMMember:IAMMember":
            email = str(r.input("serviceAccountId")).rsplit("/", 1)[-1]
            scope = f"account:{identity('serviceAccount:' + email, r.name)}"
        elif r.type == "gcp:storage/bucketIAMMember:BucketIAMMember":
            bucket = r.input("bucket")
            if bucket not in buckets:
                raise UnreadableGrant(f"{r.name}: bucket {bucket!r} is not the tenant's")
            scope = f"bucket:{buckets[bucket]}"
            if r.input("condition"):
                expression = r.input("condition.expression")
                prefixes = {model_folder_condition(bucket, e.name).expression: e.name
                            for e in config.endpoints}  # fmt: skip
                data = prefix_condition(bucket, DATA_FOLDER, "").expression
                prefixes[data] = DATA_FOLDER
                matches = [prefixes[expression]] if expression in prefixes else []
                if len(matches) != 1:
                    raise UnreadableGrant(f"{r.name}: unknown condition {expression!r}")
                condition = f"folder:{matches[0]}"
        elif r.type == "gcp:bigquery/datasetIamMember:DatasetIamMember":
            scope = f"dataset:{r.input('datasetId')}"
        elif r.type == "gcp:secretmanager/secretIamMember:SecretIamMember":
            scope = f"secret:{r.input('secretId')}"
        elif r.type == "gcp:cloudrunv2/serviceIamMember:ServiceIamMember":
            scope = f"service:{r.input('name')}"
        elif r.input("project") == project:
            scope = f"repository:{r.input('repository')}"
        elif (r.input("project"), r.input("repository")) == (
            config.platform.project_id,
            config.platform.docker_repository,
        ):
            scope = "platform-repository"
        else:
            raise UnreadableGrant(f"{r.name}: repository of project {r.input('project')!r}")
        out.add(Binding(identity(r.input("member"), r.name), role, scope, condition))
    return out


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _grant_text(grant: Grant) -> str:
    where = f"`{grant.scope}`" + (f" (only `{grant.condition}`)" if grant.condition else "")
    return f"`{grant.role}` on {where}"


def markdown() -> str:
    from infra.components.identities import ACCOUNTS, CUSTOM_ROLES

    out = [
        "# Least privilege per operation",
        "",
        "<!-- Rendered from infra/access.py by `python -m infra.access`; a test keeps it current"
        " and checks every example tenant's plan grants exactly this. -->",
        "",
        "Every grant a tenant's project holds, by the operation that needs it. `{endpoint}` and",
        "`{secret}` stand for each endpoint and secret of the tenant's config. Scopes are the",
        "narrowest the service offers: a bucket, dataset, secret, service or account where one",
        "exists; `project` only where the permission exists at project level alone (BigQuery and",
        "Dataflow jobs, Vertex AI, Cloud SQL connections, logs, Cloud Run operations).",
        "",
        "| operation | identity | grants | why |",
        "|---|---|---|---|",
    ]
    for op in OPERATIONS:
        identity = ACCOUNTS[op.identity].account_id if op.identity in ACCOUNTS else op.identity
        if op.identity.startswith("public:"):
            identity = "pub-{endpoint}"
        grants = "<br>".join(_grant_text(g) for g in op.grants)
        out.append(f"| {_cell(op.name)} | `{identity}` | {grants} | {_cell(op.why)} |")
    out += [
        "",
        "## Identities",
        "",
        "| key | account |",
        "|---|---|",
        *(
            f"| `{key}` | `{spec.account_id}` ({spec.display_name}) |"
            for key, spec in ACCOUNTS.items()
        ),
        "| `public:{endpoint}` | `pub-{endpoint}`, one per public endpoint |",
        f"| `{SCHEDULER_AGENT}` | Cloud Scheduler's service agent of the tenant's project |",
        "",
        "## Custom roles",
        "",
        "| key | role id | permissions |",
        "|---|---|---|",
        *(
            f"| `{key}` | `{role.role_id}` | {', '.join(f'`{p}`' for p in role.permissions)} |"
            for key, role in CUSTOM_ROLES.items()
        ),
        "",
        "## Outside the tenant's project",
        "",
        "The platform stack grants each tenant's Cloud Run service agent",
        "`roles/artifactregistry.reader` on the shared images repository, so the tenant's",
        "services can pull them. Vertex AI pulls a job's containers with its own service agent.",
        "",
        "## Not verified here",
        "",
        "The plan is checked offline against this table. That these roles suffice is taken from",
        "Google's documentation, not from calls against live services: in particular the custom",
        "roles' permission lists, and the public endpoint's IAM condition",
        "(`objectListPrefix` for listing its folder).",
    ]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render docs/least-privilege.md from the table.")
    parser.add_argument("--check", action="store_true", help="exit 1 if the page is out of date")
    args = parser.parse_args(argv)
    from specs.rendered import write_or_check

    return write_or_check(DOC, markdown(), check=args.check, command="python -m infra.access")


if __name__ == "__main__":
    sys.exit(main())
