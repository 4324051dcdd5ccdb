"""Executor: evaluate the exported model, its baselines and the champion on one split; bless.

The model is queried as a client would (`trainer.evaluation.evaluate_exported`: raw eval rows
in, original product ids out) and scored by the platform's protocol: recall@5/10/50/100 and
NDCG@10 in modes "all" and "new". The baselines (popularity, repeat-then-popularity, item-kNN,
EASE) are fitted on the same train split. The champion, the registry's version holding
`champion` for `model_name`, is queried the same way on the same rows; a champion that cannot
answer them (another feature config, say) is reported as not comparable and not checked.
A rating head's RMSE/MAE come from the trainer's metrics file (the served model answers with
ranked products, not a rating per eval row).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import tensorflow as tf
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils, path_utils

from components.artifact_files import read_artifact_json
from components.recs_evaluator.blessing import (
    BlessingPolicy,
    decide,
    evaluation_record,
    parse_thresholds,
)
from components.recs_evaluator.spec import EVALUATION_FILE

log = logging.getLogger(__name__)
RATING_METRICS = ("test_rmse", "test_mae", "final_val_rmse", "final_val_mae")


def policy_from(exec_properties: dict[str, Any]) -> BlessingPolicy:
    """The blessing policy from the component's parameters; errors name the parameter."""
    try:
        thresholds = parse_thresholds(exec_properties.get("thresholds") or "{}")
    except ValueError as exc:
        raise ValueError(f"thresholds: {exc}") from None
    compared = tuple(
        m.strip() for m in (exec_properties.get("compared_metrics") or "").split(",") if m.strip()
    )
    return BlessingPolicy(
        thresholds=thresholds,
        compared_metrics=compared,
        baseline_margin=float(exec_properties.get("baseline_margin") or 0.0),
        champion_tolerance=float(exec_properties.get("champion_tolerance") or 0.0),
    )


def _split_files(artifacts, split: str) -> str:
    return os.path.join(artifact_utils.get_split_uri(artifacts, split), "*")


def _serving_inputs(export_dir: str, raw_spec) -> dict:
    """The raw feature spec of the columns the model's `serving_default` takes."""
    loaded = tf.saved_model.load(export_dir)
    _, kwargs = loaded.signatures["serving_default"].structured_input_signature
    missing = sorted(set(kwargs) - set(raw_spec))
    if missing:
        raise ValueError(f"the model takes inputs the raw data lacks: {missing}")
    return {name: raw_spec[name] for name in kwargs}


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX API)
        import tensorflow_transform as tft

        from trainer.data import read_transformed
        from trainer.evaluation import evaluate_against_baselines, protocol_split
        from trainer.honesty import health
        from trainer.metrics import KS
        from trainer.run import METRICS_FILE

        policy = policy_from(exec_properties)
        qid, cid = exec_properties["query_id"], exec_properties["candidate_id"]
        model_uri = artifact_utils.get_single_uri(input_dict["model"])
        export_dir = path_utils.serving_model_path(model_uri)
        tft_output = tft.TFTransformOutput(
            artifact_utils.get_single_uri(input_dict["transform_graph"])
        )
        examples = input_dict["examples"]
        train = read_transformed(_split_files(examples, "train"), tft_output, [qid, cid])
        eval_ = read_transformed(_split_files(examples, "eval"), tft_output, [qid, cid])
        split = protocol_split(
            train[qid], train[cid], eval_[qid], eval_[cid],
            n_customers=tft_output.vocabulary_size_by_name(qid),
            n_products=tft_output.vocabulary_size_by_name(cid),
        )  # fmt: skip
        raw_eval = _split_files(input_dict["raw_examples"], "eval")
        raw_spec = tft_output.raw_feature_spec()
        query = dict(
            customer_column=qid,
            customer_vocabulary=tft_output.vocabulary_by_name(qid),
            product_vocabulary=tft_output.vocabulary_by_name(cid),
            split=split,
            ks=KS,
        )
        evaluation = evaluate_against_baselines(
            export_dir, raw_eval, _serving_inputs(export_dir, raw_spec), **query
        )
        metrics, baselines = evaluation["metrics"], evaluation["baselines"]
        trainer_metrics = read_artifact_json(input_dict["model_run"], METRICS_FILE)
        for name in RATING_METRICS:
            value = trainer_metrics.get("final_metrics", {}).get(name)
            if value is not None:
                metrics[name] = value

        champion, champion_metrics = self._champion(exec_properties, raw_eval, raw_spec, query)
        blessed, checks = decide(
            metrics, baselines, policy, champion_metrics,
            champion_name=f"champion v{champion['version']}" if champion else "champion",
        )  # fmt: skip
        record = evaluation_record(
            blessed=blessed, checks=checks, metrics=metrics, baselines=baselines,
            policy=policy, champion=champion,
        )  # fmt: skip
        record["eval"] = {
            "customers": len(split.customers),
            "customers_new": len(split.new_customers),
            "products": split.n_products,
            **evaluation["coverage"],
        }
        record["intervals"] = evaluation["intervals"]
        # The trainer judged its loss; the overlap is judged here, on the lists scored here.
        losses = (trainer_metrics.get("loss") or {}).get("loss", [])
        record["health"] = health(losses, evaluation["popularity_overlap"],
                                  initial=(trainer_metrics.get("health") or {}).get("initial_loss"))  # fmt: skip
        record["mlflow"] = trainer_metrics.get("mlflow")
        self._write(output_dict, record)
        log.info("RecsEvaluator: %s", record["summary"])

    @staticmethod
    def _champion(exec_properties, raw_eval, raw_spec, query):
        """(what the record says of the champion, its metrics on this split, or None)."""
        from registry import CHAMPION, open_registry
        from trainer.evaluation import evaluate_exported

        uri, name = exec_properties.get("registry_uri"), exec_properties.get("model_name")
        if not uri or not name:
            return None, None
        version = open_registry(uri).get(name, CHAMPION)
        if version is None:
            return None, None
        about: dict[str, Any] = {
            "model_name": name,
            "version": version.version,
            "artifact_uri": version.artifact_uri,
            "run_id": version.run_id,
        }
        try:
            inputs = _serving_inputs(version.artifact_uri, raw_spec)
            metrics = evaluate_exported(version.artifact_uri, raw_eval, inputs, **query).metrics
        except Exception as exc:  # noqa: BLE001 (any failure: the champion is not comparable)
            about["comparable"] = False
            about["error"] = f"{type(exc).__name__}: {exc}"
            log.warning("champion v%s not comparable on this split: %s", version.version, exc)
            return about, None
        about["comparable"] = True
        about["metrics"] = metrics
        return about, metrics

    @staticmethod
    def _write(output_dict, record: dict[str, Any]) -> None:
        evaluation = artifact_utils.get_single_instance(output_dict["evaluation"])
        io_utils.write_string_file(
            os.path.join(evaluation.uri, EVALUATION_FILE),
            json.dumps(record, indent=2, sort_keys=True),
        )
        blessing = artifact_utils.get_single_instance(output_dict["blessing"])
        # TFX's convention (its Evaluator and Pusher): a marker file and an int property.
        marker = "BLESSED" if record["blessed"] else "NOT_BLESSED"
        io_utils.write_string_file(os.path.join(blessing.uri, marker), "")
        blessing.set_int_custom_property("blessed", int(record["blessed"]))
