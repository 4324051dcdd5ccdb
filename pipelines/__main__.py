"""Pipeline template CLI: list, describe, compile to KFP IR, run locally on one's own data.

python -m pipelines templates
python -m pipelines describe quicktest [--version 1.5.0]
python -m pipelines compile quicktest|--all [--version V] [--image IMG] --out DIR
python -m pipelines run quicktest|training [--version V] (--configs DIR | --dataset F --features F
    --model F [--training F]) --warehouse PATH [--out DIR] [--param k=v ...] [-v]
python -m pipelines warehouse import FILE_OR_FOLDER... --warehouse PATH [--dataset raw_data]
python -m pipelines submit|status|wait|cancel|results|logs|rerun|list ...   (pipelines.runs.cli)

Exit codes: 0 done; 1 a pipeline step failed (named); 2 invalid input (named).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines import vertex
from pipelines.runs import cli as runs_cli


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("templates", help="every template and version")
    describe = sub.add_parser("describe", help="a template's parameters and components as JSON")
    describe.add_argument("name")
    describe.add_argument("--version")
    comp = sub.add_parser("compile", help="compile to KFP v2 IR JSON (offline)")
    comp.add_argument("name", nargs="?")
    comp.add_argument("--all", action="store_true")
    comp.add_argument("--version")
    comp.add_argument("--image", help="trainer image (default: this release's platform image)")
    comp.add_argument("--out", type=Path, default=Path("build/pipelines"))
    run = sub.add_parser(
        "run", help="check, render and run a template locally (pipelines.own_data)"
    )
    run.add_argument("name")
    _add_run_inputs(run)
    run.add_argument("--out", type=Path, default=Path("out/run"), help="generated code and run")
    run.add_argument("-v", "--verbose", action="store_true",
                     help="print TensorFlow's, Beam's and pip's output instead of <out>/run.log")  # fmt: skip
    runs_cli.add_parsers(sub, _add_run_inputs)
    warehouse = sub.add_parser("warehouse", help="the local warehouse")
    warehouse_sub = warehouse.add_subparsers(dest="warehouse_command", required=True)
    imports = warehouse_sub.add_parser("import", help="Parquet/CSV files or folders as tables")
    imports.add_argument("sources", nargs="+", type=Path)
    imports.add_argument("--warehouse", type=Path, required=True)
    imports.add_argument("--dataset", default="raw_data")
    args = parser.parse_args(argv)

    if args.command == "run":
        return _run(args)
    if args.command in runs_cli.VERBS:
        return runs_cli.main(args)
    from pipelines import registry  # the templates import TFX: only for the verbs that need it

    try:
        if args.command == "warehouse":
            from components.warehouse import LocalWarehouse

            local = LocalWarehouse(args.warehouse)
            for table, rows in local.import_files(args.dataset, args.sources).items():
                print(f"{table}: {rows} rows -> {local.root}")
        elif args.command == "templates":
            for template in registry.all_templates():
                print(f"{template.tag:24} {template.description}")
        elif args.command == "describe":
            template = registry.get_template(args.name, args.version)
            print(json.dumps({
                "name": template.name,
                "version": template.version,
                "components": list(template.components),
                "parameters": template.parameters.model_json_schema(),
            }, indent=2))  # fmt: skip
        else:
            if args.all == bool(args.name):
                parser.error("compile takes a template name or --all")
            templates = (
                registry.all_templates()
                if args.all
                else [registry.get_template(args.name, args.version)]
            )
            # TFX warns, once per component, that a RuntimeParameter module path is not packaged
            # into a wheel: that is the point (the path is set per run), so keep the output quiet.
            from absl import logging as absl_logging

            absl_logging.set_verbosity(absl_logging.ERROR)
            for template in templates:
                spec = vertex.compile_template(template, image=args.image)
                path = vertex.write_ir(spec, args.out / f"{template.tag}.json")
                print(f"compiled {template.tag} -> {path}")
    except (KeyError, ValueError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    return 0


def _add_run_inputs(parser: argparse.ArgumentParser, *, warehouse_required: bool = True) -> None:
    """The inputs of a run: template version, configs, warehouse, parameters."""
    parser.add_argument("--version")
    parser.add_argument(
        "--configs", type=Path, help="folder of dataset/features/model[/training].json"
    )
    for name in ("dataset", "features", "model", "training"):
        parser.add_argument(
            f"--{name}", type=Path, help=f"{name} config JSON (overrides --configs)"
        )
    parser.add_argument("--warehouse", type=Path, required=warehouse_required,
                        help="<dataset>/<table>.parquet root")  # fmt: skip
    parser.add_argument("--param", action="append", default=[], help="template parameter k=v")


def _run(args: argparse.Namespace) -> int:
    from codegen.cli import InvalidConfigs
    from pipelines.local import PipelineStepError
    from pipelines.own_data import RunInputError, config_paths, parse_params, run
    from specs import SpecError

    try:
        paths = config_paths(args.configs, dataset=args.dataset, features=args.features,
                             model=args.model, training=args.training)  # fmt: skip
        run(args.name, version=args.version, paths=paths, warehouse=args.warehouse,
            out=args.out, params=parse_params(args.param), verbose=args.verbose)  # fmt: skip
    except InvalidConfigs as invalid:
        for line in invalid.lines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except SpecError as error:  # the template's parameters
        for field, why in error.problems:
            print(f"error: {error.source}: {field}: {why}", file=sys.stderr)
        return 2
    except (RunInputError, KeyError) as exc:
        print(f"error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except PipelineStepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if exc.log is not None:
            print(f"the libraries' last lines (the traceback and all: {exc.log}):", file=sys.stderr)
            print("\n".join("  " + line for line in exc.log_tail), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
