"""The config reference (docs/) is generated from the specs and kept current by this test."""

from __future__ import annotations

import json

import jsonschema
import pytest

from specs.reference import EXAMPLES, json_schemas, main


def test_the_checked_in_reference_matches_the_specs(capsys):
    assert main(["--check"]) == 0, capsys.readouterr().err


def test_the_examples_validate_against_the_json_schemas():
    for name, schema in json_schemas().items():
        jsonschema.validate(json.loads((EXAMPLES / f"{name}.json").read_text()), schema)


def test_the_json_schema_refuses_what_the_specs_refuse():
    features = json.loads((EXAMPLES / "features.json").read_text())
    features["query_tower"]["features"][0]["column"] = 'a"); import os  #'
    with pytest.raises(jsonschema.ValidationError, match="is not valid"):
        jsonschema.validate(features, json_schemas()["features"])
