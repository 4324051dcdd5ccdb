"""Pipeline template CLI: list, describe, compile to KFP IR.

python -m pipelines list
python -m pipelines describe quicktest [--version 1.5.0]
python -m pipelines compile quicktest|--all [--version V] [--image IMG] --out DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pipelines import registry, vertex


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="every template and version")
    describe = sub.add_parser("describe", help="a template's parameters and components as JSON")
    describe.add_argument("name")
    describe.add_argument("--version")
    comp = sub.add_parser("compile", help="compile to KFP v2 IR JSON (offline)")
    comp.add_argument("name", nargs="?")
    comp.add_argument("--all", action="store_true")
    comp.add_argument("--version")
    comp.add_argument("--image", default=vertex.DEFAULT_IMAGE)
    comp.add_argument("--out", type=Path, default=Path("build/pipelines"))
    args = parser.parse_args(argv)

    try:
        if args.command == "list":
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


if __name__ == "__main__":
    sys.exit(main())
