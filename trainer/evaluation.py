"""Recall of what we ship: the exported serving SavedModel is queried like a client would.

Each test customer is sent as one request with the raw query features of their first eval row
(in canonical order), and the returned product ids are scored by the evaluation protocol
(`trainer.metrics.evaluate_ranked`). Mode "new" asks the model's `discover` signature (products
the customer has not bought) when it has one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from trainer import baselines
from trainer.data import canonical_order, read_columns
from trainer.metrics import KS, EvalSplit, evaluate, evaluate_ranked, make_split

log = logging.getLogger(__name__)


def protocol_split(
    train_customers, train_products, eval_customers, eval_products, *, n_customers: int,
    n_products: int,
) -> EvalSplit:  # fmt: skip
    """The protocol's split from vocabulary indices (`trainer.metrics.make_split`).

    Customers in OOV buckets share them: they are not "seen in train" as individuals."""

    def in_vocab(customers) -> np.ndarray:
        customers = np.asarray(customers)
        return np.where(customers < n_customers, customers, -1)

    return make_split(
        in_vocab(train_customers), train_products, in_vocab(eval_customers), eval_products,
        n_products=n_products,
    )  # fmt: skip


def evaluate_baselines(
    split: EvalSplit,
    names: Sequence[str] | None = None,
    ks: Sequence[int] = KS,
    *,
    per_customer: dict[str, dict[str, np.ndarray]] | None = None,
) -> dict[str, dict[str, float]]:
    """Every baseline of `trainer.baselines` (or those named; popularity always) on `split`.

    `per_customer`, if given, receives `{baseline: {metric: value per test customer}}`."""
    names = list(names or baselines.BASELINES)
    out = {}
    for name in ["popularity", *[b for b in names if b != "popularity"]]:
        values: dict[str, np.ndarray] = {}
        try:
            out[name] = evaluate(baselines.BASELINES[name](split), split, ks, per_customer=values)
        except ValueError as exc:  # e.g. a catalogue too large for a dense baseline
            log.warning("baseline %s skipped: %s", name, exc)
            continue
        if per_customer is not None:
            per_customer[name] = values
    return out


@dataclass
class ExportedEvaluation:
    """What `evaluate_exported` learns from querying the exported model."""

    metrics: dict[str, float]
    per_customer: dict[str, np.ndarray] = field(default_factory=dict)
    """Each metric's value per test customer (`trainer.metrics.evaluate_ranked`)."""
    ranked: dict[str, list[np.ndarray]] = field(default_factory=dict)
    """Per mode, the product indices the model returned for each test customer."""
    eval_customers: list[bytes] = field(default_factory=list)
    """Every distinct customer id of the raw eval rows, known to the model or not."""


def evaluate_exported(
    export_dir: str,
    raw_eval_files: Sequence[str] | str,
    raw_query_spec: Mapping[str, tf.io.FixedLenFeature | tf.io.VarLenFeature],
    *,
    customer_column: str,
    customer_vocabulary: Sequence[bytes],
    product_vocabulary: Sequence[bytes],
    split: EvalSplit,
    ks: Sequence[int],
) -> ExportedEvaluation:
    """Recall@K and NDCG@10 of the SavedModel at `export_dir` on `split` (`.metrics`, keys as
    `trainer.metrics`; {} when the split has no test customer), with the per-customer values,
    the ranked lists and the eval split's customer ids behind them."""
    raw = canonical_order(read_columns(raw_eval_files, raw_query_spec))
    first_row: dict[bytes, int] = {}
    for row, value in enumerate(raw[customer_column].tolist()):
        key = value if isinstance(value, bytes) else str(value).encode()
        first_row.setdefault(key, row)
    result = ExportedEvaluation({}, eval_customers=list(first_row))
    if not len(split.customers):
        return result
    signatures = tf.saved_model.load(export_dir).signatures
    product_index = {p: i for i, p in enumerate(product_vocabulary)}

    def rank(customers: np.ndarray, mode: str) -> list[np.ndarray]:
        rows = [first_row.get(customer_vocabulary[c]) for c in customers]
        missing = [
            customer_vocabulary[c] for c, r in zip(customers, rows, strict=True) if r is None
        ]
        if missing:
            raise ValueError(f"no raw eval row for customers {missing[:5]}")
        inputs = {name: tf.constant(values[np.asarray(rows)]) for name, values in raw.items()}
        name = "discover" if mode == "new" and "discover" in signatures else "serving_default"
        ids = signatures[name](**inputs)["product_ids"].numpy()
        return [np.array([product_index.get(p, -1) for p in row], np.int64) for row in ids]

    result.metrics = evaluate_ranked(
        rank, split, ks, per_customer=result.per_customer, ranked=result.ranked
    )
    return result


def evaluate_against_baselines(
    export_dir: str,
    raw_eval_files: Sequence[str] | str,
    raw_query_spec: Mapping[str, tf.io.FixedLenFeature | tf.io.VarLenFeature],
    *,
    split: EvalSplit,
    ks: Sequence[int] = KS,
    baseline_names: Sequence[str] | None = None,
    **query,
) -> dict:
    """The exported model (`evaluate_exported`; `query` holds its customer column and
    vocabularies) and every baseline on `split`, with what the means leave out
    (`trainer.honesty`): `metrics`, `baselines`, `intervals` (`{"model" | baseline: {metric:
    [low, high]}}`), `coverage` (who was evaluated and dropped) and `popularity_overlap` (of the
    model's lists in mode "all"; None without test customers)."""
    from trainer.honesty import bootstrap_intervals, coverage, popularity_overlap

    exported = evaluate_exported(export_dir, raw_eval_files, raw_query_spec, split=split, ks=ks,
                                 **query)  # fmt: skip
    per_customer: dict[str, dict[str, np.ndarray]] = {}
    baseline_metrics = evaluate_baselines(split, baseline_names, ks, per_customer=per_customer)
    per_customer = {"model": exported.per_customer, **per_customer}
    ranked = exported.ranked.get("all")
    return {
        "metrics": exported.metrics,
        "baselines": baseline_metrics,
        "intervals": {name: bootstrap_intervals(values) for name, values in per_customer.items()},
        "coverage": coverage(exported.eval_customers, query["customer_vocabulary"], split),
        "popularity_overlap": popularity_overlap(ranked, split) if ranked else None,
    }
