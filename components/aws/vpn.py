"""Vpn: a site-to-site IPsec VPN from the VPC to the on-prem gateway (hybrid), with BGP
so routes to the on-prem networks propagate into the private route tables."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components import naming
from components.spec import EnvironmentSpec, Vpn


@dataclass(frozen=True)
class VpnArgs:
    spec: EnvironmentSpec
    link: Vpn
    vpc_id: pulumi.Input[str]
    route_table_ids: list[pulumi.Input[str]]
    shared_key: pulumi.Input[str]


class SiteVpn(pulumi.ComponentResource):
    gateway_addresses: pulumi.Output[list[str]]

    def __init__(self, name: str, args: VpnArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:aws:Vpn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        tags = naming.tags(args.spec)
        gateway = aws.ec2.VpnGateway(f"{name}-vgw", vpc_id=args.vpc_id, tags=tags, opts=child)
        peer = aws.ec2.CustomerGateway(
            f"{name}-cgw",
            bgp_asn=str(args.link.bgp_asn),
            ip_address=args.link.peer_ip,
            type="ipsec.1",
            tags=tags,
            opts=child,
        )
        key = pulumi.Output.secret(args.shared_key)
        connection = aws.ec2.VpnConnection(
            f"{name}-connection",
            vpn_gateway_id=gateway.id,
            customer_gateway_id=peer.id,
            type="ipsec.1",
            static_routes_only=False,
            tunnel1_preshared_key=key,
            tunnel2_preshared_key=key,
            tunnel1_ike_versions=["ikev2"],
            tunnel2_ike_versions=["ikev2"],
            tags=tags,
            opts=child,
        )
        for i, table in enumerate(args.route_table_ids):
            aws.ec2.VpnGatewayRoutePropagation(
                f"{name}-propagate-{i}", vpn_gateway_id=gateway.id, route_table_id=table, opts=child
            )
        self.gateway_addresses = pulumi.Output.all(
            connection.tunnel1_address, connection.tunnel2_address
        )
        self.register_outputs({"gateway_addresses": self.gateway_addresses})
