"""training v1: train on the client's data, gate the model on its evaluation, register it.

The quick test's stages (sample, describe, transform, train; `pipelines.stages`), then
ExampleValidator (anomalies of the data against its schema), RecsEvaluator (the exported
model's recall and NDCG next to the baselines and the champion; the blessing) and RecsRegistrar
(a blessed model is copied to its versioned path and registered as the champion) and
RecsDeployer (the champion served on 127.0.0.1 or on Cloud Run, when deploy_target asks for
it). A model that is not blessed is neither copied, registered nor deployed, and the run says
why.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from components.recs_deployer.settings import (
    DEPLOY_SETTINGS_KEYS,
    DeploySettingsError,
    deploy_settings,
)
from components.recs_evaluator.blessing import parse_thresholds
from pipelines.quicktest.v1.template import QuickTestParameters
from pipelines.stages import assemble, build_stages
from pipelines.template import PipelineTemplate

VERSION = "1.2.0"
COMPONENTS = (
    "QueryExampleGen",
    "StatisticsGen",
    "SchemaGen",
    "ExampleValidator",
    "Transform",
    "RecsTrainer",
    "RecsEvaluator",
    "RecsRegistrar",
    "RecsDeployer",
)
DEPLOYER_KEYS = (*DEPLOY_SETTINGS_KEYS, "models_dir")
_MODEL_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")


class TrainingParameters(QuickTestParameters):
    """The quick test's inputs, plus the evaluation gate, the registry and the served models."""

    product_column: str = Field(default="product_id", description="output column of the query")
    model_name: str = Field(description="the registered model: the tenant's endpoint")
    registry_uri: str = Field(
        default="",
        description="vertex://<project>/<region>, or an MLflow URI; empty: the local run's store",
    )
    models_dir: str = Field(
        default="",
        description="where blessed models are copied, <models_dir>/<model>/v<version>/; empty: "
        "the local run folder's models/",
    )
    thresholds: str = Field(
        default="{}", description='JSON {"metric": minimum} (maximum for RMSE/MAE)'
    )
    compared_metrics: str = Field(
        default="recall_at_10,recall_at_100",
        description="metrics compared with the best baseline and the champion",
    )
    baseline_margin: float = Field(default=0.0, ge=0.0, le=10.0)
    champion_tolerance: float = Field(default=0.0, ge=0.0, lt=1.0)
    curated_schema: str = Field(
        default="",
        description="the tenant's curated schema (schema.pbtxt): the data is validated, "
        "transformed and trained against it; empty: the schema inferred from the statistics",
    )
    deploy_target: Literal["none", "local", "cloud_run"] = Field(
        default="none",
        description="where the registered champion is served: none (the Deploy stage is "
        "skipped), local (the model server on 127.0.0.1), cloud_run (the endpoint's service)",
    )
    deploy_preset: Literal["development", "production", "high-traffic"] = "development"
    deploy_region: str = Field(default="", description="Cloud Run region (cloud_run)")
    deploy_public: int = Field(
        default=0,
        ge=0,
        le=1,
        description="1: anyone may call the service (the tenant's "
        "endpoint is marked public); 0: only the app",
    )
    deploy_port: int = Field(default=0, ge=0, le=65535, description="local port; 0: any free")

    @field_validator("model_name")
    @classmethod
    def _model_name(cls, value: str) -> str:
        if not _MODEL_NAME.fullmatch(value):
            raise ValueError(
                "1-63 lowercase letters, digits, hyphens and underscores, starting with a letter"
            )
        return value

    @field_validator("thresholds")
    @classmethod
    def _thresholds(cls, value: str) -> str:
        parse_thresholds(value)
        return value

    @model_validator(mode="after")
    def _deploy(self) -> Any:
        try:
            deploy_settings(self.model_dump())
        except DeploySettingsError as exc:
            raise ValueError(str(exc)) from None
        return self


def create_pipeline(values: dict[str, Any], **runner: Any):
    """The training pipeline from parameter values (literals or RuntimeParameters)."""
    from tfx import v1 as tfx

    from components.recs_deployer.component import RecsDeployer
    from components.recs_evaluator.component import RecsEvaluator
    from components.recs_registrar.component import RecsRegistrar

    stages = build_stages(values, run_name="training")
    example_gen, trainer = stages["QueryExampleGen"], stages["RecsTrainer"]
    stages["ExampleValidator"] = tfx.components.ExampleValidator(
        statistics=stages["StatisticsGen"].outputs["statistics"],
        schema=stages["SchemaGen"].outputs["schema"],
    )
    evaluator = RecsEvaluator(
        model=trainer.outputs["model"],
        model_run=trainer.outputs["model_run"],
        examples=example_gen.outputs["examples"],
        raw_examples=example_gen.outputs["examples"],
        transform_graph=stages["Transform"].outputs["transform_graph"],
        query_id=values["customer_column"],
        candidate_id=values["product_column"],
        thresholds=values["thresholds"],
        compared_metrics=values["compared_metrics"],
        baseline_margin=values["baseline_margin"],
        champion_tolerance=values["champion_tolerance"],
        registry_uri=values["registry_uri"],
        model_name=values["model_name"],
    )
    stages["RecsEvaluator"] = evaluator
    registrar = stages["RecsRegistrar"] = RecsRegistrar(
        model=trainer.outputs["model"],
        model_run=trainer.outputs["model_run"],
        blessing=evaluator.outputs["blessing"],
        evaluation=evaluator.outputs["evaluation"],
        registry_uri=values["registry_uri"],
        model_name=values["model_name"],
        models_dir=values["models_dir"],
        worker_image=values["worker_image"],
    )
    stages["RecsDeployer"] = RecsDeployer(
        registration=registrar.outputs["registration"],
        **{key: values[key] for key in DEPLOYER_KEYS},
    )
    return assemble(stages, COMPONENTS, **runner)


TEMPLATE = PipelineTemplate(
    name="training",
    version=VERSION,
    description=__doc__.strip().splitlines()[0],
    parameters=TrainingParameters,
    components=COMPONENTS,
    build=create_pipeline,
    limits={"epochs": (1, 100), "batch_size": (256, 32768)},
)
