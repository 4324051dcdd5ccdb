"""The least-privilege table (infra/access.py) and the plans agree, for every example tenant."""

from __future__ import annotations

import pulumi_gcp as gcp
import pytest

from infra import access, naming
from infra.components.storage import BUCKETS
from infra.config import tenant_from_stack_config
from infra.register import BUCKET_PURPOSES
from tests.infra.conftest import EXAMPLE_TENANTS


def _diff(got: set, want: set) -> str:
    lines = [f"  granted, not in the table: {b}" for b in sorted(got - want)]
    lines += [f"  in the table, not granted: {b}" for b in sorted(want - got)]
    return "\n".join(lines)


@pytest.mark.parametrize("tenant", EXAMPLE_TENANTS)
def test_the_plan_grants_exactly_the_table(tenant, graphs, stack_configs):
    config = tenant_from_stack_config(stack_configs[tenant])
    graph, _ = graphs[tenant]
    got, want = access.granted(graph, config), access.expected(config)
    assert got == want, f"{tenant}:\n{_diff(got, want)}"
    assert len(got) > 40  # the example tenants hold every kind of grant


def test_the_public_endpoints_account_reads_nothing_but_its_model(graphs, stack_configs):
    config = tenant_from_stack_config(stack_configs["busy"])
    [public] = [e.name for e in config.endpoints if e.public]
    mine = {
        b for b in access.granted(graphs["busy"][0], config) if b.identity == f"public:{public}"
    }
    assert mine == {
        access.Binding(
            f"public:{public}", "roles/storage.objectViewer", "bucket:models", f"folder:{public}"
        ),
        access.Binding(f"public:{public}", "roles/logging.logWriter", "project"),
    }
    # ...and the condition is the endpoint's folder of the tenant's model bucket.
    graph = graphs["busy"][0]
    [reader] = [r for r in graph.resources if r.name == f"serving-{public}-model-reader"]
    bucket = naming.bucket(config.gcp_project_id, "models")
    assert reader.input("bucket") == bucket
    assert f'"projects/_/buckets/{bucket}/objects/{public}/"' in reader.input(
        "condition.expression"
    )
    # The private endpoints' account reads the model bucket and no other bucket.
    serving = {b.scope for b in access.granted(graph, config) if b.identity == "serving"}
    assert serving == {"bucket:models", "project"}


@pytest.mark.parametrize("tenant", EXAMPLE_TENANTS)
def test_launchers_act_as_their_workers_and_nobody_holds_dataflow_developer(tenant, graphs,
                                                                            stack_configs):  # fmt: skip
    config = tenant_from_stack_config(stack_configs[tenant])
    got = access.granted(graphs[tenant][0], config)
    assert not [b for b in got if b.role == "roles/dataflow.developer"]
    for runner in ("pipelines", "etl"):
        assert access.Binding(runner, "custom:dataflow-launcher", "project") in got
        assert access.Binding(runner, "roles/iam.serviceAccountUser", f"account:{runner}") in got
    # pipelines-runner can no longer cancel or update ETL's jobs.
    from infra.components.identities import CUSTOM_ROLES

    assert not {"dataflow.jobs.cancel", "dataflow.jobs.updateContents"} & set(
        CUSTOM_ROLES["dataflow-launcher"].permissions
    )


def test_an_extra_grant_breaks_the_agreement(broken, stack_configs):
    """The check is not vacuous: a grant the table does not list is reported."""
    config = tenant_from_stack_config(stack_configs["small"])
    project = config.gcp_project_id

    def extra() -> None:
        gcp.storage.BucketIAMMember(
            "serving-reads-training",
            bucket=naming.bucket(project, "training-artifacts"),
            role="roles/storage.objectViewer",
            member=f"serviceAccount:{naming.sa_email('model-serving', project)}",
        )

    graph, _ = broken("small", extra)
    got, want = access.granted(graph, config), access.expected(config)
    assert got - want == {
        access.Binding("serving", "roles/storage.objectViewer", "bucket:training")
    }


def test_a_grant_the_table_has_no_words_for_is_an_error(broken, stack_configs):
    config = tenant_from_stack_config(stack_configs["small"])

    def extra() -> None:
        gcp.storage.BucketIAMMember(
            "grant-elsewhere", bucket="someone-elses-bucket", role="roles/storage.objectViewer",
            member="user:mallory@example.com",
        )  # fmt: skip

    graph, _ = broken("small", extra)
    with pytest.raises(access.UnreadableGrant, match="bucket 'someone-elses-bucket'"):
        access.granted(graph, config)


def test_the_page_in_docs_is_current():
    assert access.main(["--check"]) == 0, "run: python -m infra.access"


def test_the_register_knows_every_bucket():
    assert set(BUCKET_PURPOSES) == {suffix for suffix, *_ in BUCKETS.values()}


def test_a_long_endpoint_name_still_gets_a_valid_distinct_account():
    a, b = "a" * 40 + "-x", "a" * 40 + "-y"
    ids = {naming.public_serving_account(a), naming.public_serving_account(b)}
    assert len(ids) == 2 and all(len(i) <= 30 for i in ids)
    assert naming.public_serving_account("recs") == "pub-recs"
