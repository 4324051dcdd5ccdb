"""The tenant register (infra.register): the platform is what the platform stack says, and no
tenant collides with another or with the platform, checked before any resource is declared."""

from __future__ import annotations

import copy

import pytest

from infra.config import TENANT_KEY, ConfigError
from infra.naming import InvalidName, check
from infra.plan import main
from infra.stacks import evaluate_stack


def changed(stack_configs, name: str, **changes) -> dict:
    config = copy.deepcopy(stack_configs[name])
    tenant = config[TENANT_KEY]
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(tenant.get(key), dict):
            tenant[key] = {**tenant[key], **value}
        else:
            tenant[key] = value
    return config


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        # The policy bypass: small-shop's own file names gpu-heavy's project "the platform".
        ({"platform": {"project_id": "b2brecs-gpu-heavy"}},
         "tenant.platform.project_id: 'b2brecs-gpu-heavy' is not the platform's "
         "'b2brecs-platform'"),
        ({"platform": {"region": "us-east1"}},
         "tenant.platform.region: 'us-east1' is not the platform's 'europe-central2'"),
        ({"platform": {"docker_repository": "../../x"}},
         "tenant.platform.docker_repository: '../../x' is not the platform's 'shared-images'"),
        # Two tenants, one project: named both ways.
        ({"project_id": "b2brecs-busy-retail"},
         "tenant.project_id: 'b2brecs-busy-retail' is registered to tenant 'busy-retail', "
         "not 'small-shop'"),
        ({"id": "platform", "project_id": None},
         "tenant.project_id: 'b2brecs-platform' is the platform's own project"),
        ({"id": "busy-retail"}, "tenant.id: 'busy-retail' is also the id of stack 'busy'"),
        ({"id": "gpu-heavy", "project_id": "b2brecs-gpu-heavy-two"},
         "tenant.project_id: tenant 'gpu-heavy' is registered with project "
         "'b2brecs-gpu-heavy', not 'b2brecs-gpu-heavy-two'"),
    ],
)  # fmt: skip
def test_the_register_refuses_what_a_tenants_file_may_not_say(stack_configs, changes, message):
    config = changed(stack_configs, "small", **changes)
    if changes.get("project_id", "") is None:
        del config[TENANT_KEY]["project_id"]
    with pytest.raises(ConfigError) as info:
        evaluate_stack("small", config)
    assert message in str(info.value)


def test_two_stack_files_sharing_a_project_name_both_tenants(stack_configs, tmp_path, capsys):
    import yaml

    (tmp_path / "Pulumi.platform.yaml").write_text(
        yaml.safe_dump({"config": stack_configs["platform"]})
    )
    for stack, tenant_id in (("one", "acme-one"), ("two", "acme-two")):
        config = changed(stack_configs, "small", id=tenant_id, project_id="b2brecs-acme-shared")
        (tmp_path / f"Pulumi.{stack}.yaml").write_text(yaml.safe_dump({"config": config}))
    assert main(["--tenant", "two", "--stack-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert ("tenant.project_id: 'b2brecs-acme-shared' is also the project of tenant 'acme-one' "
            "(stack 'one')") in err  # fmt: skip


def test_a_project_id_google_refuses_is_refused():
    with pytest.raises(InvalidName, match="Google refuses 'google' in it"):
        check("project_id", "google-shop")
    with pytest.raises(ConfigError, match="google"):
        from infra.config import tenant_from_stack_config

        tenant_from_stack_config(
            {TENANT_KEY: {"id": "shop", "project_id": "google-shop", "org_id": "123456789012",
                          "billing_account": "01A2B3-C4D5E6-F7A8B9", "budget": {"amount": 100},
                          "platform": {"project_id": "b2brecs-platform", "image_tag": "0.1.0"}}}
        )  # fmt: skip


def test_every_example_tenant_agrees_with_the_register(graphs):
    for name in ("small", "gpu-heavy", "busy"):
        _, ctx = graphs[name]
        assert ctx.shared_projects == frozenset({"b2brecs-platform"})
