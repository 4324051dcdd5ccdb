"""Where the heavy stages run: Beam on Dataflow, the trainer as a Vertex AI custom job.

Both templates take the same scale-out parameters. Each is an execution parameter of the
component that uses it, so on Vertex AI every one is a typed pipeline input a caller sets per
run; locally they keep their defaults (the DirectRunner, training in the pipeline's process).

The settings are checked here, once: the templates' parameter schemas call these checks when a
run is submitted, and the executors call them again at run time, because a compiled pipeline's
inputs reach the executors without passing through the schema.

Not verified against the live services (no cloud access here): the Beam flags are Dataflow's
documented pipeline options, the job is TFX's Vertex AI CustomJob (`tfx.extensions.
google_cloud_ai_platform`), whose worker pool this module builds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from infra.config import GPU_TRAINING_REGIONS

DIRECT, DATAFLOW = "DirectRunner", "DataflowRunner"
BEAM_RUNNERS = (DIRECT, DATAFLOW)
ACCELERATOR_TYPES = tuple(sorted(GPU_TRAINING_REGIONS))
MAX_ACCELERATORS = 8  # the most GPUs one Vertex AI worker machine carries
MAX_DATAFLOW_WORKERS = 1000

_PROJECT = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
REGION = re.compile(r"[a-z]+-[a-z]+[0-9]+")
_MACHINE_TYPE = re.compile(r"[a-z][a-z0-9]*-[a-z0-9-]+")
_SERVICE_ACCOUNT = re.compile(
    r"[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.-]+\.iam\.gserviceaccount\.com"
)
_IMAGE = re.compile(r"[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[0-9a-f]{64})")

DATAFLOW_KEYS = (
    "beam_runner",
    "project",
    "dataflow_region",
    "dataflow_temp_location",
    "dataflow_service_account",
    "dataflow_machine_type",
    "dataflow_max_workers",
    "worker_image",
)
"""The execution parameters of a Beam stage (StatisticsGen, Transform)."""

TRAINING_JOB_KEYS = (
    "project",
    "training_region",
    "training_machine_type",
    "accelerator_type",
    "accelerator_count",
    "training_service_account",
    "worker_image",
)
"""The execution parameters of the trainer's Vertex AI custom job."""


class ScaleOutError(ValueError):
    """A scale-out setting is missing or malformed; the message names the parameter."""


def _check(name: str, value: str, pattern: re.Pattern, what: str) -> None:
    if not pattern.fullmatch(value):
        raise ScaleOutError(f"{name}: {value!r} is not {what}")


def _check_image(name: str, value: str) -> None:
    _check(name, value, _IMAGE, "a container image with an explicit tag or digest")
    if value.endswith(":latest"):
        raise ScaleOutError(f"{name}: {value!r}: pin a version, never :latest")


@dataclass(frozen=True)
class DataflowSettings:
    """Beam's runner for a stage: the DirectRunner, or Dataflow in the tenant's project."""

    beam_runner: str = DIRECT
    project: str = ""
    dataflow_region: str = ""
    dataflow_temp_location: str = ""
    dataflow_service_account: str = ""
    dataflow_machine_type: str = "n1-standard-4"
    dataflow_max_workers: int = 10
    worker_image: str = ""

    def __post_init__(self) -> None:
        if self.beam_runner not in BEAM_RUNNERS:
            raise ScaleOutError(f"beam_runner: {self.beam_runner!r} is not one of {BEAM_RUNNERS}")
        if not 1 <= self.dataflow_max_workers <= MAX_DATAFLOW_WORKERS:
            raise ScaleOutError(
                f"dataflow_max_workers: {self.dataflow_max_workers} is not in "
                f"1..{MAX_DATAFLOW_WORKERS}"
            )
        if self.beam_runner != DATAFLOW:
            return
        _check("project", self.project, _PROJECT, "a Google Cloud project id")
        _check("dataflow_region", self.dataflow_region, REGION, "a region such as europe-west4")
        if not re.fullmatch(r"gs://[a-z0-9][a-z0-9._-]{2,62}(/\S*)?", self.dataflow_temp_location):
            raise ScaleOutError(
                f"dataflow_temp_location: {self.dataflow_temp_location!r} is not a gs:// path"
            )
        _check(
            "dataflow_service_account",
            self.dataflow_service_account,
            _SERVICE_ACCOUNT,
            "a service account email",
        )
        _check("dataflow_machine_type", self.dataflow_machine_type, _MACHINE_TYPE, "a machine type")
        _check_image("worker_image", self.worker_image)

    def beam_args(self) -> list[str]:
        """The Beam flags that send the stage to Dataflow; none for the DirectRunner."""
        if self.beam_runner != DATAFLOW:
            return []
        return [
            f"--runner={DATAFLOW}",
            f"--project={self.project}",
            f"--region={self.dataflow_region}",
            f"--temp_location={self.dataflow_temp_location}",
            f"--service_account_email={self.dataflow_service_account}",
            f"--machine_type={self.dataflow_machine_type}",
            f"--max_num_workers={self.dataflow_max_workers}",
            # The workers run the platform's image, which holds the trainer library the
            # Transform module imports; custom containers need Runner v2.
            f"--sdk_container_image={self.worker_image}",
            "--experiments=use_runner_v2",
        ]


@dataclass(frozen=True)
class TrainingJobSettings:
    """Where the trainer runs: in the pipeline's process (no region), or a Vertex AI custom
    job in the tenant's training region, on CPUs or with `accelerator_count` GPUs."""

    project: str = ""
    training_region: str = ""
    training_machine_type: str = "n1-standard-8"
    accelerator_type: str = ""
    accelerator_count: int = 0
    training_service_account: str = ""
    worker_image: str = ""

    def __post_init__(self) -> None:
        if not 0 <= self.accelerator_count <= MAX_ACCELERATORS:
            raise ScaleOutError(
                f"accelerator_count: {self.accelerator_count} is not in 0..{MAX_ACCELERATORS}"
            )
        if self.accelerator_type and self.accelerator_type not in ACCELERATOR_TYPES:
            raise ScaleOutError(
                f"accelerator_type: {self.accelerator_type!r} is not one of {ACCELERATOR_TYPES}"
            )
        if not self.training_region:
            if self.accelerator_count:
                raise ScaleOutError(
                    "accelerator_count: GPUs need a Vertex AI custom job: set training_region"
                )
            return
        _check("project", self.project, _PROJECT, "a Google Cloud project id")
        _check("training_region", self.training_region, REGION, "a region such as europe-west4")
        _check("training_machine_type", self.training_machine_type, _MACHINE_TYPE, "a machine type")
        _check(
            "training_service_account",
            self.training_service_account,
            _SERVICE_ACCOUNT,
            "a service account email",
        )
        _check_image("worker_image", self.worker_image)
        if self.accelerator_count and not self.accelerator_type:
            raise ScaleOutError("accelerator_type: required when accelerator_count is above 0")
        if self.accelerator_type and not self.accelerator_count:
            raise ScaleOutError("accelerator_count: 0 with an accelerator_type; set 1 or more")
        if self.accelerator_type:
            regions = GPU_TRAINING_REGIONS[self.accelerator_type]
            if self.training_region not in regions:
                raise ScaleOutError(
                    f"training_region: {self.training_region!r} offers no {self.accelerator_type}"
                    f"; use one of {sorted(regions)}"
                )

    @property
    def on_vertex(self) -> bool:
        return bool(self.training_region)

    def job_args(self, *, display_name: str, labels: Mapping[str, str]) -> dict[str, Any]:
        """The CustomJob TFX's Vertex AI job client submits (`job_args` of `runner.
        start_cloud_training`): one worker pool of the platform's image, with the GPUs."""
        machine: dict[str, Any] = {"machine_type": self.training_machine_type}
        if self.accelerator_count:
            machine["accelerator_type"] = self.accelerator_type
            machine["accelerator_count"] = self.accelerator_count
        return {
            "project": self.project,
            "display_name": display_name,
            "labels": dict(labels),
            "job_spec": {
                "worker_pool_specs": [
                    {
                        "machine_spec": machine,
                        "replica_count": 1,
                        "container_spec": {"image_uri": self.worker_image},
                    }
                ],
                "service_account": self.training_service_account,
            },
        }


def set_values(values: Mapping[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """The `keys` of `values` that are set: an unset execution parameter arrives as None, and
    an empty pipeline input as "" (both mean: the setting's default)."""
    return {key: values[key] for key in keys if values.get(key) not in (None, "")}


def dataflow_settings(values: Mapping[str, Any]) -> DataflowSettings:
    """The Beam settings among `values` (execution properties or template parameters)."""
    return DataflowSettings(**set_values(values, DATAFLOW_KEYS))


def training_job_settings(values: Mapping[str, Any]) -> TrainingJobSettings:
    """The trainer's job settings among `values`."""
    return TrainingJobSettings(**set_values(values, TRAINING_JOB_KEYS))
