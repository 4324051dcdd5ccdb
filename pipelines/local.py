"""Run a template on this machine: TFX LocalDagRunner, Beam DirectRunner, SQLite ML Metadata.

Everything a run writes lives under one folder: `artifacts/` (the pipeline root),
`metadata.sqlite`, and, for a template that tracks its runs in MLflow and is given no tracking
URI, `mlflow.db` with `mlflow-artifacts/` (runs of the same folder share that store; it is also
the training template's model registry) and `models/` (the registered models' files).
Progress is reported per component as it finishes.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.status import summarize
from pipelines.template import PipelineTemplate
from trainer.progress import ProgressReporter


class PipelineStepError(RuntimeError):
    """A component of a local run failed; `component` names it."""

    def __init__(self, component: str, cause: BaseException):
        self.component = component
        self.summary: dict = {}  # the run's status and stages (pipelines.status)
        self.log: Path | None = None  # where the run's library output went, if anywhere
        self.log_tail: list[str] = []  # its last lines before the failure
        super().__init__(f"pipeline step {component} failed: {type(cause).__name__}: {cause}")


@dataclass
class LocalRun:
    root: Path
    pipeline_root: Path
    metadata_path: Path
    stage_seconds: dict[str, float] = field(default_factory=dict)
    total_seconds: float = 0.0
    status: str = ""
    """The product's run status: completed, not_blessed, deployed, deploy_failed."""
    stages: list[dict] = field(default_factory=list)
    """The product's stages: [{name, status, duration_seconds, error}] (pipelines.status)."""

    def output(self, component: str, key: str) -> Path:
        """The newest output folder of `component`'s output `key` in this run's pipeline root."""
        base = self.pipeline_root / component / key
        runs = sorted((p for p in base.iterdir() if p.name.isdigit()), key=lambda p: int(p.name))
        if not runs:
            raise FileNotFoundError(f"no {key!r} output of {component} under {base}")
        return runs[-1]

    def read_json(self, component: str, key: str, name: str, *, missing_ok: bool = False):
        """JSON file `name` of the newest `key` output of `component`, as a dict; {} when the
        component wrote none and `missing_ok`."""
        try:
            return json.loads((self.output(component, key) / name).read_text())
        except FileNotFoundError:
            if missing_ok:
                return {}
            raise


class _StageTracker:
    """Reports each component as it finishes (one line each: the next one is running), and
    times it.

    It wraps the TFX launcher that LocalDagRunner calls once per component. (Its log lines are
    not reliable for this: Beam-based components lower the absl log level mid-run.)
    """

    def __init__(
        self, components: tuple[str, ...], report: Callable[[str], None], progress=None,
        on_stage: Callable[[str, str, str | None], None] | None = None,
    ):  # fmt: skip
        self.components = components
        self.report = report
        self.progress = progress  # trainer.progress.ProgressReporter: the app's callbacks
        self.on_stage = on_stage  # (component, "started" | "completed" | "failed", detail)
        self.seconds: dict[str, float] = {}
        self.current: str | None = None

    def _event(self, name: str, event: str, detail: str | None = None) -> None:
        if self.on_stage is not None:
            self.on_stage(name, event, detail)

    def _label(self, name: str) -> str:
        index = self.components.index(name) + 1 if name in self.components else "?"
        return f"[{index}/{len(self.components)}] {name}"

    @contextlib.contextmanager
    def installed(self):
        from tfx.orchestration.portable import launcher as launcher_lib

        original = launcher_lib.Launcher.launch
        tracker = self

        def launch(launcher, *args, **kwargs):
            name = launcher._pipeline_node.node_info.id  # noqa: SLF001 (no public accessor)
            tracker.current = name
            tracker._event(name, "started")
            started = time.perf_counter()
            try:
                result = original(launcher, *args, **kwargs)
            except Exception as exc:
                tracker._event(name, "failed", f"{type(exc).__name__}: {exc}")
                raise
            tracker._event(name, "completed")
            tracker.seconds[name] = time.perf_counter() - started
            tracker.report(f"{tracker._label(name)} done in {tracker.seconds[name]:.1f}s")
            if tracker.progress is not None:
                index = tracker.components.index(name) + 1 if name in tracker.components else 0
                tracker.progress.stage_complete(
                    name, index, len(tracker.components), tracker.seconds[name]
                )
            tracker.current = None
            return result

        launcher_lib.Launcher.launch = launch
        try:
            yield self
        finally:
            launcher_lib.Launcher.launch = original


def beam_args(workers: int | None = None) -> tuple[str, ...]:
    """DirectRunner settings: in memory by default, multi-process when asked for more workers.

    Measured on 2 cores with 400k rows (bench/quicktest_online_retail.py): in memory,
    StatisticsGen took 19 s and Transform 58 s; with two worker processes, 50 s and 90 s (each
    process pays its own start-up, and rows are pickled between them).
    """
    if not workers or workers <= 1:
        return ("--direct_running_mode=in_memory", "--direct_num_workers=1")
    return ("--direct_running_mode=multi_processing", f"--direct_num_workers={workers}")


def local_tracking_uri(root: Path) -> str:
    """The MLflow store of the local runs under `root`."""
    return f"sqlite:///{Path(root).resolve() / 'mlflow.db'}"


def local_defaults(root: Path) -> dict[str, str]:
    """Where a local run keeps what the cloud keeps in services: the MLflow store (tracking and
    model registry) and the served models' files, all under the run folder."""
    return {
        "mlflow_tracking_uri": local_tracking_uri(root),
        "registry_uri": local_tracking_uri(root),
        "models_dir": str(Path(root).resolve() / "models"),
    }


def with_local_defaults(template: PipelineTemplate, values: dict[str, Any], root: Path) -> dict:
    """`values` with the local run folder's defaults (`local_defaults`) for the template's
    parameters left empty."""
    values = dict(values)
    for name, default in local_defaults(Path(root).resolve()).items():
        if name in template.parameters.model_fields and not values.get(name):
            values[name] = default
    return values


def run_local(
    template: PipelineTemplate,
    values: dict[str, Any],
    *,
    root: Path,
    report: Callable[[str], None] = print,
    beam_workers: int | None = None,
    on_stage: Callable[[str, str, str | None], None] | None = None,
) -> LocalRun:
    """Validate the parameters, then run the template to completion under `root`.

    `on_stage(component, event, detail)` hears each component start, complete or fail."""
    from tfx import v1 as tfx

    root = Path(root).resolve()
    compile_started = time.perf_counter()
    params = template.validate(with_local_defaults(template, values, root))
    run = LocalRun(root, root / "artifacts", root / "metadata.sqlite")
    run.pipeline_root.mkdir(parents=True, exist_ok=True)
    pipeline = template.build(
        params.model_dump(),
        pipeline_name=template.name,
        pipeline_root=str(run.pipeline_root),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            str(run.metadata_path)
        ),
        beam_pipeline_args=beam_args(beam_workers),
    )
    progress = ProgressReporter.from_config(getattr(params, "callback_url", None))
    components = tuple(c.id for c in pipeline.components)
    tracker = _StageTracker(components, report, progress, on_stage)
    tracker.seconds["Compile"] = time.perf_counter() - compile_started
    outputs = functools.partial(run.read_json, missing_ok=True)
    start = time.perf_counter()
    try:
        with tracker.installed():
            tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as exc:  # name the failing step; the cause stays chained
        error = PipelineStepError(tracker.current or "pipeline", exc)
        error.summary = summarize(components, tracker.seconds, outputs,
                                  failed=error.component, error=str(error))  # fmt: skip
        if progress is not None:
            progress.post("failed", {"stage": error.component, "error": str(error),
                                     **error.summary})  # fmt: skip
        report(f"status: failed at {error.component}")
        raise error from exc
    run.total_seconds = time.perf_counter() - start
    run.stage_seconds = {k: v for k, v in tracker.seconds.items() if k != "Compile"}
    summary = summarize(components, tracker.seconds, outputs)
    run.status, run.stages = summary["status"], summary["stages"]
    report(f"status: {run.status}")
    if progress is not None:
        progress.post("completed", {"duration_seconds": round(run.total_seconds, 3), **summary})
    return run
