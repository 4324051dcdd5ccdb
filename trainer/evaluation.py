"""Recall of what we ship: the exported serving SavedModel is queried like a client would.

Each test customer is sent as one request with the raw query features of their first eval row
(in canonical order), and the returned product ids are scored by the evaluation protocol
(`trainer.metrics.evaluate_ranked`). Mode "new" asks the model's `discover` signature (products
the customer has not bought) when it has one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from trainer.data import canonical_order, read_columns
from trainer.metrics import EvalSplit, evaluate_ranked


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
) -> dict[str, float]:
    """Recall@K of the SavedModel at `export_dir` on `split` (keys as `trainer.metrics`)."""
    loaded = tf.saved_model.load(export_dir)
    signatures = loaded.signatures
    raw = canonical_order(read_columns(raw_eval_files, raw_query_spec))
    first_row: dict[bytes, int] = {}
    for row, value in enumerate(raw[customer_column].tolist()):
        key = value if isinstance(value, bytes) else str(value).encode()
        first_row.setdefault(key, row)
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

    return evaluate_ranked(rank, split, ks)
