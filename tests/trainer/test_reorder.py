"""The re-order scorer's pair features: known answers on tiny tensors."""

import numpy as np
import scipy.sparse as sp
import tensorflow as tf

from trainer.history import ITEM_FEATURES, PRODUCT_FEATURES
from trainer.reorder import (
    N_FEATURES,
    CoPurchase,
    Histories,
    candidate_pairs,
    pair_features,
)

SIMILARITY = sp.csr_matrix(np.array([[0, 0.5, 0], [0.5, 0, 1.0], [0, 0.25, 0]], np.float32))


def _random_histories(rng, batch, n, length):
    """Table-like rows: distinct products, -1 padding after a random length, random features."""
    items = np.full((batch, length), -1, np.int64)
    features = np.zeros((batch, length, len(ITEM_FEATURES)), np.float32)
    for row in range(batch):
        held = rng.integers(0, length + 1)
        items[row, :held] = rng.choice(n, held, replace=False)
        features[row, :held] = rng.random((held, len(ITEM_FEATURES)))
        features[row, :held, ITEM_FEATURES.index("bought")] = 1.0
    dense = np.zeros((batch, n, len(ITEM_FEATURES)), np.float32)
    for row, place in zip(*np.nonzero(items >= 0), strict=True):
        dense[row, items[row, place]] = features[row, place]
    return items, features, dense


def test_co_purchase_is_the_history_times_the_similarity():
    rng = np.random.default_rng(3)
    n = 40
    similarity = sp.random(n, n, density=0.2, random_state=4, dtype=np.float32).tocsr()
    items, features, dense = _random_histories(rng, 6, n, 9)
    got = Histories(tf.constant(items), tf.constant(features)).co_purchase(
        CoPurchase.of(similarity), n
    )
    recent = np.expm1(dense[..., ITEM_FEATURES.index("log_decayed_30d")])
    expected = np.stack([dense[..., ITEM_FEATURES.index("bought")], recent], -1)
    expected = np.log1p(np.einsum("bis,ij->bjs", expected, similarity.toarray()))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_history_lists_answer_as_the_dense_history():
    rng = np.random.default_rng(5)
    items, features, dense = _random_histories(rng, 5, 30, 7)
    histories = Histories(tf.constant(items), tf.constant(features))
    since = ITEM_FEATURES.index("log_days_since_last")
    np.testing.assert_array_equal(histories.column("log_days_since_last", 30), dense[..., since])
    products = rng.integers(0, 30, (5, 12))
    np.testing.assert_array_equal(
        histories.of(tf.constant(products), 30).numpy(),
        np.take_along_axis(dense, products[..., None], axis=1),
    )
    # From the dense form back to lists: the same answers.
    again = Histories.from_dense(tf.constant(dense))
    np.testing.assert_array_equal(again.of(tf.constant(products), 30).numpy(),
                                  np.take_along_axis(dense, products[..., None], axis=1))  # fmt: skip


def test_neighbour_lists_hold_each_row_of_the_similarity():
    neighbors, weights = CoPurchase.lists(SIMILARITY)
    rebuilt = np.zeros((3, 3), np.float32)
    np.add.at(rebuilt, (np.repeat(np.arange(3), neighbors.shape[1]), neighbors.ravel()),
              weights.ravel())  # fmt: skip
    np.testing.assert_array_equal(rebuilt, SIMILARITY.toarray())
    assert neighbors.shape == (3, 2)  # the fullest row has two neighbours


def test_pair_features_put_co_purchase_next_to_the_history():
    history = np.zeros([1, 3, len(ITEM_FEATURES)], np.float32)
    history[0, 0, ITEM_FEATURES.index("bought")] = 1.0  # bought product 0 ...
    history[0, 0, ITEM_FEATURES.index("log_decayed_30d")] = np.log1p(2.0)  # ... twice lately
    features = pair_features(
        Histories.from_dense(tf.constant(history)),
        tf.zeros([1, 3]),
        tf.zeros([3, len(PRODUCT_FEATURES)]),
        tf.constant([[1.0, 2.0, 3.0]]),
        CoPurchase.of(SIMILARITY),
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


def _two_customers():
    """8 products. Customer 0 bought products 0 and 1 (1 more recently), customer 1 only 2."""
    n = 8
    history = np.zeros([2, n, len(ITEM_FEATURES)], np.float32)
    bought, since = ITEM_FEATURES.index("bought"), ITEM_FEATURES.index("log_days_since_last")
    history[0, [0, 1], bought] = 1.0
    history[0, [0, 1], since] = [np.log1p(9.0), np.log1p(1.0)]
    history[1, 2, bought] = 1.0
    products = np.zeros([n, len(PRODUCT_FEATURES)], np.float32)
    products[7, PRODUCT_FEATURES.index("log_buyers_30d")] = 5.0  # selling well lately
    retrieval = np.tile(np.arange(n, dtype=np.float32)[::-1] * 0.1, [2, 1])  # 0 best ... 7 worst
    retrieval[:, 6] = 10.0  # the two towers like product 6 most
    similarity = np.zeros([n, n], np.float32)
    similarity[0, 5] = similarity[2, 4] = 1.0  # bought with 0: 5; bought with 2: 4
    return (
        Histories.from_dense(tf.constant(history)),
        products,
        retrieval,
        CoPurchase.of(sp.csr_matrix(similarity)),
    )


def test_candidates_are_the_bought_products_then_each_signals_nominees():
    history, products, retrieval, similarity = _two_customers()
    pairs = candidate_pairs(
        history, tf.zeros([2, 3]), tf.constant(products), tf.constant(retrieval),
        similarity, per_signal=1,
    )  # fmt: skip
    got, valid = pairs.products.numpy(), pairs.valid.numpy()
    # Two places for bought products (the batch's most prolific buyer), most recent first;
    # customer 1 bought one, so its second place is padding.
    assert list(got[0, :2]) == [1, 0] and list(valid[0, :2]) == [True, True]
    assert got[1, 0] == 2 and list(valid[1, :2]) == [True, False]
    np.testing.assert_array_equal(pairs.bought.numpy()[:, :2], valid[:, :2].astype(np.float32))
    # Four signals nominate one never-bought product each (4 places): co-purchase with what
    # was bought (5 for customer 0, 4 for customer 1), the two-tower score (6) and recent
    # popularity (7); recent co-purchase is zero everywhere here, and of equal scores top-k
    # takes the lowest index (2 for customer 0, 0 for customer 1).
    assert set(got[0, 2:]) == {5, 6, 7, 2}
    assert set(got[1, 2:]) == {4, 6, 7, 0}
    assert valid[:, 2:].all() and not pairs.bought.numpy()[:, 2:].any()
    assert pairs.features.shape == (2, 6, N_FEATURES)
    # The features are those of pair_features over the whole catalogue, gathered.
    every = pair_features(
        history, tf.zeros([2, 3]), tf.constant(products), tf.constant(retrieval),
        similarity,
    ).numpy()  # fmt: skip
    np.testing.assert_allclose(
        pairs.features.numpy(), np.take_along_axis(every, got[..., None], axis=1), rtol=1e-6
    )


def test_discovery_candidates_leave_out_the_bought_products_and_keep_k_places():
    history, products, retrieval, similarity = _two_customers()
    pairs = candidate_pairs(
        history, tf.zeros([2, 3]), tf.constant(products), tf.constant(retrieval),
        similarity, per_signal=1, include_bought=False, min_new=5,
    )  # fmt: skip
    got = pairs.products.numpy()
    assert got.shape == (2, 5) and pairs.valid.numpy().all()
    assert not ({0, 1} & set(got[0])) and 2 not in set(got[1])


def test_listwise_loss_ignores_padding():
    from trainer.reorder import listwise_loss

    labels = tf.constant([[1.0, 0.0, 1.0, 1.0]])
    bought = tf.constant([[1.0, 0.0, 0.0, 0.0]])
    valid = tf.constant([[True, True, True, False]])
    scores = tf.constant([[0.0, 0.0, 0.0, 50.0]])
    padded = listwise_loss(scores, labels, bought, new_weight=0.5, valid=valid)
    plain = listwise_loss(tf.zeros([1, 3]), labels[:, :3], bought[:, :3], new_weight=0.5)
    np.testing.assert_allclose(float(padded), float(plain), rtol=1e-6)


def _reference_candidates(bought, signals, popularity, per, places):
    """Per customer, the valid candidates as the definition reads: the bought products, and
    of the never-bought, each signal's top `per` (equal values: lowest index first) filled
    up by two-tower score to `places`."""
    out = []
    for row in range(len(bought)):
        never = np.flatnonzero(~bought[row])
        nominated = set()
        for values in (*signals[row], popularity):
            ranked = never[np.lexsort((never, -values[never]))]
            nominated |= set(ranked[:per].tolist())
        retrieval = signals[row][-1]
        rest = never[np.lexsort((never, -retrieval[never]))]
        fresh = list(nominated) + [p for p in rest.tolist() if p not in nominated]
        out.append(set(np.flatnonzero(bought[row]).tolist()) | set(fresh[:places]))
    return out


def test_candidates_match_their_definition_on_random_catalogues():
    rng = np.random.default_rng(11)
    for n, per in ((60, 4), (25, 10), (12, 5)):
        items, features, dense = _random_histories(rng, 7, n, 9)
        histories = Histories(tf.constant(items), tf.constant(features))
        similarity = sp.random(n, n, density=0.1, random_state=int(rng.integers(99)),
                               dtype=np.float32).tocsr()  # fmt: skip
        products = rng.random((n, len(PRODUCT_FEATURES))).astype(np.float32)
        popularity = products[:, PRODUCT_FEATURES.index("log_buyers_30d")]
        popularity[rng.random(n) < 0.5] = 0.0  # ties, broken by index
        retrieval = rng.standard_normal((7, n)).astype(np.float32)
        pairs = candidate_pairs(
            histories, tf.zeros([7, 3]), tf.constant(products), tf.constant(retrieval),
            CoPurchase.of(similarity), per_signal=per,
        )  # fmt: skip
        co = histories.co_purchase(CoPurchase.of(similarity), n).numpy()
        standardized = (retrieval - retrieval.mean(1, keepdims=True)) / np.sqrt(
            retrieval.var(1, keepdims=True) + 1e-6
        )
        signals = [(co[r, :, 0], co[r, :, 1], standardized[r]) for r in range(7)]
        bought = dense[..., ITEM_FEATURES.index("bought")] > 0
        expected = _reference_candidates(bought, signals, popularity, per, min(4 * per, n))
        got, valid = pairs.products.numpy(), pairs.valid.numpy()
        for row in range(7):
            chosen = got[row, valid[row]]
            assert len(chosen) == len(set(chosen.tolist())), "a candidate twice"
            assert set(chosen.tolist()) == expected[row], (n, per, row)
            # The bought products come first, most recent first: the table's order.
            held = items[row][items[row] >= 0]
            assert chosen[: len(held)].tolist() == held.tolist()
