"""The serving containers' entrypoint, run here with a local model path instead of gs://."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from serving.process import listening_url
from serving.startup import SettingError, Settings, main, prepare
from tests.serving.tiny_model import CATALOGUE, save_tiny_model

ROOT = Path(__file__).resolve().parents[2]


def test_native_fetches_the_version_and_writes_tf_servings_batching_config(tmp_path):
    registered = save_tiny_model(tmp_path / "models" / "acme" / "v3")
    env = {"MODEL_URI": str(registered), "MODEL_VERSION": "3", "PORT": "8080",
           "MAX_BATCH_SIZE": "64", "NUM_BATCH_THREADS": "2"}  # fmt: skip
    root = tmp_path / "serve"
    command = prepare("native", env, root)
    assert (root / "recommender" / "3" / "saved_model.pb").is_file()
    assert (root / "batching.config").read_text() == (
        "max_batch_size { value: 64 }\n"
        "batch_timeout_micros { value: 0 }\n"
        "max_enqueued_batches { value: 100 }\n"
        "num_batch_threads { value: 2 }\n"
    )
    assert command == [
        "tensorflow_model_server", "--rest_api_port=8080", "--model_name=recommender",
        f"--model_base_path={root / 'recommender'}", "--enable_batching=true",
        f"--batching_parameters_file={root / 'batching.config'}",
    ]  # fmt: skip
    # A restart replaces the copy with the registered files.
    (root / "recommender" / "3" / "stale").write_text("x")
    prepare("native", env, root)
    assert not (root / "recommender" / "3" / "stale").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "MODEL_URI is required"),
        ({"MODEL_URI": "/m"}, "MODEL_VERSION is required"),
        ({"MODEL_URI": "/m", "MODEL_VERSION": "v3"}, "MODEL_VERSION must be an integer"),
        ({"MODEL_URI": "/m", "MODEL_VERSION": "٣"}, "MODEL_VERSION must be an integer"),
        ({"MODEL_URI": "/m", "MODEL_VERSION": "3", "PORT": "70000"}, "PORT must be an integer"),
        ({"MODEL_URI": "/m", "MODEL_VERSION": "3", "MAX_BATCH_SIZE": "0"}, "MAX_BATCH_SIZE"),
        (
            {"MODEL_URI": "/m", "MODEL_VERSION": "3", "BATCH_TIMEOUT_MICROS": "-1"},
            "BATCH_TIMEOUT_MICROS must be an integer from 0 to",
        ),
    ],
)
def test_a_bad_setting_names_the_variable(env, message):
    with pytest.raises(SettingError, match=message):
        Settings.from_env(env)


def test_a_zero_batch_timeout_is_allowed_and_the_default():
    base = {"MODEL_URI": "/m", "MODEL_VERSION": "3"}
    assert Settings.from_env(base).batch_timeout_micros == 0
    assert Settings.from_env(base | {"BATCH_TIMEOUT_MICROS": "2000"}).batch_timeout_micros == 2000


def test_a_folder_without_a_saved_model_and_an_unknown_runtime_are_refused(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(SettingError, match="holds no saved_model.pb"):
        prepare("native", {"MODEL_URI": str(empty), "MODEL_VERSION": "1"}, tmp_path / "serve")
    with pytest.raises(SettingError, match="is not a folder"):
        prepare("scann", {"MODEL_URI": str(tmp_path / "no"), "MODEL_VERSION": "1"}, tmp_path)
    with pytest.raises(SettingError, match="unknown runtime"):
        prepare("gpu", {"MODEL_URI": str(empty), "MODEL_VERSION": "1"}, tmp_path)


def test_main_exits_2_with_the_message(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MODEL_URI", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(["--runtime", "native", "--models-root", str(tmp_path), "--dry-run"])
    assert exit_.value.code == 2 and "MODEL_URI is required" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_python_image_entrypoint_serves_the_registered_version(tmp_path):
    """The scann image's ENTRYPOINT, as the container runs it: it fetches the version, then
    becomes `python -m serving.model_server` on PORT, which answers as version 3."""
    registered = save_tiny_model(tmp_path / "models" / "acme" / "v3")
    port = _free_port()
    env = {"MODEL_URI": str(registered), "MODEL_VERSION": "3", "PORT": str(port),
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}  # fmt: skip
    server = subprocess.Popen(
        [sys.executable, "-m", "serving.startup", "--runtime", "scann",
         "--models-root", str(tmp_path / "serve")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env,
    )  # fmt: skip
    try:
        url = None
        while url is None:
            line = server.stdout.readline()
            assert line, "the server exited before serving"
            url = listening_url(line)
        assert url.endswith(f":{port}")
        base = f"http://127.0.0.1:{port}/v1/models/recommender"
        with urllib.request.urlopen(base, timeout=10) as response:
            status = json.loads(response.read())
        assert status["model_version_status"][0]["version"] == "3"
        request = urllib.request.Request(
            f"{base}:predict",
            data=json.dumps({"instances": [{"customer_id": "C1", "revenue": 1}]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["predictions"][0]["product_ids"] == CATALOGUE
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == 0
    finally:
        server.kill()


def test_the_python_image_pins_the_locks_versions():
    lock = {
        line.split("==")[0].lower(): line.split("==")[1].split()[0]
        for line in (ROOT / "requirements.lock").read_text().splitlines()
        if "==" in line and not line.startswith((" ", "#"))
    }
    pins = [
        line.split("==")
        for line in (ROOT / "serving/docker/model-server-requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert pins and all(lock[name.lower()] == version for name, version in pins)
    native = (ROOT / "serving/docker/tf-serving-native.Dockerfile").read_text()
    assert f"google-cloud-storage=={lock['google-cloud-storage']}" in native
