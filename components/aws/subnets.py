"""How the network's address space and subnets are laid out, zone by zone.

Pure: no Pulumi import. network.py creates the resources this module describes."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from components.aws.args import NetworkArgs

DEFAULT_ROUTE = "0.0.0.0/0"


@dataclass(frozen=True)
class ZoneLayout:
    zone: str
    public_cidr: str  # NAT gateways and load balancers
    private_cidr: str  # the nodes
    nat_zone: str  # the zone whose NAT gateway the private subnet routes through

    @property
    def nat(self) -> bool:
        """Whether this zone's public subnet holds a NAT gateway."""
        return self.nat_zone == self.zone


def zone_layouts(args: NetworkArgs) -> list[ZoneLayout]:
    """/16 -> /20 per public subnet, in the first three; the private subnets (the nodes,
    which need room for every pod IP under the VPC CNI) take the larger /18 blocks after
    them. Per-AZ NAT puts a gateway in every zone, single NAT only in the first."""
    net = ipaddress.IPv4Network(args.cidr)
    public = list(net.subnets(new_prefix=net.prefixlen + 4))[:3]
    private = list(net.subnets(new_prefix=net.prefixlen + 2))[1:4]
    return [
        ZoneLayout(
            zone=zone,
            public_cidr=str(public[i]),
            private_cidr=str(private[i]),
            nat_zone=zone if args.nat == "per-az" else args.zones[0],
        )
        for i, zone in enumerate(args.zones)
    ]


def named(tags: dict[str, str], name: str) -> dict[str, str]:
    """`tags` plus the Name tag the EC2 console shows."""
    return {**tags, "Name": name}


def subnet_tags(args: NetworkArgs, name: str, public: bool) -> dict[str, str]:
    """Tags that let EKS and the load balancer controller find the subnet: shared with the
    cluster, and the role (internet-facing or internal load balancers) it may serve."""
    role = "kubernetes.io/role/elb" if public else "kubernetes.io/role/internal-elb"
    return {
        **args.tags,
        f"kubernetes.io/cluster/{args.cluster_name}": "shared",
        "Name": name,
        role: "1",
    }


def flow_log_group(args: NetworkArgs) -> str:
    """The log group the VPC's flow logs go to."""
    return f"/aws/vpc-flow-logs/{args.cluster_name}"
