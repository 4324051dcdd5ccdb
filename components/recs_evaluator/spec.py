"""Component spec: the trained model and its data in; an evaluation and a blessing out."""

from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ComponentSpec, ExecutionParameter

EVALUATION_FILE = "evaluation.json"


class RecsEvaluatorSpec(ComponentSpec):
    INPUTS = {
        "model": ChannelParameter(type=standard_artifacts.Model),
        # The trainer's metrics file: RMSE/MAE of a rating head and the MLflow run id.
        "model_run": ChannelParameter(type=standard_artifacts.ModelRun),
        # The train and eval splits: their ids become vocabulary indices through the transform
        # graph (Transform does not materialize transformed examples).
        "examples": ChannelParameter(type=standard_artifacts.Examples),
        # Raw examples: the exported model is queried with the raw eval rows.
        "raw_examples": ChannelParameter(type=standard_artifacts.Examples),
        "transform_graph": ChannelParameter(type=standard_artifacts.TransformGraph),
    }
    OUTPUTS = {
        "evaluation": ChannelParameter(type=standard_artifacts.ModelEvaluation),
        "blessing": ChannelParameter(type=standard_artifacts.ModelBlessing),
    }
    PARAMETERS = {
        "query_id": ExecutionParameter(type=str),
        "candidate_id": ExecutionParameter(type=str),
        # JSON object {metric: minimum} (a maximum for RMSE/MAE).
        "thresholds": ExecutionParameter(type=str),
        # Comma-separated metrics compared with the baselines and the champion.
        "compared_metrics": ExecutionParameter(type=str),
        "baseline_margin": ExecutionParameter(type=float),
        "champion_tolerance": ExecutionParameter(type=float),
        # Where the champion is looked up ("" : no champion check).
        "registry_uri": ExecutionParameter(type=str, optional=True),
        "model_name": ExecutionParameter(type=str, optional=True),
    }
