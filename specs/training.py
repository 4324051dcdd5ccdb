"""TrainingParams: one run's epochs, sizes, sampling, split strategy, seed, early stopping and
learning-rate schedule."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from specs.base import Spec
from specs.model import ModelConfig
from specs.parameters import (
    BatchSize,
    Epochs,
    EvalPercent,
    HoldoutDays,
    LearningRate,
    SamplePercent,
    Seed,
    SplitStrategy,
)


class SplitConfig(Spec):
    """How rows are split into train and eval.

    random: a seeded hash of the row puts `eval_percent`% in eval.
    time_holdout: eval is the last `holdout_days` days (from the start of the latest day).
    strict_temporal: the earliest (100 - eval_percent)% of rows train, the rest evaluate; every
    train row is older than every eval row.
    """

    strategy: SplitStrategy = "time_holdout"
    holdout_days: HoldoutDays = 30
    eval_percent: EvalPercent = 20


class EarlyStopping(Spec):
    """Stop training when the monitored validation loss stops improving.

    It watches the validation rows (`TrainingParams.validation_days`), held out from training;
    the eval split is never used for it (it would leak into model selection).
    monitor: "val_loss" is the loss Keras reports on the validation rows (the model's weighted
    task losses); "val_total_loss" adds the regularization losses; "val_rmse" and "val_mae"
    (ranking and multitask models) are the errors of the predicted target.
    An epoch improves on the best so far when its loss is lower by more than `min_delta`;
    training stops after `patience` epochs without improvement, and with `restore_best_weights`
    the model ends with the weights of its best epoch.
    """

    monitor: Literal["val_loss", "val_total_loss", "val_rmse", "val_mae"] = "val_loss"
    patience: int = Field(default=2, ge=1, le=100)
    min_delta: float = Field(default=0.0, ge=0)
    restore_best_weights: bool = True


LearningRateScheduleType = Literal["cosine", "exponential", "linear_warmup_cosine"]


class LearningRateSchedule(Spec):
    """How the learning rate changes over a run, relative to the base learning rate.

    cosine: from the base rate down to `min_fraction` of it over all the training steps.
    exponential: the base rate multiplied by `decay_rate` at the start of every epoch after the
    first (constant within an epoch).
    linear_warmup_cosine: rises linearly from 0 to the base rate over `warmup_epochs` epochs,
    then decays like cosine over the remaining epochs.
    """

    type: LearningRateScheduleType
    warmup_epochs: int = Field(default=0, ge=0, le=100)
    decay_rate: float = Field(default=0.5, gt=0, lt=1)
    min_fraction: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _warmup_only_with_warmup(self):
        if self.type == "linear_warmup_cosine" and self.warmup_epochs < 1:
            raise ValueError("linear_warmup_cosine needs warmup_epochs of at least 1")
        if self.type != "linear_warmup_cosine" and self.warmup_epochs != 0:
            raise ValueError(
                f"warmup_epochs applies only to type linear_warmup_cosine, not {self.type!r}"
            )
        return self


class TrainingHistory(Spec):
    """What a run records of its training beyond the loss (`trainer.training_history`), into
    `training_metrics.json`, MLflow and TensorBoard event files in the run folder.

    Every epoch: the loss on a fixed sample of `eval_rows` eval rows, recall@5/10/50/100 of the
    towers on a fixed sample of `eval_customers` test customers, and each tower's weight norms
    and statistics; every `histogram_every_epochs` epochs (0: never) weight and gradient
    histograms. Once: parameter counts per tower, vocabulary size and OOV rate per feature.
    The samples are fixed by the run's seed, so the figures of successive epochs compare.
    """

    enabled: bool = True
    histogram_every_epochs: int = Field(default=1, ge=0, le=100)
    eval_customers: int = Field(default=1000, ge=1, le=100_000)
    eval_rows: int = Field(default=4096, ge=1, le=1_000_000)


class TrainingParams(Spec):
    """Run-time parameters. batch_size and learning_rate fall back to the ModelConfig's.

    early_stopping and lr_schedule are off when None. `validation_days`: the last days of the
    train split held out as validation rows when something needs them (early stopping, the
    per-epoch RMSE/MAE of ranking and multitask models); when the rows carry no purchase time
    (no history feature) a seeded random 10% of them validate instead.
    """

    epochs: Epochs = 5
    batch_size: BatchSize | None = None
    learning_rate: LearningRate | None = None
    sample_percent: SamplePercent = 100
    split: SplitConfig = SplitConfig()
    seed: Seed = 42
    early_stopping: EarlyStopping | None = None
    lr_schedule: LearningRateSchedule | None = None
    validation_days: int = Field(default=14, ge=1, le=365)
    training_history: TrainingHistory = TrainingHistory()

    @model_validator(mode="after")
    def _warmup_shorter_than_training(self):
        schedule = self.lr_schedule
        if schedule is not None and schedule.warmup_epochs >= self.epochs:
            raise ValueError(
                f"lr_schedule.warmup_epochs ({schedule.warmup_epochs}) must be less than "
                f"epochs ({self.epochs}), leaving epochs to decay over"
            )
        return self


def resolve_hyperparameters(model: ModelConfig, training: TrainingParams) -> dict:
    """The values a run trains with: training params win, the model config fills the gaps."""
    return {
        "epochs": training.epochs,
        "batch_size": training.batch_size or model.batch_size,
        "learning_rate": training.learning_rate or model.learning_rate,
        "optimizer": model.optimizer,
        "seed": training.seed,
        "early_stopping": _dump(training.early_stopping),
        "lr_schedule": _dump(training.lr_schedule),
        "validation_days": training.validation_days,
    }


def _dump(spec: Spec | None) -> dict | None:
    return None if spec is None else spec.model_dump(mode="json")
