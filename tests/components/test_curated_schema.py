"""SchemaGen with a curated schema: taken as given, refused when corrupt, and what TFX's
ExampleValidator checks the data against."""

from __future__ import annotations

import json
import os

import pytest

from components.curated_schema import CuratedSchemaError, Executor

CURATED = """
feature { name: "customer_id" type: BYTES presence { min_fraction: 1.0 } }
feature {
  name: "segment" type: BYTES domain: "segment"
  presence { min_fraction: 1.0 }
}
string_domain { name: "segment" value: "retail" value: "wholesale" }
"""


def _artifacts(tmp_path, stats_splits: dict | None = None):
    from tfx.types import artifact_utils, standard_artifacts

    statistics = standard_artifacts.ExampleStatistics()
    statistics.uri = str(tmp_path / "statistics")
    statistics.split_names = artifact_utils.encode_split_names(list(stats_splits or ["train"]))
    for split, frame in (stats_splits or {}).items():
        import tensorflow_data_validation as tfdv

        folder = tmp_path / "statistics" / f"Split-{split}"
        folder.mkdir(parents=True)
        stats = tfdv.generate_statistics_from_dataframe(frame)
        (folder / "FeatureStats.pb").write_bytes(stats.SerializeToString())
    schema = standard_artifacts.Schema()
    schema.uri = str(tmp_path / "schema")
    os.makedirs(schema.uri, exist_ok=True)
    return statistics, schema


def test_the_curated_schema_is_the_stage_output_and_the_validator_checks_against_it(tmp_path):
    import pandas as pd
    from tfx.components.example_validator import executor as validator
    from tfx.types import standard_artifacts

    curated = tmp_path / "schema.pbtxt"
    curated.write_text(CURATED)
    good = pd.DataFrame({"customer_id": ["C1", "C2"], "segment": ["retail", "wholesale"]})
    bad = pd.DataFrame({"customer_id": ["C3", "C4"], "segment": ["retail", "government"]})
    statistics, schema = _artifacts(tmp_path, {"train": good, "eval": bad})
    Executor().Do({"statistics": [statistics]}, {"schema": [schema]},
                  {"curated_schema": str(curated), "infer_feature_shape": 1})  # fmt: skip
    written = (tmp_path / "schema" / "schema.pbtxt").read_text()
    assert 'value: "wholesale"' in written and "government" not in written

    anomalies = standard_artifacts.ExampleAnomalies()
    anomalies.uri = str(tmp_path / "anomalies")
    validator.Executor().Do({"statistics": [statistics], "schema": [schema]},
                            {"anomalies": [anomalies]}, {"exclude_splits": "[]"})  # fmt: skip
    # The eval split has a segment the curated domain does not know; train has none.
    blessed = anomalies.get_json_value_custom_property("blessed")
    assert json.loads(json.dumps(blessed)) == {"train": 1, "eval": 0}


def test_without_a_curated_schema_the_schema_is_inferred(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"customer_id": ["C1", "C2"], "quantity": [1, 3]})
    statistics, schema = _artifacts(tmp_path, {"train": frame})
    Executor().Do({"statistics": [statistics]}, {"schema": [schema]},
                  {"curated_schema": "", "infer_feature_shape": 1, "exclude_splits": "[]"})  # fmt: skip
    written = (tmp_path / "schema" / "schema.pbtxt").read_text()
    assert 'name: "quantity"' in written and 'name: "customer_id"' in written


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), ("feature { name: ", "is not a schema"),
     ("", "declares no feature")],
)  # fmt: skip
def test_a_missing_or_corrupt_curated_schema_names_the_parameter(tmp_path, content, message):
    curated = tmp_path / "schema.pbtxt"
    if content is not None:
        curated.write_text(content)
    statistics, schema = _artifacts(tmp_path)
    with pytest.raises(CuratedSchemaError, match=f"^curated_schema: .*{message}"):
        Executor().Do({"statistics": [statistics]}, {"schema": [schema]},
                      {"curated_schema": str(curated)})  # fmt: skip
    assert not (tmp_path / "schema" / "schema.pbtxt").exists()
