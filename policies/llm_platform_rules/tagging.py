"""Tags and labels: what lets finance attribute a bill and on-call find an owner."""

from __future__ import annotations

from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, Severity

from components import naming

from ._base import CLOUD_PREFIXES, get, k8s_object, rule, string_list, where

REQUIRED_TAGS = ["team", "cost-center", "environment", "owner", "managed-by"]
REQUIRED_LABELS = [
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/component",
    "app.kubernetes.io/part-of",
    "app.kubernetes.io/managed-by",
    f"{naming.LABEL_PREFIX}/team",
    f"{naming.LABEL_PREFIX}/cost-center",
]

# Where a type keeps its tags when it is not the top-level `tags` (AWS, Azure) or `labels`
# (GCP) input.
TAG_PATHS: dict[str, tuple[str, ...]] = {
    "gcp:container/cluster:Cluster": ("resourceLabels",),
    "gcp:container/nodePool:NodePool": ("nodeConfig", "resourceLabels"),
    "gcp:monitoring/notificationChannel:NotificationChannel": ("userLabels",),
}

# Types whose cloud API accepts tags or labels, checked against the provider SDKs for
# every type the example stacks create (tests/test_policies.py). A type that is not listed
# but is given tags is checked too, so a partial set of tags never passes.
TAGGABLE = frozenset(
    {
        "aws:budgets/budget:Budget",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:ec2/customerGateway:CustomerGateway",
        "aws:ec2/eip:Eip",
        "aws:ec2/instance:Instance",
        "aws:ec2/internetGateway:InternetGateway",
        "aws:ec2/launchTemplate:LaunchTemplate",
        "aws:ec2/natGateway:NatGateway",
        "aws:ec2/routeTable:RouteTable",
        "aws:ec2/securityGroup:SecurityGroup",
        "aws:ec2/subnet:Subnet",
        "aws:ec2/vpc:Vpc",
        "aws:ec2/vpnConnection:VpnConnection",
        "aws:ec2/vpnGateway:VpnGateway",
        "aws:eks/addon:Addon",
        "aws:eks/cluster:Cluster",
        "aws:eks/nodeGroup:NodeGroup",
        "aws:eks/podIdentityAssociation:PodIdentityAssociation",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:iam/role:Role",
        "aws:kms/key:Key",
        "aws:lambda/function:Function",
        "aws:s3/bucket:Bucket",
        "aws:sns/topic:Topic",
        "gcp:compute/instance:Instance",
        "gcp:container/cluster:Cluster",
        "gcp:container/nodePool:NodePool",
        "gcp:kms/cryptoKey:CryptoKey",
        "gcp:monitoring/notificationChannel:NotificationChannel",
        "gcp:pubsub/topic:Topic",
        "gcp:storage/bucket:Bucket",
        "azure-native:containerservice:AgentPool",
        "azure-native:containerservice:ManagedCluster",
        "azure-native:keyvault:Key",
        "azure-native:keyvault:Vault",
        "azure-native:managedidentity:UserAssignedIdentity",
        "azure-native:monitor:ActionGroup",
        "azure-native:network:NatGateway",
        "azure-native:network:PublicIPAddress",
        "azure-native:network:VirtualNetwork",
        "azure-native:network:VirtualNetworkGateway",
        "azure-native:resources:ResourceGroup",
        "azure-native:storage:StorageAccount",
    }
)


def tag_path(type_: str) -> tuple[str, ...]:
    if type_ in TAG_PATHS:
        return TAG_PATHS[type_]
    return ("labels",) if type_.startswith("gcp:") else ("tags",)


def _missing(found: Any, required: list[str]) -> list[str]:
    found = found if hasattr(found, "keys") else {}
    return [k for k in required if not str(found.get(k) or "").strip()]


def _cloud_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    type_ = args.resource_type
    if not type_.startswith(CLOUD_PREFIXES):
        return
    path = tag_path(type_)
    found = get(args.props, *path)
    if type_ not in TAGGABLE and found is None:
        return
    required = args.get_config().get("requiredTags") or REQUIRED_TAGS
    missing = _missing(found, required)
    if missing:
        key = ".".join(path)
        report(
            f"{where(args)} has no {', '.join(missing)} in `{key}`. Build tags with "
            f"components.naming.tags(spec) (or set them in the stack's `tags` block) so the "
            f"bill can be attributed and the owner paged."
        )


def _k8s_labels(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if not k8s_object(args.resource_type):
        return
    required = args.get_config().get("requiredLabels") or REQUIRED_LABELS
    missing = _missing(get(args.props, "metadata", "labels"), required)
    if missing:
        report(
            f"{where(args)} has no label {', '.join(missing)}. Use "
            f"components.naming.k8s_labels(spec, name, component) for metadata.labels."
        )


POLICIES = [
    rule(
        "cloud-resource-tags",
        "Every taggable AWS, GCP or Azure resource carries the required tags or labels.",
        _cloud_tags,
        severity=Severity.MEDIUM,
        schema={
            "requiredTags": string_list("tag (label) keys every resource must carry", REQUIRED_TAGS)
        },
        remediation="Add the missing keys to the resource's tags (labels on GCP), e.g. with "
        "components.naming.tags(spec).",
    ),
    rule(
        "kubernetes-labels",
        "Every Kubernetes object carries the recommended app.kubernetes.io/* labels plus "
        "team and cost-center.",
        _k8s_labels,
        severity=Severity.LOW,
        schema={
            "requiredLabels": string_list("label keys every object must carry", REQUIRED_LABELS)
        },
        remediation="Set metadata.labels from components.naming.k8s_labels(spec, name, component).",
    ),
]
