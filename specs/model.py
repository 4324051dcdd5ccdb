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


class BruteForceRetrieval(Spec):
    """Every product scored by one matrix product inside the serving model: exact, and served by
    TF Serving's native container. The right choice up to a few hundred thousand products."""

    type: Literal["brute_force"] = "brute_force"


class ScannRetrieval(Spec):
    """An approximate top-k index (ScaNN) inside the serving model, for large catalogues.

    The catalogue's embeddings are split into `num_leaves` partitions; a query scores the
    products of its `num_leaves_to_search` nearest partitions by their compressed embeddings
    (`dimensions_per_block` dimensions per 4-bit code), then re-scores the best
    `num_reordering_candidates` exactly. Unset counts are sized from the catalogue when the
    model is exported (`trainer.scann_index.scann_parameters`, tuned to recall@100 >= 0.95
    against brute force). The model is served by the platform's Python server: TF Serving
    cannot load ScaNN's ops (`serving.routing`).
    """

    type: Literal["scann"] = "scann"
    num_leaves: int | None = Field(default=None, ge=1, le=1_000_000)
    """Partitions of the catalogue; None: about sqrt(catalogue size)."""
    num_leaves_to_search: int | None = Field(default=None, ge=1, le=1_000_000)
    """Partitions each query scores; None: 85% of `num_leaves` under 10,000 products, 70%
    under 200,000, 50% under 500,000, then 40%."""
    num_reordering_candidates: int | None = Field(default=None, ge=1, le=100_000)
    """Candidates re-scored exactly; None: 20 x top_k, at least 3,000."""
    dimensions_per_block: int = Field(default=2, ge=1, le=16)
    training_iterations: int = Field(default=12, ge=1, le=100)
    """k-means iterations that place the partitions."""

    @model_validator(mode="after")
    def _search_within_leaves(self):
        if (
            self.num_leaves is not None
            and self.num_leaves_to_search is not None
            and self.num_leaves_to_search > self.num_leaves
        ):
            raise ValueError(
                f"num_leaves_to_search: {self.num_leaves_to_search} is more than num_leaves "
                f"({self.num_leaves})"
            )
        return self


Retrieval = Annotated[BruteForceRetrieval | ScannRetrieval, Field(discriminator="type")]


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
    retrieval: Retrieval = BruteForceRetrieval()
    """How the serving model finds the top products: brute force, or a ScaNN index (large
    catalogues; retrieval and multitask models)."""
    materialize_max_customers: int = Field(default=100_000, ge=0, le=10_000_000)
    """A model with a purchase history stores every known customer's answers of
    `serving_default` and `discover`, computed when it is exported, if it knows at most this
    many customers (0: never). A request whose query features are the ones the answer was
    computed from (the customer's latest train row) is answered from the store; any other is
    computed (`trainer.serving`). Costs 2 x top_k x 8 bytes a customer in the SavedModel. A
    query tower that reads the request's time (a timestamp feature) stores nothing: a request
    at another time is another query."""

    @model_validator(mode="after")
    def _dense_somewhere(self):
        for field in ("query_layers", "candidate_layers"):
            layers = getattr(self, field)
            if layers and layers[0].type == "dropout" and len(layers) == 1:
                raise ValueError(f"{field}: a tower of only dropout learns nothing")
        return self

    @model_validator(mode="after")
    def _scann_ranks_by_retrieval(self):
        if self.retrieval.type == "scann" and self.model_type == "ranking":
            raise ValueError(
                "retrieval: a ScaNN index finds the top two-tower scores; a ranking model ranks "
                "every product by its rating head (use brute_force)"
            )
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
