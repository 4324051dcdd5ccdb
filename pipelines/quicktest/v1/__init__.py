"""quicktest v1.x: ExampleGen, StatisticsGen, SchemaGen, Transform, Trainer."""

from pipelines.quicktest.v1.template import TEMPLATE, QuickTestParameters, create_pipeline

__all__ = ["TEMPLATE", "QuickTestParameters", "create_pipeline"]
