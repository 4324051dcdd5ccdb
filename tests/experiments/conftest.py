"""The experiments tests' store: a dozen logged quick-test runs (tests/experiments/logged_runs.py)."""

from __future__ import annotations

import types

import pytest

from tests.experiments.logged_runs import log_run, plans


@pytest.fixture(autouse=True)
def _no_ambient_mlflow_settings(monkeypatch):
    """The CLI sets MLflow's token, retry and timeout variables; each test starts without them
    and they are restored after it."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN", "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                 "MLFLOW_HTTP_REQUEST_TIMEOUT"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def logged(tmp_path_factory):
    """(store URI, database path, run ids in logging order) of the dozen runs."""
    root = tmp_path_factory.mktemp("experiments")
    db = root / "mlflow.db"
    uri = f"sqlite:///{db}"
    ids = [log_run(uri, str(root / "mlflow-artifacts"), plan, str(root / "runs"))
           for plan in plans()]  # fmt: skip
    return types.SimpleNamespace(uri=uri, db=db, run_ids=ids, root=root)
