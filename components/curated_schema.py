"""SchemaGen that takes the tenant's curated schema when one is given, else infers one.

TFX swaps SchemaGen for ImportSchemaGen to use a curated schema, which changes the pipeline's
graph; a compiled template's graph is fixed, so here the choice is a run parameter. The schema
this stage outputs is the one every later stage reads: ExampleValidator reports the data's
anomalies against it, Transform parses the examples with it.
"""

from __future__ import annotations

import os

from tfx import types
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.dsl.io import fileio
from tfx.orchestration import data_types
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import io_utils, json_utils

CURATED_SCHEMA_KEY = "curated_schema"


class CuratedSchemaError(ValueError):
    """The curated schema is missing or is not a schema; the message names the parameter."""


def read_curated_schema(path: str):
    """The `tensorflow_metadata` Schema in `path` (a schema.pbtxt, text format)."""
    from google.protobuf import text_format
    from tensorflow_metadata.proto.v0 import schema_pb2

    if not fileio.exists(path):
        raise CuratedSchemaError(f"{CURATED_SCHEMA_KEY}: {path} does not exist")
    try:
        schema = text_format.Parse(io_utils.read_string_file(path), schema_pb2.Schema())
    except text_format.ParseError as exc:
        raise CuratedSchemaError(f"{CURATED_SCHEMA_KEY}: {path} is not a schema: {exc}") from exc
    if not schema.feature:
        raise CuratedSchemaError(f"{CURATED_SCHEMA_KEY}: {path} declares no feature")
    return schema


class Executor(schema_gen_executor.Executor):
    def Do(self, input_dict, output_dict, exec_properties) -> None:  # noqa: N802 (TFX API)
        props = dict(exec_properties)
        curated = props.pop(CURATED_SCHEMA_KEY, None)
        if not curated:
            super().Do(input_dict, output_dict, props)
            return
        schema = read_curated_schema(curated)
        out = artifact_utils.get_single_uri(output_dict[standard_component_specs.SCHEMA_KEY])
        io_utils.write_pbtxt_file(os.path.join(out, schema_gen_executor.DEFAULT_FILE_NAME), schema)


class CuratedSchemaGenSpec(standard_component_specs.SchemaGenSpec):
    PARAMETERS = {
        **standard_component_specs.SchemaGenSpec.PARAMETERS,
        CURATED_SCHEMA_KEY: ExecutionParameter(type=str, optional=True),
    }


class SchemaGen(base_component.BaseComponent):
    """TFX's SchemaGen, or the curated schema at `curated_schema` (a schema.pbtxt path)."""

    SPEC_CLASS = CuratedSchemaGenSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(Executor)

    def __init__(
        self,
        *,
        statistics: types.BaseChannel,
        curated_schema: str | data_types.RuntimeParameter = "",
        infer_feature_shape: bool = True,
    ):
        super().__init__(
            spec=CuratedSchemaGenSpec(
                statistics=statistics,
                infer_feature_shape=int(infer_feature_shape),
                exclude_splits=json_utils.dumps([]),
                curated_schema=curated_schema,
                schema=types.Channel(type=standard_artifacts.Schema),
            )
        )
