"""TensorFlow Transform building blocks that generated `preprocessing_fn`s call.

Generated Transform modules list one call per feature; the logic lives here, tested once. Every
function takes raw tensors as TFX hands them to `preprocessing_fn` (dense `[batch, 1]` or sparse
when a value may be missing) and returns 1-D tensors, `[batch]`, ready for embedding lookups.
Analyzers (vocabularies, means, min/max) run over the analyzed split only: the quick-test template
analyzes the train split, so nothing is fitted on eval data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf
import tensorflow_transform as tft

from specs.features import cyclical_name

SECONDS_PER_DAY = 86_400

# Period of each calendar cycle, and how to read the position in it from unix seconds (UTC).
_CYCLES = ("hour", "day_of_week", "month", "day_of_month")


def dense(x, default=None) -> tf.Tensor:
    """A 1-D dense tensor from a `[batch, 1]` tensor or a SparseTensor, missing values filled."""
    if isinstance(x, tf.sparse.SparseTensor):
        if default is None:
            default = "" if x.dtype == tf.string else tf.zeros([], x.dtype)
        x = tf.sparse.to_dense(
            tf.SparseTensor(x.indices, x.values, [x.dense_shape[0], 1]), default_value=default
        )
    return tf.reshape(x, [-1])


def vocabulary(x, *, name: str, top_k: int | None = None, num_oov_buckets: int = 1) -> tf.Tensor:
    """Map values to indices of a vocabulary fitted on the analyzed split.

    The vocabulary file is named after the feature, so the trainer finds it with
    `TFTransformOutput.vocabulary_file_by_name(name)` and maps indices back to original values
    (serving must answer with product ids, not vocabulary indices). Values are ordered by
    descending frequency; unseen values land in `num_oov_buckets` extra buckets.
    """
    values = dense(x)
    if values.dtype != tf.string:
        values = tf.strings.as_string(values)
    return tft.compute_and_apply_vocabulary(
        values, top_k=top_k, num_oov_buckets=num_oov_buckets, vocab_filename=name
    )


def value_list_vocabulary(
    x,
    *,
    name: str,
    separator: str,
    max_values: int,
    top_k: int | None = None,
    num_oov_buckets: int = 1,
) -> tf.Tensor:
    """Map each value of a delimited string (`"Action|Comedy"`) to a vocabulary index.

    Returns `[batch, max_values]` int64: a row's indices in the order its values appear, -1
    where it has fewer values (an empty or missing string has none). Values are trimmed of
    surrounding whitespace and empty ones dropped. The vocabulary, named after the feature,
    counts every value of the analyzed split; unseen values land in `num_oov_buckets` buckets.
    """
    values = dense(x)
    tokens = tf.strings.strip(tf.strings.split(values, sep=separator))
    tokens = tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)
    indices = tft.compute_and_apply_vocabulary(
        tokens, top_k=top_k, num_oov_buckets=num_oov_buckets, vocab_filename=name
    )
    return indices.to_tensor(default_value=-1, shape=[None, max_values])


def normalize(x, method: str) -> tf.Tensor:
    """A float feature normalized by `zscore`, `minmax` (to [0, 1]) or `log` (log1p of x >= 0)."""
    values = tf.cast(dense(x), tf.float32)
    if method == "zscore":
        return tft.scale_to_z_score(values)
    if method == "minmax":
        return tft.scale_to_0_1(values)
    if method == "log":
        # Quantities and revenues are heavy-tailed; log1p keeps zero at zero, and negative
        # values (returns) are clipped, since a log of them is undefined.
        return tf.math.log1p(tf.maximum(values, 0.0))
    raise ValueError(f"unknown normalization {method!r}")


def bucketize(x, boundaries: Sequence[float]) -> tf.Tensor:
    """Bucket ids 0..len(boundaries) of a numeric feature, for an embedding."""
    values = tf.cast(dense(x), tf.float32)
    edges = tf.constant([list(boundaries)], dtype=tf.float32)
    return tf.cast(tft.apply_buckets(values, edges), tf.int64)


def cyclical(seconds, parts: Sequence[str], *, prefix: str) -> dict[str, tf.Tensor]:
    """Sine and cosine of calendar cycles of a unix-seconds timestamp (UTC).

    Returns the sine and cosine of each part in `hour`, `day_of_week` (Monday = 0), `month` and
    `day_of_month`, keyed by `specs.features.cyclical_name(prefix, part, "sin" / "cos")`.
    """
    t = tf.cast(dense(seconds), tf.int64)
    days = tf.math.floordiv(t, SECONDS_PER_DAY)
    out: dict[str, tf.Tensor] = {}
    for part in parts:
        if part == "hour":
            position, period = tf.math.floormod(t, SECONDS_PER_DAY) / 3600, 24.0
        elif part == "day_of_week":
            # 1970-01-01 was a Thursday (Monday = 0 makes it 3).
            position, period = tf.math.floormod(days + 3, 7), 7.0
        elif part in ("month", "day_of_month"):
            month, day = _month_and_day(days)
            position, period = (month, 12.0) if part == "month" else (day, 31.0)
        else:
            raise ValueError(f"unknown cyclical part {part!r}; expected one of {_CYCLES}")
        angle = 2.0 * math.pi * tf.cast(position, tf.float32) / period
        out[cyclical_name(prefix, part, "sin")] = tf.sin(angle)
        out[cyclical_name(prefix, part, "cos")] = tf.cos(angle)
    return out


def _month_and_day(days: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Zero-based month and day of month from days since 1970-01-01 (proleptic Gregorian).

    A civil-from-days conversion in integer arithmetic, so it runs inside the TF graph.
    """
    z = days + 719_468
    era = tf.math.floordiv(z, 146_097)
    doe = z - era * 146_097
    yoe = tf.math.floordiv(doe - doe // 1460 + doe // 36_524 - doe // 146_096, 365)
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = tf.math.floordiv(5 * doy + 2, 153)
    day = doy - tf.math.floordiv(153 * mp + 2, 5)  # 0-based day of month
    month = tf.where(mp < 10, mp + 2, mp - 10)  # 0-based month, January = 0
    return month, day


def timestamp_zscore(seconds) -> tf.Tensor:
    """A timestamp as a z-score over the analyzed split (recency as a feature)."""
    return tft.scale_to_z_score(tf.cast(dense(seconds), tf.float32))


def hashed_cross(columns: Sequence, hash_buckets: int) -> tf.Tensor:
    """A hashed cross of string (or integer) columns into `hash_buckets` buckets."""
    parts = []
    for column in columns:
        values = (
            column if isinstance(column, tf.Tensor) and column.shape.rank == 1 else dense(column)
        )
        if values.dtype != tf.string:
            values = tf.strings.as_string(values)
        parts.append(values)
    joined = tf.strings.reduce_join(tf.stack(parts, axis=1), axis=1, separator="\x1f")
    return tf.strings.to_hash_bucket_fast(joined, hash_buckets)


def unix_seconds(seconds) -> tf.Tensor:
    """The timestamp passed through as int64 unix seconds (the history orders purchases by it)."""
    return tf.cast(dense(seconds), tf.int64)


def target(values, *, clip_min: float | None, clip_max: float | None, log1p: bool) -> tf.Tensor:
    """A ranking model's label: float32, clipped to [clip_min, clip_max], then log1p if asked.

    A missing value becomes 0 before clipping (the `dense` default for numbers)."""
    x = tf.cast(dense(values), tf.float32)
    if clip_min is not None:
        x = tf.maximum(x, clip_min)
    if clip_max is not None:
        x = tf.minimum(x, clip_max)
    return tf.math.log1p(x) if log1p else x
