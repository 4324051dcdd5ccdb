"""Sampling and split strategies, checked against answers worked out by hand."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from components import splitting
from components.splitting import EmptySplitError, holdout_cutoff, sample, split_table


def unix(text: str) -> int:
    return int(dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc).timestamp())


def make_rows(n: int = 2000, customers: int = 200) -> pa.Table:
    idx = np.arange(n)
    return pa.table(
        {
            "customer_id": [f"C{i % customers:05d}" for i in idx],
            "product_id": [f"P{i % 37:06d}" for i in idx],
            "ts": (unix("2011-01-01T00:00:00") + idx * 3600).astype(np.int64),
        }
    )


def test_hash_buckets_are_pinned():
    # MD5-based, so stable across processes and machines (Python's hash() is salted per process).
    # A change here would silently reshuffle every tenant's samples and splits.
    assert splitting.hash_buckets(["C00042", "C00043"], seed=7).tolist() == [4654, 4124]
    assert splitting.hash_buckets(["C00042"], seed=8).tolist() != [4654]


def test_sample_100_percent_is_identity():
    table = make_rows(50)
    assert sample(table, 100, seed=1) is table


def test_sample_by_customer_keeps_whole_customers():
    table = make_rows()
    out = sample(table, 30, seed=3, customer_column="customer_id")
    kept = set(out.column("customer_id").to_pylist())
    # every kept customer keeps all 10 of its rows, and about 30% of 200 customers are kept
    assert out.num_rows == 10 * len(kept)
    assert 40 <= len(kept) <= 80
    assert sample(table, 30, seed=3, customer_column="customer_id").equals(out)


def test_sample_differs_by_seed_and_is_nested_by_percent():
    table = make_rows()
    a = set(sample(table, 30, seed=3, customer_column="customer_id")["customer_id"].to_pylist())
    b = set(sample(table, 30, seed=4, customer_column="customer_id")["customer_id"].to_pylist())
    c = set(sample(table, 60, seed=3, customer_column="customer_id")["customer_id"].to_pylist())
    assert a != b
    assert a <= c  # same seed: a larger sample contains the smaller one


def test_sample_rows_without_customer_column():
    out = sample(make_rows(), 25, seed=11)
    assert 400 <= out.num_rows <= 600
    assert out.equals(sample(make_rows(), 25, seed=11))


def test_sample_rejects_bad_percent_and_missing_column():
    with pytest.raises(ValueError, match="sample_percent"):
        sample(make_rows(10), 0, seed=1)
    with pytest.raises(ValueError, match="customer column 'buyer'"):
        sample(make_rows(10), 50, seed=1, customer_column="buyer")


def test_random_split_is_deterministic_and_near_eval_percent():
    table = make_rows()
    parts = split_table(table, "random", eval_percent=20, seed=5)
    assert parts.train.num_rows + parts.eval.num_rows == 2000
    assert 330 <= parts.eval.num_rows <= 470
    again = split_table(table, "random", eval_percent=20, seed=5)
    assert again.eval.equals(parts.eval)
    other = split_table(table, "random", eval_percent=20, seed=6)
    assert not other.eval.equals(parts.eval)


def test_random_split_does_not_depend_on_row_order():
    table = make_rows(500)
    shuffled = table.take(pa.array(np.random.default_rng(0).permutation(500)))
    a = set(split_table(table, "random", eval_percent=30, seed=1).eval["ts"].to_pylist())
    b = set(split_table(shuffled, "random", eval_percent=30, seed=1).eval["ts"].to_pylist())
    assert a == b


def test_holdout_cutoff_known_answer():
    latest = unix("2011-12-09T12:50:00")
    assert holdout_cutoff(latest, 30) == unix("2011-11-09T00:00:00")


def test_time_holdout_split_uses_day_start_cutoff():
    stamps = [
        "2011-11-08T23:59:59",
        "2011-11-09T00:00:00",
        "2011-12-01T08:00:00",
        "2011-12-09T12:50:00",
        "2011-01-05T10:00:00",
    ]
    table = pa.table({"ts": [unix(s) for s in stamps], "i": [0, 1, 2, 3, 4]})
    parts = split_table(table, "time_holdout", holdout_days=30, timestamp_column="ts")
    assert parts.train["i"].to_pylist() == [0, 4]
    assert parts.eval["i"].to_pylist() == [1, 2, 3]


def test_time_holdout_accepts_arrow_timestamps():
    stamps = [
        dt.datetime(2011, 11, 8, 23),
        dt.datetime(2011, 11, 9, 1),
        dt.datetime(2011, 12, 9, 12),
    ]
    table = pa.table({"ts": pa.array(stamps, type=pa.timestamp("us")), "i": [0, 1, 2]})
    parts = split_table(table, "time_holdout", holdout_days=30, timestamp_column="ts")
    assert parts.eval["i"].to_pylist() == [1, 2]


def test_strict_temporal_exact_fraction_without_ties():
    table = pa.table({"ts": np.arange(100, 0, -1, dtype=np.int64)})  # newest first
    parts = split_table(table, "strict_temporal", eval_percent=20, timestamp_column="ts")
    assert parts.train.num_rows == 80
    assert max(parts.train["ts"].to_pylist()) == 80
    assert min(parts.eval["ts"].to_pylist()) == 81


def test_strict_temporal_ties_at_boundary_go_to_eval():
    # 10 rows, 30% eval → boundary at sorted index 7, whose timestamp (5) also appears at index 5, 6
    ts = [1, 2, 3, 4, 5, 5, 5, 5, 9, 10]
    parts = split_table(
        pa.table({"ts": ts}), "strict_temporal", eval_percent=30, timestamp_column="ts"
    )
    assert sorted(parts.train["ts"].to_pylist()) == [1, 2, 3, 4]
    assert sorted(parts.eval["ts"].to_pylist()) == [5, 5, 5, 5, 9, 10]
    assert max(parts.train["ts"].to_pylist()) < min(parts.eval["ts"].to_pylist())


def test_strict_temporal_all_ties_reports_empty_train():
    table = pa.table({"ts": [7, 7, 7, 7]})
    with pytest.raises(EmptySplitError, match="train split is empty.*strict_temporal"):
        split_table(table, "strict_temporal", eval_percent=25, timestamp_column="ts")


def test_time_holdout_covering_everything_reports_empty_train():
    table = pa.table({"ts": [unix("2011-12-01T00:00:00"), unix("2011-12-09T00:00:00")]})
    with pytest.raises(EmptySplitError, match="train split is empty.*cutoff 2011-11-09"):
        split_table(table, "time_holdout", holdout_days=30, timestamp_column="ts")


def test_random_split_of_one_row_reports_empty_split():
    with pytest.raises(EmptySplitError, match="split is empty.*random"):
        split_table(pa.table({"a": [1]}), "random", eval_percent=20)


def test_errors_for_bad_settings():
    table = make_rows(10)
    with pytest.raises(ValueError, match="unknown split_strategy 'by_magic'"):
        split_table(table, "by_magic")
    with pytest.raises(ValueError, match="needs a timestamp_column"):
        split_table(table, "time_holdout")
    with pytest.raises(ValueError, match="timestamp column 'when' is not in the query result"):
        split_table(table, "strict_temporal", timestamp_column="when")
    with pytest.raises(ValueError, match="eval_percent"):
        split_table(table, "random", eval_percent=100)
    with pytest.raises(ValueError, match="type string"):
        split_table(table, "strict_temporal", timestamp_column="customer_id")
    with pytest.raises(ValueError, match="null"):
        split_table(pa.table({"ts": [1, None]}), "strict_temporal", timestamp_column="ts")


def test_to_unix_seconds_units_and_dates():
    us = pa.array([-500_000, 1_500_000], type=pa.timestamp("us"))
    assert splitting.to_unix_seconds(us).tolist() == [-1, 1]
    assert splitting.to_unix_seconds(pa.array([dt.date(1970, 1, 2)])).tolist() == [86400]
