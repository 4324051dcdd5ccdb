"""What each experiments query must answer, computed directly from MlflowClient's runs: the
tests compare the CLI's JSON with these figures, on the logged dozen (test_queries.py) and on a
dozen real trainer runs (tests/trainer/test_experiments_on_a_dozen_runs.py)."""

from __future__ import annotations

import math
from collections import defaultdict

INSIGHT_PARAMS = ("learning_rate", "batch_size", "epochs")


def pair_cells(runs, metric: str) -> dict[tuple[str, str], list[float]]:
    """(feature config, model config) -> the metric of each of its runs."""
    cells = defaultdict(list)
    for r in runs:
        pair = r.data.tags["feature_config_name"], r.data.tags["model_config_name"]
        cells[pair].append(r.data.metrics[metric])
    return dict(cells)


def trend_points(runs, metric: str) -> list[tuple[str, int, float, float]]:
    """(run id, start time, value, best so far) in start order."""
    best, points = -math.inf, []
    for r in sorted(runs, key=lambda r: (r.info.start_time, r.info.run_id)):
        best = max(best, r.data.metrics[metric])
        points.append((r.info.run_id, r.info.start_time, r.data.metrics[metric], best))
    return points


def top_share(runs, metric: str, share: float = 0.3) -> list:
    """The runs in the top `share` by the metric, best first (ties: the earlier run first)."""
    ranked = sorted(runs, key=lambda r: (-r.data.metrics[metric], r.info.start_time, r.info.run_id))
    return ranked[: math.ceil(share * len(ranked))]


def insight_counts(runs, top, param: str) -> dict[str, tuple[int, int]]:
    """Each value of `param` -> (its runs in the top share, its runs)."""
    return {
        value: (
            sum(r.data.params[param] == value for r in top),
            sum(r.data.params[param] == value for r in runs),
        )  # fmt: skip
        for value in {r.data.params[param] for r in runs}
    }
