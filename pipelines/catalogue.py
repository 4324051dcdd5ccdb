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


def ir_digest(spec: dict) -> str:
    """sha256 of the IR's canonical JSON (sorted keys, no whitespace): the same for any file
    layout of the same pipeline."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


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
    text = render(build())
    if args.check:
        if CATALOGUE.read_text() != text:
            print(f"out of date: {CATALOGUE} (run python -m pipelines catalogue)", file=sys.stderr)
            return 1
        return 0
    CATALOGUE.write_text(text)
    print(f"wrote {CATALOGUE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
