"""The config reference, generated from the specs: JSON Schema per config and a Markdown page.

    python -m specs.reference [--out docs] [--check]

writes `docs/config-reference.md` and `docs/schemas/<config>.schema.json` (plain JSON Schema:
point an editor's JSON validation at them to check a config as it is typed). `--check` writes
nothing and exits 1 when a file differs from a
fresh render; the test suite runs it, so the reference cannot drift from the specs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from specs.dataset import DatasetConfig
from specs.features import FeatureConfig
from specs.model import ModelConfig
from specs.training import TrainingParams

CONFIGS = {
    "dataset": DatasetConfig,
    "features": FeatureConfig,
    "model": ModelConfig,
    "training": TrainingParams,
}
EXAMPLES = Path(__file__).resolve().parents[1] / "codegen" / "examples" / "demo_b2b"
_BOUNDS = (
    ("minimum", ">= {}"),
    ("exclusiveMinimum", "> {}"),
    ("maximum", "<= {}"),
    ("exclusiveMaximum", "< {}"),
    ("minLength", "length >= {}"),
    ("maxLength", "length <= {}"),
    ("minItems", "items >= {}"),
    ("maxItems", "items <= {}"),
    ("pattern", "matches `{}`"),
)


def json_schemas() -> dict[str, dict[str, Any]]:
    """Each config's JSON Schema, as pydantic generates it from the spec."""
    return {name: spec.model_json_schema() for name, spec in CONFIGS.items()}


def _type(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return f"[{prop['$ref'].rsplit('/', 1)[-1]}](#{prop['$ref'].rsplit('/', 1)[-1].lower()})"
    if "const" in prop:
        return f"`{json.dumps(prop['const'])}`"
    if "enum" in prop:
        return " \\| ".join(f"`{json.dumps(v)}`" for v in prop["enum"])
    for union in ("anyOf", "oneOf"):
        if union in prop:
            return " or ".join(_type(option) for option in prop[union])
    kind = prop.get("type", "any")
    if kind == "array":
        items = prop.get("items", {})
        if "prefixItems" in prop:
            return "[" + ", ".join(_type(p) for p in prop["prefixItems"]) + "]"
        return f"list of {_type(items)}"
    if kind == "object" and "additionalProperties" in prop:
        return f"map of {_type(prop['additionalProperties'])}"
    return str(kind)


def _bounds(prop: dict[str, Any]) -> str:
    found = [template.format(prop[key]) for key, template in _BOUNDS if key in prop]
    for union in ("anyOf", "oneOf"):
        for option in prop.get(union, []):
            found += [template.format(option[k]) for k, template in _BOUNDS if k in option]
    return "; ".join(found)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _table(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    lines = ["| field | type | default | allowed | description |", "|---|---|---|---|---|"]
    for name, prop in schema.get("properties", {}).items():
        default = "required" if name in required else f"`{json.dumps(prop.get('default'))}`"
        lines.append(
            f"| `{name}` | {_cell(_type(prop))} | {_cell(default)} | {_cell(_bounds(prop))} "
            f"| {_cell(prop.get('description', ''))} |"
        )
    return lines


def markdown() -> str:
    """The Markdown page: every config, each of its objects, every field."""
    out = [
        "# Config reference",
        "",
        "Generated from the specs by `python -m specs.reference` (do not edit: the test suite",
        "checks that this page and `docs/schemas/*.schema.json` match the specs). A config is a",
        "JSON file; unknown keys are errors, and every error names the file and the field.",
    ]
    for name, schema in json_schemas().items():
        spec = CONFIGS[name]
        out += ["", f"## {name}.json: `{spec.__name__}`", ""]
        out.append(_cell(schema.get("description", "")))
        out += ["", *_table(schema)]
        for def_name, definition in sorted(schema.get("$defs", {}).items()):
            if "properties" not in definition:
                continue
            out += ["", f"### {def_name}", ""]
            if definition.get("description"):
                out += [_cell(definition["description"]), ""]
            out += _table(definition)
        example = EXAMPLES / f"{name}.json"
        if example.is_file():
            out += ["", f"Example (`codegen/examples/demo_b2b/{name}.json`):", "", "```json"]
            out += [example.read_text().rstrip(), "```"]
    return "\n".join(out) + "\n"


def rendered() -> dict[str, str]:
    """Relative path under the docs folder -> text."""
    files = {"config-reference.md": markdown()}
    for name, schema in json_schemas().items():
        files[f"schemas/{name}.schema.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    stale = []
    for relative, text in rendered().items():
        path = args.out / relative
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(path)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")
    for path in stale:
        print(f"out of date: {path} (run python -m specs.reference)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
