"""The demo's stages as plain functions, so tests and the benchmark can reuse them."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

from pipelines.local import LocalRun
from pipelines.own_data import (
    Configs,
    config_paths,
    load_configs,
    metrics_table,
    pipeline_values,
)

__all__ = ["Configs", "metrics_table", "pipeline_values"]  # the demo's stages reuse them

EXAMPLES = Path(__file__).resolve().parents[1] / "codegen" / "examples"


def make_data(warehouse: Path, *, customers: int, products: int, transactions: int) -> Path:
    from demo.datagen import generate

    generate(warehouse, customers=customers, products=products, transactions=transactions)
    tables = sorted((warehouse / "raw_data").glob("*.parquet"))
    sizes = ", ".join(f"{t.stem} {t.stat().st_size / 1e6:.1f} MB" for t in tables)
    print(f"  {warehouse / 'raw_data'}: {sizes}")
    return warehouse


def load_example(folder: Path, *, epochs: int | None = None) -> Configs:
    """The four specs of an example folder, validated and cross-checked as `pipelines run`
    loads them (`pipelines.own_data.load_configs`); `epochs` overrides the training params'."""
    configs = load_configs(config_paths(folder))
    if epochs is None:
        return configs
    training = configs.training.model_copy(update={"epochs": epochs})
    return dataclasses.replace(configs, training=training)


def render(configs: Configs, out: Path) -> Path:
    from codegen.render import render_all, write_rendered

    files = render_all(configs.dataset, configs.features, configs.model, configs.training)
    write_rendered(files, out)
    lines = ", ".join(f"{name} ({len(files[name].splitlines())} lines)" for name in sorted(files))
    print(f"  {out}: {lines}")
    return out


def run_quicktest(configs: Configs, generated: Path, warehouse: Path, run_dir: Path) -> LocalRun:
    from pipelines.local import run_local
    from pipelines.registry import get_template

    template = get_template("quicktest")
    print(f"  template {template.tag}; artifacts and metadata under {run_dir}")
    run = run_local(template, pipeline_values(configs, generated, warehouse), root=run_dir,
                    report=lambda line: print("  " + line, flush=True))  # fmt: skip
    return run


def metrics_path(run: LocalRun) -> Path:
    return run.output("RecsTrainer", "model_run") / "training_metrics.json"


def serving_dir(run: LocalRun) -> Path:
    return run.output("RecsTrainer", "model") / "Format-Serving"


def read_metrics(run: LocalRun) -> dict:
    return json.loads(metrics_path(run).read_text())


def sample_instance(warehouse: Path, query: str, inputs: list[str]) -> dict:
    """One customer's latest row of the dataset query, restricted to the model's inputs."""
    from components.warehouse import LocalWarehouse

    table = LocalWarehouse(warehouse).query(query).to_pandas()
    row = table.iloc[-1]
    return {name: row[name].item() if hasattr(row[name], "item") else row[name] for name in inputs}


def predict(url: str, body: dict, timeout: float = 30.0) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def serve_and_ask(run: LocalRun, warehouse: Path, query: str) -> dict:
    """Serve the run's model on a free localhost port, send one customer's request, print it."""
    from serving.model_server import ServerThread

    with ServerThread(serving_dir(run)) as server:
        return ask(server.url, warehouse, query)


def ask(server_url: str, warehouse: Path, query: str) -> dict:
    """Send the model server at `server_url` one customer's latest row; print and return the
    answer. The request carries exactly the inputs the served signature declares."""
    base = f"{server_url}/v1/models/recommender"
    with urllib.request.urlopen(f"{base}/metadata", timeout=30) as response:
        signature = json.loads(response.read())["metadata"]["signature_def"]["serving_default"]
    inputs = sorted(signature["inputs"])
    instance = sample_instance(warehouse, query, inputs)
    print(f"  POST {base}:predict {json.dumps({'instances': [instance]})}")
    answer = predict(f"{base}:predict", {"instances": [instance]})
    top = answer["predictions"][0]
    pairs = ", ".join(f"{p} ({s:.2f})" for p, s in zip(top["product_ids"][:5], top["scores"][:5]))
    print(f"  response: top-5 of {len(top['product_ids'])}: {pairs}")
    return answer


def show_plan(tenant: str) -> dict:
    """The tenant's offline plan in a few lines: resources by kind, the components, the policy
    verdict (the whole table: `make plan TENANT=<tenant>`). Returns the plan document."""
    result = subprocess.run(
        [sys.executable, "-m", "infra.plan", "--tenant", tenant, "--format", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode not in (0, 1):  # 1: the plan has policy violations, printed below
        print(result.stdout + result.stderr)
        raise SystemExit(f"infra plan of {tenant!r} failed")
    plan = json.loads(result.stdout)
    kinds: dict[str, int] = {}
    for resource in plan["resources"]:
        if not resource["type"].startswith("b2brecs:"):  # components group; they create nothing
            kind = resource["type"].rsplit(":", 1)[-1]
            kinds[kind] = kinds.get(kind, 0) + 1
    components = [r["name"] for r in plan["resources"] if r["type"].startswith("b2brecs:")]
    print(
        f"  stack {plan['stack']}: {sum(kinds.values())} resources: "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
    )
    print(f"  components: {', '.join(components)}")
    violations = plan["policy_violations"]
    print(f"  policy: {len(violations)} violation(s)" if violations else "  policy: all rules pass")
    for violation in violations:
        print(f"    {violation['rule']}: {violation['resource']}: {violation['message']}")
    print(f"  the whole plan: make plan TENANT={tenant}")
    return plan


def tracked_run_line(metrics: dict) -> str:
    """The MLflow run of the training, read back from its store with MlflowClient."""
    from mlflow.tracking import MlflowClient

    info = metrics.get("mlflow") or {}
    if not info.get("run_id"):
        return f"  not tracked in MLflow: {info.get('error', 'no run recorded')}"
    run = MlflowClient(tracking_uri=info["tracking_uri"]).get_run(info["run_id"])
    return (
        f"  MLflow run {run.info.run_id} ({run.info.run_name}, {run.info.status}) in experiment "
        f"{info['experiment_name']!r}: {len(run.data.params)} parameters, "
        f"{len(run.data.metrics)} metrics; store {info['tracking_uri']}"
    )


def artifact_paths(run: LocalRun, warehouse: Path, generated: Path) -> dict[str, Path]:
    from pipelines.own_data import artifact_paths as run_paths

    return {
        "warehouse": warehouse,
        **run_paths(run, generated),
        "ML Metadata": run.metadata_path,
        "MLflow store": run.root / "mlflow.db",
    }
