"""The dataset query: BigQuery SQL built by sqlglot, transpiled to DuckDB and run on tiny tables
with known answers for every filter kind."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest
import sqlglot
from sqlglot import exp

from codegen.sql import build_query, dataset_sql, describe_filters
from specs import DatasetConfig, SpecError, load_spec
from tests.codegen.helpers import EXAMPLE_NAMES, load_example

HOSTILE = ['O\'Reilly "Bros"', "x'); DROP TABLE t; --", "back\\slash", "new\nline"]


def _ts(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2024, 1, 1, hour) + dt.timedelta(days=day)


# Transactions: (invoice, customer, product, day, quantity, revenue).
# Revenue per product: p1 50, p2 30, p3 15, p4 5 (total 100).
# Revenue per customer: c1 60, c2 25, c3 10, c4 5 (total 100).
TRANSACTIONS = [
    ("i1", "c1", "p1", 0, 1, 40.0),
    ("i2", "c1", "p2", 10, 2, 20.0),
    ("i3", "c2", "p1", 20, 3, 10.0),
    ("i4", "c2", "p3", 30, 0, 15.0),
    ("i5", "c3", "p2", 40, 5, 10.0),
    ("i6", "c4", "p4", 50, -1, 5.0),
]
CUSTOMERS = [("c1", "retail"), ("c2", "horeca"), ("c3", None)]
PRODUCTS = [
    ("p1", "food", 2.5),
    ("p2", HOSTILE[0], 10.0),
    ("p3", HOSTILE[1], 99.0),
    ("p4", "drinks", None),
]


@pytest.fixture(scope="module")
def warehouse():
    con = duckdb.connect()
    # BigQuery TIMESTAMPs are UTC; DuckDB casts naive timestamps to TIMESTAMPTZ in the session
    # time zone, so pin it (the local warehouse must do the same).
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA raw_data")
    con.execute(
        "CREATE TABLE raw_data.transactions (invoice_id VARCHAR, customer_id VARCHAR, "
        "product_id VARCHAR, timestamp TIMESTAMP, quantity BIGINT, revenue DOUBLE)"
    )
    con.executemany(
        "INSERT INTO raw_data.transactions VALUES (?, ?, ?, ?, ?, ?)",
        [(i, c, p, _ts(d), q, r) for i, c, p, d, q, r in TRANSACTIONS],
    )
    con.execute("CREATE TABLE raw_data.customers (customer_id VARCHAR, segment VARCHAR)")
    con.executemany("INSERT INTO raw_data.customers VALUES (?, ?)", CUSTOMERS)
    con.execute(
        "CREATE TABLE raw_data.products (product_id VARCHAR, category VARCHAR, unit_price DOUBLE)"
    )
    con.executemany("INSERT INTO raw_data.products VALUES (?, ?, ?)", PRODUCTS)
    yield con
    con.close()


def _config(filters=(), join_type="left", **overrides) -> DatasetConfig:
    data = {
        "name": "t",
        "primary_table": "transactions",
        "joins": [
            {
                "table": "customers",
                "type": join_type,
                "on": [["transactions.customer_id", "customers.customer_id"]],
            },
            {
                "table": "products",
                "type": join_type,
                "on": [["transactions.product_id", "products.product_id"]],
            },
        ],
        "columns": [
            {"column": "transactions.invoice_id"},
            {"column": "transactions.customer_id", "alias": "buyer"},
            {"column": "transactions.product_id"},
            {"column": "transactions.timestamp", "alias": "ts"},
            {"column": "transactions.quantity"},
            {"column": "transactions.revenue"},
            {"column": "customers.segment"},
            {"column": "products.category"},
            {"column": "products.unit_price"},
        ],
        "roles": {
            "customer_id": "buyer",
            "product_id": "product_id",
            "timestamp": "ts",
            "quantity": "quantity",
            "revenue": "revenue",
        },
        "filters": list(filters),
    }
    data.update(overrides)
    return DatasetConfig.model_validate(data)


def _run(con, config: DatasetConfig) -> list[dict]:
    sql = dataset_sql(config)
    (duck,) = sqlglot.transpile(sql, read="bigquery", write="duckdb")
    cursor = con.execute(duck)
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _invoices(con, *filters, **kw) -> list[str]:
    return sorted(row["invoice_id"] for row in _run(con, _config(filters, **kw)))


ALL = ["i1", "i2", "i3", "i4", "i5", "i6"]


def test_no_filters_returns_every_row_with_output_conventions(warehouse):
    rows = _run(warehouse, _config())
    assert sorted(r["invoice_id"] for r in rows) == ALL
    first = next(r for r in rows if r["invoice_id"] == "i2")
    assert list(first) == [
        "invoice_id", "buyer", "product_id", "ts", "quantity",
        "revenue", "segment", "category", "unit_price",
    ]  # fmt: skip
    assert first["buyer"] == "c1" and isinstance(first["product_id"], str)
    # The timestamp role is int64 unix seconds (UTC).
    assert first["ts"] == int(dt.datetime(2024, 1, 11, tzinfo=dt.timezone.utc).timestamp())
    assert first["category"] == HOSTILE[0]  # joined through the products table


def test_ids_are_cast_to_string_even_when_numeric(warehouse):
    warehouse.execute("CREATE TABLE raw_data.numeric_ids AS SELECT 17 AS cust, 4 AS prod, "
                      "TIMESTAMP '2024-01-01' AS at")  # fmt: skip
    config = DatasetConfig.model_validate(
        {
            "name": "n",
            "primary_table": "numeric_ids",
            "columns": [
                {"column": "numeric_ids.cust"},
                {"column": "numeric_ids.prod"},
                {"column": "numeric_ids.at"},
            ],
            "roles": {"customer_id": "cust", "product_id": "prod", "timestamp": "at"},
        }
    )
    assert _run(warehouse, config) == [{"cust": "17", "prod": "4", "at": 1_704_067_200}]


def test_inner_join_drops_rows_without_a_match(warehouse):
    # c4 has no customers row; every product has a products row.
    assert _invoices(warehouse, join_type="inner") == ["i1", "i2", "i3", "i4", "i5"]


def test_date_window_fixed_start(warehouse):
    flt = {"type": "date_window", "start_date": "2024-01-31"}
    assert _invoices(warehouse, flt) == ["i4", "i5", "i6"]  # days 30, 40, 50


def test_date_window_rolling_is_relative_to_the_latest_timestamp(warehouse):
    # The latest row is day 50 (2024-02-20); the last 20 days start at day 30. The data is long
    # past, so a window relative to CURRENT_TIMESTAMP would return nothing.
    flt = {"type": "date_window", "rolling_days": 20}
    assert _invoices(warehouse, flt) == ["i4", "i5", "i6"]
    assert "CURRENT_TIMESTAMP" not in dataset_sql(_config([flt])).upper()


@pytest.mark.parametrize(
    ("percent", "products"),
    [(50, ["p1"]), (50.01, ["p1", "p2"]), (80, ["p1", "p2"]), (81, ["p1", "p2", "p3"]),
     (100, ["p1", "p2", "p3", "p4"])],
)  # fmt: skip
def test_top_products_that_together_make_n_percent_of_revenue(warehouse, percent, products):
    rows = _run(warehouse, _config([{"type": "top_products", "percent": percent}]))
    assert sorted({r["product_id"] for r in rows}) == products


@pytest.mark.parametrize(
    ("percent", "customers"),
    [(10, ["c1"]), (60, ["c1"]), (61, ["c1", "c2"]), (90, ["c1", "c2", "c3"])],
)
def test_top_customers_that_together_make_n_percent_of_revenue(warehouse, percent, customers):
    rows = _run(warehouse, _config([{"type": "top_customers", "percent": percent}]))
    assert sorted({r["buyer"] for r in rows}) == customers


def test_aggregate_filters_see_only_rows_that_passed_the_row_filters(warehouse):
    # Without i1 (p1, 40), revenue is p2 30, p3 15, p1 10, p4 5 (total 60): the top 50% is p2.
    flt = [{"type": "numeric", "column": "quantity", "op": "gte", "value": 2},
           {"type": "top_products", "percent": 50}]  # fmt: skip
    assert _invoices(warehouse, *flt) == ["i2", "i5"]


def test_min_transactions_per_customer(warehouse):
    assert _invoices(warehouse, {"type": "min_transactions", "count": 2}) == [
        "i1",
        "i2",
        "i3",
        "i4",
    ]
    assert _invoices(warehouse, {"type": "min_transactions", "count": 3}) == []


def test_aggregate_filters_combine(warehouse):
    filters = [
        {"type": "top_products", "percent": 80},  # p1, p2
        {"type": "min_transactions", "count": 2},  # c1, c2
    ]
    assert _invoices(warehouse, *filters) == ["i1", "i2", "i3"]


def test_category_include_with_quotes_is_data_not_code(warehouse):
    flt = {"type": "category", "column": "category", "include": HOSTILE}
    config = _config([flt])
    sql = dataset_sql(config)
    assert len(sqlglot.parse(sql, read="bigquery")) == 1
    assert not list(build_query(config).find_all(exp.Drop, exp.Command))
    assert _invoices(warehouse, flt) == ["i2", "i4", "i5"]  # p2 and p3 carry the hostile names
    # The literals survive the round trip exactly.
    literals = {lit.this for lit in sqlglot.parse_one(sql, read="bigquery").find_all(exp.Literal)}
    assert set(HOSTILE) <= literals
    assert warehouse.execute("SELECT COUNT(*) FROM raw_data.transactions").fetchone() == (6,)


def test_category_exclude_keeps_nulls(warehouse):
    flt = {"type": "category", "column": "category", "exclude": [HOSTILE[1], "food"]}
    assert _invoices(warehouse, flt) == ["i2", "i5", "i6"]
    # segment is NULL for c3 (i5) and for c4 (i6, no customers row): kept by an exclude.
    flt = {"type": "category", "column": "segment", "exclude": ["retail"]}
    assert _invoices(warehouse, flt) == ["i3", "i4", "i5", "i6"]


@pytest.mark.parametrize(
    ("op", "operands", "expected"),
    [
        ("gt", {"value": 0}, ["i1", "i2", "i3", "i5"]),
        ("gte", {"value": 0}, ["i1", "i2", "i3", "i4", "i5"]),
        ("lt", {"value": 1}, ["i4", "i6"]),
        ("lte", {"value": 1}, ["i1", "i4", "i6"]),
        ("eq", {"value": 3}, ["i3"]),
        ("range", {"min": 1, "max": 3}, ["i1", "i2", "i3"]),
    ],
)
def test_numeric_filters(warehouse, op, operands, expected):
    flt = {"type": "numeric", "column": "quantity", "op": op, **operands}
    assert _invoices(warehouse, flt) == expected


def test_numeric_filter_on_fractions_and_nulls(warehouse):
    # unit_price is NULL for p4 (i6): a comparison drops it, as SQL comparisons do.
    flt = {"type": "numeric", "column": "unit_price", "op": "lte", "value": 10.5}
    assert _invoices(warehouse, flt) == ["i1", "i2", "i3", "i5"]


def test_not_null_filter(warehouse):
    flt = {"type": "not_null", "column": "unit_price"}
    assert _invoices(warehouse, flt) == ["i1", "i2", "i3", "i4", "i5"]


def test_nan_filter_value_is_refused_at_the_spec_boundary():
    with pytest.raises(SpecError, match=r"filters\[0\]\.value: Input should be a finite number"):
        load_spec(DatasetConfig, '{"name": "d", "primary_table": "t", "columns": '
                  '[{"column": "t.c"}, {"column": "t.p"}, {"column": "t.ts"}], '
                  '"roles": {"customer_id": "c", "product_id": "p", "timestamp": "ts"}, '
                  '"filters": [{"type": "numeric", "column": "c", "op": "gt", "value": NaN}]}',
                  name="dataset.json")  # fmt: skip


def test_non_finite_filter_value_is_refused():
    config = _config([{"type": "numeric", "column": "quantity", "op": "gt", "value": 0}])
    broken = config.model_copy(
        update={"filters": [config.filters[0].model_copy(update={"value": float("nan")})]}
    )
    with pytest.raises(ValueError, match="not a finite number"):
        dataset_sql(broken)


@pytest.mark.parametrize("example", EXAMPLE_NAMES)
def test_example_queries_parse_quote_every_identifier_and_transpile(example):
    dataset, *_ = load_example(example)
    sql = dataset_sql(dataset)
    (tree,) = sqlglot.parse(sql, read="bigquery")
    identifiers = list(tree.find_all(exp.Identifier))
    assert identifiers and all(i.quoted for i in identifiers)
    assert "`raw_data`.`" in sql
    (duck,) = sqlglot.transpile(sql, read="bigquery", write="duckdb")
    assert duck.startswith("WITH") and "`" not in duck  # DuckDB quotes with double quotes


def test_describe_filters_leaves_values_out():
    lines = describe_filters(
        _config([{"type": "category", "column": "category", "include": HOSTILE}])
    )
    assert lines == ["category: include 4 value(s)"]


def test_online_retail_example_drops_returns_and_anonymous_rows():
    """The benchmark's table: a numeric filter on the raw INT64 CustomerID drops its NULLs."""
    dataset, *_ = load_example("online_retail")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA raw_data")
    con.execute(
        "CREATE TABLE raw_data.online_retail (InvoiceNo VARCHAR, StockCode VARCHAR, "
        "Description VARCHAR, Quantity BIGINT, InvoiceDate TIMESTAMP, UnitPrice DOUBLE, "
        "CustomerID BIGINT, Country VARCHAR)"
    )
    con.executemany(
        "INSERT INTO raw_data.online_retail VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            ("536365", "85123A", "HEART", 6, _ts(0), 2.55, 17850, "United Kingdom"),
            ("C536379", "D", "Discount", -1, _ts(1), 27.5, 14527, "United Kingdom"),
            ("536414", "22139", "?", 56, _ts(2), 0.0, None, "United Kingdom"),
            ("536370", "22728", "ALARM", 24, _ts(3), 3.75, 12583, "France"),
        ],
    )
    (sql,) = sqlglot.transpile(dataset_sql(dataset), read="bigquery", write="duckdb")
    assert sorted(con.execute(sql).fetchall()) == [
        ("12583", "22728", 1_704_067_200 + 3 * 86_400, "France", 24, 3.75),
        ("17850", "85123A", 1_704_067_200, "United Kingdom", 6, 2.55),
    ]


# Real column names that are not identifiers, and names built to break out of the quoting.
SOURCE_NAMES = {
    "sci_fi": "Sci-Fi",
    "childrens": "Children's",
    "film_noir": "Film Noir",
    "unit_price_eur": "Unit Price (€)",
    "quote_mix": "say \"hi\" 'now'",
    "injection": "x'); DROP TABLE movies; --",
}


def _named_config() -> DatasetConfig:
    return DatasetConfig.model_validate({
        "name": "movies",
        "primary_table": "ratings",
        "joins": [{"table": "movies", "on": [["ratings.movie_id", "movies.movie_id"]]}],
        "columns": [
            {"column": "ratings.user_id"},
            {"column": "ratings.movie_id"},
            {"column": "ratings.ts"},
            *({"table": "movies", "source": source, "alias": alias}
              for alias, source in SOURCE_NAMES.items()),
        ],
        "roles": {"customer_id": "user_id", "product_id": "movie_id", "timestamp": "ts"},
        "filters": [{"type": "numeric", "column": "sci_fi", "op": "eq", "value": 1}],
    })  # fmt: skip


def test_source_names_are_quoted_and_come_out_under_their_aliases():
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("CREATE SCHEMA raw_data")
    con.execute("CREATE TABLE raw_data.ratings (user_id VARCHAR, movie_id VARCHAR, ts TIMESTAMP)")
    con.execute("INSERT INTO raw_data.ratings VALUES ('u1', 'm1', '2024-01-01'), "
                "('u2', 'm2', '2024-01-02')")  # fmt: skip
    quoted = ", ".join('"' + s.replace('"', '""') + '" INTEGER' for s in SOURCE_NAMES.values())
    con.execute(f"CREATE TABLE raw_data.movies (movie_id VARCHAR, {quoted})")
    con.execute("INSERT INTO raw_data.movies VALUES ('m1', 1, 2, 3, 4, 5, 6), "
                "('m2', 0, 0, 0, 0, 0, 0)")  # fmt: skip
    rows = _run(con, _named_config())
    assert rows == [{"user_id": "u1", "movie_id": "m1", "ts": 1704067200, "sci_fi": 1,
                     "childrens": 2, "film_noir": 3, "unit_price_eur": 4, "quote_mix": 5,
                     "injection": 6}]  # fmt: skip
    assert con.execute("SELECT count(*) FROM raw_data.movies").fetchone() == (2,)  # intact


def test_source_names_parse_back_from_the_bigquery_sql_exactly():
    sql = dataset_sql(_named_config())
    (tree,) = sqlglot.parse(sql, read="bigquery")
    columns = {c.name for c in tree.find_all(exp.Column) if c.table == "movies"}
    assert set(SOURCE_NAMES.values()) <= columns
    assert all(i.quoted for i in tree.find_all(exp.Identifier))
    assert "DROP" not in {type(node).__name__.upper() for node in tree.walk()}


@pytest.mark.parametrize(
    ("column", "message"),
    [
        ({"table": "movies", "source": "Sci-Fi"}, "alias: required with source 'Sci-Fi'"),
        ({"column": "movies.x", "table": "movies", "source": "x"}, "not both"),
        ({"source": "Sci-Fi", "alias": "sci_fi"}, "or table and source"),
        ({"table": "movies", "source": "new\nline", "alias": "a"}, "no control characters"),
        ({"table": "movies", "source": "", "alias": "a"}, "1 to 300 characters"),
        ({"table": "movies", "source": "Price.EUR", "alias": "a"}, "no '.' or '`'"),
        ({"table": "movies", "source": "a`b", "alias": "a"}, "no '.' or '`'"),
        (
            {"table": "nowhere", "source": "Sci-Fi", "alias": "a"},
            "dataset.json: columns[9].table: 'nowhere' is not a source",
        ),
        ({"table": "movies", "source": "Sci-Fi", "alias": "Sci-Fi"}, "not a valid identifier"),
    ],
)
def test_a_source_name_needs_its_table_and_an_identifier_alias(column, message):
    data = _named_config().model_dump(exclude_none=True)
    data["columns"].append(column)
    with pytest.raises(SpecError) as error:
        load_spec(DatasetConfig, data, name="dataset.json")
    assert message in str(error.value)
    assert "dataset.json: columns" in str(error.value)


def test_a_snapshot_query_reads_every_table_as_of_one_moment():
    moment = dt.datetime(2026, 12, 4, 10, 15, 30, 123456, tzinfo=dt.timezone.utc)
    sql = dataset_sql(_config(), as_of=moment)
    (tree,) = sqlglot.parse(sql, read="bigquery")
    tables = list(tree.find_all(exp.Table))
    versioned = [t for t in tables if t.args.get("version")]
    assert {t.name for t in versioned} == {"transactions", "customers", "products"}
    for table in versioned:
        version = table.args["version"]
        assert version.args["kind"] == "AS OF"
        assert version.expression.this.this == "2026-12-04 10:15:30.123456+00"
    assert "FOR SYSTEM_TIME AS OF" not in dataset_sql(_config())
    with pytest.raises(ValueError, match="timezone-aware"):
        dataset_sql(_config(), as_of=dt.datetime(2026, 12, 4))
