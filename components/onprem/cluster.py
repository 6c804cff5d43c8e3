"""OnPremCluster: the foundation for a cluster that already exists.

It creates nothing in the cluster itself: it builds the Kubernetes provider (from a
kubeconfig, or rendering manifests to a directory for clusters that cannot be reached)
and states the facts the Kubernetes layer needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.facts import ClusterFacts, pool_scheduling
from components.spec import EnvironmentSpec


@dataclass(frozen=True)
class OnPremClusterArgs:
    spec: EnvironmentSpec


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
            # The admin taints the GPU nodes (README); the value is theirs to choose.
            pools=pool_scheduling(
                [p for p in spec.gpu_pools if p not in spec.cloud_pools()], taint_value=None
            ),
            gpu_hour_usd=spec.onprem.gpu_hour_usd,
        )
        self.register_outputs({})
