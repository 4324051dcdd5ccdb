"""Scale-out settings: Dataflow flags for the Beam stages, the trainer's Vertex AI custom job.

Offline: the Beam flags and the CustomJob that TFX's Vertex client would submit are built and
compared field by field; nothing reaches Google Cloud.
"""

from __future__ import annotations

import pytest

from components.scale_out import (
    ScaleOutError,
    dataflow_settings,
    training_job_settings,
)

IMAGE = "europe-docker.pkg.dev/platform/images/tfx-trainer:1.2.3"
SA = "pipelines-runner@acme-recs.iam.gserviceaccount.com"
DATAFLOW = {
    "beam_runner": "DataflowRunner",
    "project": "acme-recs",
    "dataflow_region": "europe-central2",
    "dataflow_temp_location": "gs://acme-recs-staging/dataflow",
    "dataflow_service_account": SA,
    "dataflow_machine_type": "n1-highmem-4",
    "dataflow_max_workers": 25,
    "worker_image": IMAGE,
}
GPU_JOB = {
    "project": "acme-recs",
    "training_region": "europe-west4",
    "training_machine_type": "n1-standard-16",
    "accelerator_type": "NVIDIA_TESLA_T4",
    "accelerator_count": 2,
    "training_service_account": SA,
    "worker_image": IMAGE,
}


def test_the_direct_runner_adds_no_flag():
    assert dataflow_settings({}).beam_args() == []
    # Pipeline inputs left empty arrive as "" or None: the defaults hold.
    assert dataflow_settings({"beam_runner": "", "dataflow_region": None}).beam_args() == []


def test_dataflow_flags_carry_every_setting():
    assert dataflow_settings(DATAFLOW).beam_args() == [
        "--runner=DataflowRunner",
        "--project=acme-recs",
        "--region=europe-central2",
        "--temp_location=gs://acme-recs-staging/dataflow",
        f"--service_account_email={SA}",
        "--machine_type=n1-highmem-4",
        "--max_num_workers=25",
        f"--sdk_container_image={IMAGE}",
        "--experiments=use_runner_v2",
    ]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"beam_runner": "SparkRunner"}, "beam_runner"),
        ({"dataflow_region": "Europe West"}, "dataflow_region"),
        ({"dataflow_temp_location": "/tmp/staging"}, "dataflow_temp_location"),
        ({"dataflow_service_account": "someone@example.com"}, "dataflow_service_account"),
        ({"dataflow_max_workers": 0}, "dataflow_max_workers"),
        ({"worker_image": "europe-docker.pkg.dev/p/r/img:latest"}, "worker_image"),
        ({"worker_image": "europe-docker.pkg.dev/p/r/img"}, "worker_image"),
        ({"project": "Bad_Project"}, "project"),
    ],
)
def test_a_bad_dataflow_setting_is_named(change, named):
    with pytest.raises(ScaleOutError, match=f"^{named}: "):
        dataflow_settings(DATAFLOW | change)


def test_no_region_trains_here_on_the_cpu():
    job = training_job_settings({})
    assert not job.on_vertex and job.accelerator_count == 0


def test_the_gpu_worker_pool():
    args = training_job_settings(GPU_JOB).job_args(
        display_name="recs-trainer-training", labels={"b2b-recs-run": "training"}
    )
    assert args == {
        "project": "acme-recs",
        "display_name": "recs-trainer-training",
        "labels": {"b2b-recs-run": "training"},
        "job_spec": {
            "worker_pool_specs": [
                {
                    "machine_spec": {
                        "machine_type": "n1-standard-16",
                        "accelerator_type": "NVIDIA_TESLA_T4",
                        "accelerator_count": 2,
                    },
                    "replica_count": 1,
                    "container_spec": {"image_uri": IMAGE},
                }
            ],
            "service_account": SA,
        },
    }


def test_a_cpu_custom_job_asks_for_no_accelerator():
    cpu = GPU_JOB | {"accelerator_type": "", "accelerator_count": 0}
    pool = training_job_settings(cpu).job_args(display_name="t", labels={})["job_spec"]
    assert pool["worker_pool_specs"][0]["machine_spec"] == {"machine_type": "n1-standard-16"}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"accelerator_count": 9}, "accelerator_count"),
        ({"accelerator_type": "NVIDIA_H100_SUPER"}, "accelerator_type"),
        ({"accelerator_type": ""}, "accelerator_type"),  # 2 GPUs of no type
        ({"accelerator_count": 0}, "accelerator_count"),  # a type and no GPU
        ({"training_region": "europe-central2"}, "training_region"),  # no T4 there
        ({"training_service_account": ""}, "training_service_account"),
        ({"worker_image": ""}, "worker_image"),
    ],
)
def test_a_bad_training_job_setting_is_named(change, named):
    with pytest.raises(ScaleOutError, match=f"^{named}: "):
        training_job_settings(GPU_JOB | change)


def test_gpus_without_a_custom_job_are_refused():
    with pytest.raises(ScaleOutError, match="^accelerator_count: GPUs need a Vertex AI"):
        training_job_settings({"accelerator_type": "NVIDIA_L4", "accelerator_count": 1})


def test_the_trainer_executor_submits_itself_as_the_custom_job(monkeypatch, tmp_path):
    """With a training region, RecsTrainer's executor hands its inputs to TFX's Vertex job
    client; the job runs the same executor with no region and checks its GPUs (gpu_count)."""
    from tfx.extensions.google_cloud_ai_platform import runner, training_clients
    from tfx.utils import json_utils

    from components.recs_trainer.executor import Executor

    calls = []
    monkeypatch.setattr(runner, "start_cloud_training", lambda *a, **k: calls.append((a, k)))
    props = GPU_JOB | {"custom_config": json_utils.dumps({"keep": 1}), "run_name": "training",
                       "epochs": 3, "batch_size": 64, "learning_rate": 0.1, "seed": 7}  # fmt: skip
    Executor().Do({}, {}, props)

    [(args, kwargs)] = calls
    _, _, job_props = args
    assert kwargs["enable_vertex"] is True and kwargs["vertex_region"] == "europe-west4"
    assert kwargs["executor_class_path"] == "components.recs_trainer.executor.Executor"
    assert kwargs["job_args"]["labels"] == {
        "b2b-recs-run": "training", "b2b-recs-component": "recstrainer",
    }  # fmt: skip
    assert not {"training_region", "accelerator_count", "project"} & set(job_props)
    assert json_utils.loads(job_props["custom_config"]) == {"keep": 1, "gpu_count": 2}
    assert job_props["epochs"] == 3  # the run parameters travel unchanged

    # The CustomJob TFX's client builds from it (its network calls are not made here).
    client = object.__new__(training_clients.VertexJobClient)
    job = client.create_training_job({}, {}, job_props, kwargs["executor_class_path"],
                                     dict(kwargs["job_args"]), None, None)  # fmt: skip
    [pool] = job["job_spec"]["worker_pool_specs"]
    assert pool["machine_spec"]["accelerator_count"] == 2
    assert pool["container_spec"]["image_uri"] == IMAGE
    command = " ".join(pool["container_spec"]["command"])
    assert "components.recs_trainer.executor.Executor" in command
    assert job["job_spec"]["service_account"] == SA


def test_beam_stage_executors_append_the_dataflow_flags(monkeypatch):
    from tfx.components.statistics_gen import executor as tfx_statistics

    from components.beam_stages import StatisticsExecutor

    seen = {}

    def record(self, input_dict, output_dict, exec_properties):
        seen["flags"], seen["props"] = list(self._beam_pipeline_args), dict(exec_properties)

    monkeypatch.setattr(tfx_statistics.Executor, "Do", record)
    StatisticsExecutor().Do({}, {}, DATAFLOW | {"exclude_splits": "[]"})
    assert seen["flags"][:2] == ["--runner=DataflowRunner", "--project=acme-recs"]
    assert seen["props"] == {"exclude_splits": "[]"}  # TFX's executor sees only its own

    StatisticsExecutor().Do({}, {}, {"exclude_splits": "[]", "beam_runner": "DirectRunner"})
    assert seen["flags"] == []
