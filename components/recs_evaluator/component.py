"""RecsEvaluator: recall/NDCG of the exported model next to the baselines, and the blessing."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import standard_artifacts

from components.recs_evaluator.executor import Executor
from components.recs_evaluator.spec import RecsEvaluatorSpec

StrParam = str | data_types.RuntimeParameter
FloatParam = float | data_types.RuntimeParameter


class RecsEvaluator(base_component.BaseComponent):
    """Evaluates the trained model's SavedModel on the eval split and decides its blessing.

    Outputs `evaluation` (`evaluation.json`: the verdict, every check and the figures behind
    them) and `blessing` (a ModelBlessing with `blessed` 1 or 0, as TFX's Evaluator writes it),
    which Pusher and the registration step read.
    """

    SPEC_CLASS = RecsEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        *,
        model: types.BaseChannel,
        model_run: types.BaseChannel,
        examples: types.BaseChannel,
        raw_examples: types.BaseChannel,
        transform_graph: types.BaseChannel,
        query_id: str,
        candidate_id: str,
        thresholds: StrParam = "{}",
        compared_metrics: StrParam = "recall_at_10,recall_at_100",
        baseline_margin: FloatParam = 0.0,
        champion_tolerance: FloatParam = 0.0,
        registry_uri: StrParam | None = None,
        model_name: StrParam | None = None,
    ):
        spec = RecsEvaluatorSpec(
            model=model,
            model_run=model_run,
            examples=examples,
            raw_examples=raw_examples,
            transform_graph=transform_graph,
            query_id=query_id,
            candidate_id=candidate_id,
            thresholds=thresholds,
            compared_metrics=compared_metrics,
            baseline_margin=baseline_margin,
            champion_tolerance=champion_tolerance,
            registry_uri=registry_uri,
            model_name=model_name,
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        )
        super().__init__(spec=spec)
