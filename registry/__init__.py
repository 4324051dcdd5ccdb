"""Model registry: one interface (`registry.base.ModelRegistry`), two backends.

`registry.mlflow_registry.MlflowModelRegistry`: MLflow's model registry (local SQLite store).
`registry.vertex.VertexModelRegistry`: Vertex AI Model Registry.
"""

from registry.base import CHAMPION, ModelRegistry, ModelVersion, Registration, RegistryError

__all__ = ["CHAMPION", "ModelRegistry", "ModelVersion", "Registration", "RegistryError"]
