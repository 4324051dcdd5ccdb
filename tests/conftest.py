"""Shared pytest setup, run before any test module imports TensorFlow."""

import os

import pytest

# TFRS needs the legacy Keras 2 API; it must be chosen before TensorFlow is imported.
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Training runs log to MLflow; in tests, always to a store in the run's own temporary folder.
os.environ.pop("MLFLOW_TRACKING_URI", None)


def _split_cpu_in_two() -> bool:
    """Two logical CPUs stand in for two GPUs, so MirroredStrategy runs in CI (no GPU there).

    Only possible before TensorFlow's runtime starts, hence here, before any test is collected.
    """
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2
        )
    except RuntimeError:
        pass
    return len(tf.config.list_logical_devices("CPU")) >= 2


TWO_CPUS = _split_cpu_in_two()


@pytest.fixture
def two_cpus() -> None:
    """Tests of multi-replica behaviour (the loss-reduction regression) need two devices."""
    if not TWO_CPUS:
        pytest.fail("TensorFlow started before the CPU could be split into two logical devices")


def pytest_terminal_summary(terminalreporter) -> None:
    """The fuzz tests' counts and times (tests/fuzzing.py), shown after the run."""
    from tests.fuzzing import REPORT

    if REPORT:
        terminalreporter.section("fuzz")
        for line in REPORT:
            terminalreporter.write_line(line)
