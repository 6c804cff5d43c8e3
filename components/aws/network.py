"""Network: a VPC across three availability zones, public subnets for NAT and load
balancers, private subnets for the nodes, and NAT per AZ (or one, by spec)."""

from __future__ import annotations

import json

import pulumi
import pulumi_aws as aws

from components.aws.args import NetworkArgs
from components.aws.iam import rotated_key, service_role
from components.aws.iam_documents import flow_logs_policy, key_policy, logs_may_use_key
from components.aws.subnets import (
    DEFAULT_ROUTE,
    ZoneLayout,
    flow_log_group,
    named,
    subnet_tags,
    zone_layouts,
)


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
        # CKV2_AWS_12 (graph_checks/aws/VPCHasRestrictedSG.json): taking over the default
        # group with no rules removes its allow-all egress and allow-self ingress; nothing
        # here uses it (EKS makes its own cluster security group).
        aws.ec2.DefaultSecurityGroup(
            f"{name}-default-sg",
            vpc_id=vpc.id,
            ingress=[],
            egress=[],
            tags=named(args.tags, f"{name}-default-sg"),
            opts=child,
        )
        self._flow_logs(vpc)
        self.vpc_id = vpc.id
        self.register_outputs({"vpc_id": self.vpc_id})

    def _flow_logs(self, vpc: aws.ec2.Vpc) -> None:
        """Every accepted and rejected flow of the VPC (CKV2_AWS_11,
        graph_checks/aws/VPCHasFlowLog.json) to a log group with retention, encrypted with a
        key only CloudWatch Logs may use for that group (CKV_AWS_158), written through a role
        that may write to that group only."""
        name, args = f"{self._base}-flow-logs", self._args
        child = pulumi.ResourceOptions(parent=self)
        group_name = flow_log_group(args)
        key = rotated_key(
            name,
            f"VPC flow logs of {args.cluster_name}",
            args.tags,
            child,
            policy=key_policy(
                args.account_id, logs_may_use_key(args.region, args.account_id, [group_name])
            ),
        )
        group = aws.cloudwatch.LogGroup(
            name,
            name=group_name,
            retention_in_days=args.flow_log_retention_days,
            kms_key_id=key.arn,
            tags=args.tags,
            opts=child,
        )
        role = service_role(name, "vpc-flow-logs.amazonaws.com", [], args.tags, child)
        write = flow_logs_policy(args.region, args.account_id, group_name)
        policy = aws.iam.RolePolicy(name, role=role.id, policy=json.dumps(write), opts=child)
        aws.ec2.FlowLog(
            name,
            vpc_id=vpc.id,
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_destination=group.arn,
            iam_role_arn=role.arn,
            tags=named(args.tags, name),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )

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
