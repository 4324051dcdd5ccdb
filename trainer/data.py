"""Reading examples (gzipped TFRecords) into memory, raw or through the Transform graph.

Transform does not materialize transformed examples: it fits the vocabularies and statistics,
and the trainer and evaluator apply its graph to the raw examples as they read them
(`read_transformed`), which takes seconds where writing and re-reading every transformed row
through Beam took a third of Transform's time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf


def list_files(patterns: Sequence[str] | str) -> list[str]:
    """Files matching the glob patterns, sorted so the read order is reproducible."""
    if isinstance(patterns, str):
        patterns = [patterns]
    files = sorted({f for pattern in patterns for f in tf.io.gfile.glob(pattern)})
    if not files:
        raise FileNotFoundError(f"no files match {list(patterns)}")
    return files


def _parsed_batches(
    patterns: Sequence[str] | str,
    feature_spec: Mapping[str, tf.io.FixedLenFeature | tf.io.VarLenFeature],
    batch_size: int,
) -> tf.data.Dataset:
    """Batches of `{feature name: [batch] tensor}` in file order, parsed with `feature_spec`
    (a raw or transformed feature spec of `TFTransformOutput`, optionally narrowed)."""
    dataset = tf.data.TFRecordDataset(list_files(patterns), compression_type="GZIP")
    dataset = dataset.batch(batch_size)
    dataset = dataset.map(
        lambda records: tf.io.parse_example(records, dict(feature_spec)),
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )
    return dataset.prefetch(tf.data.AUTOTUNE)


def read_columns(
    patterns: Sequence[str] | str,
    feature_spec: Mapping[str, tf.io.FixedLenFeature | tf.io.VarLenFeature],
    *,
    batch_size: int = 8192,
) -> dict[str, np.ndarray]:
    """Every row of the files as `{name: numpy array}`, in file order.

    Training and evaluation both read the quick test's splits into memory once (see
    `columns_dataset`, `canonical_order`)."""
    columns: dict[str, list[np.ndarray]] = {name: [] for name in feature_spec}
    for batch in _parsed_batches(patterns, feature_spec, batch_size):
        for name, values in batch.items():
            columns[name].append(_one_per_row(values))
    return _concatenated(columns)


def read_transformed(
    patterns: Sequence[str] | str,
    tft_output,
    names: Sequence[str],
    *,
    batch_size: int = 65536,
) -> dict[str, np.ndarray]:
    """The transformed features `names` of every raw example of the files, in file order.

    The raw examples are parsed with the Transform output's raw feature spec and passed
    through its graph (`TFTransformOutput.transform_features_layer`), as the serving model
    does: the same vocabularies, fitted on the train split only."""
    layer = tft_output.transform_features_layer()
    columns: dict[str, list[np.ndarray]] = {name: [] for name in names}
    for batch in _parsed_batches(patterns, tft_output.raw_feature_spec(), batch_size):
        transformed = layer(batch)
        for name in names:
            columns[name].append(_one_per_row(transformed[name]))
    return _concatenated(columns)


def _one_per_row(values: tf.Tensor | tf.SparseTensor) -> np.ndarray:
    # Raw data may be parsed as VarLenFeature or FixedLenFeature([1]): one value per row
    # either way (a missing one becomes "" or 0), kept as a 1-D column.
    if isinstance(values, tf.SparseTensor):
        values = tf.sparse.to_dense(
            tf.SparseTensor(values.indices, values.values, [values.dense_shape[0], 1])
        )
    if values.shape.rank == 2 and values.shape[1] == 1:
        values = values[:, 0]
    return values.numpy()


def _concatenated(columns: Mapping[str, list[np.ndarray]]) -> dict[str, np.ndarray]:
    return {
        name: np.concatenate(parts) if parts else np.zeros([0]) for name, parts in columns.items()
    }


def columns_dataset(
    columns: Mapping[str, np.ndarray],
    batch_size: int,
    *,
    shuffle: bool = False,
    seed: int | None = None,
) -> tf.data.Dataset:
    """Batches from columns already in memory (see `read_columns`).

    The quick test's train split fits in memory; parsing it once instead of every epoch makes
    epochs several times faster, and the shuffle is over the whole split rather than a window
    (rows arrive ordered by the query, e.g. by customer, which would bias in-batch negatives).
    """
    if not shuffle:
        return tf.data.Dataset.from_tensor_slices(dict(columns)).batch(batch_size)
    # Shuffle row indices, not rows: a batch is then one gather per column, several times
    # faster per epoch than passing every row through a shuffle buffer.
    tensors = {name: tf.constant(values) for name, values in columns.items()}
    rows = len(next(iter(columns.values())))
    return (
        tf.data.Dataset.range(rows)
        .shuffle(max(rows, 1), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda index: {name: tf.gather(t, index) for name, t in tensors.items()})
        .prefetch(tf.data.AUTOTUNE)
    )


def canonical_order(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The rows sorted by all their values (column names in sorted order as keys).

    Beam writes Transform's output shards in whatever order its bundles finish, so the same data
    can arrive in a different row order from run to run. Training shuffles with a seed, and
    evaluation takes "the first eval row" of a customer: both repeat only if the starting order
    does. Sorting by content makes the order a function of the data alone.
    """
    names = sorted(columns)
    if not names or not len(columns[names[0]]):
        return dict(columns)
    # np.lexsort sorts by the last key first; any fixed key order gives a canonical result. A
    # multi-value column (`[rows, width]`) is a key per position.
    keys = [
        key
        for name in names
        for key in (columns[name].T if columns[name].ndim == 2 else [columns[name]])
    ]
    order = np.lexsort(keys[::-1])
    return {name: values[order] for name, values in columns.items()}
