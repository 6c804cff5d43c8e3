"""Network: a VPC across three availability zones, public subnets for NAT and load
balancers, private subnets for the nodes, and NAT per AZ (or one, by spec)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from components.spec import EnvironmentSpec


@dataclass(frozen=True)
class NetworkArgs:
    spec: EnvironmentSpec
    cluster_name: str


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:aws:Network", name, None, opts)
        spec = args.spec
        cfg = spec.aws
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        tags = naming.tags(spec)
        owned = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=cfg.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={**tags, "Name": f"{name}-vpc"},
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags={**tags, "Name": f"{name}-igw"}, opts=child
        )
        # /16 -> /20 per subnet: public in the first three, private (the nodes, which need
        # room for every pod IP under the VPC CNI) in the larger /18 blocks after them.
        net = ipaddress.IPv4Network(cfg.vpc_cidr)
        public_cidrs = list(net.subnets(new_prefix=net.prefixlen + 4))[:3]
        private_cidrs = list(net.subnets(new_prefix=net.prefixlen + 2))[1:4]
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
            tags={**tags, "Name": f"{name}-public"},
            opts=child,
        )
        nats: list[aws.ec2.NatGateway] = []
        self.private_subnet_ids = []
        self.private_route_table_ids = []
        for i, zone in enumerate(cfg.zones):
            public = aws.ec2.Subnet(
                f"{name}-public-{zone}",
                vpc_id=vpc.id,
                cidr_block=str(public_cidrs[i]),
                availability_zone=zone,
                map_public_ip_on_launch=False,
                tags={
                    **tags,
                    **owned,
                    "Name": f"{name}-public-{zone}",
                    "kubernetes.io/role/elb": "1",
                },
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{zone}",
                subnet_id=public.id,
                route_table_id=public_rt.id,
                opts=child,
            )
            if cfg.nat == "per-az" or not nats:
                eip = aws.ec2.Eip(
                    f"{name}-nat-{zone}",
                    domain="vpc",
                    tags={**tags, "Name": f"{name}-nat-{zone}"},
                    opts=child,
                )
                nats.append(
                    aws.ec2.NatGateway(
                        f"{name}-nat-{zone}",
                        allocation_id=eip.id,
                        subnet_id=public.id,
                        tags={**tags, "Name": f"{name}-nat-{zone}"},
                        opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
                    )
                )
            private = aws.ec2.Subnet(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                cidr_block=str(private_cidrs[i]),
                availability_zone=zone,
                tags={
                    **tags,
                    **owned,
                    "Name": f"{name}-private-{zone}",
                    "kubernetes.io/role/internal-elb": "1",
                },
                opts=child,
            )
            rt = aws.ec2.RouteTable(
                f"{name}-private-{zone}",
                vpc_id=vpc.id,
                routes=[
                    aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nats[-1].id)
                ],
                tags={**tags, "Name": f"{name}-private-{zone}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-private-{zone}", subnet_id=private.id, route_table_id=rt.id, opts=child
            )
            self.private_subnet_ids.append(private.id)
            self.private_route_table_ids.append(rt.id)
        self.vpc_id = vpc.id
        self.register_outputs({"vpc_id": self.vpc_id})
