"""The experiments queries: what the app's experiments pages show across runs, as plain data.

Runs are read once (`load_runs`) and every query is a pure function of them, keyed by the run
contract's names (`trainer.contract`): the tags naming the feature config, model config, model
type and dataset, the parameters `learning_rate`, `batch_size` and `epochs`, and the metrics
(`test_recall_at_100` by default). Per-epoch curves (`curves`) read metric histories.

Which way is better: a metric whose name says loss, RMSE or MAE is better lower; every other
metric (recall, NDCG) higher.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from trainer import contract

DEFAULT_METRIC = "test_recall_at_100"
INSIGHT_PARAMS = ("learning_rate", "batch_size", "epochs")
TOP_SHARE = 0.3
CURVE_KEYS = ("loss", "val_loss", "eval_loss", *(f"recall_at_{k}" for k in contract.K))
_TAGS = {"feature_config": "feature_config_name", "model_config": "model_config_name",
         "model_type": "model_type", "dataset": "dataset_name"}  # fmt: skip
# The contract's names, checked here at import: renaming one there fails here.
assert set(_TAGS.values()) == set(contract.TAGS) | set(contract.OPTIONAL_TAGS)
assert set(INSIGHT_PARAMS) <= set(contract.PARAMS)
assert DEFAULT_METRIC in contract.FINAL_METRICS
assert set(CURVE_KEYS) <= {*contract.EPOCH_METRICS, *contract.OPTIONAL_EPOCH_METRICS,
                           *contract.HISTORY_EPOCH_METRICS}  # fmt: skip


@dataclass(frozen=True)
class Run:
    """One run as the queries see it: its names, start time, tags, parameters and latest
    metric values."""

    run_id: str
    run_name: str
    experiment: str
    start_time: int
    """Milliseconds since the epoch, as MLflow keeps it."""
    status: str
    feature_config: str | None
    model_config: str | None
    model_type: str | None
    dataset: str | None
    params: dict[str, str]
    metrics: dict[str, float]

    def summary(self) -> dict[str, Any]:
        """The run's identity for a query's rows (no parameters or metrics)."""
        out = asdict(self)
        del out["params"], out["metrics"]
        return out


def lower_is_better(metric: str) -> bool:
    return any(word in metric for word in ("loss", "rmse", "mae"))


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def from_mlflow(run: Any, experiment: str) -> Run:
    """A `Run` from an MLflow `Run` entity."""
    tags = run.data.tags
    return Run(
        run_id=run.info.run_id,
        run_name=run.info.run_name or tags.get("mlflow.runName", ""),
        experiment=experiment,
        start_time=int(run.info.start_time or 0),
        status=run.info.status,
        **{name: tags.get(tag) for name, tag in _TAGS.items()},
        params=dict(run.data.params),
        metrics={k: float(v) for k, v in run.data.metrics.items()},
    )


def load_runs(
    store, *, experiments: Sequence[str] = (), run_name: str | None = None, filter_string: str = ""
) -> list[Run]:
    """The active runs of the named experiments (every experiment when none is named), oldest
    first; `run_name` keeps only runs of that name (`quick-test`, `training`)."""
    from experiments.store import StoreError

    if experiments:
        found = []
        for name in experiments:
            experiment = store.call(
                f"experiment {name!r}", lambda c, n=name: c.get_experiment_by_name(n)
            )
            if experiment is None:
                raise StoreError("not_found", f"not found: experiment {name!r}")
            found.append(experiment)
    else:
        found = store.call("the experiments", lambda c: c.search_experiments())
    names = {e.experiment_id: e.name for e in found}
    clauses = [filter_string] if filter_string else []
    if run_name:
        clauses.append(f"attributes.run_name = '{run_name}'")
    runs: list[Run] = []
    token = None
    while names:
        page = store.call(
            "the runs",
            lambda c, t=token: c.search_runs(
                list(names), " and ".join(clauses), max_results=1000, page_token=t
            ),
        )
        runs += [from_mlflow(r, names[r.info.experiment_id]) for r in page]
        token = page.token
        if not token:
            break
    return sorted(runs, key=lambda r: (r.start_time, r.run_id))


def _ranked(runs: Iterable[Run], metric: str) -> list[Run]:
    """Runs that have `metric`, best first (ties: the earlier run first)."""
    sign = 1.0 if lower_is_better(metric) else -1.0
    have = [r for r in runs if _finite(r.metrics.get(metric))]
    return sorted(have, key=lambda r: (sign * r.metrics[metric], r.start_time, r.run_id))


def leaderboard(runs: Sequence[Run], metric: str = DEFAULT_METRIC, top: int | None = None):
    """Runs ranked by `metric`, best first, with their configs and main parameters."""
    ranked = _ranked(runs, metric)
    rows = [
        {"rank": i + 1, **r.summary(), "value": r.metrics[metric],
         **{p: r.params.get(p) for p in INSIGHT_PARAMS}}
        for i, r in enumerate(ranked[:top] if top else ranked)
    ]  # fmt: skip
    return {
        "metric": metric,
        "order": "ascending" if lower_is_better(metric) else "descending",
        "runs": rows,
        "without_metric": len(runs) - len(ranked),
    }


def compare(runs: Sequence[Run], run_ids: Sequence[str], metrics: Sequence[str] | None = None):
    """Two to four runs side by side: every metric (or those named) and parameter, with the
    best run(s) of each metric, and whether each parameter differs between them."""
    from experiments.store import StoreError

    if not 2 <= len(run_ids) <= 4:
        raise StoreError("invalid", f"runs: compare takes 2 to 4 run ids, got {len(run_ids)}")
    by_id = {r.run_id: r for r in runs}
    missing = [i for i in run_ids if i not in by_id]
    if missing:
        raise StoreError("not_found", f"not found: run {missing[0]!r}")
    chosen = [by_id[i] for i in run_ids]
    names = metrics or sorted({k for r in chosen for k in r.metrics})
    table = {}
    for name in names:
        values = {r.run_id: r.metrics.get(name) for r in chosen}
        present = [v for v in values.values() if _finite(v)]
        best = None
        if present:
            best = min(present) if lower_is_better(name) else max(present)
        table[name] = {
            "values": values,
            "best": [i for i, v in values.items() if present and v == best],
        }
    params = {}
    for name in sorted({k for r in chosen for k in r.params}):
        values = {r.run_id: r.params.get(name) for r in chosen}
        params[name] = {"values": values, "differs": len(set(values.values())) > 1}
    return {"runs": [r.summary() for r in chosen], "metrics": table, "params": params}


def pairs(runs: Sequence[Run], metric: str = DEFAULT_METRIC):
    """The mean `metric` of every feature-config x model-config pair that has runs with it."""
    cells: dict[tuple[str, str], list[float]] = {}
    for r in runs:
        if _finite(r.metrics.get(metric)) and r.feature_config and r.model_config:
            cells.setdefault((r.feature_config, r.model_config), []).append(r.metrics[metric])
    return {
        "metric": metric,
        "feature_configs": sorted({f for f, _ in cells}),
        "model_configs": sorted({m for _, m in cells}),
        "cells": [
            {"feature_config": f, "model_config": m, "mean": sum(v) / len(v), "runs": len(v)}
            for (f, m), v in sorted(cells.items())
        ],
    }


def trend(runs: Sequence[Run], metric: str = DEFAULT_METRIC):
    """Every run with `metric` in start order, with the best value reached so far."""
    lower = lower_is_better(metric)
    best = None
    points = []
    for r in sorted(runs, key=lambda r: (r.start_time, r.run_id)):
        value = r.metrics.get(metric)
        if not _finite(value):
            continue
        if best is None or (value < best if lower else value > best):
            best = value
        points.append({"run_id": r.run_id, "run_name": r.run_name, "start_time": r.start_time,
                       "value": value, "best_so_far": best})  # fmt: skip
    return {"metric": metric, "points": points}


def insights(runs: Sequence[Run], metric: str = DEFAULT_METRIC, share: float = TOP_SHARE):
    """Which learning rates, batch sizes and epoch counts land in the top `share` of runs by
    `metric` (at least one run): per value, how many of its runs are in the top, of how many."""
    ranked = _ranked(runs, metric)
    count = max(1, math.ceil(share * len(ranked))) if ranked else 0
    top = ranked[:count]
    out: dict[str, list[dict[str, Any]]] = {}
    for param in INSIGHT_PARAMS:
        values = sorted({r.params.get(param) for r in ranked if r.params.get(param) is not None},
                        key=_numeric_first)  # fmt: skip
        rows = []
        for value in values:
            total = sum(r.params.get(param) == value for r in ranked)
            hits = sum(r.params.get(param) == value for r in top)
            rows.append({"value": value, "top": hits, "runs": total, "top_rate": hits / total})
        out[param] = rows
    return {
        "metric": metric,
        "top_share": share,
        "top_runs": [r.run_id for r in top],
        "threshold": top[-1].metrics[metric] if top else None,
        "params": out,
    }


def _numeric_first(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def curves(store, runs: Sequence[Run], keys: Sequence[str] = CURVE_KEYS) -> dict[str, Any]:
    """Per metric key, each run's values per epoch (the metric's history by step; runs that
    did not log the key are left out)."""
    out: dict[str, dict[str, list[float]]] = {key: {} for key in keys}
    for r in runs:
        for key in keys:
            if key not in r.metrics:
                continue
            history = store.call(
                f"metric {key!r} of run {r.run_id}",
                lambda c, i=r.run_id, k=key: c.get_metric_history(i, k),
            )
            by_step: Mapping[int, float] = {m.step: m.value for m in history}
            out[key][r.run_id] = [by_step[s] for s in sorted(by_step)]
    return {"curves": {k: v for k, v in out.items() if v}, "runs": [r.summary() for r in runs]}
