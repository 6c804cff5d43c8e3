"""Network: a custom-mode VPC with one regional subnet and secondary ranges for pods and
services (VPC-native GKE), Cloud NAT so private nodes can pull images, and a logged
deny-all-ingress firewall rule beneath every allow rule."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.gcp import names
from components.gcp.args import NetworkArgs
from components.naming import fit

PODS_RANGE = "pods"
SERVICES_RANGE = "services"


def subnet(args: NetworkArgs, network_id: pulumi.Input[str]) -> dict[str, Any]:
    """The node subnet: Private Google Access (nodes have no public address), VPC-native
    secondary ranges, and flow logs."""
    return dict(
        network=network_id,
        region=args.region,
        ip_cidr_range=args.subnet_cidr,
        private_ip_google_access=True,
        secondary_ip_ranges=[
            gcp.compute.SubnetworkSecondaryIpRangeArgs(
                range_name=PODS_RANGE, ip_cidr_range=args.pods_cidr
            ),
            gcp.compute.SubnetworkSecondaryIpRangeArgs(
                range_name=SERVICES_RANGE, ip_cidr_range=args.services_cidr
            ),
        ],
        log_config=gcp.compute.SubnetworkLogConfigArgs(
            aggregation_interval="INTERVAL_5_MIN", flow_sampling=0.5
        ),
    )


# Just above the implied deny-all ingress rule (65535, which has no logging setting): every
# allow rule GKE creates for the cluster (its -master, -vms and -all rules, Service load
# balancers' k8s-fw rules) has priority 1000 and wins over this one, so it blocks nothing the
# implied rule would let through; it makes the ingress policy explicit and logs what it denies
# (cloud.google.com/firewall/docs/firewalls#default_firewall_rules: "implied deny ingress ...
# lowest possible priority (65535)"; .../firewall-rules-logging).
DENY_INGRESS_PRIORITY = 65534


def deny_ingress(network_id: pulumi.Input[str]) -> dict[str, Any]:
    """Every protocol from any IPv4 source, denied and logged. Private nodes have no external
    address, so what reaches this rule is internal traffic no allow rule admits: a small log.
    Without metadata (VM and VPC names), each entry is the connection and the rule; the IPs
    name the node."""
    return dict(
        network=network_id,
        description="Deny and log ingress no higher-priority rule allows (llm-platform)",
        direction="INGRESS",
        priority=DENY_INGRESS_PRIORITY,
        source_ranges=["0.0.0.0/0"],
        denies=[gcp.compute.FirewallDenyArgs(protocol="all")],
        log_config=gcp.compute.FirewallLogConfigArgs(metadata="EXCLUDE_ALL_METADATA"),
    )


def nat(args: NetworkArgs, router: pulumi.Input[str]) -> dict[str, Any]:
    return dict(
        router=router,
        region=args.region,
        nat_ip_allocate_option="AUTO_ONLY",
        source_subnetwork_ip_ranges_to_nat="ALL_SUBNETWORKS_ALL_IP_RANGES",
        log_config=gcp.compute.RouterNatLogConfigArgs(enable=True, filter="ERRORS_ONLY"),
    )


class Network(pulumi.ComponentResource):
    network_id: pulumi.Output[str]
    subnet_id: pulumi.Output[str]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:gcp:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        vpc = gcp.compute.Network(
            fit(f"{name}-vpc", names.COMPUTE),
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            opts=child,
        )
        nodes = gcp.compute.Subnetwork(
            fit(f"{name}-nodes", names.COMPUTE), **subnet(args, vpc.id), opts=child
        )
        gcp.compute.Firewall(
            fit(f"{name}-deny-ingress", names.COMPUTE), **deny_ingress(vpc.id), opts=child
        )
        router = gcp.compute.Router(
            fit(f"{name}-router", names.COMPUTE), network=vpc.id, region=args.region, opts=child
        )
        gcp.compute.RouterNat(
            fit(f"{name}-nat", names.COMPUTE), **nat(args, router.name), opts=child
        )
        self.network_id = vpc.id
        self.subnet_id = nodes.id
        self.register_outputs({"network_id": self.network_id})
