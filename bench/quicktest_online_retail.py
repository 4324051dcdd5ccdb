"""Benchmark: the quick-test template on the UCI Online Retail data, with the dataset's protocol.

    python bench/quicktest_online_retail.py --data ../shared/datasets/online_retail.parquet [--runs 3]
        [--workdir W] [--model-update '{"retrieval": {"type": "scann"}}']

Protocol (the dataset README): rows with a CustomerID, Quantity > 0 and an InvoiceNo not starting
with "C"; train before 2011-11-09, test from it (the template's time_holdout of 30 days from the
start of the latest day, 2011-12-09, is exactly that cutoff). The benchmark loads the cleaned rows
into a local warehouse table `raw_data.online_retail`, renders `codegen/examples/online_retail`,
runs the template `--runs` times and prints ONE JSON line: wall seconds per stage and in total
(medians over runs), the model's recall@10/@100 in modes "all" and "new", and popularity and EASE
computed on the very split the pipeline produced, every baseline the trainer wrote next to the
model, the trainer's own stage times and its examples per second, plus the ratio of the total to
the issue's 120-second goal.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOAL_SECONDS = 120.0


@contextlib.contextmanager
def stdout_to_stderr():
    """Send everything written to stdout meanwhile to stderr, the output of subprocesses too
    (TFX builds and installs the user-code wheels with setuptools and pip), so that the
    benchmark's stdout is its one JSON line."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def load_protocol_rows(data: Path, warehouse: Path) -> int:
    """Apply the protocol's row filters and write the table the example dataset config reads."""
    import pandas as pd

    from components.warehouse import LocalWarehouse

    frame = pd.read_parquet(data)
    keep = (
        frame["CustomerID"].notna()
        & (frame["Quantity"] > 0)
        & ~frame["InvoiceNo"].astype(str).str.startswith("C")
    )
    frame = frame[keep].copy()
    frame["CustomerID"] = frame["CustomerID"].astype("int64")
    frame["StockCode"] = frame["StockCode"].astype(str)
    LocalWarehouse(warehouse).write_table("raw_data", "online_retail", frame)
    return len(frame)


def split_pairs(examples_dir: Path, split: str) -> tuple[list[bytes], list[bytes]]:
    """(customer id, product id) of every row of one split written by QueryExampleGen."""
    import tensorflow as tf

    from trainer.data import read_columns

    spec = {name: tf.io.FixedLenFeature([], tf.string) for name in ("customer_id", "product_id")}
    columns = read_columns(str(examples_dir / f"Split-{split}" / "*.gz"), spec)
    return columns["customer_id"].tolist(), columns["product_id"].tolist()


def write_test_requests(examples_dir: Path, columns: list[str], path: Path) -> int:
    """One predict instance per test customer, as the app would send it for them: the serving
    signature's raw columns from the customer's first row of the eval split (JSON lines, for
    `bench/serving_latency.py --instances`)."""
    import tensorflow as tf

    from trainer.data import read_columns

    spec = {name: tf.io.FixedLenFeature([], tf.string) for name in columns}
    rows = read_columns(str(examples_dir / "Split-eval" / "*.gz"), spec)
    seen, lines = set(), []
    for values in zip(*(rows[name].tolist() for name in columns), strict=True):
        instance = {name: value.decode() for name, value in zip(columns, values, strict=True)}
        if instance[columns[0]] not in seen:
            seen.add(instance[columns[0]])
            lines.append(json.dumps(instance))
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def baselines_on_split(examples_dir: Path) -> dict[str, dict[str, float]]:
    """Popularity and EASE (lambda 200 and 500) on the pipeline's own train/eval split."""
    import numpy as np

    from trainer import baselines
    from trainer.metrics import evaluate, make_split

    train_c, train_p = split_pairs(examples_dir, "train")
    eval_c, eval_p = split_pairs(examples_dir, "eval")
    customer_index = {c: i for i, c in enumerate(sorted(set(train_c)))}
    product_index = {p: i for i, p in enumerate(sorted(set(train_p)))}
    n_products = len(product_index)

    def encode(values, index, missing):
        return np.array([index.get(v, missing) for v in values], dtype=np.int64)

    split = make_split(
        encode(train_c, customer_index, -1), encode(train_p, product_index, n_products),
        encode(eval_c, customer_index, -1), encode(eval_p, product_index, n_products),
        n_products=n_products,
    )  # fmt: skip
    out = {
        "popularity": evaluate(baselines.popularity(split), split),
        "ease_200": evaluate(baselines.ease(split, l2=200.0), split),
        "ease_500": evaluate(baselines.ease(split, l2=500.0), split),
    }
    out["_split"] = {
        "train_customers": len(customer_index),
        "products": n_products,
        "test_customers": int(len(split.customers)),
        "test_customers_new": int(len(split.new_customers)),
    }
    return out


def pick(metrics: dict, keys=("recall_at_10", "recall_at_100", "new_recall_at_10",
                              "new_recall_at_100")) -> dict:  # fmt: skip
    return {k: round(float(metrics[k]), 4) for k in keys if k in metrics}


def protocol_arguments(description: str) -> argparse.ArgumentParser:
    """The options both Online Retail benchmarks take."""
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--data", type=Path, required=True, help="online_retail.parquet")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=None, help="override the example's epochs")
    parser.add_argument("--workdir", type=Path, default=None, help="keep artifacts here")
    return parser


def skipped_without_data(benchmark: str, data: Path) -> bool:
    """Print the skip line when the data file is absent (the benchmark then exits 0)."""
    if data.exists():
        return False
    print(f"skipped: {data} does not exist (the Online Retail parquet file)", file=sys.stderr)
    print(json.dumps({"benchmark": benchmark, "skipped": f"{data} absent"}))
    return True


def merged(base: dict, update: dict) -> dict:
    """`base` with `update`'s keys, nested objects merged key by key."""
    out = dict(base)
    for key, value in update.items():
        nested = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if nested else value
    return out


def main(argv: list[str] | None = None) -> int:
    parser = protocol_arguments(__doc__)
    parser.add_argument("--beam-workers", type=int, default=None,
                        help="DirectRunner worker processes (default: 1, in memory)")  # fmt: skip
    parser.add_argument("--model-update", type=json.loads, default=None,
                        help='JSON merged into the example\'s model config, e.g. '
                        '\'{"retrieval": {"type": "scann"}}\'')  # fmt: skip
    args = parser.parse_args(argv)
    if skipped_without_data("quicktest_online_retail", args.data):
        return 0

    from demo import steps
    from pipelines.local import run_local
    from pipelines.registry import get_template

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-quicktest-"))
    work.mkdir(parents=True, exist_ok=True)
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731 (progress to stderr)

    t0 = time.perf_counter()
    rows = load_protocol_rows(args.data, work / "warehouse")
    load_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    configs = steps.load_example(
        ROOT / "codegen" / "examples" / "online_retail", epochs=args.epochs
    )
    if args.model_update:
        model = merged(configs.model.model_dump(mode="json"), args.model_update)
        configs = dataclasses.replace(configs, model=type(configs.model).model_validate(model))
    from codegen.render import render_all, write_rendered

    write_rendered(render_all(configs.dataset, configs.features, configs.model, configs.training),
                   work / "generated")  # fmt: skip
    codegen_seconds = time.perf_counter() - t0
    values = steps.pipeline_values(configs, work / "generated", work / "warehouse")
    template = get_template("quicktest")

    stage_runs: list[dict[str, float]] = []
    totals: list[float] = []
    examples_per_second: list[float] = []
    run = None
    for i in range(args.runs):
        log(f"run {i + 1}/{args.runs}")
        with stdout_to_stderr():
            run = run_local(template, values, root=work / f"run{i}",
                            report=lambda s: log("  " + s), beam_workers=args.beam_workers)  # fmt: skip
        stage_runs.append(run.stage_seconds)
        totals.append(run.total_seconds)
        throughput = steps.read_metrics(run).get("throughput", {})
        examples_per_second.append(throughput.get("examples_per_second", float("nan")))
    assert run is not None
    metrics = steps.read_metrics(run)
    reference = baselines_on_split(run.output("QueryExampleGen", "examples"))
    # The customer id first: one request per customer.
    request_columns = [configs.features.query_id] + sorted(
        f.column for f in configs.features.query_tower.features
        if f.kind != "history" and f.column != configs.features.query_id
    )  # fmt: skip
    requests = work / "test_requests.jsonl"
    write_test_requests(run.output("QueryExampleGen", "examples"), request_columns, requests)
    split_info = reference.pop("_split")
    total = statistics.median(totals) + load_seconds + codegen_seconds
    stages = {
        name: round(statistics.median(r[name] for r in stage_runs), 1)
        for name in template.components
    }
    print(json.dumps({
        "benchmark": "quicktest_online_retail",
        "template": template.tag,
        "runs": args.runs,
        "rows": rows,
        "stage_seconds": {"load": round(load_seconds, 1), "codegen": round(codegen_seconds, 2), **stages},
        "pipeline_seconds_runs": [round(t, 1) for t in totals],
        "total_seconds": round(total, 1),
        "goal_seconds": GOAL_SECONDS,
        "total_to_goal": round(total / GOAL_SECONDS, 3),
        "model": pick(metrics["final_metrics"]),
        "baselines": {name: pick(values) for name, values in reference.items()},
        "trainer_baselines": {
            name: pick(values) for name, values in metrics.get("baselines", {}).items()
        },
        "trainer_seconds": metrics.get("timing_seconds", {}),
        "trainer_examples_per_second": statistics.median(examples_per_second),
        "trainer_examples_per_second_runs": examples_per_second,
        "split": split_info | {k: metrics.get("eval", {}).get(k) for k in ("customers", "customers_new")},
        "epochs": values["epochs"],
        "beam_workers": args.beam_workers or 1,
        "test_requests": str(requests),
    }, sort_keys=False))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
