"""The model registry from the command line (the local backend: MLflow's registry).

    python -m registry list    --registry URI [MODEL] [--json]
    python -m registry show    --registry URI MODEL [VERSION] [--json]
    python -m registry promote --registry URI MODEL VERSION [--override REASON]
    python -m registry rollback --registry URI MODEL

`--registry` is an MLflow tracking URI (`sqlite:///<run>/mlflow.db`, default `$B2B_REGISTRY_URI`).
`promote` makes a version the champion (one the evaluator did not bless only with `--override`,
recorded on the version); `rollback` moves the champion back to the one it replaced. Deploying
the champion is the training template's Deploy stage. Exit codes: 0 done; 2 refused (named).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict

from registry.base import CHAMPION, RegistryError


def _line(v) -> str:
    aliases = f" [{', '.join(v.aliases)}]" if v.aliases else ""
    blessed = "blessed" if v.labels.get("blessed") == "true" else "NOT blessed"
    return f"{v.model_name} v{v.version}{aliases} {blessed} run {v.run_id[:12]} {v.artifact_uri}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m registry", description=__doc__)
    parser.add_argument("verb", choices=("list", "show", "promote", "rollback"))
    parser.add_argument("model", nargs="?")
    parser.add_argument("version", nargs="?")
    parser.add_argument("--registry", default=os.environ.get("B2B_REGISTRY_URI", ""))
    parser.add_argument("--override", default="", help="why an unblessed version is promoted")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.registry.startswith(("sqlite:///", "http://", "https://", "file://")):
        print("error: --registry: an MLflow tracking URI (or set B2B_REGISTRY_URI)",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.verb != "list" and not args.model:
        print(f"error: {args.verb} needs MODEL", file=sys.stderr)
        return 2
    if args.verb == "promote" and not args.version:
        print("error: promote needs MODEL VERSION", file=sys.stderr)
        return 2
    from registry.mlflow_registry import MlflowModelRegistry

    registry = MlflowModelRegistry(args.registry)
    try:
        if args.verb == "promote":
            found = [registry.promote(args.model, args.version, override=args.override)]
        elif args.verb == "rollback":
            found = [registry.rollback(args.model)]
        elif args.verb == "show":
            found = ([registry.version_of(args.model, args.version)] if args.version
                     else [v for v in [registry.get(args.model, CHAMPION)] if v])  # fmt: skip
            if not found:
                raise RegistryError(f"{args.model} has no champion")
        else:
            names = [args.model] if args.model else registry.model_names()
            found = [v for name in names for v in registry.versions(name)]
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([asdict(v) for v in found], indent=2, default=dict))
    else:
        for version in found:
            print(_line(version))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
