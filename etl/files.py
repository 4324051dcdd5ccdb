"""File sources: CSV (header row), Parquet and newline-delimited JSON, from a local file or
folder; in the cloud from gs://, s3:// or az:// objects under a prefix.

Local reads use pyarrow's readers. Cloud locations are turned into the filesystem and listing
request that reads them (`cloud_request`): the runner's identity does the reading, and no
credential is ever part of a job.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from etl.sources import SourceError
from etl.types import storable
from specs.etl import FileSource

_SUFFIXES = {
    "csv": (".csv",),
    "parquet": (".parquet", ".pq"),
    "json": (".json", ".jsonl", ".ndjson"),
}


def cloud_request(spec: FileSource) -> dict:
    """The object-store listing of a cloud `uri`: which service, bucket (container) and prefix,
    and the pyarrow filesystem that reads it (the runner's credentials, never the job's)."""
    scheme, rest = spec.uri.split("://", 1)
    bucket, _, prefix = rest.partition("/")
    if not bucket:
        raise SourceError("source.uri: no bucket")
    service = {"gs": ("GCS", "GcsFileSystem", "storage.objects.list"),
               "s3": ("S3", "S3FileSystem", "ListObjectsV2"),
               "az": ("Azure Blob Storage", "AzureFileSystem", "List Blobs")}[scheme]  # fmt: skip
    return {
        "service": service[0],
        "filesystem": f"pyarrow.fs.{service[1]}",
        "operation": service[2],
        "bucket": bucket,
        "prefix": prefix,
        "suffixes": list(_SUFFIXES[spec.format]),
        "format": spec.format,
    }


def local_files(spec: FileSource) -> list[Path]:
    path = Path(spec.uri.removeprefix("file://"))
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in _SUFFIXES[spec.format])
        if not files:
            raise SourceError(f"source.uri: {path} holds no {spec.format} file")
        return files
    if not path.is_file():
        raise SourceError(f"source.uri: {path} is not a file or folder")
    return [path]


def _read(path: Path, fmt: str) -> pa.Table:
    if fmt == "csv":
        return pacsv.read_csv(path)
    if fmt == "json":
        return pajson.read_json(path)
    return pq.read_table(path)


def read(spec: FileSource) -> pa.Table:
    """Every file of the source as one Arrow table (columns unified by name)."""
    if "://" in spec.uri and not spec.uri.startswith("file://"):
        raise SourceError(f"source.uri: {spec.uri.split('://')[0]}:// is read in the cloud runner")
    tables = []
    for path in local_files(spec):
        try:
            tables.append(_read(path, spec.format))
        except (pa.ArrowException, OSError) as exc:
            raise SourceError(
                f"source.uri: {path.name} cannot be read as {spec.format}: {exc}"
            ) from None
    try:
        table = pa.concat_tables(tables, promote=True)
    except pa.ArrowInvalid as exc:
        raise SourceError(f"source.uri: the files' columns disagree: {exc}") from None
    schema = pa.schema([pa.field(f.name, storable(f.type)) for f in table.schema])
    return table.cast(schema)
