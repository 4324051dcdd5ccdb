"""Property-based fuzz of the four codegen configs: every mutant of a shipped example is either
refused with `<field>: <why>` problems (SpecError), or accepted and rendered into a query that
parses as BigQuery SQL and modules that parse as Python. Never any other exception."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from unittest import mock

import sqlglot
from hypothesis import given
from hypothesis import strategies as st

from codegen.cli import InvalidConfigs, load_configs
from codegen.render import DATASET_QUERY, TRAINER_MODULE, TRANSFORM_MODULE, render_all
from tests.fuzzing import Tally, fuzz_settings, mutants

EXAMPLES = Path(__file__).resolve().parents[2] / "codegen" / "examples"
KINDS = ("dataset", "features", "model", "training")
SETS = [
    {kind: json.loads((folder / f"{kind}.json").read_text()) for kind in KINDS}
    for folder in sorted(EXAMPLES.iterdir())
    if folder.is_dir()
]
EXAMPLES_RUN = 1500


def _json(value) -> str:
    # NaN and infinity go in as the literals Python's JSON reader accepts, as a file could hold.
    return json.dumps(value, allow_nan=True)


def test_every_mutant_is_refused_by_field_or_renders_code_that_parses():
    tally = Tally("codegen configs (dataset, features, model, training)")

    @fuzz_settings(EXAMPLES_RUN)
    @given(data=st.data())
    def check(data):
        configs = dict(data.draw(st.sampled_from(SETS)))
        kind = data.draw(st.sampled_from(KINDS))
        configs[kind] = data.draw(mutants([configs[kind]]))
        texts = {k: _json(v) for k, v in configs.items()}
        try:
            dataset, features, model, training = load_configs(
                texts["dataset"], texts["features"], texts["model"], texts["training"]
            )
        except InvalidConfigs as invalid:
            problems = [p for e in invalid.errors for p in e.problems]
            assert problems and all(field and why for field, why in problems), invalid.lines()
            tally.refused += 1
            return
        files = render_all(dataset, features, model, training)
        assert len(sqlglot.parse(files[DATASET_QUERY], read="bigquery")) == 1
        for name in (TRANSFORM_MODULE, TRAINER_MODULE):
            ast.parse(files[name], filename=name)
        tally.accepted += 1

    # Formatting is ruff's business (a subprocess per module); parsing is what is checked here.
    with mock.patch("codegen.render.format_python", lambda source: source):
        check()
    print(tally.report())
    assert tally.total >= EXAMPLES_RUN * 0.9 and tally.accepted and tally.refused
