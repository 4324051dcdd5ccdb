"""Execute rendered Transform modules with tf.Transform on a handful of in-memory rows."""

from __future__ import annotations

import importlib.util
import math
import sys

import numpy as np
import pytest

from codegen.render import TRANSFORM_MODULE, render_transform_module
from specs import transform_output_names
from tests.codegen.helpers import load_example

tf = pytest.importorskip("tensorflow")
tft_beam = pytest.importorskip("tensorflow_transform.beam")
dataset_metadata = pytest.importorskip("tensorflow_transform.tf_metadata.dataset_metadata")
schema_utils = pytest.importorskip("tensorflow_transform.tf_metadata.schema_utils")

DAY = 86_400
T0 = 1_704_067_200  # 2024-01-01 00:00:00 UTC, a Monday

# Raw rows as the dataset query returns them: ids are strings, timestamps int64 unix seconds.
ROWS = {
    "demo_b2b": [
        {
            "customer_id": f"c{i % 3}",
            "product_id": f"p{i % 4}",
            "ts": T0 + i * 7 * DAY + i * 3600,
            "segment": ["retail", "horeca"][i % 2],
            "city": ["Kyiv", "Lviv", "Odesa"][i % 3],
            "revenue_tier": ["A", "B"][i % 2],
            "category": ["food", "drinks"][i % 2],
            "brand": ["x", "y", "z"][i % 3],
            "unit_price": float(i) * 2.5,
            "quantity": [1, 3, 2000, 0][i % 4],
        }
        for i in range(8)
    ],
    "matrix_small": [
        {
            "buyer": f"b{i % 2}",
            "region": ["north", "south", "east"][i % 3],
            "employees": [5, 20, 400, 5000][i % 4],
            "ordered_at": T0 + i * 40 * DAY + i * 5000,
            "sku": f"s{i}",
            "channel": ["web", "phone"][i % 2],
            "amount": 10.0 + i,
            "units": i + 1,
        }
        for i in range(8)
    ],
}


def _feature_spec(rows: list[dict]) -> dict:
    def kind(value):
        if isinstance(value, str):
            return tf.string
        return tf.int64 if isinstance(value, int) else tf.float32

    return {name: tf.io.FixedLenFeature([1], kind(value)) for name, value in rows[0].items()}


def _import_rendered(tmp_path, name: str, source: str):
    path = tmp_path / f"{name}_{TRANSFORM_MODULE}"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"rendered_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_rendered_preprocessing_fns_run_under_tft_beam(tmp_path):
    """Both examples' modules in one Beam pipeline: their raw columns and outputs are disjoint,
    and one pipeline costs half the time of two (the fixed cost dominates on tiny data)."""
    examples = sorted(ROWS)
    modules, configs = {}, {}
    for name in examples:
        _, configs[name], _, _ = load_example(name)
        modules[name] = _import_rendered(tmp_path, name, render_transform_module(configs[name]))

    def preprocessing_fn(inputs):
        outputs = {}
        for name in examples:
            produced = modules[name].preprocessing_fn(inputs)
            assert not set(produced) & set(outputs)
            outputs.update(produced)
        return outputs

    rows = [{**a, **b} for a, b in zip(*(ROWS[n] for n in examples), strict=True)]
    raw = [{k: [v] for k, v in row.items()} for row in rows]
    metadata = dataset_metadata.DatasetMetadata(
        schema_utils.schema_from_feature_spec(_feature_spec(rows))
    )
    with tft_beam.Context(temp_dir=str(tmp_path / "tft")):
        (transformed, _), _ = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing_fn, output_record_batches=False
        )

    assert len(transformed) == len(rows)
    for name in examples:
        _check_outputs(configs[name], ROWS[name], transformed)
    values = {key: np.array([out[key] for out in transformed]) for key in transformed[0]}
    # demo_b2b: log normalization is log1p(x); the row with unit_price 2.5 (i = 1) gives log(3.5).
    assert math.isclose(float(values["unit_price"][1]), math.log1p(2.5), rel_tol=1e-6)
    # Row 0 is Monday 2024-01-01 00:00 UTC: day-of-week 0 and month 0 → sin 0, cos 1.
    assert values["ts_day_of_week_sin"][0] == pytest.approx(0.0, abs=1e-6)
    assert values["ts_month_cos"][0] == pytest.approx(1.0, abs=1e-6)
    # The target: quantity clipped to [0, 1000], then log1p.
    np.testing.assert_allclose(values["quantity_target"][:4], np.log1p([1, 3, 1000, 0]), rtol=1e-6)
    # matrix_small: the timestamp z-score has mean 0 over the analyzed rows; bucket ids follow
    # the boundaries [10, 50, 250, 1000] for employees 5, 20, 400, 5000.
    assert abs(float(values["ordered_at_z"].mean())) < 1e-4
    assert values["employees"][:4].tolist() == [0, 1, 3, 4]


def _check_outputs(features, rows: list[dict], transformed: list[dict]) -> None:
    expected = transform_output_names(features)
    assert set(expected) <= set(transformed[0])
    values = {name: np.array([out[name] for out in transformed]) for name in expected}
    for tower in (features.query_tower, features.candidate_tower):
        for feature in tower.features:
            if feature.kind == "string":
                distinct = len({row[feature.column] for row in rows})
                size = min(distinct, feature.vocab_size or distinct) + feature.oov_buckets
                assert values[feature.column].min() >= 0
                assert values[feature.column].max() < size
            elif feature.kind == "numeric" and feature.bucketize:
                ids = values[feature.column]
                assert ids.min() >= 0 and ids.max() <= len(feature.bucketize.boundaries)
            elif feature.kind == "timestamp":
                for part in feature.cyclical:
                    sin = values[f"{feature.column}_{part}_sin"]
                    cos = values[f"{feature.column}_{part}_cos"]
                    assert np.all(np.abs(sin) <= 1.0) and np.all(np.abs(cos) <= 1.0)
                    np.testing.assert_allclose(sin**2 + cos**2, 1.0, atol=1e-5)
        for cross in tower.crosses:
            ids = values[cross.name]
            assert ids.min() >= 0 and ids.max() < cross.hash_buckets


def test_transform_keys_match_both_towers_without_tensorflow(monkeypatch):
    """Cheap structural check for every example: a recording stub stands in for the ops."""
    from tests.codegen.helpers import EXAMPLE_NAMES

    class RecordingOps:
        def __getattr__(self, fn):
            def call(*args, **kwargs):
                if fn == "cyclical":
                    column, parts = args
                    return {
                        f"{kwargs['prefix']}_{p}_{f}": fn for p in parts for f in ("sin", "cos")
                    }
                return fn

            return call

    for name in EXAMPLE_NAMES:
        _, features, _, _ = load_example(name)
        namespace: dict = {}
        source = render_transform_module(features)
        monkeypatch.setitem(sys.modules, "trainer.transform_ops", RecordingOps())
        import trainer

        monkeypatch.setattr(trainer, "transform_ops", sys.modules["trainer.transform_ops"])
        exec(compile(source, f"{name}.py", "exec"), namespace)
        inputs = {column: column for column in features.raw_columns}
        out = namespace["preprocessing_fn"](inputs)
        assert sorted(out) == sorted(transform_output_names(features)), name


def test_a_delimited_string_becomes_padded_vocabulary_indices(tmp_path):
    from trainer import transform_ops as ops

    def preprocessing_fn(inputs):
        return {"genres": ops.value_list_vocabulary(inputs["genres"], name="genres",
                                                    separator="|", max_values=3)}  # fmt: skip

    rows = ["Drama|Comedy", " Drama | Sci-Fi |", "", "Drama|Comedy|Sci-Fi|Horror"]
    raw = [{"genres": [value]} for value in rows]
    metadata = dataset_metadata.DatasetMetadata(
        schema_utils.schema_from_feature_spec({"genres": tf.io.FixedLenFeature([1], tf.string)})
    )
    with tft_beam.Context(temp_dir=str(tmp_path / "tft")):
        (transformed, _), transform_fn = (raw, metadata) | tft_beam.AnalyzeAndTransformDataset(
            preprocessing_fn, output_record_batches=False
        )
    # Vocabulary by frequency: Drama 3, then Comedy 2 and Sci-Fi 2, then Horror 1 (ties are
    # ordered by value, descending, as tf.Transform does); values are trimmed, empties dropped,
    # a row keeps its first 3 values, and -1 pads.
    index = {"Drama": 0, "Sci-Fi": 1, "Comedy": 2, "Horror": 3}
    assert [list(row["genres"]) for row in transformed] == [
        [index["Drama"], index["Comedy"], -1],
        [index["Drama"], index["Sci-Fi"], -1],
        [-1, -1, -1],
        [index["Drama"], index["Comedy"], index["Sci-Fi"]],
    ]
