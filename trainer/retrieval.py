"""`run_retrieval`: the body of the TFX Trainer `run_fn` for two-tower retrieval models.

Generated Trainer modules bind a FeatureConfig, ModelConfig and TrainingParams and call
`run_retrieval(fn_args, features=..., model=..., training=...)`. It trains, evaluates by the
platform's protocol (`trainer.metrics`) next to the popularity baseline on the same split, writes
`<model_run_dir>/training_metrics.json` and exports the serving SavedModel.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from specs import (
    FeatureConfig,
    HistoryFeature,
    ModelConfig,
    ReorderConfig,
    TrainingParams,
    history_names,
    history_time_name,
    resolve_hyperparameters,
    transformed_names,
)
from trainer import baselines
from trainer.candidates import candidate_features, latest_row_per_index
from trainer.data import canonical_order, columns_dataset, read_columns
from trainer.evaluation import evaluate_exported
from trainer.history import (
    DAY,
    ITEM_FEATURES,
    HistoryTable,
    Purchases,
    history_table,
    product_features,
    row_histories,
)
from trainer.metrics import KS, evaluate, make_split
from trainer.model import RetrievalModel
from trainer.optimizers import build_optimizer
from trainer.reorder import ReorderScorer, fit_scorer, training_windows
from trainer.serving import RetrievalServingModule, ServingHistory, export_serving_model
from trainer.strategy import global_batch_size, make_strategy
from trainer.towers import build_tower, embedding_layer

log = logging.getLogger(__name__)

METRICS_FILE = "training_metrics.json"
DEFAULT_TOP_K = 100
# custom_config keys that override the resolved hyperparameters, and their types.
OVERRIDES: dict[str, type] = {
    "epochs": int,
    "batch_size": int,
    "learning_rate": float,
    "seed": int,
    "top_k": int,
}


def hyperparameters(
    model: ModelConfig, training: TrainingParams, custom_config: dict | None
) -> dict[str, Any]:
    """Resolved run values: custom_config > TrainingParams > ModelConfig."""
    values = resolve_hyperparameters(model, training)
    values["top_k"] = DEFAULT_TOP_K
    for key, cast in OVERRIDES.items():
        if custom_config and custom_config.get(key) is not None:
            values[key] = cast(custom_config[key])
    if values["top_k"] < 1:
        raise ValueError(f"top_k must be at least 1, got {values['top_k']}")
    values["output_dim"] = model.output_dim
    return values


def _vocab_sizes(features: FeatureConfig, tft_output: tft.TFTransformOutput) -> dict[str, int]:
    return {
        f.column: tft_output.vocabulary_size_by_name(f.column)
        for tower in (features.query_tower, features.candidate_tower)
        for f in tower.features
        if f.kind == "string"
    }


def _recency_feature(features: FeatureConfig) -> str | None:
    """A transformed feature that orders rows by time (a normalized timestamp), if any."""
    for tower in (features.candidate_tower, features.query_tower):
        for f in tower.features:
            if f.kind == "timestamp" and f.normalize:
                return f"{f.column}_z"
    return None


class _EpochLog(tf.keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        log.info(
            "epoch %d: %s", epoch + 1, ", ".join(f"{k}={v:.4f}" for k, v in sorted(logs.items()))
        )


@dataclass(frozen=True)
class _History:
    """A history-aware run's purchases: every train row's own history is built from them, and
    so are the re-order scorer's windows and the table exported with the model."""

    feature: HistoryFeature
    purchases: Purchases
    times: np.ndarray
    """The timestamp of every train row (in-vocabulary or not), aligned with the columns."""
    n_customers: int
    n_products: int
    table_items: int
    """History length of the tables: the scorer's, or the query tower's if that is longer."""

    @property
    def end(self) -> float:
        """ "Now" for the exported model: just after the last purchase of the train split."""
        return float(self.purchases.ts.max()) + 1.0 if len(self.purchases) else 0.0


def _training_history(
    train: dict[str, np.ndarray], features: FeatureConfig, model: ModelConfig, vocab_sizes
) -> tuple[_History, np.ndarray, np.ndarray]:
    """The run's purchases and every row's history (strictly before the row): items, weights."""
    feature = features.history
    qid, cid = features.query_id, features.candidate_id
    customers, products = train[qid], train[cid]
    times = train[history_time_name(feature)]
    known = (customers < vocab_sizes[qid]) & (products < vocab_sizes[cid])
    history = _History(
        feature=feature,
        purchases=Purchases(customers[known], products[known], times[known]),
        times=times,
        n_customers=vocab_sizes[qid],
        n_products=vocab_sizes[cid],
        table_items=max(feature.max_items, model.reorder.history_items if model.reorder else 0),
    )
    items = np.full((len(customers), feature.max_items), -1, np.int64)
    weights = np.zeros((len(customers), feature.max_items), np.float32)
    items[known], weights[known] = row_histories(history.purchases, max_items=feature.max_items)
    return history, items, weights


def run_retrieval(
    fn_args,
    *,
    features: FeatureConfig,
    model: ModelConfig,
    training: TrainingParams,
) -> dict[str, Any]:
    """Train, evaluate and export a two-tower retrieval model; return the metrics written.

    With a history feature the query tower pools the customer's past purchases, and a re-order
    scorer (`trainer.reorder`, when `model.reorder` is set) turns the two-tower score and the
    customer's purchase history into the served score. Recall is computed from the exported
    SavedModel's answers (`trainer.evaluation`).

    Args:
      fn_args: `tfx.components.FnArgs`: train_files / eval_files (glob patterns of gzipped
        transformed TFRecords), transform_output (TFT output dir), serving_model_dir,
        model_run_dir and custom_config (may be None; overrides epochs, batch_size,
        learning_rate, seed, top_k; `raw_eval_files` names the untransformed eval split the
        exported model is queried with).
      features, model, training: the run's specs.

    Returns:
      The dict written to `<model_run_dir>/training_metrics.json`.
    """
    hp = hyperparameters(model, training, fn_args.custom_config)
    # Python, NumPy and TF seeds: initial weights, dropout and the shuffle order repeat.
    tf.keras.utils.set_random_seed(hp["seed"])
    timing: dict[str, float] = {}

    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    vocab_sizes = _vocab_sizes(features, tft_output)
    qid, cid = features.query_id, features.candidate_id
    feature = features.history
    history_inputs = history_names(feature) if feature else []
    query_names = transformed_names(features.query_tower)
    candidate_names = transformed_names(features.candidate_tower)
    recency = _recency_feature(features)
    needed = set(query_names) | set(candidate_names) | ({recency} if recency else set())
    needed -= set(history_inputs)
    if feature:
        needed.add(history_time_name(feature))
    spec = {name: tft_output.transformed_feature_spec()[name] for name in sorted(needed)}

    strategy = make_strategy()
    batch_size = global_batch_size(hp["batch_size"], strategy)
    hp["global_batch_size"] = batch_size
    hp["replicas"] = strategy.num_replicas_in_sync
    log.info("hyperparameters: %s", hp)

    start = time.perf_counter()
    train = canonical_order(read_columns(fn_args.train_files, spec))
    history = None
    if feature:
        history, train[history_inputs[0]], train[history_inputs[1]] = _training_history(
            train, features, model, vocab_sizes
        )
    timing["read"] = time.perf_counter() - start
    model_columns = {n: train[n] for n in sorted(set(query_names) | set(candidate_names))}
    if history is not None and model.reorder is not None:
        model_columns = _before_scorer_windows(model_columns, history, model.reorder)
    train_data = columns_dataset(model_columns, batch_size, shuffle=True, seed=hp["seed"])
    # How often each product (id index, OOV buckets included) appears: the probability that it
    # is sampled as an in-batch negative, for the log Q correction (trainer.model).
    id_counts = np.bincount(train[cid], minlength=vocab_sizes[cid])
    sampling_probability = id_counts / max(id_counts.sum(), 1)
    with strategy.scope():
        candidate_tower = build_tower(
            features.candidate_tower,
            model.candidate_layers,
            model.output_dim,
            vocab_sizes,
            name="candidate_tower",
        )
        shared = {cid: embedding_layer(candidate_tower, cid)} if feature else None
        retrieval_model = RetrievalModel(
            build_tower(
                features.query_tower,
                model.query_layers,
                model.output_dim,
                vocab_sizes,
                name="query_tower",
                shared=shared,
            ),
            candidate_tower,
            query_features=query_names,
            candidate_features=candidate_names,
            candidate_id=cid,
            sampling_probability=sampling_probability,
        )
        retrieval_model.compile(optimizer=build_optimizer(hp["optimizer"], hp["learning_rate"]))

    start = time.perf_counter()
    fit = retrieval_model.fit(train_data, epochs=hp["epochs"], callbacks=[_EpochLog()], verbose=0)
    timing["train"] = time.perf_counter() - start

    candidates = candidate_features(
        train,
        id_feature=cid,
        feature_names=candidate_names,
        n_products=vocab_sizes[cid],
        recency=train[recency] if recency else None,
    )
    candidate_embeddings = _embed(
        retrieval_model.candidate_embeddings, candidates, candidate_names, batch_size
    )

    serving_history = None
    scorer_loss: list[float] = []
    if history is not None:
        start = time.perf_counter()
        scorer, scorer_loss = _fit_reorder(
            model.reorder, hp["seed"], history, train, query_names, qid, retrieval_model,
            candidate_embeddings,
        )  # fmt: skip
        serving_history = _serving_history(history, qid, scorer)
        timing["reorder"] = time.perf_counter() - start

    start = time.perf_counter()
    raw_spec = tft_output.raw_feature_spec()
    raw_query_columns = [f.column for f in features.query_tower.features if f.kind != "history"]
    serving = RetrievalServingModule(
        tft_layer=tft_output.transform_features_layer(),
        query_tower=retrieval_model.query_tower,
        query_feature_names=query_names,
        raw_query_spec={c: raw_spec[c] for c in raw_query_columns},
        candidate_embeddings=candidate_embeddings,
        product_ids=tft_output.vocabulary_by_name(cid),
        top_k=hp["top_k"],
        history=serving_history,
    )
    export_serving_model(serving, fn_args.serving_model_dir)
    timing["export"] = time.perf_counter() - start
    log.info("serving model exported to %s", fn_args.serving_model_dir)

    start = time.perf_counter()
    evaluation = _evaluate(
        fn_args, train, features, spec, vocab_sizes, raw_query_columns, raw_spec, tft_output
    )
    timing["evaluate"] = time.perf_counter() - start
    log.info("evaluation: %s", evaluation["final_metrics"])

    metrics = {
        "loss": {
            name: [float(v) for v in fit.history[name]]
            for name in ("loss", "regularization_loss", "total_loss")
        },
        "final_metrics": evaluation["final_metrics"],
        "baselines": evaluation["baselines"],
        "eval": evaluation["eval"],
        "hyperparameters": hp,
        "timing_seconds": {k: round(v, 3) for k, v in timing.items()},
    }
    if scorer_loss:
        metrics["reorder_loss"] = scorer_loss
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    path = os.path.join(fn_args.model_run_dir, METRICS_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
    log.info("metrics written to %s", path)
    return metrics


def _before_scorer_windows(columns, history: _History, config: ReorderConfig):
    """The two-tower's training rows: those before the re-order scorer's first window.

    The scorer learns how far to trust the two-tower score from the windows' purchases; had the
    towers trained on those very purchases, their score would look better there than it is on
    new data, and the scorer would lean on it too much. Served queries use the history up to
    the end of training all the same. If that would leave less than half of the rows, the
    towers train on all of them.
    """
    cut = history.end - config.windows * config.horizon_days * DAY
    keep = history.times < cut
    if keep.sum() < 0.5 * len(keep):
        log.warning("re-order windows cover over half the rows: the towers train on all rows")
        return columns
    log.info("two-tower rows before the scorer's windows: %d of %d", keep.sum(), len(keep))
    return {name: values[keep] for name, values in columns.items()}


def _fit_reorder(
    config: ReorderConfig | None, seed, history: _History, train, query_names, qid,
    retrieval_model: RetrievalModel, candidates: np.ndarray,
):  # fmt: skip
    """Train the re-order scorer on windows at the end of the train split (None if disabled)."""
    if config is None:
        return None, []
    windows = training_windows(
        history.purchases,
        end=history.end,
        horizon_days=config.horizon_days,
        windows=config.windows,
        n_customers=history.n_customers,
        n_products=history.n_products,
        max_items=history.table_items,
    )
    log.info("re-order windows: %s customers", [len(w.customers) for w in windows])
    if not windows:
        log.warning("no re-order window has customers on both sides; ranking by two towers")
        return None, []
    # Each customer's side features: those of their latest train row.
    latest = latest_row_per_index(train[qid], history.n_customers, history.times)
    items_name, weights_name = history_names(history.feature)
    side = [n for n in query_names if n not in (items_name, weights_name)]
    pooled = history.feature.max_items

    def retrieval_scores(table: HistoryTable, customers: np.ndarray) -> np.ndarray:
        inputs = {n: train[n][np.maximum(latest[customers], 0)] for n in side}
        # The query tower pools the most recent max_items of the (longer) table's history.
        inputs[items_name] = table.items[customers, :pooled]
        inputs[weights_name] = table.weights[customers, :pooled]
        query = _embed(retrieval_model.query_embeddings, inputs, list(inputs), 1024)
        return query @ candidates.T

    scorer = ReorderScorer(config.hidden_units)
    losses = fit_scorer(
        scorer,
        windows,
        retrieval_scores,
        epochs=config.epochs,
        learning_rate=config.learning_rate,
        new_weight=config.new_weight,
        seed=seed,
    )
    return scorer, losses


def _serving_history(history: _History, qid: str, scorer) -> ServingHistory:
    """The history, product table and scorer the exported model carries, as of `history.end`."""
    table = history_table(
        history.purchases, history.end, n_customers=history.n_customers,
        max_items=history.table_items,
    )  # fmt: skip
    since = table.item_features[..., ITEM_FEATURES.index("log_days_since_last")]
    ages = np.expm1(since[table.items >= 0])
    return ServingHistory(
        feature=history.feature,
        customer_id=qid,
        table=table,
        product_table=product_features(
            history.purchases, history.end, n_products=history.n_products
        ),
        scorer=scorer,
        explicit_age_days=float(np.median(ages)) if len(ages) else 30.0,
    )


def _embed(tower_fn, columns: dict[str, np.ndarray], names, batch_size: int) -> np.ndarray:
    data = tf.data.Dataset.from_tensor_slices({n: columns[n] for n in names}).batch(batch_size)
    parts = [tower_fn(batch).numpy() for batch in data]
    return np.concatenate(parts) if parts else np.zeros([0, 0], np.float32)


def _evaluate(
    fn_args,
    train: dict[str, np.ndarray],
    features: FeatureConfig,
    spec,
    vocab_sizes: dict[str, int],
    raw_query_columns: list[str],
    raw_spec,
    tft_output: tft.TFTransformOutput,
) -> dict[str, Any]:
    """Recall of the exported model and of the baselines on the eval split (trainer.metrics)."""
    eval_ = canonical_order(read_columns(fn_args.eval_files, spec))
    qid, cid = features.query_id, features.candidate_id
    n_customers, n_products = vocab_sizes[qid], vocab_sizes[cid]

    def in_vocab(customers: np.ndarray) -> np.ndarray:
        # OOV customers share buckets: they are not "seen in train" as individuals.
        return np.where(customers < n_customers, customers, -1)

    split = make_split(
        in_vocab(train[qid]), train[cid], in_vocab(eval_[qid]), eval_[cid], n_products=n_products
    )
    custom = fn_args.custom_config or {}
    raw_files = custom.get("raw_eval_files")
    if not raw_files:
        raise ValueError(
            "custom_config['raw_eval_files'] is missing: the model is evaluated by querying the "
            "exported SavedModel with the raw eval rows"
        )
    final_metrics = (
        evaluate_exported(
            fn_args.serving_model_dir,
            raw_files,
            {c: raw_spec[c] for c in raw_query_columns},
            customer_column=qid,
            customer_vocabulary=tft_output.vocabulary_by_name(qid),
            product_vocabulary=tft_output.vocabulary_by_name(cid),
            split=split,
            ks=KS,
        )
        if len(split.customers)
        else {}
    )
    extra = custom.get("baselines") or list(baselines.BASELINES)
    baseline_metrics = {}
    for name in ["popularity", *[b for b in extra if b != "popularity"]]:
        try:
            baseline_metrics[name] = evaluate(baselines.BASELINES[name](split), split, KS)
        except ValueError as exc:  # e.g. a catalogue too large for a dense baseline
            log.warning("baseline %s skipped: %s", name, exc)
    return {
        "final_metrics": final_metrics,
        "baselines": baseline_metrics,
        "eval": {
            "customers": len(split.customers),
            "customers_new": len(split.new_customers),
            "train_rows": int(len(train[cid])),
            "eval_rows": int(len(eval_[cid])),
            "products": n_products,
        },
    }
