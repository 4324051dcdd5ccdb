"""Component spec: TFX's TrainerSpec plus typed hyperparameters.

TFX's Trainer takes hyperparameters only inside `custom_config`, a JSON string, so on Vertex AI
they would be one opaque STRING pipeline input. Declaring them as execution parameters makes each
one a typed pipeline input (INT / DOUBLE) that a caller can set per run.
"""

from tfx.types.component_spec import ExecutionParameter
from tfx.types.standard_component_specs import TrainerSpec

HYPERPARAMETER_KEYS = ("epochs", "batch_size", "learning_rate", "seed")


class RecsTrainerSpec(TrainerSpec):
    PARAMETERS = {
        **TrainerSpec.PARAMETERS,
        "epochs": ExecutionParameter(type=int),
        "batch_size": ExecutionParameter(type=int),
        "learning_rate": ExecutionParameter(type=float),
        "seed": ExecutionParameter(type=int),
    }
