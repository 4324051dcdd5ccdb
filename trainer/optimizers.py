"""Keras optimizers by the names a ModelConfig uses, and learning-rate schedules by spec."""

from __future__ import annotations

from typing import TYPE_CHECKING

import tensorflow as tf

if TYPE_CHECKING:
    from specs.training import LearningRateSchedule

# Legacy (Keras 2) optimizer classes: TFRS models are Keras 2 models (TF_USE_LEGACY_KERAS=1),
# so `tf.keras` resolves to tf_keras here.
_OPTIMIZERS = {
    "adagrad": tf.keras.optimizers.Adagrad,
    "adam": tf.keras.optimizers.Adam,
    "sgd": tf.keras.optimizers.SGD,
    "rmsprop": tf.keras.optimizers.RMSprop,
    "adamw": tf.keras.optimizers.AdamW,
    "ftrl": tf.keras.optimizers.Ftrl,
}

OPTIMIZER_NAMES: tuple[str, ...] = tuple(_OPTIMIZERS)

Schedule = tf.keras.optimizers.schedules.LearningRateSchedule


def build_optimizer(name: str, learning_rate: float | Schedule) -> tf.keras.optimizers.Optimizer:
    """A fresh optimizer `name` (one of OPTIMIZER_NAMES) with the given learning rate, a positive
    number or a schedule (see `learning_rate_schedule`).

    Raises ValueError naming the unknown optimizer and the known ones.
    """
    try:
        cls = _OPTIMIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZER_NAMES)}"
        ) from None
    if not isinstance(learning_rate, Schedule) and learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    return cls(learning_rate=learning_rate)


def learning_rate_schedule(
    base_lr: float,
    schedule: LearningRateSchedule | None,
    *,
    steps_per_epoch: int,
    epochs: int,
) -> float | Schedule:
    """The learning rate an optimizer trains with: `base_lr` itself when `schedule` is None,
    otherwise a Keras schedule of the optimizer's step (0 for the first batch).

    With total = steps_per_epoch · epochs and warmup = warmup_epochs · steps_per_epoch:

    * cosine: base_lr · (f + (1 - f) · (1 + cos(π · step / total)) / 2), f = min_fraction;
    * exponential: base_lr · decay_rate ** (step // steps_per_epoch);
    * linear_warmup_cosine: base_lr · step / warmup during the warmup steps, then the cosine
      above over the remaining total - warmup steps.

    Raises ValueError for a non-positive base_lr, steps_per_epoch or epochs, or a warmup that
    leaves no epoch to decay over.
    """
    if base_lr <= 0:
        raise ValueError(f"learning_rate must be positive, got {base_lr}")
    if schedule is None:
        return base_lr
    if steps_per_epoch < 1 or epochs < 1:
        raise ValueError(
            f"steps_per_epoch and epochs must be at least 1, got {steps_per_epoch} and {epochs}"
        )
    total = steps_per_epoch * epochs
    schedules = tf.keras.optimizers.schedules
    if schedule.type == "cosine":
        return schedules.CosineDecay(base_lr, decay_steps=total, alpha=schedule.min_fraction)
    if schedule.type == "exponential":
        return schedules.ExponentialDecay(
            base_lr, decay_steps=steps_per_epoch, decay_rate=schedule.decay_rate, staircase=True
        )
    if schedule.type == "linear_warmup_cosine":
        if schedule.warmup_epochs >= epochs:
            raise ValueError(
                f"warmup_epochs ({schedule.warmup_epochs}) must be less than epochs ({epochs})"
            )
        warmup = schedule.warmup_epochs * steps_per_epoch
        return schedules.CosineDecay(
            0.0,
            decay_steps=total - warmup,
            alpha=schedule.min_fraction,
            warmup_target=base_lr,
            warmup_steps=warmup,
        )
    raise ValueError(f"unknown learning-rate schedule type {schedule.type!r}")
