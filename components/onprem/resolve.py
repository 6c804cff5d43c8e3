"""The one place the on-prem package reads the validated spec: it turns the Environment into
the narrow Args of the on-prem cluster."""

from __future__ import annotations

from components.kubernetes.facts import pool_scheduling
from components.onprem.cluster import OnPremClusterArgs
from components.spec import Environment
from components.spec.types import ArtifactClaim


def cluster_args(env: Environment) -> OnPremClusterArgs:
    spec = env.spec
    cluster = spec.cluster
    return OnPremClusterArgs(
        namespace=spec.namespace,
        # The admin taints the GPU nodes (README); the value is theirs to choose.
        pools=pool_scheduling(
            [p for p in spec.gpu_pools if p not in spec.cloud_pools()], taint_value=None
        ),
        gpu_hour_usd=spec.onprem.gpu_hour_usd if spec.onprem else None,
        kubeconfig=cluster.kubeconfig,
        context=cluster.context,
        render_to_directory=cluster.render_to_directory,
        artifact_claim=claim.name if (claim := onprem_claim(env)) else None,
    )


def onprem_claim(env: Environment) -> ArtifactClaim | None:
    onprem = env.spec.onprem
    return onprem.artifact_claim if onprem is not None else None
