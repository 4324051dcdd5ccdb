"""Security and shape properties of each component in the example tenants' graphs."""

from __future__ import annotations

import base64
import json

import pytest

from infra.components.identities import ACCOUNTS
from infra.config import PRESETS, Preset
from infra.stacks import evaluate_stack

RUN_INVOKER = "gcp:cloudrunv2/serviceIamMember:ServiceIamMember"


def invokers(graph, service_name: str) -> list[str]:
    return sorted(
        r.input("member")
        for r in graph.of_type(RUN_INVOKER)
        if r.input("name") == service_name and r.input("role") == "roles/run.invoker"
    )


def app_member(project: str) -> str:
    return f"serviceAccount:django-app@{project}.iam.gserviceaccount.com"


def test_every_component_is_a_typed_component_resource(graphs):
    graph, _ = graphs["busy"]
    tokens = sorted(r.type for r in graph.resources if not r.custom)
    assert tokens == sorted(
        f"b2brecs:tenant:{kind}"
        for kind in (
            "Budget",
            "GpuQuota",
            "Identities",
            "MlflowService",
            "Registry",
            "Schedules",
            "Secrets",
            "ServingEndpoints",
            "Storage",
            "TenantPipelines",
            "TenantProject",
            "TfdvParser",
            "Warehouse",
        )
    )
    # Every cloud resource is parented under one of them.
    assert all(r.parent for r in graph.resources if r.custom)


def test_project_has_billing_and_apis(graphs):
    graph, _ = graphs["gpu-heavy"]
    project = graph.named("tenant-project")
    assert project.input("projectId") == "b2brecs-gpu-heavy"
    assert project.input("folderId") == "456789012345" and project.input("orgId") is None
    assert project.input("autoCreateNetwork") is False
    billing = graph.named("tenant-billing")
    assert billing.input("billingAccount") == "01A2B3-C4D5E6-F7A8B9"
    apis = {r.input("service") for r in graph.of_type("gcp:projects/service:Service")}
    assert {"aiplatform.googleapis.com", "run.googleapis.com", "cloudquotas.googleapis.com"} <= apis
    # APIs are enabled only once billing is linked.
    assert all(billing.urn in r.dependencies for r in graph.of_type("gcp:projects/service:Service"))


def test_service_accounts_and_least_privilege_roles(graphs):
    graph, _ = graphs["small"]
    ids = {r.input("accountId") for r in graph.of_type("gcp:serviceaccount/account:Account")}
    assert ids == {spec.account_id for spec in ACCOUNTS.values()}
    assert {
        "django-app",
        "etl-runner",
        "tfdv-parser",
        "mlflow-server",
        "pipelines-runner",
        "training-scheduler",
    } <= ids
    project_roles = {
        (r.input("member").split("@")[0].split(":")[1], r.input("role"))
        for r in graph.of_type("gcp:projects/iAMMember:IAMMember")
    }
    assert ("mlflow-server", "roles/cloudsql.client") in project_roles
    # The scheduler account has no project roles at all.
    assert not [m for m, _ in project_roles if m == "training-scheduler"]
    assert all(not role.startswith("roles/storage") for _, role in project_roles)


def test_scheduler_agent_may_mint_oidc_tokens_for_the_scheduler_account(graphs):
    graph, _ = graphs["busy"]
    number = graph.named("tenant-project").outputs["number"]
    binding = graph.named("identities-scheduler-agent-oidc")
    assert binding.input("role") == "roles/iam.serviceAccountOpenIdTokenCreator"
    assert binding.input("member") == (
        f"serviceAccount:service-{number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
    )
    assert binding.input("serviceAccountId").endswith(
        "training-scheduler@b2brecs-busy-retail.iam.gserviceaccount.com"
    )


@pytest.mark.parametrize(
    ("purpose", "days", "condition"),
    [("quicktest", 7, "age"), ("training", 30, "age"), ("staging", 3, "age"),
     ("mlflow", 365, "daysSinceNoncurrentTime"), ("models", 90, "daysSinceNoncurrentTime")],
)  # fmt: skip
def test_buckets_retention_and_hardening(graphs, purpose, days, condition):
    graph, _ = graphs["small"]
    bucket = graph.named(f"storage-{purpose}")
    rule = bucket.input("lifecycleRules")[0]
    assert (rule["action"]["type"], rule["condition"][condition]) == ("Delete", days)
    assert bucket.input("uniformBucketLevelAccess") is True
    assert bucket.input("publicAccessPrevention") == "enforced"
    assert bucket.input("labels")["tenant"] == "small-shop"
    assert bucket.input("location") == "EUROPE-CENTRAL2"


def test_registry_repositories_and_shared_image_readers(graphs):
    graph, _ = graphs["small"]
    repos = {
        r.input("repositoryId"): r.input("format")
        for r in graph.of_type("gcp:artifactregistry/repository:Repository")
    }
    assert repos == {"docker-images": "DOCKER", "kfp-templates": "KFP"}
    shared = [
        r
        for r in graph.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
        if r.input("project") == "b2brecs-platform"
    ]
    assert sorted(r.input("member").split("@")[0] for r in shared) == [
        "serviceAccount:etl-runner",
        "serviceAccount:pipelines-runner",
    ]
    assert {r.input("role") for r in shared} == {"roles/artifactregistry.reader"}


def test_gpu_quota_preference(graphs):
    graph, _ = graphs["gpu-heavy"]
    [pref] = graph.of_type("gcp:cloudquota/sQuotaPreference:SQuotaPreference")
    assert pref.input("service") == "aiplatform.googleapis.com"
    assert pref.input("dimensions") == {"region": "europe-west4"}
    assert pref.input("quotaConfig")["preferredValue"] == "8"
    assert "A100" in pref.input("quotaId")
    assert pref.input("parent") == "projects/b2brecs-gpu-heavy"


def test_no_gpu_quota_when_count_is_zero(stack_configs, variant):
    graph, _ = evaluate_stack("small", variant("small", gpu={"type": "NVIDIA_L4", "count": 0}))
    assert graph.of_type("gcp:cloudquota/sQuotaPreference:SQuotaPreference") == []


def test_warehouse_dataset_access(graphs):
    graph, _ = graphs["small"]
    dataset = graph.named("warehouse-raw_data")
    assert (dataset.input("datasetId"), dataset.input("location")) == (
        "raw_data",
        "europe-central2",
    )
    grants = {
        r.input("member").split("@")[0].removeprefix("serviceAccount:"): r.input("role")
        for r in graph.of_type("gcp:bigquery/datasetIamMember:DatasetIamMember")
    }
    assert grants["etl-runner"] == "roles/bigquery.dataEditor"
    assert grants["pipelines-runner"] == "roles/bigquery.dataViewer"


def test_tenant_secrets_are_readable_by_their_accessors_only(graphs):
    graph, _ = graphs["busy"]
    members = sorted(
        r.input("member").split("@")[0]
        for r in graph.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")
        if r.input("secretId") == "crm-db-password"
    )
    assert members == ["serviceAccount:django-app", "serviceAccount:etl-runner"]
    secret = graph.named("secrets-crm-db-password")
    assert secret.input("replication.userManaged.replicas.0.location") == "europe-west1"


def test_mlflow_service(graphs):
    graph, _ = graphs["gpu-heavy"]
    db = graph.named("mlflow-db")
    assert db.input("databaseVersion").startswith("POSTGRES")
    assert db.input("settings.tier") == "db-custom-2-7680"
    assert graph.named("mlflow-database").input("name") == "mlflow"
    assert graph.named("mlflow-user").secret_paths == ("password",)
    assert graph.named("mlflow-db-uri").input("secretId") == "mlflow-db-uri"
    assert graph.named("mlflow-db-uri-version").secret_paths == ("secretData",)
    server = graph.named("mlflow-server")
    env = {e["name"]: e for e in server.input("template.containers.0.envs")}
    assert env["MLFLOW_BACKEND_STORE_URI"]["valueSource"]["secretKeyRef"]["secret"] == (
        "mlflow-db-uri"
    )
    assert env["MLFLOW_ARTIFACT_ROOT"]["value"] == "gs://b2brecs-gpu-heavy-mlflow-artifacts"
    # The app reads runs; the trainer logs them as pipelines-runner (trainer.tracking).
    assert invokers(graph, "mlflow-server") == [
        app_member("b2brecs-gpu-heavy"),
        "serviceAccount:pipelines-runner@b2brecs-gpu-heavy.iam.gserviceaccount.com",
    ]


def test_tfdv_parser_is_invokable_by_the_app_only(graphs):
    for stack in ("small", "busy"):
        graph, ctx = graphs[stack]
        service = graph.named("tfdv-service")
        assert service.input("template.serviceAccount").startswith("tfdv-parser@")
        assert invokers(graph, "tfdv-parser") == [app_member(ctx.project_id)]


def test_one_scheduler_job_per_schedule_with_oidc_and_time_zone(graphs, stack_configs):
    graph, _ = graphs["busy"]
    schedules = stack_configs["busy"]["b2b-recs:tenant"]["schedules"]
    jobs = {r.input("name"): r for r in graph.of_type("gcp:cloudscheduler/job:Job")}
    assert sorted(jobs) == sorted(f"busy-retail-{s['name']}" for s in schedules)
    for spec in schedules:
        job = jobs[f"busy-retail-{spec['name']}"]
        assert job.input("schedule") == spec["cron"]
        assert job.input("timeZone") == spec["time_zone"]
        token = job.input("httpTarget.oidcToken")
        assert token["serviceAccountEmail"] == (
            "training-scheduler@b2brecs-busy-retail.iam.gserviceaccount.com"
        )
        assert token["audience"] == job.input("httpTarget.uri")
        body = json.loads(base64.b64decode(job.input("httpTarget.body")))
        pinned = body["template"].pop("ir_sha256")
        assert body["template"] == spec["template"] and len(pinned) == 64
        assert body["parameters"] == spec.get("parameters", {})
        # Jobs wait for the token-creator grant, or their first call fails with 401.
        assert graph.named("identities-scheduler-agent-oidc").urn in job.dependencies
    check = jobs["busy-retail-hourly-check"]
    assert check.input("httpTarget.uri") == "https://checks.busy-retail.example.com/hooks/run"


def test_serving_endpoints_follow_their_preset(graphs, stack_configs):
    graph, ctx = graphs["busy"]
    for spec in stack_configs["busy"]["b2b-recs:tenant"]["endpoints"]:
        preset = PRESETS[Preset(spec["preset"])]
        service = graph.named(f"serving-{spec['name']}")
        assert service.input("name") == f"serve-{spec['name']}"
        assert service.input("template.scaling") == {
            "minInstanceCount": preset.min_instances,
            "maxInstanceCount": preset.max_instances,
        }
        assert service.input("template.containers.0.resources.limits") == {
            "cpu": preset.cpu,
            "memory": preset.memory,
        }
        expected = [app_member(ctx.project_id)] + (["allUsers"] if spec.get("public") else [])
        assert invokers(graph, f"serve-{spec['name']}") == sorted(expected)
    image = graph.named("serving-home-feed").input("template.containers.0.image")
    assert image.endswith("/shared-images/model-server-scann:0.1.0")


def test_pulumi_up_leaves_a_deployed_models_revisions_alone(graphs):
    """The deployer replaces an endpoint's revision (the image the model's runtime needs,
    MODEL_URI) and its traffic: `pulumi up` must keep them, or it would roll a served ScaNN
    model back onto the endpoint's first image. Other services stay fully managed."""
    graph, _ = graphs["busy"]
    services = graph.of_type("gcp:cloudrunv2/service:Service")
    serving = [s for s in services if s.name.startswith("serving-")]
    assert serving and all(s.ignore_changes == ("template", "traffics") for s in serving)
    assert all(not s.ignore_changes for s in services if s not in serving)


def test_platform_stack_grants_each_tenant_a_reader(graphs, stack_configs):
    graph, _ = graphs["platform"]
    repos = {
        r.input("repositoryId") for r in graph.of_type("gcp:artifactregistry/repository:Repository")
    }
    assert repos == {"shared-images", "shared-templates"}
    readers = graph.of_type("gcp:artifactregistry/repositoryIamMember:RepositoryIamMember")
    tenants = stack_configs["platform"]["b2b-recs:platform"]["tenants"]
    assert sorted(r.input("member") for r in readers) == sorted(
        f"serviceAccount:service-{t['project_number']}@serverless-robot-prod.iam.gserviceaccount.com"
        for t in tenants
    )
    assert {r.input("role") for r in readers} == {"roles/artifactregistry.reader"}


def test_component_outputs_under_pulumi_runtime_test():
    """The classic style: set_mocks, declare a component, assert on its Outputs."""
    import pulumi

    from infra.components.identities import Identities
    from infra.components.schedules import Schedules
    from infra.components.tenant import TenantContext
    from infra.config import TENANT_KEY, tenant_from_stack_config
    from infra.offline import DeterministicMocks

    config = tenant_from_stack_config(
        {
            TENANT_KEY: {
                "id": "acme",
                "org_id": "123456789012",
                "billing_account": "01A2B3-C4D5E6-F7A8B9",
                "budget": {"amount": 100},
                "platform": {"project_id": "b2brecs-platform", "image_tag": "0.1.0"},
                "scheduler_target_url": "https://app.example.com/hook",
                "schedules": [
                    {
                        "name": "nightly",
                        "cron": "0 2 * * *",
                        "time_zone": "Europe/Warsaw",
                        "template": {"name": "quicktest", "version": "1.5.0"},
                    }
                ],
            }
        }
    )
    pulumi.runtime.set_mocks(DeterministicMocks(), project="b2b-recs", stack="unit", preview=False)

    @pulumi.runtime.test
    def check():
        ids = Identities("ids", project_id="b2brecs-acme", project_number="123456789")
        ctx = TenantContext(config, "b2brecs-acme", "123456789", ids, needs=lambda *apis: [])
        job = Schedules("s", ctx).jobs["nightly"]

        def verify(args):
            time_zone, target = args
            assert time_zone == "Europe/Warsaw"
            assert target["oidc_token"]["service_account_email"] == (
                "training-scheduler@b2brecs-acme.iam.gserviceaccount.com"
            )
            assert target["oidc_token"]["audience"] == "https://app.example.com/hook"

        return pulumi.Output.all(job.time_zone, job.http_target).apply(verify)

    check()
