"""The policy pack's cases (tests/policy_cases.py) run in the test process: each rule's
validate function gets the arguments the SDK's analyzer servicer would build, so a mutation
tool, which sees only in-process calls, sees every case. tests/test_policies.py runs the same
cases over gRPC, which proves the wire."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from policy_cases import (
    CASES,
    DEPLOY,
    NG,
    Case,
    NotApplicable,
    failures,
    ng,
    res,
    run_in_process,
    stack_args,
    urn,
)
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.llm_platform_rules import POLICIES, _base, cost_caps, security
from policies.llm_platform_rules._base import rule


def run(case: Case, target):
    return run_in_process(POLICIES, case, target)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case):
    assert failures(run, case) == []


def test_every_rule_has_cases():
    assert sorted(p.name for p in POLICIES) == sorted({c.policy for c in CASES})


# --- what runs while the pack is built (a mutation tool sees it only when a test calls it) --

CHART_CHILD = urn(DEPLOY, "d", parent="kubernetes:helm.sh/v4:Chart")


@pytest.mark.parametrize(("address", "expected"), [
    (CHART_CHILD, True),
    # A chart's grandchild, under a component inside the chart.
    (urn(DEPLOY, "d", parent="kubernetes:helm.sh/v4:Chart$llm-platform:index:Group"), True),
    (urn(DEPLOY, "d", parent="llm-platform:index:Group$kubernetes:helm.sh/v4:Chart"), True),
    # The chart itself, a v3 release's child, and our own component's child are ours.
    (urn("kubernetes:helm.sh/v4:Chart", "c"), False),
    (urn(DEPLOY, "d", parent="kubernetes:helm.sh/v3:Release"), False),
    (urn(DEPLOY, "d", parent="llm-platform:index:ModelServer"), False),
    ("not-a-urn", False),
])
def test_in_chart(address: str, expected: bool):
    assert _base.in_chart(address) is expected


def _resource_args(address: str) -> ResourceValidationArgs:
    return ResourceValidationArgs(DEPLOY, {}, address, "d", None, None)


def test_resource_rules_skip_chart_objects_and_pass_the_rest_through():
    seen: list[tuple[str, Any]] = []

    def check(args, report):
        seen.append((args.urn, report))

    wrapped = _base._outside_charts(check)
    wrapped(_resource_args(CHART_CHILD), print)
    assert seen == []
    own = urn(DEPLOY, "d")
    wrapped(_resource_args(own), print)
    assert seen == [(own, print)]


def test_rule_declares_a_mandatory_policy_with_its_schema():
    calls: list[Any] = []

    def check(args, report):
        calls.append(args)

    schema = {"maxThings": {"type": "integer", "minimum": 1}}
    resource = rule("r", "What r checks.", check, severity=Severity.LOW, remediation="Fix r.",
                    schema=schema)
    stack = rule("s", "What s checks.", check, severity=Severity.CRITICAL,
                 remediation="Fix s.", stack=True)
    assert type(resource) is ResourceValidationPolicy
    assert type(stack) is StackValidationPolicy
    assert [(p.name, p.description, p.enforcement_level, p.severity, p.remediation_steps)
            for p in (resource, stack)] == [
        ("r", "What r checks.", EnforcementLevel.MANDATORY, Severity.LOW, "Fix r."),
        ("s", "What s checks.", EnforcementLevel.MANDATORY, Severity.CRITICAL, "Fix s."),
    ]
    # An undeclared schema is an empty one, so the engine refuses any property.
    assert (resource.config_schema.properties, stack.config_schema.properties) == (schema, {})
    # A resource rule leaves chart objects alone; a stack rule sees every resource.
    resource.validate(_resource_args(CHART_CHILD), print)
    assert calls == []
    own = _resource_args(urn(DEPLOY, "d"))
    resource.validate(own, print)
    whole = StackValidationArgs([])
    stack.validate(whole, print)
    assert calls == [own, whole]


def test_schema_helpers():
    assert _base.string_list("GPU models", ["L4"]) == {
        "type": "array", "items": {"type": "string"}, "default": ["L4"],
        "description": "GPU models"}
    assert security._schema_bool("digests only") == {
        "type": "boolean", "default": False, "description": "digests only"}


@pytest.mark.parametrize(("config", "valid"), [
    ({"maxMonthlyUsd": 0}, True), ({"maxMonthlyUsd": 1358.53}, True),
    ({"maxMonthlyUsd": -0.01}, False), ({"maxMonthlyUsd": "1000"}, False),
])
def test_cost_cap_schema(config: dict[str, Any], valid: bool):
    # What `pulumi policy` shows for the property, and what the engine checks config against.
    assert cost_caps._cost_schema()["maxMonthlyUsd"]["description"] == (
        "monthly cost cap in USD; default: the sum of the stack's cloud budgets")
    schema = {"type": "object", "properties": cost_caps._cost_schema(),
              "additionalProperties": False}
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(config))
    assert (errors == []) is valid


def test_cost_cap_without_a_cap_or_a_budget_is_not_applicable():
    """The engine lists the rule as not applicable, with this reason, instead of passing it."""
    policy = next(p for p in POLICIES if p.name == "monthly-cost-cap")
    with pytest.raises(NotApplicable) as skipped:
        policy.validate(stack_args([res(NG, "ng", ng(731))]), print)
    assert skipped.value.args == ("no maxMonthlyUsd in policy config and no cloud budget",)
