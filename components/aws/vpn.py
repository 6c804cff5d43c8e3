"""Vpn: a site-to-site IPsec VPN from the VPC to the on-prem gateway (hybrid), with BGP
so routes to the on-prem networks propagate into the private route tables."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_aws as aws

from components.aws.args import VpnArgs

IKE_VERSIONS = ["ikev2"]


def connection(args: VpnArgs) -> dict[str, Any]:
    """Keyword arguments of the aws.ec2.VpnConnection, except its two gateways: IKEv2 on
    both tunnels, the pre-shared key kept secret, routes learned by BGP."""
    key = pulumi.Output.secret(args.shared_key)
    return dict(
        type="ipsec.1",
        static_routes_only=False,
        tunnel1_preshared_key=key,
        tunnel2_preshared_key=key,
        tunnel1_ike_versions=IKE_VERSIONS,
        tunnel2_ike_versions=IKE_VERSIONS,
        tags=args.tags,
    )


class SiteVpn(pulumi.ComponentResource):
    gateway_addresses: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: VpnArgs,
        vpc_id: pulumi.Input[str],
        route_table_ids: list[pulumi.Input[str]],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-platform:aws:Vpn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        gateway = aws.ec2.VpnGateway(f"{name}-vgw", vpc_id=vpc_id, tags=args.tags, opts=child)
        peer = aws.ec2.CustomerGateway(
            f"{name}-cgw",
            bgp_asn=str(args.bgp_asn),
            ip_address=args.peer_ip,
            type="ipsec.1",
            tags=args.tags,
            opts=child,
        )
        tunnels = aws.ec2.VpnConnection(
            f"{name}-connection",
            vpn_gateway_id=gateway.id,
            customer_gateway_id=peer.id,
            **connection(args),
            opts=child,
        )
        for i, table in enumerate(route_table_ids):
            aws.ec2.VpnGatewayRoutePropagation(
                f"{name}-propagate-{i}", vpn_gateway_id=gateway.id, route_table_id=table, opts=child
            )
        self.gateway_addresses = pulumi.Output.all(
            tunnels.tunnel1_address, tunnels.tunnel2_address
        )
        self.register_outputs({"gateway_addresses": self.gateway_addresses})
