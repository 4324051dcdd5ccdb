import numpy as np

from trainer.candidates import candidate_features, first_row_per_index, latest_row_per_index


def test_latest_row_in_file_order_and_by_recency():
    index = np.array([1, 0, 1, 2, 0])
    assert latest_row_per_index(index, 4).tolist() == [4, 2, 3, -1]
    recency = np.array([5.0, 9.0, 1.0, 0.0, 3.0])
    assert latest_row_per_index(index, 4, recency).tolist() == [1, 0, 3, -1]


def test_latest_row_ignores_out_of_vocabulary_indices():
    assert latest_row_per_index(np.array([0, 5, -1]), 2).tolist() == [0, -1]


def test_first_row_per_index():
    assert first_row_per_index(np.array([2, 0, 2, 0, 7]), 3).tolist() == [1, -1, 0]


def test_candidate_features_are_in_vocabulary_order():
    columns = {"product": np.array([1, 0, 1]), "category": np.array([10, 20, 30])}
    got = candidate_features(
        columns, id_feature="product", feature_names=["product", "category"], n_products=3
    )
    assert got["product"].tolist() == [0, 1, 2]
    # product 1's latest row is the third; product 2 has no row and gets zeros.
    assert got["category"].tolist() == [20, 30, 0]


def test_candidate_features_keep_a_multi_value_features_rows():
    columns = {"product": np.array([1, 0]), "genres": np.array([[3, 4, -1], [5, -1, -1]])}
    got = candidate_features(columns, id_feature="product", feature_names=["genres"], n_products=3)
    # product 2 has no row: no value at all, as Transform pads.
    assert got["genres"].tolist() == [[5, -1, -1], [3, 4, -1], [-1, -1, -1]]
