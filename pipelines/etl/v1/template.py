"""etl v1: copy one client table (or file set) into the warehouse, exactly once per window.

The builder is pure: parameter values (literals locally, RuntimeParameters for Vertex AI) in, a
`tfx.dsl.Pipeline` of one step out. The step runs `etl.run.run_job`: one machine below a million
rows, Beam above (the DirectRunner locally, Dataflow from the pipeline's Beam settings in the
cloud). Schedules of the app pass the job spec as JSON; its password is a Secret Manager
reference resolved by the step, never a value in the run's parameters.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pipelines.template import PipelineTemplate

VERSION = "1.0.0"
COMPONENTS = ("EtlLoad",)


class EtlParameters(BaseModel):
    """The pipeline's inputs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    job: str = Field(min_length=2, description="the job spec as JSON (specs.etl.EtlJob)")
    warehouse_uri: str = Field(
        min_length=1, description="bigquery://<project>, or a local warehouse folder"
    )
    staging_uri: str = Field(
        default="", description="gs:// prefix where BigQuery loads are staged (with bigquery://)"
    )
    engine: Literal["job", "auto", "single", "distributed"] = Field(
        default="job", description="job: the job's own engine; otherwise it overrides it"
    )

    @field_validator("job")
    @classmethod
    def _job(cls, value: str) -> str:
        from specs.base import SpecError
        from specs.etl import load_job

        try:
            load_job(value)
        except SpecError as exc:
            raise ValueError("; ".join(f"{f}: {why}" for f, why in exc.problems)) from None
        return value

    @model_validator(mode="after")
    def _staging_for_bigquery(self):
        if self.warehouse_uri.startswith("bigquery://") and not self.staging_uri.startswith(
            "gs://"
        ):
            raise ValueError("staging_uri: a bigquery:// warehouse needs a gs:// staging prefix")
        return self


def create_pipeline(values: dict[str, Any], **runner: Any):
    """The ETL pipeline from parameter values (literals or RuntimeParameters)."""
    from etl.component import EtlLoad
    from pipelines.stages import assemble

    load = EtlLoad(job=values["job"], warehouse_uri=values["warehouse_uri"],
                   staging_uri=values["staging_uri"], engine=values["engine"])  # fmt: skip
    return assemble({load.id: load}, COMPONENTS, **runner)


TEMPLATE = PipelineTemplate(
    name="etl",
    version=VERSION,
    description=__doc__.strip().splitlines()[0],
    parameters=EtlParameters,
    components=COMPONENTS,
    build=create_pipeline,
)
