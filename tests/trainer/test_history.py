"""Purchase history: known answers on a hand-made log, and no leakage from the future."""

import numpy as np
import pytest

from trainer.history import (
    CUSTOMER_FEATURES,
    DAY,
    ITEM_FEATURES,
    PRODUCT_FEATURES,
    Purchases,
    co_purchase_similarity,
    history_table,
    product_features,
    row_histories,
)

# Customer 0 buys product 1 on days 0 and 10, product 2 on day 10, product 3 on day 20;
# customer 1 buys product 2 on day 5 (twice in one basket) and product 0 on day 30.
LOG = Purchases(
    customer=np.array([0, 0, 0, 0, 1, 1, 1]),
    product=np.array([1, 1, 2, 3, 2, 2, 0]),
    ts=(np.array([0, 10, 10, 20, 5, 5, 30]) * DAY).astype(np.int64),
)


def feature(table, customer, slot, name):
    return table.item_features[customer, slot, ITEM_FEATURES.index(name)]


def test_row_history_is_strictly_before_the_row():
    items, weights = row_histories(LOG, max_items=5)
    # Row 0 (day 0) has no past; rows 1-2 (day 10 basket) see only product 1 from day 0.
    assert items[0].tolist() == [-1] * 5
    assert items[1].tolist() == items[2].tolist() == [1, -1, -1, -1, -1]
    # Day 20: products 2 and 1 were bought on day 10 (most recent first, ties by id).
    assert sorted(items[3].tolist()[:2]) == [1, 2] and items[3, 2] == -1
    # Product 1 was bought in two baskets before day 20: weight 1 + log 2.
    slot = items[3].tolist().index(1)
    assert weights[3, slot] == pytest.approx(1 + np.log(2))
    # Customer 1's day-5 basket has no past; day 30 sees product 2 once (one basket).
    assert items[4].tolist() == items[5].tolist() == [-1] * 5
    assert items[6].tolist()[:2] == [2, -1] and weights[6, 0] == pytest.approx(1.0)


def test_no_row_sees_its_own_or_a_later_purchase():
    rng = np.random.default_rng(0)
    rows = 400
    log = Purchases(
        customer=rng.integers(0, 5, rows),
        product=rng.integers(0, 30, rows),
        ts=rng.integers(0, 50, rows) * 3600,
    )
    items, _ = row_histories(log, max_items=30)
    for row in range(rows):
        same = log.customer == log.customer[row]
        earlier = set(log.product[same & (log.ts < log.ts[row])].tolist())
        seen = {p for p in items[row].tolist() if p >= 0}
        assert seen == earlier or (len(seen) == 30 and seen <= earlier)


def test_history_table_at_a_cut_off():
    table = history_table(LOG, 15 * DAY, n_customers=3, max_items=2)
    # Customer 0 as of day 15: products 1 (days 0, 10) and 2 (day 10); day 20 is the future.
    assert sorted(table.items[0].tolist()) == [1, 2]
    slot = table.items[0].tolist().index(1)
    assert feature(table, 0, slot, "bought") == 1
    assert feature(table, 0, slot, "log_baskets") == pytest.approx(np.log1p(2))
    assert feature(table, 0, slot, "log_days_since_last") == pytest.approx(np.log1p(5))
    decayed = np.exp(-15 / 30) + np.exp(-5 / 30)
    assert feature(table, 0, slot, "log_decayed_30d") == pytest.approx(np.log1p(decayed), 1e-5)
    # Interval 10 days, 5 days since: log((5 + 1) / (10 + 1)).
    assert feature(table, 0, slot, "log_due_ratio") == pytest.approx(np.log(6 / 11), 1e-5)
    assert feature(table, 0, slot, "basket_share") == pytest.approx(1.0)  # 2 of 2 baskets
    assert table.weights[0, slot] == pytest.approx(1 + np.log(2))
    customer = dict(zip(CUSTOMER_FEATURES, table.customer_features[0], strict=True))
    assert customer["log_baskets"] == pytest.approx(np.log1p(2))
    assert customer["log_distinct"] == pytest.approx(np.log1p(2))
    # Customer 1 bought product 2 twice in one basket: one basket. Customer 2: nothing.
    assert table.items[1].tolist() == [2, -1]
    assert feature(table, 1, 0, "log_baskets") == pytest.approx(np.log1p(1))
    assert table.items[2].tolist() == [-1, -1] and not table.item_features[2].any()


def test_history_table_keeps_the_most_recent_items():
    table = history_table(LOG, 25 * DAY, n_customers=2, max_items=1)
    assert table.items[0].tolist() == [3]  # day 20 beats day 10


def test_baskets_since_counts_the_customers_later_baskets():
    # Customer 0's baskets: days 0, 10, 20. Product 1 and 2 were last bought on day 10 (one
    # later basket), product 3 on day 20 (none); customer 1's product 2 is in their only basket.
    table = history_table(LOG, 25 * DAY, n_customers=2, max_items=3)
    since = {
        int(p): feature(table, 0, slot, "log_baskets_since")
        for slot, p in enumerate(table.items[0])
    }
    assert since == pytest.approx({3: 0.0, 1: np.log1p(1), 2: np.log1p(1)})
    assert feature(table, 1, 0, "log_baskets_since") == 0.0


def test_product_features():
    feats = product_features(LOG, 31 * DAY, n_products=5)
    column = {name: feats[:, i] for i, name in enumerate(PRODUCT_FEATURES)}
    # As of day 31: product 2 has two buyers (days 5 and 10, inside 30 days, not inside 7);
    # product 0 one buyer on day 30; product 1 was bought twice by one customer.
    assert column["log_buyers"][2] == pytest.approx(np.log1p(2))
    assert column["log_buyers_30d"][2] == pytest.approx(np.log1p(2))
    assert column["log_buyers_7d"][2] == 0
    assert column["log_buyers_7d"][0] == pytest.approx(np.log1p(1))  # day 30
    assert column["repeat_rate"][1] == pytest.approx(1.0)
    assert column["repeat_rate"][2] == pytest.approx(0.0)
    assert not feats[4].any()


def test_out_of_vocabulary_rows_are_dropped():
    log = Purchases.from_columns([0, 5, 1], [1, 1, 9], [0, 0, 0], n_customers=2, n_products=5)
    assert log.customer.tolist() == [0] and log.product.tolist() == [1]


def test_co_purchase_similarity_is_the_cosine_of_buyers_before_the_cut():
    # Before day 25: buyers of product 1 {0}, 2 {0, 1}, 3 {0}; product 0 (day 30) is not yet
    # bought. cos(1, 2) = 1 / sqrt(1 * 2), cos(1, 3) = 1, cos(2, 3) = 1 / sqrt(2).
    sim = co_purchase_similarity(LOG, 25 * DAY, n_products=4, neighbors=3).toarray()
    half = 1 / np.sqrt(2)
    expected = np.array([[0, 0, 0, 0], [0, 0, half, 1], [0, half, 0, half], [0, 1, half, 0]])
    np.testing.assert_allclose(sim, expected, rtol=1e-6)
    # One neighbor each: the largest similarity stays, ties go to the lower product index.
    top = co_purchase_similarity(LOG, 25 * DAY, n_products=4, neighbors=1).toarray()
    assert (top > 0).sum(axis=1).tolist() == [0, 1, 1, 1]
    assert top[1, 3] == pytest.approx(1.0) and top[2, 1] == pytest.approx(half)
    with pytest.raises(ValueError, match="neighbors must be at least 1"):
        co_purchase_similarity(LOG, 25 * DAY, n_products=4, neighbors=0)


def test_unique_rows_agrees_with_numpys_unique_rows():
    from trainer.history import unique_rows

    rng = np.random.default_rng(3)
    for rows in (0, 1, 7, 500):
        a, b, c = rng.integers(0, 4, rows), rng.integers(-3, 3, rows), rng.integers(0, 2, rows)
        expected, counts = np.unique(
            np.stack([a, b, c], 1).reshape(-1, 3), axis=0, return_counts=True
        )
        got, got_counts = unique_rows(a, b, c, return_counts=True)
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(got_counts, counts)
