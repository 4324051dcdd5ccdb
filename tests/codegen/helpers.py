"""Shared helpers of the codegen tests (imported as `tests.codegen.helpers`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from specs import DatasetConfig, FeatureConfig, ModelConfig, TrainingParams, load_spec

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "codegen" / "examples"
EXAMPLE_NAMES = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir())


def load_example(name: str) -> tuple[DatasetConfig, FeatureConfig, ModelConfig, TrainingParams]:
    folder = EXAMPLES / name
    return (
        load_spec(DatasetConfig, folder / "dataset.json"),
        load_spec(FeatureConfig, folder / "features.json"),
        load_spec(ModelConfig, folder / "model.json"),
        load_spec(TrainingParams, folder / "training.json"),
    )


def ruff_check(source: str, filename: str = "generated.py") -> subprocess.CompletedProcess:
    """`ruff check` of a source text with the repository's settings (E, F, W, I, B, UP)."""
    return subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--stdin-filename", filename, "-"],
        input=source,
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
