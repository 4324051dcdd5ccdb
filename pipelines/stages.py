"""The stages the templates share: sample the data, describe it, transform it, train.

Every template builds these the same way from its parameter values (literals for a local run,
RuntimeParameters for Vertex AI), so a parameter means the same thing in each.
"""

from __future__ import annotations

from typing import Any


def build_stages(values: dict[str, Any], *, run_name: str) -> dict[str, Any]:
    """QueryExampleGen, StatisticsGen, SchemaGen, Transform and RecsTrainer, by component id.

    `run_name` names the trainer's MLflow runs (`quick-test`, `training`)."""
    from tfx import v1 as tfx

    from components.beam_stages import StatisticsGen, Transform
    from components.curated_schema import SchemaGen
    from components.query_example_gen import QueryExampleGen
    from components.recs_trainer import RecsTrainer
    from components.scale_out import TRAINING_JOB_KEYS

    example_gen = QueryExampleGen(
        query=values["query"],
        warehouse_uri=values["warehouse_uri"],
        sample_percent=values["sample_percent"],
        split_strategy=values["split_strategy"],
        eval_percent=values["eval_percent"],
        holdout_days=values["holdout_days"],
        seed=values["seed"],
        timestamp_column=values["timestamp_column"],
        customer_column=values["customer_column"],
    )
    # The Beam stages and the trainer take the scale-out parameters (pipelines.scale_out).
    statistics_gen = StatisticsGen(examples=example_gen.outputs["examples"], beam_settings=values)
    # A template without the curated_schema parameter always infers the schema.
    schema_gen = SchemaGen(
        statistics=statistics_gen.outputs["statistics"],
        curated_schema=values.get("curated_schema", ""),
    )
    transform = Transform(
        beam_settings=values,
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        module_file=values["transform_module"],
        # Vocabularies and statistics are fitted on train only: eval must not leak into them.
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
        # StatisticsGen already describes the raw data and nothing reads Transform's own pre-
        # and post-transform statistics; computing them took a third of its time.
        disable_statistics=True,
        # The trainer and evaluator apply the transform graph as they read the raw examples
        # (trainer.data.read_transformed): writing every transformed row through Beam and
        # reading it back took half of what was left.
        materialize=False,
    )
    trainer = RecsTrainer(
        examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        raw_examples=example_gen.outputs["examples"],
        module_file=values["trainer_module"],
        epochs=values["epochs"],
        batch_size=values["batch_size"],
        learning_rate=values["learning_rate"],
        seed=values["seed"],
        mlflow_tracking_uri=values["mlflow_tracking_uri"],
        mlflow_experiment=values["mlflow_experiment"],
        run_name=run_name,
        callback_url=values["callback_url"],
        training_job={key: values[key] for key in TRAINING_JOB_KEYS},
    )
    return {c.id: c for c in (example_gen, statistics_gen, schema_gen, transform, trainer)}


def assemble(
    stages: dict[str, Any],
    components: tuple[str, ...],
    *,
    pipeline_name: str,
    pipeline_root: str,
    metadata_connection_config=None,
    beam_pipeline_args: tuple[str, ...] = (),
):
    """The `tfx.dsl.Pipeline` of `stages`, in the template's component order; no cache (every
    run reads the warehouse afresh). The keyword arguments are the runner's (`PipelineTemplate.
    build`): a template's `create_pipeline(values, **runner)` passes them through."""
    from tfx import v1 as tfx

    return tfx.dsl.Pipeline(
        pipeline_name=pipeline_name,
        pipeline_root=pipeline_root,
        components=[stages[name] for name in components],
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(beam_pipeline_args),
        enable_cache=False,
    )
