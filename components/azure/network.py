"""Network: the environment's resource group, a VNet with a node subnet (and the gateway
subnet a hybrid's VPN needs), and a NAT gateway for the nodes' egress."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components import naming
from components.azure import ids, names
from components.naming import fit
from components.spec import EnvironmentSpec


@dataclass(frozen=True)
class NetworkArgs:
    spec: EnvironmentSpec
    gateway_subnet: bool


class Network(pulumi.ComponentResource):
    resource_group: pulumi.Output[str]
    resource_group_id: pulumi.Output[str]
    vnet_name: pulumi.Output[str]
    node_subnet_id: pulumi.Output[str]
    gateway_subnet_id: pulumi.Output[str] | None

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:azure:Network", name, None, opts)
        spec = args.spec
        cfg = spec.azure
        assert cfg is not None
        child = pulumi.ResourceOptions(parent=self)
        tags = naming.tags(spec)
        rg = azure.resources.ResourceGroup(
            f"{name}-rg",
            resource_group_name=ids.resource_group(spec),
            location=cfg.location,
            tags=tags,
            opts=child,
        )
        ip = azure.network.PublicIPAddress(
            fit(f"{name}-nat-ip", names.NETWORK_80),
            resource_group_name=rg.name,
            location=cfg.location,
            sku=azure.network.PublicIPAddressSkuArgs(name="Standard"),
            public_ip_allocation_method="Static",
            tags=tags,
            opts=child,
        )
        nat = azure.network.NatGateway(
            fit(f"{name}-nat", names.NETWORK_80),
            resource_group_name=rg.name,
            location=cfg.location,
            sku=azure.network.NatGatewaySkuArgs(name="Standard"),
            public_ip_addresses=[azure.network.SubResourceArgs(id=ip.id)],
            tags=tags,
            opts=child,
        )
        # The first /18 for the nodes (pods use the CNI overlay, not VNet addresses), and
        # the /27 Azure requires, named GatewaySubnet, for a VPN gateway.
        net = ipaddress.IPv4Network(cfg.vnet_cidr)
        nodes_cidr = next(net.subnets(new_prefix=net.prefixlen + 2))
        gateway_cidr = list(net.subnets(new_prefix=27))[-1]
        vnet = azure.network.VirtualNetwork(
            fit(f"{name}-vnet", names.VIRTUAL_NETWORK),
            resource_group_name=rg.name,
            location=cfg.location,
            address_space=azure.network.AddressSpaceArgs(address_prefixes=[cfg.vnet_cidr]),
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )
        nodes = azure.network.Subnet(
            f"{name}-nodes",
            resource_group_name=rg.name,
            virtual_network_name=vnet.name,
            subnet_name="nodes",
            address_prefix=str(nodes_cidr),
            nat_gateway=azure.network.SubResourceArgs(id=nat.id),
            # The artifact account admits this subnet only, over the Azure backbone.
            service_endpoints=[
                azure.network.ServiceEndpointPropertiesFormatArgs(service="Microsoft.Storage")
            ],
            opts=child,
        )
        self.gateway_subnet_id = None
        if args.gateway_subnet:
            gateway = azure.network.Subnet(
                f"{name}-gateway",
                resource_group_name=rg.name,
                virtual_network_name=vnet.name,
                subnet_name="GatewaySubnet",
                address_prefix=str(gateway_cidr),
                opts=pulumi.ResourceOptions(parent=self, depends_on=[nodes]),
            )
            self.gateway_subnet_id = gateway.id
        self.resource_group = rg.name
        self.resource_group_id = rg.id
        self.vnet_name = vnet.name
        self.node_subnet_id = nodes.id
        self.register_outputs({"resource_group": self.resource_group})
