"""`run_training`: the body of the TFX Trainer `run_fn` for every two-tower model type.

Generated Trainer modules bind a FeatureConfig, ModelConfig and TrainingParams and call
`run_training(fn_args, features=..., model=..., training=...)`. It trains, evaluates by the
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
    target_name,
    transformed_names,
)
from specs.features import timestamp_zscore_name
from specs.parameters import FROM_TRAINER_MODULE, TRAINER_PARAMETERS, check_trainer_parameter
from trainer.callbacks import (
    EpochProgress,
    FirstBatchLoss,
    early_stopping_callback,
    validation_rows,
)
from trainer.candidates import candidate_features, latest_row_per_index
from trainer.contract import QUICK_TEST_RUN
from trainer.data import canonical_order, columns_dataset, read_transformed
from trainer.evaluation import evaluate_against_baselines, protocol_split
from trainer.history import (
    DAY,
    ITEM_FEATURES,
    HistoryTable,
    Purchases,
    co_purchase_similarity,
    history_table,
    product_features,
    row_histories,
)
from trainer.honesty import health
from trainer.metrics import KS
from trainer.model import TwoTowerModel
from trainer.optimizers import build_optimizer, learning_rate_schedule
from trainer.progress import ProgressReporter
from trainer.ranking import RatingMetrics, build_rating_head, predict_ratings, rating_errors
from trainer.reorder import ReorderScorer, fit_scorer, training_windows
from trainer.serving import (
    RetrievalServingModule,
    ServingHistory,
    ServingRatings,
    StoredQueries,
    export_serving_model,
)
from trainer.strategy import global_batch_size, make_strategy
from trainer.towers import build_tower, embedding_layer
from trainer.tracking import EpochMetrics, RunTracker, TrackingSettings, result_metrics
from trainer.training_history import for_run as training_history_for_run
from trainer.training_history import (
    parameter_counts,
    summary_metrics,
    tensorboard_dir,
    vocabularies,
)

log = logging.getLogger(__name__)

METRICS_FILE = "training_metrics.json"
DEFAULT_TOP_K = 100


def hyperparameters(
    model: ModelConfig, training: TrainingParams, custom_config: dict | None
) -> dict[str, Any]:
    """Resolved run values: custom_config > TrainingParams > ModelConfig.

    custom_config carries the pipeline's run parameters (`specs.parameters.TRAINER_PARAMETERS`,
    checked against the same bounds as the specs; `FROM_TRAINER_MODULE` (0) for epochs, batch
    size or learning rate keeps the module's value) and `top_k`.
    """
    values = resolve_hyperparameters(model, training)
    values["top_k"] = DEFAULT_TOP_K
    config = custom_config or {}
    for key in TRAINER_PARAMETERS:
        value = config.get(key)
        if value is None or (key != "seed" and value == FROM_TRAINER_MODULE):
            continue
        try:
            values[key] = check_trainer_parameter(key, value)
        except ValueError as exc:
            raise ValueError(f"run parameter {key}: {exc}") from None
    if config.get("top_k") is not None:
        values["top_k"] = int(config["top_k"])
    if values["top_k"] < 1:
        raise ValueError(f"top_k must be at least 1, got {values['top_k']}")
    values["output_dim"] = model.output_dim
    return values


def _vocab_sizes(features: FeatureConfig, tft_output: tft.TFTransformOutput) -> dict[str, int]:
    return {
        f.column: tft_output.vocabulary_size_by_name(f.column)
        for tower in (features.query_tower, features.candidate_tower)
        for f in tower.features
        if f.kind in ("string", "string_list")
    }


def _recency_feature(features: FeatureConfig) -> str | None:
    """A transformed feature that orders rows by time (a normalized timestamp), if any."""
    for tower in (features.candidate_tower, features.query_tower):
        for f in tower.features:
            if f.kind == "timestamp" and f.normalize:
                return timestamp_zscore_name(f)
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


def run_training(
    fn_args,
    *,
    features: FeatureConfig,
    model: ModelConfig,
    training: TrainingParams,
) -> dict[str, Any]:
    """Train, evaluate and export a two-tower model; return the metrics written.

    Every model type (`model.model_type`) goes through here. With a history feature the query
    tower pools the customer's past purchases, and for retrieval and multitask models a
    re-order scorer (`trainer.reorder`, when `model.reorder` is set) turns the two-tower score
    and the customer's purchase history into the served score. Ranking and multitask models
    learn the feature config's target with a rating head (`trainer.ranking`). Recall is
    computed from the exported SavedModel's answers (`trainer.evaluation`).

    Args:
      fn_args: `tfx.components.FnArgs`: train_files / eval_files (glob patterns of gzipped
        raw TFRecords, transformed as they are read), transform_output (TFT output dir), serving_model_dir,
        model_run_dir and custom_config (may be None; overrides epochs, batch_size,
        learning_rate, seed, top_k; `raw_eval_files` names the untransformed eval split the
        exported model is queried with).
      features, model, training: the run's specs.

    Returns:
      The dict written to `<model_run_dir>/training_metrics.json`.
    """
    hp = hyperparameters(model, training, fn_args.custom_config)
    rates = model.model_type != "retrieval"
    if rates and features.target is None:
        raise ValueError(f"a {model.model_type} model needs the feature config's target column")
    monitor = training.early_stopping.monitor if training.early_stopping else None
    if monitor in ("val_rmse", "val_mae") and not rates:
        raise ValueError(f"early_stopping.monitor {monitor!r} needs a ranking or multitask model")
    tracker = _start_tracking(fn_args, features, model, training, hp)
    try:
        metrics = _train_and_export(fn_args, features, model, training, hp, tracker)
    except BaseException:
        tracker.finish("FAILED")
        raise
    tracker.finish()
    return metrics


def _start_tracking(fn_args, features, model, training, hp) -> RunTracker:
    """The run's MLflow run, started with its tags, parameters and configs (trainer.tracking)."""
    config = fn_args.custom_config or {}
    settings = TrackingSettings.resolve(
        config, default_root=fn_args.model_run_dir, experiment=features.name
    )
    tags = {
        "feature_config_name": features.name,
        "model_config_name": model.name,
        "model_type": model.model_type,
    }
    if config.get("dataset_name"):
        tags["dataset_name"] = str(config["dataset_name"])
    tracker = RunTracker(settings)
    tracker.start(
        tags=tags,
        params=hp,
        configs={
            "features": features.model_dump(mode="json"),
            "model": model.model_dump(mode="json"),
            "training": training.model_dump(mode="json"),
        },
    )
    return tracker


def _train_and_export(fn_args, features, model, training, hp, tracker: RunTracker):
    """The body of `run_training`, logging to `tracker` as it goes."""
    # Python, NumPy and TF seeds: initial weights, dropout and the shuffle order repeat.
    tf.keras.utils.set_random_seed(hp["seed"])
    timing: dict[str, float] = {}
    rates = model.model_type != "retrieval"

    tft_output = tft.TFTransformOutput(fn_args.transform_output)
    vocab_sizes = _vocab_sizes(features, tft_output)
    qid, cid = features.query_id, features.candidate_id
    feature = features.history
    history_inputs = history_names(feature) if feature else []
    query_names = transformed_names(features.query_tower)
    candidate_names = transformed_names(features.candidate_tower)
    target = target_name(features.target) if rates else None
    recency = _recency_feature(features)
    needed = set(query_names) | set(candidate_names) | ({recency} if recency else set())
    needed -= set(history_inputs)
    time_name = history_time_name(feature) if feature else None
    needed |= {n for n in (time_name, target) if n}
    needed = sorted(needed)

    strategy = make_strategy(
        requested_gpus=int((fn_args.custom_config or {}).get("gpu_count") or 0)
    )
    batch_size = global_batch_size(hp["batch_size"], strategy)
    hp["global_batch_size"] = batch_size
    hp["replicas"] = strategy.num_replicas_in_sync
    log.info("hyperparameters: %s", hp)

    start = time.perf_counter()
    train = canonical_order(read_transformed(fn_args.train_files, tft_output, needed))
    history = None
    if feature:
        history, train[history_inputs[0]], train[history_inputs[1]] = _training_history(
            train, features, model, vocab_sizes
        )
    # The eval split is read before training: the training history samples it every epoch.
    eval_ = canonical_order(read_transformed(fn_args.eval_files, tft_output, needed))
    timing["read"] = time.perf_counter() - start
    reorders = history is not None and model.reorder is not None and model.model_type != "ranking"
    fit_columns, validation = _fit_rows(
        train,
        sorted(set(query_names) | set(candidate_names) | ({target} if target else set())),
        time_name,
        history=history if reorders else None,
        reorder=model.reorder,
        validate=rates or training.early_stopping is not None,
        days=training.validation_days,
        seed=hp["seed"],
    )
    train_data = columns_dataset(fit_columns, batch_size, shuffle=True, seed=hp["seed"])
    steps_per_epoch = -(-len(fit_columns[cid]) // batch_size)
    # How often each product (id index, OOV buckets included) appears: the probability that it
    # is sampled as an in-batch negative, for the log Q correction (trainer.model).
    id_counts = np.bincount(train[cid], minlength=vocab_sizes[cid])
    sampling_probability = id_counts / max(id_counts.sum(), 1)
    task_weights = {
        "retrieval": (1.0, 0.0),
        "ranking": (0.0, 1.0),
        "multitask": (model.loss_weights.retrieval, model.loss_weights.ranking),
    }[model.model_type]
    with strategy.scope():
        candidate_tower = build_tower(
            features.candidate_tower,
            model.candidate_layers,
            model.output_dim,
            vocab_sizes,
            name="candidate_tower",
        )
        shared = {cid: embedding_layer(candidate_tower, cid)} if feature else None
        two_tower = TwoTowerModel(
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
            rating_head=build_rating_head(model.rating_head, 2 * model.output_dim)
            if rates
            else None,
            target=target,
            ranking_loss_name=model.ranking_loss,
            retrieval_weight=task_weights[0],
            ranking_weight=task_weights[1],
        )
        learning_rate = learning_rate_schedule(
            hp["learning_rate"],
            training.lr_schedule,
            steps_per_epoch=steps_per_epoch,
            epochs=hp["epochs"],
        )
        two_tower.compile(optimizer=build_optimizer(hp["optimizer"], learning_rate))

    callbacks: list[tf.keras.callbacks.Callback] = []
    if rates:  # before early stopping, which may monitor what it logs
        callbacks.append(RatingMetrics(validation, target, batch_size))
    stopping = early_stopping_callback(training.early_stopping)
    if stopping is not None:
        callbacks.append(stopping)
    callbacks.append(_EpochLog())
    first_batch = FirstBatchLoss()
    callbacks.append(first_batch)
    callbacks.append(EpochMetrics(tracker))  # after the others: it logs what they added
    candidates = candidate_features(
        train,
        id_feature=cid,
        feature_names=candidate_names,
        n_products=vocab_sizes[cid],
        recency=train[recency] if recency else None,
    )
    towers = {"query_tower": two_tower.query_tower, "candidate_tower": two_tower.candidate_tower}
    if two_tower.rating_head is not None:
        towers["rating_head"] = two_tower.rating_head
    recorder = None
    if training.training_history.enabled:
        recorder = training_history_for_run(
            training.training_history, model=two_tower, towers=towers, train=train, eval_=eval_,
            fit_columns=fit_columns, candidates=candidates, query_id=qid, candidate_id=cid,
            names=sorted(fit_columns), history_inputs=history_inputs, vocab_sizes=vocab_sizes,
            recency=train[time_name] if time_name else (train[recency] if recency else None),
            batch_size=batch_size, seed=hp["seed"], model_run_dir=fn_args.model_run_dir,
            tracker=tracker,
        )  # fmt: skip
        callbacks.append(recorder)
    reporter = ProgressReporter.from_config((fn_args.custom_config or {}).get("callback_url"))
    if reporter is not None:
        callbacks.append(EpochProgress(reporter, hp["epochs"]))
    start = time.perf_counter()
    fit = two_tower.fit(
        train_data,
        epochs=hp["epochs"],
        validation_data=columns_dataset(validation, batch_size) if validation else None,
        callbacks=callbacks,
        verbose=0,
    )
    timing["train"] = time.perf_counter() - start
    hp["epochs_trained"] = len(fit.history["loss"])
    fit_rows = len(fit_columns[cid])
    throughput = {
        "fit_rows": fit_rows,
        "validation_rows": len(validation[cid]) if validation else 0,
        # Tower training only (validation passes included in the time): the re-order scorer,
        # export and evaluation are timed separately.
        "examples_per_second": round(fit_rows * hp["epochs_trained"] / timing["train"], 1),
    }
    if stopping is not None and stopping.stopped_epoch:
        log.info("early stopping after epoch %d", stopping.stopped_epoch + 1)

    candidate_embeddings = _embed(
        two_tower.candidate_embeddings, candidates, candidate_names, batch_size
    )

    serving_history = None
    scorer_loss: list[float] = []
    if history is not None:
        start = time.perf_counter()
        scorer = None
        if reorders:
            scorer, scorer_loss = _fit_reorder(
                model.reorder, hp["seed"], history, train, query_names, qid, two_tower,
                candidate_embeddings,
            )  # fmt: skip
        for epoch, loss in enumerate(scorer_loss):
            tracker.log_metrics({"reorder_loss": loss}, step=epoch)
        serving_history = _serving_history(
            history, qid, scorer, model.reorder,
            _stored_queries(history, train, query_names, qid, _store_limit(features, model)),
        )  # fmt: skip
        timing["reorder"] = time.perf_counter() - start

    start = time.perf_counter()
    raw_spec = tft_output.raw_feature_spec()
    raw_query_columns = [f.column for f in features.query_tower.features if f.kind != "history"]
    serving = RetrievalServingModule(
        tft_layer=tft_output.transform_features_layer(),
        query_tower=two_tower.query_tower,
        query_feature_names=query_names,
        raw_query_spec={c: raw_spec[c] for c in raw_query_columns},
        candidate_embeddings=candidate_embeddings,
        product_ids=tft_output.vocabulary_by_name(cid),
        top_k=hp["top_k"],
        history=serving_history,
        ratings=ServingRatings(
            two_tower.rating_head,
            rank_by_rating=model.model_type == "ranking",
            sigmoid=model.ranking_loss == "bce",
        )
        if rates
        else None,
        scann=model.retrieval if model.retrieval.type == "scann" else None,
    )
    export_serving_model(serving, fn_args.serving_model_dir)
    timing["export"] = time.perf_counter() - start
    log.info("serving model exported to %s", fn_args.serving_model_dir)

    start = time.perf_counter()
    evaluation = _evaluate(
        fn_args, train, eval_, features, vocab_sizes, raw_query_columns, raw_spec, tft_output
    )
    if rates:
        evaluation["final_metrics"].update(
            _rating_metrics(two_tower, validation, eval_, serving_history, target, batch_size)
        )
    timing["evaluate"] = time.perf_counter() - start
    log.info("evaluation: %s", evaluation["final_metrics"])

    metrics = {
        "loss": {name: [float(v) for v in values] for name, values in fit.history.items()},
        "final_metrics": evaluation["final_metrics"],
        "baselines": evaluation["baselines"],
        "intervals": evaluation["intervals"],
        "health": health(
            fit.history["loss"], evaluation["popularity_overlap"], initial=first_batch.loss
        ),
        "eval": evaluation["eval"],
        "hyperparameters": hp,
        "model_type": model.model_type,
        # The settings the serving model's index was built with (sized from the catalogue).
        "retrieval": {"type": model.retrieval.type}
        | (serving.scann_settings.as_dict() if serving.scann_settings else {}),
        "timing_seconds": {k: round(v, 3) for k, v in timing.items()},
        "throughput": throughput,
    }
    for warning in metrics["health"]["warnings"]:
        log.warning("%s", warning)
    if scorer_loss:
        metrics["reorder_loss"] = scorer_loss
    if recorder is not None:
        metrics["training_history"] = {
            **recorder.as_dict(),
            "parameters": parameter_counts(towers),
            "vocabularies": vocabularies(vocab_sizes, train, eval_),
            "tensorboard_dir": tensorboard_dir(fn_args.model_run_dir),
        }
        tracker.log_metrics(summary_metrics(metrics["training_history"]))
        if "://" not in fn_args.model_run_dir:  # MLflow uploads local folders; gs:// stays put
            tracker.log_artifacts(tensorboard_dir(fn_args.model_run_dir), "tensorboard")
    tracker.log_metrics(result_metrics(metrics))
    metrics["mlflow"] = tracker.info()
    tf.io.gfile.makedirs(fn_args.model_run_dir)
    path = os.path.join(fn_args.model_run_dir, METRICS_FILE)
    with tf.io.gfile.GFile(path, "w") as f:
        json.dump(metrics, f, indent=2, sort_keys=True)
    log.info("metrics written to %s", path)
    tracker.log_artifact(path)
    if tracker.settings.run_name == QUICK_TEST_RUN:
        # A quick test's model is kept with its run, never registered (trainer.contract).
        tracker.log_artifacts(fn_args.serving_model_dir, "model")
    # The run id travels with the model, and stays beside the metrics file.
    tracker.write_info(fn_args.model_run_dir, fn_args.serving_model_dir)
    return metrics


def _fit_rows(
    train: dict[str, np.ndarray],
    names: list[str],
    time_name: str | None,
    *,
    history: _History | None,
    reorder: ReorderConfig | None,
    validate: bool,
    days: int,
    seed: int,
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None]:
    """The columns the towers fit on, and the validation rows held out of them (or None).

    With a re-order scorer (`history`), the towers see only the rows before its windows
    (`_before_scorer_windows`); the validation rows are the last `days` days of what is left
    (`trainer.callbacks.validation_rows`).
    """
    columns = {n: train[n] for n in names}
    times = train[time_name] if time_name else None
    if history is not None:
        keep = _before_scorer_windows(history, reorder)
        columns = {n: v[keep] for n, v in columns.items()}
        times = times[keep]
    if not validate:
        return columns, None
    rows = len(next(iter(columns.values())))
    held = validation_rows(times, days, rows=rows, seed=seed)
    log.info("validation rows: %d of %d", held.sum(), rows)
    return {n: v[~held] for n, v in columns.items()}, {n: v[held] for n, v in columns.items()}


def _rating_metrics(
    two_tower: TwoTowerModel,
    validation: dict[str, np.ndarray],
    eval_: dict[str, np.ndarray],
    history: ServingHistory | None,
    target: str,
    batch_size: int,
) -> dict[str, float]:
    """RMSE/MAE of the trained model (its restored best weights, with early stopping) on the
    validation rows and on the eval split (`final_val_*`, `test_*`).

    Eval rows get the history the serving model would use: the customer's as of the end of
    training."""
    columns = dict(eval_)
    if history is not None:
        items_name, weights_name = history_names(history.feature)
        table = history.table
        row = np.minimum(eval_[history.customer_id], len(table.items) - 1)
        known = eval_[history.customer_id] < len(table.items)
        width = history.feature.max_items
        columns[items_name] = np.where(known[:, None], table.items[row, :width], -1)
        columns[weights_name] = np.where(known[:, None], table.weights[row, :width], 0.0).astype(
            np.float32
        )
    out = {}
    for prefix, rows in (("final_val", validation), ("test", columns)):
        names = two_tower.query_features + two_tower.candidate_features
        errors = rating_errors(
            predict_ratings(two_tower, {n: rows[n] for n in names}, batch_size), rows[target]
        )
        out[f"{prefix}_rmse"], out[f"{prefix}_mae"] = errors["rmse"], errors["mae"]
    return out


def _before_scorer_windows(history: _History, config: ReorderConfig) -> np.ndarray:
    """Which train rows the two towers fit on: those before the re-order scorer's first window.

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
        return np.ones(len(keep), bool)
    log.info("two-tower rows before the scorer's windows: %d of %d", keep.sum(), len(keep))
    return keep


def _fit_reorder(
    config: ReorderConfig, seed, history: _History, train, query_names, qid,
    retrieval_model: TwoTowerModel, candidates: np.ndarray,
):  # fmt: skip
    """Train the re-order scorer on windows at the end of the train split (None if no window
    has customers on both sides)."""
    windows = training_windows(
        history.purchases,
        end=history.end,
        horizon_days=config.horizon_days,
        windows=config.windows,
        n_customers=history.n_customers,
        n_products=history.n_products,
        max_items=history.table_items,
        neighbors=config.neighbors,
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
        per_signal=config.candidates,
        seed=seed,
    )
    return scorer, losses


def _store_limit(features: FeatureConfig, model: ModelConfig) -> int:
    """How many customers' answers the exported model may store: none when the query tower
    reads the request's time (a `timestamp` feature), since a request at another time is
    another query, answered by computing it; `materialize_max_customers` otherwise."""
    if any(f.kind == "timestamp" for f in features.query_tower.features):
        log.info("the query tower reads the request's time: the model stores no answers")
        return 0
    return model.materialize_max_customers


def _stored_queries(
    history: _History, train: dict[str, np.ndarray], query_names, qid: str, limit: int
) -> StoredQueries | None:
    """Each known customer's query features as of their latest train row, whose answers the
    exported model stores; None past `limit` customers (`ModelConfig.materialize_max_customers`)."""
    if not 0 < history.n_customers <= limit:
        if history.n_customers > limit > 0:
            log.info("%d customers, over materialize_max_customers %d: no stored answers",
                     history.n_customers, limit)  # fmt: skip
        return None
    latest = latest_row_per_index(train[qid], history.n_customers, history.times)
    items_name, weights_name = history_names(history.feature)
    side = [n for n in query_names if n not in (items_name, weights_name, qid)]
    return StoredQueries({n: train[n][np.maximum(latest, 0)] for n in side}, known=latest >= 0)


def _serving_history(
    history: _History, qid: str, scorer, config: ReorderConfig | None,
    stored_queries: StoredQueries | None = None,
) -> ServingHistory:  # fmt: skip
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
        similarity=co_purchase_similarity(
            history.purchases,
            history.end,
            n_products=history.n_products,
            neighbors=config.neighbors if config else 1,
        ),
        scorer=scorer,
        explicit_age_days=float(np.median(ages)) if len(ages) else 30.0,
        candidates_per_signal=config.candidates if config else ReorderConfig().candidates,
        stored_queries=stored_queries,
    )


def _embed(tower_fn, columns: dict[str, np.ndarray], names, batch_size: int) -> np.ndarray:
    data = tf.data.Dataset.from_tensor_slices({n: columns[n] for n in names}).batch(batch_size)
    parts = [tower_fn(batch).numpy() for batch in data]
    return np.concatenate(parts) if parts else np.zeros([0, 0], np.float32)


def _evaluate(
    fn_args,
    train: dict[str, np.ndarray],
    eval_: dict[str, np.ndarray],
    features: FeatureConfig,
    vocab_sizes: dict[str, int],
    raw_query_columns: list[str],
    raw_spec,
    tft_output: tft.TFTransformOutput,
) -> dict[str, Any]:
    """Recall of the exported model and of the baselines on the eval split (trainer.metrics)."""
    qid, cid = features.query_id, features.candidate_id
    n_products = vocab_sizes[cid]
    split = protocol_split(
        train[qid], train[cid], eval_[qid], eval_[cid],
        n_customers=vocab_sizes[qid], n_products=n_products,
    )  # fmt: skip
    custom = fn_args.custom_config or {}
    raw_files = custom.get("raw_eval_files")
    if not raw_files:
        raise ValueError(
            "custom_config['raw_eval_files'] is missing: the model is evaluated by querying the "
            "exported SavedModel with the raw eval rows"
        )
    evaluation = evaluate_against_baselines(
        fn_args.serving_model_dir,
        raw_files,
        {c: raw_spec[c] for c in raw_query_columns},
        customer_column=qid,
        customer_vocabulary=tft_output.vocabulary_by_name(qid),
        product_vocabulary=tft_output.vocabulary_by_name(cid),
        split=split,
        ks=KS,
        baseline_names=custom.get("baselines"),
    )
    return {
        "final_metrics": evaluation["metrics"],
        "baselines": evaluation["baselines"],
        # How sure each mean is: a 95% bootstrap interval over the test customers.
        "intervals": evaluation["intervals"],
        "eval": {
            "customers": len(split.customers),
            "customers_new": len(split.new_customers),
            "train_rows": int(len(train[cid])),
            "eval_rows": int(len(eval_[cid])),
            "products": n_products,
            **evaluation["coverage"],
        },
        "popularity_overlap": evaluation["popularity_overlap"],
    }
