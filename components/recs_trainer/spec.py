"""Component spec: TFX's TrainerSpec plus typed hyperparameters.

TFX's Trainer takes hyperparameters only inside `custom_config`, a JSON string, so on Vertex AI
they would be one opaque STRING pipeline input. Declaring them as execution parameters makes each
one a typed pipeline input (INT / DOUBLE) that a caller can set per run.
"""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.types.standard_component_specs import TrainerSpec

from components.scale_out import TRAINING_JOB_KEYS, TrainingJobSettings

HYPERPARAMETER_KEYS = ("epochs", "batch_size", "learning_rate", "seed")
# Where and under which names the run is tracked in MLflow (trainer.tracking), and the app's
# progress callback URL (trainer.progress); "" or unset: the trainer's default.
TRACKING_KEYS = ("mlflow_tracking_uri", "mlflow_experiment", "run_name", "callback_url")


RAW_EXAMPLES_KEY = "raw_examples"


class RecsTrainerSpec(TrainerSpec):
    # The untransformed examples: the exported serving model takes raw features, so it is
    # evaluated by sending it the raw eval rows (trainer.evaluation).
    INPUTS = {
        **TrainerSpec.INPUTS,
        RAW_EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples, optional=True),
    }
    PARAMETERS = {
        **TrainerSpec.PARAMETERS,
        "epochs": ExecutionParameter(type=int),
        "batch_size": ExecutionParameter(type=int),
        "learning_rate": ExecutionParameter(type=float),
        "seed": ExecutionParameter(type=int),
        **{key: ExecutionParameter(type=str, optional=True) for key in TRACKING_KEYS},
        # Where it trains: here, or a Vertex AI custom job with GPUs (components.scale_out).
        **{
            key: ExecutionParameter(type=type(getattr(TrainingJobSettings(), key)), optional=True)
            for key in TRAINING_JOB_KEYS
        },
    }
