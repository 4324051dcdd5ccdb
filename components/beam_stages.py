"""StatisticsGen and Transform whose Beam runner is a per-run setting.

TFX takes Beam flags only as literal strings of the compiled pipeline, so a Vertex AI pipeline
could not choose Dataflow, its region or its worker count per run. These subclasses of TFX's
components add the Beam settings of `components.scale_out` as execution parameters (typed
pipeline inputs), and their executors turn them into Beam flags before TFX's executor runs.
With the defaults (the DirectRunner) they add no flag and behave exactly as TFX's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tfx import v1 as tfx
from tfx.components.statistics_gen import executor as statistics_executor
from tfx.components.transform import executor as transform_executor
from tfx.dsl.components.base import base_beam_component, executor_spec
from tfx.types import standard_component_specs
from tfx.types.component_spec import ExecutionParameter

from components.scale_out import DATAFLOW_KEYS, DataflowSettings, dataflow_settings

_DEFAULTS = DataflowSettings()
BEAM_PARAMETERS = {
    key: ExecutionParameter(type=type(getattr(_DEFAULTS, key)), optional=True)
    for key in DATAFLOW_KEYS
}


def _split(exec_properties: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    """(Beam flags from the settings, the properties TFX's executor knows)."""
    flags = dataflow_settings(exec_properties).beam_args()
    return flags, {k: v for k, v in exec_properties.items() if k not in DATAFLOW_KEYS}


class _SettingsFirst:
    """Runs the settings into Beam flags, then TFX's executor on its own properties."""

    def Do(self, input_dict, output_dict, exec_properties):  # noqa: N802 (TFX API)
        flags, props = _split(exec_properties)
        # Later flags win in Beam's parser: these override the runner's defaults.
        self._beam_pipeline_args = [*(self._beam_pipeline_args or []), *flags]
        return super().Do(input_dict, output_dict, props)


class StatisticsExecutor(_SettingsFirst, statistics_executor.Executor):
    pass


class TransformExecutor(_SettingsFirst, transform_executor.Executor):
    pass


class _WithBeamSettings(base_beam_component.BaseBeamComponent):
    """Sits between a TFX component and BaseBeamComponent in the method order: TFX's
    constructor builds and checks its own spec, and hands it here, where it becomes the
    extended spec carrying the Beam settings given to the subclass's constructor."""

    def __init__(self, spec, **kwargs):
        settings = getattr(self, "_beam_settings", {})
        values = {**spec.inputs, **spec.outputs, **spec.exec_properties, **settings}
        super().__init__(spec=self.SPEC_CLASS(**values), **kwargs)


def _settings(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: values[key] for key in DATAFLOW_KEYS if key in values}


class StatisticsGenSpec(standard_component_specs.StatisticsGenSpec):
    PARAMETERS = {**standard_component_specs.StatisticsGenSpec.PARAMETERS, **BEAM_PARAMETERS}


class TransformSpec(standard_component_specs.TransformSpec):
    PARAMETERS = {**standard_component_specs.TransformSpec.PARAMETERS, **BEAM_PARAMETERS}


class StatisticsGen(tfx.components.StatisticsGen, _WithBeamSettings):
    """TFX's StatisticsGen; `beam_settings` are the scale-out parameters' values."""

    SPEC_CLASS = StatisticsGenSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(StatisticsExecutor)

    def __init__(self, *, beam_settings: Mapping[str, Any], **kwargs):
        self._beam_settings = _settings(beam_settings)
        super().__init__(**kwargs)


class Transform(tfx.components.Transform, _WithBeamSettings):
    """TFX's Transform; `beam_settings` are the scale-out parameters' values."""

    SPEC_CLASS = TransformSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(TransformExecutor)

    def __init__(self, *, beam_settings: Mapping[str, Any], **kwargs):
        self._beam_settings = _settings(beam_settings)
        super().__init__(**kwargs)
