"""Vpn: a route-based VPN gateway in the VNet's GatewaySubnet, connected over IPsec with
BGP to the on-prem gateway (hybrid)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components import naming
from components.azure import names
from components.naming import fit
from components.spec import EnvironmentSpec, Vpn

CLOUD_ASN = 65515  # Azure's default for VPN gateways


@dataclass(frozen=True)
class VpnArgs:
    spec: EnvironmentSpec
    link: Vpn
    resource_group: pulumi.Input[str]
    gateway_subnet_id: pulumi.Input[str]
    shared_key: pulumi.Input[str]


class SiteVpn(pulumi.ComponentResource):
    gateway_addresses: pulumi.Output[list[str]]

    def __init__(self, name: str, args: VpnArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:azure:Vpn", name, None, opts)
        cfg = args.spec.azure
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        tags = naming.tags(args.spec)
        ip = azure.network.PublicIPAddress(
            fit(f"{name}-ip", names.NETWORK_80),
            resource_group_name=args.resource_group,
            location=cfg.location,
            sku=azure.network.PublicIPAddressSkuArgs(name="Standard"),
            public_ip_allocation_method="Static",
            tags=tags,
            opts=child,
        )
        gateway = azure.network.VirtualNetworkGateway(
            fit(f"{name}-gateway", names.NETWORK_80),
            resource_group_name=args.resource_group,
            location=cfg.location,
            gateway_type="Vpn",
            vpn_type="RouteBased",
            vpn_gateway_generation="Generation1",
            sku=azure.network.VirtualNetworkGatewaySkuArgs(name="VpnGw1", tier="VpnGw1"),
            enable_bgp=True,
            bgp_settings=azure.network.BgpSettingsArgs(asn=CLOUD_ASN),
            ip_configurations=[
                azure.network.VirtualNetworkGatewayIPConfigurationArgs(
                    name="default",
                    subnet=azure.network.SubResourceArgs(id=args.gateway_subnet_id),
                    public_ip_address=azure.network.SubResourceArgs(id=ip.id),
                )
            ],
            tags=tags,
            opts=child,
        )
        peer = azure.network.LocalNetworkGateway(
            fit(f"{name}-peer", names.NETWORK_80),
            resource_group_name=args.resource_group,
            location=cfg.location,
            gateway_ip_address=args.link.peer_ip,
            local_network_address_space=azure.network.AddressSpaceArgs(
                address_prefixes=args.link.onprem_cidrs
            ),
            tags=tags,
            opts=child,
        )
        azure.network.VirtualNetworkGatewayConnection(
            fit(f"{name}-connection", names.NETWORK_80),
            resource_group_name=args.resource_group,
            location=cfg.location,
            connection_type="IPsec",
            connection_protocol="IKEv2",
            virtual_network_gateway1=azure.network.VirtualNetworkGatewayArgs(id=gateway.id),
            local_network_gateway2=azure.network.LocalNetworkGatewayArgs(id=peer.id),
            shared_key=pulumi.Output.secret(args.shared_key),
            tags=tags,
            opts=child,
        )
        self.gateway_addresses = ip.ip_address.apply(lambda a: [a] if a else [])
        self.register_outputs({"gateway_addresses": self.gateway_addresses})
