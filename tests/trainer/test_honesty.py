"""trainer.honesty: intervals, coverage and health flags, on data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from trainer.honesty import (
    bootstrap_intervals,
    coverage,
    health,
    popularity_overlap,
)
from trainer.metrics import make_split


def test_a_constant_metric_has_a_zero_width_interval():
    assert bootstrap_intervals({"recall_at_10": np.full(50, 0.4)}) == {
        "recall_at_10": [pytest.approx(0.4), pytest.approx(0.4)]
    }


def test_the_interval_of_a_coin_has_the_width_the_normal_approximation_gives():
    values = np.array([0.0, 1.0] * 200)  # mean 0.5 over 400 customers
    low, high = bootstrap_intervals({"recall_at_10": values})["recall_at_10"]
    half = 1.96 * math.sqrt(0.25 / 400)  # about 0.049
    assert low < 0.5 < high
    assert high - low == pytest.approx(2 * half, rel=0.15)
    # Fixed seed: the same values always give the same interval.
    assert bootstrap_intervals({"recall_at_10": values})["recall_at_10"] == [low, high]


def test_fewer_customers_give_a_wider_interval():
    few = bootstrap_intervals({"r": np.array([0.0, 1.0] * 20)})["r"]
    many = bootstrap_intervals({"r": np.array([0.0, 1.0] * 2000)})["r"]
    assert few[1] - few[0] > 5 * (many[1] - many[0])


def split_of_three():
    # Customers 0 and 1 bought in train; 2 did not. In eval: 0 buys product 1, 1 buys only
    # product 9 (outside the 3-product catalogue), 2 buys product 0.
    return make_split([0, 0, 1], [0, 1, 2], [0, 1, 2], [1, 9, 0], n_products=3)


def test_coverage_counts_the_evaluated_and_why_the_others_were_dropped():
    split = split_of_three()
    got = coverage([b"c0", b"c1", b"c0", b"new-buyer", "c2"], [b"c0", b"c1", b"c2"], split)
    assert got == {
        "eval_customers": 4,  # c0, c1, c2 and new-buyer
        "evaluated": 1,  # c0
        "dropped_unknown_customer": 1,  # new-buyer
        "dropped_no_known_product": 2,  # c1 (product 9 only), c2 (no train purchase)
    }


def test_popularity_overlap_is_one_for_the_popularity_ranking_and_zero_for_the_rest():
    # Product 2 has 3 buyers, product 1 two, product 0 one; products 3..5 none.
    split = make_split([0, 1, 2, 0, 1, 0], [2, 2, 2, 1, 1, 0], [], [], n_products=6)
    assert popularity_overlap([np.array([2, 1, 0])] * 4, split, k=3) == 1.0
    assert popularity_overlap([np.array([5, 4, 3])], split, k=3) == 0.0
    assert popularity_overlap([np.array([2, 4, 3]), np.array([2, 1, 3])], split, k=3) == 0.5


@pytest.mark.parametrize(
    ("losses", "overlap", "diverged", "collapsed", "says"),
    [
        ([5.0, 4.0, 3.5], 0.2, False, False, []),
        ([5.0, float("nan"), 3.0], 0.2, True, False, ["diverged: nan at epoch 2"]),
        ([5.0, 6.0, 9.0], 0.2, True, False, ["diverged: 9 at epoch 3 against 5 at the first"]),
        ([5.0, 6.0, 7.0], 0.2, False, False, []),  # worse, but within 1.5x
        ([5.0, 4.0], 0.95, False, True, ["popularity ranking: on average 95%"]),
        ([5.0], None, False, False, []),
    ],
)
def test_health_flags(losses, overlap, diverged, collapsed, says):
    got = health(losses, overlap)
    assert (got["diverged"], got["collapsed_to_popularity"]) == (diverged, collapsed)
    assert len(got["warnings"]) == len(says)
    for warning, fragment in zip(got["warnings"], says, strict=True):
        assert fragment in warning


def test_a_loss_that_exploded_within_the_first_epoch_is_judged_against_the_first_batch():
    # The epoch means fall (1e11, then 1e10), but the untrained model's loss was 3.5.
    got = health([1e11, 1e10], 0.1, initial=3.5)
    assert got["diverged"] is True
    assert "1e+11 at epoch 1 against 3.5 at the first batch" in got["warnings"][0]
    assert health([3.0, 2.0], 0.1, initial=3.5)["diverged"] is False
