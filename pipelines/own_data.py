"""`python -m pipelines run`: a template on one's own configs and local warehouse.

    python -m pipelines run quicktest --configs DIR --warehouse PATH [--out DIR] [--param k=v ...]
    python -m pipelines run training --dataset F --features F --model F [--training F]
        --warehouse PATH --param model_name=acme-main [--version X]

Everything is checked before the first component starts: the configs (each problem as
`<file>: <field>: <why>`), the template and its version, every run parameter, and that each
table the dataset config reads is in the warehouse (`<warehouse>/<dataset>/<table>.parquet`)
with the columns it uses. Then the configs are rendered into `<out>/generated/`, the template
runs with LocalDagRunner under `<out>/run/` with one progress line per stage, and the metrics
table (the model next to every baseline) and the artifact paths are printed. TensorFlow's,
Beam's, MLflow's and pip's own output goes to `<out>/run.log` (`-v` prints it instead). Exit codes: 0
done, 1 a pipeline step failed (named), 2 invalid input.
"""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specs import DatasetConfig, FeatureConfig, ModelConfig, TrainingParams

CONFIG_FILES = ("dataset", "features", "model", "training")


class RunInputError(ValueError):
    """An input the run cannot start with; the message names it."""


@dataclass(frozen=True)
class Configs:
    dataset: DatasetConfig
    features: FeatureConfig
    model: ModelConfig
    training: TrainingParams


def config_paths(folder: Path | None, **files: Path | None) -> dict[str, Path | None]:
    """The four config files: those named, else `<folder>/<name>.json` (training optional)."""
    paths: dict[str, Path | None] = {}
    for name in CONFIG_FILES:
        path = files.get(name) or (folder / f"{name}.json" if folder else None)
        if path is not None and not path.is_file():
            if name == "training" and not files.get(name):
                path = None  # the training parameters' defaults apply
            else:
                raise RunInputError(f"--{name}: {path} is not a file")
        if path is None and name != "training":
            raise RunInputError(f"--{name} (or --configs DIR holding {name}.json) is required")
        paths[name] = path
    return paths


def load_configs(paths: dict[str, Path | None]) -> Configs:
    """The validated, cross-checked configs (`codegen.cli.load_configs`; raises InvalidConfigs)."""
    from codegen.cli import load_configs as load

    return Configs(*load(paths["dataset"], paths["features"], paths["model"], paths["training"]))


def columns_read(dataset: DatasetConfig) -> dict[str, set[str]]:
    """Every table the dataset config reads, with the source columns it selects or joins on."""
    used: dict[str, set[str]] = {table: set() for table in dataset.tables}
    for selected in dataset.columns:
        used[selected.source_table].add(selected.source_column)
    for ref in (ref for join in dataset.joins for pair in join.on for ref in pair):
        table, column = ref.split(".", 1)
        used[table].add(column)
    return used


def check_warehouse(dataset: DatasetConfig, warehouse: Path) -> None:
    """Every table the dataset config reads is in the local warehouse, with every column it
    uses (selected or joined on); raises RunInputError naming the table or column."""
    import pyarrow.parquet as pq

    from components.warehouse import LocalWarehouse

    if not warehouse.is_dir():
        raise RunInputError(f"--warehouse: {warehouse} is not a folder")
    local = LocalWarehouse(warehouse)
    for table, columns in columns_read(dataset).items():
        path = local.table_path(dataset.dataset, table)
        if not path.is_file():
            raise RunInputError(
                f"table {dataset.dataset}.{table} is not in the warehouse: expected {path} "
                f"(the layout is <warehouse>/<dataset>/<table>.parquet)"
            )
        present = set(pq.read_schema(path).names)
        missing = sorted(columns - present)
        if missing:
            raise RunInputError(
                f"table {dataset.dataset}.{table} ({path}) has no column(s) {missing}; "
                f"it has {sorted(present)}"
            )


def parse_params(pairs: list[str]) -> dict[str, Any]:
    """`k=v` run parameters; a value that parses as JSON (numbers, true/false) is taken as such."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise RunInputError(f"--param {pair!r} is not k=v")
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def pipeline_values(
    configs: Configs, generated: Path, warehouse: Path, *, query: str | None = None
) -> dict:
    """The templates' parameters for a rendered config and a local warehouse (the query is
    read from `generated` unless given)."""
    from specs import resolve_hyperparameters

    hyper = resolve_hyperparameters(configs.model, configs.training)
    split = configs.training.split
    return {
        "query": query if query is not None else (generated / "dataset_query.sql").read_text(),
        "warehouse_uri": str(warehouse),
        "transform_module": str(generated / "transform_module.py"),
        "trainer_module": str(generated / "trainer_module.py"),
        "epochs": hyper["epochs"],
        "batch_size": hyper["batch_size"],
        "learning_rate": hyper["learning_rate"],
        "sample_percent": configs.training.sample_percent,
        "split_strategy": split.strategy,
        "holdout_days": split.holdout_days,
        "eval_percent": split.eval_percent,
        "seed": configs.training.seed,
        "timestamp_column": configs.dataset.roles.timestamp,
        "customer_column": configs.dataset.roles.customer_id,
    }


def metrics_table(metrics: dict, ks: tuple[int, ...] = (10, 50, 100)) -> str:
    """Recall@K of the model and of every baseline the trainer wrote, modes "all" and "new",
    the model's 95% intervals, who was evaluated and dropped, and any health warning."""
    rows = [("model", metrics["final_metrics"])]
    rows += [(name, values) for name, values in sorted(metrics.get("baselines", {}).items())]
    keys = [f"recall_at_{k}" for k in ks] + [f"new_recall_at_{k}" for k in ks]
    header = ["", *(f"R@{k} all" for k in ks), *(f"R@{k} new" for k in ks)]
    lines = [header]
    for name, values in rows:
        cells = [values.get(key) for key in keys]
        lines.append([name, *("-" if v is None else f"{v:.3f}" for v in cells)])
        intervals = metrics.get("intervals", {}).get(name) if name == "model" else None
        if intervals:
            lines.append(["  95% CI (bootstrap)", *(_interval(intervals.get(key)) for key in keys)])
    widths = [max(len(row[i]) for row in lines) for i in range(len(header))]
    text = [
        "  ".join(
            cell.rjust(w) if i else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))
        )
        for row in lines
    ]
    text.insert(1, "  ".join("-" * w for w in widths))
    info = metrics.get("eval", {})
    line = f"evaluated {info.get('customers', '?')} customers"
    if "eval_customers" in info:
        line += (
            f" of {info['eval_customers']} in the eval split (dropped: "
            f"{info['dropped_unknown_customer']} unknown to the model, "
            f"{info['dropped_no_known_product']} with no eval product in its catalogue)"
        )
    text.append(f"{line}; {info.get('products', '?')} products")
    for warning in (metrics.get("health") or {}).get("warnings", []):
        text.append(f"WARNING: {warning}")
    return "\n".join(text)


def _interval(bounds: list[float] | None) -> str:
    return "-" if not bounds else f"{bounds[0]:.2f}-{bounds[1]:.2f}"


@dataclass(frozen=True)
class PreparedRun:
    """A run that passed every check (`prepare`): nothing is written yet."""

    template: Any  # pipelines.template.PipelineTemplate
    configs: Configs
    warehouse: Path | str
    out: Path
    files: dict[str, str]
    """The rendered files, by name; `execute` writes them into `<out>/generated/`."""
    values: dict[str, Any]
    """The template's parameter values, validated."""

    @property
    def generated(self) -> Path:
        return self.out / "generated"

    @property
    def run_root(self) -> Path:
        return self.out / "run"


def prepare(
    name: str,
    *,
    version: str | None,
    paths: dict[str, Path | None],
    warehouse: Path | str,
    out: Path,
    params: dict[str, Any],
) -> PreparedRun:
    """Every check a run needs before it starts: the template and version, the configs, the
    warehouse's tables and columns, the parameters. Raises (naming the input); writes nothing.

    A `bigquery://<project>` warehouse is the cloud's: its tables are checked by the caller
    (`pipelines.runs.cloud.check_bigquery_tables`); anything else is a local warehouse folder."""
    from codegen.render import render_all
    from pipelines.local import with_local_defaults
    from pipelines.registry import get_template

    template = get_template(name, version)
    configs = load_configs(paths)
    out = out.resolve()
    if not str(warehouse).startswith("bigquery://"):
        warehouse = Path(warehouse).resolve()
        check_warehouse(configs.dataset, warehouse)
    files = render_all(configs.dataset, configs.features, configs.model, configs.training)
    values = pipeline_values(
        configs, out / "generated", warehouse, query=files["dataset_query.sql"]
    )
    values |= params
    unknown = sorted(set(params) - set(template.parameters.model_fields))
    if unknown:
        raise RunInputError(f"--param: {template.tag} has no parameter(s) {unknown}")
    template.validate(with_local_defaults(template, values, out / "run"))
    return PreparedRun(template, configs, warehouse, out, files, values)


def execute(
    prepared: PreparedRun,
    *,
    report=print,
    verbose: bool = False,
    on_stage=None,
) -> dict:
    """Render and run a prepared run locally; print the metrics table and artifact paths;
    return the metrics file's dict. `on_stage(name, event, detail)` hears each component start,
    complete or fail (`pipelines.local.run_local`).

    Unless `verbose`, the run's library output goes to `<out>/run.log` (pipelines.console)."""
    from codegen.render import write_rendered
    from pipelines.console import quiet_output, tail
    from pipelines.local import PipelineStepError, run_local

    template, generated = prepared.template, prepared.generated
    write_rendered(prepared.files, generated)
    report(f"rendered {', '.join(sorted(prepared.files))} into {generated}")
    report(f"running {template.tag} under {prepared.run_root}")
    log_path = prepared.out / "run.log"
    with quiet_output(log_path, verbose=verbose) as log:
        if log is not None:
            report(f"TensorFlow's, Beam's and pip's output goes to {log} (-v prints it)")
        try:
            run_ = run_local(template, prepared.values, root=prepared.run_root, report=report,
                             on_stage=on_stage)  # fmt: skip
        except PipelineStepError as error:
            if log is None:
                traceback.print_exc()
            else:  # the libraries' last words for the terminal, the whole story in the log
                error.log, error.log_tail = log, tail(log)
                with open(log, "a") as f:
                    traceback.print_exc(file=f)
            raise
    metrics_file = run_.output("RecsTrainer", "model_run") / "training_metrics.json"
    metrics = json.loads(metrics_file.read_text())
    report(metrics_table(metrics))
    for label, path in artifact_paths(run_, generated).items():
        report(f"{label}: {path}")
    return metrics


def artifact_paths(run_, generated: Path) -> dict[str, Path]:
    """Where a finished local run's outputs are."""
    return {
        "generated code": generated,
        "pipeline root": run_.pipeline_root,
        "metrics": run_.output("RecsTrainer", "model_run") / "training_metrics.json",
        "serving model": run_.output("RecsTrainer", "model") / "Format-Serving",
    }


def run(
    name: str,
    *,
    version: str | None,
    paths: dict[str, Path | None],
    warehouse: Path,
    out: Path,
    params: dict[str, Any],
    report=print,
    verbose: bool = False,
) -> dict:
    """Check everything, render, run the template locally; return the metrics file's dict."""
    prepared = prepare(name, version=version, paths=paths, warehouse=warehouse, out=out,
                       params=params)  # fmt: skip
    return execute(prepared, report=report, verbose=verbose)
