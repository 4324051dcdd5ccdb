"""`python -m codegen`: render, --check, validate, presets and error reporting."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from codegen.cli import EXIT_INVALID, EXIT_OK, EXIT_STALE, main
from codegen.render import RENDERED_FILES, TRAINER_MODULE
from specs import PRESETS
from tests.codegen.helpers import EXAMPLES, REPO


def _args(example: str = "demo_b2b", *, model: str | None = None) -> list[str]:
    folder = EXAMPLES / example
    args = ["--dataset", str(folder / "dataset.json"), "--features", str(folder / "features.json")]
    args += ["--preset", model] if model else ["--model", str(folder / "model.json")]
    return [*args, "--training", str(folder / "training.json")]


def test_render_then_check(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["render", *_args(), "--out", str(out)]) == EXIT_OK
    assert sorted(p.name for p in out.iterdir()) == sorted(RENDERED_FILES)
    assert capsys.readouterr().out.count("wrote ") == 3
    # Fresh: --check passes and a second render writes nothing.
    assert main(["render", *_args(), "--out", str(out), "--check"]) == EXIT_OK
    assert main(["render", *_args(), "--out", str(out)]) == EXIT_OK
    assert "wrote" not in capsys.readouterr().out
    # Another model makes the trainer module stale; --check reports it and writes nothing.
    before = (out / TRAINER_MODULE).read_text()
    assert main(["render", *_args(model="deep"), "--out", str(out), "--check"]) == EXIT_STALE
    assert TRAINER_MODULE in capsys.readouterr().err
    assert (out / TRAINER_MODULE).read_text() == before


def test_check_on_an_empty_directory_fails(tmp_path):
    assert main(["render", *_args(), "--out", str(tmp_path), "--check"]) == EXIT_STALE


def test_validate_ok(capsys):
    assert main(["validate", *_args("online_retail")]) == EXIT_OK
    assert "valid" in capsys.readouterr().out


def test_invalid_config_names_file_and_field(tmp_path, capsys):
    data = json.loads((EXAMPLES / "demo_b2b" / "features.json").read_text())
    data["query_tower"]["features"][1]["column"] = 'a"); import os  #'
    bad = tmp_path / "features.json"
    bad.write_text(json.dumps(data))
    args = _args()
    args[args.index("--features") + 1] = str(bad)
    assert main(["validate", *args]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert f"{bad}: query_tower.features[1].column: " in err
    assert "Traceback" not in err


def test_subprocess_exit_code_and_no_traceback(tmp_path):
    bad = tmp_path / "model.json"
    bad.write_text('{"name": "m", "output_dim": 1}')
    args = _args()
    args[args.index("--model") + 1] = str(bad)
    proc = subprocess.run(
        [sys.executable, "-m", "codegen", "render", *args, "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert proc.returncode == EXIT_INVALID
    assert f"{bad}: output_dim: " in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


def test_presets_lists_every_preset(capsys):
    assert main(["presets"]) == EXIT_OK
    listed = [line.split(":")[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == sorted(PRESETS)


def test_model_and_preset_are_exclusive():
    with pytest.raises(SystemExit) as exit_:
        main(["validate", *_args(), "--preset", "standard"])
    assert exit_.value.code == 2


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "missing.json", "<file>: no such file"),
        (lambda d: d, "<file>: is a directory"),
        (lambda d: _write(d / "latin1.json", b'{"name": "caf\xe9"}'), "<file>: is not UTF-8"),
        (
            lambda d: _write(d / "big.json", b'{"epochs": ' + b"9" * 5000 + b"}"),
            "<json>: not usable",
        ),
        (lambda d: _write(d / "deep.json", b"[" * 100_000 + b"]" * 100_000), "<json>: nested too"),
        (lambda d: _write(d / "huge.json", b" " * (1024 * 1024 + 1)), "<file>: is larger than"),
        (lambda d: Path("/dev/zero"), "<file>: is larger than"),
    ],
)
def test_any_file_is_a_field_message_never_a_traceback(tmp_path, capsys, make, expected):
    """Whatever --training names, the CLI answers exit 2 and `<file>: <field>: <why>`."""
    folder = EXAMPLES / "demo_b2b"
    args = ["validate", "--dataset", str(folder / "dataset.json"), "--features",
            str(folder / "features.json"), "--model", str(folder / "model.json"),
            "--training", str(make(tmp_path))]  # fmt: skip
    assert main(args) == EXIT_INVALID
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err, err


def _write(path, data: bytes):
    path.write_bytes(data)
    return path
