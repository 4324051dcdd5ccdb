"""quicktest v1: sample the client's data, check it, transform it, train a retrieval model.

The builder is pure: it takes parameter values (literals for a local run, RuntimeParameters for
Vertex AI) and returns a `tfx.dsl.Pipeline`; runners decide where it executes.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

from pipelines.scale_out import ScaleOutParameters
from pipelines.stages import assemble, build_stages
from pipelines.template import PipelineTemplate
from specs.parameters import (
    FROM_TRAINER_MODULE,
    EvalPercent,
    HoldoutDays,
    SamplePercent,
    Seed,
    SplitStrategy,
    check_callback_url,
    check_tracking_uri,
    check_trainer_parameter,
)

_DEFERS = "0: the trainer module's value (its TrainingParams, then its ModelConfig)"

VERSION = "1.5.0"
COMPONENTS = ("QueryExampleGen", "StatisticsGen", "SchemaGen", "Transform", "RecsTrainer")


class QuickTestParameters(ScaleOutParameters):
    """The pipeline's inputs. Module paths point at the generated Transform and Trainer modules;
    the scale-out parameters say where the Beam stages and the trainer run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: str = Field(min_length=1, description="dataset query, BigQuery SQL")
    warehouse_uri: str = Field(
        min_length=1, description="bigquery://<project>, or a local warehouse folder"
    )
    transform_module: str = Field(min_length=1, description="path of the Transform module")
    trainer_module: str = Field(min_length=1, description="path of the Trainer module")
    # Bounds from specs.parameters, the run parameters' one declaration. Epochs, batch size and
    # learning rate default to FROM_TRAINER_MODULE (0): a run submitted without them trains with
    # the values its trainer module was generated from, never with a template-wide default.
    epochs: int = Field(default=FROM_TRAINER_MODULE, description=_DEFERS)
    batch_size: int = Field(default=FROM_TRAINER_MODULE, description=_DEFERS)
    learning_rate: float = Field(default=FROM_TRAINER_MODULE, description=_DEFERS)
    sample_percent: SamplePercent = 100
    split_strategy: SplitStrategy = "time_holdout"
    holdout_days: HoldoutDays = 30
    eval_percent: EvalPercent = 20
    seed: Seed = 42
    timestamp_column: str = Field(default="timestamp", description="output column of the query")
    customer_column: str = Field(default="customer_id", description="output column of the query")
    mlflow_tracking_uri: str = Field(
        default="",
        description="MLflow tracking URI: the tenant's MLflow service (https, called with an "
        "identity token); empty: a SQLite store in the run folder",
    )
    mlflow_experiment: str = Field(
        default="", description="MLflow experiment (the model endpoint); empty: the feature config"
    )

    callback_url: str = Field(
        default="",
        description="the app's webhook root for this run: stage-complete and epoch-complete are "
        "POSTed under it (trainer.progress); empty: no callbacks",
    )

    @field_validator("callback_url")
    @classmethod
    def _callback_url(cls, value: str) -> str:
        return check_callback_url(value)

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _tracking_uri(cls, value: str) -> str:
        return check_tracking_uri(value)

    @field_validator("epochs", "batch_size", "learning_rate")
    @classmethod
    def _trainer_parameter(cls, value, info):
        if value == FROM_TRAINER_MODULE:
            return value
        return check_trainer_parameter(info.field_name, value)


def create_pipeline(values: dict[str, Any], **runner: Any):
    """The quick-test pipeline from parameter values (literals or RuntimeParameters)."""
    stages = build_stages(values, run_name="quick-test")
    return assemble(stages, COMPONENTS, **runner)


TEMPLATE = PipelineTemplate(
    name="quicktest",
    version=VERSION,
    description=__doc__.strip().splitlines()[0],
    parameters=QuickTestParameters,
    components=COMPONENTS,
    build=create_pipeline,
    # The seeds' quick test: 1-15 epochs, batch sizes 1024-8192.
    limits={"epochs": (1, 15), "batch_size": (1024, 8192)},
)
