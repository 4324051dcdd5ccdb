"""RecsEvaluator's executor on test-data artifacts: the tiny data and a model trained on it."""

# The trainer tests' fixtures, imported: test arguments of the same name re-bind them (F811).
# ruff: noqa: F811

from __future__ import annotations

import json
import os

import pytest
from tfx.types import artifact_utils, standard_artifacts

from components.recs_evaluator.executor import Executor, policy_from
from tests.trainer.conftest import tiny_transformed, trained_run  # noqa: F401

RECALLS = [f"{p}recall_at_{k}" for p in ("", "new_") for k in (5, 10, 50, 100)]


def artifact(kind, uri, splits=None):
    item = kind()
    item.uri = str(uri)
    if splits:
        item.split_names = artifact_utils.encode_split_names(splits)
    return item


@pytest.fixture
def inputs(tiny_transformed, trained_run, tmp_path):
    """The artifacts TFX would hand the executor, laid out as TFX lays them out."""
    fn_args, _ = trained_run
    root = tiny_transformed.root
    examples, model = tmp_path / "examples", tmp_path / "model"
    examples.mkdir()
    for split in ("train", "eval"):  # ExampleGen's raw splits, which the pipeline hands both
        os.symlink(os.path.join(root, "raw", split), examples / f"Split-{split}")
    model.mkdir()
    os.symlink(fn_args.serving_model_dir, model / "Format-Serving")
    return {
        "model": [artifact(standard_artifacts.Model, model)],
        "model_run": [artifact(standard_artifacts.ModelRun, fn_args.model_run_dir)],
        "examples": [artifact(standard_artifacts.Examples, examples, ["train", "eval"])],
        "raw_examples": [artifact(standard_artifacts.Examples, examples, ["train", "eval"])],
        "transform_graph": [
            artifact(standard_artifacts.TransformGraph, tiny_transformed.transform_output)
        ],
    }


def run_executor(inputs, tmp_path, **params):
    outputs = {
        "evaluation": [artifact(standard_artifacts.ModelEvaluation, tmp_path / "evaluation")],
        "blessing": [artifact(standard_artifacts.ModelBlessing, tmp_path / "blessing")],
    }
    props = {
        "query_id": "customer_id",
        "candidate_id": "product_id",
        "thresholds": "{}",
        "compared_metrics": "ndcg_at_10",
        "baseline_margin": 0.0,
        "champion_tolerance": 0.0,
        **params,
    }
    Executor().Do(inputs, outputs, props)
    record = json.loads((tmp_path / "evaluation" / "evaluation.json").read_text())
    return record, outputs["blessing"][0]


def test_the_evaluator_agrees_with_the_trainer_and_blesses_a_model_that_passes(
    inputs, trained_run, tmp_path
):
    _, trainer_metrics = trained_run
    # On the tiny data the model's NDCG@10 is above every baseline's (0.61 against EASE's 0.57).
    record, blessing = run_executor(
        inputs, tmp_path, thresholds='{"recall_at_10": 0.5}', compared_metrics="ndcg_at_10"
    )
    # The same exported model on the same split: the trainer's figures, recomputed.
    for name in RECALLS:
        assert record["metrics"][name] == pytest.approx(trainer_metrics["final_metrics"][name])
    assert set(record["baselines"]) == set(trainer_metrics["baselines"])
    for name, values in trainer_metrics["baselines"].items():
        assert record["baselines"][name] == pytest.approx(values)
    assert {"ndcg_at_10", "new_ndcg_at_10"} <= set(record["metrics"])
    assert record["blessed"] is True and record["summary"] == "blessed: every check passed"
    assert [c["kind"] for c in record["checks"]] == ["threshold", "baseline"]
    assert blessing.get_int_custom_property("blessed") == 1
    assert os.path.exists(os.path.join(blessing.uri, "BLESSED"))
    assert record["mlflow"]["run_id"] == trainer_metrics["mlflow"]["run_id"]
    # What the means leave out, as the trainer's metrics file says it, on the same split.
    for name, bounds in trainer_metrics["intervals"]["model"].items():
        assert record["intervals"]["model"][name] == pytest.approx(bounds), name
    assert {k: record["eval"][k] for k in ("eval_customers", "evaluated")} == {
        k: trainer_metrics["eval"][k] for k in ("eval_customers", "evaluated")
    }
    assert record["health"] == trainer_metrics["health"]


def test_a_model_below_its_threshold_is_not_blessed_and_the_file_says_why(inputs, tmp_path):
    record, blessing = run_executor(inputs, tmp_path, thresholds='{"recall_at_10": 1.01}')
    assert record["blessed"] is False
    assert record["summary"].startswith("not blessed: recall_at_10 ")
    assert "needs >= 1.0100 (threshold)" in record["summary"]
    assert blessing.get_int_custom_property("blessed") == 0
    assert os.path.exists(os.path.join(blessing.uri, "NOT_BLESSED"))
    assert not os.path.exists(os.path.join(blessing.uri, "BLESSED"))


def test_the_champion_is_evaluated_on_the_same_split(inputs, trained_run, tmp_path):
    from registry import CHAMPION, Registration
    from registry.mlflow_registry import MlflowModelRegistry

    fn_args, metrics = trained_run
    uri = f"sqlite:///{tmp_path}/registry.db"
    registry = MlflowModelRegistry(uri)
    common = dict(run_id="r1", model_type="retrieval", blessed=True, aliases=(CHAMPION,))
    registry.register(Registration("acme", fn_args.serving_model_dir, **common))
    record, _ = run_executor(
        inputs, tmp_path / "a", registry_uri=uri, model_name="acme", compared_metrics="recall_at_10"
    )
    champion = record["champion"]
    assert (champion["version"], champion["comparable"]) == ("1", True)
    # The champion is this very model: equal figures, so the champion check passes.
    assert champion["metrics"]["recall_at_10"] == pytest.approx(record["metrics"]["recall_at_10"])
    (check,) = [c for c in record["checks"] if c["kind"] == "champion"]
    assert check["passed"] and "champion v1" in check["reason"]

    # A champion that cannot answer these rows is reported, and not checked.
    registry.register(Registration("acme", str(tmp_path / "missing"), **common))
    record, _ = run_executor(inputs, tmp_path / "b", registry_uri=uri, model_name="acme")
    assert record["champion"]["version"] == "2" and record["champion"]["comparable"] is False
    assert not [c for c in record["checks"] if c["kind"] == "champion"]


def test_policy_parameters_name_what_is_wrong():
    with pytest.raises(ValueError, match="thresholds: not JSON"):
        policy_from({"thresholds": "{recall: 1}", "compared_metrics": "recall_at_10"})
    with pytest.raises(ValueError, match="thresholds: a JSON object"):
        policy_from({"thresholds": '{"recall_at_10": "high"}', "compared_metrics": "r"})
    with pytest.raises(ValueError, match="compared_metrics"):
        policy_from({"thresholds": "{}", "compared_metrics": " , "})
    policy = policy_from({"thresholds": '{"recall_at_10": 0.2}', "compared_metrics": "a, b",
                          "baseline_margin": 0.1, "champion_tolerance": 0.02})  # fmt: skip
    assert policy.compared_metrics == ("a", "b") and policy.thresholds == {"recall_at_10": 0.2}
