"""A run's status and its stages, in the product's words.

The app shows a training run as nine stages (Compile, Examples, Stats, Schema, Transform,
Train, Evaluator, Register, Deploy) and one status: `completed`, `failed`, `not_blessed`,
`deployed` or `deploy_failed` (`deploying` while the Deploy stage runs). A stage is
`completed`, `failed`, `skipped` (a disabled deploy, or nothing to register or deploy) or
`pending` (after a failure). The quick test's stages are the first six of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Compile", ()),
    ("Examples", ("QueryExampleGen",)),
    ("Stats", ("StatisticsGen",)),
    ("Schema", ("SchemaGen", "ExampleValidator")),
    ("Transform", ("Transform",)),
    ("Train", ("RecsTrainer",)),
    ("Evaluator", ("RecsEvaluator",)),
    ("Register", ("RecsRegistrar",)),
    ("Deploy", ("RecsDeployer",)),
)
"""Each stage of the product and the template components it is made of."""

COMPLETED, FAILED, SKIPPED, PENDING = "completed", "failed", "skipped", "pending"
NOT_BLESSED, DEPLOYED, DEPLOY_FAILED = "not_blessed", "deployed", "deploy_failed"

Outputs = Callable[[str, str, str], dict]
"""`outputs(component, output key, file name)`: a JSON file a component wrote ({} if none)."""


def summarize(
    components: tuple[str, ...],
    seconds: Mapping[str, float],
    outputs: Outputs,
    *,
    failed: str | None = None,
    error: str = "",
) -> dict:
    """{"status", "stages": [{name, status, duration_seconds, error}]} of a finished run.

    `seconds` holds each finished component's time and `Compile`'s; `failed` names the
    component that failed, if one did."""
    evaluation = outputs("RecsEvaluator", "evaluation", "evaluation.json")
    deployment = outputs("RecsDeployer", "deployment", "deployment.json")
    registration = outputs("RecsRegistrar", "registration", "registration.json")
    stages = []
    reached_failure = False
    for name, members in STAGES:
        present = [c for c in members if c in components]
        if members and not present:
            continue  # the template has no such stage
        detail = {"name": name, "status": COMPLETED, "error": "",
                  "duration_seconds": round(sum(seconds.get(c, 0.0) for c in present)
                                            + seconds.get(name, 0.0), 3)}  # fmt: skip
        if reached_failure:
            detail |= {"status": PENDING, "duration_seconds": None}
        elif failed in present:
            detail |= {"status": FAILED, "error": error}
            reached_failure = True
        elif name == "Register" and registration and not registration.get("registered"):
            detail["status"] = SKIPPED
        elif name == "Deploy" and deployment.get("status") in (SKIPPED, DEPLOY_FAILED):
            detail |= {"status": SKIPPED if deployment["status"] == SKIPPED else FAILED,
                       "error": deployment.get("error", "")}  # fmt: skip
        stages.append(detail)
    if failed:
        status = FAILED
    elif evaluation and not evaluation.get("blessed"):
        status = NOT_BLESSED
    elif deployment.get("status") in (DEPLOYED, DEPLOY_FAILED):
        status = deployment["status"]
    else:
        status = COMPLETED
    return {"status": status, "stages": stages}
