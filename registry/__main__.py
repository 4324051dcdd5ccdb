"""A registered model's lifecycle from the command line, over either backend.

    python -m registry list     [MODEL]
    python -m registry show     MODEL [VERSION]
    python -m registry register MODEL --run PIPELINE_ROOT [--models-dir DIR]
    python -m registry promote  MODEL VERSION [--override REASON]
    python -m registry rollback MODEL
    python -m registry split    MODEL VERSION PERCENT
    python -m registry deploy   MODEL [VERSION] [--preset P] [--min-instances N]
                                [--max-instances N] [--cpu C] [--memory M] [--timeout SECONDS]
    python -m registry undeploy MODEL
    python -m registry status   MODEL

Every verb takes `--registry URI` (default `$B2B_REGISTRY_URI`), `--json`, and the serving ones
`--endpoint NAME` (default: the model's name) and `--target`:

* local (an MLflow URI such as `sqlite:///<run>/mlflow.db`): MLflow's registry, and the model
  server on 127.0.0.1 for endpoints under `--models-dir` (default `<run>/models`);
* cloud (`vertex://<project>/<region>`): Vertex AI Model Registry, and `--target cloud-run`
  (default) or `vertex-endpoint`; `--release-image` names the platform release whose serving
  image a deploy uses (e.g. the trainer image the run used).

`register` registers (or retries registering) the newest blessed run under a pipeline root;
`promote` makes a version the champion (one the evaluator did not bless only with
`--override REASON`, recorded on the version); `rollback` moves the champion back and redeploys
it where the model is served; `split` sends PERCENT % of the endpoint's customers to VERSION
(0 ends it); `deploy` serves the champion (or VERSION) sized by a preset and overrides
(request timeout 300 s unless `--timeout`); `status` reads the endpoint live (`unknown` when it
cannot be read). Exit codes: 0 done; 2 refused or invalid (`<field>: <why>`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from registry.base import CHAMPION, RegistryError

VERBS = ("list", "show", "register", "promote", "rollback", "split", "deploy", "undeploy",
         "status")  # fmt: skip
_MLFLOW = ("sqlite:///", "http://", "https://", "file://")
# verb -> (required positionals after MODEL, optional ones)
_POSITIONALS = {"show": ((), ("version",)), "promote": (("version",), ()),
                "split": (("version", "percent"), ()), "deploy": ((), ("version",))}  # fmt: skip


class Invalid(ValueError):
    """Bad input: `<field>: <why>`, exit 2."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m registry", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("verb", choices=VERBS)
    parser.add_argument("args", nargs="*", metavar="MODEL [VERSION] [PERCENT]")
    parser.add_argument("--registry", default=os.environ.get("B2B_REGISTRY_URI", ""))
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--override", default="", help="why an unblessed version is promoted")
    parser.add_argument("--run", default="", help="register: the run's pipeline root")
    parser.add_argument("--models-dir", default="", help="local models folder / gs:// models root")
    parser.add_argument("--endpoint", default=None)
    parser.add_argument("--target", choices=("local", "cloud-run", "vertex-endpoint"))
    parser.add_argument("--release-image", default="", help="cloud: a pinned platform image")
    parser.add_argument("--preset", default="development")
    parser.add_argument("--min-instances", type=int)
    parser.add_argument("--max-instances", type=int)
    parser.add_argument("--cpu")
    parser.add_argument("--memory")
    parser.add_argument("--timeout", type=int, dest="timeout_seconds")
    parser.add_argument("--public", action="store_true", help="cloud-run: admit allUsers")
    return parser


def _positionals(verb: str, values: list[str]) -> dict[str, str]:
    if verb == "list":
        if len(values) > 1:
            raise Invalid("MODEL: list takes at most one model")
        return {"model": values[0]} if values else {}
    if not values:
        raise Invalid(f"MODEL: {verb} needs the registered model's name")
    required, optional = _POSITIONALS.get(verb, ((), ()))
    names = ("model", *required, *optional)
    if len(values) < 1 + len(required):
        raise Invalid(f"{required[len(values) - 1].upper()}: {verb} needs "
                      f"{' '.join(n.upper() for n in names)}")  # fmt: skip
    if len(values) > len(names):
        raise Invalid(f"{verb}: unexpected {' '.join(values[len(names) :])!r}")
    return dict(zip(names, values))


def _local_models_dir(args) -> str:
    if args.models_dir:
        return args.models_dir
    if args.registry.startswith("sqlite:///"):
        return str(Path(args.registry[len("sqlite:///") :]).parent / "models")
    raise Invalid("--models-dir: required unless the registry is a sqlite:/// store")


def _lifecycle(args, registry):
    from registry.lifecycle import ModelLifecycle

    target = args.target or ("cloud-run" if args.registry.startswith("vertex://") else "local")
    if target == "local":
        from registry.local_serving import LocalTarget

        return ModelLifecycle(registry, LocalTarget(_local_models_dir(args)))
    if not args.registry.startswith("vertex://"):
        raise Invalid(f"--target: {target} needs a vertex://<project>/<region> registry")
    from registry.cloud_targets import cloud_target

    project, region = registry.target.project, registry.target.region
    try:
        serving = cloud_target(target, registry._rest.session, project=project, region=region,  # noqa: SLF001
                               release_image=args.release_image, public=args.public)  # fmt: skip
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    return ModelLifecycle(registry, serving)


def _sizing(args):
    from registry.deployment import overrides, resources

    try:
        return resources(args.preset, overrides(
            min_instances=args.min_instances, max_instances=args.max_instances, cpu=args.cpu,
            memory=args.memory, timeout_seconds=args.timeout_seconds,
        ))  # fmt: skip
    except ValueError as exc:
        raise Invalid(str(exc)) from None


def _line(v) -> str:
    aliases = f" [{', '.join(v.aliases)}]" if v.aliases else ""
    blessed = "blessed" if v.labels.get("blessed") == "true" else "NOT blessed"
    return f"{v.model_name} v{v.version}{aliases} {blessed} run {v.run_id[:12]} {v.artifact_uri}"


def _status_line(s) -> str:
    traffic = ", ".join(f"v{v} {p}%" for v, p in s.traffic.items())
    parts = [f"{s.endpoint}: {s.state}", s.model_name and f"model {s.model_name}",
             traffic, s.url, s.detail]  # fmt: skip
    return " ".join(p for p in parts if p)


def _run(args, given: dict[str, str], sizing):
    """(JSON-able result, text lines)."""
    from registry import open_registry

    model, verb = given.get("model", ""), args.verb
    try:
        registry = open_registry(args.registry, release_image=args.release_image)
    except ValueError as exc:
        raise Invalid(f"--registry: {exc}") from None
    except Exception as exc:  # noqa: BLE001 (no Google credentials here, for one)
        raise RegistryError(f"opening {args.registry}: {type(exc).__name__}: {exc}") from None
    if verb == "list":
        names = [model] if model else registry.model_names()
        found = [v for name in names for v in registry.versions(name)]
        return [asdict(v) for v in found], [_line(v) for v in found]
    if verb == "show":
        version = (registry.version_of(model, given["version"]) if given.get("version")
                   else registry.get(model, CHAMPION))  # fmt: skip
        if version is None:
            raise RegistryError(f"{model} has no champion")
        return [asdict(version)], [_line(version)]
    if verb == "register":
        return _register(args, registry, model)
    if verb == "promote":
        version = registry.promote(model, given["version"], override=args.override)
        return [asdict(version)], [_line(version)]
    lifecycle = _lifecycle(args, registry)
    if verb == "rollback":
        champion, status = lifecycle.rollback(model, sizing, endpoint=args.endpoint)
        lines = [_line(champion)] + ([_status_line(status)] if status else [])
        return {"champion": asdict(champion), "endpoint": status and asdict(status)}, lines
    if verb == "split":
        try:
            percent = int(given["percent"])
        except ValueError:
            raise Invalid(f"PERCENT: {given['percent']!r} is not a whole number") from None
        status = lifecycle.split(model, given["version"], percent, sizing,
                                 endpoint=args.endpoint)  # fmt: skip
    elif verb == "deploy":
        status = lifecycle.deploy(model, sizing, version=given.get("version"),
                                  endpoint=args.endpoint)  # fmt: skip
    elif verb == "undeploy":
        done = lifecycle.undeploy(model, endpoint=args.endpoint)
        name = args.endpoint or model
        return ({"endpoint": name, "undeployed": done},
                [f"{name}: undeployed" if done else f"{name}: nothing was deployed"])  # fmt: skip
    else:
        status = lifecycle.status(model, endpoint=args.endpoint)
    return asdict(status), [_status_line(status)]


def _register(args, registry, model: str):
    from registry.registration import outputs_of_pipeline_root, register_run

    if not args.run:
        raise Invalid("--run: register needs the training run's pipeline root")
    models_dir = args.models_dir or (_local_models_dir(args) if not
                                     args.registry.startswith("vertex://") else "")  # fmt: skip
    if not models_dir:
        raise Invalid("--models-dir: the models root (gs://<tenant>-models) is required")
    run = outputs_of_pipeline_root(args.run)
    version, kept = register_run(registry, run, model_name=model, models_dir=models_dir)
    return {**asdict(version), **kept}, [_line(version), *(f"  {k} {v}" for k, v in kept.items())]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if not args.registry.startswith((*_MLFLOW, "vertex://")):
            raise Invalid("--registry: an MLflow tracking URI or vertex://<project>/<region> "
                          "(or set B2B_REGISTRY_URI)")  # fmt: skip
        given = _positionals(args.verb, args.args)
        # Sizing is checked before anything is read or written.
        sizing = _sizing(args) if args.verb in ("deploy", "split", "rollback") else None
        result, lines = _run(args, given, sizing)
    except (Invalid, RegistryError) as exc:
        prefix = "" if isinstance(exc, Invalid) else "error: "
        print(f"{prefix}{exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2, default=dict))
    else:
        print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
