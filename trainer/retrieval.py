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
from typing import Any

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from specs import (
    FeatureConfig,
    ModelConfig,
    TrainingParams,
    resolve_hyperparameters,
    transformed_names,
)
from trainer import baselines
from trainer.candidates import candidate_features, first_row_per_index
from trainer.data import canonical_order, columns_dataset, read_columns
from trainer.metrics import KS, evaluate, make_split
from trainer.model import RetrievalModel
from trainer.optimizers import build_optimizer
from trainer.serving import RetrievalServingModule, export_serving_model
from trainer.strategy import global_batch_size, make_strategy
from trainer.towers import build_tower

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


def run_retrieval(
    fn_args,
    *,
    features: FeatureConfig,
    model: ModelConfig,
    training: TrainingParams,
) -> dict[str, Any]:
    """Train, evaluate and export a two-tower retrieval model; return the metrics written.

    Args:
      fn_args: `tfx.components.FnArgs`: train_files / eval_files (glob patterns of gzipped
        transformed TFRecords), transform_output (TFT output dir), serving_model_dir,
        model_run_dir and custom_config (may be None; overrides epochs, batch_size,
        learning_rate, seed, top_k).
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
    query_names = transformed_names(features.query_tower)
    candidate_names = transformed_names(features.candidate_tower)
    recency = _recency_feature(features)
    needed = sorted(set(query_names) | set(candidate_names) | ({recency} if recency else set()))
    spec = {name: tft_output.transformed_feature_spec()[name] for name in needed}

    strategy = make_strategy()
    batch_size = global_batch_size(hp["batch_size"], strategy)
    hp["global_batch_size"] = batch_size
    hp["replicas"] = strategy.num_replicas_in_sync
    log.info("hyperparameters: %s", hp)

    start = time.perf_counter()
    train = canonical_order(read_columns(fn_args.train_files, spec))
    timing["read"] = time.perf_counter() - start
    train_data = columns_dataset(train, batch_size, shuffle=True, seed=hp["seed"])
    # How often each product (id index, OOV buckets included) appears: the probability that it
    # is sampled as an in-batch negative, for the log Q correction (trainer.model).
    id_counts = np.bincount(
        train[features.candidate_id], minlength=vocab_sizes[features.candidate_id]
    )
    sampling_probability = id_counts / max(id_counts.sum(), 1)
    with strategy.scope():
        retrieval_model = RetrievalModel(
            build_tower(
                features.query_tower,
                model.query_layers,
                model.output_dim,
                vocab_sizes,
                name="query_tower",
            ),
            build_tower(
                features.candidate_tower,
                model.candidate_layers,
                model.output_dim,
                vocab_sizes,
                name="candidate_tower",
            ),
            query_features=query_names,
            candidate_features=candidate_names,
            candidate_id=features.candidate_id,
            sampling_probability=sampling_probability,
        )
        retrieval_model.compile(optimizer=build_optimizer(hp["optimizer"], hp["learning_rate"]))

    start = time.perf_counter()
    history = retrieval_model.fit(
        train_data, epochs=hp["epochs"], callbacks=[_EpochLog()], verbose=0
    )
    timing["train"] = time.perf_counter() - start

    start = time.perf_counter()
    evaluation = _evaluate(
        retrieval_model,
        fn_args,
        train,
        features,
        spec,
        vocab_sizes,
        query_names,
        candidate_names,
        recency,
        batch_size,
    )
    timing["evaluate"] = time.perf_counter() - start
    log.info("evaluation: %s", evaluation["final_metrics"])

    start = time.perf_counter()
    raw_spec = tft_output.raw_feature_spec()
    product_ids = tft_output.vocabulary_by_name(features.candidate_id)
    serving = RetrievalServingModule(
        tft_layer=tft_output.transform_features_layer(),
        query_tower=retrieval_model.query_tower,
        query_feature_names=query_names,
        raw_query_spec={f.column: raw_spec[f.column] for f in features.query_tower.features},
        candidate_embeddings=evaluation.pop("candidate_embeddings"),
        product_ids=product_ids,
        top_k=hp["top_k"],
    )
    export_serving_model(serving, fn_args.serving_model_dir)
    timing["export"] = time.perf_counter() - start
    log.info("serving model exported to %s", fn_args.serving_model_dir)

    metrics = {
        "loss": {
            name: [float(v) for v in history.history[name]]
            for name in ("loss", "regularization_loss", "total_loss")
        },
        "final_metrics": evaluation["final_metrics"],
        "baselines": evaluation["baselines"],
        "eval": evaluation["eval"],
        "hyperparameters": hp,
        "timing_seconds": {k: round(v, 3) for k, v in timing.items()},
    }
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    path = os.path.join(fn_args.model_run_dir, METRICS_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
    log.info("metrics written to %s", path)
    return metrics


def _embed(tower_fn, columns: dict[str, np.ndarray], names, batch_size: int) -> np.ndarray:
    data = tf.data.Dataset.from_tensor_slices({n: columns[n] for n in names}).batch(batch_size)
    parts = [tower_fn(batch).numpy() for batch in data]
    return np.concatenate(parts) if parts else np.zeros([0, 0], np.float32)


def _evaluate(
    retrieval_model: RetrievalModel,
    fn_args,
    train: dict[str, np.ndarray],
    features: FeatureConfig,
    spec,
    vocab_sizes: dict[str, int],
    query_names: list[str],
    candidate_names: list[str],
    recency: str | None,
    batch_size: int,
) -> dict[str, Any]:
    """Recall of the model and the popularity baseline on the eval split (trainer.metrics)."""
    eval_ = canonical_order(read_columns(fn_args.eval_files, spec))
    qid, cid = features.query_id, features.candidate_id
    n_customers, n_products = vocab_sizes[qid], vocab_sizes[cid]

    def in_vocab(customers: np.ndarray) -> np.ndarray:
        # OOV customers share buckets: they are not "seen in train" as individuals.
        return np.where(customers < n_customers, customers, -1)

    split = make_split(
        in_vocab(train[qid]), train[cid], in_vocab(eval_[qid]), eval_[cid], n_products=n_products
    )

    candidates = candidate_features(
        train,
        id_feature=cid,
        feature_names=candidate_names,
        n_products=n_products,
        recency=train[recency] if recency else None,
    )
    candidate_embeddings = _embed(
        retrieval_model.candidate_embeddings, candidates, candidate_names, batch_size
    )
    # A test customer's query: the features of their first eval row.
    first = first_row_per_index(eval_[qid], n_customers)
    customers = split.customers
    rows = first[customers]
    query_embeddings = _embed(
        retrieval_model.query_embeddings,
        {n: eval_[n][rows] for n in query_names},
        query_names,
        batch_size,
    )
    position = np.full(max(n_customers, 1), -1, dtype=np.int64)
    position[customers] = np.arange(len(customers))

    def model_scores(batch: np.ndarray) -> np.ndarray:
        return query_embeddings[position[batch]] @ candidate_embeddings.T

    extra = (fn_args.custom_config or {}).get("baselines") or []
    final_metrics = evaluate(model_scores, split, KS) if len(customers) else {}
    baseline_metrics = {
        name: evaluate(baselines.BASELINES[name](split), split, KS)
        for name in ["popularity", *[b for b in extra if b != "popularity"]]
    }
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
        "candidate_embeddings": candidate_embeddings,
    }
