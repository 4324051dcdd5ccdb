"""`python -m etl discover|run`: JSON out, progress on stderr, exit codes 0/1/2."""

from __future__ import annotations

import json

import pytest

from etl.__main__ import main

pytestmark = pytest.mark.integration


def _table(db):
    db.sql(f"CREATE TABLE {db.table('events')} (id bigint PRIMARY KEY, at timestamptz, v text)",
           f"INSERT INTO {db.table('events')} SELECT i, '2024-01-01'::timestamptz + i * interval '1 day', "
           "'v' || i FROM generate_series(1, 50) i")  # fmt: skip


def test_discover_and_run(postgres, tmp_path, capsys, monkeypatch):
    _table(postgres)
    monkeypatch.setenv("ETL_TEST_PG_PASSWORD", "unused-by-trust-auth")
    source = postgres.source(password={"env": "ETL_TEST_PG_PASSWORD"})
    (tmp_path / "conn.json").write_text(json.dumps(source))
    assert main(["discover", str(tmp_path / "conn.json")]) == 0
    found = json.loads(capsys.readouterr().out)["tables"]
    assert [(t["table"], t["rows"], t["primary_key"], t["timestamp_column"]) for t in found] == [
        ("events", 50, ["id"], "at")]  # fmt: skip

    job = {"name": "events", "source": source, "table": "events", "primary_key": ["id"],
           "strategy": {"kind": "transactional", "cursor_column": "at"},
           "destination": {"table": "events"}, "partitions": 3}  # fmt: skip
    (tmp_path / "job.json").write_text(json.dumps(job))
    assert main(["run", str(tmp_path / "job.json"), "--warehouse", str(tmp_path / "wh")]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert report["status"] == "success" and report["total_rows_extracted"] == 50
    assert report["tables"][0]["rows_in_table"] == 50
    assert "range 3/3, 50 rows" in out.err and "rows/s" in out.err
    assert "unused-by-trust-auth" not in out.out + out.err


def test_invalid_input_exits_2_and_a_failed_table_exits_1(postgres, tmp_path, capsys):
    (tmp_path / "bad.json").write_text(json.dumps({"name": "x y"}))
    assert main(["run", str(tmp_path / "bad.json"), "--warehouse", str(tmp_path / "wh")]) == 2
    assert "bad.json: name: " in capsys.readouterr().err
    job = {"name": "missing", "source": postgres.source(), "table": "nope",
           "destination": {"table": "nope"}}  # fmt: skip
    (tmp_path / "job.json").write_text(json.dumps(job))
    assert main(["run", str(tmp_path / "job.json"), "--warehouse", str(tmp_path / "wh")]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["status"] == "failed" and report["tables"][0]["error"].startswith(
        "table: no table"
    )
    (tmp_path / "conn.json").write_text(json.dumps(postgres.source(port=1)))
    assert main(["discover", str(tmp_path / "conn.json")]) == 2
    assert capsys.readouterr().err.startswith("source.host: cannot connect")
