"""DatasetConfig: which rows and columns of the client's warehouse become training examples."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from specs.base import Identifier, QualifiedColumn, SourceName, Spec

ROLE_NAMES = ("customer_id", "product_id", "timestamp", "quantity", "revenue")

# A filter value reaches SQL as a quoted literal (see codegen.sql); the types stay narrow so a
# value is always a string, a number, or a date.
Scalar = str | int | float


class JoinSpec(Spec):
    """Join another table of the dataset to the primary table on equality of key columns."""

    table: Identifier
    type: Literal["inner", "left"] = "inner"
    on: list[tuple[QualifiedColumn, QualifiedColumn]] = Field(min_length=1)
    """Pairs of (left column, right column), each `<table>.<column>`."""


class SelectedColumn(Spec):
    """A column of the query's output: a source column, optionally renamed.

    Name it `column: "<table>.<column>"` when its name is an identifier. A name that is not
    (`Sci-Fi`, `Children's`, `Unit Price`) is given as `table` and `source`, with an identifier
    `alias` that every other config uses; the query quotes the source name."""

    column: QualifiedColumn | None = None
    table: Identifier | None = None
    """The source table of `source` (with `source`, instead of `column`)."""
    source: SourceName | None = None
    """The column's name in `table` exactly as spelled there, any text (with `table` and
    `alias`, instead of `column`)."""
    alias: Identifier | None = None

    @model_validator(mode="after")
    def _one_way_to_name(self):
        if self.column is not None:
            if self.table is not None or self.source is not None:
                raise ValueError("give either column, or table and source, not both")
        elif self.table is None or self.source is None:
            raise ValueError("give column ('<table>.<column>'), or table and source")
        elif self.alias is None:
            raise ValueError(
                f"alias: required with source {self.source!r}: the other configs refer to the "
                "column by an identifier"
            )
        return self

    @property
    def source_table(self) -> str:
        return self.table if self.column is None else self.column.split(".", 1)[0]

    @property
    def source_column(self) -> str:
        """The column's name in its source table (quoted wherever it reaches SQL)."""
        return self.source if self.column is None else self.column.split(".", 1)[1]

    @property
    def output_name(self) -> str:
        return self.alias or self.source_column


class ColumnRoles(Spec):
    """Which output columns play the roles the platform needs (output names, after aliases)."""

    customer_id: Identifier
    product_id: Identifier
    timestamp: Identifier
    quantity: Identifier | None = None
    revenue: Identifier | None = None


class DateWindowFilter(Spec):
    """Keep rows whose timestamp falls in a rolling window (last N days) or after a fixed date."""

    type: Literal["date_window"] = "date_window"
    rolling_days: int | None = Field(default=None, ge=1, le=3650)
    start_date: dt.date | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.rolling_days is None) == (self.start_date is None):
            raise ValueError("set exactly one of rolling_days and start_date")
        return self


class TopProductsFilter(Spec):
    """Keep only products that make the top N% of revenue."""

    type: Literal["top_products"] = "top_products"
    percent: float = Field(gt=0, le=100)


class TopCustomersFilter(Spec):
    """Keep only customers that make the top N% of revenue."""

    type: Literal["top_customers"] = "top_customers"
    percent: float = Field(gt=0, le=100)


class MinTransactionsFilter(Spec):
    """Keep only customers with at least N transactions (rows)."""

    type: Literal["min_transactions"] = "min_transactions"
    count: int = Field(ge=1, le=2**63 - 1)
    """At most INT64's largest value: the count is compared in BigQuery."""


class CategoryFilter(Spec):
    """Keep (include) or drop (exclude) rows by the values of a categorical column."""

    type: Literal["category"] = "category"
    column: Identifier
    include: list[str] | None = None
    exclude: list[str] | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        if (self.include is None) == (self.exclude is None):
            raise ValueError("set exactly one of include and exclude")
        if not (self.include or self.exclude):
            raise ValueError("the value list must not be empty")
        return self


class NumericFilter(Spec):
    """Compare a numeric column: a closed range, greater, less, or equal."""

    type: Literal["numeric"] = "numeric"
    column: Identifier
    op: Literal["range", "gt", "gte", "lt", "lte", "eq"]
    value: float | None = None
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _operands(self):
        if self.op == "range":
            if self.min is None or self.max is None or self.value is not None:
                raise ValueError("op 'range' takes min and max (and no value)")
            if self.min > self.max:
                raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        elif self.value is None or self.min is not None or self.max is not None:
            raise ValueError(f"op {self.op!r} takes value (and no min/max)")
        return self


class NotNullFilter(Spec):
    """Drop rows where a column is NULL (e.g. transactions without a customer)."""

    type: Literal["not_null"] = "not_null"
    column: Identifier


Filter = Annotated[
    DateWindowFilter
    | TopProductsFilter
    | TopCustomersFilter
    | MinTransactionsFilter
    | CategoryFilter
    | NumericFilter
    | NotNullFilter,
    Field(discriminator="type"),
]


class DatasetConfig(Spec):
    """Source tables in the `raw_data` warehouse dataset, joins, columns, roles and filters."""

    name: Identifier
    dataset: Identifier = "raw_data"
    primary_table: Identifier
    joins: list[JoinSpec] = []
    columns: list[SelectedColumn] = Field(min_length=1)
    roles: ColumnRoles
    filters: list[Filter] = []

    @property
    def tables(self) -> list[str]:
        return [self.primary_table, *(j.table for j in self.joins)]

    @property
    def output_columns(self) -> list[str]:
        return [c.output_name for c in self.columns]

    @field_validator("joins")
    @classmethod
    def _unique_join_tables(cls, joins: list[JoinSpec]) -> list[JoinSpec]:
        seen = set()
        for join in joins:
            if join.table in seen:
                raise ValueError(f"table {join.table!r} is joined twice")
            seen.add(join.table)
        return joins

    @model_validator(mode="after")
    def _references(self):
        tables = self.tables
        if self.primary_table in {j.table for j in self.joins}:
            raise ValueError(f"primary table {self.primary_table!r} cannot also be joined")
        for i, join in enumerate(self.joins):
            # A join may only refer to tables that are already in the FROM clause, or itself.
            known = set(tables[: i + 1]) | {join.table}
            for left, right in join.on:
                for ref in (left, right):
                    if ref.split(".")[0] not in known:
                        raise ValueError(
                            f"joins[{i}].on refers to {ref!r}; known tables here: {sorted(known)}"
                        )
        for i, col in enumerate(self.columns):
            if col.source_table not in tables:
                field = "column" if col.column is not None else "table"
                raise ValueError(
                    f"columns[{i}].{field}: {col.source_table!r} is not a source table {tables}"
                )
        names = self.output_columns
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"output column names must be unique, duplicated: {duplicates}")
        for role in ROLE_NAMES:
            value = getattr(self.roles, role)
            if value is not None and value not in names:
                raise ValueError(f"roles.{role} = {value!r} is not an output column {names}")
        for i, flt in enumerate(self.filters):
            column = getattr(flt, "column", None)
            if column is not None and column not in names:
                raise ValueError(f"filters[{i}].column {column!r} is not an output column {names}")
            if flt.type in ("top_products", "top_customers") and self.roles.revenue is None:
                raise ValueError(f"filters[{i}] ({flt.type}) needs roles.revenue")
        return self
