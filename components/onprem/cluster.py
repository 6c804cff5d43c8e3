"""OnPremCluster: the foundation for a cluster that already exists.

It creates nothing in the cluster itself: it builds the Kubernetes provider (from a
kubeconfig, or rendering manifests to a directory for clusters that cannot be reached)
and states the facts the Kubernetes layer needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components import catalog
from components.kubernetes.facts import ClusterFacts, PoolScheduling
from components.spec import EnvironmentSpec

POOL_LABEL = "llm-platform.dev/pool"


@dataclass(frozen=True)
class OnPremClusterArgs:
    spec: EnvironmentSpec


def pool_scheduling(spec: EnvironmentSpec) -> dict[str, PoolScheduling]:
    out = {}
    for pool in spec.gpu_pools:
        vendor = catalog.gpus()[pool.gpu].vendor
        resource = "amd.com/gpu" if vendor == "amd" else "nvidia.com/gpu"
        out[pool.name] = PoolScheduling(
            max_gpus=pool.max_nodes * pool.gpus_per_node,
            node_selector=dict(pool.node_labels) or {POOL_LABEL: pool.name},
            tolerations=[{"key": resource, "operator": "Exists", "effect": "NoSchedule"}],
            gpu_resource=resource,
        )
    return out


class OnPremCluster(pulumi.ComponentResource):
    facts: ClusterFacts

    def __init__(
        self, name: str, args: OnPremClusterArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:onprem:Cluster", name, None, opts)
        spec = args.spec
        cluster = spec.cluster
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=cluster.kubeconfig,
            context=cluster.context,
            render_yaml_to_directory=cluster.render_to_directory,
            namespace=spec.namespace,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        assert spec.onprem is not None  # guaranteed by spec.check for this topology
        self.facts = ClusterFacts(
            provider=provider,
            pools=pool_scheduling(spec),
            gpu_hour_usd=spec.onprem.gpu_hour_usd,
        )
        self.register_outputs({})
