"""Network: a VPC across three availability zones, public subnets for NAT and load
balancers, private subnets for the nodes, and NAT per AZ (or one, by spec)."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from components.aws.args import NetworkArgs
from components.aws.subnets import DEFAULT_ROUTE, ZoneLayout, named, subnet_tags, zone_layouts


class Network(pulumi.ComponentResource):
    vpc_id: pulumi.Output[str]
    private_subnet_ids: list[pulumi.Output[str]]
    private_route_table_ids: list[pulumi.Output[str]]

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:aws:Network", name, None, opts)
        self._base, self._args = name, args
        child = pulumi.ResourceOptions(parent=self)
        vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags=named(args.tags, f"{name}-vpc"),
            opts=child,
        )
        igw = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=vpc.id, tags=named(args.tags, f"{name}-igw"), opts=child
        )
        public_rt = aws.ec2.RouteTable(
            f"{name}-public",
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block=DEFAULT_ROUTE, gateway_id=igw.id)],
            tags=named(args.tags, f"{name}-public"),
            opts=child,
        )
        nats: dict[str, aws.ec2.NatGateway] = {}
        self.private_subnet_ids = []
        self.private_route_table_ids = []
        for layout in zone_layouts(args):
            public = self._subnet(layout, vpc, public=True)
            self._associate(f"{name}-public-{layout.zone}", public, public_rt)
            if layout.nat:
                nats[layout.zone] = self._nat(layout.zone, public, igw)
            private = self._subnet(layout, vpc, public=False)
            to_nat = aws.ec2.RouteTableRouteArgs(
                cidr_block=DEFAULT_ROUTE, nat_gateway_id=nats[layout.nat_zone].id
            )
            rt = aws.ec2.RouteTable(
                f"{name}-private-{layout.zone}",
                vpc_id=vpc.id,
                routes=[to_nat],
                tags=named(args.tags, f"{name}-private-{layout.zone}"),
                opts=child,
            )
            self._associate(f"{name}-private-{layout.zone}", private, rt)
            self.private_subnet_ids.append(private.id)
            self.private_route_table_ids.append(rt.id)
        self.vpc_id = vpc.id
        self.register_outputs({"vpc_id": self.vpc_id})

    def _subnet(self, layout: ZoneLayout, vpc: aws.ec2.Vpc, public: bool) -> aws.ec2.Subnet:
        subnet = f"{self._base}-{'public' if public else 'private'}-{layout.zone}"
        return aws.ec2.Subnet(
            subnet,
            vpc_id=vpc.id,
            cidr_block=layout.public_cidr if public else layout.private_cidr,
            availability_zone=layout.zone,
            # Nothing in a public subnet gets an address it did not ask for.
            map_public_ip_on_launch=False if public else None,
            tags=subnet_tags(self._args, subnet, public),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _associate(self, name: str, subnet: aws.ec2.Subnet, table: aws.ec2.RouteTable) -> None:
        aws.ec2.RouteTableAssociation(
            name,
            subnet_id=subnet.id,
            route_table_id=table.id,
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _nat(
        self, zone: str, public: aws.ec2.Subnet, igw: aws.ec2.InternetGateway
    ) -> aws.ec2.NatGateway:
        name = f"{self._base}-nat-{zone}"
        eip = aws.ec2.Eip(
            name,
            domain="vpc",
            tags=named(self._args.tags, name),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return aws.ec2.NatGateway(
            name,
            allocation_id=eip.id,
            subnet_id=public.id,
            tags=named(self._args.tags, name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[igw]),
        )
