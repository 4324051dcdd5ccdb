"""A hostile column name is rejected at the spec boundary naming the field; nothing reaches code."""

from __future__ import annotations

import copy

import pytest

from specs import DatasetConfig, FeatureConfig, ModelConfig, SpecError, load_spec
from tests.codegen.helpers import EXAMPLES, load_example

HOSTILE = 'a"); import os  #'


def _example_json(kind: str) -> dict:
    dataset, features, model, _ = load_example("matrix_small")
    return {"dataset": dataset, "features": features, "model": model}[kind].model_dump(mode="json")


def _set(data: dict, path: tuple, value) -> dict:
    data = copy.deepcopy(data)
    target = data
    for key in path[:-1]:
        target = target[key]
    if isinstance(target[path[-1]], list) and not isinstance(value, list):
        target[path[-1]] = [value, *target[path[-1]][1:]]
    else:
        target[path[-1]] = value
    return data


CASES = [
    (DatasetConfig, "dataset", ("name",), "name"),
    (DatasetConfig, "dataset", ("dataset",), "dataset"),
    (DatasetConfig, "dataset", ("primary_table",), "primary_table"),
    (DatasetConfig, "dataset", ("joins", 0, "table"), "joins[0].table"),
    (DatasetConfig, "dataset", ("joins", 0, "on", 0, 1), "joins[0].on[0][1]"),
    (DatasetConfig, "dataset", ("columns", 1, "column"), "columns[1].column"),
    (DatasetConfig, "dataset", ("columns", 0, "alias"), "columns[0].alias"),
    (DatasetConfig, "dataset", ("roles", "customer_id"), "roles.customer_id"),
    (DatasetConfig, "dataset", ("roles", "revenue"), "roles.revenue"),
    (DatasetConfig, "dataset", ("filters", 1, "column"), "filters[1].column"),
    (DatasetConfig, "dataset", ("filters", 3, "column"), "filters[3].column"),
    (FeatureConfig, "features", ("name",), "name"),
    (FeatureConfig, "features", ("query_id",), "query_id"),
    (FeatureConfig, "features", ("candidate_id",), "candidate_id"),
    (FeatureConfig, "features", ("query_tower", "features", 0, "column"),
     "query_tower.features[0].column"),
    (FeatureConfig, "features", ("query_tower", "features", 2, "column"),
     "query_tower.features[2].column"),
    (FeatureConfig, "features", ("query_tower", "features", 3, "column"),
     "query_tower.features[3].column"),
    (FeatureConfig, "features", ("candidate_tower", "crosses", 0, "columns", 1),
     "candidate_tower.crosses[0].columns[1]"),
    (ModelConfig, "model", ("name",), "name"),
]  # fmt: skip


@pytest.mark.parametrize(("cls", "kind", "path", "field"), CASES, ids=[c[3] for c in CASES])
def test_hostile_identifier_is_rejected_naming_the_field(cls, kind, path, field):
    value = HOSTILE
    if "on" in path or path[::2] == ("columns", "column"):
        value = f"orders.{HOSTILE}"  # a qualified column: the column part is the hostile one
    data = _set(_example_json(kind), path, value)
    with pytest.raises(SpecError) as err:
        load_spec(cls, data, name=f"{kind}.json")
    fields = [problem[0] for problem in err.value.problems]
    assert field in fields, fields
    assert f"{kind}.json: {field}: " in str(err.value)
    assert "not a valid identifier" in str(err.value)


def test_examples_themselves_validate():
    for folder in sorted(EXAMPLES.iterdir()):
        for file in ("dataset.json", "features.json", "model.json", "training.json"):
            assert (folder / file).is_file(), folder / file
        load_example(folder.name)  # raises SpecError if not


def test_a_query_over_bigquerys_one_megabyte_is_refused_naming_the_filter(tmp_path, capsys):
    """80,000 category values: under 1 MiB of config, over 1 MiB of SQL; refused, nothing written."""
    import json

    from codegen.cli import main

    dataset = json.loads((EXAMPLES / "demo_b2b" / "dataset.json").read_text())
    dataset["filters"].append(
        {"type": "category", "column": "category", "exclude": [f"c{i:07d}" for i in range(80_000)]}
    )
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(dataset))
    code = main(["render", "--dataset", str(path), "--features",
                 str(EXAMPLES / "demo_b2b" / "features.json"), "--model",
                 str(EXAMPLES / "demo_b2b" / "model.json"), "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and not (tmp_path / "out").exists()
    err = capsys.readouterr().err
    assert "dataset.json: filters[2]: the dataset query is " in err
    assert "BigQuery accepts at most 1048576 (it holds 80000 values)" in err


def test_two_million_category_values_are_refused_before_any_sql_is_built():
    """The issue's case: a 22 MB query. Refused from the values' size, in seconds, not minutes."""
    import json

    from codegen.sql import check_query_size

    dataset = json.loads((EXAMPLES / "demo_b2b" / "dataset.json").read_text())
    values = [f"c{i:07d}" for i in range(2_000_000)]
    dataset["filters"].append({"type": "category", "column": "category", "include": values})
    config = load_spec(DatasetConfig, dataset)
    with pytest.raises(SpecError) as caught:
        check_query_size(config, source="dataset.json")
    [(field, why)] = caught.value.problems
    assert field == "filters[2]"
    assert "at least 20000000 bytes" in why and "(it holds 2000000 values)" in why


@pytest.mark.parametrize(
    ("config", "change", "field"),
    [
        ("features", lambda f: f["query_tower"]["features"][1].update(vocab_size=2**64),
         "query_tower.features[1].vocab_size"),
        ("dataset", lambda d: d["filters"].append({"type": "min_transactions", "count": 10**30}),
         "filters[2].count"),
    ],
)  # fmt: skip
def test_sizes_past_what_the_engines_take_are_refused(tmp_path, capsys, config, change, field):
    import json

    from codegen.cli import main

    paths = {n: EXAMPLES / "demo_b2b" / f"{n}.json" for n in ("dataset", "features")}
    data = json.loads(paths[config].read_text())
    change(data)
    paths[config] = tmp_path / f"{config}.json"
    paths[config].write_text(json.dumps(data))
    code = main(["validate", "--dataset", str(paths["dataset"]), "--features",
                 str(paths["features"]), "--model", str(EXAMPLES / "demo_b2b" / "model.json")])  # fmt: skip
    assert code == 2 and f"{config}.json: {field}: Input should be less than or equal to" in (
        capsys.readouterr().err
    )
