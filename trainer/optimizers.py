"""Keras optimizers by the names a ModelConfig uses."""

from __future__ import annotations

import tensorflow as tf

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


def build_optimizer(name: str, learning_rate: float) -> tf.keras.optimizers.Optimizer:
    """A fresh optimizer `name` (one of OPTIMIZER_NAMES) with the given learning rate.

    Raises ValueError naming the unknown optimizer and the known ones.
    """
    try:
        cls = _OPTIMIZERS[name]
    except KeyError:
        raise ValueError(
            f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZER_NAMES)}"
        ) from None
    if learning_rate <= 0:
        raise ValueError(f"learning_rate must be positive, got {learning_rate}")
    return cls(learning_rate=learning_rate)
