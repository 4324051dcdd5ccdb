import logging

import tensorflow as tf

from trainer.strategy import choose_strategy, global_batch_size, make_strategy


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
