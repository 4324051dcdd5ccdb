"""Labels of a registered version: the same key/value pairs in both backends.

Google labels allow lowercase letters, digits, hyphens and underscores, 63 characters at most,
keys starting with a letter. A metric's value is written with four decimals and "_" for the
point ("0.3729" -> "0_3729"), so a label filter can still read it.
"""

from __future__ import annotations

import re

from registry.base import Registration

_INVALID = re.compile(r"[^a-z0-9_-]")
LABELED_METRICS = (
    "recall_at_10",
    "recall_at_100",
    "new_recall_at_10",
    "new_recall_at_100",
    "test_rmse",
    "test_mae",
)
"""The key metrics a version's labels carry (all of them are in its tags in MLflow)."""


def label_value(text: str) -> str:
    return _INVALID.sub("_", str(text).lower())[:63]


def metric_label(value: float) -> str:
    return label_value(f"{float(value):.4f}".replace(".", "_").replace("-", "minus_"))


def version_labels(registration: Registration) -> dict[str, str]:
    """run id, model type, blessed, serving runtime and the key metrics present."""
    from serving.routing import serving_runtime

    labels = {
        "run_id": label_value(registration.run_id),
        "model_type": registration.model_type,
        "blessed": "true" if registration.blessed else "false",
        "runtime": serving_runtime(uses_scann=registration.uses_scann),
    }
    for name in LABELED_METRICS:
        if name in registration.metrics:
            labels[name] = metric_label(registration.metrics[name])
    return labels
