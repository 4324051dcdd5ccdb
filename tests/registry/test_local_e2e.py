"""The local backend end to end (MLflow's registry on SQLite, model servers and the split router
on 127.0.0.1), driven through `python -m registry`: two registered versions, a 90/10 split
asked 2,000 times, rollback, undeploy and deploy again, and the refusals."""

from __future__ import annotations

import json
import random
import urllib.request
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor

import pytest

from registry import CHAMPION, Registration
from registry.__main__ import main
from registry.mlflow_registry import MlflowModelRegistry
from registry.registration import RunOutputs, register_run
from tests.registry.versioned_model import catalogue, save_versioned_model

MODEL = "acme-main"
pytestmark = pytest.mark.integration


def _run(tmp_path, tag: str) -> RunOutputs:
    """A generated run: its serving model answers `catalogue(tag)`; statistics and schema."""
    run = tmp_path / "runs" / tag
    save_versioned_model(run / "Format-Serving", tag)
    (run / "statistics" / "Split-eval").mkdir(parents=True)
    (run / "statistics" / "Split-eval" / "FeatureStats.pb").write_bytes(b"")
    (run / "schema").mkdir()
    (run / "schema" / "schema.pbtxt").write_text('feature { name: "customer_id" }\n')
    return RunOutputs(serving_model=str(run / "Format-Serving"), run_id=f"run-{tag}",
                      model_type="retrieval", blessed=True, metrics={"recall_at_10": 0.3},
                      statistics=str(run / "statistics"), schema=str(run / "schema"))  # fmt: skip


def _cli(capsys, *args: str):
    code = main([*args, "--json"])
    captured = capsys.readouterr()
    return code, (json.loads(captured.out) if code == 0 else captured.err)


def _ask(url: str, customer: str) -> dict:
    body = json.dumps({"instances": [{"customer_id": customer, "revenue": 1.0}]}).encode()
    request = urllib.request.Request(f"{url}/v1/models/recommender:predict", data=body,
                                     headers={"Content-Type": "application/json"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())["predictions"][0]


def test_split_rollback_undeploy_and_deploy_again(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    registry = MlflowModelRegistry(uri)
    models = tmp_path / "models"
    runs = {tag: _run(tmp_path, tag) for tag in ("v1", "v2")}
    for tag in ("v1", "v2"):  # each blessed run registered as champion, as the pipeline does
        version, kept = register_run(registry, runs[tag], model_name=MODEL,
                                     models_dir=str(models))  # fmt: skip
        data = models / "_data" / MODEL / f"v{version.version}"
        assert kept == {"statistics_uri": str(data / "statistics"),
                        "schema_uri": str(data / "schema")}  # fmt: skip
        assert (data / "schema" / "schema.pbtxt").exists()
    # A retry of a registered run registers nothing twice.
    again, _ = register_run(registry, runs["v2"], model_name=MODEL, models_dir=str(models))
    assert again.version == "2" and len(registry.versions(MODEL)) == 2
    registry.register(Registration(model_name=MODEL, artifact_uri=str(models / MODEL / "v1"),
                                   run_id="run-unblessed", model_type="retrieval",
                                   blessed=False))  # fmt: skip
    registry.register(Registration(model_name="acme-other", artifact_uri=runs["v1"].serving_model,
                                   run_id="run-other", model_type="retrieval", blessed=True,
                                   aliases=(CHAMPION,)))  # fmt: skip
    common = ("--registry", uri)
    try:
        # The training template's Deploy stage serves the champion; the CLI takes over from there.
        from components.recs_deployer.executor import deploy

        champion = registry.get(MODEL)
        record = deploy({"registered": True, "model_name": MODEL, "version": champion.version,
                         "artifact_uri": champion.artifact_uri},
                        {"deploy_target": "local", "models_dir": str(models)})  # fmt: skip
        assert record["status"] == "deployed", record
        code, deployed = _cli(capsys, "status", MODEL, *common)
        assert code == 0 and deployed["state"] == "serving" and deployed["model_name"] == MODEL
        assert deployed["url"] == record["endpoint_url"]
        assert deployed["traffic"] == {"2": 100} and deployed["resources"]["timeout_seconds"] == 300
        assert _ask(deployed["url"], "C-1")["product_ids"] == catalogue("v2")

        # 90 % to the champion (v2), 10 % to v1; 1,000 customers asking twice each.
        code, split = _cli(capsys, "split", MODEL, "1", "10", *common)
        assert code == 0 and split["traffic"] == {"2": 90, "1": 10}, split
        customers = [f"C-{i:04d}" for i in range(1000)] * 2
        random.Random(7).shuffle(customers)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(lambda c: _ask(split["url"], c), customers))
        seen: dict[str, set[str]] = defaultdict(set)
        for customer, answer in zip(customers, answers, strict=True):
            seen[customer].add(answer["model_version"])
            assert answer["product_ids"] == catalogue(f"v{answer['model_version']}")
        shares = Counter(a["model_version"] for a in answers)
        assert sum(shares.values()) == 2000
        assert abs(shares["1"] / 2000 - 0.10) <= 0.03 and abs(shares["2"] / 2000 - 0.90) <= 0.03
        assert all(len(versions) == 1 for versions in seen.values())
        with capsys.disabled():  # the measured shares, for the record (pytest -s)
            print(json.dumps({"split_shares": {v: n / 2000 for v, n in shares.items()}}))

        # The champion goes back to v1, which is redeployed alone.
        code, rolled = _cli(capsys, "rollback", MODEL, *common)
        assert code == 0 and rolled["champion"]["version"] == "1"
        assert rolled["endpoint"]["traffic"] == {"1": 100}
        assert _ask(rolled["endpoint"]["url"], "C-1")["product_ids"] == catalogue("v1")

        # Another model may not touch this endpoint.
        code, err = _cli(capsys, "deploy", "acme-other", "--endpoint", MODEL, *common)
        assert code == 2 and "serves model 'acme-main'" in err

        code, gone = _cli(capsys, "undeploy", MODEL, *common)
        assert code == 0 and gone == {"endpoint": MODEL, "undeployed": True}
        code, status = _cli(capsys, "status", MODEL, *common)
        assert code == 0 and status["state"] == "not_deployed"
        code, back = _cli(capsys, "deploy", MODEL, *common)
        assert code == 0 and back["state"] == "serving" and back["traffic"] == {"1": 100}
        assert _ask(back["url"], "C-2")["product_ids"] == catalogue("v1")

        # Promoting the unblessed version 3 is refused without --override.
        code, err = _cli(capsys, "promote", MODEL, "3", *common)
        assert code == 2 and "--override REASON" in err
    finally:
        main(["undeploy", MODEL, *common])
