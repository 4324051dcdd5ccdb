"""A run's record and events as the app shows them: stages with durations, progress, failure.

Progress weights are the seeds' (ExampleGen 20, StatisticsGen 10, SchemaGen 5, Transform 25,
Trainer 40); the training template's other stages weigh 5 each. The weights of a template's
stages are scaled to 100, a running stage counts half, and a completed run is 100.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pipelines.runs.store import Run, iter_stage_events

WEIGHTS = {"QueryExampleGen": 20, "StatisticsGen": 10, "SchemaGen": 5, "Transform": 25,
           "RecsTrainer": 40}  # fmt: skip
OTHER_WEIGHT = 5


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 3)


def stages(components: Sequence[str], run: Run, events: Sequence[dict[str, Any]]) -> list[dict]:
    """One entry per component, in pipeline order: name, state, start, end, duration_s, error.

    A stage that started but neither completed nor failed is `running` while the run runs, and
    takes the run's end state (`cancelled`, `failed`) once it has ended."""
    out = {name: {"name": name, "state": "pending", "start": None, "end": None,
                  "duration_s": None, "error": None} for name in components}  # fmt: skip
    for event in iter_stage_events(events):
        stage = out.setdefault(event["name"], {"name": event["name"], "state": "pending",
                                               "start": None, "end": None, "duration_s": None,
                                               "error": None})  # fmt: skip
        if event["event"] == "started":
            stage.update(state="running", start=event["at"])
        else:
            stage.update(state=event["event"], end=event["at"], error=event["detail"])
            stage["duration_s"] = _seconds(stage["start"], stage["end"])
    for stage in out.values():
        if stage["state"] == "running" and run.terminal:
            stage.update(state="cancelled" if run.state == "cancelled" else "failed",
                         end=run.updated_at)  # fmt: skip
            stage["duration_s"] = _seconds(stage["start"], stage["end"])
            if run.state == "failed" and run.failing_stage in (None, stage["name"]):
                stage["error"] = run.error
    return list(out.values())


def progress_percent(run: Run, stage_list: Sequence[dict]) -> float:
    if run.state == "completed":
        return 100.0
    weights = {s["name"]: WEIGHTS.get(s["name"], OTHER_WEIGHT) for s in stage_list}
    total = sum(weights.values()) or 1
    done = sum(
        weights[s["name"]] * (1.0 if s["state"] == "completed" else 0.5)
        for s in stage_list
        if s["state"] in ("completed", "running")
    )
    return round(100.0 * done / total, 1)


def status_document(run: Run, components: Sequence[str], events: Sequence[dict]) -> dict:
    """What `status RUN --json` prints."""
    stage_list = stages(components, run, events)
    failing = run.failing_stage or next(
        (s["name"] for s in stage_list if s["state"] == "failed"), None
    )
    return {
        "run_id": run.id,
        "tenant": run.tenant,
        "template": run.template,
        "version": run.version,
        "backend": run.backend,
        "state": run.state,
        "stages": stage_list,
        "failing_stage": failing if run.state == "failed" else None,
        "error": run.error,
        "progress_percent": progress_percent(run, stage_list),
        "created_at": run.created_at,
        "updated_at": run.updated_at,
        "history": [{"state": e["name"], "at": e["at"]} for e in events if e["kind"] == "state"],
    }
