"""The distributed engine: the same job's range queries as an Apache Beam pipeline (Dataflow in
the cloud, the DirectRunner here), each range read on a worker and written as one Parquet shard.

The shards land in the run's staging folder; the publish step (merge on the key, watermark,
atomic rename or BigQuery MERGE) is the single-machine one, so both engines give the same table.
Workers resolve the password themselves from the job's reference (Secret Manager on Dataflow):
the pipeline graph carries the reference, never the password.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.options.pipeline_options import PipelineOptions

from specs.etl import EtlJob


class ReadRange(beam.DoFn):
    """(index, query) → the range's rows written to `<out>/part-<index>.parquet`; yields rows."""

    def __init__(self, job: EtlJob, schema: pa.Schema, out: str) -> None:
        self.job, self.schema, self.out = job, schema, out
        self.db = None

    def setup(self):
        from etl.secrets import resolve
        from etl.sources import Database

        self.db = Database(self.job.source, resolve(self.job.source.password))

    def process(self, element):
        from pyarrow import fs

        from etl.run import conform

        index, query = element
        table = conform(self.db.read_arrow([query]), self.schema)
        filesystem, root = fs.FileSystem.from_uri(self.out)
        pq.write_table(table, f"{root}/part-{index:05d}.parquet", filesystem=filesystem)
        yield table.num_rows


def build_pipeline(job: EtlJob, queries: list[str], schema: pa.Schema, out: str,
                   options: PipelineOptions) -> beam.Pipeline:  # fmt: skip
    """The pipeline of one run: one element per range query, read and written in parallel."""
    pipeline = beam.Pipeline(options=options)
    (
        pipeline
        | "Ranges" >> beam.Create(list(enumerate(queries)))
        | "Spread" >> beam.Reshuffle()
        | "ReadRange" >> beam.ParDo(ReadRange(job, schema, out))
        | "Rows" >> beam.CombineGlobally(sum)
    )
    return pipeline


def extract_with_beam(job: EtlJob, plan, staging_dir: Path, *,
                      beam_args: list[str] | None = None) -> pa.Table:  # fmt: skip
    """Run the plan's ranges on Beam and read the shards back, in range order."""
    out = (Path(staging_dir) / f"beam-{uuid.uuid4().hex}").resolve()
    out.mkdir(parents=True)
    try:
        options = PipelineOptions(beam_args or ["--runner=DirectRunner"])
        build_pipeline(job, plan.queries, plan.schema, str(out), options).run().wait_until_finish()
        shards = sorted(out.glob("part-*.parquet"))
        if len(shards) != len(plan.queries):
            raise RuntimeError(f"the Beam run wrote {len(shards)} of {len(plan.queries)} ranges")
        tables = [pq.read_table(p, schema=plan.schema) for p in shards]
        return pa.concat_tables(tables) if tables else plan.schema.empty_table()
    finally:
        shutil.rmtree(out, ignore_errors=True)
