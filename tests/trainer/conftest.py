"""Shared fixtures of the trainer tests: the tiny data transformed once, one training run."""

from __future__ import annotations

import types

import pytest

from tests.trainer.tiny_data import (
    E2E_CONFIG,
    TARGET,
    feature_config,
    fn_args_for,
    make_rows,
    transform,
)


@pytest.fixture(scope="session")
def tiny_transformed(tmp_path_factory):
    """Transformed tiny data on disk (built once per session)."""
    train_rows, eval_rows = make_rows()
    root = str(tmp_path_factory.mktemp("tiny"))
    paths = transform(train_rows, eval_rows, root)
    return types.SimpleNamespace(
        root=root, train_rows=train_rows, eval_rows=eval_rows, features=feature_config(), **paths
    )


@pytest.fixture(scope="session")
def trained_run(tiny_transformed, tmp_path_factory):
    """One `run_training` on the tiny data: (fn_args, returned metrics)."""
    from specs import ModelConfig, TrainingParams
    from trainer.run import run_training

    fn_args = fn_args_for(tiny_transformed, str(tmp_path_factory.mktemp("run1")), **E2E_CONFIG)
    metrics = run_training(
        fn_args,
        features=tiny_transformed.features,
        model=ModelConfig.preset("minimal"),
        training=TrainingParams(),
    )
    return fn_args, metrics


def _rating_run(tiny_transformed, tmp_path_factory, model_type: str, **training):
    from specs import ModelConfig, TrainingParams
    from trainer.run import run_training

    features = feature_config(TARGET)
    fn_args = fn_args_for(tiny_transformed, str(tmp_path_factory.mktemp(model_type)), **E2E_CONFIG)
    metrics = run_training(
        fn_args,
        features=features,
        model=ModelConfig.preset("minimal", model_type=model_type),
        training=TrainingParams(**training),
    )
    return fn_args, metrics


@pytest.fixture(scope="session")
def ranking_run(tiny_transformed, tmp_path_factory):
    """One ranking `run_training` (target: log1p quantity): (fn_args, returned metrics)."""
    return _rating_run(tiny_transformed, tmp_path_factory, "ranking")


@pytest.fixture(scope="session")
def multitask_run(tiny_transformed, tmp_path_factory):
    """One multitask `run_training` on the tiny data: (fn_args, returned metrics)."""
    return _rating_run(tiny_transformed, tmp_path_factory, "multitask")
