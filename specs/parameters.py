"""Run parameters, declared once: their types and bounds.

`TrainingParams`, `SplitConfig` and `ModelConfig` declare their fields with these types, the
pipeline templates' parameter schemas reuse them, and the components that check a value at run
time (`components.splitting`, `trainer.run.hyperparameters`) read the same bounds, so a value one
accepts the others accept too.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError

EPOCHS = (1, 100)
BATCH_SIZE = (8, 65536)
LEARNING_RATE_MAX = 10.0
SAMPLE_PERCENT = (1, 100)
HOLDOUT_DAYS = (1, 3650)
EVAL_PERCENT = (1, 50)
SEED = (0, 2**31 - 1)

Epochs = Annotated[int, Field(ge=EPOCHS[0], le=EPOCHS[1])]
BatchSize = Annotated[int, Field(ge=BATCH_SIZE[0], le=BATCH_SIZE[1])]
LearningRate = Annotated[float, Field(gt=0, le=LEARNING_RATE_MAX)]
SamplePercent = Annotated[int, Field(ge=SAMPLE_PERCENT[0], le=SAMPLE_PERCENT[1])]
HoldoutDays = Annotated[int, Field(ge=HOLDOUT_DAYS[0], le=HOLDOUT_DAYS[1])]
EvalPercent = Annotated[int, Field(ge=EVAL_PERCENT[0], le=EVAL_PERCENT[1])]
Seed = Annotated[int, Field(ge=SEED[0], le=SEED[1])]
SplitStrategy = Literal["random", "time_holdout", "strict_temporal"]

TRAINER_PARAMETERS: dict[str, object] = {
    "epochs": Epochs,
    "batch_size": BatchSize,
    "learning_rate": LearningRate,
    "seed": Seed,
}
"""The run parameters a pipeline passes to the trainer, by name."""

FROM_TRAINER_MODULE = 0
"""A pipeline's value for epochs, batch size or learning rate that defers to the trainer module
(its TrainingParams, then its ModelConfig): a compiled template's default, so that submitting a
run without the value never overrides the config the module was generated from."""


def check_trainer_parameter(name: str, value):
    """`value` of trainer parameter `name`, validated against its declared bounds.

    Raises ValueError saying what is wrong (the caller names where the value came from)."""
    try:
        return TypeAdapter(TRAINER_PARAMETERS[name]).validate_python(value)
    except ValidationError as exc:
        raise ValueError(f"{exc.errors()[0]['msg']} (got {value!r})") from None


TRACKING_SCHEMES = ("https://", "http://", "sqlite:///", "file://")
"""The MLflow tracking URIs a pipeline accepts: an MLflow server, or a local store."""


def check_tracking_uri(value: str) -> str:
    """An MLflow tracking URI a run may log to ("" keeps the trainer's default)."""
    if value and not value.startswith(TRACKING_SCHEMES):
        raise ValueError(f"must start with one of {', '.join(TRACKING_SCHEMES)}, or be empty")
    return value


def check_callback_url(value: str) -> str:
    """The app's progress webhook root for a run ("" : no callbacks)."""
    if value and not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL, or empty")
    return value
