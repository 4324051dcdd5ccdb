"""ETL: client databases and files into the warehouse, incremental and exactly once per window.

`python -m etl discover|run` (see `etl.__main__`); the job spec is `specs.etl.EtlJob`; the
versioned template is `pipelines/etl/v1`; docs/etl.md describes the design.
"""
