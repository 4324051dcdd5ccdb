"""Compile a template to KFP v2 IR (a PipelineSpec) for Vertex AI Pipelines, offline.

Every template parameter becomes a typed RuntimeParameter, so the compiled pipeline's inputs are
the template's parameter schema (INT, DOUBLE, STRING). Module paths are parameters too: with a
literal gs:// path the compiler would try to read GCS.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from pipelines.template import PipelineTemplate

TRAINER_IMAGE = "tfx-trainer"


def default_image() -> str:
    """The platform's trainer image of this release (`pipelines.release`)."""
    from pipelines import release

    return release.image(TRAINER_IMAGE)


def compile_template(
    template: PipelineTemplate,
    *,
    image: str | None = None,
    pipeline_root: str = "gs://PIPELINE_ROOT",
    defaults: dict[str, Any] | None = None,
) -> dict:
    """The template's PipelineSpec as a dict (the IR the KFP registry stores)."""
    from tfx import v1 as tfx

    image = image or default_image()
    if image.endswith(":latest") or ":" not in image.rsplit("/", 1)[-1]:
        raise ValueError(f"image {image!r} must carry an explicit version tag, never :latest")
    defaults = dict(defaults or {})
    if "worker_image" in template.parameters.model_fields:
        # Dataflow workers and the trainer's custom job run the image the pipeline runs.
        defaults.setdefault("worker_image", image)
    parameters = template.runtime_parameters(defaults)
    pipeline = template.build(
        parameters,
        pipeline_name=template.name,
        pipeline_root=pipeline_root,
    )
    with tempfile.TemporaryDirectory() as out:
        runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
            config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
                default_image=image, use_pipeline_spec_2_1=True
            ),
            output_dir=out,
            output_filename="job.json",
        )
        defaults_set = {n: p.default for n, p in parameters.items() if p.default is not None}
        runner.run(pipeline, parameter_values=defaults_set, write_out=True)
        job = json.loads((Path(out) / "job.json").read_text())
    spec = job["pipelineSpec"]
    # TFX puts parameter defaults in the job's runtimeConfig; a template published to a registry
    # is a bare PipelineSpec, so the defaults move into its input definitions.
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    for name, value in job.get("runtimeConfig", {}).get("parameterValues", {}).items():
        inputs[name]["defaultValue"] = value
        inputs[name]["isOptional"] = True
    # The template's version travels in the IR, so a published artifact tells what it is.
    spec["pipelineInfo"]["description"] = f"{template.tag}: {template.description}"
    return normalize(spec)


def normalize(spec: dict) -> dict:
    """Drop fields that change with the SDK build or the clock, for stable golden files."""
    spec = json.loads(json.dumps(spec))
    spec.pop("sdkVersion", None)
    for executor in spec.get("deploymentSpec", {}).get("executors", {}).values():
        container = executor.get("container", {})
        container.pop("env", None)
    return spec


def ir_text(spec: dict) -> str:
    """An IR file's text: sorted keys, indented (the stored IR's and `compile`'s layout)."""
    return json.dumps(spec, indent=2, sort_keys=True) + "\n"


def write_ir(spec: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ir_text(spec))
    return path


def load_pipeline_spec(path_or_dict):
    """Parse IR JSON into `kfp.pipeline_spec.pipeline_spec_pb2.PipelineSpec` (raises on junk)."""
    from google.protobuf import json_format
    from kfp.pipeline_spec import pipeline_spec_pb2

    data = path_or_dict
    if not isinstance(data, dict):
        data = json.loads(Path(path_or_dict).read_text())
    return json_format.ParseDict(data, pipeline_spec_pb2.PipelineSpec())
