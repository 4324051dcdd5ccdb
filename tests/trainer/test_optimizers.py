import pytest
import tensorflow as tf

from specs.training import LearningRateSchedule
from trainer.optimizers import OPTIMIZER_NAMES, build_optimizer, learning_rate_schedule


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


def _values(schedule, steps):
    return [float(schedule(step)) for step in steps]


def test_no_schedule_is_the_base_rate():
    assert learning_rate_schedule(0.1, None, steps_per_epoch=2, epochs=2) == 0.1


def test_cosine_schedule_known_values():
    # 2 steps x 2 epochs: 0.1 · (f + (1 - f) · (1 + cos(π · step / 4)) / 2).
    schedule = learning_rate_schedule(
        0.1, LearningRateSchedule(type="cosine"), steps_per_epoch=2, epochs=2
    )
    assert _values(schedule, [0, 2, 3]) == pytest.approx([0.1, 0.05, 0.0146446609])
    floored = learning_rate_schedule(
        0.1, LearningRateSchedule(type="cosine", min_fraction=0.2), steps_per_epoch=2, epochs=2
    )
    # f = 0.2: 0.1 · (0.2 + 0.8 · 0.5) and 0.1 · (0.2 + 0.8 · 0.1464466).
    assert _values(floored, [0, 2, 3]) == pytest.approx([0.1, 0.06, 0.0317157288])


def test_exponential_schedule_multiplies_once_per_epoch():
    schedule = learning_rate_schedule(
        0.1, LearningRateSchedule(type="exponential", decay_rate=0.5), steps_per_epoch=2, epochs=3
    )
    assert _values(schedule, [0, 1, 2, 3, 5]) == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025])


def test_linear_warmup_cosine_known_values():
    # 2 steps x 3 epochs, 1 warmup epoch: 0 → 0.1 over steps 0..2, then cosine over 4 steps.
    schedule = learning_rate_schedule(
        0.1,
        LearningRateSchedule(type="linear_warmup_cosine", warmup_epochs=1),
        steps_per_epoch=2,
        epochs=3,
    )
    assert _values(schedule, [0, 1, 2, 4, 5]) == pytest.approx(
        [0.0, 0.05, 0.1, 0.05, 0.0146446609], abs=1e-7
    )


def test_warmup_must_leave_epochs_to_decay():
    with pytest.raises(ValueError, match="warmup_epochs"):
        learning_rate_schedule(
            0.1,
            LearningRateSchedule(type="linear_warmup_cosine", warmup_epochs=2),
            steps_per_epoch=2,
            epochs=2,
        )


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_optimizer_with_a_schedule_trains_one_step(name):
    schedule = learning_rate_schedule(
        0.1, LearningRateSchedule(type="cosine"), steps_per_epoch=5, epochs=2
    )
    optimizer = build_optimizer(name, schedule)
    weight = tf.Variable([1.0])

    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(weight**2)
        optimizer.apply_gradients([(tape.gradient(loss, weight), weight)])

    step()
    assert int(optimizer.iterations) == 1
    assert float(weight[0]) < 1.0
    assert float(optimizer.learning_rate) == pytest.approx(0.1)  # the rate step 0 used
    step()
    assert float(optimizer.learning_rate) == pytest.approx(float(schedule(1)))
