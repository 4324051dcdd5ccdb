"""QueryExampleGen: a TFX ExampleGen whose source is a dataset query in BigQuery SQL."""

from __future__ import annotations

from typing import Any

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter

from components import splitting
from components.query_example_gen.executor import EXAMPLES_KEY, Executor


class QueryExampleGenSpec(types.ComponentSpec):
    """Parameters are primitives only, so each one may be a Vertex RuntimeParameter."""

    PARAMETERS = {
        "query": ExecutionParameter(type=str),
        "warehouse_uri": ExecutionParameter(type=str),
        "sample_percent": ExecutionParameter(type=int),
        "split_strategy": ExecutionParameter(type=str),
        "eval_percent": ExecutionParameter(type=int),
        "holdout_days": ExecutionParameter(type=int),
        "seed": ExecutionParameter(type=int),
        "timestamp_column": ExecutionParameter(type=str, optional=True),
        "customer_column": ExecutionParameter(type=str, optional=True),
    }
    INPUTS: dict[str, ChannelParameter] = {}
    OUTPUTS = {EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples)}


def _is_plain(*values: Any) -> bool:
    """True when no value is a RuntimeParameter/placeholder (those are only known at run time)."""
    return all(isinstance(v, (int, str, type(None))) for v in values)


class QueryExampleGen(base_component.BaseComponent):
    """Runs a BigQuery SQL dataset query and emits ``train``/``eval`` splits of tf.Examples.

    On ``bigquery://PROJECT`` the query runs on BigQuery; on a local path (or ``file://PATH``) it is
    transpiled to DuckDB and runs over ``<path>/<dataset>/<table>.parquet``. Rows are then sampled
    (``sample_percent``, whole customers when ``customer_column`` is set) and split by
    ``split_strategy``: ``random`` (``eval_percent``), ``time_holdout`` (last ``holdout_days`` days)
    or ``strict_temporal`` (latest ``eval_percent``% of rows by time). Temporal strategies need
    ``timestamp_column``. The ``examples`` output carries custom properties ``num_rows_train`` and
    ``num_rows_eval``.
    """

    SPEC_CLASS = QueryExampleGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        query: str,
        warehouse_uri: str,
        *,
        sample_percent: int = 100,
        split_strategy: str = splitting.RANDOM,
        eval_percent: int = 20,
        holdout_days: int = 30,
        seed: int = 42,
        timestamp_column: str | None = None,
        customer_column: str | None = None,
    ) -> None:
        # Fail at pipeline-definition time when the values are known; runtime parameters are
        # validated by the executor instead.
        if _is_plain(split_strategy, sample_percent, eval_percent, holdout_days, timestamp_column):
            splitting.validate_settings(
                split_strategy=split_strategy,
                sample_percent=sample_percent,
                eval_percent=eval_percent,
                holdout_days=holdout_days,
                timestamp_column=timestamp_column,
            )
        spec = QueryExampleGenSpec(
            query=query,
            warehouse_uri=warehouse_uri,
            sample_percent=sample_percent,
            split_strategy=split_strategy,
            eval_percent=eval_percent,
            holdout_days=holdout_days,
            seed=seed,
            timestamp_column=timestamp_column,
            customer_column=customer_column,
            examples=types.Channel(type=standard_artifacts.Examples),
        )
        super().__init__(spec=spec)
