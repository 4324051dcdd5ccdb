"""`python -m pipelines run` and `warehouse import`: a template on data the project does not ship.

Every bad input is refused before the first component starts, naming it; one e2e test imports
CSV and Parquet files the way a new user would and runs the quick test on them.
"""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from demo import steps
from pipelines.__main__ import main

EXAMPLE = steps.EXAMPLES / "demo_b2b"


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory):
    """The demo's three tables, generated small."""
    root = tmp_path_factory.mktemp("warehouse")
    return steps.make_data(root, customers=120, products=40, transactions=2500)


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_missing_table_fails_before_anything_runs_naming_the_expected_path(
    tmp_path, warehouse, capsys
):
    partial = tmp_path / "partial"
    shutil.copytree(warehouse, partial)
    (partial / "raw_data" / "products.parquet").unlink()
    out = tmp_path / "out"
    code, _, err = run_cli(capsys, "run", "quicktest", "--configs", str(EXAMPLE),
                           "--warehouse", str(partial), "--out", str(out))  # fmt: skip
    assert code == 2
    assert "table raw_data.products is not in the warehouse" in err
    assert str(partial.resolve() / "raw_data" / "products.parquet") in err
    assert not out.exists()  # nothing rendered, nothing run


def test_a_missing_column_is_named_with_the_columns_the_table_has(tmp_path, warehouse, capsys):
    changed = tmp_path / "changed"
    shutil.copytree(warehouse, changed)
    path = changed / "raw_data" / "customers.parquet"
    pd.read_parquet(path).drop(columns=["city"]).to_parquet(path)
    code, _, err = run_cli(capsys, "run", "quicktest", "--configs", str(EXAMPLE),
                           "--warehouse", str(changed), "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 2 and "raw_data.customers" in err and "no column(s) ['city']" in err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"version": "9.9.9"}, "9.9.9"),
        ({"param": "no_such=1"}, "has no parameter(s) ['no_such']"),
        ({"param": "epochs=-3"}, "epochs"),
        ({"param": "oops"}, "is not k=v"),
        ({"model": "missing.json"}, "--model: "),
        ({"bad_features": True}, "features.json: query_tower"),
    ],
)
def test_bad_input_is_named_and_nothing_runs(tmp_path, warehouse, capsys, change, expected):
    configs = tmp_path / "configs"
    shutil.copytree(EXAMPLE, configs)
    if change.get("bad_features"):
        features = json.loads((configs / "features.json").read_text())
        features["query_tower"]["features"][0]["column"] = 'a"); import os  #'
        (configs / "features.json").write_text(json.dumps(features))
    args = ["run", "quicktest", "--configs", str(configs), "--warehouse", str(warehouse),
            "--out", str(tmp_path / "out")]  # fmt: skip
    if "version" in change:
        args += ["--version", change["version"]]
    if "param" in change:
        args += ["--param", change["param"]]
    if "model" in change:
        args += ["--model", str(tmp_path / change["model"])]
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and expected in err, err
    assert not (tmp_path / "out").exists()


def test_a_failing_step_is_named_with_the_end_of_its_log(tmp_path, warehouse, capsys):
    configs = tmp_path / "configs"
    shutil.copytree(EXAMPLE, configs)
    dataset = json.loads((configs / "dataset.json").read_text())
    dataset["filters"] = [{"type": "numeric", "column": "quantity", "op": "gt", "value": 1e12}]
    (configs / "dataset.json").write_text(json.dumps(dataset))  # a query that keeps no row
    code, out, err = run_cli(capsys, "run", "quicktest", "--configs", str(configs),
                             "--warehouse", str(warehouse), "--out", str(tmp_path / "out"))  # fmt: skip
    assert code == 1
    assert "error: pipeline step QueryExampleGen failed" in err
    log = tmp_path / "out" / "run.log"
    assert f"the libraries' last lines (the traceback and all: {log}):" in err
    assert "Traceback" in log.read_text()  # the whole story is in the log
    assert "Traceback" not in out + err


def test_warehouse_import_lays_out_csv_and_parquet_files_and_folders(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"user": ["u1", "u2"], "item": ["i1", "i2"]}).to_csv(
        data / "ratings.csv", index=False
    )
    pd.DataFrame({"item": ["i1", "i2"], "genre": ["a", "b"]}).to_parquet(data / "items.parquet")
    extra = tmp_path / "users.csv"
    extra.write_text("user,age\nu1,30\n")
    code, out, _ = run_cli(capsys, "warehouse", "import", str(data), str(extra),
                           "--warehouse", str(tmp_path / "wh"))  # fmt: skip
    assert code == 0
    assert "raw_data.ratings: 2 rows" in out and "raw_data.users: 1 rows" in out
    from components.warehouse import LocalWarehouse

    wh = LocalWarehouse(tmp_path / "wh")
    assert wh.tables() == ["raw_data.items", "raw_data.ratings", "raw_data.users"]
    got = wh.query("SELECT genre FROM raw_data.items ORDER BY item")
    assert got.column("genre").to_pylist() == ["a", "b"]
    bad = tmp_path / "my-table.csv"
    bad.write_text("a\n1\n")
    code, _, err = run_cli(capsys, "warehouse", "import", str(bad), "--warehouse",
                           str(tmp_path / "wh2"))  # fmt: skip
    assert code == 2 and "invalid table name 'my-table'" in err
    assert not (tmp_path / "wh2").exists()  # nothing written


def test_the_metrics_table_says_how_sure_who_was_dropped_and_what_went_wrong():
    from pipelines.own_data import metrics_table

    recalls = {"recall_at_10": 0.31, "recall_at_100": 0.52, "new_recall_at_10": 0.12}
    table = metrics_table({
        "final_metrics": recalls,
        "baselines": {"popularity": {"recall_at_10": 0.30}},
        "intervals": {"model": {"recall_at_10": [0.21, 0.40], "recall_at_100": [0.43, 0.61]},
                      "popularity": {"recall_at_10": [0.2, 0.4]}},
        "eval": {"customers": 87, "products": 500, "eval_customers": 166, "evaluated": 87,
                 "dropped_unknown_customer": 76, "dropped_no_known_product": 3},
        "health": {"warnings": ["the model collapsed to the popularity ranking: ..."]},
    }, ks=(10, 100)).splitlines()  # fmt: skip
    model = next(i for i, line in enumerate(table) if line.startswith("model"))
    assert table[model + 1].split() == [
        "95%",
        "CI",
        "(bootstrap)",
        "0.21-0.40",
        "0.43-0.61",
        "-",
        "-",
    ]
    assert (
        "evaluated 87 customers of 166 in the eval split (dropped: 76 unknown to the model, "
        "3 with no eval product in its catalogue); 500 products" in table
    )
    assert table[-1] == "WARNING: the model collapsed to the popularity ranking: ..."


# What a client's export looks like: column names that are not identifiers, and a multi-value
# column as a delimited string. The configs name them by source and alias.
RENAMED = {"customers": {"segment": "Customer Segment", "revenue_tier": "Revenue-Tier"},
           "products": {"brand": "Maker's Brand"}}  # fmt: skip


def real_world_configs(folder):
    """The demo's configs for the renamed tables: source names with aliases (so the feature
    config is unchanged) plus a `tags` multi-value feature of the products."""
    folder.mkdir()
    for name in ("model", "training"):
        shutil.copy(EXAMPLE / f"{name}.json", folder / f"{name}.json")
    dataset = json.loads((EXAMPLE / "dataset.json").read_text())
    columns = []
    for column in dataset["columns"]:
        table, name = column["column"].split(".")
        source = RENAMED.get(table, {}).get(name)
        columns.append({"table": table, "source": source, "alias": name} if source else column)
    columns.append({"table": "products", "source": "Tags (pipe-separated)", "alias": "tags"})
    dataset["columns"] = columns
    (folder / "dataset.json").write_text(json.dumps(dataset))
    features = json.loads((EXAMPLE / "features.json").read_text())
    features["candidate_tower"]["features"].append(
        {"kind": "string_list", "column": "tags", "separator": "|", "max_values": 4}
    )
    (folder / "features.json").write_text(json.dumps(features))
    return folder


@pytest.mark.e2e
def test_a_new_users_files_run_through_the_quick_test_in_two_commands(tmp_path, warehouse, capsys):
    """CSV and Parquet files with real-world column names, imported and run as a new user
    would: the query reads them by source name, the model learns a multi-value feature."""
    files = tmp_path / "my-data"
    files.mkdir()
    tables = {t: pd.read_parquet(warehouse / "raw_data" / f"{t}.parquet")
              for t in ("transactions", "customers", "products")}  # fmt: skip
    products = tables["products"]
    products["Tags (pipe-separated)"] = (
        products["category"]
        + "|"
        + products["brand"]
        + ("|" + products["category"].str[:3]).where(products.index % 3 == 0, "")
    )
    for table, names in RENAMED.items():
        tables[table] = tables[table].rename(columns=names)
    for table in ("transactions", "customers"):
        tables[table].to_csv(files / f"{table}.csv", index=False)
    tables["products"].to_parquet(files / "products.parquet")
    own = tmp_path / "wh"
    assert run_cli(capsys, "warehouse", "import", str(files), "--warehouse", str(own))[0] == 0
    configs = real_world_configs(tmp_path / "configs")
    code, out, err = run_cli(capsys, "run", "quicktest", "--configs", str(configs),
                             "--warehouse", str(own), "--out", str(tmp_path / "out"),
                             "--param", "epochs=1")  # fmt: skip
    assert code == 0, err
    assert "[5/5] RecsTrainer done" in out and "status: completed" in out
    for row in ("model", "popularity", "repeat_then_popularity", "item_knn", "ease"):
        assert any(line.startswith(row) for line in out.splitlines()), row
    # Quiet: our lines only; TensorFlow's, Beam's and pip's output is in the run's log.
    assert len(out.splitlines()) < 30, out
    assert "Successfully installed" in (tmp_path / "out" / "run.log").read_text()
    metrics = json.loads(
        (tmp_path / "out")
        .joinpath(
            next(
                line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("metrics: ")
            )
        )
        .read_text()
    )
    assert (
        metrics["hyperparameters"]["epochs"] == 1 and metrics["final_metrics"]["recall_at_10"] > 0
    )
    query = (tmp_path / "out" / "generated" / "dataset_query.sql").read_text()
    assert "`customers`.`Customer Segment` AS `segment`" in query
    assert "`products`.`Maker's Brand` AS `brand`" in query
