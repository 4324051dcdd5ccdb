"""The platform's images: what each is for, its build definition, and its tags.

    python -m pipelines.images [--dry-run] [--push]        (make images [DRY_RUN=1])

Every image is tagged `<release>` (the package version, the tag compiled IR and tenant stacks
pin) and `<release>-<git sha>` (the commit it was built from), in the platform's registry
(`pipelines.release`); never `latest`. Base images are pinned by version in the Dockerfiles, and
`tests/pipelines/test_images.py` lints them with hadolint. A real build needs Docker and a clean
working tree (the SHA tag must name what was built); `--dry-run` prints the plan only.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass

from pipelines import release


@dataclass(frozen=True)
class ImageSpec:
    name: str
    dockerfile: str
    purpose: str


IMAGES: tuple[ImageSpec, ...] = (
    ImageSpec("tfx-trainer", "pipelines/docker/tfx-trainer.Dockerfile",
              "every pipeline component and the CPU trainer (the compiled IR's executors)"),
    ImageSpec("tfx-trainer-gpu", "pipelines/docker/tfx-trainer-gpu.Dockerfile",
              "the trainer's custom job on GPUs (tenants with GPUs pin it as worker_image)"),
    ImageSpec("tf-serving-native", "serving/docker/tf-serving-native.Dockerfile",
              "TF Serving for brute-force models"),
    ImageSpec("model-server-scann", "serving/docker/model-server-scann.Dockerfile",
              "the Python model server (ScaNN models)"),
    ImageSpec("tfdv-parser", "serving/docker/tfdv-parser.Dockerfile",
              "the TFDV parser service"),
    ImageSpec("etl-runner", "pipelines/docker/etl-runner.Dockerfile",
              "python -m etl run: the ETL Cloud Run job and its Dataflow workers"),
)  # fmt: skip


def git_sha() -> tuple[str, bool]:
    """(12-character commit SHA, whether the working tree has uncommitted changes)."""
    root = str(release.ROOT)
    sha = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, check=True,
                         capture_output=True, text=True).stdout.strip()  # fmt: skip
    dirty = bool(subprocess.run(["git", "status", "--porcelain"], cwd=root, check=True,
                                capture_output=True, text=True).stdout.strip())  # fmt: skip
    return sha, dirty


def tags(spec: ImageSpec, sha: str) -> list[str]:
    """`<registry>/<name>:<release>` and `<registry>/<name>:<release>-<sha>`."""
    return [release.image(spec.name), release.image(spec.name, f"{release.version()}-{sha}")]


def commands(sha: str, *, push: bool) -> list[list[str]]:
    out = []
    for spec in IMAGES:
        refs = tags(spec, sha)
        out.append(["docker", "build", "-f", spec.dockerfile,
                    *(arg for ref in refs for arg in ("-t", ref)), "."])  # fmt: skip
        if push:
            out += [["docker", "push", ref] for ref in refs]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.images", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="print the build plan only")
    parser.add_argument("--push", action="store_true", help="push after building")
    args = parser.parse_args(argv)
    sha, dirty = git_sha()
    plan = commands(sha, push=args.push)
    if args.dry_run:
        for spec in IMAGES:
            print(f"{spec.name}: {spec.purpose} ({spec.dockerfile})")
        for command in plan:
            print("  " + " ".join(command))
        note = " (uncommitted changes: a real build refuses)" if dirty else ""
        print(f"dry run: {len(IMAGES)} image(s) at {release.version()}-{sha}{note}")
        return 0
    if dirty:
        print("error: the working tree has uncommitted changes; the SHA tag would not name "
              "what is built: commit first", file=sys.stderr)  # fmt: skip
        return 2
    if shutil.which("docker") is None:
        print("error: docker is not on PATH", file=sys.stderr)
        return 2
    for command in plan:
        print("+ " + " ".join(command), flush=True)
        if subprocess.run(command, cwd=str(release.ROOT)).returncode != 0:
            print(f"error: {' '.join(command[:3])} failed", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
