"""Executor of QueryExampleGen: query → sample → split → gzipped TFRecords of tf.train.Example."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import tensorflow as tf
from tfx import types
from tfx.components.util import examples_utils
from tfx.dsl.components.base import base_executor
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils
from tfx_bsl.coders import example_coder

from components import splitting
from components.warehouse import open_warehouse

logger = logging.getLogger(__name__)

EXAMPLES_KEY = "examples"
SPLIT_NAMES = ["train", "eval"]
# Same file naming as TFX's own ExampleGens, so tools that glob "data_tfrecord-*" keep working.
FILE_PREFIX = "data_tfrecord"
ROWS_PER_SHARD = 1_000_000
ROWS_PER_BATCH = 10_000
# Custom property holding the number of examples written to a split: num_rows_train, num_rows_eval.
ROW_COUNT_PROPERTY = "num_rows_{split}"


@dataclass(frozen=True)
class Settings:
    """The component's execution properties, typed and validated."""

    query: str
    warehouse_uri: str
    sample_percent: int = 100
    split_strategy: str = splitting.RANDOM
    eval_percent: int = 20
    holdout_days: int = 30
    seed: int = 42
    timestamp_column: str | None = None
    customer_column: str | None = None

    @classmethod
    def from_exec_properties(cls, props: dict[str, Any]) -> Settings:
        """Read and validate ``exec_properties``; empty strings mean "not set" for optional names
        (a Vertex RuntimeParameter of type str cannot be ``None``)."""
        for required in ("query", "warehouse_uri"):
            if not props.get(required):
                raise ValueError(f"QueryExampleGen: exec property {required!r} is required")
        settings = cls(
            query=props["query"],
            warehouse_uri=props["warehouse_uri"],
            sample_percent=int(props.get("sample_percent", 100)),
            split_strategy=props.get("split_strategy") or splitting.RANDOM,
            eval_percent=int(props.get("eval_percent", 20)),
            holdout_days=int(props.get("holdout_days", 30)),
            seed=int(props.get("seed", 42)),
            timestamp_column=props.get("timestamp_column") or None,
            customer_column=props.get("customer_column") or None,
        )
        splitting.validate_settings(
            split_strategy=settings.split_strategy,
            sample_percent=settings.sample_percent,
            eval_percent=settings.eval_percent,
            holdout_days=settings.holdout_days,
            timestamp_column=settings.timestamp_column,
        )
        return settings


def _feature_values(name: str, column: pa.Array) -> pa.Array:
    """One column as the flat values of a tf.Example feature, nulls filled.

    Every feature is present in every Example (strings default to "", numbers to 0): SchemaGen then
    infers dense, fixed-length features, which Transform reads as plain tensors instead of
    SparseTensors, and the generated preprocessing code can treat each column uniformly.
    """
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return pc.cast(column.fill_null(""), pa.binary())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return pc.cast(column.fill_null(b""), pa.binary())
    if pa.types.is_boolean(kind):
        return pc.cast(column.fill_null(False), pa.int64())
    if pa.types.is_integer(kind):
        return pc.cast(column.fill_null(0), pa.int64())
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        # float_list holds float32: the precision TFX/TF computes in anyway.
        return pc.cast(pc.cast(column, pa.float64()).fill_null(0.0), pa.float32())
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        filled = column.fill_null(pa.scalar(0, type=kind))  # the epoch, i.e. 0 seconds
        seconds = splitting.to_unix_seconds(filled, name)
        return pa.array(seconds, type=pa.int64())
    raise TypeError(
        f"column {name!r} has type {kind}, which QueryExampleGen cannot write to tf.Example; "
        "cast it in the query to STRING, INT64, FLOAT64, BOOL or TIMESTAMP"
    )


def _as_single_value_lists(values: pa.Array) -> pa.Array:
    offsets = pa.array(np.arange(len(values) + 1, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, values)


def encode_examples(table: pa.Table, rows_per_batch: int = ROWS_PER_BATCH) -> Iterator[bytes]:
    """Serialize each row of ``table`` as a tf.train.Example.

    Types: strings → bytes_list; integers and booleans → int64_list; floats → float_list;
    timestamps and dates → int64_list of unix seconds. The encoding runs in tfx_bsl's C++
    RecordBatchToExamplesEncoder, which takes one list column per feature.
    """
    encoder = example_coder.RecordBatchToExamplesEncoder()
    for batch in table.to_batches(max_chunksize=rows_per_batch):
        arrays = [
            _as_single_value_lists(_feature_values(name, column))
            for name, column in zip(batch.schema.names, batch.columns, strict=True)
        ]
        yield from encoder.encode(pa.RecordBatch.from_arrays(arrays, names=batch.schema.names))


def write_split(table: pa.Table, split_dir: str, rows_per_shard: int = ROWS_PER_SHARD) -> list[str]:
    """Write ``table`` as gzipped TFRecord shards ``data_tfrecord-SSSSS-of-NNNNN.gz``."""
    tf.io.gfile.makedirs(split_dir)
    num_shards = max(1, -(-table.num_rows // rows_per_shard))
    paths = []
    for shard in range(num_shards):
        path = os.path.join(split_dir, f"{FILE_PREFIX}-{shard:05d}-of-{num_shards:05d}.gz")
        part = table.slice(shard * rows_per_shard, rows_per_shard)
        with tf.io.TFRecordWriter(path, options="GZIP") as writer:
            for record in encode_examples(part):
                writer.write(record)
        paths.append(path)
    return paths


def run(settings: Settings, examples: types.Artifact) -> dict[str, int]:
    """Query, sample, split and write; fill in the artifact's properties. Returns rows per split."""
    warehouse = open_warehouse(settings.warehouse_uri)
    logger.info("QueryExampleGen: running the dataset query on %r", warehouse)
    table = warehouse.query(settings.query)
    logger.info("QueryExampleGen: read %d rows, columns %s", table.num_rows, table.column_names)

    if settings.sample_percent < 100:
        table = splitting.sample(
            table, settings.sample_percent, settings.seed, settings.customer_column
        )
        logger.info(
            "QueryExampleGen: kept %d rows after sampling %d%%%s",
            table.num_rows,
            settings.sample_percent,
            f" of customers ({settings.customer_column})" if settings.customer_column else "",
        )

    parts = splitting.split_table(
        table,
        settings.split_strategy,
        eval_percent=settings.eval_percent,
        holdout_days=settings.holdout_days,
        seed=settings.seed,
        timestamp_column=settings.timestamp_column,
    )

    examples.split_names = artifact_utils.encode_split_names(SPLIT_NAMES)
    counts = {}
    for name, part in parts.items():
        split_dir = artifact_utils.get_split_uri([examples], name)
        write_split(part, split_dir)
        counts[name] = part.num_rows
        examples.set_int_custom_property(ROW_COUNT_PROPERTY.format(split=name), part.num_rows)
        logger.info(
            "QueryExampleGen: wrote %d rows to split %s (%s)", part.num_rows, name, split_dir
        )
    # Declare what the files hold, as TFX's ExampleGens do, so downstream TFXIO readers need no guess.
    examples_utils.set_payload_format(examples, example_gen_pb2.PayloadFormat.FORMAT_TF_EXAMPLE)
    examples_utils.set_file_format(examples, "tfrecords_gzip")
    return counts


class Executor(base_executor.BaseExecutor):
    """Runs the dataset query and writes the train and eval splits as tf.Examples."""

    def Do(
        self,
        input_dict: dict[str, list[types.Artifact]],
        output_dict: dict[str, list[types.Artifact]],
        exec_properties: dict[str, Any],
    ) -> None:
        """TFX entry point: see the component's docstring for the properties."""
        self._log_startup(input_dict, output_dict, exec_properties)
        settings = Settings.from_exec_properties(exec_properties)
        examples = artifact_utils.get_single_instance(output_dict[EXAMPLES_KEY])
        run(settings, examples)
