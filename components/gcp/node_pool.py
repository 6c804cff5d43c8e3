"""NodePool: a GKE GPU node pool with its accelerators, the managed NVIDIA driver install,
the `nvidia.com/gpu` taint and bounded autoscaling; Spot VMs for training."""

from __future__ import annotations

from typing import Any

import pulumi
import pulumi_gcp as gcp

from components.gcp import names
from components.gcp.args import NodePoolArgs
from components.gcp.cluster import node_config
from components.naming import fit

# GKE's API spells taint effects in its enum.
GKE_EFFECT = {
    "NoSchedule": "NO_SCHEDULE",
    "NoExecute": "NO_EXECUTE",
    "PreferNoSchedule": "PREFER_NO_SCHEDULE",
}


def node_pool(
    args: NodePoolArgs, cluster_id: pulumi.Input[str], service_account: pulumi.Input[str]
) -> dict[str, Any]:
    return dict(
        cluster=cluster_id,
        location=args.region,
        node_locations=list(args.zones),
        # Per zone; the autoscaler bounds below are totals across the zones.
        initial_node_count=-(-args.steady_nodes // len(args.zones)),
        autoscaling=gcp.container.NodePoolAutoscalingArgs(
            total_min_node_count=args.min_nodes,
            total_max_node_count=args.max_nodes,
            # Spot capacity is wherever it is; on-demand spreads across zones.
            location_policy="ANY" if args.spot else "BALANCED",
        ),
        management=gcp.container.NodePoolManagementArgs(auto_repair=True, auto_upgrade=True),
        node_config=node_config(
            args.machine_type,
            service_account,
            args.node_labels,
            args.labels,
            # A Spot VM's preemption notice needs nothing here: GKE's kubelet graceful node
            # shutdown is on by default and gives pods 15 of the notice's 30 s
            # (cloud.google.com/kubernetes-engine/docs/concepts/spot-vms; spot_notice.yaml).
            spot=args.spot,
            guest_accelerators=[
                gcp.container.NodePoolNodeConfigGuestAcceleratorArgs(
                    type=args.accelerator,
                    count=args.gpus_per_node,
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
    )


class NodePool(pulumi.ComponentResource):
    def __init__(
        self,
        name: str,
        args: NodePoolArgs,
        cluster_id: pulumi.Input[str],
        service_account: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("llm-platform:gcp:NodePool", name, None, opts)
        gcp.container.NodePool(
            fit(f"{name}-pool", names.GKE_NODE_POOL),
            **node_pool(args, cluster_id, service_account),
            # The autoscaler owns the node count once the pool exists.
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["initialNodeCount"]),
        )
        self.register_outputs({})
