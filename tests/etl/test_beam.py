"""The distributed engine (Beam on the DirectRunner) loads the same rows as the single machine."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from etl.run import choose_engine, run_job
from specs.etl import DISTRIBUTED_FROM_ROWS, load_job

pytestmark = pytest.mark.integration


def test_beam_gives_the_same_rows_as_one_machine(postgres, tmp_path):
    postgres.sql(
        f"CREATE TABLE {postgres.table('tx')} (id bigint PRIMARY KEY, customer text, "
        "amount numeric(10,2), tags text[], at timestamptz)",
        f"INSERT INTO {postgres.table('tx')} SELECT i, 'c' || (i % 7), i * 0.25, "
        "ARRAY['t' || (i % 3)], '2024-01-01'::timestamptz + i * interval '1 minute' "
        "FROM generate_series(1, 500) i",
    )
    spec = {"name": "tx", "source": postgres.source(), "table": "tx", "primary_key": ["id"],
            "strategy": {"kind": "transactional", "cursor_column": "at"},
            "destination": {"table": "tx"}, "partitions": 4}  # fmt: skip
    single = run_job(load_job({**spec, "engine": "single"}), tmp_path / "single")
    distributed = run_job(load_job({**spec, "engine": "distributed"}), tmp_path / "beam")
    assert (single.engine, distributed.engine) == ("single", "distributed")
    assert single.status == distributed.status == "success", distributed.error
    a = pq.read_table(tmp_path / "single" / "raw_data" / "tx.parquet").sort_by("id")
    b = pq.read_table(tmp_path / "beam" / "raw_data" / "tx.parquet").sort_by("id")
    assert a.num_rows == 500 and a.schema.remove_metadata() == b.schema.remove_metadata()
    assert a.to_pylist() == b.to_pylist()
    assert single.watermark_after == distributed.watermark_after


def test_auto_engine_moves_to_beam_at_a_million_rows():
    job = load_job({"name": "j", "source": {"kind": "postgresql", "database": "d", "user": "u"},
                    "table": "t", "destination": {"table": "t"}})  # fmt: skip
    assert choose_engine(job, DISTRIBUTED_FROM_ROWS - 1) == "single"
    assert choose_engine(job, DISTRIBUTED_FROM_ROWS) == "distributed"
    assert choose_engine(job.model_copy(update={"engine": "single"}), 10**9) == "single"
