"""The training template run three times with LocalDagRunner in one run folder (one registry).

A good config is blessed, copied to its versioned path, registered as version 1 with the
alias champion and served on 127.0.0.1; a weak one (two towers alone, with a learning rate too
small to learn) is not blessed, fails the champion check, and nothing of it is copied, registered or deployed. MLflow
holds both runs. A third run whose trainer fails names the step, keeps the artifacts written
before it, and leaves the registry, the models and the served champion as they were.
"""

from __future__ import annotations

import dataclasses

import pytest

from demo import steps
from pipelines.local import PipelineStepError, local_tracking_uri, run_local
from pipelines.registry import get_template
from registry.local_serving import LocalServing

pytestmark = pytest.mark.e2e

MODEL = "acme-main"


def _values(configs, generated, warehouse, **extra):
    return steps.pipeline_values(configs, generated, warehouse) | {"model_name": MODEL, **extra}


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """(run folder, [(progress lines, evaluation.json, registration.json, deployment.json)] of
    both runs, the warehouse). The champion's local server is stopped at the end."""
    work = tmp_path_factory.mktemp("training")
    warehouse = steps.make_data(work / "warehouse", customers=200, products=80, transactions=4000)
    configs = steps.load_example(steps.EXAMPLES / "demo_b2b", epochs=2)
    generated = steps.render(configs, work / "generated")
    # The weak model: the two towers alone (no re-order scorer, which learns at its own rate
    # from the purchase history), trained with a learning rate of 1e-6, stay near chance.
    weak = dataclasses.replace(configs, model=configs.model.model_copy(update={"reorder": None}))
    weak_generated = steps.render(weak, work / "weak")
    root = work / "run"  # both runs share it: one MLflow store, one registry, one models/
    template = get_template("training")
    results = []
    # On this data the demo model's recall@5 is above every baseline's.
    try:
        for built, extra in ((generated, {}), (weak_generated, {"learning_rate": 1e-6})):
            lines: list[str] = []
            values = _values(configs, built, warehouse, compared_metrics="recall_at_5",
                             deploy_target="local", **extra)  # fmt: skip
            run = run_local(template, values, root=root, report=lines.append, beam_workers=1)
            results.append((
                lines,
                run.read_json("RecsEvaluator", "evaluation", "evaluation.json"),
                run.read_json("RecsRegistrar", "registration", "registration.json"),
                run.read_json("RecsDeployer", "deployment", "deployment.json"),
            ))  # fmt: skip
        yield root, results, (configs, generated, warehouse)
    finally:
        LocalServing(root / "models").undeploy(MODEL)


def test_a_good_model_is_blessed_copied_and_registered_as_champion(two_runs):
    from registry import CHAMPION, open_registry

    root, [(lines, evaluation, registration, _), _], _ = two_runs
    assert [line.split(" done in ")[0] for line in lines if " done in " in line][-4:] == [
        "[6/9] RecsTrainer", "[7/9] RecsEvaluator", "[8/9] RecsRegistrar", "[9/9] RecsDeployer",
    ]  # fmt: skip
    assert evaluation["blessed"] is True, evaluation["summary"]
    assert lines[-1] == "status: deployed"  # the product's run status
    assert evaluation["champion"] is None  # the first run: nothing registered yet
    assert registration["registered"] is True and registration["version"] == "1"
    assert registration["artifact_uri"] == str(root / "models" / MODEL / "v1")
    assert (root / "models" / MODEL / "v1" / "saved_model.pb").exists()

    champion = open_registry(local_tracking_uri(root)).get(MODEL, CHAMPION)
    assert champion.version == "1" and champion.labels["blessed"] == "true"
    assert champion.run_id == evaluation["mlflow"]["run_id"]


def test_a_weak_model_is_not_blessed_and_nothing_is_registered(two_runs):
    from registry import open_registry

    root, [_, (lines, evaluation, registration, deployment)], _ = two_runs
    assert lines[-1] == "status: not_blessed"
    assert evaluation["blessed"] is False and evaluation["summary"].startswith("not blessed: ")
    # It was compared with the champion, version 1, on its own split, and fell short.
    assert evaluation["champion"]["version"] == "1" and evaluation["champion"]["comparable"]
    champion_checks = [c for c in evaluation["checks"] if c["kind"] == "champion"]
    assert champion_checks and not all(c["passed"] for c in champion_checks)
    assert registration == {"registered": False, "model_name": MODEL,
                            "reason": evaluation["summary"]}  # fmt: skip
    versions = open_registry(local_tracking_uri(root)).versions(MODEL)
    assert [v.version for v in versions] == ["1"]
    assert sorted(p.name for p in (root / "models" / MODEL).glob("v*")) == ["v1"]
    assert deployment["status"] == "skipped"
    assert deployment["reason"].startswith("nothing registered to deploy: not blessed: ")
    # The champion, version 1, is still the one served.
    assert LocalServing(root / "models").status(MODEL).version == "1"


def test_the_champion_is_deployed_on_localhost_and_answers_a_request(two_runs):
    root, [(_, _, registration, deployment), _], (_, generated, warehouse) = two_runs
    assert deployment["status"] == "deployed", deployment
    assert (deployment["target"], deployment["version"]) == ("local", "1")
    served = LocalServing(root / "models").status(MODEL)
    assert served.url == deployment["endpoint_url"] and served.version == "1"
    assert served.model_path == registration["artifact_uri"]
    answer = steps.ask(served.url, warehouse, (generated / "dataset_query.sql").read_text())
    [top] = answer["predictions"]
    assert len(top["product_ids"]) == len(top["scores"]) > 0
    assert all(p.startswith("P") for p in top["product_ids"])  # product ids, not vocabulary ids


def test_mlflow_holds_both_training_runs(two_runs):
    from mlflow.tracking import MlflowClient

    root, runs, _ = two_runs
    client = MlflowClient(tracking_uri=local_tracking_uri(root))
    ids = [evaluation["mlflow"]["run_id"] for _, evaluation, _, _ in runs]
    found = [client.get_run(run_id) for run_id in ids]
    assert [(r.info.run_name, r.info.status) for r in found] == [("training", "FINISHED")] * 2
    assert found[1].data.params["learning_rate"] == "1e-06"


def test_a_failed_step_is_named_keeps_earlier_artifacts_and_changes_no_registration(
    two_runs, tmp_path
):
    from registry import open_registry

    root, _, (configs, generated, warehouse) = two_runs
    broken = tmp_path / "failing_trainer.py"
    broken.write_text(
        "def run_fn(fn_args):\n    raise RuntimeError('the trainer module failed on purpose')\n"
    )
    registry = open_registry(local_tracking_uri(root))
    before = [(v.version, v.aliases) for v in registry.versions(MODEL)]
    values = _values(configs, generated, warehouse, deploy_target="local",
                     trainer_module=str(broken))  # fmt: skip
    with pytest.raises(PipelineStepError) as error:
        run_local(get_template("training"), values, root=root, report=lambda _: None,
                  beam_workers=1)  # fmt: skip
    assert error.value.component == "RecsTrainer"
    stages = {s["name"]: s["status"] for s in error.value.summary["stages"]}
    assert (stages["Transform"], stages["Train"], stages["Deploy"]) == (
        "completed", "failed", "pending",
    )  # fmt: skip
    assert "the trainer module failed on purpose" in str(error.value.__cause__)
    # What the stages before it wrote is kept, in this run's own output folders.
    transform = root / "artifacts" / "Transform" / "transform_graph"
    assert len([p for p in transform.iterdir() if p.name.isdigit()]) == 3
    assert [(v.version, v.aliases) for v in registry.versions(MODEL)] == before
    assert sorted(p.name for p in (root / "models" / MODEL).glob("v*")) == ["v1"]
    assert LocalServing(root / "models").status(MODEL).version == "1"
