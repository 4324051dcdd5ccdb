"""Publishing templates with kfp's real RegistryClient against a registry on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from kfp.registry import ApiAuth, RegistryClient

from pipelines import catalogue, publish
from tests.kfp_registry import TOKEN, kfp_registry

# The compiled IR (test_compile checks the stored IR is), without compiling again.
golden = catalogue.stored_ir


@pytest.fixture
def registry(tmp_path):
    with kfp_registry(tmp_path) as (host, context, state):
        client = RegistryClient(host=host, config_file=str(context), auth=ApiAuth(TOKEN))
        yield client, state, host, context


def test_each_version_is_uploaded_once_tagged_with_the_catalogues_digest(registry, tmp_path):
    client, state, _, _ = registry
    items = publish.artifacts(golden)
    first = publish.publish(client, items, log=lambda line: None)
    assert set(first.values()) == {"uploaded"} and len(first) == len(catalogue.load())
    for (name, version), entry in catalogue.load().items():
        tag = client.get_tag(name, f"v{version}")
        assert tag["version"].endswith(f"/versions/sha256:{entry['ir_sha256']}")
        content = client.download_pipeline(name, tag=f"v{version}",
                                           file_name=str(tmp_path / f"{name}.yaml"))  # fmt: skip
        assert hashlib.sha256(Path(content).read_bytes()).hexdigest() == entry["ir_sha256"]
    uploads = len(state.uploads)
    # Idempotent: a second publish finds every tag holding its digest and uploads nothing.
    second = publish.publish(client, publish.artifacts(golden), log=lambda line: None)
    assert set(second.values()) == {"unchanged"} and len(state.uploads) == uploads == len(items)


def test_a_changed_version_is_refused_and_nothing_is_uploaded(registry):
    client, state, _, _ = registry
    publish.publish(client, publish.artifacts(golden), log=lambda line: None)
    before = len(state.uploads)
    changed = [
        publish.Artifact(a.package, a.tag, hashlib.sha256(a.content + b" ").hexdigest(),
                         a.content + b" ") if a.package == "training" else a
        for a in publish.artifacts(golden)
    ]  # fmt: skip
    with pytest.raises(publish.PublishRefused, match=r"training:v1\.2\.0 is published as sha256:"):
        publish.publish(client, changed, log=lambda line: None)
    assert len(state.uploads) == before


def test_a_build_that_differs_from_the_catalogue_is_not_published():
    def drifted(template):
        spec = golden(template)
        spec["pipelineInfo"]["description"] += " (edited)"
        return spec

    with pytest.raises(publish.PublishRefused, match="not the catalogue's"):
        publish.artifacts(drifted)


def test_the_cli_publishes_then_finds_nothing_to_do(registry, tmp_path, monkeypatch, capsys):
    _, state, host, context = registry
    monkeypatch.setattr("pipelines.vertex.compile_template", golden)
    auth = tmp_path / "token.json"
    auth.write_text(json.dumps(TOKEN))
    args = ["--host", host, "--config-file", str(context), "--auth-file", str(auth)]
    versions = len(catalogue.load())
    assert publish.main(args) == 0
    assert f"published {versions}, unchanged 0" in capsys.readouterr().out
    assert publish.main(args) == 0
    assert f"published 0, unchanged {versions}" in capsys.readouterr().out
    assert len(state.uploads) == versions


def test_the_dry_run_contacts_nothing(registry, monkeypatch, capsys):
    _, state, host, _ = registry
    monkeypatch.setattr("pipelines.vertex.compile_template", golden)
    assert publish.main(["--dry-run", "--host", host]) == 0
    out = capsys.readouterr().out
    for (name, version), entry in catalogue.load().items():
        assert f"would publish {name}:v{version} as sha256:{entry['ir_sha256']}" in out
    assert state.requests == []


def test_a_wrong_token_is_named_without_a_traceback(registry, tmp_path, monkeypatch, capsys):
    _, state, host, context = registry
    monkeypatch.setattr("pipelines.vertex.compile_template", golden)
    auth = tmp_path / "token.json"
    auth.write_text(json.dumps("wrong"))
    code = publish.main(["--host", host, "--config-file", str(context), "--auth-file", str(auth)])
    assert code == 2
    assert "answered 401 (authentication failed)" in capsys.readouterr().err
    assert state.uploads == []
