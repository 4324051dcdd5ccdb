"""Template registry, parameter schema and the typed-hyperparameter trainer executor."""

from __future__ import annotations

import json

import pytest

from components.recs_trainer.executor import merge_hyperparameters
from pipelines.registry import get_template
from specs import SpecError

REQUIRED = {"query": "SELECT 1", "warehouse_uri": "/w", "transform_module": "t.py",
            "trainer_module": "m.py"}  # fmt: skip


def test_newest_version_is_the_default_and_versions_are_exact():
    template = get_template("quicktest")
    assert template.tag == f"quicktest-v{template.version}"
    assert get_template("quicktest", f"v{template.version}") is template


def test_unknown_template_and_version_name_what_exists():
    current = get_template("quicktest").version
    with pytest.raises(
        KeyError,
        match=rf"unknown version '9.9.9' of template 'quicktest'; available: \['{current}'\]",
    ):
        get_template("quicktest", "9.9.9")
    with pytest.raises(KeyError, match="unknown pipeline template 'nope'"):
        get_template("nope")


def test_parameters_are_typed_and_errors_name_the_parameter():
    template = get_template("quicktest")
    params = template.validate(REQUIRED | {"epochs": 3})
    assert params.epochs == 3 and params.split_strategy == "time_holdout"
    with pytest.raises(SpecError) as error:
        template.validate(
            REQUIRED | {"epochs": 101, "batch_size": 4, "split_strategy": "yearly", "extra": 1}
        )
    text = str(error.value)
    assert "parameters: epochs: Input should be less than or equal to 100 (got 101)" in text
    assert "parameters: batch_size: Input should be greater than or equal to 8 (got 4)" in text
    assert "split_strategy: Input should be 'random', 'time_holdout' or 'strict_temporal'" in text
    assert "extra: Extra inputs are not permitted" in text


def test_runtime_parameters_carry_types_and_defaults():
    params = get_template("quicktest").runtime_parameters()
    assert params["epochs"].ptype is int and params["epochs"].default == 0
    assert params["learning_rate"].ptype is float
    assert params["split_strategy"].ptype is str
    assert params["query"].default is None  # required: no default


def test_typed_hyperparameters_override_custom_config():
    props = merge_hyperparameters({
        "custom_config": json.dumps({"epochs": 1, "top_k": 50}),
        "epochs": 7, "batch_size": 256, "learning_rate": 0.05, "seed": 3, "module_path": "m",
    })  # fmt: skip
    assert json.loads(props["custom_config"]) == {
        "epochs": 7, "top_k": 50, "batch_size": 256, "learning_rate": 0.05, "seed": 3,
    }  # fmt: skip
    assert props["module_path"] == "m" and "epochs" not in props


def test_tracking_settings_reach_custom_config_and_empty_ones_keep_the_default():
    props = merge_hyperparameters({
        "custom_config": json.dumps({"mlflow_experiment": "from-config"}),
        "mlflow_tracking_uri": "https://mlflow.example.run.app", "mlflow_experiment": "",
        "run_name": "quick-test",
    })  # fmt: skip
    assert json.loads(props["custom_config"]) == {
        "mlflow_tracking_uri": "https://mlflow.example.run.app",
        "mlflow_experiment": "from-config", "run_name": "quick-test",
    }  # fmt: skip
    assert not {"mlflow_tracking_uri", "mlflow_experiment", "run_name"} & set(props)


def test_a_tracking_uri_must_name_a_server_or_a_local_store():
    template = get_template("quicktest")
    assert template.validate(REQUIRED).mlflow_tracking_uri == ""
    for uri in ("https://mlflow-x.a.run.app", "http://127.0.0.1:5000", "sqlite:////r/mlflow.db"):
        assert template.validate(REQUIRED | {"mlflow_tracking_uri": uri}).mlflow_tracking_uri == uri
    with pytest.raises(
        SpecError, match="parameters: mlflow_tracking_uri: must start with one of https://"
    ):
        template.validate(REQUIRED | {"mlflow_tracking_uri": "mlflow.example.com"})


def test_a_callback_url_must_be_http():
    template = get_template("quicktest")
    assert template.validate(REQUIRED).callback_url == ""
    with pytest.raises(SpecError, match="parameters: callback_url: must be an http"):
        template.validate(REQUIRED | {"callback_url": "ftp://app/webhook"})


def test_custom_config_must_be_an_object():
    with pytest.raises(ValueError, match="custom_config must be a JSON object"):
        merge_hyperparameters({"custom_config": "[1, 2]", "epochs": 1})


def test_run_parameters_have_one_set_of_bounds():
    """The template's schema, the specs and the split component accept the same values."""
    from components.splitting import validate_settings
    from specs import SplitConfig, TrainingParams

    template = get_template("quicktest")
    template.validate(REQUIRED | {"eval_percent": 50, "holdout_days": 3650, "epochs": 100})
    SplitConfig(eval_percent=50, holdout_days=3650)
    TrainingParams(epochs=100)
    validate_settings(split_strategy="random", eval_percent=50)
    for bad in ({"eval_percent": 51}, {"holdout_days": 3651}, {"sample_percent": 0}):
        with pytest.raises(SpecError, match=next(iter(bad))):
            template.validate(REQUIRED | bad)
    with pytest.raises(ValueError, match="eval_percent must be in 1..50"):
        validate_settings(split_strategy="strict_temporal", eval_percent=51, timestamp_column="ts")
    with pytest.raises(ValueError, match="eval_percent"):
        SplitConfig(eval_percent=51)


def test_a_run_without_trainer_values_keeps_the_trainer_modules():
    """Regression: the compiled default batch size (4096) overrode the model config's."""
    from specs import ModelConfig, TrainingParams
    from trainer.run import hyperparameters

    model = ModelConfig.preset("minimal", batch_size=512, learning_rate=0.002)
    training = TrainingParams(epochs=7)
    defaults = get_template("quicktest").validate(REQUIRED)
    passed = {k: getattr(defaults, k) for k in ("epochs", "batch_size", "learning_rate", "seed")}
    hp = hyperparameters(model, training, passed)
    assert (hp["epochs"], hp["batch_size"], hp["learning_rate"]) == (7, 512, 0.002)
    hp = hyperparameters(model, training, passed | {"batch_size": 64})
    assert hp["batch_size"] == 64
    with pytest.raises(
        ValueError, match="run parameter batch_size: Input should be less than or equal to 65536"
    ):
        hyperparameters(model, training, {"batch_size": 100_000})


def test_training_parameters_name_what_is_wrong():
    template = get_template("training")
    params = template.validate(REQUIRED | {"model_name": "acme-main"})
    assert (params.registry_uri, params.models_dir, params.thresholds) == ("", "", "{}")
    with pytest.raises(SpecError) as error:
        template.validate(REQUIRED | {"model_name": "Acme Main", "thresholds": '{"r": "high"}',
                                      "champion_tolerance": 1.0})  # fmt: skip
    text = str(error.value)
    assert f"{template.tag} parameters: model_name: 1-63 lowercase letters" in text
    assert "thresholds: a JSON object of metric -> number" in text
    assert "champion_tolerance: Input should be less than 1" in text
    with pytest.raises(SpecError, match="model_name: Field required"):
        template.validate(REQUIRED)


def test_scale_out_parameters_are_checked_when_a_run_is_submitted():
    for name in ("quicktest", "training"):
        template = get_template(name)
        params = template.validate(REQUIRED | {"model_name": "acme-main"} if name == "training"
                                   else REQUIRED)  # fmt: skip
        assert (params.beam_runner, params.training_region, params.accelerator_count) == (
            "DirectRunner", "", 0,
        )  # fmt: skip
    template = get_template("quicktest")
    with pytest.raises(SpecError, match="parameters: dataflow_region: '' is not a region"):
        template.validate(REQUIRED | {"beam_runner": "DataflowRunner", "project": "acme-recs"})
    with pytest.raises(SpecError, match="accelerator_type: Input should be '', 'NVIDIA_TESLA_T4'"):
        template.validate(REQUIRED | {"accelerator_type": "TPU_V5"})
    with pytest.raises(SpecError, match="accelerator_count: GPUs need a Vertex AI custom job"):
        template.validate(REQUIRED | {"accelerator_type": "NVIDIA_L4", "accelerator_count": 1})
