"""Offline compile of every template to KFP v2 IR, against checked-in golden files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pipelines import vertex
from pipelines.registry import all_templates, get_template

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def compiled() -> dict[str, dict]:
    return {t.tag: vertex.compile_template(t) for t in all_templates()}


@pytest.mark.parametrize("tag", [t.tag for t in all_templates()])
def test_ir_matches_golden(compiled, tag, tmp_path):
    path = vertex.write_ir(compiled[tag], tmp_path / f"{tag}.json")
    golden = GOLDEN / f"{tag}.json"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(path.read_text())
    assert path.read_text() == golden.read_text(), (
        f"compiled IR of {tag} changed; if intended, rerun with UPDATE_GOLDEN=1 and bump the "
        "template version"
    )


def test_quicktest_ir_loads_as_pipeline_spec_with_five_components_and_typed_inputs(compiled):
    template = get_template("quicktest")
    spec = vertex.load_pipeline_spec(compiled[template.tag])
    tasks = spec.root.dag.tasks
    assert sorted(tasks) == sorted(template.components)
    inputs = spec.root.input_definitions.parameters
    types = {name: inputs[name].parameter_type for name in inputs}
    kinds = {0: "UNSPECIFIED", 1: "NUMBER_DOUBLE", 2: "NUMBER_INTEGER", 3: "STRING"}
    assert {n: kinds.get(t, t) for n, t in types.items()} == {
        "query": "STRING", "warehouse_uri": "STRING", "transform_module": "STRING",
        "trainer_module": "STRING", "epochs": "NUMBER_INTEGER", "batch_size": "NUMBER_INTEGER",
        "learning_rate": "NUMBER_DOUBLE", "sample_percent": "NUMBER_INTEGER",
        "split_strategy": "STRING", "holdout_days": "NUMBER_INTEGER",
        "eval_percent": "NUMBER_INTEGER", "seed": "NUMBER_INTEGER",
        "timestamp_column": "STRING", "customer_column": "STRING",
        "mlflow_tracking_uri": "STRING", "mlflow_experiment": "STRING", "callback_url": "STRING",
    }  # fmt: skip
    # Epochs, batch size and learning rate default to "the trainer module's" (0), so a run
    # submitted without them never overrides the configs the module was generated from.
    for name in ("epochs", "batch_size", "learning_rate"):
        assert inputs[name].default_value.number_value == 0
    assert inputs["eval_percent"].default_value.number_value == 20
    # No tracking URI: the trainer's default store (trainer.tracking); set per tenant.
    assert inputs["mlflow_tracking_uri"].default_value.string_value == ""
    assert not inputs["query"].is_optional
    assert template.tag in spec.pipeline_info.description


def test_training_ir_has_the_gate_and_registration_as_typed_inputs(compiled):
    template = get_template("training")
    spec = vertex.load_pipeline_spec(compiled[template.tag])
    assert sorted(spec.root.dag.tasks) == sorted(template.components)
    inputs = spec.root.input_definitions.parameters
    kinds = {1: "NUMBER_DOUBLE", 2: "NUMBER_INTEGER", 3: "STRING"}
    gate = ("model_name", "registry_uri", "models_dir", "thresholds", "compared_metrics",
            "baseline_margin", "champion_tolerance", "product_column")  # fmt: skip
    assert {n: kinds[inputs[n].parameter_type] for n in gate} == {
        "model_name": "STRING", "registry_uri": "STRING", "models_dir": "STRING",
        "thresholds": "STRING", "compared_metrics": "STRING", "baseline_margin": "NUMBER_DOUBLE",
        "champion_tolerance": "NUMBER_DOUBLE", "product_column": "STRING",
    }  # fmt: skip
    assert not inputs["model_name"].is_optional  # every run names its registered model
    assert inputs["compared_metrics"].default_value.string_value == "recall_at_10,recall_at_100"
    # The evaluator gates what the registrar registers.
    registrar = spec.root.dag.tasks["RecsRegistrar"]
    assert registrar.inputs.artifacts["blessing"].task_output_artifact.producer_task == (
        "RecsEvaluator"
    )


def test_every_executor_uses_a_pinned_image(compiled):
    for spec in compiled.values():
        for executor in spec["deploymentSpec"]["executors"].values():
            image = executor["container"]["image"]
            assert not image.endswith(":latest") and ":" in image.rsplit("/", 1)[-1]


def test_unpinned_image_is_refused():
    with pytest.raises(ValueError, match="explicit version tag"):
        vertex.compile_template(
            get_template("quicktest"), image="europe-docker.pkg.dev/p/r/img:latest"
        )


def test_corrupt_ir_is_refused(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"root": {"dag": {"tasks": 3}}}))
    with pytest.raises(Exception, match="tasks"):
        vertex.load_pipeline_spec(bad)
