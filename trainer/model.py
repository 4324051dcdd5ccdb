"""The two-tower retrieval model (TFRS).

Loss reduction, stated: the retrieval loss is the in-batch softmax cross-entropy SUMMED over the
examples of a replica's batch (`Reduction.SUM`), never `AUTO`/`SUM_OVER_BATCH_SIZE`, which Keras
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


class RetrievalModel(tfrs.Model):
    """Query tower x candidate tower, trained with in-batch negatives.

    The task computes no top-K metrics during training (they score every candidate each step,
    which dominates training time); recall is computed after training by `trainer.metrics`.
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
    ) -> None:
        """`candidate_id` and `sampling_probability` (indexed by candidate id) turn on two
        corrections of in-batch negatives: a product bought twice in a batch is not its own
        negative (accidental hits), and scores are corrected by log Q, the probability that a
        product appears in a batch at all. Without log Q, popular products, which are sampled as
        negatives far more often, are pushed down: on repeat-heavy B2B data that ranks the
        products customers re-order below the tail."""
        super().__init__()
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
        self.task = tfrs.tasks.Retrieval(
            loss=retrieval_loss(), metrics=None, remove_accidental_hits=candidate_id is not None
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

    def compute_loss(self, features: Mapping[str, tf.Tensor], training: bool = False) -> tf.Tensor:
        ids = features[self.candidate_id] if self.candidate_id else None
        probability = (
            tf.gather(self.sampling_probability, ids)
            if self.sampling_probability is not None
            else None
        )
        return self.task(
            self.query_embeddings(features, training=training),
            self.candidate_embeddings(features, training=training),
            candidate_sampling_probability=probability,
            candidate_ids=ids,
            compute_metrics=False,
        )

    def _step_losses(self, inputs, training: bool) -> dict[str, tf.Tensor]:
        """This replica's share of the loss, the penalty and their total.

        Keras sums what each replica reports (its "auto" reduction under MirroredStrategy), so
        each replica reports its batch's loss and 1/N of the penalty: the sums are the loss of
        the global batch and the penalty once, the numbers a single device reports.
        """
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        loss = self.compute_loss(inputs, training=training)
        penalty = tf.add_n([tf.constant(0.0)] + [tf.reduce_sum(x) for x in self.losses])
        penalty = penalty / replicas
        return {"loss": loss, "regularization_loss": penalty, "total_loss": loss + penalty}

    def train_step(self, inputs):
        """TFRS's train step, with the regularization loss scaled per replica (module doc)."""
        with tf.GradientTape() as tape:
            losses = self._step_losses(inputs, training=True)
        gradients = tape.gradient(losses["total_loss"], self.trainable_variables)
        self.optimizer.apply_gradients(zip(gradients, self.trainable_variables, strict=True))
        return losses

    def test_step(self, inputs):
        return self._step_losses(inputs, training=False)
