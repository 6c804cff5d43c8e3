"""What the policy pack reads off AWS resources, by Pulumi type token (see
components.clouds.PolicyTypes). Pure: no Pulumi import."""

from __future__ import annotations

from components.aws import policy_checks
from components.clouds import PolicyTypes, Props
from components.props import amount, get, items, number

NODE_GROUP = "aws:eks/nodeGroup:NodeGroup"


def _budget(p: Props) -> tuple[float | None, int]:
    notified = sum(
        1
        for n in p.get("notifications") or []
        if n.get("subscriberEmailAddresses") or n.get("subscriberSnsTopicArns")
    )
    return amount(p.get("limitAmount")), notified


POLICY_TYPES = PolicyTypes(
    # Checked against pulumi-aws for every type the example stacks create
    # (tests/test_policies.py).
    taggable=frozenset(
        {
            "aws:budgets/budget:Budget",
            "aws:cloudwatch/logGroup:LogGroup",
            "aws:cloudwatch/metricAlarm:MetricAlarm",
            "aws:ec2/customerGateway:CustomerGateway",
            "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
            "aws:ec2/eip:Eip",
            "aws:ec2/flowLog:FlowLog",
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
            NODE_GROUP,
            "aws:eks/podIdentityAssociation:PodIdentityAssociation",
            "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
            "aws:iam/role:Role",
            "aws:kms/key:Key",
            "aws:lambda/function:Function",
            "aws:s3/bucket:Bucket",
            "aws:sns/topic:Topic",
            "aws:sqs/queue:Queue",
        }
    ),
    tag_paths={},
    default_tag_path=("tags",),
    # P, G, Trn, Inf and DL instances carry accelerators.
    gpu_family=r"^(p|g|gr|trn|inf|dl)\d[a-z0-9-]*\.",
    instance_types={
        NODE_GROUP: lambda p: items(get(p, "instanceTypes")),
        "aws:ec2/launchTemplate:LaunchTemplate": lambda p: [get(p, "instanceType")],
        "aws:ec2/instance:Instance": lambda p: [get(p, "instanceType")],
    },
    pool_max={
        NODE_GROUP: lambda p: ("scalingConfig.maxSize", number(get(p, "scalingConfig", "maxSize")))
    },
    pool_tags={NODE_GROUP: ("tags",)},
    node_labels={NODE_GROUP: ("labels",)},
    on_spot={NODE_GROUP: lambda p: get(p, "capacityType") == "SPOT"},
    budgets={"aws:budgets/budget:Budget": _budget},
    storage=policy_checks.STORAGE,
    endpoint=policy_checks.ENDPOINT,
    secrets_encryption=policy_checks.SECRETS_ENCRYPTION,
    instance_metadata=policy_checks.INSTANCE_METADATA,
    bucket_guards=policy_checks.BUCKET_GUARDS,
)
