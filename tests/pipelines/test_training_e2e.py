"""The training template run twice with LocalDagRunner in one run folder (one registry).

A good config is blessed, copied to its versioned path and registered as version 1 with the
alias champion; a weak one (a learning rate too small to learn) is not blessed, fails the
champion check, and nothing of it is copied or registered. MLflow holds both runs.
"""

from __future__ import annotations

import json

import pytest

from demo import steps
from pipelines.local import local_tracking_uri, run_local
from pipelines.registry import get_template

pytestmark = pytest.mark.e2e

MODEL = "acme-main"


def _values(configs, generated, warehouse, **extra):
    return steps.pipeline_values(configs, generated, warehouse) | {"model_name": MODEL, **extra}


def _read(run, component, key, name):
    return json.loads((run.output(component, key) / name).read_text())


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """(run folder, [(progress lines, evaluation.json, registration.json)] of both runs)."""
    work = tmp_path_factory.mktemp("training")
    warehouse = steps.make_data(work / "warehouse", customers=200, products=80, transactions=4000)
    configs = steps.load_example(steps.EXAMPLES / "demo_b2b", epochs=2)
    generated = steps.render(configs, work / "generated")
    root = work / "run"  # both runs share it: one MLflow store, one registry, one models/
    template = get_template("training")
    results = []
    # On this data the demo model's recall@5 is above every baseline's (0.71 against
    # repeat-then-popularity's 0.70); a learning rate of 1e-6 leaves the weak model near chance.
    for extra in ({}, {"learning_rate": 1e-6}):
        lines: list[str] = []
        values = _values(configs, generated, warehouse, compared_metrics="recall_at_5", **extra)
        run = run_local(template, values, root=root, report=lines.append, beam_workers=1)
        results.append((
            lines,
            _read(run, "RecsEvaluator", "evaluation", "evaluation.json"),
            _read(run, "RecsRegistrar", "registration", "registration.json"),
        ))  # fmt: skip
    return root, results


def test_a_good_model_is_blessed_copied_and_registered_as_champion(two_runs):
    from registry import CHAMPION, open_registry

    root, [(lines, evaluation, registration), _] = two_runs
    assert [line for line in lines if line.endswith("...")][-3:] == [
        "[6/8] RecsTrainer ...", "[7/8] RecsEvaluator ...", "[8/8] RecsRegistrar ...",
    ]  # fmt: skip
    assert evaluation["blessed"] is True, evaluation["summary"]
    assert evaluation["champion"] is None  # the first run: nothing registered yet
    assert registration["registered"] is True and registration["version"] == "1"
    assert registration["artifact_uri"] == str(root / "models" / MODEL / "v1")
    assert (root / "models" / MODEL / "v1" / "saved_model.pb").exists()

    champion = open_registry(local_tracking_uri(root)).get(MODEL, CHAMPION)
    assert champion.version == "1" and champion.labels["blessed"] == "true"
    assert champion.run_id == evaluation["mlflow"]["run_id"]


def test_a_weak_model_is_not_blessed_and_nothing_is_registered(two_runs):
    from registry import open_registry

    root, [_, (_, evaluation, registration)] = two_runs
    assert evaluation["blessed"] is False and evaluation["summary"].startswith("not blessed: ")
    # It was compared with the champion, version 1, on its own split, and fell short.
    assert evaluation["champion"]["version"] == "1" and evaluation["champion"]["comparable"]
    champion_checks = [c for c in evaluation["checks"] if c["kind"] == "champion"]
    assert champion_checks and not all(c["passed"] for c in champion_checks)
    assert registration == {"registered": False, "model_name": MODEL,
                            "reason": evaluation["summary"]}  # fmt: skip
    versions = open_registry(local_tracking_uri(root)).versions(MODEL)
    assert [v.version for v in versions] == ["1"]
    assert sorted(p.name for p in (root / "models" / MODEL).iterdir()) == ["v1"]


def test_mlflow_holds_both_training_runs(two_runs):
    from mlflow.tracking import MlflowClient

    root, runs = two_runs
    client = MlflowClient(tracking_uri=local_tracking_uri(root))
    ids = [evaluation["mlflow"]["run_id"] for _, evaluation, _ in runs]
    found = [client.get_run(run_id) for run_id in ids]
    assert [(r.info.run_name, r.info.status) for r in found] == [("training", "FINISHED")] * 2
    assert found[1].data.params["learning_rate"] == "1e-06"
