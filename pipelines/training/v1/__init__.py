"""training v1.x: the quick test's stages, then ExampleValidator, RecsEvaluator, RecsRegistrar."""

from pipelines.training.v1.template import TEMPLATE, TrainingParameters, create_pipeline

__all__ = ["TEMPLATE", "TrainingParameters", "create_pipeline"]
