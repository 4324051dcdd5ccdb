"""The CI/CD definitions (.github/workflows): valid GitHub Actions workflows (checked against the
workflow JSON Schema that check-jsonschema vendors), doing what the release path needs, in order."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from infra.stacks import available_stacks

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    data = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as true
    return data


def runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


@pytest.mark.parametrize("name", ["pull-request.yml", "release.yml"])
def test_the_workflow_is_valid_by_the_github_workflow_schema(name):
    tool = shutil.which("check-jsonschema")
    assert tool, "check-jsonschema (in the lock) is not installed"
    result = subprocess.run([tool, "--builtin-schema", "vendor.github-workflows",
                             str(WORKFLOWS / name)], capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_pull_request_runs_the_tests_the_ir_diff_and_every_offline_plan():
    workflow = load("pull-request.yml")
    assert "pull_request" in workflow["on"]
    commands = runs(workflow["jobs"]["checks"])
    assert "make test" in commands
    assert "-s catalogue -- --check" in commands
    assert "infra/Pulumi.*.yaml" in commands and 'make plan TENANT="$stack"' in commands


def test_a_version_tag_builds_publishes_previews_then_applies_after_approval():
    workflow = load("release.yml")
    assert workflow["on"]["push"]["tags"] == ["v*.*.*"]
    jobs = workflow["jobs"]
    order = ["checks", "images", "publish", "preview", "up-platform", "up-tenants"]
    assert list(jobs) == order
    for before, after in zip(order, order[1:]):
        assert jobs[after]["needs"] == before
    assert "v${version}" in runs(jobs["checks"]) and "make test" in runs(jobs["checks"])
    assert "make images PUSH=1" in runs(jobs["images"])
    assert "make publish" in runs(jobs["publish"])
    stacks = set(available_stacks())
    assert set(jobs["preview"]["strategy"]["matrix"]["stack"]) == stacks
    assert set(jobs["up-tenants"]["strategy"]["matrix"]["stack"]) | {"platform"} == stacks
    for name in ("up-platform", "up-tenants"):
        assert jobs[name]["environment"] == "production"  # required reviewers: the approval
        pulumi = [s for s in jobs[name]["steps"] if s.get("uses", "").startswith("pulumi/")]
        assert [s["with"]["command"] for s in pulumi] == ["up"]
    preview = [s for s in jobs["preview"]["steps"] if s.get("uses", "").startswith("pulumi/")]
    assert [s["with"]["command"] for s in preview] == ["preview"]
    # No long-lived keys: Workload Identity Federation only.
    assert workflow["permissions"]["id-token"] == "write"
    assert "credentials_json" not in (WORKFLOWS / "release.yml").read_text()
