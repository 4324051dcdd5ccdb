"""The versioned library of pipeline templates: look one up by name and (optionally) version."""

from __future__ import annotations

from pipelines.etl.v1 import TEMPLATE as ETL_V1
from pipelines.quicktest.v1 import TEMPLATE as QUICKTEST_V1
from pipelines.template import PipelineTemplate
from pipelines.training.v1 import TEMPLATE as TRAINING_V1

_ALL: tuple[PipelineTemplate, ...] = (QUICKTEST_V1, TRAINING_V1, ETL_V1)
TEMPLATES: dict[str, dict[str, PipelineTemplate]] = {}
for _template in _ALL:
    TEMPLATES.setdefault(_template.name, {})[_template.version] = _template


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def get_template(name: str, version: str | None = None) -> PipelineTemplate:
    """The template `name` at `version` (the newest when None); clear errors otherwise."""
    versions = TEMPLATES.get(name)
    if versions is None:
        raise KeyError(f"unknown pipeline template {name!r}; available: {sorted(TEMPLATES)}")
    if version is None:
        version = max(versions, key=_version_key)
    version = version.removeprefix("v")
    if version not in versions:
        known = sorted(versions, key=_version_key)
        raise KeyError(f"unknown version {version!r} of template {name!r}; available: {known}")
    return versions[version]


def all_templates() -> list[PipelineTemplate]:
    return [
        TEMPLATES[n][v] for n in sorted(TEMPLATES) for v in sorted(TEMPLATES[n], key=_version_key)
    ]
