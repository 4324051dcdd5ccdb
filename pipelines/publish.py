"""Publish every template version to the platform's KFP repository in Artifact Registry.

    python -m pipelines.publish [--dry-run] [--host URL]      (make publish [DRY_RUN=1])

Each version is compiled, written as canonical JSON (sorted keys, no whitespace: the bytes whose
sha256 the catalogue records) and uploaded with kfp's `RegistryClient` as package `<template>`,
tagged `v<version>`. Artifact Registry names the upload's version `sha256:<digest of the bytes>`,
so the published version is the catalogue's `ir_sha256`, and a tenant's schedule pins it.

Idempotent: a tag that already points at the same digest is left alone; a tag that points at
another digest (the template changed without a version bump) is refused, and nothing else is
uploaded in that run. `--dry-run` compiles and prints what would be uploaded, contacting nothing.
Exit codes: 0 done (or nothing to do); 2 refused (named).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VERSION_PREFIX = "sha256:"


class PublishRefused(RuntimeError):
    """A version cannot be published as it is (changed content under an existing tag)."""


@dataclass(frozen=True)
class Artifact:
    """One template version as it is published."""

    package: str
    tag: str
    digest: str
    content: bytes


def artifacts(compiled: Callable[[Any], dict] | None = None) -> list[Artifact]:
    """Every registered template version, compiled (`compiled(template)`, default: the release's
    compile) and checked against the catalogue, so what is published is what infra pins."""
    from pipelines import catalogue, registry, vertex

    compile_ir = compiled or vertex.compile_template
    out = []
    for template in registry.all_templates():
        spec = compile_ir(template)
        digest = catalogue.ir_digest(spec)
        entry = catalogue.load().get((template.name, template.version))
        if entry is None or entry["ir_sha256"] != digest:
            raise PublishRefused(
                f"{template.tag}: the compiled IR is not the catalogue's (run python -m "
                "pipelines.catalogue, and bump the version if the template changed)"
            )
        out.append(
            Artifact(template.name, f"v{template.version}", digest, catalogue.canonical(spec))
        )
    return out


def _existing_digest(client, artifact: Artifact) -> str | None:
    """The digest the artifact's tag points at in the registry, or None when it has no tag."""
    import requests

    try:
        tag = client.get_tag(artifact.package, artifact.tag)
    except requests.HTTPError as exc:
        if exc.response is not None and exc.response.status_code == 404:
            return None
        raise
    version = str(tag.get("version", "")).rsplit("/", 1)[-1]
    return version.removeprefix(VERSION_PREFIX) or None


def upload(client, package: str, tag: str, content: bytes, digest: str) -> str:
    """Upload `content` (a pipeline's IR) as `package`, tagged `tag`, with kfp's RegistryClient;
    returns the version, which must be `sha256:<digest>` (else PublishRefused)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{package}-{tag}.yaml"  # JSON is YAML
        path.write_bytes(content)
        stored, version = client.upload_pipeline(str(path), tags=[tag])
    if (stored, version) != (package, VERSION_PREFIX + digest):
        raise PublishRefused(f"{package}:{tag}: the registry stored {stored}/{version}, expected "
                             f"{package}/{VERSION_PREFIX}{digest}")  # fmt: skip
    return version


def publish(client, items: Iterable[Artifact], *, log: Callable[[str], None] = print) -> dict:
    """Upload what the registry lacks; returns {tag-qualified name: "uploaded" | "unchanged"}.
    Checks every tag before uploading anything, so a refusal leaves the registry as it was."""
    items = list(items)
    states = {}
    for artifact in items:
        existing = _existing_digest(client, artifact)
        name = f"{artifact.package}:{artifact.tag}"
        if existing is None:
            states[name] = "upload"
        elif existing == artifact.digest:
            states[name] = "unchanged"
        else:
            raise PublishRefused(
                f"{name} is published as sha256:{existing[:12]}..., the build gives "
                f"sha256:{artifact.digest[:12]}...: a published version never changes; bump the "
                "template's version"
            )
    for artifact in items:
        name = f"{artifact.package}:{artifact.tag}"
        if states[name] == "unchanged":
            log(f"unchanged {name} (sha256:{artifact.digest[:12]})")
            continue
        version = upload(client, artifact.package, artifact.tag, artifact.content, artifact.digest)
        states[name] = "uploaded"
        log(f"uploaded {name} as {version}")
    return states


def main(argv: list[str] | None = None) -> int:
    from pipelines import release

    parser = argparse.ArgumentParser(prog="python -m pipelines.publish", description=__doc__)
    parser.add_argument("--dry-run", action="store_true", help="print the plan, contact nothing")
    parser.add_argument("--host", help="KFP registry host (default: the platform's repository)")
    parser.add_argument("--config-file", help="RegistryClient context file (another registry)")
    parser.add_argument("--auth-file", help="RegistryClient token file (default: Google's ADC)")
    args = parser.parse_args(argv)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    host = args.host or release.templates_host()
    try:
        items = artifacts()
    except PublishRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.dry_run:
        for a in items:
            print(f"would publish {a.package}:{a.tag} as {VERSION_PREFIX}{a.digest} "
                  f"({len(a.content)} bytes) to {host}, unless that tag already holds it")  # fmt: skip
        print(f"dry run: {len(items)} template version(s), nothing contacted")
        return 0
    import requests
    from kfp.registry import RegistryClient

    try:
        client = RegistryClient(host=host, config_file=args.config_file, auth_file=args.auth_file)
        states = publish(client, items)
    except PublishRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        why = {401: "authentication failed", 403: "permission denied"}.get(status, "refused")
        print(f"error: the registry {host} answered {status} ({why})", file=sys.stderr)
        return 2
    except (requests.ConnectionError, ValueError) as exc:
        print(f"error: the registry {host} cannot be used: {exc}", file=sys.stderr)
        return 2
    uploaded = sum(1 for s in states.values() if s == "uploaded")
    print(f"published {uploaded}, unchanged {len(states) - uploaded}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
