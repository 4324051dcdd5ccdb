"""The idempotency key of a scheduled run: one run per firing, however often it is delivered.

Cloud Scheduler delivers at least once and retries a job whose target fails or is slow (ours:
3 retries, a 320 s deadline), so one firing can arrive two to four times. Every delivery of one
firing carries the same `X-CloudScheduler-ScheduleTime` header (the time it was scheduled for,
not the time it was sent), and the job's body names the tenant and the schedule
(`infra.components.schedules.request_body`). Their combination is the run's idempotency key: the
receiver submits with it, and the run store lets one run in per key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SCHEDULE_TIME_HEADER = "X-CloudScheduler-ScheduleTime"


def trigger_key(body: bytes | str | Mapping[str, Any], headers: Mapping[str, str]) -> str:
    """`<tenant>/<schedule>@<scheduled time>` of one delivery of a Cloud Scheduler job."""
    payload = body if isinstance(body, Mapping) else json.loads(body)
    scheduled = next(
        (v for k, v in headers.items() if k.lower() == SCHEDULE_TIME_HEADER.lower()), None
    )
    if not scheduled:
        raise ValueError(
            f"the trigger has no {SCHEDULE_TIME_HEADER} header: it did not come from Cloud "
            "Scheduler, and without it retries of one firing cannot be told apart"
        )
    for field in ("tenant", "schedule"):
        if not isinstance(payload.get(field), str) or not payload[field]:
            raise ValueError(f"the trigger's body has no {field!r}")
    return f"{payload['tenant']}/{payload['schedule']}@{scheduled}"
