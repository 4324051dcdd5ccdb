"""Promote and roll back champions in the local registry (MLflow on SQLite), and its CLI."""

from __future__ import annotations

import json

import pytest

from registry import CHAMPION, RegistryError
from registry.__main__ import main
from registry.mlflow_registry import MlflowModelRegistry
from tests.registry.test_registry import registration


@pytest.fixture
def three_versions(tmp_path):
    """acme-retail v1 (champion), v2 (blessed, champion after registration), v3 (not blessed)."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    registry = MlflowModelRegistry(uri)
    registry.register(registration(run_id="a" * 32))
    registry.promote("acme-retail", "1")
    registry.register(registration(run_id="b" * 32, aliases=()))
    registry.promote("acme-retail", "2")
    registry.register(registration(run_id="c" * 32, blessed=False, aliases=()))
    return uri, registry


def test_promote_and_rollback_move_the_champion_back_through_its_history(three_versions):
    _, registry = three_versions
    assert registry.get("acme-retail", CHAMPION).version == "2"
    assert registry.rollback("acme-retail").version == "1"
    assert registry.get("acme-retail").version == "1"
    with pytest.raises(RegistryError, match="no earlier champion"):
        registry.rollback("acme-retail")


def test_an_unblessed_version_needs_an_override_which_is_recorded(three_versions):
    _, registry = three_versions
    with pytest.raises(RegistryError, match=r"v3 was not blessed .* --override REASON"):
        registry.promote("acme-retail", "3")
    assert registry.get("acme-retail").version == "2"  # unchanged
    promoted = registry.promote("acme-retail", "3", override="hotfix for the holiday catalogue")
    assert promoted.aliases == (CHAMPION,)
    assert promoted.labels["override_reason"] == "hotfix for the holiday catalogue"
    assert promoted.labels["promoted_by_override"] == "true"
    assert registry.rollback("acme-retail").version == "2"


def test_promoting_the_champion_again_changes_nothing(three_versions):
    _, registry = three_versions
    registry.promote("acme-retail", "2")
    assert registry.rollback("acme-retail").version == "1"


def test_unknown_models_and_versions_are_named(three_versions):
    _, registry = three_versions
    with pytest.raises(RegistryError, match=r"has no version '9'; it has \['1', '2', '3'\]"):
        registry.promote("acme-retail", "9")
    with pytest.raises(RegistryError, match="no registered model 'nope'"):
        registry.rollback("nope")


def test_the_cli(three_versions, capsys):
    uri, _ = three_versions
    assert main(["list", "--registry", uri]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(" ")[1] for line in lines] == ["v1", "v2", "v3"]
    assert "[champion]" in lines[1] and "NOT blessed" in lines[2]
    assert main(["promote", "acme-retail", "3", "--registry", uri]) == 2
    assert "--override REASON" in capsys.readouterr().err
    assert main(["rollback", "acme-retail", "--registry", uri, "--json"]) == 0
    rolled = json.loads(capsys.readouterr().out)
    assert rolled["endpoint"] is None  # nothing was served: nothing redeployed
    shown = rolled["champion"]
    assert (shown["version"], shown["aliases"]) == ("1", ["champion"])
    assert main(["show", "acme-retail", "--registry", uri]) == 0
    assert capsys.readouterr().out.startswith("acme-retail v1 [champion] blessed")
    assert main(["show", "acme-retail", "--registry", "nonsense"]) == 2


def test_a_registration_that_takes_the_champion_can_be_rolled_back(tmp_path):
    """The Register stage registers a blessed model as champion directly."""
    registry = MlflowModelRegistry(f"sqlite:///{tmp_path}/mlflow.db")
    registry.register(registration(run_id="a" * 32))
    registry.register(registration(run_id="b" * 32))
    assert registry.get("acme-retail").version == "2"
    assert registry.rollback("acme-retail").version == "1"
