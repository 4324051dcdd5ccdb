"""FeatureConfig: what the buyer (query) tower and the product (candidate) tower see.

Each feature names an output column of the dataset query and says how Transform encodes it. The
transformed feature names are derived here (`transformed_names`) so that the Transform module, the
Trainer module and the serving model agree on them by construction.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from specs.base import Identifier, Spec

MAX_VOCABULARY = 10_000_000
"""A vocabulary's largest size: its embedding table (10M x 32 floats) is 1.3 GB already."""

CyclicalPart = Literal["hour", "day_of_week", "month", "day_of_month"]


class StringFeature(Spec):
    """A categorical column: vocabulary (fitted on train) then a learned embedding."""

    kind: Literal["string"] = "string"
    column: Identifier
    embedding_dim: int = Field(default=32, ge=1, le=1024)
    vocab_size: int | None = Field(default=None, ge=1, le=MAX_VOCABULARY)
    """Keep the N most frequent values (None keeps every value seen in the train split)."""
    oov_buckets: int = Field(default=1, ge=1, le=10_000)


class StringListFeature(Spec):
    """A multi-value categorical column held as a delimited string (`"Action|Comedy"`): each
    value is looked up in one vocabulary (fitted on train, counting every value) and the row is
    the mean of its values' embeddings. Values are trimmed of surrounding spaces; empty values are
    dropped; a row beyond `max_values` values keeps its first `max_values`."""

    kind: Literal["string_list"] = "string_list"
    column: Identifier
    separator: str = Field(default="|", min_length=1, max_length=8)
    """The delimiter between values in the column's string."""
    max_values: int = Field(default=16, ge=2, le=256)
    embedding_dim: int = Field(default=16, ge=1, le=1024)
    vocab_size: int | None = Field(default=None, ge=1, le=MAX_VOCABULARY)
    """Keep the N most frequent values (None keeps every value seen in the train split)."""
    oov_buckets: int = Field(default=1, ge=1, le=10_000)

    @field_validator("separator")
    @classmethod
    def _printable(cls, value: str) -> str:
        if not value.isprintable() and value not in ("\t",):
            raise ValueError("separator must be printable characters (or a tab)")
        return value


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


class HistoryFeature(Spec):
    """The customer's purchase history, for the query tower.

    For a training example: the last `max_items` distinct products the customer bought strictly
    before the example's timestamp (never at or after it), each with how often (baskets) and how
    recently it was bought. The trainer computes it from the train split (`trainer.history`); the
    serving model carries every known customer's history as of the end of training. The query
    tower pools the products' embeddings, weighted by how often each was bought; with
    `share_embedding` the pooled table is the candidate id's own embedding.
    """

    kind: Literal["history"] = "history"
    column: Identifier
    """The product id column (the FeatureConfig's candidate_id)."""
    timestamp: Identifier
    """The dataset's timestamp column (roles.timestamp), unix seconds."""
    max_items: int = Field(default=50, ge=1, le=1000)
    share_embedding: bool = True
    embedding_dim: int = Field(default=32, ge=1, le=1024)
    """Width of the history's own embedding when it is not shared."""


Feature = Annotated[
    StringFeature | StringListFeature | NumericFeature | TimestampFeature | HistoryFeature,
    Field(discriminator="kind"),
]


class TargetColumn(Spec):
    """What a ranking or multitask model learns to predict for a (customer, product) row, such
    as the quantity or the revenue of the purchase.

    Transform applies the transforms in this order: clip to [`clip_min`, `clip_max`] (either
    bound may be None), then log1p. The model predicts, and the serving model scores with, the
    transformed value; RMSE and MAE are reported on that scale.
    """

    column: Identifier
    clip_min: float | None = None
    clip_max: float | None = None
    log1p: bool = False

    @model_validator(mode="after")
    def _bounds(self):
        if (
            self.clip_min is not None
            and self.clip_max is not None
            and self.clip_min >= self.clip_max
        ):
            raise ValueError(
                f"clip_min ({self.clip_min}) must be less than clip_max ({self.clip_max})"
            )
        if self.log1p and (self.clip_min is None or self.clip_min < 0):
            raise ValueError(
                "log1p needs clip_min >= 0: log1p is undefined below -1, and negative targets "
                "(returns, corrections) must be clipped away first"
            )
        return self


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
                if feature.kind in ("timestamp", "history", "string_list") or (
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
    target: TargetColumn | None = None
    """The label of ranking and multitask models; retrieval models need none."""

    @model_validator(mode="after")
    def _ids_and_uniqueness(self):
        for field, tower_name in (("query_id", "query_tower"), ("candidate_id", "candidate_tower")):
            column = getattr(self, field)
            tower: TowerFeatures = getattr(self, tower_name)
            match = [f for f in tower.features if f.column == column]
            if not match or match[0].kind != "string":
                raise ValueError(f"{field} {column!r} must be a string feature of {tower_name}")
        for i, feature in enumerate(self.candidate_tower.features):
            if feature.kind == "history":
                raise ValueError(
                    f"candidate_tower.features[{i}]: a history feature belongs to the query tower"
                )
        histories = [f for f in self.query_tower.features if f.kind == "history"]
        if len(histories) > 1:
            raise ValueError("query_tower: at most one history feature")
        for feature in histories:
            if feature.column != self.candidate_id:
                raise ValueError(
                    f"query_tower history column {feature.column!r} must be the candidate_id "
                    f"{self.candidate_id!r}: the history lists products"
                )
        columns = [
            f.column
            for t in (self.query_tower, self.candidate_tower)
            for f in t.features
            if f.kind != "history"
        ]
        duplicates = sorted({c for c in columns if columns.count(c) > 1})
        if duplicates:
            raise ValueError(f"a column may feed one feature only, repeated: {duplicates}")
        if self.target is not None and self.target.column in columns:
            raise ValueError(
                f"target column {self.target.column!r} is also a feature: the model would "
                "read its own label"
            )
        names = [n for t in (self.query_tower, self.candidate_tower) for n in transformed_names(t)]
        names += [history_time_name(h) for h in histories]
        if self.target is not None:
            names.append(target_name(self.target))
        clashes = sorted({n for n in names if names.count(n) > 1})
        if clashes:
            raise ValueError(f"transformed feature names clash: {clashes}")
        return self

    @property
    def raw_columns(self) -> list[str]:
        """Every dataset column the features read, query tower first."""
        columns = [f.column for t in (self.query_tower, self.candidate_tower) for f in t.features]
        columns += [h.timestamp for h in self.query_tower.features if h.kind == "history"]
        if self.target is not None:
            columns.append(self.target.column)
        return list(dict.fromkeys(columns))

    @property
    def history(self) -> HistoryFeature | None:
        """The query tower's history feature, if it has one."""
        return next((f for f in self.query_tower.features if f.kind == "history"), None)


def cyclical_name(column: str, part: str, fn: str) -> str:
    """The Transform output of one calendar cycle of a timestamp: `fn` is "sin" or "cos"."""
    return f"{column}_{part}_{fn}"


def timestamp_zscore_name(feature: TimestampFeature) -> str:
    """The Transform output of a normalized timestamp (`normalize`)."""
    return f"{feature.column}_z"


def timestamp_names(feature: TimestampFeature) -> list[str]:
    names = [
        cyclical_name(feature.column, part, fn)
        for part in feature.cyclical
        for fn in ("sin", "cos")
    ]
    if feature.normalize:
        names.append(timestamp_zscore_name(feature))
    return names


def history_names(feature: HistoryFeature) -> list[str]:
    """The query tower's two history inputs: product indices `[batch, max_items]` (-1 pads)
    and their pooling weights."""
    return [f"{feature.column}_history", f"{feature.column}_history_weight"]


def history_time_name(feature: HistoryFeature) -> str:
    """The Transform output that passes the timestamp through as unix seconds."""
    return f"{feature.timestamp}_unix"


def target_name(target: TargetColumn) -> str:
    """The Transform output holding the (clipped, log1p'd) target."""
    return f"{target.column}_target"


def transformed_names(tower: TowerFeatures) -> list[str]:
    """Names of the features a tower consumes, in a stable order (the tower's inputs)."""
    names: list[str] = []
    for feature in tower.features:
        if feature.kind == "timestamp":
            names.extend(timestamp_names(feature))
        elif feature.kind == "history":
            names.extend(history_names(feature))
        else:
            names.append(feature.column)
    names.extend(cross.name for cross in tower.crosses)
    return names


def transform_output_names(features: FeatureConfig) -> list[str]:
    """The Transform module's outputs: every tower input but the history, which the trainer
    builds from the candidate id and the passed-through timestamp, then the target if any."""
    history = set()
    extra = []
    if features.history is not None:
        history = set(history_names(features.history))
        extra = [history_time_name(features.history)]
    if features.target is not None:
        extra.append(target_name(features.target))
    names = [
        n
        for tower in (features.query_tower, features.candidate_tower)
        for n in transformed_names(tower)
        if n not in history
    ]
    return names + extra


def tower_input_dim(tower: TowerFeatures, *, candidate_id_dim: int | None = None) -> int:
    """Width of the tower's input vector: the concatenation of every encoded feature.

    `candidate_id_dim` is the candidate id's embedding width, which a shared history has."""
    width = 0
    for feature in tower.features:
        if feature.kind in ("string", "string_list"):
            width += feature.embedding_dim
        elif feature.kind == "numeric":
            width += feature.bucketize.embedding_dim if feature.bucketize else 1
        elif feature.kind == "history":
            if feature.share_embedding and candidate_id_dim is None:
                raise ValueError("a shared history embedding needs candidate_id_dim")
            width += candidate_id_dim if feature.share_embedding else feature.embedding_dim
        else:
            width += 2 * len(feature.cyclical) + (1 if feature.normalize else 0)
    return width + sum(cross.embedding_dim for cross in tower.crosses)
