"""The demo's training stage: the training template on the demo data, its evaluation gate, the
registered version, and the champion served on 127.0.0.1 answering a request."""

from __future__ import annotations

import shutil
from pathlib import Path

from demo import steps
from pipelines.local import LocalRun

MODEL_NAME = "demo-main"
"""The demo tenant's registered model (one per endpoint)."""


def clear(run_dir: Path) -> None:
    """Stop the champion a previous demo left serving, then remove its run folder."""
    from registry.local_serving import LocalServing

    if run_dir.exists():
        if LocalServing(run_dir / "models").undeploy(MODEL_NAME):
            print(f"  stopped the champion server of the previous demo run ({MODEL_NAME})")
        shutil.rmtree(run_dir)


def stop_serving(run_dir: Path) -> None:
    from registry.local_serving import LocalServing

    LocalServing(run_dir / "models").undeploy(MODEL_NAME)
    print("  stopped the champion's server (--keep-serving leaves it running)")


def run_training(configs: steps.Configs, generated: Path, warehouse: Path, run_dir: Path):
    """The training template with local deployment; returns the run."""
    from pipelines.local import run_local
    from pipelines.registry import get_template

    template = get_template("training")
    values = steps.pipeline_values(configs, generated, warehouse) | {
        "model_name": MODEL_NAME,
        "deploy_target": "local",
    }
    print(f"  template {template.tag}; registered model {MODEL_NAME!r}; under {run_dir}")
    run = run_local(template, values, root=run_dir,
                    report=lambda line: print("  " + line, flush=True))  # fmt: skip
    return run


def report(run: LocalRun) -> dict:
    """Print the evaluation (the model's recall and the best baseline's), the verdict and every check behind
    it, the registration and the deployment; return the deployment record."""
    evaluation = run.read_json("RecsEvaluator", "evaluation", "evaluation.json")
    model = evaluation["metrics"]
    best = max(evaluation["baselines"].items(), key=lambda kv: kv[1].get("recall_at_10", 0.0))
    print(f"  exported model (RecsEvaluator): R@10 {model['recall_at_10']:.3f}, R@100 "
          f"{model['recall_at_100']:.3f}; best baseline {best[0]} R@10 "
          f"{best[1]['recall_at_10']:.3f} on the same split")  # fmt: skip
    print(f"  {evaluation['summary'].split(':')[0].upper()}")
    for check in evaluation["checks"]:
        print(f"    [{'pass' if check['passed'] else 'FAIL'}] {check['kind']}: {check['reason']}")
    registration = run.read_json("RecsRegistrar", "registration", "registration.json")
    if registration["registered"]:
        print(f"  registered {registration['model_name']} version {registration['version']} "
              f"{registration['aliases']} at {registration['artifact_uri']}")  # fmt: skip
    else:
        print(f"  not registered: {registration['reason']}")
    deployment = run.read_json("RecsDeployer", "deployment", "deployment.json")
    detail = deployment.get("endpoint_url") or deployment.get("reason") or deployment["error"]
    print(f"  deployment: {deployment['status']} ({detail})")
    return deployment


def ask_champion(deployment: dict, warehouse: Path, query: str) -> None:
    if deployment["status"] == "deployed":
        steps.ask(deployment["endpoint_url"], warehouse, query)
