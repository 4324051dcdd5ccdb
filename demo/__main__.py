"""The local demo on embedded defaults: `make demo` (nox -s demo) runs this.

    python -m demo [--out out/demo] [--epochs N] [--customers N] [--transactions N]
                   [--keep-serving] [-v]

Stages: synthetic B2B data into a local warehouse → modules generated from the example configs →
the quick-test pipeline on TFX LocalDagRunner → the recall table (model vs every baseline) → the
trained model served on localhost answering a request → the training pipeline (evaluation gate,
registration, the champion deployed on 127.0.0.1 and answering) → the offline infra plan of a
tenant.

Output is quiet: progress lines and results. TensorFlow's, Beam's, MLflow's and pip's own output
goes to `<out>/demo.log`; `-v` prints it all instead.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_NAME = "demo_b2b"
DEMO_TENANT = "small"


def stage(number: int, total: int, title: str) -> None:
    print(f"== [{number}/{total}] {title}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "demo")
    parser.add_argument("--epochs", type=int, default=None, help="override the example's epochs")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--products", type=int, default=800)
    parser.add_argument("--transactions", type=int, default=60_000)
    parser.add_argument("--tenant", default=DEMO_TENANT, help="tenant whose infra plan to show")
    parser.add_argument("--keep-serving", action="store_true",
                        help="leave the deployed champion's server running after the demo")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print TensorFlow's, Beam's and pip's output instead of logging it")  # fmt: skip
    args = parser.parse_args(argv)

    from pipelines.console import quiet_output, tail

    log_path = args.out.resolve() / "demo.log"
    with quiet_output(log_path, verbose=args.verbose) as log:
        if log is not None:
            print(f"(library output is logged to {log}; -v prints it)")
        try:
            return _demo(args)
        except Exception as exc:
            if log is None:
                raise
            with open(log, "a") as f:  # the whole story goes into the log
                traceback.print_exc(file=f)
            print(f"\ndemo failed: {type(exc).__name__}: {exc}")
            print(f"last lines of {log}:")
            print("\n".join("  " + line for line in tail(log)))
            return 1


def _demo(args: argparse.Namespace) -> int:
    from demo import steps, training

    started = time.perf_counter()
    out = args.out.resolve()
    total = 7

    stage(1, total, "synthetic B2B data into the local warehouse")
    warehouse = steps.make_data(
        out / "warehouse",
        customers=args.customers,
        products=args.products,
        transactions=args.transactions,
    )

    example = steps.EXAMPLES / EXAMPLE_NAME
    stage(2, total, f"generate the TFX modules from {example.relative_to(ROOT)}")
    configs = steps.load_example(example, epochs=args.epochs)
    generated = steps.render(configs, out / "generated")

    stage(3, total, "quick-test pipeline on TFX LocalDagRunner (Beam DirectRunner)")
    run_dir = out / "run"
    if run_dir.exists():
        # The demo's own scratch folder, recreated on every run; nothing else is touched.
        shutil.rmtree(run_dir)
    run = steps.run_quicktest(configs, generated, warehouse, run_dir)

    stage(4, total, "metrics on the eval split")
    metrics = steps.read_metrics(run)
    print(steps.metrics_table(metrics))
    print(steps.tracked_run_line(metrics))

    stage(5, total, "serve the model on localhost and ask it for recommendations")
    steps.serve_and_ask(run, warehouse, (generated / "dataset_query.sql").read_text())

    stage(6, total, "training pipeline: evaluation gate, registration, local deployment")
    training_dir = out / "training"
    training.clear(training_dir)
    trained = training.run_training(configs, generated, warehouse, training_dir)
    deployment = training.report(trained)
    training.ask_champion(deployment, warehouse, (generated / "dataset_query.sql").read_text())
    if deployment["status"] == "deployed" and not args.keep_serving:
        training.stop_serving(training_dir)

    stage(7, total, f"offline infra plan of tenant {args.tenant!r} (Pulumi mocks)")
    steps.show_plan(args.tenant)

    print(f"demo finished in {time.perf_counter() - started:.0f}s; everything is under {out}:")
    paths = steps.artifact_paths(run, warehouse, generated)
    paths |= {"registered models": training_dir / "models"}
    for label in ("metrics", "serving model", "registered models"):
        print(f"  {label:18} {paths.pop(label).relative_to(out)}")
    print("  and " + ", ".join(f"{path.relative_to(out)}" for path in paths.values()))
    print(json.dumps({"demo": "ok", "run": str(run.root)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
