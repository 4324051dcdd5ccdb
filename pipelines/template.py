"""What every pipeline template declares: name, version, parameter schema, components, builder.

One source of truth per template: the compiler, the local runner, the docs and the publish step
all read a `PipelineTemplate` and nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from specs.base import spec_error

_SEMVER = re.compile(r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)")

# Pydantic field types → the TFX RuntimeParameter ptype (and so the KFP pipeline input type).
_PTYPES = {int: int, float: float, str: str}


@dataclass(frozen=True)
class PipelineTemplate:
    name: str
    version: str
    description: str
    parameters: type[BaseModel]
    components: tuple[str, ...]
    build: Callable[..., Any]
    """`build(values, *, pipeline_name, pipeline_root, metadata_connection_config=None,
    beam_pipeline_args=())` → `tfx.dsl.Pipeline`; values are literals or RuntimeParameters."""
    limits: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    """Per-run bounds a submitted run's resolved values must keep (`pipelines.runs`), narrower
    than the parameters' own: they keep a template's runs what it is for (a cheap quick test)."""

    def __post_init__(self):
        if not _SEMVER.fullmatch(self.version):
            raise ValueError(f"template {self.name}: version {self.version!r} is not semantic")

    @property
    def tag(self) -> str:
        """The tag a published version carries in the KFP registry, e.g. `quicktest-v1.0.0`."""
        return f"{self.name}-v{self.version}"

    def validate(self, values: dict[str, Any]) -> BaseModel:
        """Typed parameters from a dict; errors name the parameter."""
        try:
            return self.parameters.model_validate(values)
        except ValidationError as exc:
            raise spec_error(f"{self.tag} parameters", exc) from exc

    def runtime_parameters(self, defaults: dict[str, Any] | None = None) -> dict[str, Any]:
        """One typed RuntimeParameter per parameter: they become the compiled pipeline's inputs."""
        from tfx.orchestration import data_types

        out = {}
        for name, info in self.parameters.model_fields.items():
            ptype = _ptype(info.annotation)
            default = (defaults or {}).get(name)
            if default is None and not info.is_required():
                default = info.default
            if default is not None:
                default = ptype(default)
            out[name] = data_types.RuntimeParameter(name=name, ptype=ptype, default=default)
        return out


def _ptype(annotation) -> type:
    if annotation in _PTYPES:
        return _PTYPES[annotation]
    # Literal["a", "b"] of strings is a string input.
    args = getattr(annotation, "__args__", ())
    if args and all(isinstance(a, str) for a in args):
        return str
    raise TypeError(f"parameter type {annotation!r} cannot be a pipeline input")
