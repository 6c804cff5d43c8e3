"""Monthly prices of Azure resources, by Pulumi type token, from their inputs
(components.pricing.price_resource looks them up here). Pure: no Pulumi import."""

from __future__ import annotations

from typing import Any

from components.pricing import (
    HOURS_PER_MONTH,
    LineItem,
    Pricer,
    always_on,
    nodes,
    service,
    stored,
)


def _agent_pool(type_: str, name: str, inputs: dict[str, Any]) -> list[LineItem]:
    return [
        nodes(
            type_,
            name,
            [inputs.get("vmSize", "")],
            inputs.get("scaleSetPriority") == "Spot",
            inputs.get("tags") or {},
            float(inputs.get("count", 0)),
        )
    ]


def _aks_cluster(type_: str, name: str, inputs: dict[str, Any]) -> list[LineItem]:
    items = []
    if (inputs.get("sku") or {}).get("tier") in ("Standard", "Premium"):
        items.append(service(type_, name, "azure-aks-standard", HOURS_PER_MONTH))
    for profile in inputs.get("agentPoolProfiles") or []:
        items += _agent_pool(type_, f"{name}/{profile.get('name')}", profile)
    return items


PRICES: dict[str, Pricer] = {
    "azure-native:containerservice:ManagedCluster": _aks_cluster,
    "azure-native:containerservice:AgentPool": _agent_pool,
    "azure-native:network:NatGateway": always_on("azure-nat-gateway"),
    "azure-native:network:PublicIPAddress": always_on("azure-public-ip"),
    "azure-native:storage:StorageAccount": stored("azure-blob-hot-lrs", "tags"),
    "azure-native:network:VirtualNetworkGateway": always_on("azure-vpn-gateway-vpngw1"),
    "azure-native:network:LoadBalancer": always_on("azure-standard-lb"),
}
