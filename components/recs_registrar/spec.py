"""Component spec: a blessed model in; its versioned copy and its registration out."""

from tfx.types import artifact, standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

REGISTRATION_FILE = "registration.json"


class ModelRegistration(artifact.Artifact):
    """The outcome of registering a model: `registration.json` (registered or why not)."""

    TYPE_NAME = "b2brecs.ModelRegistration"  # <namespace>.<title>, as KFP schema titles are


class RecsRegistrarSpec(ComponentSpec):
    INPUTS = {
        "model_run": ChannelParameter(type=standard_artifacts.ModelRun),
        "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
        "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation),
        "model": ChannelParameter(type=standard_artifacts.Model),
    }
    OUTPUTS = {"registration": ChannelParameter(type=ModelRegistration)}
    PARAMETERS = {
        "registry_uri": ExecutionParameter(type=str),
        "model_name": ExecutionParameter(type=str),
        # Served model files: a blessed model is copied to <models_dir>/<model_name>/v<version>/.
        "models_dir": ExecutionParameter(type=str),
        # The platform release the run uses: a version registered on Vertex AI names the
        # serving image of the same release (serving.routing.image_release).
        "worker_image": ExecutionParameter(type=str, optional=True),
    }
