"""The offline plan: readable table, JSON-only output, determinism, clear failures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra import plan
from infra.policy import check
from infra.stacks import available_stacks, evaluate_stack

REPO = Path(__file__).resolve().parents[2]


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "infra.plan", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_example_stacks_are_listed():
    assert {"small", "gpu-heavy", "busy", "platform"} <= set(available_stacks())


def test_json_plan_is_byte_identical_across_evaluations(graphs):
    graph, ctx = graphs["busy"]
    again, _ = evaluate_stack("busy")
    first = plan.render_json(graph, check(graph, ctx))
    second = plan.render_json(again, check(again, ctx))
    assert first == second
    # Mock ids derive from logical names, never from randomness.
    version = next(
        r for r in json.loads(first)["resources"] if r["name"] == "mlflow-db-uri-version"
    )
    assert version["inputs"]["secret"] == "mlflow-db-uri-id"


def test_table_lists_type_name_properties_and_dependencies(graphs):
    graph, ctx = graphs["gpu-heavy"]
    text = plan.render_table(graph, check(graph, ctx))
    lines = text.splitlines()
    assert lines[0].split() == ["TYPE", "NAME", "KEY", "PROPERTIES", "DEPENDS", "ON"]
    job = next(line for line in lines if " schedules-weekly-full-training " in line)
    assert job.startswith("gcp:cloudscheduler:Job")
    assert "schedule=0 2 * * 0" in text and "timeZone=Europe/Warsaw" in text
    deps = plan.dependencies(graph, graph.named("schedules-weekly-full-training"))
    assert deps == [
        "identities-scheduler",
        "identities-scheduler-agent-oidc",
        "tenant-api-cloudscheduler",
        "tenant-project",
    ]
    assert "password=[secret]" in text
    assert text.endswith("policy: all rules pass")


def test_secrets_are_masked_in_the_json_plan(graphs):
    graph, ctx = graphs["busy"]
    doc = plan.plan_document(graph, check(graph, ctx))
    versions = [r for r in doc["resources"] if r["type"].endswith("SecretVersion")]
    assert versions and all(r["inputs"]["secretData"] == "[secret]" for r in versions)
    assert doc["policy_violations"] == []


def test_cli_json_output_is_only_json_and_deterministic_across_processes():
    first = run_cli("--tenant", "small", "--format", "json")
    second = run_cli("--tenant", "small", "--format", "json")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    doc = json.loads(first.stdout)
    assert doc["stack"] == "small"
    assert {r["type"] for r in doc["resources"]} >= {"gcp:storage/bucket:Bucket"}


def test_cli_unknown_tenant_lists_available_ones():
    result = run_cli("--tenant", "nobody")
    assert result.returncode == 2
    assert "unknown stack 'nobody'; available: busy, gpu-heavy, platform, small" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"data_region": "moon-1"}, "tenant.data_region"),
        ({"gpu": {"count": -1}}, "tenant.gpu.count"),
    ],
)
def test_cli_invalid_config_names_the_field(tmp_path, change, field):
    config = yaml.safe_load((REPO / "infra" / "Pulumi.small.yaml").read_text())
    config["config"]["b2b-recs:tenant"].update(change)
    (tmp_path / "Pulumi.broken.yaml").write_text(yaml.safe_dump(config))
    result = plan.main(["--tenant", "broken", "--stack-dir", str(tmp_path)])
    assert result == 2


def test_cli_invalid_config_message(tmp_path, capsys):
    config = yaml.safe_load((REPO / "infra" / "Pulumi.small.yaml").read_text())
    config["config"]["b2b-recs:tenant"]["endpoints"] = [{"name": "recs"}, {"name": "recs"}]
    (tmp_path / "Pulumi.broken.yaml").write_text(yaml.safe_dump(config))
    assert plan.main(["--tenant", "broken", "--stack-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "tenant.endpoints[1].name: duplicate name 'recs'" in captured.err
    assert captured.out == ""
