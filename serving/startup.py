"""The serving containers' entrypoint: fetch the versioned model, write the batching config, serve.

    python -m serving.startup --runtime native|scann [--models-root /models] [--dry-run]

Both images (`serving/docker/`) start with it. From the environment Cloud Run gives the container
(`registry.cloudrun` sets the first two):

    MODEL_URI        the registered version's folder (gs://<models bucket>/<model>/v<N>, or a path)
    MODEL_VERSION    its version number N
    PORT             the port to listen on (8080, `serving.routing.CONTAINER_PORT`)
    MAX_BATCH_SIZE, BATCH_TIMEOUT_MICROS, MAX_ENQUEUED_BATCHES, NUM_BATCH_THREADS
                     request batching (defaults: 128, 1000, 100, the CPU count)

it copies the model to `<models root>/recommender/<N>/` (the layout TF Serving loads a numbered
version from), then replaces itself with the server: TF Serving's `tensorflow_model_server` with
that batching config (runtime "native"), or the platform's Python server
(`python -m serving.model_server`, runtime "scann"; the command the tests and local deployments
run). `--dry-run` prints the command as JSON instead. A bad setting exits 2 naming the variable.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

MODEL_NAME = "recommender"  # serving.routing.MODEL_NAME; this module imports nothing heavy
BATCHING_FILE = "batching.config"


class SettingError(ValueError):
    """A setting of the environment the container cannot start with."""


@dataclass(frozen=True)
class Settings:
    model_uri: str
    version: int
    port: int
    max_batch_size: int
    batch_timeout_micros: int
    max_enqueued_batches: int
    num_batch_threads: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        uri = env.get("MODEL_URI", "").strip()
        if not uri:
            raise SettingError("MODEL_URI is required: the registered version's folder")
        return cls(
            model_uri=uri,
            version=_positive(env, "MODEL_VERSION", None),
            port=_positive(env, "PORT", 8080, maximum=65535),
            max_batch_size=_positive(env, "MAX_BATCH_SIZE", 128),
            # 0, as TF Serving's default: a batch is what arrived while the last one ran.
            batch_timeout_micros=_positive(env, "BATCH_TIMEOUT_MICROS", 0, minimum=0),
            max_enqueued_batches=_positive(env, "MAX_ENQUEUED_BATCHES", 100),
            num_batch_threads=_positive(env, "NUM_BATCH_THREADS", os.cpu_count() or 1),
        )


def _positive(
    env: Mapping[str, str], name: str, default: int | None, maximum: int = 10**9, minimum: int = 1
) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        if default is None:
            raise SettingError(f"{name} is required")
        return default
    if not raw.isascii() or not raw.isdigit() or not minimum <= int(raw) <= maximum:
        raise SettingError(f"{name} must be an integer from {minimum} to {maximum}, got {raw!r}")
    return int(raw)


def fetch_model(uri: str, target: Path) -> Path:
    """Copy the SavedModel folder at `uri` (gs:// or a local path) to `target`; replaces an
    earlier copy, so a restarted container serves exactly the registered files."""
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    if uri.startswith("gs://"):
        _download_gcs(uri, target)
    else:
        source = Path(uri)
        if not source.is_dir():
            raise SettingError(f"MODEL_URI {uri!r} is not a folder")
        shutil.copytree(source, target)
    if not (target / "saved_model.pb").is_file():
        raise SettingError(f"MODEL_URI {uri!r} holds no saved_model.pb")
    return target


def _download_gcs(uri: str, target: Path) -> None:
    from google.cloud import storage  # the image's only dependency beyond the standard library

    bucket_name, _, prefix = uri[len("gs://") :].partition("/")
    prefix = prefix.rstrip("/") + "/"
    client = storage.Client()
    found = False
    for blob in client.list_blobs(bucket_name, prefix=prefix):
        relative = blob.name[len(prefix) :]
        if not relative or relative.endswith("/"):
            continue
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        blob.download_to_filename(str(path))
        found = True
    if not found:
        raise SettingError(f"MODEL_URI {uri!r} holds no files")


def batching_config(settings: Settings) -> str:
    """TF Serving's batching parameters (text proto) from the settings."""
    return "".join(
        f"{name} {{ value: {value} }}\n"
        for name, value in (
            ("max_batch_size", settings.max_batch_size),
            ("batch_timeout_micros", settings.batch_timeout_micros),
            ("max_enqueued_batches", settings.max_enqueued_batches),
            ("num_batch_threads", settings.num_batch_threads),
        )
    )


def server_command(runtime: str, settings: Settings, models_root: Path) -> list[str]:
    """The command that serves the fetched model on `settings.port`."""
    base = models_root / MODEL_NAME
    if runtime == "native":
        return [
            "tensorflow_model_server",
            f"--rest_api_port={settings.port}",
            f"--model_name={MODEL_NAME}",
            f"--model_base_path={base}",
            "--enable_batching=true",
            f"--batching_parameters_file={models_root / BATCHING_FILE}",
        ]
    if runtime == "scann":
        return [
            sys.executable, "-m", "serving.model_server",
            # The base path: the server loads the numbered version and reports its number.
            "--model-dir", str(base),
            "--model-name", MODEL_NAME,
            "--host", "0.0.0.0",
            "--port", str(settings.port),
            "--max-batch-size", str(settings.max_batch_size),
            "--batch-timeout-micros", str(settings.batch_timeout_micros),
            "--num-batch-threads", str(settings.num_batch_threads),
            # Its queue counts requests, TF Serving's batches: the same bound in rows.
            "--max-enqueued", str(settings.max_batch_size * settings.max_enqueued_batches),
        ]  # fmt: skip
    raise SettingError(f"unknown runtime {runtime!r}: native or scann")


def prepare(runtime: str, env: Mapping[str, str], models_root: Path) -> list[str]:
    """Fetch the model and write the batching config; return the server's command."""
    settings = Settings.from_env(env)
    command = server_command(runtime, settings, models_root)  # checks the runtime first
    fetch_model(settings.model_uri, models_root / MODEL_NAME / str(settings.version))
    (models_root / BATCHING_FILE).write_text(batching_config(settings))
    return command


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runtime", choices=("native", "scann"), required=True)
    parser.add_argument("--models-root", type=Path, default=Path("/models"))
    parser.add_argument("--dry-run", action="store_true", help="print the command, do not run it")
    args = parser.parse_args(argv)
    try:
        command = prepare(args.runtime, os.environ, args.models_root)
    except SettingError as exc:
        print(f"serving startup: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    if args.dry_run:
        print(json.dumps(command))
        return
    print(f"serving startup: {' '.join(command)}", file=sys.stderr, flush=True)
    os.execvp(command[0], command)


if __name__ == "__main__":
    main()
