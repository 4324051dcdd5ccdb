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

# Inputs the tenant's pinned pipeline sets from the tenant's infrastructure
# (`infra.components.pipelines.tenant_defaults`): a schedule need not give them.
TENANT_DEFAULTS = frozenset({
    "project", "dataflow_region", "dataflow_temp_location", "dataflow_service_account",
    "training_region", "training_service_account", "accelerator_type", "accelerator_count",
    "worker_image", "warehouse_uri", "mlflow_tracking_uri", "models_dir", "deploy_region",
})  # fmt: skip


def problems(
    name: str, version: str, parameters: Mapping[str, Any], *, runs_alone: bool = False
) -> list[tuple[str, str]]:
    """(field, why) per problem, fields relative to the schedule (`template.version`,
    `parameters.epochs`); empty when the schedule is runnable. `runs_alone`: nothing fills in
    the run's inputs (a Vertex AI schedule), so every required input must be given."""
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
    if runs_alone:
        for key in schema.get("required", []):
            if key not in parameters and key not in TENANT_DEFAULTS:
                out.append((f"parameters.{key}",
                            f"required by {entry['tag']} when runner is vertex"))  # fmt: skip
    return out
