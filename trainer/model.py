"""The two-tower model (TFRS): retrieval, ranking or both (multitask).

Retrieval scores a query against every candidate by the towers' dot product; ranking feeds both
towers' outputs to a rating head that predicts the target; multitask trains both, its loss the
weighted sum of the two.

Loss reduction, stated: every task loss (the in-batch softmax cross-entropy of retrieval, the
MSE, Huber or binary cross-entropy of ranking) is SUMMED over the examples of a replica's batch (`Reduction.SUM`), never `AUTO`/`SUM_OVER_BATCH_SIZE`, which Keras
refuses inside a `MirroredStrategy` replica context (the product's recorded crash). Under
`MirroredStrategy` the gradients of the replicas are summed, so the step follows the gradient of the
loss summed over the global batch, the same step a single device takes on that batch. The
regularization loss is not per example: every replica adds the full penalty, so it is divided by
the number of replicas before the gradients are summed, otherwise N GPUs would regularize N times
as hard as one. The reported `loss`, `regularization_loss` and `total_loss` are, after Keras sums
them over replicas, the values one device reports for the same global batch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_recommenders as tfrs


def retrieval_loss() -> tf.keras.losses.Loss:
    """Softmax cross-entropy over in-batch candidates, summed over the batch (see module doc)."""
    return tf.keras.losses.CategoricalCrossentropy(
        from_logits=True, reduction=tf.keras.losses.Reduction.SUM
    )


def ranking_loss(name: str) -> tf.keras.losses.Loss:
    """The rating head's loss, summed over the batch (see module doc). "bce" takes logits."""
    reduction = tf.keras.losses.Reduction.SUM
    if name == "mse":
        return tf.keras.losses.MeanSquaredError(reduction=reduction)
    if name == "huber":
        return tf.keras.losses.Huber(reduction=reduction)
    if name == "bce":
        return tf.keras.losses.BinaryCrossentropy(from_logits=True, reduction=reduction)
    raise ValueError(f"unknown ranking loss {name!r}; choose mse, huber or bce")


# Logit of an in-batch candidate that must not count as a negative (TFRS's value).
_MASKED_LOGIT = float(np.finfo(np.float32).min / 100.0)


def in_batch_softmax_loss(
    query: tf.Tensor,
    candidate: tf.Tensor,
    *,
    sampling_probability: tf.Tensor | None = None,
    candidate_ids: tf.Tensor | None = None,
) -> tf.Tensor:
    """Retrieval loss over in-batch negatives (TFRS's `tasks.Retrieval`, without metrics).

    Row i's positive is candidate i; every other candidate of the batch is a negative. Scores
    are corrected by minus log Q (`sampling_probability`, clipped at 1e-6) and, given
    `candidate_ids`, a negative with the positive's id (the same product twice in a batch) is
    masked out. The softmax cross-entropy is summed over the batch (module doc).

    Written with TF ops only, so the train step needs no AutoGraph conversion: converting the
    TFRS and Keras code under it took about 15 s of the first step on 2 cores.
    """
    scores = tf.linalg.matmul(query, candidate, transpose_b=True)
    labels = tf.eye(tf.shape(scores)[0], tf.shape(scores)[1])
    if sampling_probability is not None:
        scores -= tf.math.log(tf.clip_by_value(sampling_probability, 1e-6, 1.0))
    if candidate_ids is not None:
        same = tf.cast(tf.equal(candidate_ids[:, None], candidate_ids[None, :]), scores.dtype)
        scores += (same - labels) * _MASKED_LOGIT
    return retrieval_loss()(labels, scores)


class TwoTowerModel(tfrs.Model):
    """Query tower x candidate tower, trained with in-batch negatives and/or a rating head.

    The retrieval task computes no top-K metrics during training (they score every candidate
    each step, which dominates training time); recall is computed after training by
    `trainer.metrics`, and RMSE/MAE by `trainer.ranking`.
    """

    def __init__(
        self,
        query_tower: tf.keras.Model,
        candidate_tower: tf.keras.Model,
        *,
        query_features: Sequence[str],
        candidate_features: Sequence[str],
        candidate_id: str | None = None,
        sampling_probability: np.ndarray | None = None,
        rating_head: tf.keras.Model | None = None,
        target: str | None = None,
        ranking_loss_name: str = "mse",
        retrieval_weight: float = 1.0,
        ranking_weight: float = 0.0,
    ) -> None:
        """`candidate_id` and `sampling_probability` (indexed by candidate id) turn on two
        corrections of in-batch negatives: a product bought twice in a batch is not its own
        negative (accidental hits), and scores are corrected by log Q, the probability that a
        product appears in a batch at all. Without log Q, popular products, which are sampled as
        negatives far more often, are pushed down: on repeat-heavy B2B data that ranks the
        products customers re-order below the tail.

        `rating_head` (concatenated query and candidate embeddings -> one output) learns the
        feature `target` with `ranking_loss_name`; the loss is `retrieval_weight` x retrieval
        plus `ranking_weight` x ranking (a task of weight 0 is not computed)."""
        super().__init__()
        if ranking_weight and (rating_head is None or target is None):
            raise ValueError("a ranking weight needs a rating head and a target feature")
        if not retrieval_weight and not ranking_weight:
            raise ValueError("both task weights are 0: the model would learn nothing")
        self.rating_head = rating_head
        self.target = target
        self.ranking_loss_name = ranking_loss_name
        self.ranking_loss = ranking_loss(ranking_loss_name)
        self.retrieval_weight = float(retrieval_weight)
        self.ranking_weight = float(ranking_weight)
        self.query_tower = query_tower
        self.candidate_tower = candidate_tower
        self.query_features = list(query_features)
        self.candidate_features = list(candidate_features)
        self.candidate_id = candidate_id
        self.sampling_probability = (
            None
            if sampling_probability is None
            else tf.constant(sampling_probability, dtype=tf.float32)
        )

    def query_embeddings(self, features: Mapping[str, tf.Tensor], training: bool = False):
        """Query embeddings from a dict of transformed features (extra keys are ignored)."""
        return self.query_tower(
            {name: features[name] for name in self.query_features}, training=training
        )

    def candidate_embeddings(self, features: Mapping[str, tf.Tensor], training: bool = False):
        """Candidate embeddings from a dict of transformed features (extra keys are ignored)."""
        return self.candidate_tower(
            {name: features[name] for name in self.candidate_features}, training=training
        )

    def rating_logits(self, query: tf.Tensor, candidate: tf.Tensor, training: bool = False):
        """`[batch]` rating head outputs of paired query and candidate embeddings (logits for
        "bce")."""
        x = tf.concat([query, candidate], axis=-1)
        return tf.squeeze(self.rating_head(x, training=training), -1)

    def predict_ratings(self, query: tf.Tensor, candidate: tf.Tensor) -> tf.Tensor:
        """Predicted targets, on the target's (transformed) scale: probabilities for "bce"."""
        logits = self.rating_logits(query, candidate)
        return tf.sigmoid(logits) if self.ranking_loss_name == "bce" else logits

    def task_losses(
        self, features: Mapping[str, tf.Tensor], training: bool = False
    ) -> dict[str, tf.Tensor]:
        """The unweighted loss of each task the model trains, summed over the batch."""
        query = self.query_embeddings(features, training=training)
        candidate = self.candidate_embeddings(features, training=training)
        losses = {}
        if self.retrieval_weight:
            ids = features[self.candidate_id] if self.candidate_id else None
            probability = (
                tf.gather(self.sampling_probability, ids)
                if self.sampling_probability is not None
                else None
            )
            losses["retrieval_loss"] = in_batch_softmax_loss(
                query, candidate, sampling_probability=probability, candidate_ids=ids
            )
        if self.ranking_weight:
            target = tf.reshape(tf.cast(features[self.target], tf.float32), [-1, 1])
            logits = self.rating_logits(query, candidate, training=training)
            losses["ranking_loss"] = self.ranking_loss(target, logits[:, None])
        return losses

    def _weighted(self, tasks: Mapping[str, tf.Tensor]) -> tf.Tensor:
        weights = {"retrieval_loss": self.retrieval_weight, "ranking_loss": self.ranking_weight}
        return tf.add_n([weights[name] * loss for name, loss in tasks.items()])

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        return self._weighted(self.task_losses(features, training=training))

    def _step_losses(self, inputs, training: bool) -> dict[str, tf.Tensor]:
        """This replica's share of the loss, the penalty and their total.

        Keras sums what each replica reports (its "auto" reduction under MirroredStrategy), so
        each replica reports its batch's loss and 1/N of the penalty: the sums are the loss of
        the global batch and the penalty once, the numbers a single device reports.
        """
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        tasks = self.task_losses(inputs, training=training)
        loss = self._weighted(tasks)
        penalty = tf.add_n([tf.constant(0.0)] + [tf.reduce_sum(x) for x in self.losses])
        penalty = penalty / replicas
        out = {"loss": loss, "regularization_loss": penalty, "total_loss": loss + penalty}
        if len(tasks) > 1:  # multitask: each task's own loss too
            out.update(tasks)
        return out

    # The steps are plain TF ops: AutoGraph has nothing to convert in them (see
    # in_batch_softmax_loss), and skipping it saves most of the first step's tracing time.
    @tf.autograph.experimental.do_not_convert
    def train_step(self, inputs):
        """TFRS's train step, with the regularization loss scaled per replica (module doc)."""
        with tf.GradientTape() as tape:
            losses = self._step_losses(inputs, training=True)
        gradients = tape.gradient(losses["total_loss"], self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=True))
        return losses

    @tf.autograph.experimental.do_not_convert
    def test_step(self, inputs):
        return self._step_losses(inputs, training=False)
