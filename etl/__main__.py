"""ETL command line: what a source holds, and runs of jobs into the local warehouse.

    python -m etl discover CONNECTION.json [--table T ...]
    python -m etl run JOB.json [JOB.json ...] --warehouse PATH|bigquery://PROJECT
        [--staging gs://BUCKET/PREFIX] [--engine auto|single|distributed]

`discover` prints JSON: each table with its row count, columns (source and BigQuery types), primary
key and detected timestamp column (the wizard's data). `run` prints progress on stderr (rows,
rows/s per range read) and the run's report JSON on stdout (one entry per table, the shape the
app stores). A CONNECTION.json is a job's `source` object; passwords are references (`{"env":
"PGPASSWORD"}` or `{"file": "/run/secrets/pg"}`), never values.

A separate entry point from `python -m pipelines`: the ETL runner image (a Cloud Run job) runs
it without TFX or TensorFlow. Exit codes: 0 done; 1 a table failed (named in the report);
2 invalid input (`<file>: <field>: <why>`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import TypeAdapter, ValidationError


def _discover(args) -> int:
    from etl.secrets import SecretError, redact, resolve
    from etl.sources import Database, SourceError, describe
    from specs.base import spec_error
    from specs.etl import DatabaseSource

    try:
        data = json.loads(Path(args.connection).read_text())
        spec = TypeAdapter(DatabaseSource).validate_python(data)
    except (OSError, ValueError) as exc:
        if isinstance(exc, ValidationError):
            print(spec_error(str(args.connection), exc), file=sys.stderr)
        else:
            print(f"{args.connection}: <file>: {exc}", file=sys.stderr)
        return 2
    password = None
    try:
        password = resolve(spec.password, field="password")
        db = Database(spec, password)
        tables = args.table or db.tables()
        print(json.dumps({"tables": [describe(db, t) for t in tables]}, indent=2, default=str))
    except (SourceError, SecretError) as exc:
        print(redact(str(exc), password), file=sys.stderr)
        return 2
    return 0


def _run(args) -> int:
    from etl.run import run_job, run_report
    from specs.base import SpecError
    from specs.etl import load_job

    jobs = []
    for path in args.jobs:
        try:
            job = load_job(Path(path))
        except SpecError as exc:
            print(exc, file=sys.stderr)
            return 2
        jobs.append(job.model_copy(update={"engine": args.engine}) if args.engine else job)
    cloud = args.warehouse.startswith("bigquery://")
    if cloud and not (args.staging or "").startswith("gs://"):
        print("--staging: a bigquery:// warehouse needs a gs:// staging prefix", file=sys.stderr)
        return 2
    if not cloud and not Path(args.warehouse).resolve().parent.is_dir():
        print(f"--warehouse: {Path(args.warehouse).parent} is not a folder", file=sys.stderr)
        return 2

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if cloud:
        from etl.cloud import run_job_bigquery

        project = args.warehouse.removeprefix("bigquery://").strip("/")
        reports = [run_job_bigquery(job, project, args.staging, progress=progress) for job in jobs]
    else:
        reports = [run_job(job, args.warehouse, progress=progress) for job in jobs]
    report = run_report(reports)
    print(json.dumps(report, indent=2))
    return 0 if report["status"] == "success" else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m etl", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    sub = parser.add_subparsers(dest="command", required=True)
    discover = sub.add_parser("discover", help="tables, row counts, columns, keys of a source")
    discover.add_argument("connection", type=Path)
    discover.add_argument("--table", action="append", help="only this table (repeatable)")
    run = sub.add_parser("run", help="run jobs into the local warehouse")
    run.add_argument("jobs", nargs="+", type=Path)
    run.add_argument("--warehouse", required=True, help="a folder, or bigquery://PROJECT")
    run.add_argument("--staging", help="gs:// prefix for BigQuery loads")
    run.add_argument("--engine", choices=["auto", "single", "distributed"])
    args = parser.parse_args(argv)
    return _discover(args) if args.command == "discover" else _run(args)


if __name__ == "__main__":
    raise SystemExit(main())
