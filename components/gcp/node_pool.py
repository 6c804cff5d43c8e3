"""NodePool: a GKE GPU node pool with its accelerators, the managed NVIDIA driver install,
the `nvidia.com/gpu` taint and bounded autoscaling; Spot VMs for training."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp

from components import catalog, pricing
from components.gcp import names
from components.gcp.cluster import labels, node_config
from components.kubernetes.facts import Taint
from components.naming import fit
from components.spec import EnvironmentSpec, GpuPool

# GKE's API spells taint effects in its enum.
GKE_EFFECT = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
}


@dataclass(frozen=True)
class NodePoolArgs:
    spec: EnvironmentSpec
    cluster_id: pulumi.Input[str]
    service_account: pulumi.Input[str]
    pool: GpuPool
    node_labels: dict[str, str]
    steady_nodes: int
    node_hours: int
    # The platform's taints on the pool (PoolScheduling.platform_taints).
    taints: tuple[Taint, ...]


class NodePool(pulumi.ComponentResource):
    def __init__(self, name: str, args: NodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llm-platform:gcp:NodePool", name, None, opts)
        spec, pool = args.spec, args.pool
        cfg = spec.gcp
        assert cfg is not None and pool.instance_type is not None
        inst = catalog.instances()[pool.instance_type]
        zones = cfg.node_zones
        spot = pool.capacity == "spot"
        gcp.container.NodePool(
            fit(f"{name}-pool", names.GKE_NODE_POOL),
            cluster=args.cluster_id,
            location=cfg.region,
            node_locations=zones,
            # Per zone; the autoscaler bounds below are totals across the zones.
            initial_node_count=-(-args.steady_nodes // len(zones)),
            autoscaling=gcp.container.NodePoolAutoscalingArgs(
                total_min_node_count=pool.min_nodes,
                total_max_node_count=pool.max_nodes,
                # Spot capacity is wherever it is; on-demand spreads across zones.
                location_policy="ANY" if spot else "BALANCED",
            ),
            management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
            node_config=node_config(
                spec,
                inst.id,
                args.service_account,
                args.node_labels,
                labels(spec, **pricing.pool_tags(pool, args.node_hours)),
                spot=spot,
                guest_accelerators=[
                    gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                        type=inst.accelerator,
                        count=inst.gpu_count,
                        gpu_driver_installation_config=gcp.container.NodePoolNodeConfigGuestAcceleratorGpuDriverInstallationConfigArgs(  # noqa: E501
                            gpu_driver_version="LATEST"
                        ),
                    )
                ],
                taints=[
                    gcp.container.NodePoolNodeConfigTaintArgs(
                        key=t.key, value=t.value, effect=GKE_EFFECT[t.effect]
                    )
                    for t in args.taints
                ],
            ),
            # The autoscaler owns the node count once the pool exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]),
        )
        self.register_outputs({})
