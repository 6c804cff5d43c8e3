"""AWS in the cloud registry (components/clouds.py). Pure: no provider SDK import."""

from __future__ import annotations

from components.aws import mocks, policy_types, prices, scanner
from components.aws.spec import Aws
from components.clouds import ApiEndpoint, Cloud, ManagedKubernetes

CLOUD = Cloud(
    name="aws",
    label="AWS",
    sdk="pulumi_aws",
    type_prefix="aws:",
    foundation="components.aws.foundation:AwsFoundation",
    block=Aws,
    cidrs=lambda block: [("vpc_cidr", block.vpc_cidr)],
    several_instance_types=True,
    kubernetes=ManagedKubernetes(
        platform="eks",
        label="EKS",
        extended_support_field="extended_support",
        needs_autoscaler_image=True,
    ),
    api_endpoint=ApiEndpoint(cluster="EKS", public_cidrs_field="public_endpoint_cidrs"),
    prices=prices.PRICES,
    computed=mocks.computed,
    policy=policy_types.POLICY_TYPES,
    scanner_skips=scanner.SKIPS,
)
