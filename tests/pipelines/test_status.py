"""A run's status and stages in the product's words, from what its components wrote."""

from __future__ import annotations

from pipelines.status import summarize
from pipelines.training.v1.template import COMPONENTS

SECONDS = {name: 1.0 for name in COMPONENTS} | {"Compile": 0.5}


def _outputs(evaluation=None, registration=None, deployment=None):
    files = {"RecsEvaluator": evaluation, "RecsRegistrar": registration,
             "RecsDeployer": deployment}  # fmt: skip
    return lambda component, key, name: files.get(component) or {}


def _stages(summary):
    return {s["name"]: s["status"] for s in summary["stages"]}


def test_a_blessed_model_with_deployment_disabled_is_completed_and_deploy_skipped():
    summary = summarize(COMPONENTS, SECONDS, _outputs(
        {"blessed": True}, {"registered": True}, {"status": "skipped"}))  # fmt: skip
    assert summary["status"] == "completed"
    stages = _stages(summary)
    assert list(stages) == ["Compile", "Examples", "Stats", "Schema", "Transform", "Train",
                            "Evaluator", "Register", "Deploy"]  # fmt: skip
    assert stages["Deploy"] == "skipped" and stages["Register"] == "completed"
    # Schema is SchemaGen and ExampleValidator together.
    schema = next(s for s in summary["stages"] if s["name"] == "Schema")
    assert schema["duration_seconds"] == 2.0


def test_a_model_not_blessed_registers_and_deploys_nothing():
    summary = summarize(COMPONENTS, SECONDS, _outputs(
        {"blessed": False}, {"registered": False}, {"status": "skipped"}))  # fmt: skip
    assert summary["status"] == "not_blessed"
    assert (_stages(summary)["Register"], _stages(summary)["Deploy"]) == ("skipped", "skipped")


def test_deployed_and_deploy_failed():
    ok = summarize(COMPONENTS, SECONDS, _outputs(
        {"blessed": True}, {"registered": True}, {"status": "deployed"}))  # fmt: skip
    assert ok["status"] == "deployed" and _stages(ok)["Deploy"] == "completed"
    bad = summarize(COMPONENTS, SECONDS, _outputs(
        {"blessed": True}, {"registered": True},
        {"status": "deploy_failed", "error": "image not found"}))  # fmt: skip
    assert bad["status"] == "deploy_failed"
    deploy = bad["stages"][-1]
    assert (deploy["status"], deploy["error"]) == ("failed", "image not found")


def test_a_failed_step_fails_its_stage_and_leaves_the_rest_pending():
    seconds = {k: v for k, v in SECONDS.items() if k in ("Compile", "QueryExampleGen")}
    summary = summarize(COMPONENTS, seconds, _outputs(), failed="StatisticsGen", error="boom")
    assert summary["status"] == "failed"
    assert list(_stages(summary).values()) == ["completed", "completed", "failed"] + ["pending"] * 6
    assert summary["stages"][2]["error"] == "boom"
    assert summary["stages"][3]["duration_seconds"] is None
