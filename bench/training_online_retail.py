"""Benchmark: the training template on the UCI Online Retail data, stage by stage.

    python bench/training_online_retail.py --data ../shared/datasets/online_retail.parquet [--runs 3]

The same protocol, warehouse table and configs as `bench/quicktest_online_retail.py`. The runs
share one run folder, as a tenant's successive trainings share a registry: the first is gated
against the baselines only, every later one also against the champion the previous run
registered (so the champion's evaluation is part of its time). Each blessed model is
registered and deployed on 127.0.0.1 (a rollout replacing the previous server); the last
server is stopped at the end.

Prints ONE JSON line: wall seconds per stage and in total (medians over runs), each run's
verdict, registered version and deployment status, the evaluator's figures for the model and
every baseline on the last run's split, and, as the reference measured in the same runs, the
ratio of the total to the five stages the training template shares with the quick test (what
the gate, registration and deployment add).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from quicktest_online_retail import (  # noqa: E402 (beside this file)
    load_protocol_rows,
    pick,
    protocol_arguments,
    skipped_without_data,
    stdout_to_stderr,
)

SHARED_STAGES = ("QueryExampleGen", "StatisticsGen", "SchemaGen", "Transform", "RecsTrainer")
MODEL_NAME = "online-retail"


def main(argv: list[str] | None = None) -> int:
    args = protocol_arguments(__doc__).parse_args(argv)
    if skipped_without_data("training_online_retail", args.data):
        return 0

    from codegen.render import render_all, write_rendered
    from demo import steps
    from pipelines.local import run_local
    from pipelines.registry import get_template
    from registry.local_serving import LocalServing

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-training-"))
    work.mkdir(parents=True, exist_ok=True)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731 (progress to stderr)
    rows = load_protocol_rows(args.data, work / "warehouse")
    configs = steps.load_example(
        ROOT / "codegen" / "examples" / "online_retail", epochs=args.epochs
    )
    write_rendered(render_all(configs.dataset, configs.features, configs.model, configs.training),
                   work / "generated")  # fmt: skip
    values = steps.pipeline_values(configs, work / "generated", work / "warehouse") | {
        "model_name": MODEL_NAME,
        "deploy_target": "local",
    }
    template = get_template("training")
    root = work / "run"  # one registry for all runs
    stage_runs, totals, outcomes = [], [], []
    evaluation = {}
    try:
        for i in range(args.runs):
            log(f"run {i + 1}/{args.runs}")
            with stdout_to_stderr():
                run = run_local(template, values, root=root, report=lambda s: log("  " + s))
            stage_runs.append(run.stage_seconds)
            totals.append(run.total_seconds)

            evaluation = run.read_json("RecsEvaluator", "evaluation", "evaluation.json")
            registration = run.read_json("RecsRegistrar", "registration", "registration.json")
            deployment = run.read_json("RecsDeployer", "deployment", "deployment.json")
            outcomes.append({
                "blessed": evaluation["blessed"],
                "compared_with_champion": (evaluation.get("champion") or {}).get("version"),
                "registered_version": registration.get("version"),
                "deployment": deployment["status"],
            })  # fmt: skip
    finally:
        LocalServing(root / "models").undeploy(MODEL_NAME)
    stages = {
        name: round(statistics.median(r[name] for r in stage_runs), 1)
        for name in template.components
    }
    shared = sum(stages[name] for name in SHARED_STAGES)
    total = statistics.median(totals)
    print(json.dumps({
        "benchmark": "training_online_retail",
        "template": template.tag,
        "runs": args.runs,
        "rows": rows,
        "stage_seconds": stages,
        "pipeline_seconds_runs": [round(t, 1) for t in totals],
        "total_seconds": round(total, 1),
        "shared_with_quicktest_seconds": round(shared, 1),
        "total_to_shared_stages": round(total / shared, 3),
        "outcomes": outcomes,
        "model": pick(evaluation["metrics"]),
        "baselines": {name: pick(v) for name, v in evaluation["baselines"].items()},
        "summary": evaluation["summary"],
        "eval": evaluation.get("eval", {}),
    }))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
