"""Component spec: a registration in; where (and whether) it is served out."""

from tfx.types import artifact
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

from components.recs_registrar.spec import ModelRegistration

DEPLOYMENT_FILE = "deployment.json"


class ModelDeployment(artifact.Artifact):
    """The outcome of the Deploy stage: `deployment.json` (its status, URL, or error)."""

    TYPE_NAME = "b2brecs.ModelDeployment"


class RecsDeployerSpec(ComponentSpec):
    INPUTS = {"registration": ChannelParameter(type=ModelRegistration)}
    OUTPUTS = {"deployment": ChannelParameter(type=ModelDeployment)}
    PARAMETERS = {
        "deploy_target": ExecutionParameter(type=str),
        "deploy_preset": ExecutionParameter(type=str),
        "deploy_region": ExecutionParameter(type=str, optional=True),
        "deploy_public": ExecutionParameter(type=int),
        "deploy_port": ExecutionParameter(type=int),
        "project": ExecutionParameter(type=str, optional=True),
        "worker_image": ExecutionParameter(type=str, optional=True),
        "models_dir": ExecutionParameter(type=str),
    }
