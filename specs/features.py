"""FeatureConfig: what the buyer (query) tower and the product (candidate) tower see.

Each feature names an output column of the dataset query and says how Transform encodes it. The
transformed feature names are derived here (`transformed_names`) so that the Transform module, the
Trainer module and the serving model agree on them by construction.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from specs.base import Identifier, Spec

CyclicalPart = Literal["hour", "day_of_week", "month", "day_of_month"]


class StringFeature(Spec):
    """A categorical column: vocabulary (fitted on train) then a learned embedding."""

    kind: Literal["string"] = "string"
    column: Identifier
    embedding_dim: int = Field(default=32, ge=1, le=1024)
    vocab_size: int | None = Field(default=None, ge=1)
    """Keep the N most frequent values (None keeps every value seen in the train split)."""
    oov_buckets: int = Field(default=1, ge=1, le=10_000)


class Bucketize(Spec):
    boundaries: list[float] = Field(min_length=1)
    embedding_dim: int = Field(default=8, ge=1, le=1024)

    @field_validator("boundaries")
    @classmethod
    def _increasing(cls, values: list[float]) -> list[float]:
        if any(b <= a for a, b in zip(values, values[1:], strict=False)):
            raise ValueError("boundaries must be strictly increasing")
        return values


class NumericFeature(Spec):
    """A numeric column: normalized to one float, or bucketized and embedded."""

    kind: Literal["numeric"] = "numeric"
    column: Identifier
    normalization: Literal["zscore", "minmax", "log"] | None = None
    bucketize: Bucketize | None = None

    @model_validator(mode="after")
    def _one_encoding(self):
        if (self.normalization is None) == (self.bucketize is None):
            raise ValueError("set exactly one of normalization and bucketize")
        return self


class TimestampFeature(Spec):
    """A timestamp (unix seconds): sine/cosine of calendar cycles, and optionally its z-score."""

    kind: Literal["timestamp"] = "timestamp"
    column: Identifier
    cyclical: list[CyclicalPart] = Field(default=["hour", "day_of_week"], min_length=1)
    normalize: bool = False

    @field_validator("cyclical")
    @classmethod
    def _unique(cls, parts: list[str]) -> list[str]:
        if len(set(parts)) != len(parts):
            raise ValueError("cyclical parts must be unique")
        return parts


Feature = Annotated[StringFeature | NumericFeature | TimestampFeature, Field(discriminator="kind")]


class CrossFeature(Spec):
    """A hashed cross of two or more columns of the same tower, embedded."""

    columns: list[Identifier] = Field(min_length=2, max_length=4)
    hash_buckets: int = Field(default=1000, ge=2, le=10_000_000)
    embedding_dim: int = Field(default=16, ge=1, le=1024)

    @property
    def name(self) -> str:
        return "cross_" + "_x_".join(self.columns)


class TowerFeatures(Spec):
    features: list[Feature] = Field(min_length=1)
    crosses: list[CrossFeature] = []

    @model_validator(mode="after")
    def _crosses_use_tower_columns(self):
        by_column = {f.column: f for f in self.features}
        for i, cross in enumerate(self.crosses):
            for column in cross.columns:
                feature = by_column.get(column)
                if feature is None:
                    raise ValueError(f"crosses[{i}]: {column!r} is not a feature of this tower")
                if feature.kind == "timestamp" or (
                    feature.kind == "numeric" and feature.bucketize is None
                ):
                    raise ValueError(
                        f"crosses[{i}]: {column!r} must be a string or bucketized numeric feature"
                    )
        return self


class FeatureConfig(Spec):
    """Both towers' features. `query_id` and `candidate_id` name the customer and product id
    columns: string features of their towers, whose vocabularies map model outputs back to ids."""

    name: Identifier
    query_id: Identifier
    candidate_id: Identifier
    query_tower: TowerFeatures
    candidate_tower: TowerFeatures

    @model_validator(mode="after")
    def _ids_and_uniqueness(self):
        for field, tower_name in (("query_id", "query_tower"), ("candidate_id", "candidate_tower")):
            column = getattr(self, field)
            tower: TowerFeatures = getattr(self, tower_name)
            match = [f for f in tower.features if f.column == column]
            if not match or match[0].kind != "string":
                raise ValueError(f"{field} {column!r} must be a string feature of {tower_name}")
        columns = [f.column for t in (self.query_tower, self.candidate_tower) for f in t.features]
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        if duplicates:
            raise ValueError(f"a column may feed one feature only, repeated: {duplicates}")
        names = [n for t in (self.query_tower, self.candidate_tower) for n in transformed_names(t)]
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise ValueError(f"transformed feature names clash: {clashes}")
        return self

    @property
    def raw_columns(self) -> list[str]:
        """Every dataset column the features read, query tower first."""
        return [f.column for t in (self.query_tower, self.candidate_tower) for f in t.features]


def timestamp_names(feature: TimestampFeature) -> list[str]:
    names = [f"{feature.column}_{part}_{fn}" for part in feature.cyclical for fn in ("sin", "cos")]
    if feature.normalize:
        names.append(f"{feature.column}_z")
    return names


def transformed_names(tower: TowerFeatures) -> list[str]:
    """Names of the transformed features a tower consumes, in a stable order."""
    names: list[str] = []
    for feature in tower.features:
        if feature.kind == "timestamp":
            names.extend(timestamp_names(feature))
        else:
            names.append(feature.column)
    names.extend(cross.name for cross in tower.crosses)
    return names


def tower_input_dim(tower: TowerFeatures) -> int:
    """Width of the tower's input vector: the concatenation of every encoded feature."""
    width = 0
    for feature in tower.features:
        if feature.kind == "string":
            width += feature.embedding_dim
        elif feature.kind == "numeric":
            width += feature.bucketize.embedding_dim if feature.bucketize else 1
        else:
            width += 2 * len(feature.cyclical) + (1 if feature.normalize else 0)
    return width + sum(cross.embedding_dim for cross in tower.crosses)
