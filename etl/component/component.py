"""EtlLoad: one ETL job into the warehouse as a pipeline step."""

from __future__ import annotations

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types

from etl.component.executor import Executor
from etl.component.spec import EtlLoadSpec, EtlReport

StrParam = str | data_types.RuntimeParameter


class EtlLoad(base_component.BaseComponent):
    """Runs `etl.run.run_job` for the job (extraction on one machine or on Beam, the merge and
    the atomic publish with the watermark) and outputs the run's report."""

    SPEC_CLASS = EtlLoadSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(self, *, job: StrParam, warehouse_uri: StrParam, staging_uri: StrParam = "",
                 engine: StrParam = "job"):  # fmt: skip
        super().__init__(
            spec=EtlLoadSpec(
                job=job,
                warehouse_uri=warehouse_uri,
                staging_uri=staging_uri,
                engine=engine,
                report=types.Channel(type=EtlReport),
            )
        )
