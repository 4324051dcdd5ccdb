"""Offline compile of every template to KFP v2 IR, against the catalogue's stored IR
(`pipelines/ir/`, the files that are published)."""

from __future__ import annotations

import json

import pytest

from pipelines import vertex
from pipelines.catalogue import IR_DIR
from pipelines.registry import all_templates, get_template

GOLDEN = IR_DIR


@pytest.fixture(scope="module")
def compiled() -> dict[str, dict]:
    return {t.tag: vertex.compile_template(t) for t in all_templates()}


@pytest.mark.parametrize("tag", [t.tag for t in all_templates()])
def test_ir_matches_golden(compiled, tag, tmp_path):
    path = vertex.write_ir(compiled[tag], tmp_path / f"{tag}.json")
    golden = GOLDEN / f"{tag}.json"
    assert path.read_text() == golden.read_text(), (
        f"compiled IR of {tag} changed; if intended, bump the template version and run "
        "python -m pipelines.catalogue"
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
        **SCALE_OUT_TYPES,
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
            "baseline_margin", "champion_tolerance", "product_column", "curated_schema",
            "deploy_target", "deploy_preset", "deploy_region", "deploy_public", "deploy_port")  # fmt: skip
    assert {n: kinds[inputs[n].parameter_type] for n in gate} == {
        "model_name": "STRING", "registry_uri": "STRING", "models_dir": "STRING",
        "thresholds": "STRING", "compared_metrics": "STRING", "baseline_margin": "NUMBER_DOUBLE",
        "champion_tolerance": "NUMBER_DOUBLE", "product_column": "STRING",
        "curated_schema": "STRING", "deploy_target": "STRING", "deploy_preset": "STRING",
        "deploy_region": "STRING", "deploy_public": "NUMBER_INTEGER",
        "deploy_port": "NUMBER_INTEGER",
    }  # fmt: skip
    # Deployment is off unless a run asks for it: the Deploy stage is then "skipped".
    assert inputs["deploy_target"].default_value.string_value == "none"
    deployer = spec.root.dag.tasks["RecsDeployer"]
    assert deployer.inputs.artifacts["registration"].task_output_artifact.producer_task == (
        "RecsRegistrar"
    )
    schema = spec.root.dag.tasks["SchemaGen"].inputs.parameters["curated_schema"]
    assert schema.component_input_parameter == "curated_schema"
    assert not inputs["model_name"].is_optional  # every run names its registered model
    assert inputs["compared_metrics"].default_value.string_value == "recall_at_10,recall_at_100"
    # The evaluator gates what the registrar registers.
    registrar = spec.root.dag.tasks["RecsRegistrar"]
    assert registrar.inputs.artifacts["blessing"].task_output_artifact.producer_task == (
        "RecsEvaluator"
    )


SCALE_OUT_TYPES = {
    "project": "STRING", "beam_runner": "STRING", "dataflow_region": "STRING",
    "dataflow_temp_location": "STRING", "dataflow_service_account": "STRING",
    "dataflow_machine_type": "STRING", "dataflow_max_workers": "NUMBER_INTEGER",
    "training_region": "STRING", "training_machine_type": "STRING", "accelerator_type": "STRING",
    "accelerator_count": "NUMBER_INTEGER", "training_service_account": "STRING",
    "worker_image": "STRING",
}  # fmt: skip
DATAFLOW_INPUTS = ("beam_runner", "project", "dataflow_region", "dataflow_temp_location",
                   "dataflow_service_account", "dataflow_machine_type", "dataflow_max_workers",
                   "worker_image")  # fmt: skip
GPU_POOL_INPUTS = ("project", "training_region", "training_machine_type", "accelerator_type",
                   "accelerator_count", "training_service_account", "worker_image")  # fmt: skip


@pytest.mark.parametrize("name", ["quicktest", "training"])
def test_dataflow_and_the_gpu_worker_pool_are_typed_inputs_of_their_stages(compiled, name):
    template = get_template(name)
    spec = vertex.load_pipeline_spec(compiled[template.tag])
    inputs = spec.root.input_definitions.parameters
    kinds = {1: "NUMBER_DOUBLE", 2: "NUMBER_INTEGER", 3: "STRING"}
    assert {n: kinds[inputs[n].parameter_type] for n in SCALE_OUT_TYPES} == SCALE_OUT_TYPES
    # Locally and by default: the DirectRunner, the trainer in the pipeline's own process.
    assert inputs["beam_runner"].default_value.string_value == "DirectRunner"
    assert inputs["accelerator_count"].default_value.number_value == 0
    # The workers and the custom job default to the image the template was compiled for.
    assert inputs["worker_image"].default_value.string_value == vertex.default_image()
    tasks = spec.root.dag.tasks
    for stage in ("StatisticsGen", "Transform"):
        bound = tasks[stage].inputs.parameters
        for key in DATAFLOW_INPUTS:
            assert bound[key].component_input_parameter == key, (stage, key)
    bound = tasks["RecsTrainer"].inputs.parameters
    for key in GPU_POOL_INPUTS:
        assert bound[key].component_input_parameter == key


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


def test_the_catalogue_is_current():
    """pipelines/catalogue.json is what the registry and the compiled IR say (the golden IR is
    the compiled IR, by test_ir_matches_golden)."""
    from pipelines import catalogue

    assert (
        catalogue.render(catalogue.build(catalogue.stored_ir)) == catalogue.CATALOGUE.read_text()
    ), "run: python -m pipelines.catalogue"
    for (name, version), entry in catalogue.load().items():
        template = get_template(name, version)
        assert entry["tag"] == template.tag and entry["images"]
        assert set(entry["parameters"]["properties"]) == set(template.parameters.model_fields)
