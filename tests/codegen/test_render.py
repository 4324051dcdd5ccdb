"""Rendering: every example with every preset is lint-clean, deterministic and well-formed; the
demo_b2b output matches the golden snapshot (regenerate with UPDATE_GOLDEN=1)."""

from __future__ import annotations

import ast
import os
import re
import sys
import types
from pathlib import Path

import pytest
from pydantic import ValidationError

from codegen.render import (
    CODEGEN_VERSION,
    DATASET_QUERY,
    RENDERED_FILES,
    TRAINER_MODULE,
    TRANSFORM_MODULE,
    RenderError,
    inputs_digest,
    py_data,
    py_literal,
    render_all,
    write_rendered,
)
from specs import PRESETS, ModelConfig, SpecError, check_compatible
from tests.codegen.helpers import EXAMPLE_NAMES, load_example, ruff_check

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str], dict[str, str]]:
    """Every example rendered with its own model config and with every preset."""
    out = {}
    for name in EXAMPLE_NAMES:
        dataset, features, model, training = load_example(name)
        out[name, "own"] = render_all(dataset, features, model, training)
        for preset in sorted(PRESETS):
            out[name, preset] = render_all(dataset, features, ModelConfig.preset(preset), training)
    return out


def test_examples_include_the_required_configs():
    assert {"demo_b2b", "online_retail"} <= set(EXAMPLE_NAMES)
    assert len(EXAMPLE_NAMES) >= 4


def test_render_all_produces_the_three_files(rendered):
    for files in rendered.values():
        assert sorted(files) == sorted(RENDERED_FILES)


def test_rendered_python_is_lint_clean_and_parses(rendered):
    # The transform module does not depend on the model: lint it once per example.
    seen = set()
    for (name, variant), files in rendered.items():
        for file in (TRANSFORM_MODULE, TRAINER_MODULE):
            if files[file] in seen:
                continue
            seen.add(files[file])
            ast.parse(files[file])
            result = ruff_check(files[file], file)
            assert result.returncode == 0, f"{name}/{variant}/{file}:\n{result.stdout}"


def test_rendering_is_deterministic(rendered):
    for name in EXAMPLE_NAMES:
        again = render_all(*load_example(name))
        assert again == rendered[name, "own"]
    # No clock in the output.
    for files in rendered.values():
        for text in files.values():
            assert not re.search(r"20\d\d-\d\d-\d\d[ T]\d\d:\d\d", text)


def test_headers_name_version_configs_and_digest(rendered):
    dataset, features, model, training = load_example("demo_b2b")
    files = rendered["demo_b2b", "own"]
    expected = {
        DATASET_QUERY: ("--", "dataset=demo_b2b", inputs_digest(dataset)),
        TRANSFORM_MODULE: ("#", "features=demo_b2b", inputs_digest(features)),
        TRAINER_MODULE: (
            "#",
            f"features=demo_b2b, model={model.name}",
            inputs_digest(features, model, training),
        ),
    }
    for file, (comment, names, digest) in expected.items():
        header = files[file].split("\n", 4)[:4]
        assert all(line.startswith(comment + " ") for line in header), file
        text = "\n".join(header)
        assert f"codegen {CODEGEN_VERSION}" in text and "DO NOT EDIT" in text
        assert names in text and digest in text


def test_digest_tracks_only_the_inputs_of_each_file(rendered):
    # Another preset changes the trainer module only: the query and the transform stay put.
    own, deep = rendered["demo_b2b", "own"], rendered["demo_b2b", "deep"]
    assert own[DATASET_QUERY] == deep[DATASET_QUERY]
    assert own[TRANSFORM_MODULE] == deep[TRANSFORM_MODULE]
    assert own[TRAINER_MODULE] != deep[TRAINER_MODULE]


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_trainer_module_binds_the_configs(name, rendered, monkeypatch):
    """Exec the module with `trainer.run` stubbed: the trainer library is tested on its own."""
    dataset, features, model, training = load_example(name)
    calls = []
    stub = types.ModuleType("trainer.run")
    stub.run_training = lambda fn_args, **kw: calls.append((fn_args, kw))
    monkeypatch.setitem(sys.modules, "trainer.run", stub)
    import trainer

    monkeypatch.setattr(trainer, "retrieval", stub, raising=False)
    namespace: dict = {}
    exec(compile(rendered[name, "own"][TRAINER_MODULE], TRAINER_MODULE, "exec"), namespace)
    assert namespace["FEATURES"] == features
    assert namespace["MODEL"] == model
    assert namespace["TRAINING"] == training
    namespace["run_fn"]("fn-args")
    assert calls == [("fn-args", {"features": features, "model": model, "training": training})]


def test_trainer_module_emits_python_literals_not_json(rendered):
    text = rendered["demo_b2b", "own"][TRAINER_MODULE]
    assert "None" in text and "False" in text
    assert not re.search(r"\b(null|true|false)\b", text)


def test_golden_demo_b2b(rendered):
    files = rendered["demo_b2b", "own"]
    folder = GOLDEN / "demo_b2b"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        write_rendered(files, folder)
    for file, text in files.items():
        path = folder / file
        assert path.is_file(), f"missing golden {path}; run with UPDATE_GOLDEN=1"
        assert path.read_text() == text, f"{file} differs from golden; UPDATE_GOLDEN=1 to accept"


def test_write_rendered_is_idempotent(tmp_path, rendered):
    files = rendered["matrix_small", "own"]
    assert write_rendered(files, tmp_path / "out") == sorted(files)
    mtimes = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()}
    assert write_rendered(files, tmp_path / "out") == []
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "out").iterdir()} == mtimes
    changed = dict(files, **{TRAINER_MODULE: files[TRAINER_MODULE] + "# edited\n"})
    assert write_rendered(changed, tmp_path / "out") == [TRAINER_MODULE]
    assert (tmp_path / "out" / TRAINER_MODULE).read_text().endswith("# edited\n")


def test_python_literal_filters_round_trip_and_refuse_non_data():
    tricky = "a\"); import os  #\n'\\"
    assert ast.literal_eval(py_literal(tricky)) == tricky
    data = {"b": [1, 2.5, None, True], "a": {"s": tricky}}
    assert ast.literal_eval(py_data(data)) == data
    with pytest.raises(RenderError):
        py_literal(float("inf"))
    with pytest.raises(RenderError):
        py_data({"x": object()})


def test_features_must_match_the_dataset_columns():
    dataset, _, _, _ = load_example("online_retail")
    _, features, _, _ = load_example("demo_b2b")
    with pytest.raises(SpecError) as err:
        check_compatible(dataset, features, source="features.json")
    text = str(err.value)
    assert (
        "features.json: query_tower.features[1].column: 'segment' is not an output column" in text
    )
    assert "candidate_tower.features[3].column" in text


def test_timestamp_feature_must_be_the_timestamp_role():
    dataset, features, _, _ = load_example("demo_b2b")
    data = features.model_dump(mode="json")
    data["query_tower"]["features"][3] = {"kind": "timestamp", "column": "revenue_tier"}
    data["query_tower"]["features"][4] = {"kind": "string", "column": "ts"}
    broken = type(features).model_validate(data)
    with pytest.raises(SpecError, match=r"query_tower.features\[3\].column: a timestamp feature"):
        check_compatible(dataset, broken)


def test_id_features_must_be_the_dataset_id_roles():
    dataset, features, _, _ = load_example("demo_b2b")
    data = features.model_dump(mode="json")
    data["query_id"] = "segment"
    with pytest.raises(
        SpecError, match=r"query_id: 'segment' must be the dataset's roles.customer_id"
    ):
        check_compatible(dataset, type(features).model_validate(data))


def test_target_column_must_be_a_dataset_column_and_not_a_feature():
    dataset, features, _, _ = load_example("demo_b2b")
    data = features.model_dump(mode="json")
    data["target"]["column"] = "margin"
    with pytest.raises(SpecError, match=r"target.column: 'margin' is not an output column"):
        check_compatible(dataset, type(features).model_validate(data))
    data["target"]["column"] = "unit_price"
    with pytest.raises(ValidationError, match="target column 'unit_price' is also a feature"):
        type(features).model_validate(data)


@pytest.mark.parametrize(
    "target, message",
    [
        ({"column": "quantity", "log1p": True}, "log1p needs clip_min >= 0"),
        ({"column": "quantity", "clip_min": 5, "clip_max": 5}, "clip_min .* less than clip_max"),
        ({"column": "1quantity"}, "target.column"),
    ],
)
def test_invalid_targets_are_named(target, message):
    _, features, _, _ = load_example("demo_b2b")
    data = features.model_dump(mode="json") | {"target": target}
    with pytest.raises(ValidationError, match=message) as err:
        type(features).model_validate(data)
    assert "target" in str(err.value)


def test_ranking_and_multitask_models_need_a_target():
    dataset, features, model, training = load_example("demo_b2b")
    untargeted = features.model_copy(update={"target": None})
    for model_type in ("ranking", "multitask"):
        ranking = model.model_copy(update={"model_type": model_type})
        with pytest.raises(SpecError, match=rf"model_type: a {model_type} model predicts a target"):
            render_all(dataset, untargeted, ranking, training)
        assert "run_training" in render_all(dataset, features, ranking, training)[TRAINER_MODULE]
    render_all(dataset, untargeted, model, training)  # retrieval needs none
