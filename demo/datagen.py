"""Deterministic synthetic B2B order data for local demos and tests.

Writes ``raw_data.customers``, ``raw_data.products`` and ``raw_data.transactions`` into a local
warehouse (``<root>/raw_data/<table>.parquet``) with the structure that makes recommendation
models and their baselines behave as on real wholesale data:

- heavy-tailed (Zipf-like) product popularity;
- each customer buys mostly from 1-3 favourite categories;
- re-orders: each customer keeps a personal repertoire of products and most order lines come from
  it, so a customer's next order often repeats earlier items;
- a weekly rhythm (weekdays busy, weekends quiet) and business hours;
- B2B quantities (case sizes, larger for bigger accounts) and account-tier discounts.

Everything is drawn from one ``np.random.default_rng(seed)`` in a fixed order with vectorised
numpy, so the same arguments give byte-identical Parquet files.

CLI: ``python -m demo.datagen --out DIR [--customers N] [--products N] [--transactions N]
[--days N] [--seed N] [--end-date YYYY-MM-DD]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from components.warehouse import LocalWarehouse

DATASET = "raw_data"
# A fixed default end date, not "today": the data must not change with the day it is generated.
DEFAULT_END_DATE = dt.date(2024, 12, 31)

CATEGORIES = (
    "Beverages", "Dairy", "Bakery", "Frozen", "Produce", "Meat & Fish", "Dry Goods", "Snacks",
    "Cleaning", "Packaging", "Office Supplies", "Personal Care",
)  # fmt: skip
SEGMENTS = ("Restaurant", "Hotel", "Cafe", "Catering", "Retail", "Office")
CITIES = (
    "Amsterdam", "Rotterdam", "Antwerp", "Brussels", "Cologne", "Hamburg", "Lyon", "Milan",
    "Madrid", "Vienna",
)  # fmt: skip
TIERS = ("small", "medium", "large", "key_account")
TIER_SHARE = np.array([0.5, 0.3, 0.15, 0.05])
TIER_ACTIVITY = np.array([1.0, 2.5, 6.0, 15.0])  # relative order frequency
TIER_VOLUME = np.array([0.5, 1.0, 2.0, 4.0])  # mean extra cases per line
TIER_DISCOUNT = np.array([0.0, 0.03, 0.06, 0.1])
CASE_SIZES = np.array([1, 6, 12, 24])

ZIPF_EXPONENT = 1.1  # product popularity ~ 1 / rank^1.1
REPERTOIRE_SHARE = 0.75  # order lines drawn from the customer's own repertoire
AFFINITY_SHARE = 0.6  # of the other lines, those drawn from the customer's favourite categories
MAX_REPERTOIRE = 24
MEAN_EXTRA_LINES = 4.0  # lines per order: 1 + Poisson(4)
WEEKDAY_WEIGHT = np.array([1.0, 1.05, 1.0, 0.95, 0.85, 0.12, 0.04])  # Monday .. Sunday
HOUR_WEIGHT = np.array(
    [0, 0, 0, 0, 0, 0.2, 0.8, 2, 5, 7, 7, 6, 3, 4, 5, 4, 3, 2, 0.8, 0.4, 0.2, 0.1, 0, 0],
    dtype=float,
)


def _customers(rng: np.random.Generator, n: int) -> tuple[pa.Table, np.ndarray]:
    """The customers table and each customer's tier index (into :data:`TIERS`)."""
    tier = rng.choice(len(TIERS), n, p=TIER_SHARE)
    table = pa.table(
        {
            "customer_id": [f"C{i:05d}" for i in range(1, n + 1)],
            "segment": pa.array(np.asarray(SEGMENTS)[rng.integers(0, len(SEGMENTS), n)]),
            "city": pa.array(np.asarray(CITIES)[rng.integers(0, len(CITIES), n)]),
            "revenue_tier": pa.array(np.asarray(TIERS)[tier]),
        }
    )
    return table, tier


class _Catalogue:
    """Products with their category, global popularity and per-category sampling tables."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.n_categories = min(len(CATEGORIES), n)
        # Some categories are much bigger than others; every category gets at least one product.
        share = rng.dirichlet(np.full(self.n_categories, 2.0))
        self.category = np.concatenate(
            [
                np.arange(self.n_categories),
                rng.choice(self.n_categories, n - self.n_categories, p=share),
            ]
        )
        ranks = rng.permutation(n) + 1
        self.weight = 1.0 / ranks**ZIPF_EXPONENT
        self.p = self.weight / self.weight.sum()
        self.category_weight = np.bincount(self.category, self.weight, self.n_categories)
        self.members = [np.flatnonzero(self.category == c) for c in range(self.n_categories)]
        self.member_p = [self.weight[m] / self.weight[m].sum() for m in self.members]
        brand_no = rng.integers(1, 9, n)
        self.brand = [
            f"{CATEGORIES[c].split()[0]} Brand {b}"
            for c, b in zip(self.category, brand_no, strict=True)
        ]
        base_price = rng.lognormal(mean=1.6, sigma=0.5, size=self.n_categories)
        self.price = np.round(base_price[self.category] * rng.lognormal(0.0, 0.35, n), 2)
        self.price = np.maximum(self.price, 0.25)
        self.case_size = CASE_SIZES[rng.choice(len(CASE_SIZES), n, p=[0.35, 0.3, 0.2, 0.15])]

    def table(self) -> pa.Table:
        n = len(self.category)
        return pa.table(
            {
                "product_id": [f"P{i:06d}" for i in range(1, n + 1)],
                "category": pa.array(np.asarray(CATEGORIES)[self.category]),
                "brand": self.brand,
                "unit_price": pa.array(self.price, type=pa.float64()),
            }
        )

    def draw_in(self, rng: np.random.Generator, categories: np.ndarray) -> np.ndarray:
        """One product per entry of ``categories``, by popularity within that category."""
        out = np.empty(len(categories), dtype=np.int64)
        for c in range(self.n_categories):  # a fixed loop order keeps the draws deterministic
            where = np.flatnonzero(categories == c)
            out[where] = rng.choice(self.members[c], size=len(where), p=self.member_p[c])
        return out


def _affinities(
    rng: np.random.Generator, catalogue: _Catalogue, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's 1-3 favourite categories (weighted by category popularity), as an
    ``(n, 3)`` matrix padded by repeating the first choice, and how many are real."""
    count = rng.choice([1, 2, 3], n, p=[0.3, 0.45, 0.25])
    # Weighted sampling without replacement via the Gumbel top-k trick, all customers at once.
    keys = np.log(catalogue.category_weight) + rng.gumbel(size=(n, catalogue.n_categories))
    top = np.argsort(-keys, axis=1)[:, :3]
    if top.shape[1] < 3:  # fewer than 3 categories exist
        top = np.pad(top, ((0, 0), (0, 3 - top.shape[1])), mode="edge")
    count = np.minimum(count, catalogue.n_categories)
    return top, count


def _pick_affinity(
    rng: np.random.Generator, top: np.ndarray, count: np.ndarray, rows: np.ndarray
) -> np.ndarray:
    slot = (rng.random(len(rows)) * count[rows]).astype(np.int64)
    return top[rows, slot]


def _order_times(rng: np.random.Generator, n: int, days: int, end_date: dt.date) -> np.ndarray:
    """``n`` order timestamps (datetime64[us]) with weekly and daily rhythm and mild growth."""
    first = np.datetime64(end_date - dt.timedelta(days=days - 1), "D")
    day_index = np.arange(days)
    weekday = (first + day_index).astype("datetime64[D]").view("int64")
    weekday = (weekday + 3) % 7  # 1970-01-01 was a Thursday; make Monday 0
    day_w = WEEKDAY_WEIGHT[weekday] * (1.0 + 0.3 * day_index / max(days - 1, 1))
    day = rng.choice(days, n, p=day_w / day_w.sum())
    hour = rng.choice(24, n, p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    second = rng.integers(0, 3600, n)
    offset_s = day.astype(np.int64) * 86_400 + hour * 3600 + second
    return first.astype("datetime64[us]") + offset_s.astype("timedelta64[s]")


def _order_lines(
    rng: np.random.Generator,
    catalogue: _Catalogue,
    top: np.ndarray,
    count: np.ndarray,
    repertoire: np.ndarray,
    repertoire_size: np.ndarray,
    activity: np.ndarray,
    *,
    transactions: int,
    days: int,
    end_date: dt.date,
) -> dict[str, np.ndarray]:
    """Exactly ``transactions`` order lines: arrays ``order``, ``customer``, ``product``, ``time``.

    Orders go to customers by activity; each line comes from the customer's repertoire
    (re-orders) or, less often, is a new product from a favourite category or the whole catalogue.
    """
    customers, products = len(activity), len(catalogue.category)
    lines: dict[str, np.ndarray] = {}
    attempt = 0
    while not lines or len(lines["customer"]) < transactions:
        # Oversample orders: repeated (invoice, product) lines are merged away below.
        attempt += 1
        n_orders = int(np.ceil(transactions * (1.3 + attempt) / (1 + MEAN_EXTRA_LINES)))
        order_customer = rng.choice(customers, n_orders, p=activity / activity.sum())
        order_time = _order_times(rng, n_orders, days, end_date)
        per_order = 1 + rng.poisson(MEAN_EXTRA_LINES, n_orders)
        order = np.repeat(np.arange(n_orders), per_order)
        customer = order_customer[order]

        from_repertoire = rng.random(len(order)) < REPERTOIRE_SHARE
        # Squaring a uniform favours the first repertoire slots: a few staples, many occasionals.
        slot = (rng.random(len(order)) ** 2 * repertoire_size[customer]).astype(np.int64)
        in_affinity = rng.random(len(order)) < AFFINITY_SHARE
        explore_category = _pick_affinity(rng, top, count, customer)
        explore = np.where(
            in_affinity,
            catalogue.draw_in(rng, explore_category),
            rng.choice(products, len(order), p=catalogue.p),
        )
        product = np.where(from_repertoire, repertoire[customer, slot], explore)
        _, first = np.unique(order * products + product, return_index=True)
        keep = np.sort(first)[:transactions]
        lines = {"order": order[keep], "customer": customer[keep], "product": product[keep]}
        lines["time"] = order_time[lines["order"]]

    return lines


def build_tables(
    *,
    customers: int = 2000,
    products: int = 800,
    transactions: int = 60000,
    days: int = 365,
    seed: int = 7,
    end_date: dt.date = DEFAULT_END_DATE,
) -> dict[str, pa.Table]:
    """Generate the three tables in memory (see :func:`generate`)."""
    if min(customers, products, transactions, days) < 1:
        raise ValueError("customers, products, transactions and days must all be >= 1")
    rng = np.random.default_rng(seed)
    customer_table, tier = _customers(rng, customers)
    catalogue = _Catalogue(rng, products)
    top, count = _affinities(rng, catalogue, customers)

    # Personal repertoires: 5..24 products each, from the favourite categories.
    repertoire_size = rng.integers(5, MAX_REPERTOIRE + 1, customers)
    slot_owner = np.repeat(np.arange(customers), MAX_REPERTOIRE)
    repertoire = catalogue.draw_in(rng, _pick_affinity(rng, top, count, slot_owner))
    repertoire = repertoire.reshape(customers, MAX_REPERTOIRE)

    activity = TIER_ACTIVITY[tier] * rng.lognormal(0.0, 0.8, customers)
    lines = _order_lines(
        rng,
        catalogue,
        top,
        count,
        repertoire,
        repertoire_size,
        activity,
        transactions=transactions,
        days=days,
        end_date=end_date,
    )

    # Rows in time order; invoices numbered chronologically (an order's lines share a timestamp,
    # so they stay contiguous when sorted by time, then order).
    sequence = np.lexsort((lines["order"], lines["time"]))
    for key in lines:
        lines[key] = lines[key][sequence]
    invoice_no = np.cumsum(np.r_[True, lines["order"][1:] != lines["order"][:-1]])

    cust, prod = lines["customer"], lines["product"]
    cases = 1 + rng.poisson(TIER_VOLUME[tier[cust]])
    quantity = (cases * catalogue.case_size[prod]).astype(np.int64)
    unit_price = np.round(catalogue.price[prod] * (1.0 - TIER_DISCOUNT[tier[cust]]), 2)
    revenue = np.round(quantity * unit_price, 2)

    customer_ids = customer_table.column("customer_id").combine_chunks()
    product_ids = pa.array([f"P{i:06d}" for i in range(1, products + 1)])
    transaction_table = pa.table(
        {
            "invoice_id": [f"INV{i:08d}" for i in invoice_no],
            "customer_id": customer_ids.take(pa.array(cust)),
            "product_id": product_ids.take(pa.array(prod)),
            "timestamp": pa.array(lines["time"], type=pa.timestamp("us")),
            "quantity": pa.array(quantity, type=pa.int64()),
            "unit_price": pa.array(unit_price, type=pa.float64()),
            "revenue": pa.array(revenue, type=pa.float64()),
        }
    )
    return {
        "customers": customer_table,
        "products": catalogue.table(),
        "transactions": transaction_table,
    }


def generate(
    warehouse_root: str | Path,
    *,
    customers: int = 2000,
    products: int = 800,
    transactions: int = 60000,
    days: int = 365,
    seed: int = 7,
    end_date: dt.date = DEFAULT_END_DATE,
) -> dict[str, Path]:
    """Write ``raw_data.{customers,products,transactions}`` into the local warehouse.

    ``transactions`` counts order lines; ``days`` ends at ``end_date`` (inclusive). Returns the
    Parquet path of each table.
    """
    tables = build_tables(
        customers=customers,
        products=products,
        transactions=transactions,
        days=days,
        seed=seed,
        end_date=end_date,
    )
    warehouse = LocalWarehouse(warehouse_root)
    return {name: warehouse.write_table(DATASET, name, table) for name, table in tables.items()}


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point: generate the tables and print what was written."""
    parser = argparse.ArgumentParser(
        prog="python -m demo.datagen", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", required=True, help="local warehouse root folder")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--products", type=int, default=800)
    parser.add_argument("--transactions", type=int, default=60000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--end-date", type=dt.date.fromisoformat, default=DEFAULT_END_DATE, help="YYYY-MM-DD"
    )
    args = parser.parse_args(argv)
    paths = generate(
        args.out,
        customers=args.customers,
        products=args.products,
        transactions=args.transactions,
        days=args.days,
        seed=args.seed,
        end_date=args.end_date,
    )
    for name, path in paths.items():
        print(f"{DATASET}.{name}: {pq.ParquetFile(path).metadata.num_rows} rows -> {path}")


if __name__ == "__main__":
    main()
