"""An estimated cost per run: each stage's hours on the resource its parameters name, times the
dated price table in `prices.json` (one file to edit when prices or the region change).

Beam stages (StatisticsGen, Transform) run on Dataflow when `beam_runner` is DataflowRunner
(every worker of `dataflow_max_workers` counted: an upper bound), the trainer on a Vertex AI
custom job with its accelerators when `training_region` is set; everything else on the pipeline
component's machine. For a local run the figure is what the same stage times would cost there.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

PRICES = Path(__file__).with_name("prices.json")
BEAM_STAGES = ("StatisticsGen", "Transform")
TRAINER_STAGES = ("RecsTrainer",)


def load_prices(path: Path = PRICES) -> dict[str, Any]:
    return json.loads(path.read_text())


def _price(table: Mapping[str, float], key: str, what: str) -> float:
    if key not in table:
        raise KeyError(f"no {what} price for {key!r} in {PRICES.name}; known: {sorted(table)}")
    return float(table[key])


def estimate(
    stages: Sequence[Mapping[str, Any]],
    parameters: Mapping[str, Any],
    prices: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """`{"currency", "prices_as_of", "items": [{stage, resource, hours, usd}], "total"}` from
    the stages' durations (`status` stages) and the run's parameters."""
    prices = prices or load_prices()
    items: list[dict[str, Any]] = []
    for stage in stages:
        seconds = stage.get("duration_s") or 0.0
        hours = seconds / 3600.0
        name = stage["name"]
        if name in BEAM_STAGES and parameters.get("beam_runner") == "DataflowRunner":
            machine = parameters.get("dataflow_machine_type", "n1-standard-4")
            shape = prices["dataflow"]["machine"].get(machine)
            if shape is None:
                raise KeyError(f"no Dataflow shape for {machine!r} in {PRICES.name}")
            workers = int(parameters.get("dataflow_max_workers", 1))
            rate = workers * (shape["vcpus"] * prices["dataflow"]["vcpu_hour"]
                              + shape["memory_gb"] * prices["dataflow"]["memory_gb_hour"])  # fmt: skip
            resource = f"Dataflow {workers} x {machine}"
        elif name in TRAINER_STAGES and parameters.get("training_region"):
            machine = parameters.get("training_machine_type", "n1-standard-8")
            rate = _price(prices["vertex_training_machine_hour"], machine, "Vertex training")
            resource = f"Vertex AI custom job {machine}"
            gpu, count = (
                parameters.get("accelerator_type"),
                int(parameters.get("accelerator_count") or 0),
            )
            if gpu and count:
                rate += count * _price(prices["accelerator_hour"], gpu, "accelerator")
                resource += f" + {count} x {gpu}"
        else:
            machine = prices["component_machine"]
            rate = _price(prices["machine_hour"], machine, "machine")
            resource = f"pipeline component {machine}"
        items.append({"stage": name, "resource": resource, "hours": round(hours, 6),
                      "usd": round(hours * rate, 6)})  # fmt: skip
    total = sum(item["usd"] for item in items) + float(prices["vertex_pipelines_run"])
    return {
        "currency": prices["currency"],
        "prices_as_of": prices["as_of"],
        "pipeline_run_fee": float(prices["vertex_pipelines_run"]),
        "items": items,
        "total": round(total, 4),
    }
