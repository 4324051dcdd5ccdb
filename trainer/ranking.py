"""The rating head of ranking and multitask models, and the RMSE/MAE they are judged by.

`training_metrics.json` keeps the product's layout for them: the per-epoch validation values as
lists under `loss` (`val_rmse`, `val_mae`), the final ones as scalars under `final_metrics`
(`final_val_rmse`, `final_val_mae`, `test_rmse`, `test_mae`). `rating_results` is the one
reader of that layout (the product's training service once looked for a bare `rmse` in
`final_metrics` and found nothing).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from trainer.towers import build_head_layers

log = logging.getLogger(__name__)
keras = tf.keras


def build_rating_head(layers: Sequence, input_dim: int, *, name: str = "rating_head"):
    """The ModelConfig's `rating_head` layers, then Dense(1): `[batch, input_dim]` -> `[batch, 1]`.

    The input is the query and candidate embeddings side by side (2 x output_dim)."""
    x = inputs = keras.Input(shape=(input_dim,), name=f"{name}_input")
    for layer in build_head_layers(layers, 1, name=name):
        x = layer(x)
    return keras.Model(inputs, x, name=name)


def rating_errors(predicted: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """RMSE and MAE of predictions against targets (NaN for no rows)."""
    predicted = np.asarray(predicted, np.float64).reshape(-1)
    target = np.asarray(target, np.float64).reshape(-1)
    if predicted.shape != target.shape:
        raise ValueError(f"{predicted.shape[0]} predictions for {target.shape[0]} targets")
    if not len(target):
        return {"rmse": float("nan"), "mae": float("nan")}
    error = predicted - target
    return {"rmse": float(np.sqrt(np.mean(error**2))), "mae": float(np.mean(np.abs(error)))}


def predict_ratings(model, columns: Mapping[str, np.ndarray], batch_size: int) -> np.ndarray:
    """The model's predicted target for each row of transformed columns."""
    data = tf.data.Dataset.from_tensor_slices(dict(columns)).batch(batch_size)
    parts = [
        model.predict_ratings(
            model.query_embeddings(batch), model.candidate_embeddings(batch)
        ).numpy()
        for batch in data
    ]
    return np.concatenate(parts) if parts else np.zeros([0], np.float32)


class RatingMetrics(keras.callbacks.Callback):
    """Adds `val_rmse` and `val_mae` of the validation rows to every epoch's logs.

    Listed before EarlyStopping, its values can be monitored; Keras' History records them.
    """

    def __init__(self, columns: Mapping[str, np.ndarray], target: str, batch_size: int):
        super().__init__()
        self.columns = dict(columns)
        self.target = target
        self.batch_size = batch_size

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        predicted = predict_ratings(self.model, self.columns, self.batch_size)
        errors = rating_errors(predicted, self.columns[self.target])
        logs["val_rmse"], logs["val_mae"] = errors["rmse"], errors["mae"]


def rating_results(metrics: Mapping) -> dict[str, float]:
    """The RMSE/MAE results of a `training_metrics.json`: `rmse` and `mae` are the last epoch's
    validation values (from the `loss` lists), `test_rmse` and `test_mae` the eval split's.
    Missing values are left out."""
    out: dict[str, float] = {}
    per_epoch = metrics.get("loss", {})
    for name in ("rmse", "mae"):
        values = per_epoch.get(f"val_{name}") or []
        if values:
            out[name] = float(values[-1])
    final = metrics.get("final_metrics", {})
    for name in ("test_rmse", "test_mae"):
        if name in final:
            out[name] = float(final[name])
    return out
