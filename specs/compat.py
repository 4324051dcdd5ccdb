"""Cross-checks between specs that are each valid on their own.

`check_compatible` (dataset vs features) and `check_model_fits_features` raise SpecError naming
the field; `RunConfig` bundles the four specs of
a run and applies the check as a validator, so a bundle that exists is a compatible one.
"""

from __future__ import annotations

from pydantic import model_validator

from specs.base import Spec, SpecError
from specs.dataset import DatasetConfig
from specs.features import FeatureConfig
from specs.model import ModelConfig
from specs.training import TrainingParams


def check_compatible(
    dataset: DatasetConfig, features: FeatureConfig, *, source: str = "features"
) -> None:
    """Cross-check the feature config against the dataset query's output columns.

    Each spec is valid on its own; this catches features that read a column the query does not
    produce, id features that are not the dataset's id roles, and timestamp features on columns
    the query does not convert to unix seconds. Raises SpecError naming the feature field.
    """
    columns = dataset.output_columns
    roles = dataset.roles
    problems: list[tuple[str, str]] = []
    for field, role in (("query_id", "customer_id"), ("candidate_id", "product_id")):
        if getattr(features, field) != getattr(roles, role):
            problems.append(
                (
                    field,
                    f"{getattr(features, field)!r} must be the dataset's roles.{role} "
                    f"({getattr(roles, role)!r})",
                )
            )
    for tower_name in ("query_tower", "candidate_tower"):
        tower = getattr(features, tower_name)
        for i, feature in enumerate(tower.features):
            field = f"{tower_name}.features[{i}].column"
            if feature.column not in columns:
                problems.append(
                    (
                        field,
                        f"{feature.column!r} is not an output column of dataset "
                        f"{dataset.name!r}: {columns}",
                    )
                )
            elif feature.kind == "history" and feature.timestamp != roles.timestamp:
                problems.append(
                    (
                        f"{tower_name}.features[{i}].timestamp",
                        f"{feature.timestamp!r} must be the dataset's roles.timestamp "
                        f"({roles.timestamp!r}): history is ordered by purchase time",
                    )
                )
            elif feature.kind == "timestamp" and feature.column != roles.timestamp:
                problems.append(
                    (
                        field,
                        f"a timestamp feature reads unix seconds; only roles.timestamp "
                        f"({roles.timestamp!r}) is emitted that way",
                    )
                )
    target = features.target
    if target is not None and target.column not in columns:
        problems.append(
            (
                "target.column",
                f"{target.column!r} is not an output column of dataset {dataset.name!r}: {columns}",
            )
        )
    if problems:
        raise SpecError(source, problems)


def check_model_fits_features(
    features: FeatureConfig, model: ModelConfig, *, source: str = "model"
) -> None:
    """A ranking or multitask model needs the feature config's target column to learn from."""
    if model.model_type != "retrieval" and features.target is None:
        raise SpecError(
            source,
            [
                (
                    "model_type",
                    f"a {model.model_type} model predicts a target: feature config "
                    f"{features.name!r} has no target column",
                )
            ],
        )


class RunConfig(Spec):
    """The four specs of one run, checked against each other."""

    dataset: DatasetConfig
    features: FeatureConfig
    model: ModelConfig
    training: TrainingParams = TrainingParams()

    @model_validator(mode="after")
    def _compatible(self):
        check_compatible(self.dataset, self.features)
        check_model_fits_features(self.features, self.model)
        return self
