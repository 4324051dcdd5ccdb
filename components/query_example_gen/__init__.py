"""QueryExampleGen: BigQuery SQL (or DuckDB over local Parquet) → sampled train/eval tf.Examples."""

from components.query_example_gen.component import QueryExampleGen, QueryExampleGenSpec
from components.query_example_gen.executor import Executor

__all__ = ["Executor", "QueryExampleGen", "QueryExampleGenSpec"]
