"""The run verbs of `python -m pipelines`: submit, status, wait, cancel, results, logs, rerun, list.

    python -m pipelines submit quicktest[@1.5.0] --configs DIR --warehouse W [--param k=v ...]
        [--tenant T] [--key IDEMPOTENCY_KEY] [--backend local|vertex]  -> {"run_id": ..., ...}
    python -m pipelines status RUN [--json]
    python -m pipelines wait RUN [--timeout S]
    python -m pipelines cancel RUN
    python -m pipelines results RUN [--json]
    python -m pipelines logs RUN [--tail N]
    python -m pipelines rerun RUN [--key K]
    python -m pipelines list [--tenant T] [--state S] [--json]

Exit codes: 0 done; 1 the run failed or was cancelled (`wait`), or the store failed; 2 invalid
input (an unknown template, version or run, a parameter outside its limits, cancelling a run
that has ended), named, with nothing submitted or recorded.
"""

from __future__ import annotations

import argparse
import json
import sys

VERBS = ("submit", "status", "wait", "cancel", "results", "logs", "rerun", "list")


def add_parsers(sub, add_run_inputs) -> None:
    """The run verbs' subparsers; `add_run_inputs(parser)` adds the flags of `pipelines run`."""
    submit = sub.add_parser("submit", help="check, record and start a run; returns at once")
    submit.add_argument("name", help="template, optionally with @version")
    add_run_inputs(submit, warehouse_required=False)
    submit.add_argument("--tenant", default="local",
                        help="the run's tenant; with --backend vertex, a stack in infra/")  # fmt: skip
    submit.add_argument("--key", help="idempotency key: one run per key")
    submit.add_argument("--backend", default="local", choices=("local", "vertex"),
                        help="vertex: the tenant's BigQuery and Vertex AI Pipelines")  # fmt: skip
    for verb, text in (("status", "a run's state, stages and progress"),
                       ("wait", "follow a run until it ends"),
                       ("cancel", "stop a run; what it wrote stays"),
                       ("results", "a completed run's metrics and artifact paths"),
                       ("logs", "a run's log"),
                       ("rerun", "the same template, parameters, configs and data again")):  # fmt: skip
        parser = sub.add_parser(verb, help=text)
        parser.add_argument("run_id")
        if verb in ("status", "results"):
            parser.add_argument("--json", action="store_true")
        if verb == "wait":
            parser.add_argument("--timeout", type=float, help="seconds; exit 1 when exceeded")
        if verb == "logs":
            parser.add_argument("--tail", type=int, help="only the last N lines")
        if verb == "rerun":
            parser.add_argument("--key", help="idempotency key of the new run")
    runs = sub.add_parser("list", help="runs, oldest first")
    runs.add_argument("--tenant")
    runs.add_argument("--state")
    runs.add_argument("--json", action="store_true")


def main(args: argparse.Namespace) -> int:
    from codegen.cli import InvalidConfigs
    from pipelines.own_data import RunInputError, config_paths, parse_params
    from pipelines.runs.service import RunService, RunStateError, SubmitRequest
    from pipelines.runs.store import STATES, RunNotFound, RunStoreError
    from pipelines.runs.vertex import VertexError
    from specs import SpecError

    try:
        service = RunService()
        if args.command == "submit":
            name, _, version = args.name.partition("@")
            if args.backend == "local" and args.warehouse is None:
                raise RunInputError("--warehouse: required with --backend local")
            paths = config_paths(args.configs, dataset=args.dataset, features=args.features,
                                 model=args.model, training=args.training)  # fmt: skip
            run, created = service.submit(SubmitRequest(
                template=name, version=version or args.version, paths=paths,
                warehouse=args.warehouse, params=parse_params(args.param), tenant=args.tenant,
                key=args.key, backend=args.backend,
            ))  # fmt: skip
            print(json.dumps({"run_id": run.id, "state": run.state, "created": created}))
        elif args.command == "rerun":
            run, created = service.rerun(args.run_id, key=args.key)
            print(json.dumps({"run_id": run.id, "state": run.state, "created": created,
                              "rerun_of": args.run_id}))  # fmt: skip
        elif args.command == "status":
            status = service.status(args.run_id)
            print(json.dumps(status, indent=2) if args.json else _status_text(status))
        elif args.command == "wait":
            status = service.wait(args.run_id, timeout_s=args.timeout,
                                  on_change=lambda s: print(_status_line(s), flush=True))  # fmt: skip
            return 0 if status["state"] == "completed" else 1
        elif args.command == "cancel":
            run = service.cancel(args.run_id)
            print(f"run {run.id}: {run.state}")
        elif args.command == "results":
            results = service.results(args.run_id)
            print(json.dumps(results, indent=2) if args.json else _results_text(results))
        elif args.command == "logs":
            run = service.store.get(args.run_id)
            if run.backend == "vertex":  # the steps log to Cloud Logging, not to this machine
                target = run.data["target"]
                print(f"https://console.cloud.google.com/vertex-ai/locations/{target['region']}"
                      f"/pipelines/runs/{run.id}?project={target['project']}")  # fmt: skip
                return 0
            path = service.log_path(args.run_id)
            lines = path.read_text(errors="replace").splitlines() if path.exists() else []
            print("\n".join(lines[-args.tail :] if args.tail else lines))
        else:  # list
            if args.state is not None and args.state not in STATES:
                raise RunInputError(f"--state: {args.state!r} is not one of {list(STATES)}")
            runs = service.list(tenant=args.tenant, state=args.state)
            if args.json:
                print(json.dumps([_summary(r) for r in runs], indent=2))
            for run in [] if args.json else runs:
                print(f"{run.id:40} {run.tenant:12} {run.template}@{run.version:8} "
                      f"{run.state:10} {run.created_at}")  # fmt: skip
    except InvalidConfigs as invalid:
        for line in invalid.lines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except SpecError as error:
        for field, why in error.problems:
            print(f"error: {error.source}: {field}: {why}", file=sys.stderr)
        return 2
    except (RunInputError, RunNotFound, RunStateError, KeyError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except (RunStoreError, TimeoutError, VertexError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _summary(run) -> dict:
    return {"run_id": run.id, "tenant": run.tenant, "template": run.template,
            "version": run.version, "state": run.state, "created_at": run.created_at,
            "rerun_of": run.rerun_of}  # fmt: skip


def _status_line(status: dict) -> str:
    running = [s["name"] for s in status["stages"] if s["state"] == "running"]
    where = f" ({running[0]})" if running else ""
    return f"{status['run_id']}: {status['state']} {status['progress_percent']:.0f}%{where}"


def _status_text(status: dict) -> str:
    lines = [_status_line(status)]
    for stage in status["stages"]:
        took = "" if stage["duration_s"] is None else f" {stage['duration_s']:.1f}s"
        error = f"  {stage['error']}" if stage["error"] else ""
        lines.append(f"  {stage['name']:18} {stage['state']}{took}{error}")
    if status["state"] == "failed":
        lines.append(f"failed at {status['failing_stage'] or '?'}: {status['error']}")
    return "\n".join(lines)


def _results_text(results: dict) -> str:
    from pipelines.own_data import metrics_table

    lines = [metrics_table(results["metrics"])]
    lines += [f"{label}: {path}" for label, path in results["artifacts"].items()]
    lines.append(f"MLflow run: {results.get('mlflow_run_id')}")
    return "\n".join(lines)
