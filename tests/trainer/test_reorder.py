"""The re-order scorer's pair features: known answers on tiny tensors."""

import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from trainer.history import ITEM_FEATURES, PRODUCT_FEATURES
from trainer.reorder import N_FEATURES, co_purchase_scores, pair_features, sparse_tensor

SIMILARITY = sp.csr_matrix(np.array([[0, 0.5, 0], [0.5, 0, 1.0], [0, 0.25, 0]], np.float32))


def test_co_purchase_scores_multiply_any_leading_shape_by_the_similarity():
    weights = np.array([[[1, 0, 0], [0, 1, 1]], [[0, 0, 2], [1, 1, 1]]], np.float32)
    got = co_purchase_scores(tf.constant(weights), sparse_tensor(SIMILARITY)).numpy()
    np.testing.assert_allclose(got, weights @ SIMILARITY.toarray(), rtol=1e-6)


def test_pair_features_put_co_purchase_next_to_the_history():
    history = np.zeros([1, 3, len(ITEM_FEATURES)], np.float32)
    history[0, 0, ITEM_FEATURES.index("bought")] = 1.0  # bought product 0 ...
    history[0, 0, ITEM_FEATURES.index("log_decayed_30d")] = np.log1p(2.0)  # ... twice lately
    features = pair_features(
        tf.constant(history),
        tf.zeros([1, 3]),
        tf.zeros([3, len(PRODUCT_FEATURES)]),
        tf.constant([[1.0, 2.0, 3.0]]),
        sparse_tensor(SIMILARITY),
    ).numpy()
    assert features.shape == (1, 3, N_FEATURES)
    co_all, co_recent, retrieval = features[0, :, -3], features[0, :, -2], features[0, :, -1]
    np.testing.assert_allclose(co_all, np.log1p([0, 0.5, 0]), rtol=1e-6)
    np.testing.assert_allclose(co_recent, np.log1p([0, 1.0, 0]), rtol=1e-6)
    np.testing.assert_allclose(retrieval, [-1.2247, 0, 1.2247], atol=1e-3)  # standardized


def test_listwise_loss_ranks_the_catalogue_and_the_never_bought_products():
    from trainer.reorder import listwise_loss

    # Bought product 0 before; in the horizon products 0 and 2. Uniform scores: "all" is a
    # softmax over 3 products (targets 1/2, 1/2): log 3; "new" over the 2 never bought: log 2.
    labels = tf.constant([[1.0, 0.0, 1.0]])
    bought = tf.constant([[1.0, 0.0, 0.0]])
    loss = listwise_loss(tf.zeros([1, 3]), labels, bought, new_weight=0.5)
    np.testing.assert_allclose(float(loss), np.log(3) + 0.5 * np.log(2), rtol=1e-6)
    alone = listwise_loss(tf.zeros([1, 3]), labels, bought, new_weight=0.0)
    np.testing.assert_allclose(float(alone), np.log(3), rtol=1e-6)
