import numpy as np
import pytest
import tensorflow as tf

from specs.training import EarlyStopping
from trainer.callbacks import early_stopping_callback, validation_cut

DAY = 86_400


class _Snapshots(tf.keras.callbacks.Callback):
    """The model's weights at the end of every epoch."""

    def __init__(self):
        super().__init__()
        self.weights: list[list[np.ndarray]] = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append([w.copy() for w in self.model.get_weights()])


def _fit(config: EarlyStopping, epochs: int = 10):
    """One weight w (from 0), trained by SGD (lr 0.1, one step an epoch) towards y = 1 and
    validated against y = 0.5: w after epoch e is 1 - 0.8^(e+1), i.e. 0.2, 0.36, 0.488, 0.5904,
    0.67232, so the validation loss (w - 0.5)² is best after epoch 2 and worse from epoch 3."""
    model = tf.keras.Sequential(
        [tf.keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros", input_shape=(1,))]
    )
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    x = np.ones((1, 1), np.float32)
    snapshots = _Snapshots()
    history = model.fit(
        x,
        np.ones((1, 1), np.float32),
        validation_data=(x, np.full((1, 1), 0.5, np.float32)),
        epochs=epochs,
        batch_size=1,
        verbose=0,
        callbacks=[snapshots, early_stopping_callback(config)],
    )
    return model, snapshots, history


def test_stops_after_patience_epochs_and_restores_the_best_epoch():
    model, snapshots, history = _fit(EarlyStopping(patience=2))
    val = history.history["val_loss"]
    assert int(np.argmin(val)) == 2
    # Epochs 3 and 4 do not improve on epoch 2: with patience 2 training stops after epoch 4.
    assert len(val) == 5
    np.testing.assert_allclose(snapshots.weights[2][0], [[0.488]], rtol=1e-5)
    for restored, best in zip(model.get_weights(), snapshots.weights[2], strict=True):
        np.testing.assert_array_equal(restored, best)


def test_without_restore_the_last_epochs_weights_stay():
    model, snapshots, history = _fit(EarlyStopping(patience=1, restore_best_weights=False))
    assert len(history.history["val_loss"]) == 4  # best at 2, epoch 3 worse: stop
    np.testing.assert_allclose(model.get_weights()[0], [[0.5904]], rtol=1e-5)
    np.testing.assert_array_equal(model.get_weights()[0], snapshots.weights[-1][0])


def test_callback_follows_the_spec():
    assert early_stopping_callback(None) is None
    callback = early_stopping_callback(
        EarlyStopping(
            monitor="val_total_loss", patience=3, min_delta=0.01, restore_best_weights=False
        )
    )
    assert isinstance(callback, tf.keras.callbacks.EarlyStopping)
    assert (callback.monitor, callback.patience, callback.restore_best_weights) == (
        "val_total_loss",
        3,
        False,
    )
    assert callback.monitor_op is np.less  # mode "min"
    assert abs(callback.min_delta) == pytest.approx(0.01)


def test_validation_cut_holds_out_the_last_days():
    ts = np.array([3 * DAY + 100, 0, DAY, 2 * DAY, 3 * DAY])  # any order; latest 3d + 100s
    assert validation_cut(ts, 1).tolist() == [True, False, False, False, True]
    assert validation_cut(ts, 2).tolist() == [True, False, False, True, True]
    assert validation_cut(ts, 3).tolist() == [True, False, True, True, True]


def test_validation_cut_is_half_open_at_the_window_start():
    # Day-granular timestamps: a window of N days holds exactly the last N distinct days.
    ts = np.array([0.0, DAY, 2 * DAY, 2 * DAY])
    assert validation_cut(ts, 1).tolist() == [False, False, True, True]
    assert validation_cut(ts, 2).tolist() == [False, True, True, True]


def test_validation_cut_refuses_to_leave_nothing_to_train_on():
    with pytest.raises(ValueError, match="validation window of the last 3 days.*none to train"):
        validation_cut(np.array([0, DAY, 2 * DAY]), 3)
    with pytest.raises(ValueError, match="no timestamps"):
        validation_cut(np.array([], dtype=np.int64), 1)
    with pytest.raises(ValueError, match="at least 1"):
        validation_cut(np.array([0, DAY]), 0)
    with pytest.raises(ValueError, match="NaN"):
        validation_cut(np.array([0.0, np.nan]), 1)
