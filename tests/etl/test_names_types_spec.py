"""The job spec's errors, the type mapping table and column-name sanitizing (no services)."""

import pyarrow as pa
import pytest

from etl.names import column_names, sanitize
from etl.secrets import MASK, Password, SecretError, redact, resolve, secret_manager_request
from etl.types import RULES, bigquery_type, map_type
from specs.base import SpecError
from specs.etl import SecretRef, load_job

PG = {"kind": "postgresql", "database": "test", "user": "postgres"}


def job(**over):
    base = {"name": "orders", "source": PG, "table": "orders", "destination": {"table": "orders"}}
    return {**base, **over}


# (dialect, declared type) → (Arrow type, BigQuery type): every rule of the table is hit.
CASES = [
    ("postgresql", "smallint", pa.int64(), "INT64"),
    ("postgresql", "bigint", pa.int64(), "INT64"),
    ("postgresql", "numeric(12,3)", pa.decimal128(12, 3), "NUMERIC"),
    ("postgresql", "numeric(28,10)", pa.decimal128(28, 10), "BIGNUMERIC"),
    ("postgresql", "numeric(38,10)", pa.decimal128(38, 10), "BIGNUMERIC"),
    ("postgresql", "numeric(40,2)", pa.string(), "STRING"),
    ("postgresql", "numeric", pa.string(), "STRING"),
    ("postgresql", "double precision", pa.float64(), "FLOAT64"),
    ("postgresql", "boolean", pa.bool_(), "BOOL"),
    ("postgresql", "timestamp(3) without time zone", pa.timestamp("us"), "DATETIME"),
    ("postgresql", "timestamp with time zone", pa.timestamp("us", "UTC"), "TIMESTAMP"),
    ("postgresql", "date", pa.date32(), "DATE"),
    ("postgresql", "time without time zone", pa.time64("us"), "TIME"),
    ("postgresql", "jsonb", pa.string(), "JSON"),
    ("postgresql", "integer[]", pa.list_(pa.int64()), "ARRAY<INT64>"),
    ("postgresql", "double precision[]", pa.list_(pa.float64()), "ARRAY<FLOAT64>"),
    ("postgresql", "boolean[]", pa.list_(pa.bool_()), "ARRAY<BOOL>"),
    ("postgresql", "character varying(5)[]", pa.list_(pa.string()), "ARRAY<STRING>"),
    ("postgresql", "date[]", pa.string(), "JSON"),
    ("postgresql", "bytea", pa.binary(), "BYTES"),
    ("postgresql", "character varying(10)", pa.string(), "STRING"),
    ("postgresql", "uuid", pa.string(), "STRING"),
    ("postgresql", "interval", pa.string(), "STRING"),
    ("mysql", "tinyint(1)", pa.bool_(), "BOOL"),
    ("mysql", "bigint(20) unsigned", pa.decimal128(20, 0), "NUMERIC"),
    ("mysql", "int(11)", pa.int64(), "INT64"),
    ("mysql", "decimal(12,3)", pa.decimal128(12, 3), "NUMERIC"),
    ("mysql", "decimal(20,4)", pa.decimal128(20, 4), "NUMERIC"),
    ("mysql", "decimal(30,5)", pa.decimal128(30, 5), "NUMERIC"),
    ("mysql", "decimal(65,30)", pa.string(), "STRING"),
    ("mysql", "double", pa.float64(), "FLOAT64"),
    ("mysql", "date", pa.date32(), "DATE"),
    ("mysql", "datetime(6)", pa.timestamp("us"), "DATETIME"),
    ("mysql", "timestamp(6)", pa.timestamp("us", "UTC"), "TIMESTAMP"),
    ("mysql", "time", pa.string(), "STRING"),
    ("mysql", "year(4)", pa.int64(), "INT64"),
    ("mysql", "bit(3)", pa.int64(), "INT64"),
    ("mysql", "json", pa.string(), "JSON"),
    ("mysql", "blob", pa.binary(), "BYTES"),
    ("mysql", "varchar(20)", pa.string(), "STRING"),
    ("mysql", "enum('a','b')", pa.string(), "STRING"),
    ("mysql", "geometry", pa.string(), "STRING"),
]


@pytest.mark.parametrize(("dialect", "declared", "arrow", "bigquery"), CASES)
def test_mapping_table(dialect, declared, arrow, bigquery):
    mapped = map_type(dialect, declared)
    assert (mapped.arrow, mapped.bigquery) == (arrow, bigquery)
    assert "{col}" in mapped.read


def test_every_rule_is_covered_by_a_case():
    hit = set()
    for dialect, declared, _, _ in CASES:
        normalized = declared.lower()
        hit.add(
            next(i for i, r in enumerate(RULES) if r.dialect == dialect and r.matches(normalized))
        )
    assert hit == set(range(len(RULES)))


def test_file_types_map_to_bigquery():
    assert bigquery_type(pa.list_(pa.int32())) == "ARRAY<INT64>"
    assert bigquery_type(pa.timestamp("ms")) == "DATETIME"
    assert bigquery_type(pa.struct([("a", pa.string())])) == "STRUCT<`a` STRING>"


def test_sanitize_rules():
    assert sanitize("Unit Price") == "Unit_Price"
    assert sanitize("Ünïcode-Naïve") == "Unicode_Naive"
    assert sanitize("2nd") == "_2nd"
    assert sanitize('a"; DROP TABLE x; --') == "a_DROP_TABLE_x_"
    assert sanitize("_TABLE_x") == "c_TABLE_x"
    assert sanitize("🎉") == "column"
    assert len(sanitize("x" * 300)) == 128


def test_collisions_resolve_by_the_set_of_names_not_their_order():
    names = ["a b", "a_b", "A_B", "a-b", "🎉", "?"]
    mapping = column_names(names)
    assert mapping == {"a b": "a_b_3", "a_b": "a_b_2", "A_B": "A_B", "a-b": "a_b_4",
                       "🎉": "column_2", "?": "column"}  # fmt: skip
    assert column_names(list(reversed(names))) == mapping
    assert len({v.lower() for v in mapping.values()}) == len(names)


def test_spec_errors_name_the_field():
    with pytest.raises(SpecError, match=r"primary_key: .*transactional"):
        load_job(job(strategy={"kind": "transactional", "cursor_column": "ts"}))
    with pytest.raises(SpecError, match=r"table: a database source needs a table"):
        load_job(job(table=None))
    with pytest.raises(SpecError, match=r"source.password: .*exactly one"):
        load_job(job(source={**PG, "password": {"env": "A", "file": "/x"}}))
    with pytest.raises(SpecError, match=r"source.schema: .*only PostgreSQL"):
        load_job(job(source={**PG, "kind": "mariadb", "schema": "s"}))
    with pytest.raises(SpecError, match=r"^invalid config\n  EtlJob: table: "):
        load_job(job(table="bad\nname"))
    with pytest.raises(SpecError, match=r"destination.table: "):
        load_job(job(destination={"table": "x; drop"}))
    with pytest.raises(SpecError, match=r"columns: must include"):
        load_job(job(columns=["a"], primary_key=["id"]))
    with pytest.raises(SpecError, match=r"strategy.backfill_days"):
        load_job(job(strategy={"kind": "transactional", "cursor_column": "t",
                                        "backfill_days": 0}, primary_key=["id"]))  # fmt: skip
    ok = load_job(job(source={**PG, "schema": "sales"}))
    assert ok.source.schema_ == "sales" and ok.engine == "auto" and ok.strategy.kind == "catalog"


def test_passwords_resolve_and_never_print(tmp_path, monkeypatch):
    monkeypatch.setenv("ETL_TEST_PW", "s3cr3t/ü")
    password = resolve(SecretRef(env="ETL_TEST_PW"))
    assert password.reveal() == "s3cr3t/ü" and str(password) == repr(password) == MASK
    (tmp_path / "pw").write_text("filepw\n")
    assert resolve(SecretRef(file=str(tmp_path / "pw"))).reveal() == "filepw"
    assert redact("url postgresql://u:s3cr3t%2F%C3%BC@h and s3cr3t/ü", password) == (
        f"url postgresql://u:{MASK}@h and {MASK}"
    )
    monkeypatch.delenv("ETL_TEST_PW")
    with pytest.raises(SecretError, match=r"source.password.env: environment variable ETL_TEST_PW"):
        resolve(SecretRef(env="ETL_TEST_PW"))


def test_secret_manager_request_and_fake_client():
    ref = SecretRef(secret_manager="projects/acme-prod/secrets/pg-orders/versions/latest")
    assert secret_manager_request(ref) == {"name": ref.secret_manager}

    class Client:
        def access_secret_version(self, request):
            assert request == {"name": ref.secret_manager}
            return type("R", (), {"payload": type("P", (), {"data": b"from-sm"})()})()

    assert resolve(ref, client=Client()).reveal() == "from-sm"
    with pytest.raises(SpecError, match="secret_manager: expected"):
        load_job(job(source={**PG, "password": {"secret_manager": "pg-orders"}}))


def test_password_object_never_leaks_through_format():
    assert "x" not in f"{Password('x')} {Password('x')!r}"


def test_the_docs_mapping_table_is_current():
    from etl import docs

    assert docs.main(["--check"]) == 0, "run python -m etl.docs"
