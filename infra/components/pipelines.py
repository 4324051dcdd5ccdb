"""TenantPipelines: the tenant's own copy of each template version it schedules, pinned, and the
Vertex AI schedules that run them directly.

For every template version a schedule names, the catalogued IR (`pipelines/ir/`, published to
the platform's repository under its digest) gets the tenant's infrastructure as input defaults
(project, regions, buckets, runner account, image, GPU, MLflow URL) and is put into the tenant's
`kfp-templates` repository as package `<template>`, tag `v<version>`. The resource records the
base digest it came from and its own digest, so a version bump in the tenant config is an update
of this resource in the plan, and a Vertex AI schedule pins the exact bytes it runs.

Pulumi has no resource for either (KFP packages, Vertex AI schedules), so both are dynamic
resources: offline, the plan and the policy see their inputs; `pulumi up` runs the providers
below. The providers' requests are tested against a registry on 127.0.0.1 and field by field;
neither is verified here against Google's services.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi
from pulumi import dynamic

from infra import naming
from infra.components.identities import Identities
from infra.components.registry import shared_image
from infra.config import Schedule, TenantConfig

PINNED_KIND = "b2brecs:tenant:PinnedPipeline"
SCHEDULE_KIND = "b2brecs:tenant:VertexSchedule"
TRAINER_IMAGE = "tfx-trainer"


def tenant_repository(config: TenantConfig) -> str:
    """The tenant's KFP repository as kfp's RegistryClient names it."""
    return f"https://{config.data_region}-kfp.pkg.dev/{config.gcp_project_id}/kfp-templates"


def tenant_defaults(config: TenantConfig, mlflow_url: str) -> dict[str, Any]:
    """The inputs a tenant's infrastructure decides (`infra.templates.TENANT_DEFAULTS`)."""
    project = config.gcp_project_id
    runner = naming.sa_email("pipelines-runner", project)
    values: dict[str, Any] = {
        "project": project,
        "dataflow_region": config.data_region,
        "dataflow_temp_location": f"gs://{naming.bucket(project, 'pipeline-staging')}/dataflow",
        "dataflow_service_account": runner,
        "training_region": config.training_region,
        "training_service_account": runner,
        "worker_image": shared_image(config, TRAINER_IMAGE),
        "warehouse_uri": f"bigquery://{project}",
        "mlflow_tracking_uri": mlflow_url,
        "models_dir": f"gs://{naming.bucket(project, 'models')}",
        "deploy_region": config.data_region,
    }
    if config.gpu.count:
        values["accelerator_type"] = config.gpu.type
        values["accelerator_count"] = config.gpu.count
        values["worker_image"] = shared_image(config, f"{TRAINER_IMAGE}-gpu")
    return values


def parameterized(spec: dict, defaults: dict[str, Any]) -> dict:
    """The IR with `defaults` as the default values of the inputs it has (others ignored)."""
    spec = json.loads(json.dumps(spec))
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    for name, value in sorted(defaults.items()):
        if name in inputs:
            inputs[name]["defaultValue"] = value
            inputs[name]["isOptional"] = True
    return spec


def template_uri(host: str, package: str, sha256: str) -> str:
    """A pinned pipeline's version in a KFP repository, as Vertex AI's `templateUri`."""
    return f"{host}/{package}/sha256:{sha256}"


class RegistryProvider(dynamic.ResourceProvider):
    """Uploads a pinned pipeline with kfp's RegistryClient; a changed digest moves the tag.
    `config_file`/`auth` select another registry (tests); by default Artifact Registry, with
    Google's application default credentials."""

    def __init__(self, config_file: str | None = None, auth: Any = None) -> None:
        self.config_file, self.auth = config_file, auth

    def _client(self, host: str):
        from kfp.registry import RegistryClient

        return RegistryClient(host=host, config_file=self.config_file, auth=self.auth)

    def _upload(self, props: dict) -> dict:
        from pipelines.publish import upload

        version = upload(self._client(props["host"]), props["package"], props["tag"],
                         props["content"].encode(), props["sha256"])  # fmt: skip
        return {**props, "version": version}

    def create(self, props: dict) -> dynamic.CreateResult:
        outs = self._upload(props)
        return dynamic.CreateResult(f"{props['host']}/{props['package']}/{props['tag']}", outs)

    def diff(self, _id: str, olds: dict, news: dict) -> dynamic.DiffResult:
        keys = ("host", "package", "tag", "sha256")
        changed = [k for k in keys if olds.get(k) != news.get(k)]
        return dynamic.DiffResult(
            changes=bool(changed), replaces=[k for k in changed if k in ("host", "package")]
        )

    def update(self, _id: str, _olds: dict, news: dict) -> dynamic.UpdateResult:
        return dynamic.UpdateResult(self._upload(news))

    def delete(self, _id: str, props: dict) -> None:
        # The versions stay (a run may still name one); only the tag goes with the resource.
        self._client(props["host"]).delete_tag(props["package"], props["tag"])


class PinnedPipeline(dynamic.Resource):
    """A tenant's parameterized template version in its KFP repository."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(RegistryProvider(), name, {**props, "version": None}, opts)


def schedule_request(
    config: TenantConfig, schedule: Schedule, pinned_sha256: str
) -> tuple[str, dict[str, Any]]:
    """(parent URL, body) of Vertex AI `schedules.create` for a schedule that runs the tenant's
    pinned template directly, as `pipelines-runner`."""
    from infra.components.storage import BUCKETS

    project = config.gcp_project_id
    region = config.training_region
    parent = f"projects/{project}/locations/{region}"
    kind = "training" if schedule.template.name == "training" else "quicktest"
    bucket = naming.bucket(project, BUCKETS[kind][0])
    package = schedule.template.name
    body = {
        "displayName": f"{config.id}-{schedule.name}",
        "cron": f"TZ={schedule.time_zone} {schedule.crontab}",
        "maxConcurrentRunCount": 1,
        "createPipelineJobRequest": {
            "parent": parent,
            "pipelineJob": {
                "displayName": f"{config.id}-{schedule.name}",
                "templateUri": template_uri(tenant_repository(config), package, pinned_sha256),
                "runtimeConfig": {
                    "gcsOutputDirectory": f"gs://{bucket}/pipeline-root/scheduled/{schedule.name}",
                    "parameterValues": dict(schedule.parameters),
                },
                "serviceAccount": naming.sa_email("pipelines-runner", project),
                "labels": {
                    "tenant": config.id,
                    "schedule": schedule.name,
                    "template": package,
                    "template-version": schedule.template.version.replace(".", "-"),
                },
            },
        },
    }
    if schedule.once_at is not None:
        body["maxRunCount"] = 1  # Vertex AI ends the schedule after its one run
    return f"https://{region}-aiplatform.googleapis.com/v1/{parent}/schedules", body


class VertexScheduleProvider(dynamic.ResourceProvider):
    """Creates, updates and deletes a Vertex AI schedule through its REST API."""

    def __init__(self, session: Any = None) -> None:
        self.session = session

    def _session(self):
        if self.session is not None:
            return self.session
        import google.auth
        from google.auth.transport.requests import AuthorizedSession

        credentials, _ = google.auth.default()
        return AuthorizedSession(credentials)

    def create(self, props: dict) -> dynamic.CreateResult:
        response = self._session().post(props["url"], json=props["body"])
        response.raise_for_status()
        return dynamic.CreateResult(response.json()["name"], props)

    def diff(self, _id: str, olds: dict, news: dict) -> dynamic.DiffResult:
        changed = olds.get("body") != news.get("body") or olds.get("url") != news.get("url")
        return dynamic.DiffResult(changes=changed, replaces=["url"] if changed else [])

    def delete(self, id_: str, props: dict) -> None:
        api = props["url"].split("/v1/", 1)[0]
        self._session().delete(f"{api}/v1/{id_}").raise_for_status()


class VertexSchedule(dynamic.Resource):
    """A Vertex AI pipeline schedule of the tenant's pinned template."""

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(VertexScheduleProvider(), name, props, opts)


class TenantPipelines(pulumi.ComponentResource):
    """Per scheduled template version, the tenant's pinned copy; per `runner: vertex` schedule,
    its Vertex AI schedule."""

    def __init__(
        self,
        name: str,
        *,
        config: TenantConfig,
        identities: Identities,
        mlflow_url: pulumi.Input[str],
        depends_on: list[pulumi.Resource] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("b2brecs:tenant:TenantPipelines", name, None, opts)
        from pipelines import catalogue

        child = pulumi.ResourceOptions(parent=self, depends_on=depends_on or [])
        host = tenant_repository(config)
        self.pinned: dict[tuple[str, str], PinnedPipeline] = {}
        versions = sorted({(s.template.name, s.template.version) for s in config.schedules})
        for template, version in versions:
            base = catalogue.load()[(template, version)]["ir_sha256"]
            spec = pulumi.Output.from_input(mlflow_url).apply(
                lambda url, t=template, v=version: parameterized(
                    catalogue.ir(t, v), tenant_defaults(config, url)
                )
            )
            # Named by template and major version: a version bump updates this resource.
            self.pinned[(template, version)] = PinnedPipeline(
                f"{name}-{template}-v{version.split('.')[0]}",
                {
                    "kind": PINNED_KIND,
                    "host": host,
                    "package": template,
                    "tag": f"v{version}",
                    "base_sha256": base,
                    "content": spec.apply(lambda s: catalogue.canonical(s).decode()),
                    "sha256": spec.apply(catalogue.ir_digest),
                },
                child,
            )
        for schedule in config.schedules:
            if schedule.runner != "vertex":
                continue
            pinned = self.pinned[(schedule.template.name, schedule.template.version)]
            request = pinned.sha256.apply(lambda sha, s=schedule: schedule_request(config, s, sha))
            VertexSchedule(
                f"{name}-schedule-{schedule.name}",
                {
                    "kind": SCHEDULE_KIND,
                    "url": request.apply(lambda r: r[0]),
                    "body": request.apply(lambda r: r[1]),
                },
                pulumi.ResourceOptions(parent=self, depends_on=[*(depends_on or []), pinned]),
            )
        self.register_outputs({})
