"""Build the dataset query (BigQuery SQL) from a DatasetConfig with sqlglot's expression builder.

Nothing here pastes text into SQL: identifiers are validated by the spec and emitted quoted with
backquotes (`identify=True`); a column's source name, which may be any text without control
characters (`Sci-Fi`, `Children's`), is an identifier node that the generator escapes; every literal is a sqlglot `Literal`, which the BigQuery
generator escapes. A category value such as ``x'); DROP TABLE t; --`` therefore reaches the
warehouse as data.

Shape of the query::

    WITH base AS (            -- the selected columns under their output names, raw types
      SELECT ... FROM `raw_data`.`primary` AS `primary` [JOIN ...]
    ), filtered AS (          -- row filters: date window, category, numeric
      SELECT * FROM base WHERE ...
    ), top_products_<i> AS (...), top_customers_<i> AS (...), active_customers_<i> AS (...)
    SELECT <output columns, ids as STRING, timestamp as unix seconds> FROM filtered WHERE ...

Definitions the pipeline relies on:

- Row filters run first; the aggregate filters (top products, top customers, minimum
  transactions) are each computed over the row-filtered rows, independently of one another.
- "Top N% of products by revenue" means the products that *together make the top N% of revenue*
  (the Pareto definition): rank products by their revenue sum, descending (on a tie the larger
  id ranks higher), and keep every product whose higher-ranked predecessors hold less than N% of
  total revenue, i.e. the smallest head of the ranking that reaches N%. Customers likewise. 100% keeps everything.
- "Minimum transactions" counts rows per customer after the row filters.
- A rolling date window is relative to the latest timestamp in the data, not CURRENT_TIMESTAMP,
  so a quick test on historical data still returns rows.
- Category `exclude` keeps rows whose value is NULL (they are not in the list); `include` and the
  numeric comparisons drop NULLs, as SQL comparisons do.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlglot import exp

from specs import (
    CategoryFilter,
    DatasetConfig,
    DateWindowFilter,
    MinTransactionsFilter,
    NotNullFilter,
    NumericFilter,
    TopCustomersFilter,
    TopProductsFilter,
)

DIALECT = "bigquery"

# Filters that look at one row at a time; they run before the aggregate filters.
_ROW_FILTERS = (DateWindowFilter, CategoryFilter, NumericFilter, NotNullFilter)

_BASE = "base"
_FILTERED = "filtered"


def _col(name: str, table: str | None = None) -> exp.Column:
    # Identifier nodes built directly: `exp.column` would parse a dot in a source name
    # (`Price.EUR`) as a table qualifier.
    return exp.Column(
        this=exp.to_identifier(name, quoted=True),
        table=exp.to_identifier(table, quoted=True) if table else None,
    )


def _type(name: str) -> exp.DataType:
    # Built with the BigQuery dialect so TIMESTAMP means BigQuery's (UTC) TIMESTAMP.
    return exp.DataType.build(name, dialect=DIALECT)


def _number(value: float) -> exp.Literal:
    """A numeric literal; whole numbers print without `.0` so they compare cleanly to INT64."""
    if not math.isfinite(value):
        # JSON parsers accept NaN/Infinity; SQL has no literal for them.
        raise ValueError(f"filter value {value!r} is not a finite number")
    if float(value).is_integer() and abs(value) < 2**53:
        return exp.Literal.number(int(value))
    return exp.Literal.number(repr(float(value)))


def _as_timestamp(name: str) -> exp.Expression:
    return exp.cast(_col(name), _type("TIMESTAMP"))


def _snapshot(table: exp.Expression, as_of: dt.datetime | None) -> exp.Expression:
    """`table` read as it was at `as_of` (BigQuery time travel), or as it is."""
    if as_of is None:
        return table
    if as_of.tzinfo is None:
        raise ValueError("as_of must be a timezone-aware time (UTC)")
    moment = as_of.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    table.set("version", exp.Version(
        this="TIMESTAMP", kind="AS OF",
        expression=exp.cast(exp.Literal.string(moment), _type("TIMESTAMP")),
    ))  # fmt: skip
    return table


def _base_select(config: DatasetConfig, as_of: dt.datetime | None = None) -> exp.Select:
    """The selected columns under their output names, from the primary table and its joins
    (each as of `as_of` when given)."""
    columns = []
    for selected in config.columns:
        # A source name may be any text (`Sci-Fi`): it is an identifier node, quoted and
        # escaped by the generator, never pasted.
        column = _col(selected.source_column, table=selected.source_table)
        columns.append(exp.alias_(column, selected.output_name))
    query = exp.select(*columns).from_(
        _snapshot(
            exp.alias_(exp.table_(config.primary_table, db=config.dataset), config.primary_table),
            as_of,
        )
    )
    for join in config.joins:
        condition = exp.and_(
            *(
                exp.EQ(
                    this=_col(*reversed(left.split("."))),
                    expression=_col(*reversed(right.split("."))),
                )
                for left, right in join.on
            )
        )
        query = query.join(
            _snapshot(exp.alias_(exp.table_(join.table, db=config.dataset), join.table), as_of),
            on=condition,
            join_type=join.type.upper(),
        )
    return query


def _date_window(config: DatasetConfig, flt: DateWindowFilter) -> exp.Expression:
    ts = _as_timestamp(config.roles.timestamp)
    if flt.rolling_days is not None:
        latest = exp.Subquery(
            this=exp.select(exp.Max(this=_as_timestamp(config.roles.timestamp))).from_(_BASE)
        )
        start = exp.TimestampSub(
            this=latest, expression=exp.Literal.number(flt.rolling_days), unit=exp.var("DAY")
        )
        return exp.GTE(this=ts, expression=start)
    start = exp.cast(exp.Literal.string(flt.start_date.isoformat()), _type("TIMESTAMP"))
    return exp.GTE(this=ts, expression=start)


def _category(flt: CategoryFilter) -> exp.Expression:
    column = _col(flt.column)
    values = [exp.Literal.string(v) for v in (flt.include or flt.exclude)]
    if flt.include is not None:
        return column.isin(*values)
    # NOT IN over a NULL yields NULL (dropped); a NULL is not an excluded value, so keep it.
    return exp.or_(
        exp.Is(this=_col(flt.column), expression=exp.Null()), exp.not_(column.isin(*values))
    )


_COMPARISONS = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE, "eq": exp.EQ}


def _numeric(flt: NumericFilter) -> exp.Expression:
    if flt.op == "range":
        return exp.Between(this=_col(flt.column), low=_number(flt.min), high=_number(flt.max))
    return _COMPARISONS[flt.op](this=_col(flt.column), expression=_number(flt.value))


def _row_condition(config: DatasetConfig, flt) -> exp.Expression:
    if isinstance(flt, DateWindowFilter):
        return _date_window(config, flt)
    if isinstance(flt, CategoryFilter):
        return _category(flt)
    if isinstance(flt, NotNullFilter):
        return exp.not_(exp.Is(this=_col(flt.column), expression=exp.Null()))
    return _numeric(flt)


def _top_by_revenue(key: str, revenue: str, percent: float) -> exp.Select:
    """Keys (products or customers) that together make the top `percent`% of revenue."""
    totals = (
        exp.select(_col(key), exp.alias_(exp.Sum(this=_col(revenue)), "revenue_sum"))
        .from_(_FILTERED)
        .group_by(_col(key))
    )
    # Ascending order, so the rows *after* a key are the higher-ranked ones; summing them gives
    # the revenue ahead of it without a DESC sort, whose NULL order sqlglot cannot carry into a
    # framed window (it warns). Ties: the larger id ranks higher.
    ahead = exp.Window(
        this=exp.Sum(this=_col("revenue_sum")),
        order=exp.Order(
            expressions=[
                # NULLS FIRST is BigQuery's default for ASC: stated, it prints as nothing.
                exp.Ordered(this=_col("revenue_sum"), nulls_first=True),
                exp.Ordered(this=_col(key), nulls_first=True),
            ]
        ),
        spec=exp.WindowSpec(
            kind="ROWS", start="1", start_side="FOLLOWING", end="UNBOUNDED", end_side="FOLLOWING"
        ),
    )
    ranked = exp.select(
        _col(key),
        # Revenue of the higher-ranked keys (0 for the top one): the key belongs to the head
        # while this is below N% of the total.
        exp.alias_(exp.func("COALESCE", ahead, exp.Literal.number(0)), "revenue_before"),
        exp.alias_(exp.Window(this=exp.Sum(this=_col("revenue_sum"))), "revenue_total"),
    ).from_(exp.Subquery(this=totals, alias=exp.TableAlias(this=exp.to_identifier("totals"))))
    share = exp.Mul(this=_col("revenue_total"), expression=_number(percent / 100))
    return (
        exp.select(_col(key))
        .from_(exp.Subquery(this=ranked, alias=exp.TableAlias(this=exp.to_identifier("ranked"))))
        .where(exp.LT(this=_col("revenue_before"), expression=share))
    )


def _active_customers(customer: str, count: int) -> exp.Select:
    return (
        exp.select(_col(customer))
        .from_(_FILTERED)
        .group_by(_col(customer))
        .having(exp.GTE(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(count)))
    )


def _output_columns(config: DatasetConfig) -> list[exp.Expression]:
    """Output columns with the conventions the pipeline relies on: ids are STRING, the
    timestamp is int64 unix seconds, other columns keep their warehouse types."""
    roles = config.roles
    out: list[exp.Expression] = []
    for name in config.output_columns:
        if name in (roles.customer_id, roles.product_id):
            value: exp.Expression = exp.cast(_col(name), _type("STRING"))
        elif name == roles.timestamp:
            value = exp.func("UNIX_SECONDS", _as_timestamp(name), dialect=DIALECT)
        else:
            out.append(_col(name))
            continue
        out.append(exp.alias_(value, name))
    return out


def build_query(config: DatasetConfig, *, as_of: dt.datetime | None = None) -> exp.Select:
    """The dataset query as a sqlglot expression (BigQuery semantics); with `as_of`, every
    table is read as it was then (`FOR SYSTEM_TIME AS OF`), so a re-run reads the same rows
    while BigQuery keeps them (its time-travel window, 7 days by default)."""
    roles = config.roles
    query = exp.select(*_output_columns(config)).from_(_FILTERED)
    query = query.with_(_BASE, as_=_base_select(config, as_of))
    row_conditions = [
        _row_condition(config, f) for f in config.filters if isinstance(f, _ROW_FILTERS)
    ]
    filtered = exp.select(exp.Star()).from_(_BASE)
    if row_conditions:
        filtered = filtered.where(exp.and_(*row_conditions))
    query = query.with_(_FILTERED, as_=filtered)

    members: list[exp.Expression] = []
    for i, flt in enumerate(config.filters):
        if isinstance(flt, TopProductsFilter | TopCustomersFilter):
            if flt.percent >= 100:
                continue
            key = roles.product_id if isinstance(flt, TopProductsFilter) else roles.customer_id
            cte = f"{flt.type}_{i}"
            query = query.with_(cte, as_=_top_by_revenue(key, roles.revenue, flt.percent))
        elif isinstance(flt, MinTransactionsFilter):
            key = roles.customer_id
            cte = f"active_customers_{i}"
            query = query.with_(cte, as_=_active_customers(key, flt.count))
        else:
            continue
        # Qualified: the output column of the same name is a cast, and DuckDB lets WHERE see
        # select aliases.
        members.append(_col(key, table=_FILTERED).isin(query=exp.select(_col(key)).from_(cte)))
    if members:
        query = query.where(exp.and_(*members))
    return query


def describe_filters(config: DatasetConfig) -> list[str]:
    """One plain-English line per filter, for the header comment of the rendered query.

    Filter *values* are left out on purpose: a value may hold a newline, which would end the
    comment and turn the rest of the value into SQL. Column names are identifiers, safe to print.
    """
    lines = []
    for flt in config.filters:
        if isinstance(flt, DateWindowFilter) and flt.rolling_days is not None:
            lines.append(
                f"date window: the last {flt.rolling_days} days up to the latest timestamp in "
                "the data (not CURRENT_TIMESTAMP, so a quick test on historical data still works)"
            )
        elif isinstance(flt, DateWindowFilter):
            lines.append(f"date window: from {flt.start_date.isoformat()} (UTC)")
        elif isinstance(flt, TopProductsFilter | TopCustomersFilter):
            who = "products" if isinstance(flt, TopProductsFilter) else "customers"
            lines.append(f"top {who}: those that together make the top {flt.percent:g}% of revenue")
        elif isinstance(flt, MinTransactionsFilter):
            lines.append(f"customers with at least {flt.count} transactions")
        elif isinstance(flt, CategoryFilter):
            verb = "include" if flt.include is not None else "exclude"
            lines.append(f"{flt.column}: {verb} {len(flt.include or flt.exclude)} value(s)")
        elif isinstance(flt, NotNullFilter):
            lines.append(f"{flt.column} is not NULL")
        else:
            bounds = f"{flt.min:g}..{flt.max:g}" if flt.op == "range" else f"{flt.value:g}"
            lines.append(f"{flt.column} {flt.op} {bounds}")
    return lines


def dataset_sql(config: DatasetConfig, *, as_of: dt.datetime | None = None) -> str:
    """The dataset query as pretty BigQuery SQL, every identifier in backquotes."""
    return build_query(config, as_of=as_of).sql(dialect=DIALECT, identify=True, pretty=True)


MAX_QUERY_BYTES = 1024 * 1024
"""BigQuery refuses a query whose text is over 1 MB (its limit on unresolved query length)."""


def check_query_size(config: DatasetConfig, *, source: str = "dataset") -> str:
    """The dataset query, or SpecError when its text is over BigQuery's limit (a category
    filter with hundreds of thousands of values): the field named is the largest filter."""
    from specs import SpecError

    # Each listed value is at least its quoted text in the query: a list far over the limit is
    # refused before building a syntax tree of millions of nodes.
    listed = sum(len(str(v).encode("utf-8")) + 2 for f in config.filters
                 if isinstance(f, CategoryFilter) for v in (f.include or f.exclude))  # fmt: skip
    sql = dataset_sql(config) if listed <= MAX_QUERY_BYTES else ""
    size = max(len(sql.encode("utf-8")), listed)
    if size <= MAX_QUERY_BYTES:
        return sql
    lists = [(len(f.include or f.exclude), i) for i, f in enumerate(config.filters)
             if isinstance(f, CategoryFilter)]  # fmt: skip
    field = f"filters[{max(lists)[1]}]" if lists else "filters"
    held = f" (it holds {max(lists)[0]} values)" if lists else ""
    raise SpecError(source, [(field, f"the dataset query is at least {size} bytes; BigQuery accepts at "
                                     f"most {MAX_QUERY_BYTES}{held}: filter by a column of "
                                     "the data, or join a table of the values")])  # fmt: skip
