"""The MLflow run contract (trainer/contract.py, docs/mlflow-contract.md) holds for what the
trainer logs, read back with MlflowClient; a renamed key breaks it."""

from __future__ import annotations

import json
import os

import pytest

from tests.trainer.test_tracking import client_for
from tests.trainer.tiny_data import E2E_CONFIG, fn_args_for
from trainer import contract
from trainer.tracking import INFO_FILE


def _info(fn_args) -> dict:
    with open(os.path.join(fn_args.model_run_dir, INFO_FILE)) as f:
        return json.load(f)


def test_a_training_run_keeps_the_contract(trained_run):
    fn_args, _ = trained_run
    info = _info(fn_args)
    client = client_for(info["tracking_uri"])
    found = contract.violations(client, info["run_id"], experiment=info["experiment_name"],
                                run_name="training")  # fmt: skip
    assert found == []


@pytest.fixture(scope="module")
def quick_test_run(tiny_transformed, tmp_path_factory):
    from specs import ModelConfig, TrainingParams
    from trainer.run import run_training

    fn_args = fn_args_for(tiny_transformed, str(tmp_path_factory.mktemp("quick")), **E2E_CONFIG,
                          run_name="quick-test", mlflow_experiment="acme-main")  # fmt: skip
    run_training(fn_args, features=tiny_transformed.features,
                 model=ModelConfig.preset("minimal"), training=TrainingParams())  # fmt: skip
    return fn_args


def test_a_quick_test_run_keeps_the_contract_and_its_model(quick_test_run):
    info = _info(quick_test_run)
    assert (info["experiment_name"], info["run_name"]) == ("acme-main", "quick-test")
    client = client_for(info["tracking_uri"])
    assert contract.violations(client, info["run_id"], experiment="acme-main",
                               run_name="quick-test") == []  # fmt: skip
    files = {a.path for a in client.list_artifacts(info["run_id"], "model")}
    assert "model/saved_model.pb" in files and "model/variables" in files
    # ...and nothing registered it.
    assert client.search_registered_models() == []


def test_a_renamed_key_breaks_the_contract(trained_run):
    """The trained run copied into another run with `final_loss` logged as `last_loss`, the
    `model_type` tag as `type`, and two keys of the training history renamed (the per-epoch
    `recall_at_10` as `epoch_recall_at_10`, `parameters_query_tower_total` as
    `query_tower_parameters`): the contract names all four."""
    renamed = {"final_loss": "last_loss", "recall_at_10": "epoch_recall_at_10",
               "parameters_query_tower_total": "query_tower_parameters"}  # fmt: skip
    fn_args, _ = trained_run
    info = _info(fn_args)
    client = client_for(info["tracking_uri"])
    good = client.get_run(info["run_id"])
    run = client.create_run(good.info.experiment_id, run_name="training")
    rid = run.info.run_id
    for key, value in good.data.tags.items():
        if not key.startswith("mlflow."):
            client.set_tag(rid, "type" if key == "model_type" else key, value)
    for key, value in good.data.params.items():
        client.log_param(rid, key, value)
    for key in good.data.metrics:
        for point in client.get_metric_history(info["run_id"], key):
            client.log_metric(rid, renamed.get(key, key), point.value, step=point.step)
    local = client.download_artifacts(info["run_id"], "", str(fn_args.model_run_dir + "/copy"))
    client.log_artifacts(rid, local)
    found = contract.violations(client, rid, experiment=info["experiment_name"],
                                run_name="training")  # fmt: skip
    assert found == [
        "tag 'model_type' missing",
        "metric 'final_loss' missing",
        "metric 'parameters_query_tower_total' missing",
        "metric 'recall_at_10' is not logged once per epoch from step 0 ([])",
    ]


def test_the_page_in_docs_is_current():
    assert contract.main(["--check"]) == 0, "run: python -m trainer.contract"
