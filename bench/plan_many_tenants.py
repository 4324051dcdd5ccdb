"""Benchmark: evaluate many tenants' Pulumi programs offline with the mocks, in one process.

Tenants are generated from the example stacks (small, gpu-heavy, busy) with distinct ids, so
every program is a real, validated tenant. Each round evaluates all tenants and runs the policy
rules on each graph; the script prints one JSON line with the medians over ``--runs`` rounds.

    python bench/plan_many_tenants.py --tenants 100
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from infra.config import TENANT_KEY  # noqa: E402
from infra.policy import check  # noqa: E402
from infra.stacks import evaluate_stack, load_stack_config  # noqa: E402

TEMPLATES = ("small", "gpu-heavy", "busy")


def tenant_configs(count: int) -> list[tuple[str, dict]]:
    """``count`` stack configs cycling through the example tenants, each with its own id."""
    bases = {name: load_stack_config(name) for name in TEMPLATES}
    out = []
    for index in range(count):
        name = TEMPLATES[index % len(TEMPLATES)]
        config = copy.deepcopy(bases[name])
        tenant = config[TENANT_KEY]
        tenant["id"] = f"{name.replace('-', '')[:8]}-{index:04d}"
        tenant.pop("project_id", None)
        for endpoint in tenant.get("endpoints", []):
            endpoint.pop("model_uri", None)  # points at the template tenant's bucket
        out.append((tenant["id"], config))
    return out


def one_round(configs: list[tuple[str, dict]]) -> tuple[float, int, int]:
    """Evaluate every tenant; returns (seconds, resources, policy violations)."""
    start = time.perf_counter()
    resources = violations = 0
    for stack, config in configs:
        graph, ctx = evaluate_stack(stack, config)
        resources += len(graph.resources)
        violations += len(check(graph, ctx))
    return time.perf_counter() - start, resources, violations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    configs = tenant_configs(args.tenants)
    rounds = [one_round(configs) for _ in range(args.runs)]
    seconds = statistics.median(r[0] for r in rounds)
    print(
        json.dumps(
            {
                "tenants": args.tenants,
                "runs": args.runs,
                "total_seconds": round(seconds, 3),
                "seconds_per_tenant": round(seconds / args.tenants, 4),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "resources_per_round": rounds[0][1],
                "policy_violations": rounds[0][2],
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    main()
