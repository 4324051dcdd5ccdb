"""Registering a run (registry.registration and `python -m registry register`): the model and
the run's statistics and schema copied to the models folder, retries, refusals."""

from __future__ import annotations

import json

import pytest

from registry.__main__ import main
from registry.mlflow_registry import MlflowModelRegistry
from registry.registration import outputs_of_pipeline_root, sibling_output
from tests.registry.versioned_model import save_versioned_model


def _pipeline_root(root, *, blessed: bool = True):
    """A local pipeline root as a training run leaves it (executions 3-9 of one run, and a
    later run's StatisticsGen, 12, which is not this model's)."""
    for component, key, execution in (("StatisticsGen", "statistics", 3),
                                      ("StatisticsGen", "statistics", 12),
                                      ("SchemaGen", "schema", 4)):  # fmt: skip
        (root / component / key / str(execution)).mkdir(parents=True)
    (root / "StatisticsGen" / "statistics" / "3" / "Split-eval").mkdir()
    (root / "SchemaGen" / "schema" / "4" / "schema.pbtxt").write_text("")
    save_versioned_model(root / "RecsTrainer" / "model" / "7" / "Format-Serving", "v1")
    run = root / "RecsTrainer" / "model_run" / "7"
    run.mkdir(parents=True)
    (run / "training_metrics.json").write_text(
        json.dumps({"model_type": "retrieval", "mlflow": {"run_id": "abc123"}})
    )
    evaluation = root / "RecsEvaluator" / "evaluation" / "8"
    evaluation.mkdir(parents=True)
    (evaluation / "evaluation.json").write_text(
        json.dumps({"metrics": {"recall_at_10": 0.31}, "summary": "below the champion"})
    )
    blessing = root / "RecsEvaluator" / "blessing" / "8"
    blessing.mkdir(parents=True)
    (blessing / ("BLESSED" if blessed else "NOT_BLESSED")).write_text("")
    return root


def test_the_statistics_and_schema_of_the_same_run_are_found_in_both_layouts(tmp_path):
    root = _pipeline_root(tmp_path / "root")
    model = str(root / "RecsTrainer" / "model" / "7")
    assert (
        sibling_output(model, "StatisticsGen", "statistics") == f"{root}/StatisticsGen/statistics/3"
    )
    assert sibling_output(model, "SchemaGen", "schema") == f"{root}/SchemaGen/schema/4"
    assert sibling_output(model, "Transform", "transform_graph") == ""
    job = tmp_path / "vertex" / "123456" / "training-abc"
    (job / "StatisticsGen_42" / "statistics").mkdir(parents=True)
    (job / "RecsTrainer_44" / "model").mkdir(parents=True)
    vertex_model = str(job / "RecsTrainer_44" / "model")
    assert sibling_output(vertex_model, "StatisticsGen", "statistics") == str(
        job / "StatisticsGen_42" / "statistics"
    )


def test_register_from_the_command_line_keeps_statistics_and_retries_cleanly(tmp_path, capsys):
    root = _pipeline_root(tmp_path / "root")
    run = outputs_of_pipeline_root(str(root))
    assert (run.run_id, run.blessed, run.metrics) == ("abc123", True, {"recall_at_10": 0.31})
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    models = tmp_path / "models"
    # A failed attempt left a version folder behind without a registered version.
    (models / "acme-main" / "v1").mkdir(parents=True)
    (models / "acme-main" / "v1" / "partial").write_text("")
    assert main(["register", "acme-main", "--run", str(root), "--registry", uri, "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert (first["version"], first["aliases"]) == ("1", ["champion"])
    assert first["statistics_uri"] == str(models / "_data" / "acme-main" / "v1" / "statistics")
    assert (models / "_data" / "acme-main" / "v1" / "statistics" / "Split-eval").is_dir()
    assert (models / "_data" / "acme-main" / "v1" / "schema" / "schema.pbtxt").exists()
    assert (models / "acme-main" / "v1" / "saved_model.pb").exists()
    assert not (models / "acme-main" / "v1" / "partial").exists()
    # The retry of a registered run is that version, not a second one.
    assert main(["register", "acme-main", "--run", str(root), "--registry", uri, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["version"] == "1"
    assert [v.version for v in MlflowModelRegistry(uri).versions("acme-main")] == ["1"]


def test_an_unblessed_run_is_not_registered_and_bad_input_is_named(tmp_path, capsys):
    root = _pipeline_root(tmp_path / "root", blessed=False)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert main(["register", "acme-main", "--run", str(root), "--registry", uri]) == 2
    assert "was not blessed (below the champion)" in capsys.readouterr().err
    assert main(["register", "acme-main", "--registry", uri]) == 2
    assert capsys.readouterr().err.startswith("--run: ")
    assert main(["register", "acme-main", "--run", str(tmp_path), "--registry", uri]) == 2
    assert "--run: no RecsTrainer model" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--cpu", "3"], "cpu: "), (["--memory", "64Gi"], "memory: "),
     (["--min-instances", "5", "--max-instances", "2"], "min_instances: "),
     (["--timeout", "0"], "timeout_seconds: "), (["--preset", "huge"], "preset: "),
     (["--cpu", "8", "--memory", "2Gi"], "memory: 2Gi is too little for cpu 8")],
)  # fmt: skip
def test_deploy_overrides_are_validated_naming_the_field(tmp_path, capsys, flags, named):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    assert main(["deploy", "acme-main", "--registry", uri, *flags]) == 2
    assert capsys.readouterr().err.startswith(named)  # before any store is opened
