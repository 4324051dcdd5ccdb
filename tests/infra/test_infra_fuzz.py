"""Property-based fuzz of tenant stack configs: every mutant of an example tenant is either
refused with a message naming the field (ConfigError, exit code 2 in the CLI), or accepted with a
plan that passes every policy rule. Never any other exception."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from infra.config import TENANT_KEY, ConfigError
from infra.policy import check
from infra.stacks import evaluate_stack, policy_context
from tests.fuzzing import Tally, fuzz_settings, mutants
from tests.infra.conftest import EXAMPLE_TENANTS

VALIDATED = 2000  # configs validated (and checked against the tenant register)
PLANNED = 200  # configs validated, then planned with Pulumi's mocks and checked by the policy

# `tenant.schedules[0].cron: why`, or the register's and the secrets' `<key>: why`.
FIELD_MESSAGE = re.compile(r"^(tenant|b2b-recs:[\w-]+)[\w.\[\]-]*: \S")


def _tenant_mutants(stack_configs):
    examples = [(name, stack_configs[name][TENANT_KEY]) for name in EXAMPLE_TENANTS]
    return st.sampled_from(examples).flatmap(
        lambda pair: mutants([pair[1]]).map(lambda tenant: (pair[0], tenant))
    )


def _validate(stack_configs, stack, tenant, tally):
    """The context of an accepted config, or None once a refusal's message was checked."""
    config = {**stack_configs[stack], TENANT_KEY: tenant}
    try:
        return config, policy_context(stack, config)
    except ConfigError as exc:
        lines = [line.strip() for line in str(exc).splitlines()]
        lines = [line for line in lines if line != "invalid configuration:"]
        assert lines and all(FIELD_MESSAGE.match(line) for line in lines), str(exc)
        tally.refused += 1
        return None


def test_every_tenant_mutant_is_refused_by_field_or_accepted(stack_configs):
    tally = Tally("tenant configs, validated")

    @fuzz_settings(VALIDATED)
    @given(case=_tenant_mutants(stack_configs))
    def check_one(case):
        if _validate(stack_configs, *case, tally) is not None:
            tally.accepted += 1

    check_one()
    print(tally.report())
    assert tally.total >= VALIDATED * 0.9 and tally.accepted and tally.refused


def test_every_accepted_tenant_mutant_plans_within_the_policy(stack_configs):
    tally = Tally("tenant configs, validated and planned")

    @fuzz_settings(PLANNED)
    @given(case=_tenant_mutants(stack_configs))
    def check_one(case):
        stack = case[0]
        validated = _validate(stack_configs, *case, tally)
        if validated is None:
            return
        config, _ = validated
        graph, ctx = evaluate_stack(stack, config)
        violations = check(graph, ctx)
        assert not violations, "\n".join(map(str, violations))
        tally.accepted += 1

    check_one()
    print(tally.report())
    assert tally.total >= PLANNED * 0.9 and tally.accepted
