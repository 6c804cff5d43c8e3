"""The `azure` block of the spec: the subscription, location and AKS cluster of an Azure
environment. Pure: no Pulumi import."""

from __future__ import annotations

from pydantic import Field, field_validator

from components import catalog
from components.spec.fields import (
    Int,
    KubernetesVersion,
    PrivateCidr,
    SpecBlock,
    Uuid,
    prefix_between,
    system_instance_type,
)


class Azure(SpecBlock):
    subscription_id: Uuid = Field(
        description="the subscription every resource is created in",
        examples=["00000000-0000-4000-8000-000000000000"],
    )
    location: str = Field(
        pattern=r"^[a-z][a-z0-9]{2,30}$",
        description="the Azure region (location) of every resource",
        examples=["eastus"],
    )
    vnet_cidr: PrivateCidr = Field(
        default="10.60.0.0/16", description="RFC 1918, /8 to /26", examples=["10.60.0.0/16"]
    )
    kubernetes_version: KubernetesVersion = Field(
        default_factory=lambda: catalog.default_kubernetes_version("aks"),
        description="AKS minor version; default the catalog's, in standard support",
        examples=["1.35"],
    )
    admin_group_object_ids: list[Uuid] = Field(
        default_factory=list,
        description="Entra ID groups made cluster admins (Azure RBAC)",
        examples=[["11111111-1111-4111-8111-111111111111"]],
    )
    budget_start: str = Field(
        pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])-01$",
        description="first day of the month the budget starts (Azure requires one)",
        examples=["2026-12-01"],
    )
    system_vm_size: str = Field(
        default="Standard_D4s_v5",
        description="VM size of the AKS system pool, which runs everything but the GPU "
        "workloads; one of the catalog's Azure CPU sizes",
        examples=["Standard_D4s_v5"],
    )
    system_nodes: Int = Field(
        default=2, ge=1, le=100, description="nodes in the AKS system pool", examples=[2]
    )

    _system = field_validator("system_vm_size")(lambda v: system_instance_type("azure", v))
    # components/azure/network.py puts the nodes in the first quarter and the VPN gateway
    # in the last /27; below a /26 the two would overlap.
    _vnet_size = field_validator("vnet_cidr")(
        lambda v: prefix_between(
            v, 8, 26, "the nodes subnet is its first quarter and the gateway subnet its last /27"
        )
    )
