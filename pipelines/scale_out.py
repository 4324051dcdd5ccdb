"""The scale-out parameters every template takes: Dataflow for the Beam stages, a Vertex AI
custom job (with GPUs) for the trainer. Their defaults run everything on this machine."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from components.scale_out import (
    MAX_ACCELERATORS,
    MAX_DATAFLOW_WORKERS,
    ScaleOutError,
    dataflow_settings,
    training_job_settings,
)
from specs.base import Spec

AcceleratorType = Literal[
    "", "NVIDIA_TESLA_T4", "NVIDIA_L4", "NVIDIA_TESLA_V100", "NVIDIA_TESLA_A100"
]


class ScaleOutParameters(Spec):
    """Where StatisticsGen, Transform and the trainer run (`components.scale_out`)."""

    project: str = Field(default="", description="the tenant's project: Dataflow and Vertex jobs")
    beam_runner: Literal["DirectRunner", "DataflowRunner"] = Field(
        default="DirectRunner", description="Beam runner of StatisticsGen and Transform"
    )
    dataflow_region: str = Field(default="", description="Dataflow region (DataflowRunner)")
    dataflow_temp_location: str = Field(default="", description="gs:// temp and staging path")
    dataflow_service_account: str = Field(default="", description="Dataflow workers' identity")
    dataflow_machine_type: str = "n1-standard-4"
    dataflow_max_workers: int = Field(default=10, ge=1, le=MAX_DATAFLOW_WORKERS)
    training_region: str = Field(
        default="",
        description="Vertex AI region of the trainer's custom job (the tenant's training "
        "region); empty: train in the pipeline's own process",
    )
    training_machine_type: str = "n1-standard-8"
    accelerator_type: AcceleratorType = Field(default="", description="GPU type; empty: CPU")
    accelerator_count: int = Field(
        default=0, ge=0, le=MAX_ACCELERATORS, description="GPUs of the trainer; 0: CPU"
    )
    training_service_account: str = Field(default="", description="the custom job's identity")
    worker_image: str = Field(
        default="",
        description="image of the Dataflow workers and the custom job; a compiled template "
        "defaults to the image it was compiled for",
    )

    @model_validator(mode="after")
    def _scale_out(self) -> Any:
        values = self.model_dump()
        try:
            dataflow_settings(values)
            training_job_settings(values)
        except ScaleOutError as exc:
            raise ValueError(str(exc)) from None
        return self
