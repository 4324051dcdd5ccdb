"""Keras callbacks built from the training spec, and the validation window they monitor."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import tensorflow as tf

if TYPE_CHECKING:
    from specs.training import EarlyStopping

SECONDS_PER_DAY = 86_400


def early_stopping_callback(config: EarlyStopping | None) -> tf.keras.callbacks.Callback | None:
    """Keras' EarlyStopping (mode "min") configured by the spec, or None when it is off.

    The monitored loss must be in the epoch logs: fit with validation data (see
    `validation_cut`), otherwise Keras only warns and never stops.
    """
    if config is None:
        return None
    return tf.keras.callbacks.EarlyStopping(
        monitor=config.monitor,
        min_delta=config.min_delta,
        patience=config.patience,
        mode="min",
        restore_best_weights=config.restore_best_weights,
    )


def validation_cut(timestamps: np.ndarray, days: int) -> np.ndarray:
    """Which train rows form the validation window: a boolean mask, True for validation.

    The window is the last `days` days before the latest timestamp (unix seconds), as a
    half-open interval: rows with timestamp > latest - days · 86400 validate, the others train.
    For day-granular timestamps that is exactly the last `days` distinct days.

    Raises ValueError for days < 1, no rows, non-finite timestamps, or a window that would leave
    no rows to train on.
    """
    if days < 1:
        raise ValueError(f"validation days must be at least 1, got {days}")
    seconds = np.asarray(timestamps).reshape(-1)
    if seconds.size == 0:
        raise ValueError("no timestamps: nothing to cut a validation window from")
    if seconds.dtype.kind == "f" and not np.isfinite(seconds).all():
        raise ValueError("timestamps contain NaN or infinite values")
    latest = seconds.max()
    validate = seconds > latest - days * SECONDS_PER_DAY
    if validate.all():
        span = (latest - seconds.min()) / SECONDS_PER_DAY
        raise ValueError(
            f"a validation window of the last {days} days holds all {seconds.size} train rows "
            f"(they span {span:.1f} days), leaving none to train on: lower validation_days"
        )
    return validate


def validation_rows(
    timestamps: np.ndarray | None, days: int, *, rows: int, seed: int, share: float = 0.1
) -> np.ndarray:
    """Which of `rows` train rows validate: the last `days` days (`validation_cut`) when the
    rows' timestamps are known, otherwise a seeded random `share` of them (at least one row,
    and one row left to train on)."""
    if timestamps is not None:
        return validation_cut(timestamps, days)
    if rows < 2:
        raise ValueError(f"{rows} train row(s): too few to hold some out for validation")
    mask = np.zeros(rows, bool)
    count = min(max(1, round(share * rows)), rows - 1)
    mask[np.random.default_rng(seed).choice(rows, count, replace=False)] = True
    return mask


class EpochProgress(tf.keras.callbacks.Callback):
    """POSTs epoch-complete to the app's callback URL (`trainer.progress`) after every epoch."""

    def __init__(self, reporter, epochs: int) -> None:
        super().__init__()
        self.reporter = reporter
        self.epochs = epochs

    def on_epoch_end(self, epoch, logs=None):
        self.reporter.epoch_complete(epoch + 1, self.epochs, dict(logs or {}))


class FirstBatchLoss(tf.keras.callbacks.Callback):
    """Keeps the loss of the very first training batch: the untrained model's loss, the
    reference against which `trainer.honesty.health` judges whether training diverged (an epoch
    mean can explode within the first epoch, so epoch 1 is no reference)."""

    def __init__(self):
        super().__init__()
        self.loss: float | None = None

    def on_train_batch_end(self, batch, logs=None):
        if self.loss is None and logs and "loss" in logs:
            self.loss = float(logs["loss"])
