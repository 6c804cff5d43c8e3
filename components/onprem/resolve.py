"""The one place the on-prem package reads the validated spec: it turns the Environment into
the narrow Args of the on-prem cluster."""

from __future__ import annotations

from components.kubernetes.facts import pool_scheduling
from components.onprem.cluster import OnPremClusterArgs
from components.spec import Environment


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
    )
