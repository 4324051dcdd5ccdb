"""The synthetic B2B generator: schema, realistic structure (with thresholds) and determinism."""

from __future__ import annotations

import datetime as dt
import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from components.warehouse import LocalWarehouse
from demo import datagen


@pytest.fixture(scope="module")
def tables() -> dict[str, pa.Table]:
    return datagen.build_tables()  # the defaults: 2000 customers, 800 products, 60000 lines


@pytest.fixture(scope="module")
def lines(tables) -> pd.DataFrame:
    products = tables["products"].to_pandas()[["product_id", "category"]]
    return tables["transactions"].to_pandas().merge(products, on="product_id", how="left")


def test_schemas_and_sizes(tables):
    assert tables["customers"].schema.names == ["customer_id", "segment", "city", "revenue_tier"]
    assert tables["products"].schema.names == ["product_id", "category", "brand", "unit_price"]
    tx = tables["transactions"]
    assert tx.schema == pa.schema(
        [
            ("invoice_id", pa.string()),
            ("customer_id", pa.string()),
            ("product_id", pa.string()),
            ("timestamp", pa.timestamp("us")),
            ("quantity", pa.int64()),
            ("unit_price", pa.float64()),
            ("revenue", pa.float64()),
        ]
    )
    assert (tables["customers"].num_rows, tables["products"].num_rows, tx.num_rows) == (
        2000,
        800,
        60000,
    )
    assert tables["customers"]["customer_id"][41].as_py() == "C00042"
    assert tables["products"]["product_id"][122].as_py() == "P000123"


def test_referential_integrity_and_revenue(tables, lines):
    assert set(lines.customer_id) <= set(tables["customers"]["customer_id"].to_pylist())
    assert lines.category.notna().all()  # every product id exists
    assert (lines.quantity >= 1).all() and (lines.unit_price > 0).all()
    np.testing.assert_allclose(lines.revenue, lines.quantity * lines.unit_price, atol=0.006)
    assert not lines.duplicated(["invoice_id", "product_id"]).any()
    # an invoice belongs to one customer and one moment
    assert (lines.groupby("invoice_id")[["customer_id", "timestamp"]].nunique() == 1).all().all()


def test_time_range_ends_at_end_date(lines):
    assert lines.timestamp.max() < pd.Timestamp("2025-01-01")
    assert lines.timestamp.min() >= pd.Timestamp("2024-01-02")  # 365 days ending 2024-12-31
    assert lines.timestamp.is_monotonic_increasing


def test_product_popularity_is_heavy_tailed(lines):
    counts = lines.product_id.value_counts()
    assert counts.iloc[:80].sum() / len(lines) > 0.4  # top 10% of 800 products
    assert counts.iloc[0] > 20 * counts.median()


def test_weekly_rhythm_and_business_hours(lines):
    weekend = lines.timestamp.dt.dayofweek >= 5
    assert weekend.mean() < 0.08  # an even spread would give 2/7 = 0.29
    assert lines.timestamp.dt.hour.between(7, 18).mean() > 0.9


def test_customers_reorder_the_same_products(lines):
    first_bought = lines.groupby(["customer_id", "product_id"]).timestamp.transform("min")
    assert (lines.timestamp > first_bought).mean() > 0.5


def test_customers_concentrate_on_few_categories(lines):
    def top3_share(frame: pd.DataFrame) -> float:
        active = frame.groupby("customer_id").filter(lambda g: len(g) >= 20)
        per_customer = active.groupby("customer_id").category.agg(
            lambda s: s.value_counts().iloc[:3].sum() / len(s)
        )
        return float(per_customer.mean())

    actual = top3_share(lines)
    shuffled = lines.assign(category=lines.category.sample(frac=1, random_state=0).to_numpy())
    assert actual > 0.8
    assert actual > top3_share(shuffled) + 0.2


def test_b2b_quantities(lines):
    assert lines.quantity.median() >= 6
    assert lines.quantity.quantile(0.95) >= 48


def test_same_seed_gives_byte_identical_parquet_and_other_seed_differs(tmp_path):
    def digests(root, seed):
        paths = datagen.generate(root, customers=100, products=50, transactions=2000, seed=seed)
        return {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in paths.items()}

    first = digests(tmp_path / "a", 7)
    assert first == digests(tmp_path / "b", 7)
    assert first["transactions"] != digests(tmp_path / "c", 8)["transactions"]


def test_tiny_catalogue_and_end_date():
    out = datagen.build_tables(
        customers=3, products=2, transactions=50, days=7, end_date=dt.date(2011, 12, 9)
    )
    tx = out["transactions"].to_pandas()
    assert len(tx) == 50  # orders are drawn until enough distinct lines exist
    assert tx.timestamp.max() < pd.Timestamp("2011-12-10")
    assert tx.timestamp.min() >= pd.Timestamp("2011-12-03")


def test_rejects_non_positive_sizes():
    with pytest.raises(ValueError, match=">= 1"):
        datagen.build_tables(transactions=0)


def test_cli_writes_the_warehouse(tmp_path, capsys):
    datagen.main(
        [
            "--out",
            str(tmp_path),
            "--customers",
            "20",
            "--products",
            "15",
            "--transactions",
            "300",
            "--days",
            "30",
        ]
    )
    printed = capsys.readouterr().out
    assert "raw_data.transactions: 300 rows" in printed
    assert LocalWarehouse(tmp_path).tables() == [
        "raw_data.customers",
        "raw_data.products",
        "raw_data.transactions",
    ]
    assert (
        LocalWarehouse(tmp_path)
        .query("SELECT COUNT(DISTINCT customer_id) AS n FROM raw_data.customers")
        .column("n")[0]
        .as_py()
        == 20
    )
