"""The template catalogue: every template version the registry holds, as data the rest of the
platform reads without importing TFX.

`pipelines/catalogue.json` lists, per version: name, semantic version, publish tag, description,
components, the parameter schema (JSON Schema of the template's parameters), the run limits, the
sha256 of its compiled KFP IR and the images that IR runs. Infra validates a tenant's schedules
against it (`infra.config`): a template and version that must exist, parameters that must fit
that version's schema and limits. Generated: `python -m pipelines catalogue` writes it (compiling
every template), `--check` exits 1 when it is out of date; a test keeps it current.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

CATALOGUE = Path(__file__).resolve().parent / "catalogue.json"
IR_DIR = Path(__file__).resolve().parent / "ir"
"""The compiled IR of every catalogued version, `<tag>.json` (`vertex.write_ir`'s layout)."""


def canonical(spec: dict) -> bytes:
    """The IR's canonical JSON (sorted keys, no whitespace): the bytes that are published, the
    same for any file layout of the same pipeline."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def ir_digest(spec: dict) -> str:
    """sha256 of the IR's canonical JSON."""
    return hashlib.sha256(canonical(spec)).hexdigest()


def ir_images(spec: dict) -> list[str]:
    """The container images the IR's executors run, as written in it."""
    executors = spec.get("deploymentSpec", {}).get("executors", {}).values()
    return sorted({e["container"]["image"] for e in executors if "container" in e})


def entry(template, spec: dict) -> dict[str, Any]:
    """One catalogue entry from a `PipelineTemplate` and its compiled IR."""
    return {
        "name": template.name,
        "version": template.version,
        "tag": template.tag,
        "description": template.description,
        "components": list(template.components),
        "parameters": template.parameters.model_json_schema(),
        "limits": {k: list(v) for k, v in sorted(template.limits.items())},
        "ir_sha256": ir_digest(spec),
        "images": ir_images(spec),
    }


def build(compiled: Callable[[Any], dict] | None = None) -> dict[str, Any]:
    """The catalogue of every registered template; `compiled(template)` gives its IR (compiled
    with the default image when None)."""
    from pipelines import registry, vertex

    compile_ir = compiled or vertex.compile_template
    return {"templates": [entry(t, compile_ir(t)) for t in registry.all_templates()]}


def render(catalogue: dict[str, Any]) -> str:
    return json.dumps(catalogue, indent=2, sort_keys=True) + "\n"


@functools.lru_cache(maxsize=1)
def load() -> dict[tuple[str, str], dict[str, Any]]:
    """(name, version) → entry, from the checked-in file."""
    data = json.loads(CATALOGUE.read_text())
    return {(t["name"], t["version"]): t for t in data["templates"]}


def ir(name: str, version: str) -> dict:
    """The catalogued IR of a template version (what is published under its digest)."""
    return json.loads((IR_DIR / f"{name}-v{version}.json").read_text())


def stored_ir(template) -> dict:
    """The stored IR of a `PipelineTemplate` (tests use it instead of compiling again)."""
    return ir(template.name, template.version)


def versions_of(name: str) -> list[str]:
    return sorted(
        (v for n, v in load() if n == name), key=lambda v: tuple(int(p) for p in v.split("."))
    )


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m pipelines catalogue", description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    args = parser.parse_args(argv)
    from absl import logging as absl_logging

    absl_logging.set_verbosity(absl_logging.ERROR)
    from pipelines import registry, vertex

    files = {}
    specs = {}
    for template in registry.all_templates():
        specs[template.tag] = vertex.compile_template(template)
        files[IR_DIR / f"{template.tag}.json"] = vertex.ir_text(specs[template.tag])
    files[CATALOGUE] = render(build(lambda t: specs[t.tag]))
    stale = [p for p, text in files.items() if not p.is_file() or p.read_text() != text]
    if args.check:
        for path in stale:
            print(f"out of date: {path} (run python -m pipelines.catalogue)", file=sys.stderr)
        return 1 if stale else 0
    IR_DIR.mkdir(exist_ok=True)
    for path in stale:
        path.write_text(files[path])
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
