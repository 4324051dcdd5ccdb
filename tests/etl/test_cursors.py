"""Every kind of cursor (timestamp with and without zone, date, integer) on both servers, read
in cursor ranges (a text primary key cannot be split), and a row limit that walks the table
oldest first across runs."""

from __future__ import annotations

import pyarrow.parquet as pq
import pytest

from etl.run import run_job
from specs.etl import load_job

pytestmark = pytest.mark.integration

# server, cursor type, the SQL literal of cursor value n (1..9), of the same value again
CURSORS = [
    ("postgresql", "timestamp", lambda n: f"'2024-01-0{n} 10:00:00.25'"),
    ("postgresql", "date", lambda n: f"'2024-01-0{n}'"),
    ("postgresql", "bigint", lambda n: str(1000 + n)),
    ("mariadb", "datetime(6)", lambda n: f"'2024-01-0{n} 10:00:00.25'"),
    ("mariadb", "date", lambda n: f"'2024-01-0{n}'"),
    ("mariadb", "int", lambda n: str(1000 + n)),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "cursor_type", "value"), CURSORS,
                         ids=[f"{k}-{t}" for k, t, _ in CURSORS])  # fmt: skip
def test_cursor_kinds_read_late_rows_in_cursor_ranges(kind, cursor_type, value, request, tmp_path):
    db = request.getfixturevalue("postgres" if kind == "postgresql" else "mariadb")
    db.sql(f"CREATE TABLE {db.table('ev')} (code varchar(10) PRIMARY KEY, c {cursor_type})")

    def insert(*rows):
        db.sql(f"INSERT INTO {db.table('ev')} VALUES " +
               ", ".join(f"('{code}', {value(n)})" for code, n in rows))  # fmt: skip

    insert(("a", 1), ("b", 2), ("c", 3), ("d", 5))
    job = load_job({"name": "ev", "source": db.source(), "table": "ev", "primary_key": ["code"],
                    "strategy": {"kind": "transactional", "cursor_column": "c"},
                    "destination": {"table": "ev"}, "partitions": 3})  # fmt: skip
    lines = []
    first = run_job(job, tmp_path, progress=lines.append)
    assert (first.status, first.rows_added) == ("success", 4), first.error
    assert any("range 3/3" in line for line in lines), lines  # split on the cursor
    insert(("e", 5), ("f", 7))  # e is late: the watermark's own value
    second = run_job(job, tmp_path)
    assert (second.rows_extracted, second.rows_added, second.rows_in_table) == (3, 2, 6)
    assert run_job(job, tmp_path).rows_added == 0
    codes = pq.read_table(tmp_path / "raw_data" / "ev.parquet").column("code").to_pylist()
    assert sorted(codes) == ["a", "b", "c", "d", "e", "f"]


def test_a_row_limit_walks_the_table_oldest_first(postgres, tmp_path):
    postgres.sql(f"CREATE TABLE {postgres.table('ev')} (id int PRIMARY KEY, at timestamptz)",
                 f"INSERT INTO {postgres.table('ev')} SELECT i, '2024-01-01'::timestamptz + "
                 "(10 - i) * interval '1 day' FROM generate_series(1, 10) i")  # fmt: skip
    job = load_job({"name": "ev", "source": postgres.source(), "table": "ev", "primary_key": ["id"],
                    "strategy": {"kind": "transactional", "cursor_column": "at"},
                    "destination": {"table": "ev"}, "row_limit": 4})  # fmt: skip
    ids = []
    for _ in range(4):
        report = run_job(job, tmp_path)
        assert report.status == "success", report.error
        ids.append(
            sorted(pq.read_table(tmp_path / "raw_data" / "ev.parquet").column("id").to_pylist())
        )
    # Oldest first (id 10 is the oldest); each run re-reads the row at the watermark.
    assert ids == [[7, 8, 9, 10], [4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
                   list(range(1, 11))]  # fmt: skip
