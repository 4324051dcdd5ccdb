"""TrainingParams: one run's epochs, sizes, sampling, split strategy and seed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from specs.base import Spec
from specs.model import ModelConfig

SplitStrategy = Literal["random", "time_holdout", "strict_temporal"]


class SplitConfig(Spec):
    """How rows are split into train and eval.

    random: a seeded hash of the row puts `eval_percent`% in eval.
    time_holdout: eval is the last `holdout_days` days (from the start of the latest day).
    strict_temporal: the earliest (100 - eval_percent)% of rows train, the rest evaluate; every
    train row is older than every eval row.
    """

    strategy: SplitStrategy = "time_holdout"
    holdout_days: int = Field(default=30, ge=1, le=3650)
    eval_percent: int = Field(default=20, ge=1, le=50)


class TrainingParams(Spec):
    """Run-time parameters. batch_size and learning_rate fall back to the ModelConfig's."""

    epochs: int = Field(default=5, ge=1, le=100)
    batch_size: int | None = Field(default=None, ge=8, le=65536)
    learning_rate: float | None = Field(default=None, gt=0, le=10)
    sample_percent: int = Field(default=100, ge=1, le=100)
    split: SplitConfig = SplitConfig()
    seed: int = Field(default=42, ge=0, le=2**31 - 1)


def resolve_hyperparameters(model: ModelConfig, training: TrainingParams) -> dict:
    """The values a run trains with: training params win, the model config fills the gaps."""
    return {
        "epochs": training.epochs,
        "batch_size": training.batch_size or model.batch_size,
        "learning_rate": training.learning_rate or model.learning_rate,
        "optimizer": model.optimizer,
        "seed": training.seed,
    }
