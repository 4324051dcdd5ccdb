"""The release a checkout builds: its version, and where its images and templates are published.

The version is the package's (`pyproject.toml`); images are tagged with it (a tenant stack pins
the same `platform.image_tag`), and the platform's registries come from the tenant register
(`infra/Pulumi.platform.yaml`). Templates compile against these references, so the IR in the
catalogue is the IR that is published and run.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def version() -> str:
    """The package version, e.g. `0.1.0`."""
    text = (ROOT / "pyproject.toml").read_text()
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, flags=re.M)
    if match is None:
        raise ValueError("pyproject.toml has no version")
    return match.group(1)


@functools.lru_cache(maxsize=1)
def platform():
    """The platform's config (project, region, repositories), from the platform stack file."""
    from infra.config import platform_from_stack_config
    from infra.stacks import load_stack_config

    return platform_from_stack_config(load_stack_config("platform"))


def image(name: str, tag: str | None = None) -> str:
    """`<region>-docker.pkg.dev/<platform project>/<images repository>/<name>:<release>`."""
    from infra.naming import image_reference

    p = platform()
    return image_reference(p.region, p.project_id, p.docker_repository, name, tag or version())


def templates_host() -> str:
    """The platform's KFP repository in Artifact Registry, as kfp's RegistryClient names it."""
    p = platform()
    return f"https://{p.region}-kfp.pkg.dev/{p.project_id}/{p.templates_repository}"
