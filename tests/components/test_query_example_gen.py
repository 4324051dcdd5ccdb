"""QueryExampleGen executor and component, on a tiny local warehouse written per test."""

from __future__ import annotations

import glob
import os

import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from tfx.types import artifact_utils, standard_artifacts

from components.query_example_gen import Executor, QueryExampleGen
from components.splitting import EmptySplitError
from components.warehouse import LocalWarehouse, TableNotFoundError

QUERY = """
SELECT
  `customer_id`,
  `product_id`,
  UNIX_SECONDS(`timestamp`) AS `timestamp`,
  `quantity`,
  `unit_price`,
  `is_promo`,
  `note`
FROM `raw_data`.`transactions`
"""


@pytest.fixture()
def warehouse_root(tmp_path) -> str:
    n = 100
    days = np.repeat(np.arange(50), 2)  # 2 rows a day over 50 days
    wh = LocalWarehouse(tmp_path / "warehouse")
    wh.write_table(
        "raw_data",
        "transactions",
        pd.DataFrame(
            {
                "customer_id": [f"C{i % 10:05d}" for i in range(n)],
                "product_id": [f"P{i % 7:06d}" for i in range(n)],
                "timestamp": pd.Timestamp("2011-10-21 09:00") + pd.to_timedelta(days, unit="D"),
                "quantity": np.arange(n, dtype=np.int64) + 1,
                "unit_price": np.linspace(0.5, 5.0, n),
                "is_promo": [i % 3 == 0 for i in range(n)],
                "note": [None if i % 4 == 0 else "ok" for i in range(n)],
            }
        ),
    )
    return str(wh.root)


def new_examples(tmp_path) -> standard_artifacts.Examples:
    artifact = standard_artifacts.Examples()
    artifact.uri = str(tmp_path / "examples")
    os.makedirs(artifact.uri, exist_ok=True)
    return artifact


def run(tmp_path, **props) -> standard_artifacts.Examples:
    artifact = new_examples(tmp_path)
    Executor().Do(input_dict={}, output_dict={"examples": [artifact]}, exec_properties=props)
    return artifact


# Executor settings the warehouse tests share; each test passes the ones it is about.
SHARED_SETTINGS = {
    "query": QUERY,
    "sample_percent": 100,
    "eval_percent": 20,
    "holdout_days": 30,
    "seed": 1,
}


def run_query(tmp_path, warehouse_uri: str, **settings) -> standard_artifacts.Examples:
    """Run the executor on ``warehouse_uri`` with :data:`SHARED_SETTINGS` updated by ``settings``."""
    return run(tmp_path, **{**SHARED_SETTINGS, "warehouse_uri": warehouse_uri, **settings})


def read_split(artifact, split: str) -> list[tf.train.Example]:
    files = glob.glob(os.path.join(artifact_utils.get_split_uri([artifact], split), "*.gz"))
    dataset = tf.data.TFRecordDataset(files, compression_type="GZIP")
    return [tf.train.Example.FromString(record.numpy()) for record in dataset]


def test_time_holdout_writes_tfx_layout_and_counts(tmp_path, warehouse_root):
    artifact = run_query(
        tmp_path,
        warehouse_root,
        split_strategy="time_holdout",
        holdout_days=10,
        timestamp_column="timestamp",
        customer_column="",
    )
    assert artifact_utils.decode_split_names(artifact.split_names) == ["train", "eval"]
    assert os.listdir(os.path.join(artifact.uri, "Split-train")) == [
        "data_tfrecord-00000-of-00001.gz"
    ]
    # latest day is day 49 → cutoff is the start of day 39: days 39..49 = 11 days x 2 rows
    assert artifact.get_int_custom_property("num_rows_eval") == 22
    assert artifact.get_int_custom_property("num_rows_train") == 78
    assert artifact.get_string_custom_property("payload_format") == "FORMAT_TF_EXAMPLE"
    train, evals = read_split(artifact, "train"), read_split(artifact, "eval")
    assert (len(train), len(evals)) == (78, 22)
    latest_train = max(e.features.feature["timestamp"].int64_list.value[0] for e in train)
    earliest_eval = min(e.features.feature["timestamp"].int64_list.value[0] for e in evals)
    assert latest_train < earliest_eval


def test_feature_types_and_null_filling(tmp_path, warehouse_root):
    artifact = run_query(
        tmp_path, warehouse_root, split_strategy="strict_temporal", timestamp_column="timestamp"
    )
    first = read_split(artifact, "train")[0].features.feature
    assert first["customer_id"].bytes_list.value == [b"C00000"]
    assert first["quantity"].int64_list.value == [1]
    assert first["timestamp"].int64_list.value == [
        int(pd.Timestamp("2011-10-21 09:00").timestamp())
    ]
    assert first["unit_price"].float_list.value == [pytest.approx(0.5)]
    assert first["is_promo"].int64_list.value == [1]
    assert first["note"].bytes_list.value == [b""]  # NULL filled: every feature is present
    assert all(len(example.features.feature) == 7 for example in read_split(artifact, "eval"))


def test_customer_sampling_and_random_split(tmp_path, warehouse_root):
    artifact = run_query(
        tmp_path,
        f"file://{warehouse_root}",
        sample_percent=50,
        split_strategy="random",
        eval_percent=30,
        seed=3,
        customer_column="customer_id",
    )
    train, evals = read_split(artifact, "train"), read_split(artifact, "eval")
    customers = {e.features.feature["customer_id"].bytes_list.value[0] for e in train + evals}
    assert len(train) + len(evals) == 10 * len(customers)  # whole customers (10 rows each)
    assert 0 < len(customers) < 10
    assert artifact.get_int_custom_property("num_rows_eval") == len(evals) > 0


def test_empty_eval_split_fails_with_reason(tmp_path, warehouse_root):
    with pytest.raises(EmptySplitError, match="train split is empty.*holdout_days=365"):
        run_query(
            tmp_path,
            warehouse_root,
            split_strategy="time_holdout",
            holdout_days=365,
            timestamp_column="timestamp",
        )


def test_unknown_table_fails_with_table_name(tmp_path, warehouse_root):
    with pytest.raises(TableNotFoundError, match="raw_data.orders"):
        run_query(
            tmp_path, warehouse_root, query="SELECT * FROM raw_data.orders", split_strategy="random"
        )


def test_bad_settings_fail_before_querying(tmp_path):
    with pytest.raises(ValueError, match="unknown split_strategy"):
        run(tmp_path, query="SELECT 1", warehouse_uri="/nonexistent", split_strategy="magic")
    with pytest.raises(ValueError, match="'query' is required"):
        run(tmp_path, query="", warehouse_uri="/nonexistent")


def test_component_spec_and_definition_time_validation():
    component = QueryExampleGen(query=QUERY, warehouse_uri="bigquery://tenant-a", seed=9)
    assert component.exec_properties["seed"] == 9
    assert component.exec_properties["split_strategy"] == "random"
    assert "examples" in component.outputs
    with pytest.raises(ValueError, match="needs a timestamp_column"):
        QueryExampleGen(query=QUERY, warehouse_uri="/w", split_strategy="strict_temporal")


def test_component_accepts_runtime_parameters():
    # tfx.dsl.experimental.RuntimeParameter, imported from its module to skip loading tfx.v1.
    from tfx.orchestration.data_types import RuntimeParameter

    eval_percent = RuntimeParameter(name="eval_percent", ptype=int, default=20)
    strategy = RuntimeParameter(name="strategy", ptype=str, default="random")
    component = QueryExampleGen(
        query=QUERY, warehouse_uri="/w", eval_percent=eval_percent, split_strategy=strategy
    )
    assert component.exec_properties["eval_percent"] is eval_percent


@pytest.mark.e2e
def test_local_pipeline_with_statistics_gen(tmp_path, warehouse_root):
    # Direct imports rather than `tfx.v1`, which also loads the KFP/Vertex SDKs (~15 s).
    from tfx.components import StatisticsGen
    from tfx.orchestration import metadata, pipeline
    from tfx.orchestration.local.local_dag_runner import LocalDagRunner

    example_gen = QueryExampleGen(
        query=QUERY,
        warehouse_uri=warehouse_root,
        split_strategy="strict_temporal",
        eval_percent=25,
        timestamp_column="timestamp",
    )
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"])
    LocalDagRunner().run(
        pipeline.Pipeline(
            pipeline_name="query_example_gen_e2e",
            pipeline_root=str(tmp_path / "root"),
            components=[example_gen, statistics_gen],
            metadata_connection_config=metadata.sqlite_metadata_connection_config(
                str(tmp_path / "metadata.sqlite")
            ),
            beam_pipeline_args=["--direct_num_workers=1"],
        )
    )
    stats = glob.glob(str(tmp_path / "root" / "StatisticsGen" / "statistics" / "*" / "Split-*"))
    assert sorted(os.path.basename(p) for p in stats) == ["Split-eval", "Split-train"]
    assert all(os.path.exists(os.path.join(p, "FeatureStats.pb")) for p in stats)
