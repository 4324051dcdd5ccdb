"""Model registry: one interface (`registry.base.ModelRegistry`), two backends.

`registry.mlflow_registry.MlflowModelRegistry`: MLflow's model registry (local SQLite store).
`registry.vertex.VertexModelRegistry`: Vertex AI Model Registry.
"""

from registry.base import CHAMPION, ModelRegistry, ModelVersion, Registration, RegistryError

__all__ = [
    "CHAMPION",
    "ModelRegistry",
    "ModelVersion",
    "Registration",
    "RegistryError",
    "open_registry",
]

_MLFLOW_SCHEMES = ("sqlite:///", "http://", "https://", "file://")


def open_registry(uri: str, *, session=None, release_image: str = "") -> ModelRegistry:
    """The registry a URI names: `vertex://<project>/<region>` is Vertex AI Model Registry
    (through `session`, by default an authorized session of the ambient credentials); an MLflow
    tracking URI (`sqlite:///...`, `http(s)://...`) is MLflow's registry.

    `release_image` is a pinned image of the platform release the run uses (the pipeline's
    `worker_image`): a version registered on Vertex names the serving image of that release."""
    if uri.startswith("vertex://"):
        from registry.vertex import VertexModelRegistry, VertexTarget
        from serving.routing import image_release

        project, _, region = uri[len("vertex://") :].partition("/")
        if not project or not region or "/" in region:
            raise ValueError(f"registry URI {uri!r}: expected vertex://<project>/<region>")
        if session is None:
            from registry.rest import default_session

            session = default_session()
        repository, tag = image_release(release_image) if release_image else ("", "")
        target = VertexTarget(project, region, image_repository=repository, image_tag=tag)
        return VertexModelRegistry(target, session)
    if uri.startswith(_MLFLOW_SCHEMES):
        from registry.mlflow_registry import MlflowModelRegistry

        return MlflowModelRegistry(uri)
    raise ValueError(f"registry URI {uri!r}: vertex://<project>/<region> or an MLflow URI")
