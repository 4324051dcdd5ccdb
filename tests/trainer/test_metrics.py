import numpy as np
import pytest

from trainer.metrics import evaluate, make_split, recall_at_k, top_k

# customer 0 bought products 0, 1 (twice); 1 bought 2; 2 bought 0. Customer 3 is unseen in train.
TRAIN = ([0, 0, 0, 1, 2], [0, 1, 1, 2, 0])
# Eval: product 7 is out of vocabulary (n_products = 5); customer 3's row is dropped.
EVAL = ([0, 0, 0, 0, 1, 2, 2, 3], [1, 3, 3, 7, 2, 0, 4, 0])
SCORES = {
    0: [5.0, 4.0, 3.0, 2.0, 1.0],  # ranks 0 1 2 3 4
    1: [0.0, 0.0, 0.0, 0.0, 1.0],  # ranks 4 0 1 2 3 (ties: lower index first)
    2: [1.0, 2.0, 3.0, 4.0, 5.0],  # ranks 4 3 2 1 0
}


def split():
    return make_split(*TRAIN, *EVAL, n_products=5)


def fixed_scores(customers):
    return np.array([SCORES[int(c)] for c in customers])


def test_split_filters_customers_and_products():
    s = split()
    assert s.customers.tolist() == [0, 1, 2]
    assert [t.tolist() for t in s.test_items] == [[1, 3], [2], [0, 4]]
    # "new": customer 1 re-bought only product 2, so it is skipped.
    assert s.new_customers.tolist() == [0, 2]
    assert [t.tolist() for t in s.new_test_items] == [[3], [4]]
    assert (s.train_rows, s.eval_rows) == (5, 8)
    assert s.train[0].toarray().tolist() == [[1, 2, 0, 0, 0]]


def test_out_of_vocabulary_train_rows_are_ignored():
    s = make_split([0, 0], [1, 9], [0], [1], n_products=5)
    assert s.train_rows == 1


def test_top_k_breaks_ties_by_index_and_excludes():
    scores = np.array([[1.0, 3.0, 3.0, 0.0]])
    assert top_k(scores, 3).tolist() == [[1, 2, 0]]
    import scipy.sparse as sp

    assert top_k(scores, 2, sp.csr_matrix([[0, 1, 0, 0]])).tolist() == [[2, 0]]
    assert top_k(scores, 10).shape == (1, 4)


def test_recall_denominator_is_min_of_test_items_and_k():
    ranked = np.array([[0, 1, 2], [0, 1, 2]])
    # 1 of 3 test items in the top 2 -> 1 / min(3, 2); one item found among 1 -> 1 / min(1, 2).
    got = recall_at_k(ranked, [np.array([1, 5, 6]), np.array([0])], 2)
    assert got.tolist() == [0.5, 1.0]


def test_evaluate_known_answers_both_modes():
    got = evaluate(fixed_scores, split(), ks=(1, 2, 10))
    assert got == pytest.approx(
        {
            # all: c0 top {0,1} vs {1,3}: 0/1, 1/2; c1 {4,0} vs {2}: 0, 0; c2 {4,3} vs {0,4}: 1, 1/2
            "recall_at_1": 1 / 3,
            "recall_at_2": 1 / 3,
            "recall_at_10": 1.0,
            # new: bought products leave the ranking: c0 ranks 2 3 4 vs {3}; c2 ranks 4 3 2 1 vs {4}
            "new_recall_at_1": 0.5,
            "new_recall_at_2": 1.0,
            "new_recall_at_10": 1.0,
            # NDCG@10, hits at ranks r count 1/log2(r + 1): c0 ranks 2 and 4 of 2 items; c1 rank 4
            # of 1; c2 ranks 1 and 5 of 2. New: c0 rank 2 of 1; c2 rank 1 of 1.
            "ndcg_at_10": (
                (1 / np.log2(3) + 1 / np.log2(5)) / (1 + 1 / np.log2(3))
                + 1 / np.log2(5)
                + (1 + 1 / np.log2(6)) / (1 + 1 / np.log2(3))
            )
            / 3,
            "new_ndcg_at_10": (1 / np.log2(3) + 1) / 2,
        }
    )


def test_evaluate_batches_give_the_same_answer():
    assert evaluate(fixed_scores, split(), ks=(1, 2), batch_size=1) == evaluate(
        fixed_scores, split(), ks=(1, 2)
    )


def test_mode_without_customers_reports_nothing():
    s = make_split([0], [1], [0], [1], n_products=3)  # only a repeat purchase
    got = evaluate(lambda c: np.zeros((len(c), 3)), s, ks=(1,))
    # Ties rank by index: the test item, product 1, comes second.
    assert got == pytest.approx({"recall_at_1": 0.0, "ndcg_at_10": 1 / np.log2(3)})


def test_wrong_score_shape_is_an_error():
    with pytest.raises(ValueError, match="expected"):
        evaluate(lambda c: np.zeros((len(c), 4)), split(), ks=(1,))


def test_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        split().mode("old")


def test_ranked_lists_drop_bought_products_in_mode_new():
    from trainer.metrics import evaluate_ranked

    # Customer 0 bought product 0 in train and products 1 and 2 in eval.
    split = make_split([0], [0], [0, 0], [1, 2], n_products=4)
    lists = {"all": [np.array([0, 1, 3])], "new": [np.array([0, 3, 2])]}
    got = evaluate_ranked(lambda batch, mode: lists[mode], split, ks=(1, 2))
    # all: [0, 1] holds 1 of 2 test items; new: product 0 is dropped, [3, 2] holds product 2.
    # Both find one of two test items at rank 2.
    ndcg = (1 / np.log2(3)) / (1 + 1 / np.log2(3))
    assert got == pytest.approx({
        "recall_at_1": 0.0, "recall_at_2": 0.5, "ndcg_at_10": ndcg,
        "new_recall_at_1": 0.0, "new_recall_at_2": 0.5, "new_ndcg_at_10": ndcg,
    })  # fmt: skip
    # A score function ranks the same way through `evaluate`.
    scores = np.array([[3.0, 2.0, 0.0, 1.0]])
    assert evaluate(lambda batch: scores, split, ks=(1, 2)) == evaluate_ranked(
        lambda batch, mode: [np.array([0, 1, 3, 2]) if mode == "all" else np.array([1, 3, 2])],
        split,
        ks=(1, 2),
    )
