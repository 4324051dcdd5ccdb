"""Google naming limits enforced by the naming helper."""

import pytest

from infra import naming


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("project_id", "b2brecs-acme"),
        ("project_id", "a" * 30),
        ("service_account_id", "training-scheduler"),
        ("bucket", "b2brecs-acme-quicktest-artifacts"),
        ("cloud_run_service", "serve-" + "a" * 43),
    ],
)
def test_valid_names_pass_through(kind, value):
    assert naming.check(kind, value) == value


@pytest.mark.parametrize(
    ("kind", "value", "fragment"),
    [
        ("project_id", "abc", "Google allows 6-30"),
        ("project_id", "a" * 31, "31 characters"),
        ("project_id", "Acme-project", "lowercase"),
        ("project_id", "acme-project-", "not ending with a hyphen"),
        ("project_id", "1acme-project", "starting with a letter"),
        ("service_account_id", "app", "Google allows 6-30"),
        ("bucket", "x" * 64, "Google allows 3-63"),
        ("bucket", "Upper-Case", "invalid"),
        ("cloud_run_service", "serve-" + "a" * 44, "Google allows 1-49"),
        ("label_value", "Has Space", "invalid"),
    ],
)
def test_invalid_names_fail_with_the_limit(kind, value, fragment):
    with pytest.raises(naming.InvalidName, match=fragment):
        naming.check(kind, value)


def test_derived_names():
    assert naming.project_id("acme") == "b2brecs-acme"
    assert naming.sa_email("etl-runner", "b2brecs-acme") == (
        "etl-runner@b2brecs-acme.iam.gserviceaccount.com"
    )
    with pytest.raises(naming.InvalidName, match="project id"):
        naming.project_id("a-tenant-id-that-is-far-too-long")
