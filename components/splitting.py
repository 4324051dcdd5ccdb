"""Sampling and train/eval splitting of query results, as pure functions over Arrow tables.

Everything here is deterministic: membership is decided by a stable hash (MD5 of the key and the
seed, never Python's process-salted ``hash()``), or by timestamps, never by row order or a global
random state, so the same rows, seed and settings always give the same splits, on any machine.

Strategies:

- ``random``: each row goes to eval with probability ``eval_percent``%, decided by the hash of its
  content and the seed.
- ``time_holdout``: eval holds the last ``holdout_days`` whole days: rows with a timestamp at or after
  the start of the day of the latest timestamp minus ``holdout_days`` days.
- ``strict_temporal``: the earliest ``100 - eval_percent``% of rows (by timestamp) go to train, the
  rest to eval; rows that tie with the first eval timestamp go to eval so that every train timestamp
  is strictly before every eval timestamp (no same-second leakage).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from specs.parameters import EVAL_PERCENT, HOLDOUT_DAYS, SAMPLE_PERCENT

RANDOM = "random"
TIME_HOLDOUT = "time_holdout"
STRICT_TEMPORAL = "strict_temporal"
STRATEGIES = (RANDOM, TIME_HOLDOUT, STRICT_TEMPORAL)
TEMPORAL_STRATEGIES = (TIME_HOLDOUT, STRICT_TEMPORAL)

SECONDS_PER_DAY = 86_400
# Hash buckets per percent point: membership is bucket < percent * _BUCKETS_PER_PERCENT.
_BUCKETS_PER_PERCENT = 100
_BUCKETS = 100 * _BUCKETS_PER_PERCENT


class EmptySplitError(ValueError):
    """A split came out empty; the message says which split and why."""


@dataclass(frozen=True)
class Split:
    """The two outputs of :func:`split_table`, rows in their input order."""

    train: pa.Table
    eval: pa.Table

    def items(self) -> list[tuple[str, pa.Table]]:
        """``[("train", table), ("eval", table)]``, the TFX split names in output order."""
        return [("train", self.train), ("eval", self.eval)]


def validate_settings(
    *,
    split_strategy: str,
    sample_percent: int = 100,
    eval_percent: int = 20,
    holdout_days: int = 30,
    timestamp_column: str | None = None,
) -> None:
    """Check sampling/split settings before any data is read.

    Raises:
        ValueError: an unknown strategy, a percentage or day count out of range, or a temporal
            strategy without a timestamp column.
    """
    if split_strategy not in STRATEGIES:
        raise ValueError(
            f"unknown split_strategy {split_strategy!r}; expected one of {', '.join(STRATEGIES)}"
        )
    # The bounds are the run parameters' own (specs.parameters), so the component accepts what
    # the specs and the pipeline's schema accept, and nothing else.
    low, high = SAMPLE_PERCENT
    if not low <= sample_percent <= high:
        raise ValueError(f"sample_percent must be in {low}..{high}, got {sample_percent}")
    low, high = EVAL_PERCENT
    if split_strategy in (RANDOM, STRICT_TEMPORAL) and not low <= eval_percent <= high:
        raise ValueError(
            f"eval_percent must be in {low}..{high} for split_strategy={split_strategy!r}, "
            f"got {eval_percent}"
        )
    low, high = HOLDOUT_DAYS
    if split_strategy == TIME_HOLDOUT and not low <= holdout_days <= high:
        raise ValueError(
            f"holdout_days must be in {low}..{high} for time_holdout, got {holdout_days}"
        )
    if split_strategy in TEMPORAL_STRATEGIES and not timestamp_column:
        raise ValueError(f"split_strategy={split_strategy!r} needs a timestamp_column")


def hash_buckets(keys: Iterable[str], seed: int) -> np.ndarray:
    """Map each key to a stable bucket in ``[0, 10000)`` (a percent with two decimals)."""
    prefix = f"{seed}\x1f".encode()
    return np.fromiter(
        (
            int.from_bytes(hashlib.md5(prefix + key.encode()).digest()[:8], "big") % _BUCKETS
            for key in keys
        ),
        dtype=np.int64,
    )


def _require_column(table: pa.Table, column: str, role: str) -> pa.ChunkedArray:
    if column not in table.column_names:
        raise ValueError(
            f"{role} column {column!r} is not in the query result; "
            f"columns: {', '.join(table.column_names)}"
        )
    return table.column(column)


def row_keys(table: pa.Table) -> list[str]:
    """A content key per row: every column rendered as text, joined with a separator.

    Identical rows share a key and so land in the same split, which keeps exact duplicates from
    leaking between train and eval.
    """
    if table.num_columns == 0:
        return [""] * table.num_rows
    parts = []
    for column in table.columns:
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())  # exact, zone-independent text
        parts.append(pc.cast(column, pa.string()))
    joined = pc.binary_join_element_wise(
        *parts, "\x1f", null_handling="replace", null_replacement="\\N"
    )
    return joined.to_pylist()


def sample(
    table: pa.Table, sample_percent: int, seed: int, customer_column: str | None = None
) -> pa.Table:
    """Keep about ``sample_percent``% of the rows, deterministically.

    With ``customer_column`` whole customers are kept or dropped (their histories stay intact,
    which the repeat-purchase features and baselines need); otherwise single rows are sampled by
    their content hash.
    """
    if not 1 <= sample_percent <= 100:
        raise ValueError(f"sample_percent must be in 1..100, got {sample_percent}")
    if sample_percent == 100 or table.num_rows == 0:
        return table
    if customer_column:
        customers = pc.cast(_require_column(table, customer_column, "customer"), pa.string())
        # Hash each distinct customer once, then broadcast the decision to its rows.
        encoded = customers.combine_chunks().dictionary_encode()
        distinct = encoded.dictionary.to_pylist()
        keep_customer = hash_buckets(distinct, seed) < sample_percent * _BUCKETS_PER_PERCENT
        indices = encoded.indices.to_numpy(zero_copy_only=False)
        null_rows = encoded.indices.is_null().to_numpy(zero_copy_only=False)
        keep = np.where(null_rows, False, keep_customer[np.where(null_rows, 0, indices)])
    else:
        keep = hash_buckets(row_keys(table), seed) < sample_percent * _BUCKETS_PER_PERCENT
    return table.filter(pa.array(keep))


def to_unix_seconds(column: pa.ChunkedArray | pa.Array, name: str = "timestamp") -> np.ndarray:
    """Return a timestamp column as int64 unix seconds (rounded down).

    Accepts integers (already unix seconds, as the generated query's ``UNIX_SECONDS(...)`` emits),
    Arrow timestamps of any unit or zone, and dates (midnight UTC).

    Raises:
        ValueError: the column holds nulls or has another type.
    """
    if column.null_count:
        raise ValueError(f"timestamp column {name!r} has {column.null_count} null value(s)")
    kind = column.type
    if pa.types.is_integer(kind):
        return np.asarray(column.cast(pa.int64()).to_numpy(), dtype=np.int64)
    if pa.types.is_timestamp(kind):
        per_second = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}[kind.unit]
        raw = np.asarray(column.cast(pa.int64()).to_numpy(), dtype=np.int64)
        return raw // per_second  # floor division: pre-1970 instants round down like BigQuery
    if pa.types.is_date(kind):
        days = np.asarray(column.cast(pa.date32()).cast(pa.int32()).to_numpy(), dtype=np.int64)
        return days * SECONDS_PER_DAY
    raise ValueError(
        f"timestamp column {name!r} has type {kind}; expected int64 unix seconds, a timestamp "
        "or a date"
    )


def holdout_cutoff(latest_seconds: int, holdout_days: int) -> int:
    """Start of the day (UTC) of ``latest_seconds``, minus ``holdout_days`` days, in unix seconds."""
    day_start = latest_seconds - latest_seconds % SECONDS_PER_DAY  # Python % floors for negatives
    return day_start - holdout_days * SECONDS_PER_DAY


def _mask_split(table: pa.Table, is_eval: np.ndarray) -> Split:
    is_eval = pa.array(is_eval, type=pa.bool_())
    return Split(train=table.filter(pc.invert(is_eval)), eval=table.filter(is_eval))


def split_table(
    table: pa.Table,
    split_strategy: str,
    *,
    eval_percent: int = 20,
    holdout_days: int = 30,
    seed: int = 42,
    timestamp_column: str | None = None,
) -> Split:
    """Split ``table`` into train and eval with one of :data:`STRATEGIES`.

    Raises:
        ValueError: invalid settings or timestamp column (see :func:`validate_settings`).
        EmptySplitError: a split came out empty.
    """
    validate_settings(
        split_strategy=split_strategy,
        eval_percent=eval_percent,
        holdout_days=holdout_days,
        timestamp_column=timestamp_column,
    )
    if table.num_rows == 0:
        raise EmptySplitError("the query returned no rows (after sampling): nothing to split")

    if split_strategy == RANDOM:
        buckets = hash_buckets(row_keys(table), seed)
        result = _mask_split(table, buckets < eval_percent * _BUCKETS_PER_PERCENT)
        why = f"random split with eval_percent={eval_percent} over {table.num_rows} rows"
    else:
        assert timestamp_column is not None  # validate_settings guarantees it
        seconds = to_unix_seconds(
            _require_column(table, timestamp_column, "timestamp"), timestamp_column
        )
        if split_strategy == TIME_HOLDOUT:
            latest = int(seconds.max())
            cutoff = holdout_cutoff(latest, holdout_days)
            result = _mask_split(table, seconds >= cutoff)
            why = (
                f"time_holdout with holdout_days={holdout_days}: cutoff {_iso(cutoff)}, "
                f"timestamps span {_iso(int(seconds.min()))} .. {_iso(latest)}"
            )
        else:
            n_train = table.num_rows * (100 - eval_percent) // 100
            boundary = int(np.partition(seconds, n_train)[n_train])
            result = _mask_split(table, seconds >= boundary)
            why = (
                f"strict_temporal with eval_percent={eval_percent}: the first eval timestamp is "
                f"{_iso(boundary)} and rows tied with it go to eval"
            )

    for name, part in result.items():
        if part.num_rows == 0:
            raise EmptySplitError(f"the {name} split is empty ({why})")
    return result


def _iso(seconds: int) -> str:
    return str(np.datetime64(seconds, "s")) + "Z"
