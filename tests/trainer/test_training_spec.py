"""The early-stopping and learning-rate-schedule parts of TrainingParams."""

import pytest

from specs.base import SpecError, load_spec
from specs.model import ModelConfig
from specs.training import (
    EarlyStopping,
    LearningRateSchedule,
    TrainingParams,
    resolve_hyperparameters,
)


def _problems(data: dict) -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(TrainingParams, data)
    return str(caught.value)


def test_defaults_are_off():
    training = TrainingParams()
    assert training.early_stopping is None and training.lr_schedule is None
    assert EarlyStopping() == EarlyStopping(
        monitor="val_loss",
        patience=2,
        min_delta=0.0,
        restore_best_weights=True,
    )
    assert training.validation_days == 14


def test_invalid_early_stopping_fields_are_named():
    assert "early_stopping.patience" in _problems({"early_stopping": {"patience": 0}})
    assert "early_stopping.monitor" in _problems({"early_stopping": {"monitor": "loss"}})
    assert "early_stopping.min_delta" in _problems({"early_stopping": {"min_delta": -0.1}})
    assert "validation_days" in _problems({"validation_days": 366})
    assert "early_stopping.patince" in _problems({"early_stopping": {"patince": 3}})


def test_invalid_schedule_fields_are_named():
    assert "lr_schedule.type" in _problems({"lr_schedule": {"type": "step"}})
    assert "lr_schedule.decay_rate" in _problems(
        {"lr_schedule": {"type": "exponential", "decay_rate": 1.0}}
    )
    assert "lr_schedule.min_fraction" in _problems(
        {"lr_schedule": {"type": "cosine", "min_fraction": 1.5}}
    )


def test_warmup_epochs_only_for_the_warmup_type_and_shorter_than_training():
    assert "warmup_epochs applies only" in _problems(
        {"lr_schedule": {"type": "cosine", "warmup_epochs": 1}}
    )
    assert "needs warmup_epochs" in _problems({"lr_schedule": {"type": "linear_warmup_cosine"}})
    assert "lr_schedule.warmup_epochs (5) must be less than epochs (5)" in _problems(
        {"epochs": 5, "lr_schedule": {"type": "linear_warmup_cosine", "warmup_epochs": 5}}
    )
    ok = {"epochs": 5, "lr_schedule": {"type": "linear_warmup_cosine", "warmup_epochs": 4}}
    assert load_spec(TrainingParams, ok).lr_schedule.warmup_epochs == 4


def test_resolve_hyperparameters_carries_them_as_plain_dicts():
    model = ModelConfig.preset("minimal")
    values = resolve_hyperparameters(model, TrainingParams())
    assert values["early_stopping"] is None and values["lr_schedule"] is None
    assert {"epochs", "batch_size", "learning_rate", "optimizer", "seed"} <= set(values)
    training = TrainingParams(
        early_stopping=EarlyStopping(patience=3),
        lr_schedule=LearningRateSchedule(type="exponential", decay_rate=0.9),
    )
    values = resolve_hyperparameters(model, training)
    assert values["early_stopping"] == {
        "monitor": "val_loss",
        "patience": 3,
        "min_delta": 0.0,
        "restore_best_weights": True,
    }
    assert values["validation_days"] == 14
    assert values["lr_schedule"] == {
        "type": "exponential",
        "warmup_epochs": 0,
        "decay_rate": 0.9,
        "min_fraction": 0.0,
    }
