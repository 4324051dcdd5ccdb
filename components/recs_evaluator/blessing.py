"""The blessing decision: is a trained model good enough to push, register and serve?

Three kinds of check, each on the model's own metrics (computed from its exported SavedModel):

* threshold: a metric must reach a fixed minimum (a maximum for errors such as RMSE and MAE);
* baseline: on each compared metric, the model must beat the best baseline of the identical
  split (popularity, repeat-then-popularity, item-kNN, EASE) by `baseline_margin` (relative:
  0.05 means 5% above it);
* champion: on each compared metric, the model may fall at most `champion_tolerance` (relative)
  below the registry's current champion, evaluated on the same split.

The model is blessed when every check passes. Every check is reported, passed or not, so the
evaluation file says why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

DEFAULT_COMPARED = ("recall_at_10", "recall_at_100")


def parse_thresholds(raw: str) -> dict[str, float]:
    """`{"metric": bound}` from its JSON text; ValueError saying what is wrong."""
    try:
        parsed = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg}): {raw!r}") from None
    if not isinstance(parsed, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in parsed.values()
    ):
        raise ValueError(
            f'a JSON object of metric -> number, e.g. {{"recall_at_10": 0.2}}: {raw!r}'
        )
    return {str(k): float(v) for k, v in parsed.items()}


def lower_is_better(metric: str) -> bool:
    return metric.endswith(("rmse", "mae"))


@dataclass(frozen=True)
class BlessingPolicy:
    """The evaluator's parameters (template parameters of the training template)."""

    thresholds: Mapping[str, float] = field(default_factory=dict)
    compared_metrics: tuple[str, ...] = DEFAULT_COMPARED
    baseline_margin: float = 0.0
    champion_tolerance: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.baseline_margin <= 10.0:
            raise ValueError(f"baseline_margin {self.baseline_margin}: between 0 and 10")
        if not 0.0 <= self.champion_tolerance < 1.0:
            raise ValueError(f"champion_tolerance {self.champion_tolerance}: in [0, 1)")
        if not self.compared_metrics:
            raise ValueError("compared_metrics: name at least one metric")


@dataclass(frozen=True)
class Check:
    kind: str
    """"threshold", "baseline" or "champion"."""
    metric: str
    value: float | None
    required: float | None
    passed: bool
    reason: str


def _fmt(value: float | None) -> str:
    return "missing" if value is None else f"{value:.4f}"


def _at_least(kind, metric, value, required, against: str) -> Check:
    lower = lower_is_better(metric)
    if value is None:
        passed = False
    else:  # plain floats and bools: the record is written as JSON
        value, required = float(value), float(required)
        passed = bool(value <= required if lower else value >= required)
    relation = "<=" if lower else ">="
    verdict = "passes" if passed else "fails"
    return Check(
        kind, metric, value, required, passed,
        f"{metric} {_fmt(value)} {verdict}: needs {relation} {required:.4f} ({against})",
    )  # fmt: skip


def decide(
    metrics: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    policy: BlessingPolicy,
    champion: Mapping[str, float] | None = None,
    champion_name: str = "champion",
) -> tuple[bool, list[Check]]:
    """(blessed, every check) of a model's `metrics`."""
    checks: list[Check] = []
    for metric, required in sorted(policy.thresholds.items()):
        checks.append(
            _at_least("threshold", metric, metrics.get(metric), float(required), "threshold")
        )
    for metric in policy.compared_metrics:
        if lower_is_better(metric):
            continue  # baselines rank; they predict no target
        scored = {name: values[metric] for name, values in baselines.items() if metric in values}
        if not scored:
            continue
        best = max(scored, key=lambda name: (scored[name], name))
        required = scored[best] * (1.0 + policy.baseline_margin)
        against = f"best baseline {best} {scored[best]:.4f} + {policy.baseline_margin:.0%}"
        checks.append(_at_least("baseline", metric, metrics.get(metric), required, against))
    if champion:
        for metric in policy.compared_metrics:
            if metric not in champion:
                continue
            tolerance = policy.champion_tolerance
            factor = 1.0 + tolerance if lower_is_better(metric) else 1.0 - tolerance
            required = champion[metric] * factor
            against = f"{champion_name} {champion[metric]:.4f} within {tolerance:.0%}"
            checks.append(_at_least("champion", metric, metrics.get(metric), required, against))
    return all(check.passed for check in checks), checks


def evaluation_record(
    *,
    blessed: bool,
    checks: list[Check],
    metrics: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    policy: BlessingPolicy,
    champion: Mapping[str, Any] | None,
) -> dict[str, Any]:
    """What `evaluation.json` holds: the verdict, why, and every figure it rests on."""
    failed = [c.reason for c in checks if not c.passed]
    return {
        "blessed": blessed,
        "summary": "blessed: every check passed"
        if blessed
        else "not blessed: " + "; ".join(failed),
        "checks": [asdict(c) for c in checks],
        "metrics": dict(metrics),
        "baselines": {k: dict(v) for k, v in baselines.items()},
        "champion": dict(champion) if champion else None,
        "policy": {
            "thresholds": dict(policy.thresholds),
            "compared_metrics": list(policy.compared_metrics),
            "baseline_margin": policy.baseline_margin,
            "champion_tolerance": policy.champion_tolerance,
        },
    }
