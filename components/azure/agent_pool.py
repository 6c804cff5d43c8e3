"""AgentPool: an AKS GPU user pool with the `nvidia.com/gpu` taint and bounded
autoscaling; training pools run at Spot priority, evicted by deletion, under a max price."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure

from components import catalog, naming, pricing
from components.azure import names
from components.kubernetes.facts import Taint
from components.naming import fit
from components.spec import EnvironmentSpec, GpuPool

# AKS puts this taint on every node of a Spot pool itself; whatever must run there tolerates it.
SPOT_TAINT = Taint(
    key="kubernetes.azure.com/scalesetpriority",
    value="spot",
    effect="NoSchedule",
    implied_by="https://learn.microsoft.com/en-us/azure/aks/spot-node-pool",
)


def implied_taints(pool: GpuPool) -> list[Taint]:
    return [SPOT_TAINT] if pool.capacity == "spot" else []


def pool_name(pool: GpuPool) -> str:
    return fit(pool.name, names.AKS_AGENT_POOL)


@dataclass(frozen=True)
class AgentPoolArgs:
    spec: EnvironmentSpec
    resource_group: pulumi.Input[str]
    cluster_name: pulumi.Input[str]
    node_subnet_id: pulumi.Input[str]
    pool: GpuPool
    node_labels: dict[str, str]
    steady_nodes: int
    node_hours: int
    # The platform's taints on the pool (PoolScheduling.platform_taints).
    taints: tuple[Taint, ...]


class AgentPool(pulumi.ComponentResource):
    def __init__(self, name: str, args: AgentPoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:azure:AgentPool", name, None, opts)
        pool = args.pool
        assert pool.instance_type is not None
        spot = pool.capacity == "spot"
        inst = catalog.instances()[pool.instance_type]
        tags = {**naming.tags(args.spec), **pricing.pool_tags(pool, args.node_hours)}
        azure.containerservice.AgentPool(
            f"{name}-pool",
            resource_group_name=args.resource_group,
            resource_name_=args.cluster_name,
            agent_pool_name=pool_name(pool),
            mode="User",
            vm_size=inst.id,
            os_type="Linux",
            os_sku="Ubuntu",
            type="VirtualMachineScaleSets",
            vnet_subnet_id=args.node_subnet_id,
            count=args.steady_nodes,
            enable_auto_scaling=True,
            min_count=pool.min_nodes,
            max_count=pool.max_nodes,
            node_labels=args.node_labels,
            node_taints=[f"{t.key}={t.value}:{t.effect}" for t in args.taints],
            scale_set_priority="Spot" if spot else "Regular",
            scale_set_eviction_policy="Delete" if spot else None,
            # Never bid above the on-demand price unless the spec says so.
            spot_max_price=(pool.spot_max_usd_per_hour or inst.on_demand_usd_per_hour)
            if spot
            else None,
            os_disk_size_gb=200,
            tags=tags,
            # The autoscaler owns the count once the pool exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["count"]),
        )
        self.register_outputs({})
