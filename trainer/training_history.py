"""The training history: what a run records of its training beyond the loss.

(Not to be confused with `trainer.history`, the customers' purchase history.)

Every epoch (`TrainingHistory`, a Keras callback): the loss on a fixed sample of eval rows
(`eval_loss`, the model's loss as Keras computes `val_loss`), recall@5/10/50/100 of the towers
on a fixed sample of test customers (`recall_at_<k>`), and per tower the L1 and L2 norms, mean,
standard deviation, minimum and maximum of its trainable weights (`weights_<tower>_<stat>`).
Every `histogram_every_epochs` epochs: histograms of each tower's weights and of its gradients
on a fixed train batch (and the gradients' L2 norm, `gradients_<tower>_l2`). Once: parameter
counts per tower and vocabulary size and OOV rate per string feature (`vocabularies`).

Where it goes: MLflow metrics of the run (step = epoch), the `training_history` entry of
`training_metrics.json`, and TensorBoard event files under `<model_run_dir>/tensorboard`
(scalars and histograms; the folder is also logged to MLflow as `tensorboard/`).

Cheap by construction: the samples are small and fixed (drawn with the run's seed, from
NumPy's own generator, so the training's random streams are untouched and a run trains the same
with or without its history), recall scores the sample against every product once, and
gradients are taken on one batch without dropout.

Recall here is the towers' alone, each sampled customer queried with their latest train row
(history-aware towers with the history as of that row): a cheap per-epoch signal. The reported
test recall is the exported model's, scored after training (`trainer.evaluation`).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf

from specs.sizes import Counts
from trainer.candidates import latest_row_per_index
from trainer.metrics import KS, EvalSplit, recall_at_k, top_k

log = logging.getLogger(__name__)

TENSORBOARD_DIR = "tensorboard"
HISTOGRAM_BINS = 30
WEIGHT_STATS = ("l1", "l2", "mean", "std", "min", "max")


def weight_stats(values: np.ndarray) -> dict[str, float]:
    """L1 and L2 norms, mean, standard deviation, minimum and maximum of a flat array."""
    values = np.asarray(values, np.float64).reshape(-1)
    if not values.size:
        return dict.fromkeys(WEIGHT_STATS, 0.0)
    return {
        "l1": float(np.abs(values).sum()),
        "l2": float(np.sqrt(np.square(values).sum())),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def histogram(values: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict[str, list[float]]:
    """`{"edges": bins + 1 edges, "counts": bins counts}` of a flat array."""
    counts, edges = np.histogram(np.asarray(values, np.float64).reshape(-1), bins=bins)
    return {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}


def _flat(tensors: Sequence[Any]) -> np.ndarray:
    parts = [np.asarray(t).reshape(-1) for t in tensors if t is not None]
    return np.concatenate(parts) if parts else np.zeros(0)


def parameter_counts(towers: Mapping[str, tf.keras.Model]) -> dict[str, dict[str, int]]:
    """Total, trainable and non-trainable parameters of each built tower (as `specs.sizes`
    counts them from the configs)."""
    out = {}
    for name, tower in towers.items():
        trainable = sum(int(np.prod(w.shape)) for w in tower.trainable_weights)
        non_trainable = sum(int(np.prod(w.shape)) for w in tower.non_trainable_weights)
        out[name] = Counts(trainable, non_trainable).as_dict()
    return out


def _oov_rate(values: np.ndarray, size: int) -> float | None:
    """Share of the (present) values at or above `size`: out of vocabulary. Multi-value
    features pad with -1, which is no value at all."""
    values = np.asarray(values).reshape(-1)
    values = values[values >= 0]
    return float((values >= size).mean()) if values.size else None


def vocabularies(
    vocab_sizes: Mapping[str, int],
    train: Mapping[str, np.ndarray],
    eval_: Mapping[str, np.ndarray],
) -> dict[str, dict[str, Any]]:
    """Per string feature: its vocabulary size (without OOV buckets) and the share of its eval
    values (`oov_rate`) and train values (`oov_rate_train`: a capped vocabulary leaves some
    out) that fall outside it. A rate is None where the split has no value of the feature."""
    return {
        column: {
            "vocab_size": int(size),
            "oov_rate": _oov_rate(eval_[column], size) if column in eval_ else None,
            "oov_rate_train": _oov_rate(train[column], size) if column in train else None,
        }
        for column, size in sorted(vocab_sizes.items())
    }


@dataclass(frozen=True)
class EvalProbe:
    """The fixed eval samples scored every epoch (`eval_probe`)."""

    loss_rows: dict[str, np.ndarray] | None
    """Transformed eval rows the loss is computed on (None: no eval row qualifies)."""
    query_rows: dict[str, np.ndarray] | None
    """One query-tower input row per sampled test customer (None: no test customer)."""
    test_items: tuple[np.ndarray, ...]
    """Each sampled customer's test items (product indices), as the protocol defines them."""
    candidates: dict[str, np.ndarray]
    """Candidate-tower inputs of every product, in vocabulary order."""


def eval_probe(
    train: Mapping[str, np.ndarray],
    eval_: Mapping[str, np.ndarray],
    *,
    split: EvalSplit,
    candidates: Mapping[str, np.ndarray],
    query_id: str,
    candidate_id: str,
    names: Sequence[str],
    history_inputs: Sequence[str] = (),
    recency: np.ndarray | None = None,
    n_customers: int,
    n_ids: int,
    customers: int,
    rows: int,
    seed: int,
) -> EvalProbe:
    """Draw the fixed samples: up to `rows` eval rows for the loss and up to `customers` of the
    split's test customers for recall.

    `names` are the model's inputs (both towers', the target); a history-aware query tower's
    `history_inputs` are not in the eval rows, so every sampled row and customer takes them
    from the customer's latest train row (by `recency`; none, for a customer unknown to the
    vocabulary). Eval rows whose product id is beyond `n_ids` (the ids the model's sampling
    probabilities cover) are not sampled.
    """
    rng = np.random.default_rng(seed)
    latest = latest_row_per_index(train[query_id], n_customers, recency)

    def with_history(columns: dict[str, np.ndarray], customer: np.ndarray) -> None:
        row = np.where((customer >= 0) & (customer < n_customers), customer, 0)
        source = np.where((customer >= 0) & (customer < n_customers), latest[row], -1)
        known = source >= 0
        for name in history_inputs:
            values = np.asarray(train[name])
            empty = -1 if values.dtype.kind in "iu" else 0
            out = np.full((len(customer), *values.shape[1:]), empty, values.dtype)
            out[known] = values[source[known]]
            columns[name] = out

    loss_rows = None
    eligible = np.flatnonzero(np.asarray(eval_[candidate_id]).reshape(-1) < n_ids)
    if eligible.size:
        chosen = np.sort(rng.choice(eligible, min(rows, eligible.size), replace=False))
        loss_rows = {n: np.asarray(eval_[n])[chosen] for n in names if n not in history_inputs}
        with_history(loss_rows, np.asarray(eval_[query_id]).reshape(-1)[chosen])

    query_rows, test_items = None, ()
    if len(split.customers):
        picked = np.sort(rng.choice(len(split.customers), min(customers, len(split.customers)),
                                    replace=False))  # fmt: skip
        sampled = split.customers[picked]
        test_items = tuple(split.test_items[i] for i in picked)
        # Test customers are seen in train (the protocol's rule): each has a latest row.
        query_rows = {n: np.asarray(train[n])[latest[sampled]] for n in names if n in train}
    return EvalProbe(loss_rows, query_rows, test_items, dict(candidates))


def _embed(tower_fn, columns: Mapping[str, np.ndarray], batch_size: int) -> np.ndarray:
    data = tf.data.Dataset.from_tensor_slices(dict(columns)).batch(batch_size)
    return np.concatenate([tower_fn(batch).numpy() for batch in data])


class TrainingHistory(tf.keras.callbacks.Callback):
    """Records the training history (module doc) at the end of every epoch.

    `towers`: the model's parts to describe, by name (query tower, candidate tower, rating
    head); `probe`: the eval samples (None: no eval loss or recall); `gradient_batch`: the
    fixed train batch gradients are taken on; `log_dir`: where TensorBoard's event files go
    (None: none written); `tracker`: the run's `trainer.tracking.RunTracker` (or None).
    """

    def __init__(
        self,
        *,
        towers: Mapping[str, tf.keras.Model],
        probe: EvalProbe | None,
        batch_size: int,
        histogram_every: int,
        gradient_batch: Mapping[str, np.ndarray] | None = None,
        log_dir: str | None = None,
        tracker=None,
        ks: Sequence[int] = KS,
    ) -> None:
        super().__init__()
        self.towers = dict(towers)
        self.probe = probe
        self.batch_size = batch_size
        self.histogram_every = histogram_every
        self.gradient_batch = dict(gradient_batch) if gradient_batch else None
        self.log_dir = log_dir
        self.tracker = tracker
        self.ks = tuple(ks)
        self.epochs: list[int] = []
        self.eval_loss: list[float | None] = []
        self.recall: dict[str, list[float | None]] = {f"recall_at_{k}": [] for k in self.ks}
        self.weights = {t: {s: [] for s in WEIGHT_STATS} for t in self.towers}
        self.histograms: list[dict[str, Any]] = []
        self.seconds = 0.0
        self._writer = None
        self._gradients: dict[str, list] = {}

    def on_train_begin(self, logs=None):
        if self.log_dir:
            self._writer = tf.summary.create_file_writer(self.log_dir)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.close()

    def on_epoch_end(self, epoch, logs=None):
        start = time.perf_counter()
        scalars: dict[str, float] = {}
        eval_loss = self._eval_loss()
        self.eval_loss.append(eval_loss)
        if eval_loss is not None:
            scalars["eval_loss"] = eval_loss
        for key, value in self._recall().items():
            self.recall[key].append(value)
            if value is not None:
                scalars[key] = value
        values = {name: _flat(tower.trainable_weights) for name, tower in self.towers.items()}
        for name, flat in values.items():
            for stat, value in weight_stats(flat).items():
                self.weights[name][stat].append(value)
                scalars[f"weights_{name}_{stat}"] = value
        histograms = None
        if self.histogram_every and (epoch + 1) % self.histogram_every == 0:
            histograms = self._histograms(epoch, values)
            for name, entry in histograms["gradients"].items():
                scalars[f"gradients_{name}_l2"] = entry["l2"]
            self.histograms.append(histograms)
        self.epochs.append(epoch)
        if self.tracker is not None:
            self.tracker.log_metrics(scalars, step=epoch)
        self._write_events(epoch, {**dict(logs or {}), **scalars}, histograms is not None)
        self.seconds += time.perf_counter() - start

    def _eval_loss(self) -> float | None:
        rows = self.probe.loss_rows if self.probe else None
        if not rows:
            return None
        data = tf.data.Dataset.from_tensor_slices(rows).batch(self.batch_size)
        return float(self.model.evaluate(data, verbose=0, return_dict=True)["loss"])

    def _recall(self) -> dict[str, float | None]:
        probe = self.probe
        if probe is None or probe.query_rows is None:
            return dict.fromkeys(self.recall)
        query = _embed(self.model.query_embeddings, probe.query_rows, self.batch_size)
        candidates = _embed(self.model.candidate_embeddings, probe.candidates, 4 * self.batch_size)
        ranked = top_k(query @ candidates.T, max(self.ks))
        return {
            f"recall_at_{k}": float(recall_at_k(ranked, probe.test_items, k).mean())
            for k in self.ks
        }

    def _histograms(self, epoch: int, values: Mapping[str, np.ndarray]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "epoch": epoch,
            "weights": {name: histogram(flat) for name, flat in values.items()},
            "gradients": {},
        }
        if self.gradient_batch is None:
            return out
        batch = {n: tf.constant(v) for n, v in self.gradient_batch.items()}
        variables = {name: tower.trainable_variables for name, tower in self.towers.items()}
        # training=False: dropout would draw from the training's random stream.
        with tf.GradientTape() as tape:
            loss = self.model.compute_loss(batch, training=False)
        grads = tape.gradient(loss, variables)
        for name, tower_grads in grads.items():
            flat = _flat([tf.convert_to_tensor(g) for g in tower_grads if g is not None])
            out["gradients"][name] = {**histogram(flat), "l2": weight_stats(flat)["l2"]}
        self._gradients = grads  # for the event files' per-variable histograms
        return out

    def _write_events(self, epoch: int, scalars: Mapping[str, Any], histograms: bool) -> None:
        if self._writer is None:
            return
        with self._writer.as_default(step=epoch):
            for name, value in scalars.items():
                if isinstance(value, int | float | np.floating | np.integer):
                    tf.summary.scalar(name, float(value))
            if histograms:
                self._gradients, gradients = {}, self._gradients
                for name, tower in self.towers.items():
                    for weight in tower.trainable_weights:
                        tf.summary.histogram(f"weights/{name}/{weight.name}", weight)
                for name, tower_grads in gradients.items():
                    tower = self.towers[name]
                    for weight, grad in zip(tower.trainable_weights, tower_grads, strict=True):
                        if grad is not None:
                            tf.summary.histogram(
                                f"gradients/{name}/{weight.name}", tf.convert_to_tensor(grad)
                            )
        self._writer.flush()

    def as_dict(self) -> dict[str, Any]:
        """The `training_history` entry of the metrics file (per-epoch lists align with
        `epochs`)."""
        return {
            "epochs": list(self.epochs),
            "eval_loss": list(self.eval_loss),
            "recall": {k: list(v) for k, v in self.recall.items()},
            "weights": {
                t: {s: list(v) for s, v in stats.items()} for t, stats in self.weights.items()
            },  # fmt: skip
            "histogram_every_epochs": self.histogram_every,
            "histograms": list(self.histograms),
            "seconds": round(self.seconds, 3),  # drawing the samples and every epoch's work
        }


def summary_metrics(history: Mapping[str, Any]) -> dict[str, float]:
    """The once-per-run figures of a `training_history` entry, under their MLflow names:
    `parameters_<tower>_<total|trainable|non_trainable>`, `vocab_size_<feature>`,
    `oov_rate_<feature>` (eval) and `oov_rate_train_<feature>`."""
    out: dict[str, float] = {}
    for tower, counts in (history.get("parameters") or {}).items():
        for kind, value in counts.items():
            out[f"parameters_{tower}_{kind}"] = value
    for column, entry in (history.get("vocabularies") or {}).items():
        out[f"vocab_size_{column}"] = entry["vocab_size"]
        for key in ("oov_rate", "oov_rate_train"):
            if entry.get(key) is not None:
                out[f"{key}_{column}"] = entry[key]
    return out


def for_run(
    settings,
    *,
    model: tf.keras.Model,
    towers: Mapping[str, tf.keras.Model],
    train: Mapping[str, np.ndarray],
    eval_: Mapping[str, np.ndarray],
    fit_columns: Mapping[str, np.ndarray],
    candidates: Mapping[str, np.ndarray],
    names: Sequence[str],
    history_inputs: Sequence[str],
    query_id: str,
    candidate_id: str,
    vocab_sizes: Mapping[str, int],
    recency: np.ndarray | None,
    batch_size: int,
    seed: int,
    model_run_dir: str,
    tracker=None,
) -> TrainingHistory:
    """The callback of a `trainer.run` training, as `settings` (`specs.TrainingHistory`) asks:
    its eval samples (`eval_probe`), its fixed gradient batch and its event-file folder."""
    from trainer.evaluation import protocol_split

    start = time.perf_counter()
    n_customers, n_products = vocab_sizes[query_id], vocab_sizes[candidate_id]
    split = protocol_split(
        train[query_id], train[candidate_id], eval_[query_id], eval_[candidate_id],
        n_customers=n_customers, n_products=n_products,
    )  # fmt: skip
    probability = getattr(model, "sampling_probability", None)
    probe = eval_probe(
        train, eval_, split=split, candidates=candidates, query_id=query_id,
        candidate_id=candidate_id, names=names, history_inputs=history_inputs, recency=recency,
        n_customers=n_customers,
        n_ids=int(probability.shape[0]) if probability is not None else n_products,
        customers=settings.eval_customers, rows=settings.eval_rows, seed=seed,
    )  # fmt: skip
    gradient_batch = None
    rows = len(fit_columns[candidate_id])
    if settings.histogram_every_epochs and rows:
        chosen = np.sort(np.random.default_rng(seed + 1).choice(rows, min(batch_size, rows),
                                                                replace=False))  # fmt: skip
        gradient_batch = {n: np.asarray(v)[chosen] for n, v in fit_columns.items()}
    history = TrainingHistory(
        towers=towers, probe=probe, batch_size=batch_size,
        histogram_every=settings.histogram_every_epochs, gradient_batch=gradient_batch,
        log_dir=tensorboard_dir(model_run_dir), tracker=tracker,
    )  # fmt: skip
    history.seconds = time.perf_counter() - start  # drawing the samples is the history's cost too
    return history


def tensorboard_dir(model_run_dir: str) -> str:
    """Where a run's TensorBoard event files go: `<model_run_dir>/tensorboard`."""
    return os.path.join(model_run_dir, TENSORBOARD_DIR)
