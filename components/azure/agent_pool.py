"""AgentPool: an AKS GPU user pool with the `nvidia.com/gpu` taint and bounded
autoscaling; training pools run at Spot priority, evicted by deletion, under a max price."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_azure_native as azure

from components.azure.args import AgentPoolArgs
from components.kubernetes.facts import Taint

# AKS puts this taint on every node of a Spot pool itself; whatever must run there tolerates it.
SPOT_TAINT = Taint(
    key="kubernetes.azure.com/scalesetpriority",
    value="spot",
    effect="NoSchedule",
    implied_by="https://learn.microsoft.com/en-us/azure/aks/spot-node-pool",
)


# Azure CNI Overlay gives each node a /24 of the pod CIDR, not node-subnet addresses, so the
# subnet's size does not bound pods per node; 250 is overlay's default and AKS's maximum
# (learn.microsoft.com/azure/aks/concepts-network-ip-address-planning, "Maximum pods per
# node"). Set, not left to the default, so a changed default cannot shrink a new pool; it
# is fixed at a pool's creation.
MAX_PODS = 250


def node_settings() -> dict[str, Any]:
    """What every pool of the cluster (system and GPU) sets alike: pods per node, and
    encryption at host, so the nodes' temp disks and OS-disk caches (where the kubelet and
    the model servers keep pulled images and weights) are encrypted on the VM host too. It
    needs the subscription's Microsoft.Compute/EncryptionAtHost feature registered (README)
    and is fixed at a pool's creation (learn.microsoft.com/azure/aks/enable-host-encryption)."""
    return dict(max_pods=MAX_PODS, enable_encryption_at_host=True)


def implied_taints(spot: bool) -> list[Taint]:
    return [SPOT_TAINT] if spot else []


def agent_pool(
    args: AgentPoolArgs,
    resource_group: pulumi.Input[str],
    cluster_name: pulumi.Input[str],
    node_subnet_id: pulumi.Input[str],
) -> dict[str, Any]:
    return dict(
        resource_group_name=resource_group,
        resource_name_=cluster_name,
        agent_pool_name=args.pool_name,
        mode="User",
        vm_size=args.vm_size,
        os_type="Linux",
        os_sku="Ubuntu",
        type="VirtualMachineScaleSets",
        vnet_subnet_id=node_subnet_id,
        count=args.steady_nodes,
        enable_auto_scaling=True,
        min_count=args.min_nodes,
        max_count=args.max_nodes,
        node_labels=args.node_labels,
        node_taints=[f"{t.key}={t.value}:{t.effect}" for t in args.taints],
        scale_set_priority="Spot" if args.spot else "Regular",
        # A Spot eviction is a Scheduled Events Preempt at least 30 s ahead, on which AKS's own
        # node auto-drain cordons and drains the node, with nothing to install or configure
        # (learn.microsoft.com/azure/aks/node-auto-drain; spot_notice.yaml).
        scale_set_eviction_policy="Delete" if args.spot else None,
        spot_max_price=args.spot_max_usd_per_hour if args.spot else None,
        os_disk_size_gb=200,
        **node_settings(),
        tags=args.tags,
    )


class AgentPool(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: AgentPoolArgs,
        resource_group: pulumi.Input[str],
        cluster_name: pulumi.Input[str],
        node_subnet_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-platform:azure:AgentPool", name, None, opts)
        azure.containerservice.AgentPool(
            f"{name}-pool",
            **agent_pool(args, resource_group, cluster_name, node_subnet_id),
            # The autoscaler owns the count once the pool exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
        )
        self.register_outputs({})
