"""A pipeline run's statistics and schema as JSON and HTML: what the TFDV parser service answers.

StatisticsGen writes one `Split-<split>/FeatureStats.pb` (a binary `DatasetFeatureStatisticsList`)
per split and SchemaGen a `schema.pbtxt`. The app shows them to people: each feature's type,
count, missing values, mean, standard deviation, min, max, median, quantiles, histogram and top
values, and the schema's view of it (presence, domain). Paths are local or `gs://` (TensorFlow's
file system). A missing artifact is `ArtifactNotFound`, one that does not parse `CorruptArtifact`.
"""

from __future__ import annotations

import os
from typing import Any

import tensorflow as tf
from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

STATS_FILE = "FeatureStats.pb"
SCHEMA_FILE = "schema.pbtxt"
_SPLIT_PREFIX = "Split-"


class ArtifactError(Exception):
    """An artifact the service cannot answer from; `status` is the HTTP status to answer with."""

    status = 500


class ArtifactNotFound(ArtifactError):
    status = 404


class CorruptArtifact(ArtifactError):
    status = 422


def splits(statistics_uri: str) -> list[str]:
    """The split names of a StatisticsGen artifact (its `Split-<name>` folders), sorted."""
    if not tf.io.gfile.isdir(statistics_uri):
        raise ArtifactNotFound(f"no statistics artifact at {statistics_uri}")
    names = sorted(
        entry.rstrip("/")[len(_SPLIT_PREFIX) :]
        for entry in tf.io.gfile.listdir(statistics_uri)
        if entry.startswith(_SPLIT_PREFIX)
    )
    if not names:
        raise ArtifactNotFound(
            f"no Split-<name> folder in the statistics artifact {statistics_uri}"
        )
    return names


def load_statistics(statistics_uri: str, split: str) -> statistics_pb2.DatasetFeatureStatistics:
    """The statistics of one split (the first dataset of its `DatasetFeatureStatisticsList`)."""
    path = os.path.join(statistics_uri, f"{_SPLIT_PREFIX}{split}", STATS_FILE)
    if not tf.io.gfile.exists(path):
        raise ArtifactNotFound(f"no statistics for split {split!r}: {path} does not exist")
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            stats.ParseFromString(f.read())
    except Exception as exc:  # protobuf's DecodeError and I/O errors alike
        raise CorruptArtifact(f"{path} is not a DatasetFeatureStatisticsList: {exc}") from None
    if not stats.datasets:
        raise CorruptArtifact(f"{path} holds no dataset statistics")
    return stats.datasets[0]


def load_schema(schema_uri: str) -> schema_pb2.Schema:
    """A SchemaGen artifact's schema (`schema_uri` is its folder or the `schema.pbtxt` itself)."""
    from google.protobuf import text_format

    path = schema_uri
    if tf.io.gfile.isdir(path):
        path = os.path.join(path, SCHEMA_FILE)
    if not tf.io.gfile.exists(path):
        raise ArtifactNotFound(f"no schema: {path} does not exist")
    try:
        with tf.io.gfile.GFile(path, "r") as f:
            return text_format.Parse(f.read(), schema_pb2.Schema())
    except Exception as exc:
        raise CorruptArtifact(f"{path} is not a text-format Schema: {exc}") from None


def _histogram(histogram: statistics_pb2.Histogram) -> list[dict[str, float]]:
    return [
        {"low": b.low_value, "high": b.high_value, "count": b.sample_count}
        for b in histogram.buckets
    ]


def _numeric(stats: statistics_pb2.NumericStatistics) -> dict[str, Any]:
    out: dict[str, Any] = {
        "mean": stats.mean,
        "std": stats.std_dev,
        "min": stats.min,
        "max": stats.max,
        "median": stats.median,
        "zeros": stats.num_zeros,
    }
    for histogram in stats.histograms:
        if histogram.type == statistics_pb2.Histogram.QUANTILES and histogram.buckets:
            buckets = histogram.buckets
            out["quantiles"] = [b.low_value for b in buckets] + [buckets[-1].high_value]
        elif histogram.type == statistics_pb2.Histogram.STANDARD:
            out["histogram"] = _histogram(histogram)
    return out


def _string(stats: statistics_pb2.StringStatistics) -> dict[str, Any]:
    return {
        "unique": stats.unique,
        "avg_length": stats.avg_length,
        "top_values": [{"value": v.value, "frequency": v.frequency} for v in stats.top_values],
    }


def _schema_view(feature: schema_pb2.Feature | None, schema: schema_pb2.Schema) -> dict | None:
    if feature is None:
        return None
    view: dict[str, Any] = {"type": schema_pb2.FeatureType.Name(feature.type)}
    if feature.HasField("presence"):
        view["min_fraction"] = feature.presence.min_fraction
        view["min_count"] = feature.presence.min_count
    if feature.HasField("domain"):
        domain = next((d for d in schema.string_domain if d.name == feature.domain), None)
        view["domain"] = feature.domain
        if domain is not None:
            view["domain_values"] = len(domain.value)
    elif feature.HasField("string_domain"):
        view["domain_values"] = len(feature.string_domain.value)
    return view


def feature_summaries(
    stats: statistics_pb2.DatasetFeatureStatistics, schema: schema_pb2.Schema | None = None
) -> list[dict[str, Any]]:
    """One JSON-ready dict per feature, in the order StatisticsGen wrote them."""
    in_schema = {f.name: f for f in schema.feature} if schema is not None else {}
    out = []
    for feature in stats.features:
        name = ".".join(feature.path.step) if feature.HasField("path") else feature.name
        summary: dict[str, Any] = {
            "name": name,
            "type": statistics_pb2.FeatureNameStatistics.Type.Name(feature.type),
        }
        kind = feature.WhichOneof("stats")
        common = None
        if kind == "num_stats":
            common = feature.num_stats.common_stats
            summary.update(_numeric(feature.num_stats))
        elif kind == "string_stats":
            common = feature.string_stats.common_stats
            summary.update(_string(feature.string_stats))
        elif kind == "bytes_stats":
            common = feature.bytes_stats.common_stats
        elif kind == "struct_stats":
            common = feature.struct_stats.common_stats
        if common is not None:
            summary["count"] = common.num_non_missing
            summary["missing"] = common.num_missing
            summary["avg_values"] = common.avg_num_values
        if schema is not None:
            summary["schema"] = _schema_view(in_schema.get(name), schema)
        out.append(summary)
    return out


def describe(
    statistics_uri: str, *, schema_uri: str | None = None, split: str | None = None
) -> dict[str, Any]:
    """The service's JSON answer: every split (or the one named), each feature summarized."""
    schema = load_schema(schema_uri) if schema_uri else None
    names = splits(statistics_uri)
    if split is not None:
        if split not in names:
            raise ArtifactNotFound(f"no split {split!r} in {statistics_uri}; it has {names}")
        names = [split]
    answer = []
    for name in names:
        stats = load_statistics(statistics_uri, name)
        answer.append(
            {
                "split": name,
                "num_examples": stats.num_examples,
                "features": feature_summaries(stats, schema),
            }
        )
    return {"statistics_uri": statistics_uri, "schema_uri": schema_uri, "splits": answer}


def statistics_html(statistics_uri: str, split: str) -> str:
    """TFDV's own HTML view (Facets Overview) of one split's statistics."""
    from tensorflow_data_validation.utils.display_util import get_statistics_html

    stats = statistics_pb2.DatasetFeatureStatisticsList(
        datasets=[load_statistics(statistics_uri, split)]
    )
    return get_statistics_html(stats)
