import math

import numpy as np
import pytest
import tensorflow as tf

from trainer.model import TwoTowerModel, in_batch_softmax_loss, ranking_loss, retrieval_loss


def identity_tower(name: str, *, l2: float = 0.0) -> tf.keras.Model:
    """A tower whose embedding is its input feature (optionally with an L2 penalty)."""
    x = tf.keras.Input(shape=(2,), name=name)
    layer = tf.keras.layers.Dense(
        2,
        use_bias=False,
        kernel_initializer="identity",
        kernel_regularizer=tf.keras.regularizers.L2(l2) if l2 else None,
    )
    return tf.keras.Model({name: x}, layer(x))


def tiny_model(l2: float = 0.0) -> TwoTowerModel:
    return TwoTowerModel(
        identity_tower("q", l2=l2),
        identity_tower("c"),
        query_features=["q"],
        candidate_features=["c"],
    )


FEATURES = {
    "q": tf.constant([[1.0, 0.0], [0.0, 1.0]]),
    "c": tf.constant([[1.0, 0.0], [0.0, 2.0]]),
    "unused": tf.constant([1, 2]),
}


def test_loss_reduction_is_sum():
    assert retrieval_loss().reduction == tf.keras.losses.Reduction.SUM
    for name in ("mse", "huber", "bce"):
        assert ranking_loss(name).reduction == tf.keras.losses.Reduction.SUM


def test_ranking_loss_of_a_known_batch():
    # Rating head: Dense(1) with weights 1 on the concatenated [q, c] and no bias, so the
    # prediction is q0 + q1 + c0 + c1: rows give 1 + 1 = 2 and 1 + 2 = 3; targets 1 and 5.
    x = tf.keras.Input(shape=(4,))
    head = tf.keras.Model(x, tf.keras.layers.Dense(1, use_bias=False, kernel_initializer="ones")(x))
    model = TwoTowerModel(
        identity_tower("q"), identity_tower("c"), query_features=["q"], candidate_features=["c"],
        rating_head=head, target="t", retrieval_weight=0.0, ranking_weight=1.0,
    )  # fmt: skip
    loss = model.compute_loss(FEATURES | {"t": tf.constant([1.0, 5.0])})
    assert float(loss) == pytest.approx((2 - 1) ** 2 + (3 - 5) ** 2)  # summed, not averaged


def test_a_model_must_have_a_task():
    with pytest.raises(ValueError, match="both task weights are 0"):
        TwoTowerModel(identity_tower("q"), identity_tower("c"), query_features=["q"],
                      candidate_features=["c"], retrieval_weight=0.0)  # fmt: skip
    with pytest.raises(ValueError, match="needs a rating head"):
        TwoTowerModel(identity_tower("q"), identity_tower("c"), query_features=["q"],
                      candidate_features=["c"], ranking_weight=1.0)  # fmt: skip


def test_loss_is_summed_in_batch_softmax_cross_entropy():
    # scores = q @ c.T = [[1, 0], [0, 2]]; each row's label is its diagonal entry.
    expected = math.log(1 + math.exp(-1)) + math.log(1 + math.exp(-2))
    loss = tiny_model().compute_loss(FEATURES)
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_log_q_correction_subtracts_log_sampling_probability():
    # Candidate ids 0 and 1 with sampling probabilities 0.5 and 0.25: every score in a column is
    # lowered by log(q) of that column's candidate, so scores = [[1 - ln .5, 0 - ln .25],
    # [0 - ln .5, 2 - ln .25]].
    model = TwoTowerModel(
        identity_tower("q"), identity_tower("c"), query_features=["q"], candidate_features=["c"],
        candidate_id="id", sampling_probability=np.array([0.5, 0.25]),
    )  # fmt: skip
    scores = np.array([[1.0, 0.0], [0.0, 2.0]]) - np.log([0.5, 0.25])
    expected = sum(
        -scores[i, i] + math.log(math.exp(scores[i, 0]) + math.exp(scores[i, 1])) for i in (0, 1)
    )
    loss = model.compute_loss(FEATURES | {"id": tf.constant([0, 1], dtype=tf.int64)})
    assert float(loss) == pytest.approx(expected, rel=1e-6)


def test_a_product_twice_in_a_batch_is_not_its_own_negative():
    # Both rows bought product 7: without the correction each row's positive competes with an
    # identical "negative"; with it, each row only sees its own positive, so the loss is zero.
    model = TwoTowerModel(
        identity_tower("q"), identity_tower("c"), query_features=["q"], candidate_features=["c"],
        candidate_id="id",
    )  # fmt: skip
    loss = model.compute_loss(FEATURES | {"id": tf.constant([7, 7], dtype=tf.int64)})
    assert float(loss) == pytest.approx(0.0, abs=1e-6)


def test_in_batch_loss_equals_the_tfrs_retrieval_task():
    # The loss is written with plain TF ops (no AutoGraph); it must train exactly what TFRS's
    # Retrieval task trained: log Q correction and accidental-hit removal included.
    import tensorflow_recommenders as tfrs

    rng = np.random.default_rng(3)
    query = tf.constant(rng.normal(size=(16, 4)), tf.float32)
    candidate = tf.constant(rng.normal(size=(16, 4)), tf.float32)
    ids = tf.constant(rng.integers(0, 5, size=16), tf.int64)  # repeats: accidental hits
    probability = tf.constant(rng.uniform(1e-7, 0.5, size=16), tf.float32)
    task = tfrs.tasks.Retrieval(loss=retrieval_loss(), remove_accidental_hits=True)
    expected = task(
        query, candidate, candidate_sampling_probability=probability, candidate_ids=ids,
        compute_metrics=False,
    )  # fmt: skip
    loss = in_batch_softmax_loss(
        query, candidate, sampling_probability=probability, candidate_ids=ids
    )
    assert float(loss) == pytest.approx(float(expected), rel=1e-6)
    plain = tfrs.tasks.Retrieval(loss=retrieval_loss())(query, candidate, compute_metrics=False)
    assert float(in_batch_softmax_loss(query, candidate)) == pytest.approx(float(plain), rel=1e-6)


def test_train_step_reports_loss_regularization_and_total():
    model = tiny_model(l2=0.5)
    model.compile(optimizer=tf.keras.optimizers.SGD(0.0))
    out = model.train_step(FEATURES)
    # L2(0.5) on the 2x2 identity kernel: 0.5 * 2.
    assert float(out["regularization_loss"]) == pytest.approx(1.0)
    assert float(out["total_loss"]) == pytest.approx(float(out["loss"]) + 1.0)


def test_query_embeddings_ignore_features_of_the_other_tower():
    emb = tiny_model().query_embeddings({"q": FEATURES["q"]})
    np.testing.assert_allclose(emb.numpy(), FEATURES["q"].numpy())


def dense_tower(name: str, l2: float) -> tf.keras.Model:
    x = tf.keras.Input(shape=(3,), name=name)
    y = tf.keras.layers.Dense(
        3,
        kernel_initializer=tf.keras.initializers.Constant(0.1),
        kernel_regularizer=tf.keras.regularizers.L2(l2) if l2 else None,
    )(x)
    return tf.keras.Model({name: x}, y)


def rating_head() -> tf.keras.Model:
    x = tf.keras.Input(shape=(6,))
    hidden = tf.keras.layers.Dense(
        4, activation="relu", kernel_initializer=tf.keras.initializers.Constant(0.2)
    )(x)
    out = tf.keras.layers.Dense(1, kernel_initializer=tf.keras.initializers.Constant(0.3))(hidden)
    return tf.keras.Model(x, out)


TASK_WEIGHTS = {"retrieval": (1.0, 0.0), "ranking": (0.0, 1.0), "multitask": (0.7, 0.4)}


def dense_model(model_type: str = "retrieval", loss: str = "mse") -> TwoTowerModel:
    retrieval, ranking = TASK_WEIGHTS[model_type]
    return TwoTowerModel(
        dense_tower("q", 0.1), dense_tower("c", 0.0), query_features=["q"], candidate_features=["c"],
        rating_head=rating_head() if ranking else None, target="t" if ranking else None,
        ranking_loss_name=loss, retrieval_weight=retrieval, ranking_weight=ranking,
    )  # fmt: skip


@pytest.mark.parametrize(
    "model_type, loss",
    [("retrieval", "mse"), ("ranking", "mse"), ("ranking", "huber"), ("ranking", "bce"),
     ("multitask", "mse")],
)  # fmt: skip
def test_mirrored_strategy_step_equals_single_device_step(two_cpus, model_type, loss):
    """Regression: the product's loss crashed (ranking and multitask: a loss reduced by AUTO
    inside a replica) or mis-scaled under MirroredStrategy.

    Two replicas (two logical CPUs) each take half of a batch of 8; for every model type the
    SGD step must equal the step of one device on the sum of both halves' losses, the
    regularization penalty counted once (not once per replica).
    """
    rng = np.random.default_rng(0)
    data = {
        "q": rng.normal(size=(8, 3)).astype("float32"),
        "c": rng.normal(size=(8, 3)).astype("float32"),
        "t": rng.uniform(0, 1, size=8).astype("float32"),
    }
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    with strategy.scope():
        mirrored = dense_model(model_type, loss)
        mirrored.compile(optimizer=tf.keras.optimizers.SGD(0.01))
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(data).batch(8)
    )
    reported = strategy.run(mirrored.train_step, args=(next(iter(dataset)),))
    # Keras sums what the replicas report (its "auto" reduction under MirroredStrategy).
    reported = {
        k: float(strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None))
        for k, v in reported.items()
    }

    reference = dense_model(model_type, loss)
    halves = [{k: v[i : i + 4] for k, v in data.items()} for i in (0, 4)]
    with tf.GradientTape() as tape:
        loss = tf.add_n([reference.compute_loss(h, training=True) for h in halves])
        penalty = tf.add_n(reference.losses)
        total = loss + penalty
    grads = tape.gradient(total, reference.trainable_variables)
    expected = {"loss": float(loss), "regularization_loss": float(penalty)}
    expected["total_loss"] = float(total)
    if model_type == "multitask":
        for task in ("retrieval_loss", "ranking_loss"):
            expected[task] = sum(float(reference.task_losses(h)[task]) for h in halves)
    assert reported == pytest.approx(expected, rel=1e-5)
    for got, var, grad in zip(
        mirrored.trainable_variables, reference.trainable_variables, grads, strict=True
    ):
        np.testing.assert_allclose(got.numpy(), (var - 0.01 * grad).numpy(), rtol=1e-5, atol=1e-6)
