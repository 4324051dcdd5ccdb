"""A tiny structured purchase log and its Transform, for the end-to-end trainer tests.

60 customers in 3 groups of 20; each group buys only from its own 20 products, with a skewed
preference inside the group. Such structure is learnable by a two-tower model and invisible to
the popularity baseline, which ranks every customer's products the same way.
"""

from __future__ import annotations

import os

import numpy as np

N_GROUPS = 3
CUSTOMERS_PER_GROUP = 20
PRODUCTS_PER_GROUP = 20
CITIES = ("Warsaw", "Krakow", "Gdansk")
CATEGORIES = ("tools", "paint", "garden")


def customer_id(i: int) -> str:
    return f"C{i:03d}"


def product_id(i: int) -> str:
    return f"P{i:03d}"


def group_of_customer(i: int) -> int:
    return i // CUSTOMERS_PER_GROUP


def products_of_group(g: int) -> list[str]:
    return [product_id(g * PRODUCTS_PER_GROUP + j) for j in range(PRODUCTS_PER_GROUP)]


def quantity_of(product: int) -> float:
    """How many units of a product a purchase takes: 1, 4, 7 or 10, set by the product alone,
    so a ranking model can learn it from the product id."""
    return float(1 + (product % 4) * 3)


def make_rows(seed: int = 7) -> tuple[list[dict], list[dict]]:
    """Train and eval rows: per customer 8 train purchases then 3 eval purchases."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, PRODUCTS_PER_GROUP + 1)  # Zipf-like preference within a group
    weights /= weights.sum()
    train, eval_ = [], []
    for c in range(N_GROUPS * CUSTOMERS_PER_GROUP):
        g = group_of_customer(c)
        picks = rng.choice(PRODUCTS_PER_GROUP, size=11, p=weights)
        revenue = float(rng.lognormal(8 + g, 0.3))
        for n, j in enumerate(picks):
            p = g * PRODUCTS_PER_GROUP + int(j)
            row = {
                "customer_id": customer_id(c),
                "city": CITIES[g],
                "revenue": revenue,
                "product_id": product_id(p),
                "category": CATEGORIES[g],
                "price": float(10 + (p % 7) * 15),
                "quantity": quantity_of(p),
            }
            (train if n < 8 else eval_).append(row)
    return train, eval_


def feature_config(target: dict | None = None):
    """The tiny data's features; `target` (e.g. `TARGET`) for ranking and multitask models."""
    from specs import FeatureConfig

    return FeatureConfig.model_validate(
        {
            "name": "tiny",
            "query_id": "customer_id",
            "candidate_id": "product_id",
            "query_tower": {
                "features": [
                    {"kind": "string", "column": "customer_id", "embedding_dim": 16},
                    {"kind": "string", "column": "city", "embedding_dim": 4},
                    {"kind": "numeric", "column": "revenue", "normalization": "zscore"},
                ]
            },
            "candidate_tower": {
                "features": [
                    {"kind": "string", "column": "product_id", "embedding_dim": 16},
                    {"kind": "string", "column": "category", "embedding_dim": 4},
                    {
                        "kind": "numeric",
                        "column": "price",
                        "bucketize": {"boundaries": [20, 50, 80], "embedding_dim": 4},
                    },
                ],
                "crosses": [{"columns": ["category", "price"], "hash_buckets": 50}],
            },
            "target": target,
        }
    )


TARGET = {"column": "quantity", "clip_min": 0.0, "clip_max": 100.0, "log1p": True}
"""The ranking target of the tiny data: log1p of the quantity."""


def preprocessing_fn(inputs):
    """Hand-written equivalent of a generated Transform module for `feature_config()`."""
    from trainer import transform_ops as ops

    price_bucket = ops.bucketize(inputs["price"], [20, 50, 80])
    return {
        "customer_id": ops.vocabulary(inputs["customer_id"], name="customer_id"),
        "city": ops.vocabulary(inputs["city"], name="city"),
        "revenue": ops.normalize(inputs["revenue"], "zscore"),
        "product_id": ops.vocabulary(inputs["product_id"], name="product_id"),
        "category": ops.vocabulary(inputs["category"], name="category"),
        "price": price_bucket,
        "cross_category_x_price": ops.hashed_cross(
            [ops.dense(inputs["category"]), price_bucket], 50
        ),
        "quantity_target": ops.target(inputs["quantity"], clip_min=0.0, clip_max=100.0, log1p=True),
    }


def transform(train_rows, eval_rows, root: str) -> dict[str, str]:
    """Fit TFT on train with Beam's DirectRunner and write the raw splits, as the pipeline
    does: Transform writes the transform graph and no transformed examples; the trainer
    transforms the raw splits as it reads them."""
    import apache_beam as beam
    import tensorflow as tf
    import tensorflow_transform as tft
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

    raw_spec = {
        "customer_id": tf.io.FixedLenFeature([], tf.string),
        "city": tf.io.FixedLenFeature([], tf.string),
        "revenue": tf.io.FixedLenFeature([], tf.float32),
        "product_id": tf.io.FixedLenFeature([], tf.string),
        "category": tf.io.FixedLenFeature([], tf.string),
        "price": tf.io.FixedLenFeature([], tf.float32),
        "quantity": tf.io.FixedLenFeature([], tf.float32),
    }
    metadata = dataset_metadata.DatasetMetadata(schema_utils.schema_from_feature_spec(raw_spec))
    transform_dir = os.path.join(root, "transform_graph")
    with beam.Pipeline() as pipeline, tft_beam.Context(temp_dir=os.path.join(root, "tmp")):
        train = pipeline | "train" >> beam.Create(train_rows)
        transform_fn = (train, metadata) | tft_beam.AnalyzeDataset(preprocessing_fn)
        _ = transform_fn | tft_beam.WriteTransformFn(transform_dir)
    # The raw splits, as ExampleGen writes them.
    for name, rows in (("train", train_rows), ("eval", eval_rows)):
        os.makedirs(os.path.join(root, "raw", name), exist_ok=True)
        with tf.io.TFRecordWriter(
            os.path.join(root, "raw", name, "part.gz"), options="GZIP"
        ) as writer:
            for row in rows:
                writer.write(raw_example(row).SerializeToString())
    # TFX's Transform also writes the raw schema next to the transform graph; serving reads it.
    metadata_io.write_metadata(
        metadata, os.path.join(transform_dir, tft.TFTransformOutput.RAW_METADATA_DIR)
    )
    return {
        "transform_output": transform_dir,
        "train": os.path.join(root, "raw", "train", "*.gz"),
        "eval": os.path.join(root, "raw", "eval", "*.gz"),
        "raw_eval": os.path.join(root, "raw", "eval", "*.gz"),
    }


def raw_example(row: dict):
    """A tf.train.Example of one raw row (strings as bytes, numbers as floats)."""
    import tensorflow as tf

    feature = {}
    for name, value in row.items():
        if isinstance(value, str):
            feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode()]))
        else:
            feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def fn_args_for(data, run_dir: str, **custom_config):
    from tfx.components.trainer.fn_args_utils import FnArgs

    return FnArgs(
        train_files=[data.train],
        eval_files=[data.eval],
        transform_output=data.transform_output,
        serving_model_dir=os.path.join(run_dir, "serving_model"),
        model_run_dir=os.path.join(run_dir, "model_run"),
        custom_config={"raw_eval_files": [data.raw_eval], **custom_config},
    )


E2E_CONFIG = {"epochs": 3, "batch_size": 32, "learning_rate": 0.03, "seed": 11, "top_k": 10}
