"""pipelines.runs.cost: stage hours times the dated price table, on known numbers."""

from __future__ import annotations

import pytest

from pipelines.runs.cost import estimate, load_prices


def test_each_stage_is_priced_on_the_resource_its_parameters_name():
    stages = [
        {"name": "SchemaGen", "duration_s": 360.0},  # 0.1 h on the component machine
        {"name": "Transform", "duration_s": 3600.0},  # 1 h on Dataflow
        {"name": "RecsTrainer", "duration_s": 1800.0},  # 0.5 h on a custom job with a T4
        {"name": "StatisticsGen", "duration_s": None},  # never ran
    ]
    parameters = {"beam_runner": "DataflowRunner", "dataflow_machine_type": "n1-standard-4",
                  "dataflow_max_workers": 2, "training_region": "europe-west4",
                  "training_machine_type": "n1-standard-8",
                  "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 1}  # fmt: skip
    got = estimate(stages, parameters)
    usd = {item["stage"]: item["usd"] for item in got["items"]}
    assert usd["SchemaGen"] == pytest.approx(0.1 * 0.134)
    assert usd["Transform"] == pytest.approx(2 * (4 * 0.056 + 15 * 0.003557))
    assert usd["RecsTrainer"] == pytest.approx(0.5 * (0.4373 + 0.4025))
    assert usd["StatisticsGen"] == 0.0
    assert got["total"] == pytest.approx(sum(usd.values()) + 0.03, abs=1e-4)
    assert got["prices_as_of"] == load_prices()["as_of"] and got["currency"] == "USD"
    resources = {item["stage"]: item["resource"] for item in got["items"]}
    assert resources["RecsTrainer"] == "Vertex AI custom job n1-standard-8 + 1 x NVIDIA_TESLA_T4"


def test_a_local_run_is_priced_on_the_component_machine():
    got = estimate([{"name": "RecsTrainer", "duration_s": 3600.0}], {})
    assert got["items"][0]["usd"] == pytest.approx(0.134)


def test_a_machine_without_a_price_is_named():
    with pytest.raises(KeyError, match="no Vertex training price for 'a2-megagpu-16g'"):
        estimate([{"name": "RecsTrainer", "duration_s": 1.0}],
                 {"training_region": "x", "training_machine_type": "a2-megagpu-16g"})  # fmt: skip
