"""The CrossGuard pack, driven over the engine's gRPC analyzer protocol.

Every branch of every rule has a violating case and its near miss (tests/policy_cases.py).
The cases go through `Analyze` and `AnalyzeStack` on a running pack
(`python -m pulumi.policy <addr> policies`), so property deserialization, secrets and unknown
values behave as under `pulumi preview`. The mutation test gives each rule, in the test
process, a copy that checks nothing, and requires that at least one of the rule's cases then
fails; tests/test_policy_branches.py removes one branch at a time.
"""

from __future__ import annotations

import importlib
import inspect
import json
import keyword
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from policy_cases import CASES, NG, NODE_GROUP, TAGS, Case, failures, res, run_in_process, with_
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2 as pb
from pulumi_policy import ResourceValidationPolicy, StackValidationPolicy
from pulumi_policy.policy import Policy

from components import pricing
from components.plan import wire
from components.plan.policy import Analyzer, PolicyConfigError, Resource, Violation
from policies.llm_platform_rules import POLICIES

PACK = ROOT / "policies"
# The engine's secret envelope (components/plan/wire.py; tests/test_sdk_contract.py checks
# the installed SDK still writes it).
SECRET = {wire.SIG_KEY: wire.SECRET_SIG}


def over_grpc(analyzer: Analyzer):
    def run(case: Case, target: Resource | list[Resource]) -> list[Violation]:
        analyzer.configure({case.policy: case.config} if case.config else {})
        found = (
            analyzer.analyze(target)
            if isinstance(target, Resource)
            else analyzer.analyze_stack(target)
        )
        return [v for v in found if v.policy == case.policy]

    return run


@pytest.fixture(scope="module")
def analyzer():
    with Analyzer(PACK) as a:
        yield a


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(analyzer: Analyzer, case: Case):
    assert failures(over_grpc(analyzer), case) == []


def test_every_rule_has_cases_and_metadata(analyzer: Analyzer):
    info = analyzer.info()
    names = [p.name for p in info.policies]
    assert sorted(names) == sorted({c.policy for c in CASES})
    for p in info.policies:
        assert p.description and p.remediation_steps, p.name
        assert p.severity != pb.POLICY_SEVERITY_UNSPECIFIED, p.name
        assert p.enforcementLevel in (pb.MANDATORY, pb.ADVISORY), p.name
        assert p.HasField("configSchema"), p.name


def test_rules_import_without_starting_the_pack():
    sys.path.insert(0, str(PACK))
    try:
        rules = importlib.import_module("llm_platform_rules")
    finally:
        sys.path.remove(str(PACK))
    with Analyzer(PACK) as a:
        assert [p.name for p in rules.POLICIES] == [p.name for p in a.info().policies]


def test_secrets_are_unwrapped_as_in_the_engine(analyzer: Analyzer):
    """A tag value that is a Pulumi secret is still a tag value to the rule."""
    analyzer.configure({})
    tags = {**TAGS, "owner": {**SECRET, "value": "oncall"}}
    assert analyzer.analyze(res("aws:s3/bucket:Bucket", "b", {"tags": tags})) == []


def test_unknown_values_defer_the_rule_instead_of_failing(analyzer: Analyzer):
    """During preview an instance type computed from another resource is unknown: the
    engine's rule reports that it can't run yet (advisory), it neither passes silently
    nor crashes the pack."""
    analyzer.configure({})
    group = with_(NODE_GROUP, "capacityType", rpc.UNKNOWN)
    group = with_(group, f"tags.{pricing.PURPOSE_TAG}", "training")
    found = analyzer.analyze(res(NG, "ng", group))
    assert [(v.policy, v.enforcement) for v in found] == [("training-on-spot", "advisory")]
    assert "can't be known during preview" in found[0].message


def test_configured_enforcement_level_applies(analyzer: Analyzer):
    case = next(c for c in CASES if c.policy == "pinned-images")
    analyzer.configure({"pinned-images": "advisory"})
    found = analyzer.analyze(case.bad)
    assert found and {v.enforcement for v in found} == {"advisory"}
    analyzer.configure({"pinned-images": "disabled"})
    assert analyzer.analyze(case.bad) == []


def _removed(policy: Policy) -> Policy:
    """The rule as it would be if its check were deleted: same name, level and schema."""
    kind = ResourceValidationPolicy if isinstance(policy, ResourceValidationPolicy) else (
        StackValidationPolicy)
    return kind(name=policy.name, description=policy.description,
                validate=lambda args, report_violation: None,
                enforcement_level=policy.enforcement_level,
                config_schema=policy.config_schema, severity=policy.severity,
                remediation_steps=policy.remediation_steps)


# In the test process, with the arguments the SDK's servicer builds (policy_cases.run_in_process):
# a pack process per rule cost 30 s of `make test`, and test_rule already holds every case to
# the same answer over gRPC.
@pytest.mark.parametrize("name", sorted({c.policy for c in CASES}))
def test_removing_a_rules_check_fails_its_tests(name: str):
    mutant = [_removed(p) if p.name == name else p for p in POLICIES]
    # The first case that notices is enough.
    noticed = any(failures(lambda c, t: run_in_process(mutant, c, t), c)
                  for c in CASES if c.policy == name)
    assert noticed, f"{name}: no test notices when its check is removed"


def test_taggable_types_match_the_provider_sdks(planned):
    """TAGGABLE lists a type iff its SDK resource takes the tags/labels input the rule reads,
    for every cloud type the example stacks create."""
    sys.path.insert(0, str(PACK))
    try:
        tagging = importlib.import_module("llm_platform_rules.tagging")
    finally:
        sys.path.remove(str(PACK))
    sdk = {"aws": "pulumi_aws", "gcp": "pulumi_gcp", "azure-native": "pulumi_azure_native"}
    types = {
        r["type"]
        for p in planned.values()
        for r in p.plan["resources"]
        if r["custom"] and r["type"].split(":")[0] in sdk
    }
    wrong = []
    for t in sorted(types):
        pkg, module, cls = t.split(":")
        name = module.split("/")[0]
        mod = importlib.import_module(f"{sdk[pkg]}.{name}{'_' if keyword.iskeyword(name) else ''}")
        params = inspect.signature(getattr(mod, cls)._internal_init).parameters
        key = re.sub(r"(?<!^)(?=[A-Z])", "_", tagging.tag_path(t)[0]).lower()
        if (key in params) != (t in tagging.TAGGABLE):
            wrong.append(f"{t}: SDK takes {key}={key in params}")
    assert wrong == []


# --- the offline plan runs the pack -----------------------------------------------------


def test_example_stacks_have_no_mandatory_violations(planned):
    for stack, p in planned.items():
        verdict = json.loads((p.out / "policy.json").read_text())
        assert verdict["passed"], (stack, verdict["violations"])
        assert p.summary["policy"]["mandatory"] == 0
        assert len(verdict["policies"]) == len({c.policy for c in CASES})


def test_example_stacks_show_the_undigested_gateway_image_as_advisory_with_the_reason(planned):
    """The gateway image has no digest until a release pushes it (versions.yaml row
    `gateway`, digest_pending), so each example stack's policy config lowers
    gateway-image-digest to advisory with its reason, and the plan shows the violation."""
    for stack, p in planned.items():
        if "gateway" not in p.cost:
            continue
        config = json.loads((PACK / "config" / f"{stack}.json").read_text())
        reason = config["gateway-image-digest"]["reason"]
        assert reason.startswith("until images.yml pins the gateway image's digest"), stack
        verdict = json.loads((p.out / "policy.json").read_text())
        found = [v for v in verdict["violations"] if v["policy"] == "gateway-image-digest"]
        assert [(v["enforcement"], v["resource"]) for v in found] == [
            ("advisory", f"{stack}-gateway-deployment"), ("advisory", f"{stack}-gateway-provision")]
        assert all(v["detail"].endswith(f"Lowered by the policy config: {reason}.") for v in found)


def test_cost_cap_below_the_aws_stack_fails_the_plan(tmp_path: Path):
    # The aws stack's estimate, $2,030.56 a month, is worked out line by line from the catalog
    # in tests/test_pricing.py::test_aws_stack_cost_by_hand; its dearest line is the L40S
    # node group, 730 node-h x $1.861 (g6e.xlarge on demand) = $1,358.53. A cap at half the
    # estimate ($1,014) fails the plan; the near miss (a cap at the estimate) is a case of
    # tests/policy_cases.py, run in-process and over gRPC.
    below = tmp_path / "below.json"
    below.write_text(json.dumps({"monthly-cost-cap": {"maxMonthlyUsd": 1014}}))
    failed = run_cli("plan", "--stack", "aws", "--out", str(tmp_path / "b"),
                     "--policy-config", str(below))
    assert failed.returncode == 3, failed.stderr
    text = " ".join(failed.stdout.split())
    assert "$2,030.56/month is over the cap $1,014.00" in text
    assert "aws-aws-l40s-ng $1,358.53" in text
    verdict = json.loads((tmp_path / "b" / "policy.json").read_text())
    # This config replaces policies/config/aws.json, which lowers gateway-image-digest until
    # the gateway image has a digest: without it the rule is mandatory for the Deployment
    # and the provisioning Job.
    assert [(v["policy"], v["enforcement"]) for v in verdict["violations"]] == [
        ("gateway-image-digest", "mandatory"), ("gateway-image-digest", "mandatory"),
        ("monthly-cost-cap", "mandatory")]


def test_bad_policy_config_is_one_line_per_problem(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"monthly-cost-cap": {"enforcementLevel": "fatal"},
                               "no-such-rule": "mandatory"}))
    proc = run_cli("plan", "--stack", "local", "--out", str(tmp_path / "o"),
                   "--policy-config", str(bad))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "enforcementLevel: must be one of" in lines[0], proc.stderr
    bad.write_text(json.dumps({"all": {"maxMonthlyUsd": 5}}))
    proc = run_cli("plan", "--stack", "local", "--out", str(tmp_path / "o"),
                   "--policy-config", str(bad))
    assert proc.returncode == 2 and "all: sets only enforcementLevel" in proc.stderr
    bad.write_text(json.dumps({"no-such-rule": "mandatory"}))
    proc = run_cli("plan", "--stack", "local", "--out", str(tmp_path / "o"),
                   "--policy-config", str(bad))
    assert proc.returncode == 2 and "no-such-rule: no such policy" in proc.stderr


def test_policy_config_is_checked_against_each_schema(analyzer: Analyzer):
    with pytest.raises(PolicyConfigError) as typo:
        analyzer.configure({"monthly-cost-cap": {"maxMonthlyUSD": 1000}})
    assert typo.value.problems == [
        "policy config: monthly-cost-cap: Additional properties are not allowed "
        "('maxMonthlyUSD' was unexpected)"
    ]
    with pytest.raises(PolicyConfigError) as wrong:
        analyzer.configure({"bounded-scaling": {"maxReplicas": "many"}})
    assert wrong.value.problems == [
        "policy config: bounded-scaling.maxReplicas: 'many' is not of type 'integer'"
    ]


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=3),
    max_leaves=6,
)
_POLICY_NAMES = sorted({c.policy for c in CASES})
# Each rule's first case: every rule reads the drawn config once per example.
_FUZZED = list({c.policy: c for c in reversed(CASES)}.values())
_PROPERTIES = ["maxMonthlyUsd", "allowedGpus", "allowedInstanceTypes", "maxNodesPerPool",
               "maxReplicas", "exemptPools", "requiredTags", "requiredLabels", "severities",
               "maxHopLimit", "requireDigest", "minNotifications", "openCidrs", "component"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(_POLICY_NAMES),
        st.sampled_from(["advisory", "mandatory", "disabled"])
        | st.dictionaries(st.sampled_from(_PROPERTIES), _JSON, max_size=3),
        max_size=4,
    )
)
def test_any_policy_config_is_refused_cleanly_or_runs(analyzer: Analyzer, config):
    """Whatever a user writes in policy config, the plan either names the problem or runs
    every rule; a rule never crashes on a value its schema admits."""
    try:
        analyzer.configure(config)
    except PolicyConfigError as exc:
        assert exc.problems and all(p.startswith("policy config: ") for p in exc.problems)
        return
    for case in _FUZZED:
        for target in (case.good, case.bad):
            if isinstance(target, Resource):
                analyzer.analyze(target)
            else:
                analyzer.analyze_stack(target)


def test_a_pack_that_cannot_start_is_one_error_line(tmp_path: Path):
    (tmp_path / "PulumiPolicy.yaml").write_text("runtime: python\n")
    (tmp_path / "__main__.py").write_text("raise SystemExit('no PolicyPack here')\n")
    proc = run_cli("plan", "--stack", "local", "--out", str(tmp_path / "o"),
                   "--policy-pack", str(tmp_path))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "did not start" in proc.stderr and "no PolicyPack here" in proc.stderr


def test_review_comment_carries_the_verdict_and_the_cost(planned, tmp_path: Path):
    script = [sys.executable, str(ROOT / ".github" / "scripts" / "review-comment.py")]
    aws = planned["aws"]
    proc = subprocess.run([*script, "aws", str(aws.out), "--reason", "no-org"],
                          capture_output=True, text=True, check=True)
    assert "passed, 0 mandatory" in proc.stdout
    assert f"**Estimated cost**: ${aws.cost['monthly_usd']:,.2f}/month" in proc.stdout
    biggest = max(aws.cost["resources"], key=lambda i: i["monthly_usd"])
    assert f"| `{biggest['name']}` |" in proc.stdout
    log = tmp_path / "plan.txt"
    log.write_text("error: spec.models[0].gpu: unknown GPU")
    failed = subprocess.run([*script, "aws", str(tmp_path), "--plan-log", str(log),
                             "--reason", "no-org"], capture_output=True, text=True, check=True)
    assert "The plan failed" in failed.stdout and "unknown GPU" in failed.stdout


def test_all_sets_the_level_of_every_policy_without_its_own(analyzer: Analyzer):
    bad = next(c for c in CASES if c.policy == "pinned-images").bad
    analyzer.configure({"all": "advisory"})
    assert {v.enforcement for v in analyzer.analyze(bad)} == {"advisory"}
    analyzer.configure({"all": {"enforcementLevel": "advisory"},
                        "pinned-images": {"requireDigest": False}})
    assert {v.enforcement for v in analyzer.analyze(bad)} == {"advisory"}
    analyzer.configure({"all": "advisory", "pinned-images": "mandatory"})
    assert {v.enforcement for v in analyzer.analyze(bad)} == {"mandatory"}


def test_the_plan_starts_its_pack_without_pythonunbuffered(monkeypatch: pytest.MonkeyPatch):
    """A CI runner's environment has no PYTHONUNBUFFERED (this machine's has): the pack's port,
    written to a pipe, must still reach the plan, or every preview and deploy stops at
    "policy pack ... did not start" (tests/test_workflow_runs.py runs whole plans that way)."""
    monkeypatch.delenv("PYTHONUNBUFFERED", raising=False)
    with Analyzer(PACK) as pack:
        assert pack.info().name == "llm-platform"
