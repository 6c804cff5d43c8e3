"""The policy pack's cases: for every branch of every rule, a violating input and its near
miss, the smallest change that passes (exactly at the cap, the flag false, the tag present).

tests/test_policies.py drives them over the gRPC analyzer, as the engine does, and
tests/test_policy_rules.py calls each rule's validate function in the test process with the
arguments the analyzer builds, so mutation testing (mutmut records in-process calls only)
and the branch-removal test see them too.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi.runtime.rpc import UNKNOWN
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyResource,
    ResourceValidationArgs,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.deserialize import deserialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from components import conventions, pricing
from components.plan.policy import Resource, Violation

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


def urn(type_: str, name: str, parent: str = "") -> str:
    qualified = f"{parent}${type_}" if parent else type_
    return f"urn:pulumi:test::llm-platform::{qualified}::{name}"


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


def nested(path: str, value: Any) -> dict[str, Any]:
    """{a: {b: value}} for the dotted path a.b."""
    return with_({}, path, value)


@dataclass
class Case:
    """One rule's violating input and its near miss. `good` and `bad` are single resources
    for a resource rule, lists for a stack rule."""

    policy: str
    good: Resource | list[Resource]
    bad: Resource | list[Resource]
    expect: str  # a phrase the violation message must contain: what to fix
    config: dict[str, Any] = field(default_factory=dict)
    # The resource that violation is attributed to ("stack" for the stack), when it matters.
    resource: str | None = None
    # The rule's default enforcement level, which the violation must carry.
    level: str = "mandatory"

    @property
    def id(self) -> str:
        first = self.bad if isinstance(self.bad, Resource) else self.bad[0]
        return f"{self.policy}:{first.type.rsplit(':', 1)[-1]}:{self.expect[:24]}"


Run = Callable[[Case, "Resource | list[Resource]"], list[Violation]]


def failures(run: Run, case: Case) -> list[str]:
    """What is wrong with the pack's answer to this case (empty when it is right); `run`
    returns the case policy's violations for one input."""
    problems = []
    good = run(case, case.good)
    if good:
        problems.append(f"compliant input reported: {[v.message for v in good]}")
    bad = run(case, case.bad)
    if not bad:
        problems.append("violating input passed")
    elif not any(case.expect in v.message for v in bad):
        problems.append(f"no message says {case.expect!r}: {[v.message for v in bad]}")
    elif case.resource and not any(case.expect in v.message and v.resource == case.resource
                                   for v in bad):
        problems.append(f"not attributed to {case.resource}: {[v.urn for v in bad]}")
    elif any(v.enforcement != case.level for v in bad):
        problems.append(f"expected {case.level}: {[v.enforcement for v in bad]}")
    return problems


# --- in the test process ----------------------------------------------------------------


class NotApplicable(Exception):
    """What `args.not_applicable()` raises here; the SDK's own exception is private."""


class _ResourceArgs(ResourceValidationArgs):
    def not_applicable(self, reason: str | None = None) -> None:
        raise NotApplicable(reason)


class _StackArgs(StackValidationArgs):
    def not_applicable(self, reason: str | None = None) -> None:
        raise NotApplicable(reason)


def wire(value: dict[str, Any]) -> dict[str, Any]:
    """A property map as it crosses the wire: through a protobuf Struct, so every number
    arrives as a float, as the pack's servicer reads it."""
    s = struct_pb2.Struct()
    s.update(value)
    return json_format.MessageToDict(s)


def _proxy(props: dict[str, Any]) -> Any:
    """Properties as a rule sees them: secrets unwrapped, unknowns raising on read."""
    return unknown_checking_proxy(deserialize_properties(wire(props)))


def _stack(resources: list[Resource]) -> list[PolicyResource]:
    """The stack's resources with property dependencies linked, as AnalyzeStack builds them
    (options and providers are not read by any rule, so they stay None)."""
    out = [PolicyResource(r.type, _proxy(r.properties), r.urn, r.name, None, None, None, [], {})
           for r in resources]
    by_urn = {p.urn: p for p in out}
    for r, p in zip(resources, out, strict=True):
        for key, urns in r.property_dependencies.items():
            p.property_dependencies[key] = [by_urn[u] for u in urns if u in by_urn]
    return out


def stack_args(resources: list[Resource], config: dict[str, Any] | None = None) -> Any:
    """StackValidationArgs as AnalyzeStack builds them; not_applicable raises NotApplicable."""
    return _StackArgs(_stack(resources), wire(config or {}) or None)


def run_in_process(policies: list[Policy], case: Case,
                   target: Resource | list[Resource]) -> list[Violation]:
    """The case policy's violations for `target`, calling its validate function with the
    arguments the SDK's servicer builds for Analyze (a resource) or AnalyzeStack (a list)."""
    policy = next(p for p in policies if p.name == case.policy)
    config = wire(case.config) or None
    found: list[Violation] = []
    level = "mandatory" if policy.enforcement_level == EnforcementLevel.MANDATORY else "advisory"

    def report(message: str, urn: str | None = None) -> None:
        default = target.urn if isinstance(target, Resource) else ""
        found.append(Violation(policy.name, level, "", message, urn or default))

    if isinstance(target, Resource):
        if isinstance(policy, StackValidationPolicy):
            return []
        args: Any = _ResourceArgs(target.type, _proxy(target.properties), target.urn,
                                  target.name, None, None, config)
    else:
        if not isinstance(policy, StackValidationPolicy):
            return []
        args = stack_args(target, case.config)
    with contextlib.suppress(NotApplicable):  # the SDK reports it, no violation
        policy.validate(args, report)
    return found


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
# A model with a rollout block is an Argo Rollouts Rollout (rollouts.argoproj.io v1alpha1).
ROLLOUT = "kubernetes:argoproj.io/v1alpha1:Rollout"
REV = conventions.REVISION_LABEL
# A made-up commit: the rule reads a revision's form, never what it names.
COMMIT = "0123456789abcdef" * 2 + "01234567"
PINNED = {**LABELS, REV: COMMIT}
# A model server as the platform makes it, serving a pinned revision.
DEPLOYMENT = {
    "metadata": {"name": "assistant", "namespace": "llm", "labels": LABELS},
    "spec": {
        "selector": {"matchLabels": {"app.kubernetes.io/name": "assistant"}},
        "template": {
            "metadata": {"labels": PINNED},
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
         "runs H100-80GB GPUs (p5.48xlarge), and the allowed GPU models are L4, L40S. Choose",
         config={"allowedGpus": ["L4", "L40S"]}),
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


# --- every branch, each with its near miss ----------------------------------------------
# The policy's documented defaults (policies/README.md): the tags a cloud resource carries,
# the labels a Kubernetes object carries, and the caps on pools and replicas.
REQUIRED_TAGS = ["team", "cost-center", "environment", "owner", "managed-by"]
MAX_NODES = 100
MAX_REPLICAS = 100
VPC_T = "aws:ec2/vpc:Vpc"
CM_T = "kubernetes:core/v1:ConfigMap"
GKE_POOL_T = "gcp:container/nodePool:NodePool"
GKE_T = "gcp:container/cluster:Cluster"
AKS_POOL_T = "azure-native:containerservice:AgentPool"
AKS_T = "azure-native:containerservice:ManagedCluster"
EKS_T = "aws:eks/cluster:Cluster"
LT_T = "aws:ec2/launchTemplate:LaunchTemplate"
EC2_T = "aws:ec2/instance:Instance"
GCE_T = "gcp:compute/instance:Instance"
SVC_T = "kubernetes:core/v1:Service"
AWS_BUDGET_T = "aws:budgets/budget:Budget"
GCP_BUDGET_T = "gcp:billing/budget:Budget"
AZURE_BUDGET_T = "azure-native:consumption:Budget"


def _without(d: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k != key}


# Where each taggable type keeps its tags, from each provider SDK's resource inputs (the
# SDK check is tests/test_policies.py::test_taggable_types_match_the_provider_sdks).
TAGGABLE = {
    **{t: "tags" for t in [
        "aws:budgets/budget:Budget", "aws:cloudwatch/logGroup:LogGroup",
        "aws:cloudwatch/metricAlarm:MetricAlarm",
        "aws:ec2/customerGateway:CustomerGateway", "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
        "aws:ec2/eip:Eip", EC2_T, "aws:ec2/flowLog:FlowLog",
        "aws:ec2/internetGateway:InternetGateway", LT_T, "aws:ec2/natGateway:NatGateway",
        "aws:ec2/routeTable:RouteTable", "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/subnet:Subnet", VPC_T, "aws:ec2/vpnConnection:VpnConnection",
        "aws:ec2/vpnGateway:VpnGateway", "aws:eks/addon:Addon", EKS_T,
        "aws:eks/nodeGroup:NodeGroup", "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider", "aws:iam/role:Role",
        "aws:kms/key:Key", "aws:lambda/function:Function", "aws:s3/bucket:Bucket",
        "aws:sns/topic:Topic", "aws:sqs/queue:Queue",
        AKS_POOL_T, AKS_T, "azure-native:keyvault:Key", "azure-native:keyvault:Vault",
        "azure-native:managedidentity:UserAssignedIdentity", "azure-native:monitor:ActionGroup",
        "azure-native:network:NatGateway", "azure-native:network:PublicIPAddress",
        "azure-native:network:VirtualNetwork", "azure-native:network:VirtualNetworkGateway",
        "azure-native:resources:ResourceGroup", "azure-native:storage:StorageAccount",
    ]},
    GCE_T: "labels",
    GKE_T: "resourceLabels",
    GKE_POOL_T: "nodeConfig.resourceLabels",
    "gcp:kms/cryptoKey:CryptoKey": "labels",
    "gcp:monitoring/notificationChannel:NotificationChannel": "userLabels",
    "gcp:pubsub/topic:Topic": "labels",
    "gcp:storage/bucket:Bucket": "labels",
}
ALL_TAGS_MISSING = ", ".join(REQUIRED_TAGS)

TAG_CASES = [
    # Each required tag, alone missing.
    *(Case("cloud-resource-tags", res(VPC_T, "v", {"tags": TAGS}),
           res(VPC_T, "v", {"tags": _without(TAGS, k)}), f"has no {k} in `tags`")
      for k in REQUIRED_TAGS),
    # Each taggable type, untagged, at the place its SDK takes tags.
    *(Case("cloud-resource-tags", res(t, "r", nested(path, TAGS)), res(t, "r", {}),
           f"has no {ALL_TAGS_MISSING} in `{path}`") for t, path in TAGGABLE.items()),
    # A type whose API takes no tags is left alone, unless it is given some.
    Case("cloud-resource-tags", res(PAB_T, "pab", PAB),
         res(PAB_T, "pab", {**PAB, "tags": {"team": "ml-platform"}}),
         "has no cost-center, environment, owner, managed-by in `tags`"),
    # Tags as a list (Datadog's form) are not tags to AWS; Datadog is not our cloud
    # (https://www.pulumi.com/registry/packages/datadog/api-docs/monitor, 2026-12-01).
    Case("cloud-resource-tags", res("datadog:index/monitor:Monitor", "m",
                                    {"tags": ["team:ml-platform"]}),
         res(VPC_T, "v", {"tags": ["team:ml-platform"]}), f"has no {ALL_TAGS_MISSING}"),
    Case("cloud-resource-tags", res(VPC_T, "v", {"tags": {"team": "ml", "budget-code": "b7"}}),
         res(VPC_T, "v", {"tags": TAGS}), "has no budget-code in `tags`",
         config={"requiredTags": ["team", "budget-code"]}),
    # Each required label, alone missing.
    *(Case("kubernetes-labels", res(CM_T, "cm", {"metadata": {"labels": LABELS}}),
           res(CM_T, "cm", {"metadata": {"labels": _without(LABELS, k)}}), f"has no label {k}.")
      for k in LABELS),
    # Helm, YAML and Kustomize groupings are not API objects, nor is a cloud resource.
    *(Case("kubernetes-labels", res(t, "x", {}), res(CM_T, "cm", {}),
           "has no label app.kubernetes.io/name, app.kubernetes.io/instance")
      for t in ["kubernetes:helm.sh/v3:Release", "kubernetes:yaml/v2:ConfigGroup",
                "kubernetes:kustomize/v2:Directory", VPC_T]),
    Case("kubernetes-labels", res(CM_T, "cm", {"metadata": {"labels": {"tier": "gold"}}}),
         res(CM_T, "cm", {"metadata": {"labels": LABELS}}), "has no label tier.",
         config={"requiredLabels": ["tier"]}),
]


def ng(hours: int | str | None = 730, **changes: Any) -> dict[str, Any]:
    """The g6e.xlarge node group with `hours` node-hours a month stated in its tag."""
    out = with_(NODE_GROUP, f"tags.{pricing.NODE_HOURS_TAG}", None if hours is None else str(hours))
    for path, value in changes.items():
        out = with_(out, path.replace("__", "."), value)
    return out


def budget(limit: str | None) -> dict[str, Any]:
    return with_(AWS_BUDGET, "limitAmount", limit)


# g6e.xlarge on demand is $1.861/h (components/catalog/instances.yaml, from
# https://aws.amazon.com/ec2/pricing/on-demand/ as of 2026-11-23): 730 node-h cost
# 730 x 1.861 = $1,358.53, and 731 node-h 731 x 1.861 = $1,360.391, $1,360.39.
AT_CAP, OVER_CAP = "1,358.53", "1,360.39"
GPU_CASES = [
    # A catalog type without GPUs, and an unlisted one outside the GPU families, are not
    # GPU instances; an unlisted type in a GPU family is.
    Case("gpu-allowlist", res(NG, "ng", ng(instanceTypes=["m6i.xlarge"])),
         res(NG, "ng", ng(instanceTypes=["g4dn.xlarge"])),
         "uses GPU instance type g4dn.xlarge, which is not on the allowlist"),
    Case("gpu-allowlist", res(NG, "ng", ng(instanceTypes=["m7i.large"])),
         res(NG, "ng", ng(instanceTypes=["g4dn.xlarge"])), "not on the allowlist"),
    Case("gpu-allowlist", res(NG, "ng", NODE_GROUP),
         res(NG, "ng", ng(instanceTypes=["g6.xlarge"])),
         "g6.xlarge, which is not on the allowlist (g6e.xlarge, g5.xlarge). Pick an allowed "
         "type, or add g6.xlarge to the policy config allowedInstanceTypes",
         config={"allowedInstanceTypes": ["g6e.xlarge", "g5.xlarge"]}),
    # A type outside the catalog has no GPU model to check once its type is allowed.
    Case("gpu-allowlist", res(NG, "ng", ng(instanceTypes=["g4dn.xlarge"])),
         res(NG, "ng", ng(instanceTypes=["p4de.24xlarge"])), "p4de.24xlarge, which is not",
         config={"allowedInstanceTypes": ["g4dn.xlarge"]}),
    Case("gpu-allowlist", res(GKE_POOL_T, "p", GKE_POOL),
         res(GKE_POOL_T, "p", with_(GKE_POOL, "nodeConfig.machineType", "a2-megagpu-16g")),
         "a2-megagpu-16g, which is not"),
    Case("gpu-allowlist", res(LT_T, "lt", {"instanceType": "g6e.xlarge"}),
         res(LT_T, "lt", {"instanceType": "p4de.24xlarge"}), "p4de.24xlarge, which is not"),
    Case("gpu-allowlist", res(EC2_T, "i", {"instanceType": "g6e.xlarge"}),
         res(EC2_T, "i", {"instanceType": "p4de.24xlarge"}), "p4de.24xlarge, which is not"),
    Case("gpu-allowlist", res(GKE_T, "c", {"nodeConfig": {"machineType": "g2-standard-4"}}),
         res(GKE_T, "c", {"nodeConfig": {"machineType": "a2-megagpu-16g"}}),
         "a2-megagpu-16g, which is not"),
    Case("gpu-allowlist", res(GCE_T, "i", {"machineType": "g2-standard-4"}),
         res(GCE_T, "i", {"machineType": "a2-megagpu-16g"}), "a2-megagpu-16g, which is not"),
    Case("gpu-allowlist", res(AKS_POOL_T, "a", AKS_POOL),
         res(AKS_POOL_T, "a", with_(AKS_POOL, "vmSize", "Standard_NC6s_v3")),
         "Standard_NC6s_v3, which is not"),
    Case("gpu-allowlist", res(AKS_T, "aks", {"agentPoolProfiles": [
        {"vmSize": "Standard_D4s_v5"}, {"vmSize": "Standard_NC24ads_A100_v4"}]}),
         res(AKS_T, "aks", {"agentPoolProfiles": [
             {"vmSize": "Standard_D4s_v5"}, {"vmSize": "Standard_NC6s_v3"}]}),
         "Standard_NC6s_v3, which is not"),
    Case("gpu-allowlist", res(GKE_T, "c", {"nodeConfig": {
        "guestAccelerators": [{"type": "nvidia-l4", "count": 1}]}}),
         res(GKE_T, "c", {"nodeConfig": {
             "guestAccelerators": [{"type": "nvidia-tesla-k80", "count": 1}]}}),
         "attaches accelerator nvidia-tesla-k80"),
    Case("gpu-allowlist", res(GCE_T, "i", {"guestAccelerators": [{"type": "nvidia-l4"}]}),
         res(GCE_T, "i", {"guestAccelerators": [{"type": "nvidia-tesla-k80"}]}),
         "attaches accelerator nvidia-tesla-k80"),
    # a2-highgpu-1g carries A100-40GB as nvidia-tesla-a100 (the catalog row): with only
    # that GPU allowed, its 80 GB sibling's accelerator is not.
    Case("gpu-allowlist",
         res(GKE_POOL_T, "p", with_(with_(GKE_POOL, "nodeConfig.machineType", "a2-highgpu-1g"),
                                    "nodeConfig.guestAccelerators.0.type", "nvidia-tesla-a100")),
         res(GKE_POOL_T, "p", with_(with_(GKE_POOL, "nodeConfig.machineType", "a2-highgpu-1g"),
                                    "nodeConfig.guestAccelerators.0.type", "nvidia-a100-80gb")),
         "attaches accelerator nvidia-a100-80gb; allowed: nvidia-l4, nvidia-tesla-a100. Use",
         config={"allowedGpus": ["A100-40GB", "L4"]}),
]


def gke_pool(autoscaling: dict[str, Any] | None = None, **top: Any) -> dict[str, Any]:
    out = _without(GKE_POOL, "autoscaling")
    out.pop("nodeLocations")
    return {**out, **({"autoscaling": autoscaling} if autoscaling is not None else {}), **top}


def hpa(api: str, spec: dict[str, Any]) -> Resource:
    return res(f"kubernetes:autoscaling/{api}:HorizontalPodAutoscaler", "h", {"spec": spec})


SCALED_T = "kubernetes:keda.sh/v1alpha1:ScaledObject"
BOUND_CASES = [
    # Exactly at the cap passes; one over does not.
    Case("bounded-scaling", res(NG, "ng", ng(scalingConfig__maxSize=MAX_NODES)),
         res(NG, "ng", ng(scalingConfig__maxSize=MAX_NODES + 1)),
         "may grow to 101 nodes (scalingConfig.maxSize), above the 100 allowed by the policy "
         "config. Lower the spec's max_nodes or raise the cap."),
    Case("bounded-scaling", res(AKS_POOL_T, "a", with_(AKS_POOL, "maxCount", 16)),
         res(AKS_POOL_T, "a", with_(AKS_POOL, "maxCount", 17)),
         "may grow to 17 nodes (maxCount), above the 16", config={"maxNodesPerPool": 16}),
    Case("bounded-scaling",
         res(AKS_POOL_T, "a", {**AKS_POOL, "enableAutoScaling": False, "count": 100}),
         res(AKS_POOL_T, "a", {**AKS_POOL, "enableAutoScaling": False, "count": 101}),
         "may grow to 101 nodes (count)"),
    Case("bounded-scaling", res(AKS_POOL_T, "a", AKS_POOL),
         res(AKS_POOL_T, "a", _without(AKS_POOL, "maxCount")),
         "sets no maxCount: an autoscaler without a ceiling can buy GPUs without limit. Set a "
         "maximum (the spec's max_nodes)."),
    Case("bounded-scaling", res(GKE_POOL_T, "p", gke_pool({"totalMaxNodeCount": 100})),
         res(GKE_POOL_T, "p", gke_pool({"totalMaxNodeCount": 101})),
         "may grow to 101 nodes (autoscaling.totalMaxNodeCount)"),
    # A per-zone maximum counts once in each of the pool's zones: 25 x 4 = 100, 26 x 4 = 104.
    Case("bounded-scaling",
         res(GKE_POOL_T, "p", gke_pool({"maxNodeCount": 25}, nodeLocations=["a", "b", "c", "d"])),
         res(GKE_POOL_T, "p", gke_pool({"maxNodeCount": 26}, nodeLocations=["a", "b", "c", "d"])),
         "may grow to 104 nodes"),
    # Without nodeLocations a pool sits in one zone (the cluster's).
    Case("bounded-scaling", res(GKE_POOL_T, "p", gke_pool({"maxNodeCount": 100})),
         res(GKE_POOL_T, "p", gke_pool({"maxNodeCount": 101})), "may grow to 101 nodes"),
    Case("bounded-scaling", res(GKE_POOL_T, "p", gke_pool({"maxNodeCount": 2})),
         res(GKE_POOL_T, "p", gke_pool({"minNodeCount": 0})),
         "sets no autoscaling.totalMaxNodeCount"),
    Case("bounded-scaling", res(GKE_POOL_T, "p", gke_pool(nodeCount=100)),
         res(GKE_POOL_T, "p", gke_pool(nodeCount=101)), "may grow to 101 nodes (nodeCount)"),
    Case("bounded-scaling", res(GKE_POOL_T, "p", gke_pool(initialNodeCount=100)),
         res(GKE_POOL_T, "p", gke_pool(initialNodeCount=101)), "may grow to 101 nodes"),
    Case("bounded-scaling", hpa("v2", {"maxReplicas": MAX_REPLICAS}),
         hpa("v2", {"maxReplicas": MAX_REPLICAS + 1}),
         "may grow to 101 replicas (spec.maxReplicas), above the 100 allowed by the policy "
         "config. Lower the spec's autoscaling.max_replicas or raise the cap."),
    # A patch of an existing autoscaler may leave its maximum as it is.
    Case("bounded-scaling", res("kubernetes:autoscaling/v2:HorizontalPodAutoscalerPatch", "h",
                                {"spec": {"minReplicas": 2}}),
         hpa("v2", {"minReplicas": 2}), "sets no spec.maxReplicas"),
    Case("bounded-scaling", hpa("v1", {"maxReplicas": 4}), hpa("v1", {"minReplicas": 1}),
         "sets no spec.maxReplicas: an autoscaler without a ceiling can buy GPUs without "
         "limit. Set a maximum (the spec's autoscaling.max_replicas)."),
    Case("bounded-scaling", hpa("v2", {"maxReplicas": 8}), hpa("v2", {"maxReplicas": 9}),
         "9 replicas (spec.maxReplicas), above the 8", config={"maxReplicas": 8}),
    Case("bounded-scaling", res(SCALED_T, "so", {"spec": {"maxReplicaCount": 100}}),
         res(SCALED_T, "so", {"spec": {"maxReplicaCount": 101}}),
         "may grow to 101 replicas (spec.maxReplicaCount)"),
    Case("bounded-scaling", res(SCALED_T, "so", {"spec": {"maxReplicaCount": 1}}),
         res(SCALED_T, "so", {"spec": {"minReplicaCount": 0}}), "sets no spec.maxReplicaCount"),
]

TRAIN_ON_DEMAND = ng(capacityType="ON_DEMAND", **{f"tags__{pricing.PURPOSE_TAG}": "training"})
SPOT_CASES = [
    # An inference pool may run on demand; a training pool may not. The message prices
    # the difference from the catalog row: $1.861/h on demand against $0.80/h spot.
    Case("training-on-spot", res(NG, "ng", NODE_GROUP), res(NG, "ng", TRAIN_ON_DEMAND),
         "training pool on on-demand capacity (g6e.xlarge $1.861/h on demand against "
         "$0.8/h spot). Set `capacity: spot`"),
    Case("training-on-spot", res(NG, "ng", TRAIN_ON_DEMAND),
         res(NG, "ng", with_(TRAIN_ON_DEMAND, f"tags.{pricing.POOL_TAG}", "l40s-burst")),
         "exemptPools", config={"exemptPools": ["l40s"]}),
    # Without a pool tag the pool is known by its resource name.
    Case("training-on-spot",
         res(NG, "trainers", with_(TRAIN_ON_DEMAND, f"tags.{pricing.POOL_TAG}", None)),
         res(NG, "trainers", TRAIN_ON_DEMAND), "exemptPools",
         config={"exemptPools": ["trainers"]}),
    # g6e.2xlarge is $2.24208/h on demand, $0.96/h spot (the catalog row).
    Case("training-on-spot", res(NG, "ng", with_(TRAIN_GROUP, "instanceTypes",
                                                 ["g6e.xlarge", "g6e.2xlarge"])),
         res(NG, "ng", with_(TRAIN_ON_DEMAND, "instanceTypes", ["g6e.xlarge", "g6e.2xlarge"])),
         "(g6e.xlarge $1.861/h on demand against $0.8/h spot; g6e.2xlarge $2.24208/h on "
         "demand against $0.96/h spot)"),
    # A type outside the catalog has no price to quote.
    Case("training-on-spot", res(NG, "ng", with_(TRAIN_GROUP, "instanceTypes", ["g4dn.xlarge"])),
         res(NG, "ng", with_(TRAIN_ON_DEMAND, "instanceTypes", ["g4dn.xlarge"])),
         "is a training pool on on-demand capacity. Set"),
    Case("training-on-spot", res(NG, "ng", with_(TRAIN_GROUP, "instanceTypes", ["m6i.xlarge"])),
         res(NG, "ng", with_(TRAIN_ON_DEMAND, "instanceTypes", ["m6i.xlarge"])),
         "is a training pool on on-demand capacity. Set"),
    Case("training-on-spot",
         res(GKE_POOL_T, "p", with_(with_(GKE_POOL, "nodeConfig.spot", None),
                                    "nodeConfig.preemptible", True)),
         res(GKE_POOL_T, "p", with_(GKE_POOL, "nodeConfig.spot", False)), "capacity: spot"),
    # A cluster is not a pool, whatever its tags say.
    Case("training-on-spot", res(EKS_T, "eks", with_(EKS, f"tags.{pricing.PURPOSE_TAG}",
                                                     "training")),
         res(NG, "ng", TRAIN_ON_DEMAND), "capacity: spot"),
]

GCP_NET = res("gcp:compute/network:Network", "net", {})
AZ_RG = res("azure-native:resources:ResourceGroup", "rg", {"tags": TAGS})
GCP_BUDGET = {
    "amount": {"specifiedAmount": {"units": "2000"}},
    "thresholdRules": [{"thresholdPercent": 0.8}, {"thresholdPercent": 1.0}],
    "allUpdatesRule": {"monitoringNotificationChannels": ["projects/p/notificationChannels/1"]},
}
AZURE_BUDGET = {
    "amount": 2000,
    "notifications": {"actual80": {"enabled": True, "threshold": 80, "operator": "GreaterThan",
                                   "contactEmails": ["finops@example.com"]}},
}
BUDGET_CASES = [
    Case("budget-with-notifications",
         [VPC, res(AWS_BUDGET_T, "bud", with_(AWS_BUDGET, "notifications", [
             {"threshold": 80, "subscriberSnsTopicArns": ["arn:aws:sns:us-east-1:1:finops"]}]))],
         [VPC, res(AWS_BUDGET_T, "bud", with_(AWS_BUDGET, "notifications",
                                              [{"threshold": 80}]))],
         "'bud' notifies nobody. Give it", resource="bud"),
    Case("budget-with-notifications", [GCP_NET, res(GCP_BUDGET_T, "gb", GCP_BUDGET)],
         [GCP_NET], "no gcp budget", resource="stack"),
    Case("budget-with-notifications",
         [GCP_NET, res(GCP_BUDGET_T, "gb", with_(GCP_BUDGET, "allUpdatesRule",
                                                 {"pubsubTopic": "projects/p/topics/budget"}))],
         [GCP_NET, res(GCP_BUDGET_T, "gb", with_(GCP_BUDGET, "allUpdatesRule", {}))],
         "'gb' notifies nobody"),
    # Two threshold rules with a channel are two alerts: enough for two, not for three.
    Case("budget-with-notifications", [GCP_NET, res(GCP_BUDGET_T, "gb", GCP_BUDGET)],
         [GCP_NET, res(GCP_BUDGET_T, "gb", with_(GCP_BUDGET, "thresholdRules", [
             {"thresholdPercent": 1.0}]))], "at 2 thresholds (1 do)",
         config={"minNotifications": 2}),
    Case("budget-with-notifications", [AZ_RG, res(AZURE_BUDGET_T, "ab", AZURE_BUDGET)],
         [AZ_RG], "no azure budget"),
    Case("budget-with-notifications",
         [AZ_RG, res(AZURE_BUDGET_T, "ab", with_(with_(
             AZURE_BUDGET, "notifications.actual80.contactEmails", None),
             "notifications.actual80.contactGroups", ["/subscriptions/s/actionGroups/finops"]))],
         [AZ_RG, res(AZURE_BUDGET_T, "ab", with_(AZURE_BUDGET, "notifications.actual80.enabled",
                                                 False))], "'ab' notifies nobody"),
    Case("budget-with-notifications",
         [AZ_RG, res(AZURE_BUDGET_T, "ab", with_(with_(
             AZURE_BUDGET, "notifications.actual80.contactEmails", None),
             "notifications.actual80.contactRoles", ["Owner"]))],
         [AZ_RG, res(AZURE_BUDGET_T, "ab", with_(
             AZURE_BUDGET, "notifications.actual80.contactEmails", None))],
         "'ab' notifies nobody"),
    # Every cloud the stack uses needs its own budget.
    Case("budget-with-notifications",
         [VPC, GCP_NET, res(AWS_BUDGET_T, "bud", AWS_BUDGET), res(GCP_BUDGET_T, "gb", GCP_BUDGET)],
         [VPC, GCP_NET, res(AWS_BUDGET_T, "bud", AWS_BUDGET)], "no gcp budget"),
]

def gpu_rollout(replicas: int) -> Resource:
    """An on-prem model server's Rollout: one GPU a pod at $1.10 a GPU-hour."""
    template = with_(DEPLOYMENT["spec"]["template"], "spec.containers.0.resources",
                     {"limits": {"nvidia.com/gpu": "1"}})
    return res(ROLLOUT, "assistant", {
        "metadata": {"name": "assistant", "annotations": {
            conventions.GPU_HOUR_ANNOTATION: "1.10"}},
        "spec": {"replicas": replicas, "template": template}})


COST_CASES = [
    # A Rollout's GPUs cost like a Deployment's: 1 replica x 1 GPU x 730 h x $1.10 = $803.00
    # at the cap, 2 replicas $1,606.00 over it.
    Case("monthly-cost-cap", [gpu_rollout(1)], [gpu_rollout(2)],
         "estimated cost $1,606.00/month is over the cap $803.00/month (policy config "
         "maxMonthlyUsd). Biggest line items: assistant $1,606.00 (2 replica(s) x 1 GPU x 730 h",
         config={"maxMonthlyUsd": 803}),
    Case("monthly-cost-cap", [res(NG, "ng", ng(730))], [res(NG, "ng", ng(731))],
         f"estimated cost ${OVER_CAP}/month is over the cap ${AT_CAP}/month (policy config "
         f"maxMonthlyUsd). Biggest line items: ng ${OVER_CAP} (731 node-h x $1.861). Lower",
         config={"maxMonthlyUsd": 1358.53}),
    # Without a configured cap, the cap is the sum of the budgets that state an amount.
    Case("monthly-cost-cap",
         [res(NG, "ng", ng(730)), res(AWS_BUDGET_T, "b1", budget("1000.00")),
          res(AWS_BUDGET_T, "b2", budget("358.53")), res(AWS_BUDGET_T, "b3", budget(None))],
         [res(NG, "ng", ng(731)), res(AWS_BUDGET_T, "b1", budget("1000.00")),
          res(AWS_BUDGET_T, "b2", budget("358.53")), res(AWS_BUDGET_T, "b3", budget(None))],
         f"over the cap ${AT_CAP}/month (the budget 'b1', 'b2')"),
    # No cap and no budget: nothing to compare against.
    Case("monthly-cost-cap", [res(NG, "ng", ng(731))],
         [res(NG, "ng", ng(731)), res(AWS_BUDGET_T, "b", budget("1358.53"))],
         f"over the cap ${AT_CAP}/month (the budget 'b')"),
    # The five dearest line items, dearest first: 600, 500, 400, 300, 200 node-h at $1.861.
    Case("monthly-cost-cap", [res(NG, "a", ng(500))],
         [res(NG, n, ng(h)) for n, h in
          [("a", 500), ("b", 100), ("c", 600), ("d", 300), ("e", 400), ("f", 200)]],
         "Biggest line items: c $1,116.60 (600 node-h x $1.861); a $930.50 (500 node-h x "
         "$1.861); e $744.40 (400 node-h x $1.861); d $558.30 (300 node-h x $1.861); "
         "f $372.20 (200 node-h x $1.861). Lower", config={"maxMonthlyUsd": 1000}),
]

S3_T = "aws:s3/bucket:Bucket"
GCS_T = "gcp:storage/bucket:Bucket"
SA_T = "azure-native:storage:StorageAccount"
BLOB_T = "azure-native:storage:BlobContainer"
GCS = {"publicAccessPrevention": "enforced", "uniformBucketLevelAccess": True}
SA = {"allowBlobPublicAccess": False, "enableHttpsTrafficOnly": True,
      "minimumTlsVersion": "TLS1_2", "encryption": {"requireInfrastructureEncryption": True}}
STORAGE_CASES = [
    *(Case("private-encrypted-buckets", res(S3_T, "b", {"acl": "private"}),
           res(S3_T, "b", {"acl": acl}), f"has the public ACL {acl}. Remove `acl`")
      for acl in ["public-read", "public-read-write", "authenticated-read"]),
    Case("private-encrypted-buckets", res(S3_T, "site", {"acl": "public-read"}),
         res(S3_T, "other", {"acl": "public-read"}), "public ACL",
         config={"exemptResources": ["site"]}),
    *(Case("private-encrypted-buckets", res(PAB_T, "pab", PAB),
           res(PAB_T, "pab", {**PAB, flag: False}), f"leaves {flag} off")
      for flag in PAB),
    Case("private-encrypted-buckets", res(PAB_T, "pab", PAB),
         res(PAB_T, "pab", {**PAB, "blockPublicAcls": False, "restrictPublicBuckets": None}),
         f"{PAB_T} 'pab' leaves blockPublicAcls, restrictPublicBuckets off. Set all four to "
         "true."),
    *(Case("private-encrypted-buckets", res(SSE_T, "sse", with_(
        SSE, "rules.0.applyServerSideEncryptionByDefault.sseAlgorithm", algo)),
           res(SSE_T, "sse", with_(SSE, "rules.0.applyServerSideEncryptionByDefault", {})),
           f"{SSE_T} 'sse' sets no default encryption. Add a rule with sseAlgorithm aws:kms "
           "and a customer-managed key.") for algo in ["aws:kms", "aws:kms:dsse", "AES256"]),
    Case("private-encrypted-buckets", res(GCS_T, "g", GCS),
         res(GCS_T, "g", {**GCS, "uniformBucketLevelAccess": False}),
         f"{GCS_T} 'g' allows per-object ACLs. Set uniformBucketLevelAccess: true so only IAM "
         "grants access."),
    Case("private-encrypted-buckets", res(GCS_T, "g", GCS),
         res(GCS_T, "g", _without(GCS, "publicAccessPrevention")),
         f"{GCS_T} 'g' does not enforce public access prevention. Set publicAccessPrevention: "
         "enforced."),
    Case("private-encrypted-buckets", res(SA_T, "sa", SA),
         res(SA_T, "sa", _without(SA, "allowBlobPublicAccess")),
         f"{SA_T} 'sa' allows public blob access. Set allowBlobPublicAccess: false."),
    Case("private-encrypted-buckets", res(SA_T, "sa", _without(SA, "enableHttpsTrafficOnly")),
         res(SA_T, "sa", {**SA, "enableHttpsTrafficOnly": False}),
         f"{SA_T} 'sa' accepts plain HTTP or old TLS. Set enableHttpsTrafficOnly: true and "
         "minimumTlsVersion: TLS1_2."),
    *(Case("private-encrypted-buckets", res(SA_T, "sa", SA),
           res(SA_T, "sa", {**SA, "minimumTlsVersion": tls}), "or old TLS")
      for tls in ["TLS1_0", "TLS1_1"]),
    Case("private-encrypted-buckets", res(SA_T, "sa", _without(SA, "encryption")),
         res(SA_T, "sa", with_(SA, "encryption.requireInfrastructureEncryption", False)),
         f"{SA_T} 'sa' turns infrastructure encryption off. Remove the override."),
    Case("private-encrypted-buckets", res(BLOB_T, "c", {"publicAccess": "None"}),
         res(BLOB_T, "c", {"publicAccess": "Blob"}), "publicAccess Blob"),
    Case("private-encrypted-buckets", res(BLOB_T, "c", {}),
         res(BLOB_T, "c", {"publicAccess": "Container"}), "readable anonymously"),
]

NAMED = [res(PAB_T, "pab", {"bucket": "llm-artifacts", **PAB}),
         res(SSE_T, "sse", {"bucket": "llm-artifacts", **SSE})]
UNNAMED = res(S3_T, "u", {"tags": TAGS})
GUARD_CASES = [
    # A guard that names the bucket guards it; one that names another bucket does not.
    Case("s3-bucket-guards", [BUCKET, *NAMED],
         [BUCKET, NAMED[0], res(SSE_T, "sse", {"bucket": "other", **SSE})],
         "S3 bucket 'b' has no default encryption "
         "(BucketServerSideEncryptionConfiguration). Create", resource="b"),
    # Neither side naming a bucket is no link.
    Case("s3-bucket-guards",
         [UNNAMED, res(PAB_T, "pab", PAB, bucket=[UNNAMED.urn]),
          res(SSE_T, "sse", SSE, bucket=[UNNAMED.urn])],
         [UNNAMED, res(PAB_T, "pab", PAB), res(SSE_T, "sse", SSE, bucket=[UNNAMED.urn])],
         "S3 bucket 'u' has no public access block"),
    # An exempt bucket does not stop the check of the next one.
    Case("s3-bucket-guards", [BUCKET], [BUCKET, res(S3_T, "c", {"bucket": "llm-cache"})],
         "S3 bucket 'c' has no public access block (BucketPublicAccessBlock). Create the "
         "bucket with components.aws.artifacts.ArtifactBucket, or add the "
         "BucketPublicAccessBlock for it.", config={"exemptBuckets": ["b"]}, resource="c"),
    Case("s3-bucket-guards", [VPC], [VPC, BUCKET, *NAMED[1:]],
         "S3 bucket 'b' has no public access block", resource="b"),
]


def eks_public(cidrs: list[str]) -> dict[str, Any]:
    return with_(with_(EKS, "vpcConfig.endpointPublicAccess", True),
                 "vpcConfig.publicAccessCidrs", cidrs)


def gke_networks(cidrs: list[str]) -> dict[str, Any]:
    return {**_without(GKE, "privateClusterConfig"),
            "masterAuthorizedNetworksConfig": {"cidrBlocks": [{"cidrBlock": c} for c in cidrs]}}


def aks_ranges(ranges: list[str]) -> dict[str, Any]:
    return {**AKS, "apiServerAccessProfile": {"authorizedIPRanges": ranges}}


ENDPOINT_CASES = [
    # EKS's endpoint is public unless turned off.
    Case("private-cluster-endpoint", res(EKS_T, "eks", EKS),
         res(EKS_T, "eks", with_(EKS, "vpcConfig.endpointPublicAccess", None)),
         f"{EKS_T} 'eks' has a public API endpoint open to the internet. Keep "
         "aws.public_endpoint_cidrs empty (private endpoint) or list the CIDRs that may reach "
         "it."),
    Case("private-cluster-endpoint", res(EKS_T, "eks", eks_public(["203.0.113.0/24"])),
         res(EKS_T, "eks", eks_public(["203.0.113.0/24", "::/0"])), "open to the internet"),
    Case("private-cluster-endpoint", res(EKS_T, "eks", eks_public(["203.0.113.0/24"])),
         res(EKS_T, "eks", eks_public(["10.0.0.0/8"])), "open to the internet",
         config={"openCidrs": ["0.0.0.0/0", "10.0.0.0/8"]}),
    Case("private-cluster-endpoint", res(GKE_T, "gke", gke_networks(["203.0.113.0/24"])),
         res(GKE_T, "gke", gke_networks(["0.0.0.0/0"])),
         f"{GKE_T} 'gke' has a public control-plane endpoint without authorized networks. "
         "Enable the private endpoint or list gcp.authorized_networks."),
    Case("private-cluster-endpoint", res(GKE_T, "gke", gke_networks(["203.0.113.0/24"])),
         res(GKE_T, "gke", gke_networks([])), "without authorized networks"),
    Case("private-cluster-endpoint", res(AKS_T, "aks", aks_ranges(["203.0.113.0/24"])),
         res(AKS_T, "aks", aks_ranges(["0.0.0.0/0"])),
         f"{AKS_T} 'aks' has a public API server open to the internet. Enable the private "
         "cluster or set authorizedIPRanges."),
    Case("private-cluster-endpoint", res(AKS_T, "aks", aks_ranges(["203.0.113.0/24"])),
         res(AKS_T, "aks", aks_ranges([])), "public API server open"),
    # "*" and the service tag "Internet" are Azure's ways of saying everyone.
    *(Case("private-cluster-endpoint", res(AKS_T, "aks", aks_ranges(["203.0.113.0/24"])),
           res(AKS_T, "aks", aks_ranges(["203.0.113.0/24", everyone])), "public API server open")
      for everyone in ["*", "Internet"]),
]

SECRETS_CASES = [
    # A key ARN left empty (an unset config value) is no key.
    Case("cluster-secrets-encryption", res(EKS_T, "eks", EKS),
         res(EKS_T, "eks", with_(EKS, "encryptionConfig.provider", {"keyArn": ""})),
         f"{EKS_T} 'eks' does not envelope-encrypt Secrets with a KMS key. Set encryptionConfig "
         "with resources [secrets] and a customer-managed key."),
    Case("cluster-secrets-encryption", res(EKS_T, "eks", EKS),
         res(EKS_T, "eks", with_(EKS, "encryptionConfig.resources", [])),
         "does not envelope-encrypt Secrets"),
    Case("cluster-secrets-encryption", res(EKS_T, "legacy", with_(EKS, "encryptionConfig", None)),
         res(EKS_T, "eks", with_(EKS, "encryptionConfig", None)), "envelope-encrypt",
         config={"exemptClusters": ["legacy"]}),
    Case("cluster-secrets-encryption", res(AKS_T, "aks", {
        **AKS, "securityProfile": {"azureKeyVaultKms": {"enabled": True}}}),
         res(AKS_T, "aks", {**AKS, "securityProfile": {"azureKeyVaultKms": {"enabled": False}}}),
         f"{AKS_T} 'aks' does not encrypt Secrets with a Key Vault key. Enable "
         "securityProfile.azureKeyVaultKms."),
    Case("cluster-secrets-encryption", res(GKE_T, "gke", {
        **GKE, "databaseEncryption": {"state": "ENCRYPTED", "keyName": "k"}}),
         res(GKE_T, "gke", GKE),
         f"{GKE_T} 'gke' does not encrypt Secrets with a Cloud KMS key. Set databaseEncryption "
         "{state: ENCRYPTED, keyName: <key>}."),
]

IMDS_CASES = [
    # With the metadata endpoint off there is nothing to protect.
    Case("imdsv2-required",
         res(LT_T, "lt", {"metadataOptions": {"httpEndpoint": "disabled",
                                              "httpTokens": "optional"}}),
         res(LT_T, "lt", {"metadataOptions": {"httpEndpoint": "enabled",
                                              "httpTokens": "optional"}}),
         f"{LT_T} 'lt' allows IMDSv1, whose credentials a server-side request forgery can "
         "read. Set metadataOptions.httpTokens: required."),
    Case("imdsv2-required", res(EC2_T, "i", {"metadataOptions": {"httpTokens": "required"}}),
         res(EC2_T, "i", {}), "Set metadataOptions.httpTokens: required"),
    Case("imdsv2-required",
         res(LT_T, "lt", with_(LAUNCH_TEMPLATE, "metadataOptions.httpPutResponseHopLimit", 2)),
         res(LT_T, "lt", with_(LAUNCH_TEMPLATE, "metadataOptions.httpPutResponseHopLimit", 3)),
         "(hop limit 3 > 2). Set httpPutResponseHopLimit: 2", config={"maxHopLimit": 2}),
]

POD = DEPLOYMENT["spec"]["template"]["spec"]
# Where each kind keeps its pod template (the Kubernetes API reference, apps/v1 and batch/v1).
POD_PATHS = {
    "kubernetes:core/v1:Pod": "spec",
    DEPLOY: "spec.template.spec",
    "kubernetes:apps/v1:StatefulSet": "spec.template.spec",
    "kubernetes:apps/v1:DaemonSet": "spec.template.spec",
    "kubernetes:apps/v1:ReplicaSet": "spec.template.spec",
    "kubernetes:batch/v1:Job": "spec.template.spec",
    "kubernetes:batch/v1:CronJob": "spec.jobTemplate.spec.template.spec",
    # spec.template as a Deployment's: chart argo-rollouts 2.41.0
    # templates/crds/rollout-crd.yaml:1012.
    ROLLOUT: "spec.template.spec",
}


def workload(pod: dict[str, Any] = POD, kind: str = DEPLOY, name: str = "d",
             labels: dict[str, Any] = LABELS, **meta: Any) -> Resource:
    """A `kind` whose pod is `pod`, its pod labels where the kind keeps them."""
    path = POD_PATHS[kind]
    props = nested(path, pod)
    label_path = "metadata.labels" if path == "spec" else path.rsplit(".", 1)[0] + ".metadata.labels"
    props = with_(props, label_path, labels)
    props["metadata"] = {**props.get("metadata", {}), **meta}
    return res(kind, name, props)


def pod(*changes: tuple[str, Any]) -> dict[str, Any]:
    out = POD
    for path, value in changes:
        out = with_(out, path, value)
    return out


C0 = "containers.0.securityContext"
INIT = {"name": "fetch", "image": "busybox:1.37", "securityContext": RESTRICTED}
PRIVILEGED_REASON = {conventions.PRIVILEGED_ANNOTATION: "GPU devices on GKE"}
RESTRICTED_CASES = [
    *(Case("restricted-pods", workload(kind=kind), workload(pod((f"{C0}.capabilities", None)), kind),
           "container 'server' is not restricted; set capabilities.drop: [ALL]")
      for kind in POD_PATHS),
    Case("restricted-pods", workload(pod((f"{C0}.privileged", False))),
         workload(pod((f"{C0}.privileged", True))), "set privileged: false ("),
    Case("restricted-pods", workload(pod((f"{C0}.privileged", True)), namespace="kube-system"),
         workload(pod((f"{C0}.privileged", True)), namespace="llm"), "privileged: false",
         config={"exemptNamespaces": ["kube-system"]}),
    # The privileged reason lifts privileged, escalation and capabilities, and nothing else.
    Case("restricted-pods",
         workload(pod((f"{C0}.privileged", True), (f"{C0}.allowPrivilegeEscalation", True),
                      (f"{C0}.capabilities", None)), annotations=PRIVILEGED_REASON),
         workload(pod((f"{C0}.privileged", True), (f"{C0}.allowPrivilegeEscalation", True),
                      (f"{C0}.capabilities", None)), annotations={
             conventions.PRIVILEGED_ANNOTATION: " "}),
         "set privileged: false, allowPrivilegeEscalation: false, capabilities.drop: [ALL] ("),
    Case("restricted-pods", workload(annotations=PRIVILEGED_REASON),
         workload(pod((f"{C0}.runAsNonRoot", False)), annotations=PRIVILEGED_REASON),
         "set runAsNonRoot: true ("),
    Case("restricted-pods", workload(pod((f"{C0}.capabilities.drop", ["NET_RAW", "ALL"]))),
         workload(pod((f"{C0}.capabilities.drop", ["NET_RAW"]))), "capabilities.drop: [ALL]"),
    # The container's runAsNonRoot overrides the pod's, either way.
    Case("restricted-pods",
         workload(pod((f"{C0}.runAsNonRoot", True), ("securityContext.runAsNonRoot", False))),
         workload(pod((f"{C0}.runAsNonRoot", False))), "set runAsNonRoot: true ("),
    Case("restricted-pods", workload(pod((f"{C0}.runAsNonRoot", None))),
         workload(pod((f"{C0}.runAsNonRoot", None), ("securityContext.runAsNonRoot", False))),
         "set runAsNonRoot: true ("),
    # User 0 is root whatever runAsNonRoot says; the container's user overrides the pod's.
    Case("restricted-pods",
         workload(pod((f"{C0}.runAsUser", 1000), ("securityContext.runAsUser", 0))),
         workload(pod((f"{C0}.runAsUser", 0))), "set runAsNonRoot: true ("),
    Case("restricted-pods", workload(pod(("securityContext.runAsUser", 1000))),
         workload(pod(("securityContext.runAsUser", 0))), "set runAsNonRoot: true ("),
    Case("restricted-pods",
         workload(pod((f"{C0}.seccompProfile", None),
                      ("securityContext.seccompProfile", {"type": "RuntimeDefault"}))),
         workload(pod((f"{C0}.seccompProfile", None))), "seccompProfile.type: RuntimeDefault"),
    Case("restricted-pods", workload(),
         workload(pod((f"{C0}.seccompProfile", None), ("securityContext.seccompProfile", None))),
         f"{DEPLOY} 'd' container 'server' is not restricted; set seccompProfile.type: "
         "RuntimeDefault (components.kubernetes.pods.container_security and pod_security). A "
         "workload that must run as root states why in the annotation "
         f"{conventions.RUNS_AS_ROOT_ANNOTATION}, one that must be privileged in "
         f"{conventions.PRIVILEGED_ANNOTATION}."),
    Case("restricted-pods",
         workload(pod((f"{C0}.seccompProfile", {"type": "Localhost",
                                                "localhostProfile": "llm.json"}))),
         workload(pod((f"{C0}.seccompProfile", {"type": "Unconfined"}))),
         "seccompProfile.type: RuntimeDefault"),
    # Init containers are held to the same profile.
    Case("restricted-pods", workload(pod(("initContainers", [INIT]))),
         workload(pod(("initContainers", [with_(INIT, "securityContext.capabilities", None)]))),
         "container 'fetch' is not restricted"),
    # A chart's objects are the chart's: a helm.v4.Chart's children are not checked.
    Case("restricted-pods",
         Resource(urn(DEPLOY, "d", parent="kubernetes:helm.sh/v4:Chart"), DEPLOY, "d",
                  workload(pod((f"{C0}.privileged", True))).properties),
         Resource(urn(DEPLOY, "d", parent="llm-platform:index:ModelServer"), DEPLOY, "d",
                  workload(pod((f"{C0}.privileged", True))).properties), "privileged: false"),
]

IMAGE_CASES = [
    *(Case("pinned-images", workload(kind=kind),
           workload(pod(("containers.0.image", "vllm/vllm-openai:latest")), kind),
           "image vllm/vllm-openai:latest uses the moving tag latest") for kind in POD_PATHS),
    Case("pinned-images", workload(pod(("containers.0.image", "registry:5000/vllm:v0.33.0"))),
         workload(pod(("containers.0.image", "registry:5000/vllm"))),
         "image registry:5000/vllm has no tag, so it means latest"),
    Case("pinned-images",
         workload(pod(("containers.0.image", "vllm/vllm-openai@sha256:" + "a" * 64))),
         workload(), "image vllm/vllm-openai:v0.33.0 is not pinned by digest",
         config={"requireDigest": True}),
    Case("pinned-images", workload(pod(("containers.0.image", "vllm/vllm-openai:latest@sha256:"
                                        + "b" * 64))),
         workload(pod(("containers.0.image", None))), "image None has no image"),
    Case("pinned-images", workload(pod(("initContainers", [INIT]))),
         workload(pod(("initContainers", [{**INIT, "image": "busybox"}]))),
         "container 'fetch' image busybox has no tag"),
]

LB = {"spec": {"type": "LoadBalancer"}}
LB_CASES = [
    Case("no-public-load-balancer", res(SVC_T, "s", {"spec": {"type": "ClusterIP"}}),
         res(SVC_T, "s", LB), "(default/s) is a LoadBalancer"),
    Case("no-public-load-balancer",
         res(SVC_T, "s", {**LB, "metadata": {"name": "gateway", "namespace": "llm"}}),
         res(SVC_T, "s", {**LB, "metadata": {"name": "gateway", "namespace": "ops"}}),
         "(ops/gateway) is a LoadBalancer", config={"allowedServices": ["llm/gateway"]}),
    # Without metadata the Service is the resource's name in the default namespace.
    Case("no-public-load-balancer", res(SVC_T, "gw", LB), res(SVC_T, "edge", LB),
         "(default/edge) is a LoadBalancer", config={"allowedServices": ["default/gw"]}),
    Case("no-public-load-balancer",
         res(SVC_T, "s", {**LB, "metadata": {"annotations": {
             conventions.ALLOW_LOAD_BALANCER_ANNOTATION: "partner VPN"}}}),
         res(SVC_T, "s", {**LB, "metadata": {"annotations": {
             conventions.ALLOW_LOAD_BALANCER_ANNOTATION: ""}}}), "is a LoadBalancer"),
]

NO_PROBES = pod(("containers.0.startupProbe", None), ("containers.0.readinessProbe", None))
PROBE_CASES = [
    Case("model-server-probes",
         workload(pod=NO_PROBES, labels={**LABELS, conventions.APP_COMPONENT: "gateway"}),
         workload(pod=NO_PROBES), "container 'server' has no startupProbe or readinessProbe."),
    Case("model-server-probes", workload(pod=NO_PROBES),
         workload(pod=NO_PROBES, labels={**LABELS, conventions.APP_COMPONENT: "inference"}),
         "has no startupProbe or readinessProbe", config={"component": "inference"}),
    Case("model-server-probes", workload(kind="kubernetes:core/v1:Pod"),
         workload(NO_PROBES, "kubernetes:core/v1:Pod"), "has no startupProbe"),
    Case("model-server-probes", workload(kind="kubernetes:apps/v1:StatefulSet"),
         workload(NO_PROBES, "kubernetes:apps/v1:StatefulSet"), "has no startupProbe"),
    Case("model-server-probes", workload(kind=ROLLOUT), workload(NO_PROBES, ROLLOUT),
         f"{ROLLOUT} 'd' container 'server' has no startupProbe or readinessProbe"),
    # Init containers run to completion before the server: they need no probes.
    Case("model-server-probes", workload(pod=pod(("initContainers", [INIT]))),
         workload(pod=pod(("initContainers", [INIT]),
                          ("containers", [INIT, POD["containers"][0]]))),
         "container 'fetch' has no startupProbe or readinessProbe"),
]


OUT_OF_SCOPE_CM = res(CM_T, "cm", {"metadata": {"namespace": "llm", "labels": LABELS}})


def pdb(selector: dict[str, Any], namespace: str | None = "llm") -> Resource:
    meta = {"name": "assistant", **({"namespace": namespace} if namespace else {})}
    return res(PDB_TYPE, "p", {"metadata": meta, "spec": {"maxUnavailable": 1,
                                                           "selector": selector}})


def expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"matchExpressions": [{"key": key, "operator": op, "values": list(values)}]}


APP = "app.kubernetes.io/name"
SERVER = workload(namespace="llm")
NOT_SELECTED = "model server 'd' has no PodDisruptionBudget selecting its pods in namespace llm"
PDB_CASES = [
    Case("model-server-disruption-budget", [SERVER, pdb({"matchLabels": {APP: "assistant"}})],
         [SERVER, pdb({"matchLabels": {APP: "assistant"}}, namespace="ops")], NOT_SELECTED,
         resource="d"),
    Case("model-server-disruption-budget", [workload(), pdb({"matchLabels": {APP: "assistant"}},
                                                           namespace=None)],
         [workload(), pdb({"matchLabels": {APP: "assistant"}})],
         "selecting its pods in namespace default"),
    Case("model-server-disruption-budget", [SERVER, pdb(expr(APP, "In", "chat", "assistant"))],
         [SERVER, pdb(expr(APP, "In", "chat"))], NOT_SELECTED),
    Case("model-server-disruption-budget", [SERVER, pdb(expr(APP, "NotIn", "chat"))],
         [SERVER, pdb(expr(APP, "NotIn", "chat", "assistant"))], NOT_SELECTED),
    Case("model-server-disruption-budget", [SERVER, pdb(expr(APP, "Exists"))],
         [SERVER, pdb(expr("tier", "Exists"))], NOT_SELECTED),
    Case("model-server-disruption-budget", [SERVER, pdb(expr("tier", "DoesNotExist"))],
         [SERVER, pdb(expr(APP, "DoesNotExist"))], NOT_SELECTED),
    # Resources that are not model servers do not end the search for those that are.
    Case("model-server-disruption-budget",
         [OUT_OF_SCOPE_CM, SERVER, pdb({"matchLabels": {APP: "assistant"}})],
         [OUT_OF_SCOPE_CM, SERVER], NOT_SELECTED),
    # An empty selector selects nothing the author meant.
    Case("model-server-disruption-budget", [SERVER, pdb({"matchLabels": {APP: "assistant"}})],
         [SERVER, pdb({})], NOT_SELECTED),
    Case("model-server-disruption-budget",
         [SERVER, pdb({"matchLabels": {APP: "assistant"}, **expr("tier", "DoesNotExist")})],
         [SERVER, pdb({"matchLabels": {APP: "other"}, **expr("tier", "DoesNotExist")})],
         NOT_SELECTED),
    Case("model-server-disruption-budget", [workload(namespace="llm", labels={
        **LABELS, conventions.APP_COMPONENT: "router"})],
         [SERVER], NOT_SELECTED),
    Case("model-server-disruption-budget", [SERVER],
         [workload(namespace="llm", labels={**LABELS, conventions.APP_COMPONENT: "inference"})],
         NOT_SELECTED, config={"component": "inference"}),
    # A Rollout's pods (both ReplicaSets') carry its template's labels: the same PDB covers them.
    Case("model-server-disruption-budget",
         [workload(kind=ROLLOUT, namespace="llm"), pdb({"matchLabels": {APP: "assistant"}})],
         [workload(kind=ROLLOUT, namespace="llm")], NOT_SELECTED),
]

NO_REVISION = (f"{DEPLOY} 'd' serves model 'assistant' with no revision on its pod template "
               f"(label {REV}): the same spec could serve other weights tomorrow, and a "
               f"rollback has no revision to return to. Set models[].revision of 'assistant' in "
               f"the stack to the commit it serves (40 hex")
PINNED_CASES = [
    # A 40-hex commit passes; no label, or an empty one, fails and says what to set.
    Case("model-pinned", workload(labels=PINNED), workload(), NO_REVISION),
    Case("model-pinned", workload(labels=PINNED), workload(labels={**LABELS, REV: ""}),
         "serves model 'assistant' with no revision on its pod template"),
    # A fine-tune's version passes; a branch or tag that moves does not.
    *(Case("model-pinned", workload(labels={**LABELS, REV: "v3"}),
           workload(labels={**LABELS, REV: ref}),
           f"with revision '{ref}', a branch or tag that moves") for ref in ("main", "master",
                                                                            "latest")),
    Case("model-pinned", workload(labels={**LABELS, REV: "v3.1-rc1"}),
         workload(labels={**LABELS, REV: "Main"}),
         "with revision 'Main', neither a 40-hex commit nor a version"),
    # The pods carry the revision, not only the object.
    Case("model-pinned", workload(labels=PINNED),
         res(DEPLOY, "d", with_(workload().properties, "metadata.labels", PINNED)),
         "with no revision on its pod template"),
    # A Rollout is a model server as a Deployment is.
    Case("model-pinned", workload(kind=ROLLOUT, labels=PINNED), workload(kind=ROLLOUT),
         f"{ROLLOUT} 'd' serves model 'assistant' with no revision"),
    Case("model-pinned", workload(kind=ROLLOUT, labels=PINNED),
         workload(kind=ROLLOUT, labels={**LABELS, REV: "main"}), "'main', a branch or tag"),
    # What is not a model server needs no revision.
    Case("model-pinned", workload(labels={**LABELS, conventions.APP_COMPONENT: "gateway"}),
         workload(), "with no revision"),
    Case("model-pinned", workload(),
         workload(labels={**LABELS, conventions.APP_COMPONENT: "inference"}), "with no revision",
         config={"component": "inference"}),
]

RECORD = {"record": "llm:requests:rate5m", "expr": "sum(rate(x[5m]))"}
ALERT_CASES = [
    Case("alert-rule-runbooks",
         res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules", [RECORD, ALERT])),
         res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules", [
             RECORD, with_(ALERT, "annotations.runbook_url", "  ")])),
         "alert ModelDown (group llm): no annotations.runbook_url."),
    Case("alert-rule-runbooks",
         res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules.0.labels.severity", "page")),
         res(RULE_TYPE, "r", PROM_RULE), "labels.severity 'critical' is not one of page, ticket",
         config={"severities": ["page", "ticket"]}),
    Case("alert-rule-runbooks", res(RULE_TYPE, "r", PROM_RULE),
         res(RULE_TYPE, "r", with_(with_(PROM_RULE, "spec.groups.0.rules.0.labels", {}),
                                   "spec.groups.0.rules.0.annotations", {})),
         "no annotations.runbook_url; labels.severity None is not one of critical, warning, info"),
]

# A rule leaves alone what it does not govern: the near miss of its type check.
OUT_OF_SCOPE = res(CM_T, "cm", {"metadata": {"labels": LABELS}, "data": {"k": "v"}})
SCOPE_CASES = [
    Case("private-encrypted-buckets", OUT_OF_SCOPE, res(S3_T, "b", {"acl": "public-read"}),
         "public ACL"),
    Case("cluster-secrets-encryption", VPC, res(EKS_T, "eks", with_(EKS, "encryptionConfig", None)),
         "envelope-encrypt"),
    Case("restricted-pods", OUT_OF_SCOPE, workload(pod((f"{C0}.privileged", True))),
         "privileged: false"),
    Case("pinned-images", OUT_OF_SCOPE, workload(pod(("containers.0.image", "busybox"))),
         "has no tag"),
    Case("gpu-allowlist", VPC, res(NG, "ng", ng(instanceTypes=["p4de.24xlarge"])),
         "not on the allowlist"),
    Case("training-on-spot", OUT_OF_SCOPE, res(NG, "ng", TRAIN_ON_DEMAND), "capacity: spot"),
]

# VictoriaMetrics' VMRule has PrometheusRule's shape (spec.groups[].rules[]), but the
# Prometheus Operator does not load it, so neither its alerts nor its budget alarm count
# (https://docs.victoriametrics.com/operator/resources/vmrule/).
VMRULE_T = "kubernetes:operator.victoriametrics.com/v1beta1:VMRule"
ALARMS = with_(PROM_RULE, "spec.groups.0.rules", [ALERT, BUDGET_ALERT])
VMRULE_CASES = [
    Case("alert-rule-runbooks",
         res(VMRULE_T, "r", with_(PROM_RULE, "spec.groups.0.rules.0.annotations", {})),
         res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules.0.annotations", {})),
         "no annotations.runbook_url"),
    Case("budget-with-notifications", [res(RULE_TYPE, "r", ALARMS)], [res(VMRULE_T, "r", ALARMS)],
         "no budget alarm"),
]

# During preview a value computed from another resource is unknown. A stack rule reads it
# as absent: a node group whose capacity type is unknown is priced on demand, and an
# unknown selector value selects nothing (the known ones still may).
UNKNOWN_CASES = [
    # Node-hours not known yet: the group is priced at its desired size always on,
    # 1 x 730 h x $1.861 = $1,358.53, and 2 nodes twice that, $2,717.06.
    Case("monthly-cost-cap", [res(NG, "ng", ng(UNKNOWN))],
         [res(NG, "ng", ng(UNKNOWN, scalingConfig__desiredSize=2))],
         f"estimated cost $2,717.06/month is over the cap ${AT_CAP}/month",
         config={"maxMonthlyUsd": 1358.53}),
    Case("monthly-cost-cap", [res(NG, "ng", ng(730, capacityType=UNKNOWN))],
         [res(NG, "ng", ng(731, capacityType=UNKNOWN))],
         f"estimated cost ${OVER_CAP}/month is over the cap ${AT_CAP}/month",
         config={"maxMonthlyUsd": 1358.53}),
    Case("model-server-disruption-budget",
         [SERVER, pdb(expr(APP, "In", UNKNOWN, "assistant"))],
         [SERVER, pdb(expr(APP, "In", UNKNOWN, "chat"))], NOT_SELECTED),
    # A recording rule that reads the budget record is not an alarm: nothing pages.
    Case("budget-with-notifications",
         [res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules", [BUDGET_ALERT]))],
         [res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules", [
             {"record": "llm:budget_used:ratio_projected", "expr": "llm:budget_used / 1000"}]))],
         "no budget alarm"),
    # A whole rule not known yet is no alarm, and does not hide the known ones.
    Case("budget-with-notifications",
         [res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules", [UNKNOWN, BUDGET_ALERT]))],
         [res(RULE_TYPE, "r", with_(PROM_RULE, "spec.groups.0.rules", [UNKNOWN, ALERT]))],
         "no budget alarm"),
]

# --- the gateway (objects and names of the issue 16 contract) ------------------------------
# gateway.json as components/kubernetes/gateway/config.runtime_settings writes it.
GW_LABELS = {**LABELS, "app.kubernetes.io/name": "llm-gateway",
             "app.kubernetes.io/component": "gateway"}
GW_TEAMS = [
    {"name": "support-bot", "models": ["assistant"], "rpm": 600, "tpm": 400000,
     "max_parallel_requests": 32, "monthly_budget_usd": 1500.0, "keys": ["support-prod"]},
    {"name": "research", "models": ["assistant"], "rpm": 60, "tpm": 100000,
     "max_parallel_requests": 4, "monthly_budget_usd": 3000.0, "keys": ["research"]},
]
GW_SETTINGS = {"environment": "aws", "ceiling_usd": 4500.0, "log_dir": "/var/log/llm",
               "retention_days": 30, "redact_prompts": False, "teams": GW_TEAMS,
               "models": {"assistant": {"revision": "r1", "fallback": "assistant-hosted"}}}
GW_LIMITS = ["rpm", "tpm", "max_parallel_requests", "monthly_budget_usd"]


def gateway_config(settings: dict[str, Any] | str = GW_SETTINGS,
                   name: str = "llm-gateway-config") -> Resource:
    text = settings if isinstance(settings, str) else json.dumps(settings)
    return res(CM_T, name, {"metadata": {"name": name, "namespace": "llm", "labels": GW_LABELS},
                            "data": {"gateway.json": text, "config.yaml": "model_list: []\n"}})


ABSENT = object()


def gw_team(index: int, **changes: Any) -> dict[str, Any]:
    """GW_SETTINGS with team `index` changed: None is JSON null, ABSENT drops the key."""
    out = copy.deepcopy(GW_SETTINGS)
    team = out["teams"][index]
    for key, value in changes.items():
        if value is ABSENT:
            team.pop(key)
        else:
            team[key] = value
    return out


def budgets(*amounts: float | None, ceiling: float | None = 4500.0) -> dict[str, Any]:
    out = copy.deepcopy(GW_SETTINGS)
    out["ceiling_usd"] = ceiling
    for i, amount in enumerate(amounts):
        out["teams"][i]["monthly_budget_usd"] = amount
    return out


GW_IMAGE = "ghcr.io/llm-platform/gateway:0.1.0"
GW_PINNED = f"{GW_IMAGE}@sha256:{'ab' * 32}"
GW_POD = {"securityContext": {"runAsNonRoot": True},
          "containers": [{"name": "gateway", "image": GW_PINNED, "securityContext": RESTRICTED}]}
JOB_T = "kubernetes:batch/v1:Job"
UNTIL = "until images.yml pins the gateway image's digest"


def gw_workload(image: Any = GW_PINNED, kind: str = DEPLOY, labels: dict[str, str] = GW_LABELS,
                init: str | None = None, pod_labels: bool = True) -> Resource:
    pod = with_(GW_POD, "containers.0.image", None if image is ABSENT else image)
    if init is not None:
        pod["initContainers"] = [{"name": "wait", "image": init, "securityContext": RESTRICTED}]
    template = {"metadata": {"labels": labels if pod_labels else {}}, "spec": pod}
    name = "llm-gateway" if kind == DEPLOY else "llm-gateway-provision-0a1b2c3d"
    return res(kind, name, {"metadata": {"name": name, "namespace": "llm", "labels": labels},
                            "spec": {"template": template}})


GATEWAY_CASES = [
    # Each limit missing alone: null in gateway.json, and the key absent.
    *(Case("gateway-team-limits", gateway_config(), gateway_config(gw_team(1, **{k: v})),
           f"gateway team 'research' has no {k} (kubernetes:core/v1:ConfigMap "
           f"'llm-gateway-config', gateway.json)")
      for k in GW_LIMITS for v in (None, ABSENT)),
    # Every missing limit is named, in one line per team; 0 is a limit (nothing passes).
    Case("gateway-team-limits", gateway_config(gw_team(0, rpm=0, monthly_budget_usd=0)),
         gateway_config(gw_team(0, rpm=ABSENT, monthly_budget_usd=ABSENT)),
         "gateway team 'support-bot' has no rpm, monthly_budget_usd ("),
    # Only the gateway's own ConfigMap holds gateway settings.
    Case("gateway-team-limits", gateway_config(gw_team(1, tpm=ABSENT), name="other"),
         gateway_config(gw_team(1, tpm=ABSENT)), "has no tpm"),
    Case("gateway-team-limits", gateway_config(gw_team(1, tpm=None)),
         gateway_config(gw_team(0, tpm=None)), "gateway team 'support-bot' has no tpm",
         config={"exemptTeams": ["research"]}),
    Case("gateway-team-limits",
         res("kubernetes:core/v1:Secret", "llm-gateway-config",
             gateway_config(gw_team(1, tpm=None)).properties),
         gateway_config(gw_team(1, tpm=None)), "has no tpm"),
    Case("gateway-team-limits", gateway_config(), gateway_config("{teams: ["),
         "data gateway.json is not JSON"),
    # The sum of the budgets may reach the ceiling, not pass it; a team without a budget
    # adds nothing (gateway-team-limits refuses it); without a ceiling nothing is compared.
    Case("gateway-budgets-within-ceiling", gateway_config(budgets(1500.0, 3000.0)),
         gateway_config(budgets(1500.0, 3000.01)),
         "gateway team budgets add up to $4,500.01/month (support-bot $1,500.00, research "
         "$3,000.01), over the environment ceiling $4,500.00/month", level="advisory"),
    Case("gateway-budgets-within-ceiling", gateway_config(budgets(4500.0, None)),
         gateway_config(budgets(4500.0, 0.5)), "add up to $4,500.50/month (support-bot "
         "$4,500.00, research $0.50)", level="advisory"),
    # 10% overcommit of $4,500: up to $4,950.
    Case("gateway-budgets-within-ceiling", gateway_config(budgets(1500.0, 3450.0)),
         gateway_config(budgets(1500.0, 3450.01)), "$4,950.01/month (support-bot $1,500.00, "
         "research $3,450.01), over the environment ceiling $4,500.00/month plus the 10% "
         "overcommit allowed", config={"overcommitPct": 10}, level="advisory"),
    Case("gateway-budgets-within-ceiling", gateway_config(budgets(9000.0, 1.0, ceiling=None)),
         gateway_config(budgets(9000.0, 1.0)), "over the environment ceiling",
         level="advisory"),
    Case("gateway-budgets-within-ceiling", gateway_config(budgets(9000.0, 1.0), name="other"),
         gateway_config(budgets(9000.0, 1.0)), "$9,001.00/month", level="advisory"),
    # The gateway Deployment and its provisioning Job, by the component label on the
    # object or on its pods; every container, init containers too.
    Case("gateway-image-digest", gw_workload(), gw_workload(GW_IMAGE),
         f"'llm-gateway' container 'gateway' runs {GW_IMAGE}, not pinned by digest"),
    Case("gateway-image-digest", gw_workload(kind=JOB_T), gw_workload(GW_IMAGE, kind=JOB_T),
         "'llm-gateway-provision-0a1b2c3d' container 'gateway'"),
    Case("gateway-image-digest", gw_workload(kind=ROLLOUT), gw_workload(GW_IMAGE, kind=ROLLOUT),
         f"{ROLLOUT} 'llm-gateway-provision-0a1b2c3d' container 'gateway' runs {GW_IMAGE}"),
    Case("gateway-image-digest", gw_workload(pod_labels=False),
         gw_workload(GW_IMAGE, pod_labels=False), "not pinned by digest"),
    Case("gateway-image-digest", gw_workload(), gw_workload(ABSENT),
         "container 'gateway' runs None, not pinned by digest"),
    Case("gateway-image-digest", gw_workload(init=GW_PINNED), gw_workload(init="busybox:1.37"),
         "container 'wait' runs busybox:1.37"),
    # A model server's tag is pinned-images' business, not this rule's.
    Case("gateway-image-digest", gw_workload(GW_IMAGE, labels=LABELS),
         gw_workload(GW_IMAGE), "not pinned by digest"),
    # Lowered by a stack's policy config, the violation carries the config's reason.
    Case("gateway-image-digest", gw_workload(), gw_workload(GW_IMAGE),
         f"Lowered by the policy config: {UNTIL}.", config={"reason": UNTIL}),
]

# A GPU Job, CronJob or JobSet on an on-demand cloud pool needs a stated reason. The pool
# is found by the pod's nodeSelector against the node labels the node pool itself carries,
# and its capacity read off the node pool (never a label the workload sets on itself).
TRAINER = {"name": "trainer", "image": "ghcr.io/acme/trainer@sha256:" + "a" * 64,
           "resources": {"limits": {"nvidia.com/gpu": 1}}}
TRAIN_SELECTOR = {conventions.POOL_LABEL: "train"}
TRAIN_POD = {"nodeSelector": TRAIN_SELECTOR, "containers": [TRAINER]}
JOB_T, CRONJOB_T = "kubernetes:batch/v1:Job", "kubernetes:batch/v1:CronJob"
JOBSET_T = "kubernetes:jobset.x-k8s.io/v1alpha2:JobSet"
REASON = {"llm-platform.dev/on-demand-reason": "the contract's deadline cannot absorb a reclaim"}
# The aws train pool as its foundation makes it: labels on its nodes, on demand.
TRAIN_NG_OD = with_(with_(TRAIN_ON_DEMAND, f"tags.{pricing.POOL_TAG}", "train"), "labels",
                    TRAIN_SELECTOR)
TRAIN_NG_SPOT = with_(TRAIN_NG_OD, "capacityType", "SPOT")
GKE_TRAIN_SPOT = with_(GKE_POOL, "nodeConfig.labels", TRAIN_SELECTOR)
AKS_TRAIN_SPOT = with_(AKS_POOL, "nodeLabels", TRAIN_SELECTOR)


def batch(kind: str = JOB_T, pod_: dict[str, Any] = TRAIN_POD, **meta: Any) -> Resource:
    if kind == JOBSET_T:
        props = {"spec": {"replicatedJobs": [
            {"name": "workers", "template": {"spec": {"template": {"spec": pod_}}}}]}}
    else:
        props = nested(POD_PATHS[kind], pod_)
    props["metadata"] = {"name": "train-support-ft", **meta}
    return res(kind, "train-support-ft", props)


ON_DEMAND_JOB = "runs GPU work on on-demand pool train. Run it on a spot training pool"
TRAINING_JOB_CASES = [
    # The stated reason, on the workload itself, is the exemption.
    Case("gpu-jobs-on-spot", [res(NG, "ng", TRAIN_NG_OD), batch(annotations=REASON)],
         [res(NG, "ng", TRAIN_NG_OD), batch()], f"{JOB_T} 'train-support-ft' {ON_DEMAND_JOB}",
         resource="train-support-ft"),
    Case("gpu-jobs-on-spot", [res(NG, "ng", TRAIN_NG_SPOT), batch(CRONJOB_T)],
         [res(NG, "ng", TRAIN_NG_OD), batch(CRONJOB_T)], ON_DEMAND_JOB),
    # Each replicated job of a JobSet is a pod template; one on another pool is not on it.
    Case("gpu-jobs-on-spot",
         [res(NG, "ng", TRAIN_NG_OD), batch(JOBSET_T, with_(TRAIN_POD, "nodeSelector",
                                                            {conventions.POOL_LABEL: "l40s"}))],
         [res(NG, "ng", TRAIN_NG_OD), batch(JOBSET_T)], ON_DEMAND_JOB),
    # A Job without GPUs, or without a node selector, is not placed on the pool by us.
    Case("gpu-jobs-on-spot",
         [res(NG, "ng", TRAIN_NG_OD), batch(pod_=with_(TRAIN_POD, "containers.0.resources",
                                                       None))],
         [res(NG, "ng", TRAIN_NG_OD), batch()], ON_DEMAND_JOB),
    Case("gpu-jobs-on-spot",
         [res(NG, "ng", TRAIN_NG_OD), batch(pod_=with_(TRAIN_POD, "nodeSelector", None))],
         [res(NG, "ng", TRAIN_NG_OD), batch()], ON_DEMAND_JOB),
    # A model server on an on-demand inference pool is not a job.
    Case("gpu-jobs-on-spot",
         [res(NG, "ng", TRAIN_NG_OD), workload(TRAIN_POD)],
         [res(NG, "ng", TRAIN_NG_OD), batch()], ON_DEMAND_JOB),
    # A pool the policy config exempts takes GPU jobs without a reason; another does not.
    Case("gpu-jobs-on-spot", [res(NG, "ng", TRAIN_NG_OD), batch()],
         [res(NG, "ng", with_(TRAIN_NG_OD, f"tags.{pricing.POOL_TAG}", "train-burst")), batch()],
         "on on-demand pool train-burst.", config={"exemptPools": ["train"]}),
    # GKE and AKS pools carry their nodes' labels where their SDKs put them.
    Case("gpu-jobs-on-spot", [res(GKE_POOL_T, "p", GKE_TRAIN_SPOT), batch()],
         [res(GKE_POOL_T, "p", with_(GKE_TRAIN_SPOT, "nodeConfig.spot", False)), batch()],
         "runs GPU work on on-demand pool p."),
    Case("gpu-jobs-on-spot", [res(AKS_POOL_T, "a", AKS_TRAIN_SPOT), batch()],
         [res(AKS_POOL_T, "a", with_(AKS_TRAIN_SPOT, "scaleSetPriority", "Regular")), batch()],
         "runs GPU work on on-demand pool a."),
]

CASES += [*GATEWAY_CASES, *SCOPE_CASES, *VMRULE_CASES, *UNKNOWN_CASES, *TAG_CASES, *GPU_CASES, *BOUND_CASES, *SPOT_CASES, *BUDGET_CASES, *COST_CASES,
          *STORAGE_CASES, *GUARD_CASES, *ENDPOINT_CASES, *SECRETS_CASES, *IMDS_CASES,
          *RESTRICTED_CASES, *IMAGE_CASES, *LB_CASES, *PROBE_CASES, *PDB_CASES, *ALERT_CASES,
          *PINNED_CASES, *TRAINING_JOB_CASES]
