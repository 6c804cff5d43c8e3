"""Vpn: a route-based VPN gateway in the VNet's GatewaySubnet, connected over IPsec with
BGP to the on-prem gateway (hybrid)."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure

from components.azure import names
from components.azure.args import VpnArgs
from components.azure.network import public_ip
from components.naming import fit

CLOUD_ASN = 65515  # Azure's default for VPN gateways


def gateway(
    args: VpnArgs,
    resource_group: pulumi.Input[str],
    subnet_id: pulumi.Input[str],
    ip_id: pulumi.Input[str],
) -> dict[str, Any]:
    return dict(
        resource_group_name=resource_group,
        location=args.location,
        gateway_type="Vpn",
        vpn_type="RouteBased",
        vpn_gateway_generation="Generation1",
        sku=azure.network.VirtualNetworkGatewaySkuArgs(name="VpnGw1", tier="VpnGw1"),
        enable_bgp=True,
        bgp_settings=azure.network.BgpSettingsArgs(asn=CLOUD_ASN),
        ip_configurations=[
            azure.network.VirtualNetworkGatewayIPConfigurationArgs(
                name="default",
                subnet=azure.network.SubResourceArgs(id=subnet_id),
                public_ip_address=azure.network.SubResourceArgs(id=ip_id),
            )
        ],
        tags=args.tags,
    )


class SiteVpn(pulumi.ComponentResource):
    gateway_addresses: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: VpnArgs,
        resource_group: pulumi.Input[str],
        gateway_subnet_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-platform:azure:Vpn", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        where = dict(resource_group_name=resource_group, location=args.location, tags=args.tags)
        ip = azure.network.PublicIPAddress(
            fit(f"{name}-ip", names.NETWORK_80),
            **public_ip(args.location, args.tags, resource_group),
            opts=child,
        )
        vpn_gateway = azure.network.VirtualNetworkGateway(
            fit(f"{name}-gateway", names.NETWORK_80),
            **gateway(args, resource_group, gateway_subnet_id, ip.id),
            opts=child,
        )
        peer = azure.network.LocalNetworkGateway(
            fit(f"{name}-peer", names.NETWORK_80),
            gateway_ip_address=args.peer_ip,
            local_network_address_space=azure.network.AddressSpaceArgs(
                address_prefixes=list(args.onprem_cidrs)
            ),
            **where,
            opts=child,
        )
        azure.network.VirtualNetworkGatewayConnection(
            fit(f"{name}-connection", names.NETWORK_80),
            connection_type="IPsec",
            connection_protocol="IKEv2",
            virtual_network_gateway1=azure.network.VirtualNetworkGatewayArgs(id=vpn_gateway.id),
            local_network_gateway2=azure.network.LocalNetworkGatewayArgs(id=peer.id),
            shared_key=pulumi.Output.secret(args.shared_key),
            **where,
            opts=child,
        )
        self.gateway_addresses = ip.ip_address.apply(lambda a: [a] if a else [])
        self.register_outputs({"gateway_addresses": self.gateway_addresses})
