"""Tenant configuration: typed, validated, errors name the field, nothing declared on failure."""

from __future__ import annotations

import copy
import json

import pytest

from infra.config import (
    PRESETS,
    TENANT_KEY,
    ConfigError,
    Preset,
    tenant_from_stack_config,
    validate_cron,
)
from infra.offline import evaluate
from infra.program import run_stack
from infra.stacks import evaluate_stack

BASE = {
    "id": "acme",
    "org_id": "123456789012",
    "billing_account": "01A2B3-C4D5E6-F7A8B9",
    "budget": {"amount": 100},
    "platform": {"project_id": "b2brecs-platform", "image_tag": "0.1.0"},
    "scheduler_target_url": "https://app.example.com/hook",
}
SCHEDULE = {
    "name": "nightly",
    "cron": "0 2 * * *",
    "template": {"name": "quicktest", "version": "1.5.0"},
}


def tenant(**changes) -> dict:
    raw = copy.deepcopy(BASE)
    raw.update(changes)
    return {TENANT_KEY: raw}


def test_defaults_follow_the_product():
    cfg = tenant_from_stack_config(tenant())
    assert cfg.gcp_project_id == "b2brecs-acme"
    assert (cfg.data_region, cfg.training_region) == ("europe-central2", "europe-west4")
    assert (cfg.retention_days.quick_test, cfg.retention_days.training) == (7, 30)
    assert cfg.retention_days.staging == 3
    assert cfg.all_labels()["tenant"] == "acme"


def test_presets_match_the_deployment_wizard():
    assert PRESETS[Preset.DEVELOPMENT].model_dump() == {
        "min_instances": 0,
        "max_instances": 2,
        "memory": "2Gi",
        "cpu": "1",
    }
    assert (PRESETS[Preset.PRODUCTION].max_instances, PRESETS[Preset.PRODUCTION].memory) == (
        10,
        "4Gi",
    )
    high = PRESETS[Preset.HIGH_TRAFFIC]
    assert (high.min_instances, high.max_instances, high.memory, high.cpu) == (2, 50, "8Gi", "4")


def test_structured_value_may_arrive_as_json_text():
    # pulumi.Config passes structured values as JSON strings.
    cfg = tenant_from_stack_config({TENANT_KEY: json.dumps(BASE)})
    assert cfg.id == "acme"


@pytest.mark.parametrize(
    ("changes", "field", "fragment"),
    [
        ({"data_region": "mars-central1"}, "tenant.data_region", "not an allowed data region"),
        (
            {"training_region": "europe-central2"},
            "tenant.training_region",
            "offers no Vertex AI training",
        ),
        ({"gpu": {"count": -1}}, "tenant.gpu.count", "greater than or equal to 0"),
        ({"gpu": {"type": "NVIDIA_GTX_1080"}}, "tenant.gpu.type", "Input should be"),
        (
            {"schedules": [{**SCHEDULE, "cron": "every day"}]},
            "tenant.schedules[0].cron",
            "must have 5 fields",
        ),
        (
            {"schedules": [{**SCHEDULE, "cron": "0 25 * * *"}]},
            "tenant.schedules[0].cron",
            "hour: '25' is out of range",
        ),
        (
            {"schedules": [{**SCHEDULE, "time_zone": "Mars/Olympus"}]},
            "tenant.schedules[0].time_zone",
            "unknown IANA time zone",
        ),
        (
            {"endpoints": [{"name": "recs"}, {"name": "feed"}, {"name": "recs"}]},
            "tenant.endpoints[2].name",
            "duplicate name 'recs'",
        ),
        (
            {"schedules": [SCHEDULE, SCHEDULE]},
            "tenant.schedules[1].name",
            "duplicate name 'nightly'",
        ),
        (
            {"endpoints": [{"name": "recs", "preset": "huge"}]},
            "tenant.endpoints[0].preset",
            "Input should be",
        ),
        ({"folder_id": "123456789"}, "tenant.org_id", "exactly one of org_id and folder_id"),
        ({"billing_account": "nope"}, "tenant.billing_account", "should match pattern"),
        ({"mlflow_password": "hunter2"}, "tenant.mlflow_password", "Extra inputs"),
        ({"labels": {"Team": "x"}}, "tenant.labels", "label key"),
        (
            {"platform": {"project_id": "b2brecs-platform", "image_tag": "latest"}},
            "tenant.platform.image_tag",
            "pin a release",
        ),
        (
            {"platform": {"project_id": "b2brecs-platform", "image_tag": "LATEST"}},
            "tenant.platform.image_tag",
            "not 'LATEST'",
        ),
        (
            {"platform": {"project_id": "b2brecs-platform", "image_tag": "stable"}},
            "tenant.platform.image_tag",
            "a semantic version such as 1.4.0",
        ),
        (
            {"schedules": [{**SCHEDULE, "time_zone": "Europe"}]},
            "tenant.schedules[0].time_zone",
            "unknown IANA time zone 'Europe'",
        ),
        (
            {"schedules": [{**SCHEDULE, "time_zone": "localtime"}]},
            "tenant.schedules[0].time_zone",
            "unknown IANA time zone 'localtime'",
        ),
        (
            {"schedules": [{**SCHEDULE, "cron": "0 \u0663 * * *"}]},
            "tenant.schedules[0].cron",
            "hour: '\u0663' is not unix-cron",
        ),
        (
            {"schedules": [{**SCHEDULE, "parameters": {"epochs": float("inf")}}]},
            "tenant.schedules[0].parameters.epochs",
            "finite number",
        ),
        ({"mlflow": {"memory": "99999999Gi"}}, "tenant.mlflow.memory", "should match pattern"),
        ({"mlflow": {"memory": "64Gi"}}, "tenant.mlflow.memory", "outside Cloud Run's 512Mi"),
        ({"mlflow": {"memory": "256Mi"}}, "tenant.mlflow.memory", "outside Cloud Run's 512Mi"),
        (
            {"endpoints": [{"name": "recs", "model_uri": "gs://b2brecs-gpu-heavy-models/recs/"}]},
            "tenant.endpoints[0].model_uri",
            "bucket 'b2brecs-gpu-heavy-models' is not this tenant's model bucket",
        ),
        (
            # The tenant's own training bucket holds customer data, not only models.
            {"endpoints": [{"name": "recs", "model_uri": "gs://b2brecs-acme-training-artifacts/"}]},
            "tenant.endpoints[0].model_uri",
            "serves from gs://b2brecs-acme-models/recs/",
        ),
        (
            {"endpoints": [{"name": "recs", "model_uri": "gs://b2brecs-acme-models/other/v1/"}]},
            "tenant.endpoints[0].model_uri",
            "it is another model's folder",
        ),
        (
            {"scheduler_target_url": None, "schedules": [SCHEDULE]},
            "tenant.schedules[0].target_url",
            "set target_url",
        ),
    ],
)
def test_invalid_config_names_the_field(changes, field, fragment):
    with pytest.raises(ConfigError) as info:
        tenant_from_stack_config(tenant(**changes))
    message = str(info.value)
    assert f"{field}:" in message
    assert fragment in message


def test_missing_tenant_key_is_named():
    with pytest.raises(ConfigError, match="b2b-recs:tenant: missing"):
        tenant_from_stack_config({})


@pytest.mark.parametrize(
    "expr",
    ["*/15 * * * *", "0 6 * * 1-5", "30 1 1,15 * *", "0 0 1 1 7", "5 4 * 2-11/2 *",
     "0 9 * * MON-FRI", "0 0 1 JAN *", "0 9 * * mon,wed,fri", "0 0 29 2 *"],
)  # fmt: skip
def test_cron_accepts_valid_expressions(expr):
    assert validate_cron(expr) == expr


@pytest.mark.parametrize(
    "expr",
    ["* * * *", "60 * * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 8", "*/0 * * * *",
     "0 0 31 2 *", "0 0 L * *", "0 0 * * 1#2", "0 0 ? * *", "0 0 * * JAN", "0 0 1 MON *",
     "* * * * * *", "@daily"],
)  # fmt: skip
def test_cron_rejects_malformed_expressions(expr):
    with pytest.raises(ValueError, match="cron"):
        validate_cron(expr)


def test_invalid_config_fails_before_any_resource_is_declared():
    recorded: list = []
    with pytest.raises(ConfigError, match=r"tenant\.gpu\.count"):
        evaluate(run_stack, stack="acme", config=tenant(gpu={"count": -2}), recorded=recorded)
    assert recorded == []


def test_offline_evaluation_validates_before_running(stack_configs):
    config = copy.deepcopy(stack_configs["busy"])
    config[TENANT_KEY]["endpoints"].append({"name": "basket", "preset": "production"})
    with pytest.raises(ConfigError, match=r"tenant\.endpoints\[5\]\.name: duplicate"):
        evaluate_stack("busy", config)


def test_an_image_tag_may_be_a_release_or_a_digest():
    for tag in ("1.4.0", "v2.0.1", "1.4.0-rc.1", "sha256:" + "ab" * 32):
        raw = tenant(platform={"project_id": "b2brecs-platform", "image_tag": tag})
        assert tenant_from_stack_config(raw).platform.image_tag == tag


def test_an_endpoint_may_serve_a_model_of_its_own_folder():
    uri = "gs://b2brecs-acme-models/recs/v3/"
    cfg = tenant_from_stack_config(tenant(endpoints=[{"name": "recs", "model_uri": uri}]))
    assert cfg.endpoints[0].model_uri == uri


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"config:\n  b2b-recs:tenant: {id: acme\n", "line 3, column 1: YAML error"),
        (b"- a\n- b\n", "the top level must be a mapping, got list"),
        (b"config:\n  x: \xff\xfe\n", "not UTF-8 text"),
        (b"config: [1, 2]\n", "'config' must be a mapping"),
        (b"config:\n  b2b-recs:mlflowDbPassword: hunter2\n",
         "b2b-recs:mlflowDbPassword: a secret written in cleartext"),
        (b"config:\n  b2b-recs:secret-api-key: abc\n",
         "b2b-recs:secret-api-key: a secret written in cleartext"),
    ],
)  # fmt: skip
def test_a_broken_stack_file_is_a_config_error_naming_the_file(tmp_path, content, fragment):
    from infra.stacks import load_stack_config

    (tmp_path / "Pulumi.acme.yaml").write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_stack_config("acme", tmp_path)
    assert str(info.value).startswith("Pulumi.acme.yaml: ") or "cleartext" in str(info.value)
    assert fragment in str(info.value)


def test_a_stack_file_with_secure_secrets_loads(tmp_path):
    from infra.stacks import load_stack_config

    (tmp_path / "Pulumi.acme.yaml").write_text(
        "config:\n  b2b-recs:mlflowDbPassword:\n    secure: AAABAJ+x\n"
    )
    assert load_stack_config("acme", tmp_path) == {
        "b2b-recs:mlflowDbPassword": {"secure": "AAABAJ+x"}
    }


def test_the_plan_cli_says_the_files_problem_with_exit_2(tmp_path, capsys):
    from infra.plan import main

    (tmp_path / "Pulumi.acme.yaml").write_bytes(b"- not\n- a mapping\n")
    assert main(["--tenant", "acme", "--stack-dir", str(tmp_path)]) == 2
    assert "the top level must be a mapping" in capsys.readouterr().err


def test_the_mlflow_database_uri_encodes_its_password():
    from urllib.parse import unquote, urlsplit

    from infra.components.mlflow import db_uri

    password = "p@ss%w?rd#1/x:y"
    uri = db_uri(password, "proj:europe-central2:acme-mlflow-pg")
    parts = urlsplit(uri)
    assert unquote(parts.password) == password and parts.username == "mlflow"
    assert (
        parts.path == "/mlflow"
        and parts.query == "host=/cloudsql/proj:europe-central2:acme-mlflow-pg"
    )
