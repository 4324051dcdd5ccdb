"""The README's commands stay true.

Every `python -m ...` command of the README's shell blocks is checked: the ones that need no
earlier state (render, templates, describe, compile, the offline infra plan, the demo's options)
are executed as written (output folders moved under a temporary one, the compile's image
placeholder filled in) and must exit 0; the run verbs, which follow a submitted run, must at
least parse with the flags shown (the run e2e test executes them on a real run). The serving
request is sent to a served model by `tests/pipelines/test_quicktest_e2e.py`. `make`, `pulumi`
and `curl` lines are not run here: `make` wraps these same commands, `pulumi` needs the cloud.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def shell_commands() -> list[str]:
    """Each command of the README's ```bash blocks, continuation lines joined, comments cut."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.S):
        text = block.replace("\\\n", " ")
        for line in text.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


PYTHON_COMMANDS = [c for c in shell_commands() if c.startswith("python -m ")]
STATELESS = ("codegen render", "pipelines templates", "pipelines describe", "pipelines compile",
             "infra.plan")  # fmt: skip
RUN_VERBS = ("submit", "status", "wait", "cancel", "results", "logs", "rerun", "list")
EXPERIMENTS_VERBS = ("leaderboard", "compare", "pairs", "trend", "insights", "curves", "report")
REGISTRY_VERBS = ("list", "show", "register", "promote", "rollback", "split", "deploy", "undeploy",
                  "status")  # fmt: skip


def test_the_readme_shows_the_commands_this_test_knows():
    assert len(PYTHON_COMMANDS) >= 12
    for command in PYTHON_COMMANDS:
        module_and_verb = " ".join(shlex.split(command)[2:4])
        assert (
            module_and_verb.startswith(STATELESS)
            or any(module_and_verb == f"pipelines {verb}" for verb in RUN_VERBS)
            or any(module_and_verb == f"experiments {verb}" for verb in EXPERIMENTS_VERBS)
            or any(module_and_verb == f"registry {verb}" for verb in REGISTRY_VERBS)
        ), f"a README command this test does not check: {command}"


@pytest.mark.parametrize(
    "command", [c for c in PYTHON_COMMANDS if " ".join(shlex.split(c)[2:4]).startswith(STATELESS)]
)
def test_a_stateless_readme_command_runs_as_written(command, tmp_path):
    args = shlex.split(command)
    args = [a.replace("<registry>/tfx-trainer:<version>",
                      "europe-docker.pkg.dev/b2brecs-platform/images/tfx-trainer:1.0.0")
            for a in args]  # fmt: skip
    for flag in ("--out",):  # outputs go to a temporary folder, not the checkout
        if flag in args:
            args[args.index(flag) + 1] = str(tmp_path / "out")
    result = subprocess.run([sys.executable, *args[1:]], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip()


@pytest.mark.parametrize(
    "command",
    [
        c
        for c in PYTHON_COMMANDS
        if shlex.split(c)[2:3] == ["pipelines"] and shlex.split(c)[3] in RUN_VERBS
    ],  # fmt: skip
)
def test_a_run_verb_of_the_readme_parses_with_the_flags_shown(command, monkeypatch):
    """The verb and its flags are accepted (parsing stops before anything runs)."""
    import pipelines.__main__ as cli
    from pipelines.runs import cli as runs_cli

    parsed = []
    monkeypatch.setattr(runs_cli, "main", lambda args: parsed.append(args) or 0)
    assert cli.main(shlex.split(command)[3:]) == 0
    (args,) = parsed
    assert args.command == shlex.split(command)[3]


@pytest.mark.parametrize(
    "command", [c for c in PYTHON_COMMANDS if shlex.split(c)[2:3] == ["experiments"]]
)
def test_an_experiments_command_of_the_readme_parses(command):
    """The verb and flags are accepted (the store they read is a run's; tests/experiments runs
    every verb on one)."""
    from experiments.cli import _check, _parser

    args = _parser().parse_args(shlex.split(command)[3:])
    _check(args)
    assert args.verb in EXPERIMENTS_VERBS


@pytest.mark.parametrize(
    "command", [c for c in PYTHON_COMMANDS if shlex.split(c)[2:3] == ["registry"]]
)
def test_a_registry_command_of_the_readme_parses(command):
    """The verb, its positionals and flags are accepted, optional parts (`[...]`) both left out and
    given (tests/registry runs every verb on a registered model)."""
    from registry.__main__ import _parser, _positionals

    shown = command.replace("$R", "sqlite:///run/mlflow.db")
    for variant in (re.sub(r"\[[^]]*\]", "", shown), shown.replace("[", "").replace("]", "")):
        args = _parser().parse_args(shlex.split(variant)[3:])
        assert args.verb in REGISTRY_VERBS
        assert _positionals(args.verb, args.args)["model"] == "acme-main"


def test_the_demos_options_are_shown():
    result = subprocess.run([sys.executable, "-m", "demo", "--help"], cwd=ROOT,
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0 and "--keep-serving" in result.stdout
