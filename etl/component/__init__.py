"""EtlLoad: the TFX component of the ETL template (`pipelines/etl/v1`)."""

from etl.component.component import EtlLoad

__all__ = ["EtlLoad"]
