"""The process of one local run: `python -m pipelines.runs.execute RUN_ID`.

The local backend starts it in the run's own process group. It reads the run's record, checks
and runs the template on the configs copied into the run folder (`pipelines.own_data`), records
each stage as it starts and ends, and ends the run: completed with its results, or failed with
the failing stage and the error. Its output is the run's log.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from pipelines.runs.store import RunStore


def main(argv: list[str] | None = None) -> int:
    from pipelines.local import PipelineStepError
    from pipelines.own_data import artifact_paths, config_paths, execute, prepare
    from pipelines.runs.cost import estimate
    from pipelines.runs.service import CONFIGS_DIR, run_results
    from pipelines.runs.status import stages

    (run_id,) = argv if argv is not None else sys.argv[1:]
    store = RunStore.open()
    run = store.get(run_id)
    if not store.transition(run_id, "running"):
        print(f"run {run_id} is already {run.state}; not starting it", flush=True)
        return 0
    run_dir = Path(run.run_dir)

    def on_stage(name: str, event: str, detail: str | None) -> None:
        store.stage_event(run_id, name, event, detail)

    try:
        prepared = prepare(
            run.template, version=run.version, paths=config_paths(run_dir / CONFIGS_DIR),
            warehouse=Path(run.data["warehouse"]), out=run_dir, params=run.data["params"],
        )  # fmt: skip
        metrics = execute(
            prepared, report=lambda line: print(line, flush=True), verbose=True,
            on_stage=on_stage,
        )  # fmt: skip
    except PipelineStepError as exc:
        traceback.print_exc()
        store.transition(run_id, "failed", failing_stage=exc.component, error=str(exc))
        return 1
    except Exception as exc:  # anything else ends the run as failed, with the cause
        traceback.print_exc()
        store.transition(run_id, "failed", error=f"{type(exc).__name__}: {exc}")
        return 1
    from pipelines.local import LocalRun

    local = LocalRun(prepared.run_root, prepared.run_root / "artifacts",
                     prepared.run_root / "metadata.sqlite")  # fmt: skip
    paths = {label: str(path) for label, path in artifact_paths(local, prepared.generated).items()}
    results = run_results(run, metrics, paths)
    # What these stage times would cost on the resources the parameters name (the cloud's).
    stage_list = stages(run.data.get("components", []), store.get(run_id), store.events_of(run_id))
    results["cost_estimate"] = estimate(stage_list, run.parameters)
    store.transition(run_id, "completed", results=results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
