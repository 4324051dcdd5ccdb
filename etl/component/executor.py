"""Executor: run the job into the warehouse, write its report, fail the step if a table failed."""

from __future__ import annotations

import json
import os

from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from etl.component.spec import REPORT_FILE


class Executor(base_executor.BaseExecutor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX API)
        from etl.run import run_job, run_report
        from specs.etl import load_job

        job = load_job(exec_properties["job"])
        engine = exec_properties.get("engine") or "job"
        if engine != "job":
            job = job.model_copy(update={"engine": engine})
        warehouse = exec_properties["warehouse_uri"]
        # The pipeline's Beam settings (DirectRunner locally, Dataflow in the cloud) are the
        # distributed engine's.
        beam_args = list(getattr(self._context, "beam_pipeline_args", None) or []) or None
        if warehouse.startswith("bigquery://"):
            from etl.cloud import run_job_bigquery

            project = warehouse.removeprefix("bigquery://").strip("/")
            table = run_job_bigquery(job, project, exec_properties.get("staging_uri") or "",
                                     beam_args=beam_args)  # fmt: skip
        else:
            table = run_job(job, warehouse.removeprefix("file://"), beam_args=beam_args)
        report = run_report([table])
        out = artifact_utils.get_single_instance(output_dict["report"])
        io_utils.write_string_file(os.path.join(out.uri, REPORT_FILE), json.dumps(report, indent=2))
        out.set_string_custom_property("status", report["status"])
        out.set_int_custom_property("rows_extracted", report["total_rows_extracted"])
        if report["status"] != "success":
            raise RuntimeError(f"ETL job {job.name} failed: {report['tables'][0]['error']}")
