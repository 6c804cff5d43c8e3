"""Network: the environment's resource group, a VNet with a node subnet (and the gateway
subnet a hybrid's VPN needs), and a NAT gateway for the nodes' egress."""

from __future__ import annotations

import ipaddress
from typing import Any

import pulumi
import pulumi_azure_native as azure

from components.azure import names
from components.azure.args import NetworkArgs
from components.naming import fit


def subnet_cidrs(vnet_cidr: str) -> tuple[str, str]:
    """The first quarter of the VNet for the nodes (pods use the CNI overlay, not VNet
    addresses), and its last /27 for the GatewaySubnet Azure requires for a VPN gateway."""
    net = ipaddress.IPv4Network(vnet_cidr)
    nodes = next(net.subnets(new_prefix=net.prefixlen + 2))
    gateway = list(net.subnets(new_prefix=27))[-1]
    return str(nodes), str(gateway)


def public_ip(location: str, tags: dict[str, str], group: pulumi.Input[str]) -> dict[str, Any]:
    """A static Standard public address (NAT and VPN gateways take only these)."""
    return dict(
        resource_group_name=group,
        location=location,
        sku=azure.network.PublicIPAddressSkuArgs(name="Standard"),
        public_ip_allocation_method="Static",
        tags=tags,
    )


def nodes_subnet(
    args: NetworkArgs, group: pulumi.Input[str], vnet: pulumi.Input[str], nat: pulumi.Input[str]
) -> dict[str, Any]:
    return dict(
        resource_group_name=group,
        virtual_network_name=vnet,
        subnet_name="nodes",
        address_prefix=subnet_cidrs(args.vnet_cidr)[0],
        nat_gateway=azure.network.SubResourceArgs(id=nat),
        # The artifact account admits this subnet only, over the Azure backbone.
        service_endpoints=[
            azure.network.ServiceEndpointPropertiesFormatArgs(service="Microsoft.Storage")
        ],
    )


class Network(pulumi.ComponentResource):
    resource_group: pulumi.Output[str]
    resource_group_id: pulumi.Output[str]
    vnet_name: pulumi.Output[str]
    node_subnet_id: pulumi.Output[str]
    gateway_subnet_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:azure:Network", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        where = dict(location=args.location, tags=args.tags)
        rg = azure.resources.ResourceGroup(
            f"{name}-rg", resource_group_name=args.resource_group, **where, opts=child
        )
        ip = azure.network.PublicIPAddress(
            fit(f"{name}-nat-ip", names.NETWORK_80),
            **public_ip(args.location, args.tags, rg.name),
            opts=child,
        )
        nat = azure.network.NatGateway(
            fit(f"{name}-nat", names.NETWORK_80),
            resource_group_name=rg.name,
            sku=azure.network.NatGatewaySkuArgs(name="Standard"),
            public_ip_addresses=[azure.network.SubResourceArgs(id=ip.id)],
            **where,
            opts=child,
        )
        vnet = azure.network.VirtualNetwork(
            fit(f"{name}-vnet", names.VIRTUAL_NETWORK),
            resource_group_name=rg.name,
            address_space=azure.network.AddressSpaceArgs(address_prefixes=[args.vnet_cidr]),
            **where,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )
        nodes = azure.network.Subnet(
            f"{name}-nodes", **nodes_subnet(args, rg.name, vnet.name, nat.id), opts=child
        )
        self.gateway_subnet_id = None
        if args.gateway_subnet:
            gateway = azure.network.Subnet(
                f"{name}-gateway",
                resource_group_name=rg.name,
                virtual_network_name=vnet.name,
                subnet_name="GatewaySubnet",
                address_prefix=subnet_cidrs(args.vnet_cidr)[1],
                opts=pulumi.ResourceOptions(parent=self, depends_on=[nodes]),
            )
            self.gateway_subnet_id = gateway.id
        self.resource_group = rg.name
        self.resource_group_id = rg.id
        self.vnet_name = vnet.name
        self.node_subnet_id = nodes.id
        self.register_outputs({"resource_group": self.resource_group})
