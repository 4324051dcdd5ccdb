"""The routing rule: which serving container serves a model.

A brute-force model (every product scored by one matrix product inside the SavedModel) runs in
TF Serving's native container; a model with a ScaNN index needs ScaNN's custom ops, which TF
Serving does not load, so it runs in the platform's Python model server (`serving.model_server`),
which speaks the same REST API. Infra (the Cloud Run services) and the registry (the container a
registered version names) both read this table.
"""

from __future__ import annotations

from typing import Literal

Runtime = Literal["native", "scann"]

RUNTIME_IMAGES: dict[str, str] = {"native": "tf-serving-native", "scann": "model-server-scann"}
"""Serving runtime -> the platform's image name (in its shared Artifact Registry)."""

MODEL_NAME = "recommender"
"""The model name in the REST routes of both containers."""
PREDICT_ROUTE = f"/v1/models/{MODEL_NAME}:predict"
HEALTH_ROUTE = f"/v1/models/{MODEL_NAME}"
CONTAINER_PORT = 8080
"""The port a serving container listens on in the cloud: the one Cloud Run and Vertex AI call."""


def serving_runtime(*, uses_scann: bool) -> Runtime:
    return "scann" if uses_scann else "native"
