"""A large-catalogue ScaNN serving model from random embeddings, for bench/serving_latency.py.

    python bench/synthetic_scann_model.py --out DIR [--products 1000000] [--dim 32]

The catalogue is `--products` random embeddings; the query tower is an embedding table of
`--customers` random rows, looked up by a hash of the customer id (standing in for the
Transform graph). The model is exported the way the trainer exports a model whose
`ModelConfig.retrieval` is ScaNN: `trainer.serving.RetrievalServingModule` with the same spec,
index sizing (`trainer.scann_index`) and `export_serving_model`. Prints one JSON line: the
folder, the index's settings and the build and export seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOP_K = 100


@dataclass(frozen=True)
class SyntheticCatalogue:
    """The model's embeddings, to compute brute force's answers from."""

    products: np.ndarray
    """`[n_products, dim]`; product i is served as id `P<i>`."""
    customers: np.ndarray
    """`[n_customers, dim]`; a customer id's row is `customer_rows(ids)`."""


def catalogue(n_products: int, n_customers: int, dim: int, seed: int = 0) -> SyntheticCatalogue:
    rng = np.random.default_rng(seed)
    return SyntheticCatalogue(
        products=rng.normal(size=(n_products, dim)).astype(np.float32),
        customers=rng.normal(size=(n_customers, dim)).astype(np.float32),
    )


def customer_rows(ids: list[str], n_customers: int) -> np.ndarray:
    """The embedding row of each customer id: the same hash the exported model applies."""
    import tensorflow as tf

    return tf.strings.to_hash_bucket_fast(tf.constant(ids), n_customers).numpy()


def export(out: Path, data: SyntheticCatalogue, *, top_k: int = TOP_K, scann=None) -> dict:
    """Export the ScaNN serving model of `data` to `out`; its settings and timings."""
    import tensorflow as tf

    from specs.model import ScannRetrieval
    from trainer.serving import RetrievalServingModule, export_serving_model

    n_customers, dim = data.customers.shape

    class HashedCustomer(tf.Module):
        """Stands in for the Transform layer: the customer id's hash bucket."""

        @tf.function
        def __call__(self, raw):
            ids = tf.reshape(raw["customer_id"], [-1])
            return {"customer_id": tf.strings.to_hash_bucket_fast(ids, n_customers)}

    customer = tf.keras.Input(shape=(), dtype=tf.int64, name="customer_id")
    embedded = tf.keras.layers.Embedding(
        n_customers, dim, embeddings_initializer=tf.keras.initializers.Constant(data.customers)
    )(customer)
    query_tower = tf.keras.Model({"customer_id": customer}, embedded)
    start = time.perf_counter()
    module = RetrievalServingModule(
        tft_layer=HashedCustomer(),
        query_tower=query_tower,
        query_feature_names=["customer_id"],
        raw_query_spec={"customer_id": tf.io.FixedLenFeature([], tf.string)},
        candidate_embeddings=data.products,
        product_ids=[f"P{i}" for i in range(len(data.products))],
        top_k=top_k,
        scann=scann or ScannRetrieval(),
    )
    built = time.perf_counter() - start
    start = time.perf_counter()
    export_serving_model(module, str(out))
    return {
        "model_dir": str(out),
        "products": len(data.products),
        "dim": dim,
        "scann": module.scann_settings.as_dict(),
        "build_seconds": round(built, 1),
        "export_seconds": round(time.perf_counter() - start, 1),
    }


def brute_force_top(data: SyntheticCatalogue, rows: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """`[len(rows), k]` product indices of the exact top k, in chunks (1M scores a row)."""
    out = []
    for start in range(0, len(rows), 16):
        scores = data.customers[rows[start : start + 16]] @ data.products.T
        out.append(np.argpartition(-scores, k, axis=1)[:, :k])
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--products", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=32)
    args = parser.parse_args(argv)
    data = catalogue(args.products, args.customers, args.dim)
    print(json.dumps(export(args.out, data)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
