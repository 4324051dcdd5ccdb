"""Purchase history: what each customer bought before a point in time, and how often and recently.

Everything here is NumPy over in-vocabulary (customer index, product index, unix seconds) rows, so
one implementation serves three uses that must agree:

* the query tower's history input for every training row (`row_histories`): the last N distinct
  products the customer bought strictly before the row's timestamp, never at or after it;
* the re-order scorer's training windows (`history_table` at an earlier cut-off);
* the table exported inside the serving model (`history_table` at the end of training).

A basket is one (customer, timestamp): products bought in one order share it, and a product
bought twice in one basket counts once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from trainer.baselines import sparse_cosine_similarity

DAY = 86_400.0
DECAY_DAYS: tuple[float, ...] = (7.0, 30.0, 90.0, 365.0)
"""E-folding times, in days, of the time-decayed purchase counts."""

# Per (customer, product) history features, in this order (`ITEM_FEATURES`).
ITEM_FEATURES: tuple[str, ...] = (
    "bought",
    "log_baskets",
    *(f"log_decayed_{int(d)}d" for d in DECAY_DAYS),
    "log_days_since_last",
    "log_baskets_since",
    "log_due_ratio",
    "repeat_buyer",
    "basket_share",
)
CUSTOMER_FEATURES: tuple[str, ...] = ("log_baskets", "log_days_since_last", "log_distinct")
PRODUCT_FEATURES: tuple[str, ...] = ("log_buyers", "log_buyers_30d", "log_buyers_7d", "repeat_rate")


@dataclass(frozen=True)
class Purchases:
    """In-vocabulary purchase rows: customer index, product index, unix seconds."""

    customer: np.ndarray
    product: np.ndarray
    ts: np.ndarray

    @classmethod
    def from_columns(cls, customer, product, ts, *, n_customers: int, n_products: int) -> Purchases:
        """Keep the rows whose customer and product are in vocabulary (OOV buckets dropped)."""
        c = np.asarray(customer, np.int64).reshape(-1)
        p = np.asarray(product, np.int64).reshape(-1)
        t = np.asarray(ts, np.int64).reshape(-1)
        keep = (c >= 0) & (c < n_customers) & (p >= 0) & (p < n_products)
        return cls(c[keep], p[keep], t[keep])

    def before(self, cut: float) -> Purchases:
        keep = self.ts < cut
        return Purchases(self.customer[keep], self.product[keep], self.ts[keep])

    def between(self, start: float, end: float) -> Purchases:
        keep = (self.ts >= start) & (self.ts < end)
        return Purchases(self.customer[keep], self.product[keep], self.ts[keep])

    def __len__(self) -> int:
        return len(self.customer)


@dataclass(frozen=True)
class HistoryTable:
    """Each customer's last `max_items` distinct products as of `now`, most recent first.

    `items[c]` holds product indices padded with -1; `item_features[c, j]` describes
    `items[c, j]` (`ITEM_FEATURES`); `customer_features[c]` the customer (`CUSTOMER_FEATURES`).
    A customer with no purchase before `now` has an all-padding row and zero features.
    """

    now: float
    items: np.ndarray
    item_features: np.ndarray
    customer_features: np.ndarray
    weights: np.ndarray
    """Pooling weight of each history item for the query tower: 1 + log(baskets); 0 on padding."""

    @property
    def max_items(self) -> int:
        return self.items.shape[1]


def unique_rows(*columns: np.ndarray, return_counts: bool = False):
    """`np.unique(np.stack(columns, 1), axis=0)` for integer columns (the same sorted rows,
    and their counts), by a lexicographic sort instead of numpy's row-as-bytes sort, which is
    several times slower on the train split's hundreds of thousands of rows."""
    cols = [np.asarray(c, np.int64) for c in columns]
    order = np.lexsort(cols[::-1])  # the first column is the primary key
    ordered = [c[order] for c in cols]
    repeat = np.zeros(len(order), bool)  # the same row as the one before
    if len(order):
        repeat[1:] = True
        for c in ordered:
            repeat[1:] &= c[1:] == c[:-1]
    starts = np.flatnonzero(~repeat)
    rows = np.stack([c[starts] for c in ordered], 1).reshape(-1, len(cols))
    if return_counts:
        return rows, np.diff(np.r_[starts, len(order)])
    return rows


def _baskets(purchases: Purchases) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (customer, product, timestamp) triples sorted by customer, then time."""
    triples = unique_rows(purchases.customer, purchases.ts, purchases.product)
    return triples[:, 0], triples[:, 2], triples[:, 1]


def history_table(
    purchases: Purchases, now: float, *, n_customers: int, max_items: int
) -> HistoryTable:
    """Every customer's history from the purchases strictly before `now`."""
    if max_items < 1:
        raise ValueError(f"max_items must be at least 1, got {max_items}")
    c, p, t = _baskets(purchases.before(now))
    items = np.full((n_customers, max_items), -1, np.int64)
    feats = np.zeros((n_customers, max_items, len(ITEM_FEATURES)), np.float32)
    weights = np.zeros((n_customers, max_items), np.float32)
    customer = np.zeros((n_customers, len(CUSTOMER_FEATURES)), np.float32)
    if not len(c):
        return HistoryTable(float(now), items, feats, customer, weights)

    # Per (customer, product): baskets, first and last purchase, decayed counts.
    pair = c * (p.max() + 1) + p
    order = np.lexsort((t, pair))
    pair, cs, ps, ts = pair[order], c[order], p[order], t[order]
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    ends = np.r_[starts[1:], len(pair)]
    pc, pp = cs[starts], ps[starts]
    n = (ends - starts).astype(np.float64)
    first, last = ts[starts].astype(np.float64), ts[ends - 1].astype(np.float64)
    age_days = (now - ts) / DAY
    decayed = [np.add.reduceat(np.exp(-age_days / d), starts) for d in DECAY_DAYS]

    # Per customer: baskets (distinct timestamps), last basket, distinct products.
    cust_time = unique_rows(c, t)
    cust_baskets = np.bincount(cust_time[:, 0], minlength=n_customers).astype(np.float64)
    cust_last = np.full(n_customers, -np.inf)
    np.maximum.at(cust_last, cust_time[:, 0], cust_time[:, 1].astype(np.float64))
    distinct = np.bincount(pc, minlength=n_customers).astype(np.float64)
    seen = cust_baskets > 0
    customer[seen, 0] = np.log1p(cust_baskets[seen])
    customer[seen, 1] = np.log1p((now - cust_last[seen]) / DAY)
    customer[seen, 2] = np.log1p(distinct[seen])

    since = (now - last) / DAY
    interval = np.where(n >= 2, (last - first) / DAY / np.maximum(n - 1, 1), 0.0)
    # Recency in the customer's own rhythm: how many of their baskets came after the product's
    # last purchase (0: it was in their latest basket), whatever their ordering frequency.
    baskets_since = _baskets_after(cust_time, pc, last)
    pair_feats = np.stack(
        [
            np.ones_like(n),
            np.log1p(n),
            *(np.log1p(d) for d in decayed),
            np.log1p(since),
            np.log1p(baskets_since),
            # "Is it due?": days since the last purchase over the usual interval between two.
            np.where(n >= 2, np.clip(np.log((since + 1) / (interval + 1)), -5, 5), 0.0),
            (n >= 2).astype(np.float64),
            n / np.maximum(cust_baskets[pc], 1),
        ],
        1,
    ).astype(np.float32)

    # Most recent first within each customer; keep the first max_items.
    rank_order = np.lexsort((pp, -last, pc))
    pc, pp = pc[rank_order], pp[rank_order]
    pair_feats, n = pair_feats[rank_order], n[rank_order]
    group_start = np.flatnonzero(np.r_[True, pc[1:] != pc[:-1]])
    position = np.arange(len(pc)) - np.repeat(group_start, np.diff(np.r_[group_start, len(pc)]))
    keep = position < max_items
    items[pc[keep], position[keep]] = pp[keep]
    feats[pc[keep], position[keep]] = pair_feats[keep]
    weights[pc[keep], position[keep]] = 1.0 + np.log(n[keep])
    return HistoryTable(float(now), items, feats, customer, weights)


def _baskets_after(baskets: np.ndarray, customers: np.ndarray, times: np.ndarray) -> np.ndarray:
    """For each (customer, time), how many of the customer's baskets are strictly later.

    `baskets` holds distinct (customer, timestamp) rows sorted by customer, then time."""
    start = baskets[:, 1].min()
    span = int(baskets[:, 1].max() - start) + 2
    keys = baskets[:, 0] * span + (baskets[:, 1] - start)
    later = np.searchsorted(keys, customers * span + (times.astype(np.int64) - start), "right")
    ends = np.searchsorted(keys, (customers + 1) * span, "left")
    return (ends - later).astype(np.float64)


def row_histories(purchases: Purchases, *, max_items: int) -> tuple[np.ndarray, np.ndarray]:
    """For each row, the customer's last `max_items` distinct products bought strictly before
    the row's timestamp (most recent first, -1 padding) and their pooling weights.

    Rows of one basket share a history: a product bought in the same order is not "history" of
    the others, which is what makes the feature free of leakage.
    """
    rows = len(purchases)
    items = np.full((rows, max_items), -1, np.int64)
    weights = np.zeros((rows, max_items), np.float32)
    if not rows:
        return items, weights
    order = np.lexsort((purchases.product, purchases.ts, purchases.customer))
    c, p, t = purchases.customer[order], purchases.product[order], purchases.ts[order]
    basket_start = np.flatnonzero(np.r_[True, (c[1:] != c[:-1]) | (t[1:] != t[:-1])])
    basket_end = np.r_[basket_start[1:], rows]
    counts: dict[int, int] = {}
    recent: dict[int, None] = {}  # insertion order = recency order (oldest first)
    current = -1
    for start, end in zip(basket_start, basket_end, strict=True):
        if c[start] != current:
            current = c[start]
            counts, recent = {}, {}
        if recent:
            latest = list(recent)[-max_items:][::-1]
            k = len(latest)
            row_ids = order[start:end]
            items[row_ids, :k] = latest
            weights[row_ids, :k] = 1.0 + np.log([counts[x] for x in latest])
        for product in dict.fromkeys(p[start:end].tolist()):
            counts[product] = counts.get(product, 0) + 1
            recent.pop(product, None)
            recent[product] = None
    return items, weights


def product_features(purchases: Purchases, now: float, *, n_products: int) -> np.ndarray:
    """`[n_products, len(PRODUCT_FEATURES)]`: distinct buyers overall, in the last 30 and 7
    days before `now`, and the share of buyers who bought the product in two or more baskets."""
    past = purchases.before(now)
    c, p, t = _baskets(past)
    out = np.zeros((n_products, len(PRODUCT_FEATURES)), np.float32)
    if not len(c):
        return out

    def buyers(since_days: float | None) -> np.ndarray:
        keep = np.ones(len(c), bool) if since_days is None else t >= now - since_days * DAY
        pairs = unique_rows(c[keep], p[keep])
        return np.bincount(pairs[:, 1], minlength=n_products).astype(np.float64)

    pairs, baskets = unique_rows(c, p, return_counts=True)
    repeaters = np.bincount(pairs[baskets >= 2, 1], minlength=n_products).astype(np.float64)
    all_buyers = buyers(None)
    out[:, 0] = np.log1p(all_buyers)
    out[:, 1] = np.log1p(buyers(30))
    out[:, 2] = np.log1p(buyers(7))
    out[:, 3] = repeaters / np.maximum(all_buyers, 1)
    return out


def co_purchase_similarity(
    purchases: Purchases, now: float, *, n_products: int, neighbors: int
) -> sp.csr_matrix:
    """`[n_products, n_products]` cosine similarity of products by their buyers before `now`.

    Entry [i, j] is |buyers(i) & buyers(j)| / sqrt(|buyers(i)| |buyers(j)|); the diagonal is
    zero and row i keeps only product i's `neighbors` largest entries (ties go to the lower
    index), so the matrix stays sparse however large the catalogue: a customer's "bought with
    what you bought" score is their binary history times it. The item-kNN baseline's similarity
    (`trainer.baselines.sparse_cosine_similarity`), over the purchases before `now`.
    """
    if neighbors < 1:
        raise ValueError(f"neighbors must be at least 1, got {neighbors}")
    past = purchases.before(now)
    buyers = sp.csr_matrix(
        (np.ones(len(past)), (past.customer, past.product)),
        shape=(int(past.customer.max(initial=-1)) + 1, n_products),
    )
    # Float32, as the serving model multiplies by it.
    return sparse_cosine_similarity(buyers, neighbors, dtype=np.float32)
