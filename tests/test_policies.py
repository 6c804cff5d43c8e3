"""The CrossGuard pack, driven over the engine's gRPC analyzer protocol.

Every rule has a compliant and a violating case below. The cases go through `Analyze` and
`AnalyzeStack` on a running pack (`python -m pulumi.policy <addr> policies`), so property
deserialization, secrets and unknown values behave as under `pulumi preview`. The mutation
test starts, for each rule, a pack whose copy of that rule checks nothing, and requires
that at least one of the rule's cases then fails.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import keyword
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pulumi.runtime import rpc
from pulumi.runtime.proto import analyzer_pb2 as pb

from components import conventions, pricing
from components.plan.policy import Analyzer, PolicyConfigError, Resource, Violation

PACK = ROOT / "policies"
SECRET = {rpc._special_sig_key: rpc._special_secret_sig}  # noqa: SLF001
TAGS = {
    "team": "ml-platform",
    "cost-center": "cc-1042",
    "environment": "test",
    "owner": "oncall",
    "managed-by": "llm-platform",
}
LABELS = {
    "app.kubernetes.io/name": "assistant",
    "app.kubernetes.io/instance": "test-assistant",
    "app.kubernetes.io/component": "model-server",
    "app.kubernetes.io/part-of": "llm-platform",
    "app.kubernetes.io/managed-by": "llm-platform",
    "llm-platform.dev/team": "ml-platform",
    "llm-platform.dev/cost-center": "cc-1042",
}
RESTRICTED = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "runAsNonRoot": True,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:test::llm-platform::{type_}::{name}"


def res(type_: str, name: str, props: dict[str, Any], **deps: list[str]) -> Resource:
    return Resource(urn(type_, name), type_, name, props, property_dependencies=deps)


def with_(props: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of props with the dotted path set (None removes the key)."""
    out = copy.deepcopy(props)
    *parents, last = path.split(".")
    node = out
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
    if value is None:
        node.pop(last, None)
    else:
        node[last] = value
    return out


@dataclass
class Case:
    """One rule's compliant and violating input. `good` and `bad` are single resources for
    a resource rule, lists for a stack rule."""

    policy: str
    good: Resource | list[Resource]
    bad: Resource | list[Resource]
    expect: str  # a phrase the violation message must contain: what to fix
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        first = self.bad if isinstance(self.bad, Resource) else self.bad[0]
        return f"{self.policy}:{first.type.rsplit(':', 1)[-1]}:{self.expect[:24]}"


def run(analyzer: Analyzer, case: Case, target: Resource | list[Resource]) -> list[Violation]:
    analyzer.configure({case.policy: case.config} if case.config else {})
    found = (
        analyzer.analyze(target)
        if isinstance(target, Resource)
        else analyzer.analyze_stack(target)
    )
    return [v for v in found if v.policy == case.policy]


def failures(analyzer: Analyzer, case: Case) -> list[str]:
    """What is wrong with the pack's answer to this case (empty when it is right)."""
    problems = []
    good = run(analyzer, case, case.good)
    if good:
        problems.append(f"compliant input reported: {[v.message for v in good]}")
    bad = run(analyzer, case, case.bad)
    if not bad:
        problems.append("violating input passed")
    elif not any(case.expect in v.message for v in bad):
        problems.append(f"no message says {case.expect!r}: {[v.message for v in bad]}")
    elif any(v.enforcement != "mandatory" for v in bad):
        problems.append(f"expected mandatory: {[v.enforcement for v in bad]}")
    return problems


# --- the cases --------------------------------------------------------------------------

NG = "aws:eks/nodeGroup:NodeGroup"
NODE_GROUP = {
    "capacityType": "ON_DEMAND",
    "instanceTypes": ["g6e.xlarge"],
    "scalingConfig": {"minSize": 1, "maxSize": 3, "desiredSize": 1},
    "tags": {**TAGS, pricing.POOL_TAG: "l40s", pricing.PURPOSE_TAG: "inference",
             pricing.NODE_HOURS_TAG: "730"},
}
TRAIN_GROUP = with_(
    with_(NODE_GROUP, "capacityType", "SPOT"), f"tags.{pricing.PURPOSE_TAG}", "training"
)
GKE_POOL = {
    "autoscaling": {"totalMinNodeCount": 0, "totalMaxNodeCount": 4},
    "nodeLocations": ["us-central1-a"],
    "nodeConfig": {
        "machineType": "g2-standard-4",
        "guestAccelerators": [{"type": "nvidia-l4", "count": 1}],
        "spot": True,
        "resourceLabels": {**TAGS, pricing.PURPOSE_TAG: "training"},
    },
}
AKS_POOL = {
    "vmSize": "Standard_NC24ads_A100_v4",
    "enableAutoScaling": True,
    "minCount": 0,
    "maxCount": 2,
    "scaleSetPriority": "Spot",
    "tags": {**TAGS, pricing.PURPOSE_TAG: "training"},
}
EKS = {
    "vpcConfig": {"endpointPrivateAccess": True, "endpointPublicAccess": False},
    "encryptionConfig": {"resources": ["secrets"], "provider": {"keyArn": "arn:aws:kms:k"}},
    "tags": TAGS,
}
GKE = {
    "privateClusterConfig": {"enablePrivateEndpoint": True},
    "resourceLabels": TAGS,
}
AKS = {"apiServerAccessProfile": {"enablePrivateCluster": True}, "tags": TAGS}
LAUNCH_TEMPLATE = {
    "metadataOptions": {"httpEndpoint": "enabled", "httpTokens": "required",
                        "httpPutResponseHopLimit": 1},
    "tags": TAGS,
}
CONTAINER = {
    "name": "server",
    "image": "vllm/vllm-openai:v0.33.0",
    "securityContext": RESTRICTED,
    "startupProbe": {"httpGet": {"path": "/health", "port": 8000}},
    "readinessProbe": {"httpGet": {"path": "/v1/models", "port": 8000}},
}
DEPLOY = "kubernetes:apps/v1:Deployment"
DEPLOYMENT = {
    "metadata": {"name": "assistant", "namespace": "llm", "labels": LABELS},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "assistant"}},
        "template": {
            "metadata": {"labels": LABELS},
            "spec": {"securityContext": {"runAsNonRoot": True}, "containers": [CONTAINER]},
        },
    },
}
PDB_TYPE = "kubernetes:policy/v1:PodDisruptionBudget"
PDB = {
    "metadata": {"name": "assistant", "namespace": "llm", "labels": LABELS},
    "spec": {"maxUnavailable": 1,
             "selector": {"matchLabels": {"app.kubernetes.io/name": "assistant"}}},
}
RULE_TYPE = "kubernetes:monitoring.coreos.com/v1:PrometheusRule"
ALERT = {
    "alert": "ModelDown",
    "expr": "up == 0",
    "labels": {"severity": "critical"},
    "annotations": {"runbook_url": "https://example.com/runbooks/ModelDown.md"},
}
BUDGET_ALERT = {**ALERT, "alert": "ProjectedSpendOverBudget",
                "expr": "llm:budget_used:ratio_projected > 1"}
PROM_RULE = {"metadata": {"labels": LABELS},
             "spec": {"groups": [{"name": "llm", "rules": [ALERT]}]}}
VPC = res("aws:ec2/vpc:Vpc", "vpc", {"tags": TAGS})
AWS_BUDGET = {
    "limitAmount": "2000.00",
    "notifications": [{"threshold": 80, "subscriberEmailAddresses": ["finops@example.com"]}],
    "tags": TAGS,
}
BUCKET = res("aws:s3/bucket:Bucket", "b", {"bucket": "llm-artifacts", "tags": TAGS})
PAB = {f: True for f in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls",
                         "restrictPublicBuckets")}
SSE = {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]}
PAB_T = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
SSE_T = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


def _guards(*which: str) -> list[Resource]:
    out = [BUCKET]
    if "pab" in which:
        out.append(res(PAB_T, "pab", {"bucket": "b-id", **PAB}, bucket=[BUCKET.urn]))
    if "sse" in which:
        out.append(res(SSE_T, "sse", {"bucket": "b-id", **SSE}, bucket=[BUCKET.urn]))
    return out


CASES = [
    # tagging
    Case("cloud-resource-tags", res("aws:s3/bucket:Bucket", "b", {"tags": TAGS}),
         res("aws:s3/bucket:Bucket", "b", {"tags": {"team": "ml"}}), "cost-center"),
    Case("cloud-resource-tags", res("gcp:container/cluster:Cluster", "c", GKE),
         res("gcp:container/cluster:Cluster", "c", with_(GKE, "resourceLabels", None)),
         "resourceLabels"),
    Case("cloud-resource-tags", res("azure-native:network:VirtualNetwork", "v", {"tags": TAGS}),
         res("azure-native:network:VirtualNetwork", "v", {"tags": {**TAGS, "owner": " "}}),
         "owner"),
    Case("kubernetes-labels", res("kubernetes:core/v1:ConfigMap", "cm",
                                  {"metadata": {"labels": LABELS}}),
         res("kubernetes:core/v1:ConfigMap", "cm", {"metadata": {"labels": {
             k: v for k, v in LABELS.items() if k != "llm-platform.dev/cost-center"}}}),
         "llm-platform.dev/cost-center"),
    # cost
    Case("gpu-allowlist", res(NG, "ng", NODE_GROUP),
         res(NG, "ng", with_(NODE_GROUP, "instanceTypes", ["p4de.24xlarge"])),
         "not on the allowlist"),
    Case("gpu-allowlist", res(NG, "ng", NODE_GROUP),
         res(NG, "ng", with_(NODE_GROUP, "instanceTypes", ["p5.48xlarge"])),
         "H100-80GB", config={"allowedGpus": ["L4", "L40S"]}),
    Case("gpu-allowlist", res("gcp:container/nodePool:NodePool", "p", GKE_POOL),
         res("gcp:container/nodePool:NodePool", "p",
             with_(GKE_POOL, "nodeConfig.guestAccelerators.0.type", "nvidia-tesla-k80")),
         "nvidia-tesla-k80"),
    Case("bounded-scaling", res(NG, "ng", NODE_GROUP),
         res(NG, "ng", with_(NODE_GROUP, "scalingConfig.maxSize", None)), "sets no"),
    Case("bounded-scaling",
         res("azure-native:containerservice:AgentPool", "a", AKS_POOL),
         res("azure-native:containerservice:AgentPool", "a", with_(AKS_POOL, "maxCount", 40)),
         "above the 16", config={"maxNodesPerPool": 16}),
    Case("bounded-scaling",
         res("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "h",
             {"spec": {"minReplicas": 1, "maxReplicas": 4}}),
         res("kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "h",
             {"spec": {"minReplicas": 1, "maxReplicas": 500}}), "500 replicas"),
    Case("training-on-spot", res(NG, "ng", TRAIN_GROUP),
         res(NG, "ng", with_(TRAIN_GROUP, "capacityType", "ON_DEMAND")),
         "g6e.xlarge $1.861/h on demand against $"),
    Case("training-on-spot", res("gcp:container/nodePool:NodePool", "p", GKE_POOL),
         res("gcp:container/nodePool:NodePool", "p", with_(GKE_POOL, "nodeConfig.spot", None)),
         "capacity: spot"),
    Case("training-on-spot", res("azure-native:containerservice:AgentPool", "a", AKS_POOL),
         res("azure-native:containerservice:AgentPool", "a",
             with_(AKS_POOL, "scaleSetPriority", "Regular")), "capacity: spot"),
    Case("monthly-cost-cap",
         [res(NG, "ng", with_(NODE_GROUP, "tags." + pricing.NODE_HOURS_TAG, "200"))],
         [res(NG, "ng", NODE_GROUP)],
         "over the cap $1,000.00", config={"maxMonthlyUsd": 1000}),
    Case("monthly-cost-cap",
         [res(NG, "ng", NODE_GROUP), res("aws:budgets/budget:Budget", "bud", AWS_BUDGET)],
         [res(NG, "ng", with_(NODE_GROUP, "tags." + pricing.NODE_HOURS_TAG, "2190")),
          res("aws:budgets/budget:Budget", "bud", AWS_BUDGET)],
         "the budget 'bud'"),
    Case("budget-with-notifications", [VPC, res("aws:budgets/budget:Budget", "bud", AWS_BUDGET)],
         [VPC], "no aws budget"),
    Case("budget-with-notifications", [VPC, res("aws:budgets/budget:Budget", "bud", AWS_BUDGET)],
         [VPC, res("aws:budgets/budget:Budget", "bud",
                   with_(AWS_BUDGET, "notifications", []))], "notifies nobody"),
    Case("budget-with-notifications",
         [VPC, res("aws:budgets/budget:Budget", "bud", with_(
             AWS_BUDGET, "notifications", AWS_BUDGET["notifications"] * 2))],
         [VPC, res("aws:budgets/budget:Budget", "bud", AWS_BUDGET)], "at 2 thresholds (1 do)",
         config={"minNotifications": 2}),
    Case("budget-with-notifications",
         [res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules", [ALERT, BUDGET_ALERT]))],
         [res(RULE_TYPE, "r", PROM_RULE)], "no budget alarm"),
    # security
    Case("private-encrypted-buckets", res(PAB_T, "pab", PAB),
         res(PAB_T, "pab", {**PAB, "restrictPublicBuckets": False}), "restrictPublicBuckets"),
    Case("private-encrypted-buckets", res(SSE_T, "sse", SSE),
         res(SSE_T, "sse", {"rules": []}), "sseAlgorithm"),
    Case("private-encrypted-buckets",
         res("gcp:storage/bucket:Bucket", "g", {"publicAccessPrevention": "enforced",
                                                "uniformBucketLevelAccess": True}),
         res("gcp:storage/bucket:Bucket", "g", {"publicAccessPrevention": "inherited",
                                                "uniformBucketLevelAccess": True}),
         "publicAccessPrevention: enforced"),
    Case("private-encrypted-buckets",
         res("azure-native:storage:StorageAccount", "sa", {"allowBlobPublicAccess": False}),
         res("azure-native:storage:StorageAccount", "sa", {"allowBlobPublicAccess": True}),
         "allowBlobPublicAccess: false"),
    Case("s3-bucket-guards", _guards("pab", "sse"), _guards("sse"), "public access block"),
    Case("s3-bucket-guards", _guards("pab", "sse"), _guards("pab"), "default encryption"),
    Case("private-cluster-endpoint", res("aws:eks/cluster:Cluster", "eks", EKS),
         res("aws:eks/cluster:Cluster", "eks", with_(EKS, "vpcConfig.endpointPublicAccess",
                                                      True)), "public_endpoint_cidrs"),
    Case("private-cluster-endpoint",
         res("aws:eks/cluster:Cluster", "eks", with_(with_(
             EKS, "vpcConfig.endpointPublicAccess", True), "vpcConfig.publicAccessCidrs",
             ["203.0.113.0/24"])),
         res("aws:eks/cluster:Cluster", "eks", with_(with_(
             EKS, "vpcConfig.endpointPublicAccess", True), "vpcConfig.publicAccessCidrs",
             ["0.0.0.0/0"])), "open to the internet"),
    Case("private-cluster-endpoint", res("gcp:container/cluster:Cluster", "gke", GKE),
         res("gcp:container/cluster:Cluster", "gke", with_(GKE, "privateClusterConfig", None)),
         "authorized_networks"),
    Case("private-cluster-endpoint", res("azure-native:containerservice:ManagedCluster", "aks",
                                         AKS),
         res("azure-native:containerservice:ManagedCluster", "aks",
             with_(AKS, "apiServerAccessProfile", None)), "authorizedIPRanges"),
    Case("cluster-secrets-encryption", res("aws:eks/cluster:Cluster", "eks", EKS),
         res("aws:eks/cluster:Cluster", "eks", with_(EKS, "encryptionConfig", None)),
         "customer-managed key"),
    Case("cluster-secrets-encryption", res("gcp:container/cluster:Cluster", "gke", {
        **GKE, "databaseEncryption": {"state": "ENCRYPTED", "keyName": "k"}}),
         res("gcp:container/cluster:Cluster", "gke", {
             **GKE, "databaseEncryption": {"state": "DECRYPTED"}}), "Cloud KMS key"),
    Case("cluster-secrets-encryption", res("azure-native:containerservice:ManagedCluster", "aks", {
        **AKS, "securityProfile": {"azureKeyVaultKms": {"enabled": True, "keyId": "k"}}}),
         res("azure-native:containerservice:ManagedCluster", "aks", AKS), "azureKeyVaultKms"),
    Case("imdsv2-required", res("aws:ec2/launchTemplate:LaunchTemplate", "lt", LAUNCH_TEMPLATE),
         res("aws:ec2/launchTemplate:LaunchTemplate", "lt",
             with_(LAUNCH_TEMPLATE, "metadataOptions.httpTokens", "optional")),
         "httpTokens: required"),
    Case("imdsv2-required", res("aws:ec2/launchTemplate:LaunchTemplate", "lt", LAUNCH_TEMPLATE),
         res("aws:ec2/launchTemplate:LaunchTemplate", "lt",
             with_(LAUNCH_TEMPLATE, "metadataOptions.httpPutResponseHopLimit", 2)),
         "hop limit 2"),
    Case("restricted-pods", res(DEPLOY, "d", DEPLOYMENT),
         res(DEPLOY, "d", with_(DEPLOYMENT,
                                "spec.template.spec.containers.0.securityContext.capabilities",
                                None)), "capabilities.drop: [ALL]"),
    Case("restricted-pods",
         # A stated reason lets a workload run as root, and nothing else.
         res(DEPLOY, "d", with_(with_(with_(
             DEPLOYMENT, "spec.template.spec.securityContext", {}),
             "spec.template.spec.containers.0.securityContext.runAsNonRoot", None),
             "metadata.annotations", {conventions.RUNS_AS_ROOT_ANNOTATION: "GPU device sockets"})),
         res(DEPLOY, "d", with_(with_(
             DEPLOYMENT, "spec.template.spec.securityContext", {}),
             "spec.template.spec.containers.0.securityContext.runAsNonRoot", None)),
         "runAsNonRoot: true"),
    Case("restricted-pods",
         # A stated reason lets a container be privileged (GKE's DCGM exporter), and nothing
         # else: seccomp is still checked.
         res(DEPLOY, "d", with_(with_(
             DEPLOYMENT, "spec.template.spec.containers.0.securityContext.privileged", True),
             "metadata.annotations", {conventions.PRIVILEGED_ANNOTATION: "GPU devices on GKE"})),
         res(DEPLOY, "d", with_(
             DEPLOYMENT, "spec.template.spec.containers.0.securityContext.privileged", True)),
         "privileged: false"),
    Case("restricted-pods",
         res("kubernetes:batch/v1:CronJob", "cj", {"spec": {"jobTemplate": {"spec": {
             "template": DEPLOYMENT["spec"]["template"]}}}}),
         res("kubernetes:batch/v1:CronJob", "cj", {"spec": {"jobTemplate": {"spec": {
             "template": with_(DEPLOYMENT["spec"]["template"],
                               "spec.containers.0.securityContext.allowPrivilegeEscalation",
                               True)}}}}),
         "allowPrivilegeEscalation: false"),
    Case("pinned-images", res(DEPLOY, "d", DEPLOYMENT),
         res(DEPLOY, "d", with_(DEPLOYMENT, "spec.template.spec.containers.0.image",
                                "vllm/vllm-openai:latest")), "latest"),
    Case("pinned-images", res(DEPLOY, "d", DEPLOYMENT),
         res(DEPLOY, "d", with_(DEPLOYMENT, "spec.template.spec.containers.0.image",
                                "registry:5000/vllm")), "has no tag"),
    Case("no-public-load-balancer",
         res("kubernetes:core/v1:Service", "s", {"metadata": {"annotations": {
             conventions.ALLOW_LOAD_BALANCER_ANNOTATION: "partner VPN endpoint"}},
             "spec": {"type": "LoadBalancer"}}),
         res("kubernetes:core/v1:Service", "s", {"spec": {"type": "LoadBalancer"}}),
         conventions.ALLOW_LOAD_BALANCER_ANNOTATION),
    # reliability
    Case("model-server-probes", res(DEPLOY, "d", DEPLOYMENT),
         res(DEPLOY, "d", with_(DEPLOYMENT, "spec.template.spec.containers.0.startupProbe",
                                None)), "startupProbe"),
    Case("model-server-probes", res(DEPLOY, "d", DEPLOYMENT),
         res(DEPLOY, "d", with_(DEPLOYMENT, "spec.template.spec.containers.0.readinessProbe",
                                None)), "readinessProbe"),
    Case("model-server-disruption-budget", [res(DEPLOY, "d", DEPLOYMENT), res(PDB_TYPE, "p", PDB)],
         [res(DEPLOY, "d", DEPLOYMENT)], "no PodDisruptionBudget"),
    Case("model-server-disruption-budget", [res(DEPLOY, "d", DEPLOYMENT), res(PDB_TYPE, "p", PDB)],
         [res(DEPLOY, "d", DEPLOYMENT),
          res(PDB_TYPE, "p", with_(PDB, "spec.selector.matchLabels.app.kubernetes.io/name",
                                   "other"))], "no PodDisruptionBudget"),
    Case("alert-rule-runbooks", res(RULE_TYPE, "r", PROM_RULE),
         res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules.0.annotations", {})),
         "runbook_url"),
    Case("alert-rule-runbooks", res(RULE_TYPE, "r", PROM_RULE),
         res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules.0.labels.severity", "sev1")),
         "'sev1' is not one of"),
]


@pytest.fixture(scope="module")
def analyzer():
    with Analyzer(PACK) as a:
        yield a


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_rule(analyzer: Analyzer, case: Case):
    assert failures(analyzer, case) == []


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


MUTANT = """
import sys
sys.path.insert(0, {pack!r})
from llm_platform_rules import POLICIES
from pulumi_policy import PolicyPack, ResourceValidationPolicy, StackValidationPolicy

def removed(policy):
    kind = ResourceValidationPolicy if isinstance(policy, ResourceValidationPolicy) else (
        StackValidationPolicy)
    return kind(name=policy.name, description=policy.description,
                validate=lambda args, report_violation: None,
                enforcement_level=policy.enforcement_level,
                config_schema=policy.config_schema, severity=policy.severity,
                remediation_steps=policy.remediation_steps)

PolicyPack(name="mutant", policies=[removed(p) if p.name == {name!r} else p for p in POLICIES])
"""


@pytest.mark.parametrize("name", sorted({c.policy for c in CASES}))
def test_removing_a_rules_check_fails_its_tests(name: str, tmp_path: Path):
    (tmp_path / "__main__.py").write_text(MUTANT.format(pack=str(PACK), name=name))
    with Analyzer(tmp_path) as mutant:
        broken = [c.id for c in CASES if c.policy == name and failures(mutant, c)]
    assert broken, f"{name}: no test notices when its check is removed"


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


def test_cost_cap_below_the_aws_stack_fails_the_plan(planned, tmp_path: Path):
    estimate = planned["aws"].cost["monthly_usd"]
    biggest = max(planned["aws"].cost["resources"], key=lambda i: i["monthly_usd"])
    below, above = tmp_path / "below.json", tmp_path / "above.json"
    below.write_text(json.dumps({"monthly-cost-cap": {"maxMonthlyUsd": round(estimate / 2)}}))
    above.write_text(json.dumps({"monthly-cost-cap": {"maxMonthlyUsd": round(estimate + 1)}}))

    failed = run_cli("plan", "--stack", "aws", "--out", str(tmp_path / "b"),
                     "--policy-config", str(below))
    assert failed.returncode == 3, failed.stderr
    text = " ".join(failed.stdout.split())
    assert f"${estimate:,.2f}/month is over the cap ${round(estimate / 2):,.2f}" in text
    assert f"{biggest['name']} ${biggest['monthly_usd']:,.2f}" in text
    verdict = json.loads((tmp_path / "b" / "policy.json").read_text())
    assert [v["policy"] for v in verdict["violations"]] == ["monthly-cost-cap"]

    passed = run_cli("plan", "--stack", "aws", "--out", str(tmp_path / "a"),
                     "--policy-config", str(above))
    assert passed.returncode == 0, passed.stdout[-2000:]


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
    for case in CASES:
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
    proc = subprocess.run([*script, "aws", str(aws.out)], capture_output=True, text=True,
                          check=True)
    assert "passed, 0 mandatory" in proc.stdout
    assert f"**Estimated cost**: ${aws.cost['monthly_usd']:,.2f}/month" in proc.stdout
    biggest = max(aws.cost["resources"], key=lambda i: i["monthly_usd"])
    assert f"| `{biggest['name']}` |" in proc.stdout
    log = tmp_path / "plan.txt"
    log.write_text("error: spec.models[0].gpu: unknown GPU")
    failed = subprocess.run([*script, "aws", str(tmp_path), str(log)], capture_output=True,
                            text=True, check=True)
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
