"""OnPremCluster: the foundation for a cluster that already exists.

It creates nothing in the cluster itself: it builds the Kubernetes provider (from a
kubeconfig, or rendering manifests to a directory for clusters that cannot be reached)
and states the facts the Kubernetes layer needs, among them the artifact store when the
spec names a claim for it (the layer makes the claim, in its namespace).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_kubernetes as k8s

from components.kubernetes.facts import ClusterFacts, PoolScheduling
from components.onprem.artifacts import claim_store


@dataclass(frozen=True)
class OnPremClusterArgs:
    # Default namespace of the provider: the workload namespace.
    namespace: str
    # How pods reach each on-prem GPU pool (the admin labels and taints the nodes).
    pools: dict[str, PoolScheduling]
    # What a GPU-hour costs on this cluster; the cost model prices the servers with it
    # (spec.check requires it on-prem).
    gpu_hour_usd: float | None
    kubeconfig: str | None = None
    context: str | None = None
    # Render manifests to this directory instead of applying them.
    render_to_directory: str | None = None
    # The ReadWriteMany claim that is the artifact store (the Kubernetes layer makes it in
    # the workload namespace); None: no store, the engines download from the Hub.
    artifact_claim: str | None = None


def provider_args(args: OnPremClusterArgs) -> dict[str, Any]:
    """The Kubernetes provider's inputs: server-side apply, so fields other managers own
    are left alone."""
    return {
        "kubeconfig": args.kubeconfig,
        "context": args.context,
        "render_yaml_to_directory": args.render_to_directory,
        "namespace": args.namespace,
        "enable_server_side_apply": True,
    }


class OnPremCluster(pulumi.ComponentResource):
    facts: ClusterFacts

    def __init__(
        self, name: str, args: OnPremClusterArgs, opts: pulumi.ResourceOptions | None = None
    ):
        super().__init__("llm-platform:onprem:Cluster", name, None, opts)
        provider = k8s.Provider(
            f"{name}-k8s", **provider_args(args), opts=pulumi.ResourceOptions(parent=self)
        )
        self.facts = ClusterFacts(
            provider=provider,
            pools=args.pools,
            gpu_hour_usd=args.gpu_hour_usd,
            artifacts=claim_store(args.artifact_claim) if args.artifact_claim else None,
        )
        self.register_outputs({})
