"""The experiments command line.

    python -m experiments leaderboard [--metric M] [--top N]
    python -m experiments compare RUN_ID RUN_ID [RUN_ID [RUN_ID]] [--metrics M,M...]
    python -m experiments pairs       [--metric M]
    python -m experiments trend       [--metric M]
    python -m experiments insights    [--metric M] [--share 0.3]
    python -m experiments curves      [--keys loss,val_loss,...] [--top N]
    python -m experiments report      --out report.html [--metric M] [--compare RUN_ID ...]

Every verb reads the runs of `--experiment NAME` (repeatable; default: every experiment) from
`--tracking-uri` (default `$MLFLOW_TRACKING_URI`, else the local store `out/mlflow.db`; a path
to an `mlflow.db` works too), optionally only those named `--run-name` (`quick-test`,
`training`) or matching `--filter` (an MLflow search filter, e.g. "tags.dataset_name =
'retail'"), and prints a table, or with `--json` one JSON document. The metric defaults to
`test_recall_at_100`. A private server gets `$MLFLOW_TRACKING_TOKEN` or a Google identity token
as a bearer token; while it starts (503) requests are retried `--retries` times with backoff
from `--retry-wait` seconds; `--timeout` bounds each request.

Exit codes: 0 done; 1 the store could not be read (unavailable after the retries, a timeout);
2 invalid input, not found, or "authentication failed".
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from experiments import queries
from experiments.store import Retry, Store, StoreError, resolve_uri

VERBS = ("leaderboard", "compare", "pairs", "trend", "insights", "curves", "report")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m experiments", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("verb", choices=VERBS)
    parser.add_argument("run_ids", nargs="*", metavar="RUN_ID", help="compare: 2 to 4 run ids")
    parser.add_argument("--tracking-uri", default=None)
    parser.add_argument("--experiment", action="append", default=[], metavar="NAME")
    parser.add_argument("--run-name", default=None, metavar="NAME")
    parser.add_argument("--filter", default="", metavar="MLFLOW_FILTER")
    parser.add_argument("--metric", default=queries.DEFAULT_METRIC)
    parser.add_argument("--metrics", default="", help="compare: metrics to show (comma list)")
    parser.add_argument("--keys", default=",".join(queries.CURVE_KEYS), help="curves: metrics")
    parser.add_argument("--top", type=int, default=None, help="leaderboard, curves: best N runs")
    parser.add_argument("--share", type=float, default=queries.TOP_SHARE, help="insights")
    parser.add_argument("--out", type=Path, default=None, help="report: the HTML file")
    parser.add_argument("--compare", nargs="+", default=[], metavar="RUN_ID", help="report")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    parser.add_argument("--retries", type=int, default=5, help="retries while unavailable")
    parser.add_argument("--retry-wait", type=float, default=1.0, help="first backoff, seconds")
    return parser


def _check(args) -> None:
    if args.verb == "compare" and not 2 <= len(args.run_ids) <= 4:
        raise StoreError("invalid", f"runs: compare takes 2 to 4 run ids, got {len(args.run_ids)}")
    if args.verb != "compare" and args.run_ids:
        raise StoreError("invalid", f"runs: {args.verb} takes no run ids")
    if args.verb == "report" and args.out is None:
        raise StoreError("invalid", "out: report needs --out FILE.html")
    if args.top is not None and args.top < 1:
        raise StoreError("invalid", f"top: must be at least 1, got {args.top}")
    if not 0 < args.share <= 1:
        raise StoreError("invalid", f"share: must be in (0, 1], got {args.share}")
    if args.retries < 0 or args.retry_wait < 0 or args.timeout <= 0:
        raise StoreError("invalid", "retries, retry-wait: not negative; timeout: positive")
    if args.compare and not 2 <= len(args.compare) <= 4:
        raise StoreError("invalid", f"compare: 2 to 4 run ids, got {len(args.compare)}")


def run(args, store: Store) -> Any:
    """The verb's result as plain data (the report: its path and size)."""
    runs = queries.load_runs(store, experiments=args.experiment, run_name=args.run_name,
                             filter_string=args.filter)  # fmt: skip
    if args.verb == "leaderboard":
        return queries.leaderboard(runs, args.metric, args.top)
    if args.verb == "compare":
        metrics = [m for m in args.metrics.split(",") if m] or None
        return queries.compare(runs, args.run_ids, metrics)
    if args.verb == "pairs":
        return queries.pairs(runs, args.metric)
    if args.verb == "trend":
        return queries.trend(runs, args.metric)
    if args.verb == "insights":
        return queries.insights(runs, args.metric, args.share)
    if args.verb == "curves":
        chosen = runs
        if args.top:
            best = [r["run_id"] for r in queries.leaderboard(runs, args.metric, args.top)["runs"]]
            chosen = [r for r in runs if r.run_id in best]
        return queries.curves(store, chosen, [k for k in args.keys.split(",") if k])
    from experiments.report import render

    page = render(store, runs, metric=args.metric, compare_ids=args.compare,
                  title="Experiments: " + (", ".join(args.experiment) or "every experiment"))  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(page, encoding="utf-8")
    return {"report": str(args.out), "bytes": len(page.encode()), "runs": len(runs)}


def _text(verb: str, result: dict) -> str:
    """A short human-readable rendering of a result."""
    if verb == "leaderboard":
        lines = [
            f"{'#':>3}  {'run':<12} {'feature config':<20} {'model config':<20} {result['metric']}"
        ]
        lines += [f"{r['rank']:>3}  {r['run_id'][:12]:<12} {r['feature_config'] or '':<20} "
                  f"{r['model_config'] or '':<20} {r['value']:.4f}" for r in result["runs"]]  # fmt: skip
        return "\n".join(lines)
    if verb == "compare":
        ids = [r["run_id"] for r in result["runs"]]
        lines = ["metric".ljust(32) + "".join(i[:12].rjust(14) for i in ids)]
        for name, entry in result["metrics"].items():
            cells = []
            for i in ids:
                value = entry["values"][i]
                text = "-" if value is None else f"{value:.4f}"
                cells.append((text + ("*" if i in entry["best"] else "")).rjust(14))
            lines.append(name[:32].ljust(32) + "".join(cells))
        for name, entry in result["params"].items():
            if entry["differs"]:
                lines.append(name[:32].ljust(32)
                             + "".join(str(entry["values"][i])[:13].rjust(14) for i in ids))  # fmt: skip
        return "\n".join(lines) + "\n(* best)"
    if verb == "pairs":
        return "\n".join(f"{c['feature_config']} x {c['model_config']}: {c['mean']:.4f} "
                         f"({c['runs']} runs)" for c in result["cells"])  # fmt: skip
    if verb == "trend":
        return "\n".join(f"{p['start_time']} {p['run_id'][:12]} {p['value']:.4f} best "
                         f"{p['best_so_far']:.4f}" for p in result["points"])  # fmt: skip
    if verb == "insights":
        lines = [f"top {result['top_share']:.0%} by {result['metric']}: "
                 f"{len(result['top_runs'])} runs"]  # fmt: skip
        for param, rows in result["params"].items():
            lines += [f"  {param}={r['value']}: {r['top']}/{r['runs']} in the top" for r in rows]
        return "\n".join(lines)
    if verb == "curves":
        return "\n".join(f"{key} {run_id[:12]}: " + " ".join(f"{v:.4f}" for v in values)
                         for key, runs in result["curves"].items()
                         for run_id, values in runs.items())  # fmt: skip
    return f"wrote {result['report']} ({result['bytes']} bytes, {result['runs']} runs)"


def main(argv: list[str] | None = None, *, token_fetch=None) -> int:
    args = _parser().parse_args(argv)
    try:
        _check(args)
        store = Store(
            resolve_uri(args.tracking_uri),
            timeout_seconds=args.timeout,
            retry=Retry(attempts=args.retries + 1, base_seconds=args.retry_wait),
            token_fetch=token_fetch,
        )
        result = run(args, store)
    except StoreError as exc:
        print(f"experiments: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # noqa: BLE001 (one line, never a traceback)
        print(f"experiments: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
        return 1
    print(json.dumps(result, sort_keys=True) if args.json else _text(args.verb, result))
    return 0
