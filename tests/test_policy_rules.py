"""The policy pack's cases (tests/policy_cases.py) run in the test process: each rule's
validate function gets the arguments the SDK's analyzer servicer would build, so a mutation
tool, which sees only in-process calls, sees every case. tests/test_policies.py runs the same
cases over gRPC, which proves the wire."""

from __future__ import annotations

import pytest
from policy_cases import CASES, Case, failures, run_in_process

from policies.llm_platform_rules import POLICIES


def run(case: Case, target):
    return run_in_process(POLICIES, case, target)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(case: Case):
    assert failures(run, case) == []


def test_every_rule_has_cases():
    assert sorted(p.name for p in POLICIES) == sorted({c.policy for c in CASES})
