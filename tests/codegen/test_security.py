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
