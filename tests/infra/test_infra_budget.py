"""Every tenant has a monthly billing budget over its own project, alerting its contact."""

from __future__ import annotations

import copy

import pytest

from infra.config import TENANT_KEY, ConfigError, tenant_from_stack_config
from infra.offline import Graph
from infra.policy import check
from tests.infra.conftest import EXAMPLE_TENANTS


@pytest.mark.parametrize("tenant", EXAMPLE_TENANTS)
def test_the_plan_holds_a_budget_over_the_tenants_project(tenant, graphs, stack_configs):
    graph, _ = graphs[tenant]
    config = tenant_from_stack_config(stack_configs[tenant])
    [budget] = graph.of_type("gcp:billing/budget:Budget")
    [project] = graph.of_type("gcp:organizations/project:Project")
    assert budget.input("budgetFilter.projects") == [f"projects/{project.outputs['number']}"]
    assert budget.input("amount.specifiedAmount.units") == str(config.budget.amount)
    assert [t["thresholdPercent"] for t in budget.input("thresholdRules")] == [0.5, 0.9, 1.0]
    [channel] = graph.of_type("gcp:monitoring/notificationChannel:NotificationChannel")
    assert channel.input("labels") == {"email_address": config.contact_email}
    assert budget.input("billingAccount") == config.billing_account


def test_the_policy_flags_a_tenant_without_a_budget(graphs):
    graph, ctx = graphs["small"]
    stripped = Graph(graph.stack, [r for r in graph.resources
                                   if r.type != "gcp:billing/budget:Budget"])  # fmt: skip
    found = [v for v in check(stripped, ctx) if v.rule == "tenant-budget"]
    assert len(found) == 1 and "no billing budget" in found[0].message
    assert not [v for v in check(graph, ctx) if v.rule == "tenant-budget"]


@pytest.mark.parametrize(
    ("budget", "field", "why"),
    [
        (None, "tenant.budget", "Field required"),
        ({"amount": 0}, "tenant.budget.amount", "greater than or equal to 1"),
        ({"amount": 10, "currency": "euro"}, "tenant.budget.currency", "should match pattern"),
        ({"amount": 10, "thresholds": [0.9, 0.5]}, "tenant.budget.thresholds", "increasing"),
        ({"amount": 10, "thresholds": [0.0]}, "tenant.budget.thresholds", "not a fraction"),
        ({"amount": 10, "thresholds": [float("nan")]}, "tenant.budget.thresholds[0]",
         "finite number"),
        ({"amount": 10, "thresholds": []}, "tenant.budget.thresholds", "at least 1 item"),
    ],
)  # fmt: skip
def test_a_bad_budget_is_named(stack_configs, budget, field, why):
    config = copy.deepcopy(stack_configs["small"])
    if budget is None:
        del config[TENANT_KEY]["budget"]
    else:
        config[TENANT_KEY]["budget"] = budget
    with pytest.raises(ConfigError) as caught:
        tenant_from_stack_config(config)
    assert f"{field}: " in str(caught.value) and why in str(caught.value), str(caught.value)
