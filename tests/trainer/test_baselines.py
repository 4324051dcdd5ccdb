import numpy as np
import pytest

from trainer.baselines import (
    BASELINES,
    cosine_similarity,
    ease,
    ease_weights,
    item_knn,
    popularity,
    repeat_then_popularity,
)
from trainer.metrics import evaluate, make_split
from trainer.metrics import top_k as rank


def test_popularity_counts_distinct_buyers_not_rows():
    # Product 1 has 3 rows from one buyer; product 0 has 2 buyers.
    s = make_split([0, 1, 2, 2, 2], [0, 0, 1, 1, 1], [0], [2], n_products=3)
    scores = popularity(s)(np.array([0, 1]))
    assert scores.tolist() == [[2, 1, 0], [2, 1, 0]]


def test_repeat_then_popularity_known_answers():
    # c0 bought 0 once and 1 twice; c1 bought 2; c2 bought 0. Eval: c0 -> 1, c1 -> 2, c2 -> 4.
    s = make_split([0, 0, 0, 1, 2], [0, 1, 1, 2, 0], [0, 1, 2], [1, 2, 4], n_products=5)
    score = repeat_then_popularity(s)
    assert rank(score(np.array([0, 1, 2])), 3).tolist() == [[1, 0, 2], [2, 0, 1], [0, 1, 2]]
    assert evaluate(score, s, ks=(1,))["recall_at_1"] == pytest.approx(2 / 3)
    assert evaluate(popularity(s), s, ks=(1,))["recall_at_1"] == 0.0
    # "new" removes bought products, leaving popularity order: c2 gets 1 then 2, misses 4.
    assert evaluate(score, s, ks=(1, 4))["new_recall_at_4"] == 1.0


def test_ease_weights_on_a_tiny_matrix():
    x = np.array([[1, 1], [1, 1], [1, 0]])
    # G = XᵀX + I = [[4, 2], [2, 3]], P = G⁻¹ = [[3, -2], [-2, 4]] / 8, B_ij = -P_ij / P_jj.
    np.testing.assert_allclose(ease_weights(x, 1.0), [[0.0, 0.5], [2 / 3, 0.0]])


def test_ease_recommends_the_co_bought_product():
    # Products 0 and 1 are always bought together; customer 3 bought only 0 and then buys 1.
    train = ([0, 0, 1, 1, 2, 2, 3, 4], [0, 1, 0, 1, 0, 1, 0, 2])
    s = make_split(*train, [3], [1], n_products=3)
    scores = ease(s, l2=1.0)(np.array([3]))
    assert scores[0, 0] == 0.0  # no self-similarity
    assert np.argmax(scores[0, 1:]) + 1 == 1
    assert evaluate(ease(s, l2=1.0), s, ks=(1,))["new_recall_at_1"] == 1.0


def test_ease_refuses_huge_catalogues():
    s = make_split([0], [0], [0], [0], n_products=20)
    with pytest.raises(ValueError, match="max_products"):
        ease(s, max_products=10)


# Item-kNN example: c0 bought 0 and 1 (1 twice), c1 bought 0, 1 and 2, c2 bought 2, c3 bought 0;
# nobody bought 3. Buyers: p0 {c0, c1, c3}, p1 {c0, c1}, p2 {c1, c2}.
# Cosine: s01 = 2/√(3·2) = 2/√6, s02 = 1/√6, s12 = 1/√(2·2) = 1/2, and 0 for p3.
KNN_TRAIN = ([0, 0, 0, 1, 1, 1, 2, 3], [0, 1, 1, 0, 1, 2, 2, 0])
R6 = np.sqrt(6.0)
KNN_SIM = np.array(
    [
        [0.0, 2 / R6, 1 / R6, 0.0],
        [2 / R6, 0.0, 0.5, 0.0],
        [1 / R6, 0.5, 0.0, 0.0],
        [0.0, 0.0, 0.0, 0.0],
    ]
)


def test_cosine_similarity_on_a_tiny_matrix():
    s = make_split(*KNN_TRAIN, [0], [3], n_products=4)
    np.testing.assert_allclose(cosine_similarity(s.train), KNN_SIM)
    # Counts are binarized: c0's second purchase of product 1 changes nothing.
    np.testing.assert_allclose(cosine_similarity(s.train > 0), KNN_SIM)


def test_item_knn_scores_are_history_times_similarity():
    s = make_split(*KNN_TRAIN, [0], [3], n_products=4)
    scores = item_knn(s)(np.array([0, 2, 3]))
    np.testing.assert_allclose(
        scores,
        [
            [2 / R6, 2 / R6, 1 / R6 + 0.5, 0.0],  # c0: rows 0 + 1, once each
            [1 / R6, 0.5, 0.0, 0.0],  # c2: row 2
            [0.0, 2 / R6, 1 / R6, 0.0],  # c3: row 0
        ],
    )


def test_item_knn_keeps_each_products_top_neighbors():
    # One neighbor each: p0 keeps p1 (2/√6), p1 keeps p0 (2/√6 > 1/2), p2 keeps p1 (1/2 > 1/√6).
    s = make_split(*KNN_TRAIN, [0], [3], n_products=4)
    top1 = cosine_similarity(s.train, neighbors=1)
    expected = np.zeros((4, 4))
    expected[0, 1] = expected[1, 0] = 2 / R6
    expected[2, 1] = 0.5
    np.testing.assert_allclose(top1, expected)
    scores = item_knn(s, neighbors=1)(np.array([0, 2, 3]))
    np.testing.assert_allclose(
        scores, [[2 / R6, 2 / R6, 0.0, 0.0], [0.0, 0.5, 0.0, 0.0], [0.0, 2 / R6, 0.0, 0.0]]
    )
    # As many neighbors as other products keeps everything.
    np.testing.assert_allclose(cosine_similarity(s.train, neighbors=3), KNN_SIM)
    with pytest.raises(ValueError, match="neighbors"):
        item_knn(s, neighbors=0)


def test_item_knn_is_a_registered_baseline_and_refuses_huge_catalogues():
    assert BASELINES["item_knn"] is item_knn
    s = make_split([0], [0], [0], [0], n_products=20)
    with pytest.raises(ValueError, match="max_products"):
        item_knn(s, max_products=10)
