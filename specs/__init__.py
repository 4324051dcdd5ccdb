"""Typed specs for a client's dataset, features, model and training run.

The specs are the boundary of the platform: configs arrive as JSON, are validated here with
messages that name the offending field, and nothing downstream validates them again. Every value
that reaches generated code or SQL is either an identifier checked against a strict pattern or a
literal that the renderers quote by construction.
"""

from specs.base import SpecError, load_spec
from specs.compat import RunConfig, check_compatible, check_model_fits_features
from specs.dataset import (
    CategoryFilter,
    ColumnRoles,
    DatasetConfig,
    DateWindowFilter,
    JoinSpec,
    MinTransactionsFilter,
    NotNullFilter,
    NumericFilter,
    SelectedColumn,
    TopCustomersFilter,
    TopProductsFilter,
)
from specs.features import (
    Bucketize,
    CrossFeature,
    FeatureConfig,
    HistoryFeature,
    NumericFeature,
    StringFeature,
    StringListFeature,
    TargetColumn,
    TimestampFeature,
    TowerFeatures,
    history_names,
    history_time_name,
    target_name,
    tower_input_dim,
    transform_output_names,
    transformed_names,
)
from specs.model import (
    PRESETS,
    BatchNormLayer,
    DenseLayer,
    DropoutLayer,
    LayerNormLayer,
    LossWeights,
    ModelConfig,
    ReorderConfig,
)
from specs.training import (
    EarlyStopping,
    LearningRateSchedule,
    SplitConfig,
    TrainingParams,
    resolve_hyperparameters,
)

__all__ = [
    "PRESETS",
    "BatchNormLayer",
    "Bucketize",
    "CategoryFilter",
    "ColumnRoles",
    "RunConfig",
    "check_compatible",
    "check_model_fits_features",
    "CrossFeature",
    "DatasetConfig",
    "DateWindowFilter",
    "DenseLayer",
    "DropoutLayer",
    "EarlyStopping",
    "LearningRateSchedule",
    "FeatureConfig",
    "HistoryFeature",
    "history_names",
    "history_time_name",
    "transform_output_names",
    "JoinSpec",
    "LayerNormLayer",
    "LossWeights",
    "MinTransactionsFilter",
    "NotNullFilter",
    "ModelConfig",
    "ReorderConfig",
    "NumericFeature",
    "NumericFilter",
    "SelectedColumn",
    "SpecError",
    "SplitConfig",
    "StringFeature",
    "StringListFeature",
    "TargetColumn",
    "target_name",
    "TimestampFeature",
    "TopCustomersFilter",
    "TopProductsFilter",
    "TowerFeatures",
    "TrainingParams",
    "load_spec",
    "resolve_hyperparameters",
    "tower_input_dim",
    "transformed_names",
]
