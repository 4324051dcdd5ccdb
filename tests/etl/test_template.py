"""pipelines/etl/v1: typed parameters, KFP IR, and a local run against the real PostgreSQL."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from pipelines.etl.v1 import TEMPLATE
from pipelines.registry import get_template
from specs import SpecError


def _job(source: dict) -> str:
    return json.dumps({"name": "orders", "source": source, "table": "orders",
                       "primary_key": ["id"], "destination": {"table": "orders"},
                       "strategy": {"kind": "transactional", "cursor_column": "at"}})  # fmt: skip


def test_the_template_is_registered_with_typed_parameters():
    assert get_template("etl") is TEMPLATE and TEMPLATE.tag == "etl-v1.0.0"
    job = _job({"kind": "postgresql", "database": "d", "user": "u"})
    assert TEMPLATE.validate({"job": job, "warehouse_uri": "/w"}).engine == "job"
    with pytest.raises(SpecError) as error:
        TEMPLATE.validate(
            {"job": json.dumps({"name": "x"}), "warehouse_uri": "/w", "engine": "gpu"}
        )
    text = str(error.value)
    assert "parameters: job: source: Field required" in text
    assert "engine: Input should be 'job', 'auto', 'single' or 'distributed'" in text
    with pytest.raises(SpecError, match="staging_uri: a bigquery:// warehouse needs a gs://"):
        TEMPLATE.validate({"job": job, "warehouse_uri": "bigquery://acme-prod"})
    cloud = {"job": job, "warehouse_uri": "bigquery://acme-prod", "staging_uri": "gs://b/etl"}
    assert TEMPLATE.validate(cloud).staging_uri == "gs://b/etl"
    params = TEMPLATE.runtime_parameters()
    assert params["job"].ptype is str and params["engine"].default == "job"


def test_the_stored_ir_has_one_step_and_typed_inputs():
    from pipelines import catalogue

    spec = catalogue.stored_ir(TEMPLATE)
    assert list(spec["root"]["dag"]["tasks"]) == ["EtlLoad"]
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert {k: v["parameterType"] for k, v in inputs.items()} == {
        "job": "STRING", "warehouse_uri": "STRING", "staging_uri": "STRING",
        "engine": "STRING"}  # fmt: skip
    assert spec["pipelineInfo"]["description"].startswith("etl-v1.0.0: ")


@pytest.mark.e2e
def test_a_local_run_loads_the_warehouse_and_reports(postgres, tmp_path):
    from pipelines.local import run_local

    postgres.sql(f"CREATE TABLE {postgres.table('orders')} (id bigint PRIMARY KEY, at timestamptz)",
                 f"INSERT INTO {postgres.table('orders')} SELECT i, '2024-01-01'::timestamptz + "
                 "i * interval '1 hour' FROM generate_series(1, 30) i")  # fmt: skip
    warehouse = tmp_path / "warehouse"
    run = run_local(TEMPLATE, {"job": _job(postgres.source()), "warehouse_uri": str(warehouse)},
                    root=tmp_path / "run", report=lambda line: None)  # fmt: skip
    report = run.read_json("EtlLoad", "report", "report.json")
    assert report["status"] == "success" and report["tables"][0]["rows_in_table"] == 30
    assert pq.read_table(warehouse / "raw_data" / "orders.parquet").num_rows == 30
