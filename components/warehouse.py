"""Warehouses that run a dataset query written once in BigQuery SQL.

In the cloud the query runs on BigQuery. Locally (the embedded default) the same query is transpiled
to DuckDB with sqlglot and runs over Parquet files laid out as ``<root>/<dataset>/<table>.parquet``;
each dataset folder becomes a DuckDB schema and each file a view, so ``raw_data.transactions`` and
``` `raw_data`.`transactions` ``` resolve exactly as they do on BigQuery.

Use :func:`open_warehouse` to pick one from a URI: a local path or ``file://...`` gives a
:class:`LocalWarehouse`, ``bigquery://<project>`` a :class:`BigQueryWarehouse`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from specs.base import IDENTIFIER  # one rule for dataset, table and column names

# Dataset and table names become DuckDB identifiers and file names: keep them to BigQuery's plain
# identifier alphabet so a hostile name can neither escape the warehouse root nor inject SQL.


class WarehouseError(RuntimeError):
    """Base class of the errors a warehouse raises."""


class TableNotFoundError(WarehouseError):
    """The query references a table the warehouse does not hold."""


class QueryError(WarehouseError):
    """The query does not parse, does not transpile, or fails when it runs."""


class Warehouse(Protocol):
    """What the ExampleGen needs from a warehouse: run BigQuery SQL, get an Arrow table."""

    def query(self, bigquery_sql: str) -> pa.Table: ...


def _check_name(kind: str, name: str) -> str:
    if not IDENTIFIER.fullmatch(name):
        raise ValueError(
            f"invalid {kind} name {name!r}: use letters, digits and underscores, "
            "starting with a letter or underscore"
        )
    return name


def _quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _short(sql: str, limit: int = 500) -> str:
    sql = sql.strip()
    return sql if len(sql) <= limit else sql[:limit] + " ..."


def _local_rewrites(node: exp.Expression) -> exp.Expression:
    """Fix-ups applied to the BigQuery syntax tree before it is written as DuckDB SQL.

    - ``UNIX_SECONDS(ts)``: sqlglot emits ``CAST(EPOCH(ts) AS BIGINT)``, and DuckDB's
      double-to-integer cast rounds to nearest, so ``00:00:01.6`` would give 2 where BigQuery gives
      1 (pre-1970 values move the other way). Flooring first restores BigQuery's semantics.
    - ``project.dataset.table``: the local warehouse stands for one project, so the project part
      is dropped (DuckDB would read it as an attached database that does not exist).
    """
    if isinstance(node, exp.UnixSeconds):
        return exp.cast(
            exp.Floor(this=exp.func("EPOCH", node.this.copy())),
            exp.DataType.build("BIGINT"),
        )
    if isinstance(node, exp.Table) and node.args.get("catalog") is not None:
        node = node.copy()
        node.set("catalog", None)
    return node


def bigquery_to_duckdb(bigquery_sql: str) -> str:
    """Transpile one BigQuery SQL statement to DuckDB SQL.

    This is ``sqlglot.transpile(sql, read="bigquery", write="duckdb")`` plus the fix-ups for the
    constructs sqlglot translates with different semantics (see :func:`_local_rewrites`).

    Raises:
        QueryError: the SQL does not parse as BigQuery or holds more than one statement.
    """
    try:
        statements = [s for s in sqlglot.parse(bigquery_sql, read="bigquery") if s is not None]
    except sqlglot.errors.SqlglotError as err:
        raise QueryError(
            f"cannot parse the query as BigQuery SQL: {err}\n{_short(bigquery_sql)}"
        ) from err
    if len(statements) != 1:
        raise QueryError(
            f"expected exactly one SQL statement, got {len(statements)}:\n{_short(bigquery_sql)}"
        )
    tree = statements[0].transform(_local_rewrites)
    return tree.sql(dialect="duckdb")


def referenced_tables(bigquery_sql: str) -> set[str]:
    """Return the ``dataset.table`` names a query reads (CTE names and unqualified names skipped)."""
    tree = sqlglot.parse_one(bigquery_sql, read="bigquery")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    names = set()
    for table in tree.find_all(exp.Table):
        if table.db and table.name not in ctes:
            names.add(f"{table.db}.{table.name}")
    return names


class LocalWarehouse:
    """A folder of Parquet tables queried with DuckDB: ``<root>/<dataset>/<table>.parquet``."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalWarehouse({str(self.root)!r})"

    def table_path(self, dataset: str, table: str) -> Path:
        """The Parquet file that holds ``dataset.table``."""
        return (
            self.root / _check_name("dataset", dataset) / f"{_check_name('table', table)}.parquet"
        )

    def tables(self) -> list[str]:
        """The tables present, as sorted ``dataset.table`` names."""
        if not self.root.is_dir():
            return []
        return sorted(
            f"{path.parent.name}.{path.stem}"
            for path in self.root.glob("*/*.parquet")
            if IDENTIFIER.fullmatch(path.parent.name) and IDENTIFIER.fullmatch(path.stem)
        )

    def write_table(self, dataset: str, table: str, data: pa.Table | pd.DataFrame) -> Path:
        """Write (or replace) ``dataset.table`` from an Arrow table or a pandas DataFrame."""
        path = self.table_path(dataset, table)
        if isinstance(data, pd.DataFrame):
            data = pa.Table.from_pandas(data, preserve_index=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(data, path)
        return path

    def import_files(self, dataset: str, sources: list[Path]) -> dict[str, int]:
        """Lay Parquet and CSV files out as tables of `dataset`: each file becomes the table
        named by its stem (which must be an identifier); a folder contributes its `*.parquet`
        and `*.csv` files. Returns {`dataset.table`: rows}. Nothing is written unless every
        source is readable and every name valid."""
        import pyarrow.csv as pacsv

        files: list[Path] = []
        for source in sources:
            if source.is_dir():
                found = sorted([*source.glob("*.parquet"), *source.glob("*.csv")])
                if not found:
                    raise ValueError(f"{source} holds no .parquet or .csv file")
                files += found
            elif source.suffix in (".parquet", ".csv") and source.is_file():
                files.append(source)
            else:
                raise ValueError(f"{source} is not a .parquet or .csv file, nor a folder")
        tables: dict[str, pa.Table] = {}
        for path in files:
            name = _check_name("table", path.stem)
            if name in tables:
                raise ValueError(f"two sources would both be table {dataset}.{name}")
            try:
                tables[name] = (
                    pq.read_table(path) if path.suffix == ".parquet" else pacsv.read_csv(path)
                )
            except (pa.ArrowException, OSError) as exc:
                raise ValueError(f"{path} cannot be read: {exc}") from None
        _check_name("dataset", dataset)
        for name, table in tables.items():
            self.write_table(dataset, name, table)
        return {f"{dataset}.{name}": table.num_rows for name, table in tables.items()}

    def connect(self) -> duckdb.DuckDBPyConnection:
        """An in-memory DuckDB connection with one schema per dataset and one view per table.

        Once the views exist the connection reaches no file outside the warehouse folder: a
        query (a pipeline parameter) cannot read `/etc/passwd`, attach another database, install
        an extension or re-enable any of it (DuckDB's external access off, configuration locked).
        """
        con = duckdb.connect()
        # BigQuery evaluates TIMESTAMP('2011-01-01') and CURRENT_TIMESTAMP() in UTC; DuckDB uses
        # the machine's zone unless told, which would shift cut-offs by the local offset.
        con.execute("SET TimeZone = 'UTC'")
        datasets: set[str] = set()
        for name in self.tables():
            dataset, table = name.split(".")
            if dataset not in datasets:
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {_quote_ident(dataset)}")
                datasets.add(dataset)
            path = self.table_path(dataset, table).resolve()
            con.execute(
                f"CREATE VIEW {_quote_ident(dataset)}.{_quote_ident(table)} AS "
                f"SELECT * FROM read_parquet({_quote_literal(str(path))})"
            )
        root = _quote_literal(str(self.root.resolve()) + os.sep)
        con.execute(f"SET allowed_directories = [{root}]")
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        return con

    def query(self, bigquery_sql: str) -> pa.Table:
        """Transpile ``bigquery_sql`` to DuckDB and run it over the Parquet tables.

        Raises:
            TableNotFoundError: the query reads a ``dataset.table`` that is not in the warehouse.
            QueryError: the query does not parse or fails in DuckDB (the message holds the query).
        """
        duck_sql = bigquery_to_duckdb(bigquery_sql)
        available = set(self.tables())
        missing = sorted(referenced_tables(bigquery_sql) - available)
        if missing:
            raise TableNotFoundError(
                f"table(s) {', '.join(missing)} not found in the local warehouse {self.root} "
                f"(expected {self.root}/<dataset>/<table>.parquet); "
                f"available: {', '.join(sorted(available)) or 'none'}"
            )
        con = self.connect()
        try:
            return con.execute(duck_sql).to_arrow_table()
        except duckdb.Error as err:
            raise QueryError(
                f"query failed in DuckDB: {err}\n"
                f"BigQuery SQL:\n{_short(bigquery_sql)}\nDuckDB SQL:\n{_short(duck_sql)}"
            ) from err
        finally:
            con.close()


class BigQueryWarehouse:
    """Runs queries on BigQuery with google-cloud-bigquery, billed to ``project``.

    ``client`` may be any object with ``query(sql, job_config=...)`` returning a job with
    ``to_arrow()``; tests inject a fake, production leaves it ``None`` to build a real client lazily
    (so importing this module or building a pipeline never needs credentials).
    """

    def __init__(
        self, project: str, client: Any | None = None, *, location: str | None = None
    ) -> None:
        if not project:
            raise ValueError("BigQueryWarehouse needs a project id")
        self.project = project
        self.location = location
        self._client = client

    def __repr__(self) -> str:
        return f"BigQueryWarehouse({self.project!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            from google.cloud import bigquery

            self._client = bigquery.Client(project=self.project, location=self.location)
        return self._client

    def query(self, bigquery_sql: str) -> pa.Table:
        """Run ``bigquery_sql`` as a standard-SQL query job and return the rows as Arrow.

        Raises:
            TableNotFoundError: BigQuery answered 404 (a table or dataset is missing).
            QueryError: any other failure; the message holds the query.
        """
        from google.api_core import exceptions as google_exceptions
        from google.cloud import bigquery

        job_config = bigquery.QueryJobConfig(use_legacy_sql=False)
        try:
            job = self.client.query(bigquery_sql, job_config=job_config)
            return job.to_arrow()
        except google_exceptions.NotFound as err:
            raise TableNotFoundError(
                f"BigQuery project {self.project}: {err.message}\n{_short(bigquery_sql)}"
            ) from err
        except google_exceptions.GoogleAPICallError as err:
            raise QueryError(
                f"BigQuery query failed in project {self.project}: {err.message}\n"
                f"{_short(bigquery_sql)}"
            ) from err


def open_warehouse(uri: str) -> LocalWarehouse | BigQueryWarehouse:
    """Open a warehouse from a URI.

    - ``/path/to/warehouse``, ``relative/path`` or ``file:///path`` → :class:`LocalWarehouse`
    - ``bigquery://<project>`` → :class:`BigQueryWarehouse`

    Raises:
        ValueError: an empty URI, an unknown scheme or a BigQuery URI without a project.
    """
    if not uri:
        raise ValueError(
            "warehouse URI is empty: use a local path, file://PATH or bigquery://PROJECT"
        )
    if uri.startswith("bigquery://"):
        project = uri[len("bigquery://") :].strip("/")
        if not project or "/" in project:
            raise ValueError(f"invalid BigQuery warehouse URI {uri!r}: expected bigquery://PROJECT")
        return BigQueryWarehouse(project)
    if uri.startswith("file://"):
        return LocalWarehouse(uri[len("file://") :])
    if "://" in uri:
        scheme = uri.split("://", 1)[0]
        raise ValueError(
            f"unsupported warehouse URI scheme {scheme!r} in {uri!r}: "
            "use a local path, file://PATH or bigquery://PROJECT"
        )
    return LocalWarehouse(uri)
