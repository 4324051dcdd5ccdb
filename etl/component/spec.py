"""Component spec: a job and a warehouse in; the run's report out."""

from tfx.types import artifact
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

REPORT_FILE = "report.json"


class EtlReport(artifact.Artifact):
    """The report of one ETL run: `report.json` (`etl.run.run_report`)."""

    TYPE_NAME = "b2brecs.EtlReport"  # <namespace>.<title>, as KFP schema titles are


class EtlLoadSpec(ComponentSpec):
    INPUTS: dict = {}
    OUTPUTS = {"report": ChannelParameter(type=EtlReport)}
    PARAMETERS = {
        # The job spec as JSON (specs.etl.EtlJob); its password is a reference, never a value.
        "job": ExecutionParameter(type=str),
        "warehouse_uri": ExecutionParameter(type=str),
        # bigquery:// warehouses: where the window is staged as Parquet for the load job.
        "staging_uri": ExecutionParameter(type=str, optional=True),
        # "job" keeps the job's own engine; auto, single or distributed override it.
        "engine": ExecutionParameter(type=str),
    }
