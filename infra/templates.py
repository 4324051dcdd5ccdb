"""What a tenant's schedule may name: a template version of the catalogue, with parameters that
fit that version's schema and run limits (`pipelines/catalogue.json`, generated from the registry).

Checked while the tenant config is validated, so a schedule naming a version that does not exist,
or a parameter the version does not take, fails before any resource is declared, naming the field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema

from pipelines import catalogue


def problems(name: str, version: str, parameters: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(field, why) per problem, fields relative to the schedule (`template.version`,
    `parameters.epochs`); empty when the schedule is runnable."""
    entry = catalogue.load().get((name, version))
    if entry is None:
        known = catalogue.versions_of(name)
        if not known:
            names = sorted({n for n, _ in catalogue.load()})
            return [("template.name", f"no template {name!r} in the catalogue; known: {names}")]
        return [("template.version", f"{name} has no version {version!r}; published: {known}")]
    schema = entry["parameters"]
    out = []
    for key, value in parameters.items():
        prop = schema["properties"].get(key)
        if prop is None:
            out.append((f"parameters.{key}", f"{entry['tag']} takes no parameter {key!r}"))
            continue
        validator = jsonschema.Draft202012Validator({**prop, "$defs": schema.get("$defs", {})})
        errors = sorted(validator.iter_errors(value), key=lambda e: e.message)
        if errors:
            out.append((f"parameters.{key}", f"{errors[0].message} ({entry['tag']})"))
            continue
        low, high = entry["limits"].get(key, (None, None))
        if low is not None and isinstance(value, int | float) and not low <= value <= high:
            out.append(
                (f"parameters.{key}", f"{value} is outside {entry['tag']}'s limits {low}-{high}")
            )
    return out
