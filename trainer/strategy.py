"""Distribution strategy: use every visible GPU, and say so.

The product once requested GPUs for training and then trained on the CPU; the choice here is a
pure function of the visible devices (tested with injected device lists) and is always logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import tensorflow as tf

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StrategyChoice:
    """Which strategy to build: "mirrored" over `devices`, or "default" on `devices[0]`."""

    kind: str
    devices: tuple[str, ...]


def choose_strategy(gpus: Sequence[str]) -> StrategyChoice:
    """MirroredStrategy over all GPUs when more than one is visible, else the default strategy
    on the single GPU or on the CPU."""
    if len(gpus) > 1:
        return StrategyChoice("mirrored", tuple(gpus))
    if len(gpus) == 1:
        return StrategyChoice("default", (gpus[0],))
    return StrategyChoice("default", ("/device:CPU:0",))


def visible_gpus() -> list[str]:
    """Names of the logical GPU devices TensorFlow sees."""
    return [device.name for device in tf.config.list_logical_devices("GPU")]


class GpusNotVisibleError(RuntimeError):
    """GPUs were requested for the training, but TensorFlow sees fewer."""


def make_strategy(
    gpus: Sequence[str] | None = None, *, requested_gpus: int = 0
) -> tf.distribute.Strategy:
    """Build the strategy for `gpus` (default: the visible GPUs) and log the devices it uses.

    `requested_gpus` is what the run was given (the worker pool's accelerator count): fewer
    visible GPUs than that fails the run at once, rather than training on the CPU while paying
    for idle GPUs (the product's recorded bug)."""
    gpus = visible_gpus() if gpus is None else list(gpus)
    if requested_gpus < 0:
        raise ValueError(f"gpu_count must be 0 or more, got {requested_gpus}")
    if len(gpus) < requested_gpus:
        raise GpusNotVisibleError(
            f"{requested_gpus} GPU(s) requested but {len(gpus)} visible to TensorFlow "
            f"({', '.join(gpus) or 'none'}): check the CUDA libraries of the trainer image and "
            "the worker pool's accelerators"
        )
    choice = choose_strategy(gpus)
    if choice.kind == "mirrored":
        strategy: tf.distribute.Strategy = tf.distribute.MirroredStrategy(devices=choice.devices)
    else:
        strategy = tf.distribute.get_strategy()
    log.info(
        "training strategy %s with %d replica(s) on %s",
        type(strategy).__name__,
        strategy.num_replicas_in_sync,
        ", ".join(choice.devices),
    )
    if not gpus:
        log.warning("no GPU visible: training on the CPU")
    return strategy


def global_batch_size(per_replica: int, strategy: tf.distribute.Strategy) -> int:
    """The batch the input pipeline yields: Keras splits it evenly across the replicas."""
    return per_replica * strategy.num_replicas_in_sync
