"""etl v1.x: EtlLoad (extract, merge, publish with the watermark, report)."""

from pipelines.etl.v1.template import TEMPLATE, EtlParameters, create_pipeline

__all__ = ["TEMPLATE", "EtlParameters", "create_pipeline"]
