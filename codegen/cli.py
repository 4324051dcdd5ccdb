"""Command line: render, validate and list presets.

    python -m codegen render --dataset D.json --features F.json (--model M.json | --preset NAME)
                             [--training T.json] --out DIR [--check]
    python -m codegen validate --dataset D.json --features F.json (--model M.json | --preset NAME)
                               [--training T.json]
    python -m codegen presets

Exit codes: 0 success; 1 `--check` found files that differ from a fresh render; 2 invalid configs
(or usage), reported as `<file>: <field>: <why>` lines without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from codegen.render import render_all, stale_files, write_rendered
from specs import (
    PRESETS,
    DatasetConfig,
    FeatureConfig,
    ModelConfig,
    SpecError,
    TrainingParams,
    check_compatible,
    check_model_fits_features,
    load_spec,
)

EXIT_OK, EXIT_STALE, EXIT_INVALID = 0, 1, 2

T = TypeVar("T")


def _add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", type=Path, required=True, help="DatasetConfig JSON")
    parser.add_argument("--features", type=Path, required=True, help="FeatureConfig JSON")
    model = parser.add_mutually_exclusive_group(required=True)
    model.add_argument("--model", type=Path, help="ModelConfig JSON")
    model.add_argument("--preset", choices=sorted(PRESETS), help="a named ModelConfig preset")
    parser.add_argument(
        "--training", type=Path, help="TrainingParams JSON (defaults apply when omitted)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m codegen", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="render the query and the TFX modules")
    _add_config_args(render)
    render.add_argument("--out", type=Path, required=True, help="output directory")
    render.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if files in --out differ from a fresh render (for CI)",
    )
    validate = commands.add_parser("validate", help="validate the configs only")
    _add_config_args(validate)
    commands.add_parser("presets", help="list the ModelConfig presets")
    return parser


class _Invalid(Exception):
    """One or more config files failed validation."""

    def __init__(self, errors: list[SpecError]):
        super().__init__(f"{len(errors)} invalid config(s)")
        self.errors = errors


def _load(args: argparse.Namespace):
    """Load every spec, collecting the errors of all files before failing."""
    errors: list[SpecError] = []

    def attempt(load: Callable[[], T]) -> T | None:
        try:
            return load()
        except SpecError as exc:
            errors.append(exc)
            return None

    dataset = attempt(lambda: load_spec(DatasetConfig, args.dataset))
    features = attempt(lambda: load_spec(FeatureConfig, args.features))
    if args.model is not None:
        model = attempt(lambda: load_spec(ModelConfig, args.model))
    else:
        model = ModelConfig.preset(args.preset)
    if args.training is not None:
        training = attempt(lambda: load_spec(TrainingParams, args.training))
    else:
        training = TrainingParams()
    if dataset is not None and features is not None:
        attempt(lambda: check_compatible(dataset, features, source=str(args.features)))
    if features is not None and model is not None:
        source = str(args.model or f"preset {args.preset}")
        attempt(lambda: check_model_fits_features(features, model, source=source))
    if errors:
        raise _Invalid(errors)
    return dataset, features, model, training


def _presets() -> None:
    for name in sorted(PRESETS):
        model = ModelConfig.preset(name)
        widths = [str(layer.units) for layer in model.query_layers if layer.type == "dense"]
        print(f"{name}: hidden {'-'.join(widths)}, output {model.output_dim}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    args = _parser().parse_args(argv)
    if args.command == "presets":
        _presets()
        return EXIT_OK
    try:
        dataset, features, model, training = _load(args)
    except _Invalid as invalid:
        # The SpecError text already names file and field; a traceback would only hide it.
        for error in invalid.errors:
            for field, why in error.problems:
                print(f"error: {error.source}: {field}: {why}", file=sys.stderr)
        return EXIT_INVALID
    if args.command == "validate":
        print("configs are valid")
        return EXIT_OK
    files = render_all(dataset, features, model, training)
    if args.check:
        stale = stale_files(files, args.out)
        for name in stale:
            print(f"out of date: {args.out / name}", file=sys.stderr)
        return EXIT_STALE if stale else EXIT_OK
    for name in write_rendered(files, args.out):
        print(f"wrote {args.out / name}")
    return EXIT_OK
