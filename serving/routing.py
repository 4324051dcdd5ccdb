"""The routing rule: which serving container serves a model.

A brute-force model (every product scored by one matrix product inside the SavedModel) runs in
TF Serving's native container; a model with a ScaNN index needs ScaNN's custom ops, which TF
Serving does not load, so it runs in the platform's Python model server (`serving.model_server`),
which speaks the same REST API. Infra (the Cloud Run services) and the registry (the container a
registered version names) both read this table.
"""

from __future__ import annotations

import re
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


SCANN_NAMESPACE = "Scann"
"""The op namespace of ScaNN's TensorFlow ops (`Scann>ScannSearchBatched`, ...)."""


def serving_runtime(*, uses_scann: bool) -> Runtime:
    return "scann" if uses_scann else "native"


def saved_model_uses_scann(model_dir: str) -> bool:
    """Whether the SavedModel at `model_dir` (a local path or gs://) holds ScaNN ops: what
    `serving_runtime` is asked when a model is registered, read from the model itself."""
    import tensorflow as tf
    from tensorflow.core.protobuf import saved_model_pb2

    saved = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(f"{str(model_dir).rstrip('/')}/saved_model.pb", "rb") as f:
        saved.ParseFromString(f.read())
    prefix = f"{SCANN_NAMESPACE}>"
    for graph in saved.meta_graphs:
        nodes = list(graph.graph_def.node)
        for function in graph.graph_def.library.function:
            nodes.extend(function.node_def)
        if any(node.op.startswith(prefix) for node in nodes):
            return True
    return False


_RELEASE_IMAGE = re.compile(
    r"(?P<repository>[a-z0-9.-]+(:[0-9]+)?/[a-z0-9._/-]+)/[a-z0-9._-]+:(?P<tag>[A-Za-z0-9._-]+)"
)


def image_release(image: str) -> tuple[str, str]:
    """(repository, tag) of a pinned image of the platform, such as the trainer image a
    pipeline runs: its serving images are `<repository>/<RUNTIME_IMAGES[...]>:<tag>`, the same
    release. Raises ValueError for an image without a tag, or tagged `latest`."""
    found = _RELEASE_IMAGE.fullmatch(image)
    if not found or found["tag"] == "latest":
        raise ValueError(f"{image!r} is not a pinned <repository>/<image>:<release> image")
    return found["repository"], found["tag"]
