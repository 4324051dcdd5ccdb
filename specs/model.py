"""ModelConfig: tower architecture, output dimension, optimizer, and the named presets."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from specs.base import Identifier, Spec
from specs.parameters import BatchSize, LearningRate

Activation = Literal["relu", "gelu", "swish", "elu", "tanh", "sigmoid", "linear"]
Optimizer = Literal["adagrad", "adam", "sgd", "rmsprop", "adamw", "ftrl"]


class DenseLayer(Spec):
    type: Literal["dense"] = "dense"
    units: int = Field(ge=1, le=8192)
    activation: Activation = "relu"
    l1: float = Field(default=0.0, ge=0, le=1)
    l2: float = Field(default=0.0, ge=0, le=1)


class DropoutLayer(Spec):
    type: Literal["dropout"] = "dropout"
    rate: float = Field(gt=0, lt=1)


class BatchNormLayer(Spec):
    type: Literal["batch_norm"] = "batch_norm"


class LayerNormLayer(Spec):
    type: Literal["layer_norm"] = "layer_norm"


Layer = Annotated[
    DenseLayer | DropoutLayer | BatchNormLayer | LayerNormLayer, Field(discriminator="type")
]


class ReorderConfig(Spec):
    """The learned re-order scorer (`trainer.reorder`), used when the query tower has a history.

    It is trained on `windows` consecutive horizons of `horizon_days` at the end of the train
    split: features from before each horizon, labels from inside it.
    """

    horizon_days: int = Field(default=30, ge=1, le=365)
    history_items: int = Field(default=500, ge=1, le=10_000)
    """How many of a customer's distinct products (most recent first) the scorer knows; the
    query tower pools only the history feature's `max_items` most recent of them."""
    windows: int = Field(default=3, ge=1, le=24)
    hidden_units: list[int] = Field(default=[128, 64], min_length=1, max_length=4)
    epochs: int = Field(default=8, ge=1, le=100)
    learning_rate: float = Field(default=0.003, gt=0, le=1)
    neighbors: int = Field(default=100, ge=1, le=1000)
    """How many most similar products each product keeps in the co-purchase similarity."""
    new_weight: float = Field(default=1.0, ge=0, le=10)
    """Weight of the discovery loss (ranking only products the customer never bought)."""
    candidates: int = Field(default=200, ge=1, le=10_000)
    """How many never-bought products each cheap signal (co-purchase with everything the
    customer bought and with what they bought lately, the two-tower score, recent popularity)
    nominates for the scorer; every product the customer bought is a candidate too."""

    @field_validator("hidden_units")
    @classmethod
    def _positive(cls, units: list[int]) -> list[int]:
        if any(u < 1 or u > 1024 for u in units):
            raise ValueError("hidden units must be between 1 and 1024")
        return units


ModelType = Literal["retrieval", "ranking", "multitask"]
RankingLoss = Literal["mse", "bce", "huber"]


class LossWeights(Spec):
    """How much each task of a multitask model counts in its training loss."""

    retrieval: float = Field(default=1.0, ge=0, le=1)
    ranking: float = Field(default=1.0, ge=0, le=1)

    @model_validator(mode="after")
    def _something_to_learn(self):
        if self.retrieval == 0 and self.ranking == 0:
            raise ValueError("at least one of the retrieval and ranking weights must be above 0")
        return self


class ModelConfig(Spec):
    """Two towers of hidden layers, each topped by a linear Dense(output_dim) projection.

    model_type:
      retrieval: the towers' dot product scores every product (in-batch softmax), refined by the
        re-order scorer when the query tower has a history.
      ranking: the rating head (`rating_head` layers, then Dense(1)) reads both towers' outputs
        and predicts the feature config's target column; products are served by predicted
        target. `ranking_loss` is "mse", "huber", or "bce" (for a target in [0, 1]).
      multitask: both; the training loss is `loss_weights.retrieval` x the retrieval loss plus
        `loss_weights.ranking` x the ranking loss. Products are served by the retrieval score,
        each with its predicted target.
    """

    name: Identifier
    model_type: ModelType = "retrieval"
    query_layers: list[Layer] = []
    candidate_layers: list[Layer] = []
    output_dim: int = Field(default=32, ge=2, le=1024)
    # Adam at 0.01 trained the retrieval model best in the quick-test benchmark (Online Retail:
    # recall@10 0.25 after 5 epochs, against 0.16 with Adagrad at 0.1).
    optimizer: Optimizer = "adam"
    learning_rate: LearningRate = 0.01
    batch_size: BatchSize = 4096
    reorder: ReorderConfig | None = ReorderConfig()
    """The re-order scorer on top of the two-tower score; None ranks by the two-tower score."""
    rating_head: list[Layer] = [
        {"type": "dense", "units": 64, "activation": "relu"},
        {"type": "dense", "units": 32, "activation": "relu"},
    ]
    """Hidden layers of the rating head (ranking and multitask models)."""
    ranking_loss: RankingLoss = "mse"
    loss_weights: LossWeights = LossWeights()
    """Multitask models only."""

    @model_validator(mode="after")
    def _dense_somewhere(self):
        for field in ("query_layers", "candidate_layers"):
            layers = getattr(self, field)
            if layers and layers[0].type == "dropout" and len(layers) == 1:
                raise ValueError(f"{field}: a tower of only dropout learns nothing")
        return self

    @classmethod
    def preset(cls, preset: str, *, name: str | None = None, **overrides) -> ModelConfig:
        """Build a config from a named preset; `overrides` set top-level fields."""
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}")
        query, candidate = PRESETS[preset]
        data = {
            "name": name or preset,
            "query_layers": query,
            "candidate_layers": candidate,
            "output_dim": 32,
        }
        data.update(overrides)
        return cls.model_validate(data)


def _dense(*units: int, l2: float = 0.0, dropout: float = 0.0) -> list[dict]:
    layers: list[dict] = []
    for width in units:
        layers.append({"type": "dense", "units": width, "activation": "relu", "l2": l2})
        if dropout:
            layers.append({"type": "dropout", "rate": dropout})
    return layers


# Hidden layers of (query tower, candidate tower); every preset ends in Dense(output_dim = 32),
# so "Standard (128-64-32)" is hidden 128 and 64, then the 32-wide projection.
PRESETS: dict[str, tuple[list[dict], list[dict]]] = {
    "minimal": (_dense(64), _dense(64)),
    "standard": (_dense(128, 64), _dense(128, 64)),
    "deep": (_dense(256, 128, 64), _dense(256, 128, 64)),
    # Buyers carry more signal (history, firmographics) than products; a lighter product tower
    # also makes re-embedding the catalogue cheap.
    "asymmetric": (_dense(256, 128, 64), _dense(64)),
    "regularized": (
        _dense(128, 64, l2=1e-4, dropout=0.2),
        _dense(128, 64, l2=1e-4, dropout=0.2),
    ),
}
