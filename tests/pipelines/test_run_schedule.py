"""pipelines.runs.schedule: retries of one Cloud Scheduler firing share one idempotency key."""

from __future__ import annotations

import base64

import pytest

from infra.components.schedules import request_body
from infra.config import tenant_from_stack_config
from infra.stacks import load_stack_config
from pipelines.runs.schedule import trigger_key


def body_of_busy():
    config = tenant_from_stack_config(load_stack_config("busy"))
    schedule = config.schedules[0]
    return base64.b64decode(request_body(config, schedule)), config.id, schedule.name


def test_every_delivery_of_one_firing_has_the_same_key_and_the_next_firing_another():
    body, tenant, schedule = body_of_busy()
    first = {"X-CloudScheduler-ScheduleTime": "2026-12-04T03:00:00Z", "X-CloudScheduler": "true"}
    retry = {"x-cloudscheduler-scheduletime": "2026-12-04T03:00:00Z"}  # headers are caseless
    tomorrow = {"X-CloudScheduler-ScheduleTime": "2026-12-05T03:00:00Z"}
    key = trigger_key(body, first)
    assert key == f"{tenant}/{schedule}@2026-12-04T03:00:00Z"
    assert trigger_key(body, retry) == key
    assert trigger_key(body, tomorrow) != key


def test_a_trigger_without_the_schedule_time_is_refused():
    body, *_ = body_of_busy()
    with pytest.raises(ValueError, match="no X-CloudScheduler-ScheduleTime header"):
        trigger_key(body, {"Content-Type": "application/json"})
    with pytest.raises(ValueError, match="no 'schedule'"):
        trigger_key({"tenant": "busy"}, {"X-CloudScheduler-ScheduleTime": "2026-12-04T03:00:00Z"})
