"""The TFDV parser service on statistics TFDV computed from a small frame with known answers.

The same service on a local pipeline run's StatisticsGen and SchemaGen output is tested in
tests/pipelines/test_quicktest_e2e.py.
"""

from __future__ import annotations

import asyncio
import json
import os

import pandas as pd
import pytest
from aiohttp.test_utils import TestClient, TestServer

from serving.statistics import SCHEMA_FILE, STATS_FILE, describe
from serving.tfdv_service import make_app


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    """A StatisticsGen-like artifact (two splits) and a SchemaGen-like one, written by TFDV."""
    import tensorflow_data_validation as tfdv

    root = tmp_path_factory.mktemp("run")
    frames = {
        "train": pd.DataFrame(
            {"quantity": [1.0, 2.0, 3.0, None], "country": ["UK", "UK", "FR", "UK"]}
        ),
        "eval": pd.DataFrame({"quantity": [5.0, 7.0], "country": ["DE", "UK"]}),
    }
    for split, frame in frames.items():
        folder = root / "statistics" / f"Split-{split}"
        folder.mkdir(parents=True)
        stats = tfdv.generate_statistics_from_dataframe(frame)
        (folder / STATS_FILE).write_bytes(stats.SerializeToString())
        if split == "train":
            (root / "schema").mkdir()
            tfdv.write_schema_text(tfdv.infer_schema(stats), str(root / "schema" / SCHEMA_FILE))
    return root


def call(root, method: str, path: str, body=None, *, raw: bytes | None = None):
    """(status, parsed JSON or text) of one request to the service reading under `root`."""

    async def go():
        async with TestClient(TestServer(make_app(str(root)))) as client:
            data = raw if raw is not None else json.dumps(body).encode()
            response = await client.request(method, path, data=data if method == "POST" else None)
            text = await response.text()
            is_json = response.content_type == "application/json"
            return response.status, json.loads(text) if is_json else text

    return asyncio.run(go())


def test_each_feature_is_summarized_with_known_values(artifacts):
    status, answer = call(artifacts, "POST", "/v1/statistics", {
        "statistics_uri": str(artifacts / "statistics"),
        "schema_uri": str(artifacts / "schema"),
    })  # fmt: skip
    assert status == 200
    assert [s["split"] for s in answer["splits"]] == ["eval", "train"]
    train = {f["name"]: f for f in answer["splits"][1]["features"]}
    assert answer["splits"][1]["num_examples"] == 4
    quantity, country = train["quantity"], train["country"]
    assert quantity["type"] == "FLOAT" and (quantity["count"], quantity["missing"]) == (3, 1)
    assert quantity["mean"] == pytest.approx(2.0) and quantity["std"] == pytest.approx(0.8165, 1e-3)
    assert (quantity["min"], quantity["max"]) == (1.0, 3.0)
    assert quantity["quantiles"][0] == 1.0 and quantity["quantiles"][-1] == 3.0
    assert sum(bucket["count"] for bucket in quantity["histogram"]) == pytest.approx(3)
    assert country["type"] == "STRING" and country["unique"] == 2
    assert country["top_values"][0] == {"value": "UK", "frequency": 3.0}
    assert country["schema"]["type"] == "BYTES" and country["schema"]["domain_values"] == 2


def test_one_split_and_the_html_view(artifacts):
    uri = str(artifacts / "statistics")
    status, answer = call(artifacts, "POST", "/v1/statistics", {"statistics_uri": uri,
                                                                "split": "eval"})  # fmt: skip
    assert status == 200 and [s["split"] for s in answer["splits"]] == ["eval"]
    assert answer["schema_uri"] is None and "schema" not in answer["splits"][0]["features"][0]
    status, html = call(artifacts, "POST", "/v1/statistics:html", {"statistics_uri": uri,
                                                                   "split": "train"})  # fmt: skip
    assert status == 200 and "<facets-overview" in html


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "'statistics_uri' is required"),
        ({"statistics_uri": 3}, 400, "must be a string"),
        ({"statistics_uri": "{root}/statistics", "nope": 1}, 400, "unknown field"),
        ({"statistics_uri": "{root}/missing"}, 404, "no statistics artifact"),
        ({"statistics_uri": "{root}/statistics", "split": "test"}, 404, "no split 'test'"),
        ({"statistics_uri": "{root}/statistics", "schema_uri": "{root}/nothing"}, 404, "no schema"),
        ({"statistics_uri": "{root}/corrupt"}, 422, "is not a DatasetFeatureStatisticsList"),
        ({"statistics_uri": "/etc"}, 403, "outside the artifact root"),
        ({"statistics_uri": "{root}/../../etc"}, 403, "outside the artifact root"),
    ],
)
def test_bad_requests_and_artifacts_are_named(artifacts, body, status, message):
    corrupt = artifacts / "corrupt" / "Split-train"
    corrupt.mkdir(parents=True, exist_ok=True)
    (corrupt / STATS_FILE).write_bytes(b"\xff not a proto")
    body = {k: v.format(root=artifacts) if isinstance(v, str) else v for k, v in body.items()}
    got, answer = call(artifacts, "POST", "/v1/statistics", body)
    assert got == status and message in answer["error"], answer


def test_a_body_that_is_not_json_is_a_400_and_the_service_stays_up(artifacts):
    status, answer = call(artifacts, "POST", "/v1/statistics", raw=b"{not json")
    assert status == 400 and "not JSON" in answer["error"]
    assert call(artifacts, "GET", "/healthz") == (200, {"status": "ok"})


def test_the_answer_is_what_tfdvs_own_api_reads(artifacts):
    import tensorflow_data_validation as tfdv

    uri = str(artifacts / "statistics")
    answer = describe(uri, split="train")
    [ours] = [f for f in answer["splits"][0]["features"] if f["name"] == "quantity"]
    stats = tfdv.load_stats_binary(os.path.join(uri, "Split-train", STATS_FILE))
    theirs = tfdv.get_feature_stats(stats.datasets[0], tfdv.FeaturePath(["quantity"]))
    assert (ours["mean"], ours["std"]) == (theirs.num_stats.mean, theirs.num_stats.std_dev)
    assert ours["count"] == theirs.num_stats.common_stats.num_non_missing
