"""Monthly prices of AWS resources, by Pulumi type token, from their inputs
(components.pricing.price_resource looks them up here). Pure: no Pulumi import."""

from __future__ import annotations

from typing import Any

from components import catalog
from components.pricing import (
    HOURS_PER_MONTH,
    LineItem,
    Pricer,
    always_on,
    nodes,
    per_month,
    service,
    stored,
)


def _node_group(type_: str, name: str, inputs: dict[str, Any]) -> list[LineItem]:
    scaling = inputs.get("scalingConfig") or {}
    return [
        nodes(
            type_,
            name,
            list(inputs.get("instanceTypes") or []),
            inputs.get("capacityType") == "SPOT",
            inputs.get("tags") or {},
            float(scaling.get("desiredSize", 0)),
        )
    ]


def _eks_cluster(type_: str, name: str, inputs: dict[str, Any]) -> list[LineItem]:
    """EKS bills a version past its end of standard support at the extended-support rate,
    unless the upgrade policy is STANDARD (then EKS upgrades it instead); the policy's
    default is EXTENDED."""
    info = catalog.kubernetes_version("eks", str(inputs.get("version", "")))
    support = (inputs.get("upgradePolicy") or {}).get("supportType", "EXTENDED")
    extended = (
        info is not None and support == "EXTENDED" and catalog.plan_date() >= info.end_of_standard
    )
    service_id = "aws-eks-cluster-extended" if extended else "aws-eks-cluster"
    return [service(type_, name, service_id, HOURS_PER_MONTH)]


PRICES: dict[str, Pricer] = {
    "aws:eks/cluster:Cluster": _eks_cluster,
    "aws:eks/nodeGroup:NodeGroup": _node_group,
    "aws:ec2/natGateway:NatGateway": always_on("aws-nat-gateway"),
    "aws:ec2/eip:Eip": always_on("aws-public-ipv4"),
    "aws:s3/bucket:Bucket": stored("aws-s3-standard", "tags"),
    "aws:kms/key:Key": per_month("aws-kms-key"),
    "aws:ec2/vpnConnection:VpnConnection": always_on("aws-vpn-connection"),
    "aws:lb/loadBalancer:LoadBalancer": always_on("aws-nlb"),
}
