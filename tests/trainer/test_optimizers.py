import pytest
import tensorflow as tf

from trainer.optimizers import OPTIMIZER_NAMES, build_optimizer


def test_names_match_the_model_config_choices():
    from typing import get_args

    from specs.model import Optimizer

    assert set(OPTIMIZER_NAMES) == set(get_args(Optimizer))


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_builds_each_optimizer_with_its_learning_rate(name):
    optimizer = build_optimizer(name, 0.05)
    assert isinstance(optimizer, tf.keras.optimizers.Optimizer)
    assert float(optimizer.learning_rate) == pytest.approx(0.05)
    assert type(optimizer).__name__.lower() == name


def test_unknown_optimizer_is_named_in_the_error():
    with pytest.raises(ValueError, match="'lamb'.*adagrad"):
        build_optimizer("lamb", 0.1)


def test_fresh_instance_each_call():
    assert build_optimizer("adam", 0.1) is not build_optimizer("adam", 0.1)
