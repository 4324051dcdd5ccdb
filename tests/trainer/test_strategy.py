import logging
import os

import pytest
import tensorflow as tf

from trainer.strategy import choose_strategy, global_batch_size, make_strategy, visible_gpus


def test_two_gpus_choose_mirrored_over_all_of_them():
    gpus = ["/device:GPU:0", "/device:GPU:1"]
    choice = choose_strategy(gpus)
    assert choice.kind == "mirrored" and choice.devices == tuple(gpus)


def test_one_gpu_uses_the_default_strategy_on_it():
    choice = choose_strategy(["/device:GPU:0"])
    assert choice.kind == "default" and choice.devices == ("/device:GPU:0",)


def test_no_gpu_uses_the_cpu():
    assert choose_strategy([]) == choose_strategy(())
    assert choose_strategy([]).devices == ("/device:CPU:0",)


def test_cpu_strategy_is_logged(caplog):
    with caplog.at_level(logging.INFO, logger="trainer.strategy"):
        strategy = make_strategy([])
    assert strategy is tf.distribute.get_strategy()
    assert "1 replica(s) on /device:CPU:0" in caplog.text
    assert "no GPU visible" in caplog.text
    assert global_batch_size(64, strategy) == 64


def test_several_devices_build_a_mirrored_strategy(two_cpus, caplog):
    # Two logical CPUs stand in for two GPUs.
    with caplog.at_level(logging.INFO, logger="trainer.strategy"):
        strategy = make_strategy(["/device:CPU:0", "/device:CPU:1"])
    assert isinstance(strategy, tf.distribute.MirroredStrategy)
    assert strategy.num_replicas_in_sync == 2
    assert "MirroredStrategy with 2 replica(s)" in caplog.text
    assert global_batch_size(64, strategy) == 128


def test_requested_gpus_that_are_not_visible_fail_the_run_at_once():
    # The product's recorded bug: GPUs allocated, training on the CPU. Now it is an error.
    from trainer.strategy import GpusNotVisibleError

    with pytest.raises(GpusNotVisibleError, match=r"2 GPU\(s\) requested but 1 visible"):
        make_strategy(["/device:GPU:0"], requested_gpus=2)
    with pytest.raises(
        GpusNotVisibleError, match="requested but 0 visible to TensorFlow \\(none\\)"
    ):
        make_strategy([], requested_gpus=1)
    with pytest.raises(ValueError, match="gpu_count must be 0 or more"):
        make_strategy([], requested_gpus=-1)
    assert make_strategy([], requested_gpus=0) is tf.distribute.get_strategy()


def test_a_training_that_requested_a_gpu_on_a_cpu_machine_fails_before_training(
    tiny_transformed, tmp_path
):
    from specs import ModelConfig, TrainingParams
    from tests.trainer.tiny_data import E2E_CONFIG, fn_args_for
    from trainer.run import run_training
    from trainer.strategy import GpusNotVisibleError

    if visible_gpus():
        pytest.skip("a GPU is visible here")
    fn_args = fn_args_for(tiny_transformed, str(tmp_path), **E2E_CONFIG, gpu_count=1)
    with pytest.raises(GpusNotVisibleError):
        run_training(fn_args, features=tiny_transformed.features,
                     model=ModelConfig.preset("minimal"), training=TrainingParams())  # fmt: skip
    assert not os.path.exists(fn_args.serving_model_dir)
