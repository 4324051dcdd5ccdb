"""Command line: render, validate and list presets.

    python -m codegen render --dataset D.json --features F.json (--model M.json | --preset NAME)
                             [--training T.json] --out DIR [--check]
    python -m codegen validate --dataset D.json --features F.json (--model M.json | --preset NAME)
                               [--training T.json]
    python -m codegen presets
    python -m codegen sizes --features F.json (--model M.json | --preset NAME) [--vocab COL=N ...]

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
from codegen.sql import check_query_size
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
    sizes = commands.add_parser(
        "sizes", help="parameter counts and input widths per tower, from the configs alone"
    )
    sizes.add_argument("--features", type=Path, required=True, help="FeatureConfig JSON")
    which = sizes.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", type=Path, help="ModelConfig JSON")
    which.add_argument("--preset", choices=sorted(PRESETS), help="a named ModelConfig preset")
    sizes.add_argument("--vocab", action="append", default=[], metavar="COLUMN=N",
                       help="a column's vocabulary size (its distinct values)")  # fmt: skip
    return parser


def _sizes(args: argparse.Namespace) -> int:
    import json

    from specs import tower_input_dim
    from specs.sizes import tower_parameters

    try:
        features = load_spec(FeatureConfig, args.features)
        model = (
            load_spec(ModelConfig, args.model) if args.model else ModelConfig.preset(args.preset)
        )
        vocab = {}
        for item in args.vocab:
            column, _, size = item.partition("=")
            if not size.isdigit():
                raise ValueError(f"--vocab {item!r}: expected COLUMN=N")
            vocab[column] = int(size)
        counts = tower_parameters(features, model, vocab)
    except SpecError as error:
        for field, why in error.problems:
            print(f"error: {error.source}: {field}: {why}", file=sys.stderr)
        return EXIT_INVALID
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    cid = next(f for f in features.candidate_tower.features if f.column == features.candidate_id)
    out = {
        name: {**counts[name].as_dict(),
               "input_dim": tower_input_dim(tower, candidate_id_dim=cid.embedding_dim),
               "output_dim": model.output_dim}
        for name, tower in (("query_tower", features.query_tower),
                            ("candidate_tower", features.candidate_tower))
    }  # fmt: skip
    print(json.dumps(out, indent=2))
    return EXIT_OK


class InvalidConfigs(Exception):
    """One or more config files failed validation; `errors` holds each file's SpecError."""

    def __init__(self, errors: list[SpecError]):
        super().__init__(f"{len(errors)} invalid config(s)")
        self.errors = errors

    def lines(self) -> list[str]:
        """`<file>: <field>: <why>`, one line per problem."""
        return [f"{e.source}: {field}: {why}" for e in self.errors for field, why in e.problems]


def load_configs(
    dataset: Path,
    features: Path,
    model: Path | None = None,
    training: Path | None = None,
    *,
    preset: str | None = None,
):
    """Every spec loaded and cross-checked, collecting the errors of all files before failing
    (`InvalidConfigs`). The model is the file `model`, or else the named `preset`; without
    `training` the training parameters' defaults apply. Returns (dataset, features, model,
    training)."""
    errors: list[SpecError] = []

    def attempt(load: Callable[[], T]) -> T | None:
        try:
            return load()
        except SpecError as exc:
            errors.append(exc)
            return None

    dataset_spec = attempt(lambda: load_spec(DatasetConfig, dataset))
    features_spec = attempt(lambda: load_spec(FeatureConfig, features))
    if model is not None:
        model_spec = attempt(lambda: load_spec(ModelConfig, model))
    else:
        model_spec = ModelConfig.preset(preset)
    if training is not None:
        training_spec = attempt(lambda: load_spec(TrainingParams, training))
    else:
        training_spec = TrainingParams()
    if dataset_spec is not None:
        attempt(lambda: check_query_size(dataset_spec, source=str(dataset)))
    if dataset_spec is not None and features_spec is not None:
        attempt(lambda: check_compatible(dataset_spec, features_spec, source=str(features)))
    if features_spec is not None and model_spec is not None:
        source = str(model or f"preset {preset}")
        attempt(lambda: check_model_fits_features(features_spec, model_spec, source=source))
    if errors:
        raise InvalidConfigs(errors)
    return dataset_spec, features_spec, model_spec, training_spec


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
    if args.command == "sizes":
        return _sizes(args)
    try:
        dataset, features, model, training = load_configs(
            args.dataset, args.features, args.model, args.training, preset=args.preset
        )
    except InvalidConfigs as invalid:
        # The SpecError text already names file and field; a traceback would only hide it.
        for line in invalid.lines():
            print(f"error: {line}", file=sys.stderr)
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
