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
    "platform": {"project_id": "b2brecs-platform", "image_tag": "0.1.0"},
    "scheduler_target_url": "https://app.example.com/hook",
}
SCHEDULE = {"name": "nightly", "cron": "0 2 * * *", "template": {"name": "etl", "version": "1.0.0"}}


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
            "hour: '25' is outside 0-23",
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
            "not 'latest'",
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
    "expr", ["*/15 * * * *", "0 6 * * 1-5", "30 1 1,15 * *", "0 0 1 1 7", "5 4 * 2-11/2 *"]
)
def test_cron_accepts_valid_expressions(expr):
    assert validate_cron(expr) == expr


@pytest.mark.parametrize(
    "expr", ["* * * *", "60 * * * *", "0 0 0 * *", "0 0 * 13 *", "0 0 * * 8", "*/0 * * * *"]
)
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
